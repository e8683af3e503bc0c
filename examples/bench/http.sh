#!/usr/bin/env bash
# HTTP benchmark: requests/s and latency for a 2 KiB stylesheet and index.html with wrk
# (64 connections, 10 s each), then the server's peak memory while streaming a 1 GiB file.
#
#   bash examples/bench/http.sh            # needs wrk and curl (apt-get install wrk curl)
#   DURATION=30s CONNECTIONS=128 bash examples/bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
# One wrk thread by default: on a 2-core machine the load generator shares the cores with
# the server, and two wrk threads plus the server's two workers oversubscribe them, which
# shows up as scheduler stalls in p99 (THREADS=2 to see it).
THREADS=${THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install curl" >&2; exit 1; }

cargo build --release --quiet
site=$(mktemp -d)
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$site" "$log"' EXIT

cp examples/site/index.html "$site/index.html"
# 2 KiB of CSS.
for i in $(seq 1 40); do printf '.rule-%02d { color: #%06x; margin: 0; }\n' "$i" "$((i * 4099))"; done \
  | head -c 2048 > "$site/style.css"
truncate -s 1G "$site/big.bin"

./target/release/hotserve "$site" --port 0 --log-level warn > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "Local:" "$log" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*/' "$log" | head -1)
echo "hotserve $(./target/release/hotserve --version | cut -d' ' -f2) at $url on $(nproc) cores"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

for path in style.css index.html; do
  echo
  echo "== GET /$path"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url$path" \
    | grep -E "Requests/sec|Transfer/sec|^ +(50|90|99)%|Latency|Non-2xx|Socket errors"
done

echo
echo "== GET /big.bin (1 GiB), peak RSS while streaming"
before=$(rss_kib)
peak=$before
curl -s -o /dev/null "$url""big.bin" &
curl_pid=$!
start=$(date +%s%N)
while kill -0 "$curl_pid" 2>/dev/null; do
  now=$(rss_kib); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.05
done
end=$(date +%s%N)
echo "RSS before: $((before / 1024)) MiB, peak during download: $((peak / 1024)) MiB," \
  "download took $(( (end - start) / 1000000 )) ms"
