//! The `hotserve` binary itself: banner, serving, clear errors, clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn hotserve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotserve"))
}

/// Start the binary on `site` with `args`, stdout piped.
fn spawn_on(site: &std::path::Path, args: &[&str]) -> Child {
    hotserve()
        .arg(site)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts")
}

/// Read stdout lines until the banner's Local URL appears.
fn wait_for_url(child: &mut Child) -> String {
    let rx = stdout_lines(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(url) = line.split("Local:").nth(1) {
                return url.trim().to_owned();
            }
            seen.push(line);
        }
    }
    panic!("no banner within 20 s; stdout so far: {seen:?}");
}

/// Run the binary to completion and check that it failed with `needle` on stderr.
fn assert_fails_with(mut command: Command, needle: impl AsRef<str>) {
    let out = command.output().expect("binary runs");
    assert!(!out.status.success(), "{:?} should fail", command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle.as_ref()), "{stderr}");
}

/// Send SIGTERM, as a service manager or `kill` would (no external `kill` binary needed).
fn terminate(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM delivered");
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "hotserve did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn the_binary_prints_its_url_serves_the_folder_and_exits_cleanly_on_sigterm() {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<h1>from the cli</h1>");
    let mut child = spawn_on(site.path(), &[]);
    let url = wait_for_url(&mut child);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("banner URL has an address");
    let reply = common::request(addr, "GET", "/", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("from the cli"));
    terminate(&child);
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_missing_folder_is_a_clear_error_with_a_failing_exit() {
    let mut command = hotserve();
    command.args(["/no/such/folder", "--port", "0"]);
    assert_fails_with(
        command,
        "the folder to serve does not exist: /no/such/folder",
    );
}

#[test]
fn a_busy_port_with_strict_port_is_a_clear_error() {
    let site = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut command = hotserve();
    command
        .arg(site.path())
        .args(["--port", &port, "--strict-port"]);
    assert_fails_with(command, format!("port {port} is already in use"));
}

#[test]
fn bad_flag_values_are_rejected_with_usage() {
    let out = hotserve().args(["--port", "lots"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'lots'"), "{stderr}");
    let out = hotserve().args(["--log-level", "chatty"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unresolvable_host_is_a_clear_error() {
    let site = tempfile::tempdir().unwrap();
    let mut command = hotserve();
    command
        .arg(site.path())
        .args(["--host", "no.such.host.invalid", "--port", "0"]);
    assert_fails_with(command, "cannot resolve host");
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn https_prints_an_https_url_and_serves_tls_on_it() {
    let site = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<h1>over tls</h1>");
    let mut child = hotserve()
        .arg(site.path())
        .args(["--port", "0", "--https"])
        .env("HOTSERVE_CACHE_DIR", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let url = wait_for_url(&mut child);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("banner URL has an address");
    assert!(
        cache.path().join("localhost-cert.pem").exists(),
        "the certificate is kept in HOTSERVE_CACHE_DIR"
    );
    // Plain HTTP to it is told to use the printed URL's scheme.
    let reply = common::request(addr, "GET", "/", &[]).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().contains(&format!("https://{addr}/")),
        "{}",
        reply.text()
    );
    terminate(&child);
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status:?}");
}

#[cfg(feature = "tls")]
#[test]
fn a_missing_certificate_file_is_a_clear_error_with_a_failing_exit() {
    let site = tempfile::tempdir().unwrap();
    let mut command = hotserve();
    command.arg(site.path()).args([
        "--port",
        "0",
        "--cert",
        "/no/such/cert.pem",
        "--key",
        "/no/such/key.pem",
    ]);
    assert_fails_with(
        command,
        "error: cannot use the certificate /no/such/cert.pem",
    );
}

#[cfg(feature = "proxy")]
#[test]
fn a_proxy_target_that_is_not_an_http_url_is_a_clear_error() {
    let site = tempfile::tempdir().unwrap();
    let mut command = hotserve();
    command
        .arg(site.path())
        .args(["--port", "0", "--proxy", "ftp://127.0.0.1:21"]);
    assert_fails_with(command, "error: invalid proxy \"ftp://127.0.0.1:21\"");
}

/// Read stdout lines as JSON until `pred` matches one, within 20 s.
fn read_json_until(
    lines: &std::sync::mpsc::Receiver<String>,
    mut pred: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
            if pred(&value) {
                return value;
            }
        }
    }
    panic!("no matching JSON event within 20 s");
}

fn stdout_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the reader is done: a closed pipe would make the server's
        // later output fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[tokio::test]
async fn json_mode_prints_one_event_object_per_line_on_stdout() {
    let site = tempfile::tempdir().unwrap();
    common::write(
        site.path(),
        "index.html",
        "<link rel=stylesheet href=/style.css>",
    );
    common::write(site.path(), "style.css", "a{}");
    let mut child = spawn_on(site.path(), &["--json"]);
    let lines = stdout_lines(&mut child);
    let ready = read_json_until(&lines, |_| true);
    assert_eq!(ready["event"], "ready", "the first line is the ready event");
    let url = ready["url"].as_str().unwrap().to_owned();
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_eq!(
        common::request(addr, "GET", "/style.css", &[]).await.status,
        200
    );
    std::fs::write(site.path().join("style.css"), "b{}").unwrap();
    let changed = read_json_until(&lines, |v| v["event"] == "files-changed");
    assert_eq!(changed["changes"][0]["url"], "/style.css");
    assert_eq!(changed["changes"][0]["kind"], "modified");
    let sent = read_json_until(&lines, |v| v["event"] == "payload-sent");
    assert_eq!(sent["payload"]["type"], "update");
    assert_eq!(sent["payload"]["updates"][0]["path"], "/style.css");
    assert_eq!(sent["clients"], 0);
    terminate(&child);
    assert!(wait_exit(&mut child).success());
}

#[tokio::test]
async fn once_mode_exits_after_the_first_update() {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<p>v1</p>");
    let mut child = spawn_on(site.path(), &["--once"]);
    wait_for_url(&mut child);
    std::fs::write(site.path().join("index.html"), "<p>v2</p>").unwrap();
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn exposing_the_server_lists_local_and_network_urls_with_a_warning() {
    let site = tempfile::tempdir().unwrap();
    let mut child = hotserve()
        .arg(site.path())
        .args(["--port", "0", "--host", "0.0.0.0", "--no-watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !banner.iter().any(|l: &String| l.contains("warning")) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            banner.push(line);
        }
    }
    let text = banner.join("\n");
    assert!(text.contains("Local:   http://localhost:"), "{text}");
    assert!(
        text.contains("warning: the server is exposed to your network"),
        "{text}"
    );
    terminate(&child);
    assert!(wait_exit(&mut child).success());
}

#[tokio::test]
async fn debug_logs_name_every_request_on_stderr() {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<p>hi</p>");
    let mut child = hotserve()
        .arg(site.path())
        .args(["--port", "0", "--log-level", "debug", "--no-watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = wait_for_url(&mut child);
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    common::request(addr, "GET", "/missing.txt", &[]).await;
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GET /missing.txt 404"), "{stderr}");
}

#[cfg(feature = "proxy")]
#[test]
fn two_fallback_proxies_are_refused() {
    let site = tempfile::tempdir().unwrap();
    let mut command = hotserve();
    command.arg(site.path()).args([
        "--port",
        "0",
        "--proxy",
        "http://127.0.0.1:1",
        "--proxy",
        "http://127.0.0.1:2",
    ]);
    assert_fails_with(command, "can be given once");
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn proxy_flags_reach_the_server_and_the_banner() {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<p>local</p>");
    // A port nothing listens on: the backend is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = format!("http://127.0.0.1:{port}");
    let mut child = spawn_on(
        site.path(),
        &[
            "--proxy",
            &format!("/api={backend}"),
            "--proxy-timeout",
            "5",
        ],
    );
    let lines = stdout_lines(&mut child);
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !banner.iter().any(|l: &String| l.contains("Proxy:")) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            banner.push(line);
        }
    }
    let text = banner.join("\n");
    assert!(text.contains(&format!("Proxy:   /api={backend}")), "{text}");
    let url = text
        .split("Local:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a Local URL");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_eq!(common::request(addr, "GET", "/", &[]).await.status, 200);
    let down = common::request(addr, "GET", "/api/items", &[]).await;
    assert_eq!(down.status, 502);
    assert!(down.text().contains(&backend), "{}", down.text());
    terminate(&child);
    assert!(wait_exit(&mut child).success());
}

/// The stderr of a debug run that served one request, with these environment variables.
async fn stderr_with_env(env: &[(&str, &str)]) -> String {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<p>hi</p>");
    let mut command = hotserve();
    command
        .arg(site.path())
        .args(["--port", "0", "--log-level", "debug", "--no-watch"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let url = wait_for_url(&mut child);
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    common::request(addr, "GET", "/missing.txt", &[]).await;
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn log_lines_have_colour_only_on_a_terminal_or_when_forced_and_never_with_no_color() {
    let piped = stderr_with_env(&[]).await;
    assert!(piped.contains("GET /missing.txt 404"), "{piped}");
    assert!(!piped.contains('\u{1b}'), "{piped:?}");
    let forced = stderr_with_env(&[("CLICOLOR_FORCE", "1")]).await;
    assert!(forced.contains('\u{1b}'), "{forced:?}");
    let both = stderr_with_env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).await;
    assert!(!both.contains('\u{1b}'), "{both:?}");
    let zero = stderr_with_env(&[("CLICOLOR_FORCE", "0")]).await;
    assert!(!zero.contains('\u{1b}'), "{zero:?}");
}
