#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60), one after another (the machine is
# shared: never in parallel), then print executions and coverage per target.
#
#   fuzz/run.sh 300            # five minutes each
#   fuzz/run.sh 30 css lexer   # some targets only
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Corpora grow in
# fuzz/corpus/<target> (seeded from fuzz/seeds/, which come from the test suite); crashes
# land in fuzz/artifacts/<target>. FUZZ_SANITIZER=address for ASan (slower; the code under
# test is safe Rust, so the default is none).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(lexer request_path inject range css client_message transform)
fi
sanitizer=${FUZZ_SANITIZER:-none}
mkdir -p logs
cargo +nightly fuzz build --sanitizer "$sanitizer"
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    cp -n "seeds/$target/"* "corpus/$target/" 2>/dev/null || true
    echo "== $target: ${seconds}s"
    if ! cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"logs/$target.log" 2>&1; then
        echo "   FAILED: see fuzz/logs/$target.log and fuzz/artifacts/$target/"
        status=1
    fi
done
echo
printf '%-16s %14s %10s %10s %8s\n' target executions exec/s coverage features
for target in "${targets[@]}"; do
    log="logs/$target.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo '?')
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo '?')
    printf '%-16s %14s %10s %10s %8s\n' "$target" "$execs" "$rate" "$cov" "$ft"
done
exit $status
