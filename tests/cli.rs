//! The `hotserve` binary itself: banner, serving, clear errors, clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn hotserve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotserve"))
}

/// Read stdout lines until the banner's Local URL appears.
fn wait_for_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the URL is found: a closed pipe would make the server's
        // later banner lines fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
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

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
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
    let mut child = hotserve()
        .arg(site.path())
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
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
    let out = hotserve()
        .args(["/no/such/folder", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the folder to serve does not exist: /no/such/folder"),
        "{stderr}"
    );
}

#[test]
fn a_busy_port_with_strict_port_is_a_clear_error() {
    let site = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = hotserve()
        .arg(site.path())
        .args(["--port", &port, "--strict-port"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {port} is already in use")),
        "{stderr}"
    );
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
    let out = hotserve()
        .arg(site.path())
        .args(["--host", "no.such.host.invalid", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot resolve host"), "{stderr}");
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
    let out = hotserve()
        .arg(site.path())
        .args([
            "--port",
            "0",
            "--cert",
            "/no/such/cert.pem",
            "--key",
            "/no/such/key.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: cannot use the certificate /no/such/cert.pem"),
        "{stderr}"
    );
}

#[cfg(feature = "proxy")]
#[test]
fn a_proxy_target_that_is_not_an_http_url_is_a_clear_error() {
    let site = tempfile::tempdir().unwrap();
    let out = hotserve()
        .arg(site.path())
        .args(["--port", "0", "--proxy", "ftp://127.0.0.1:21"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: invalid proxy \"ftp://127.0.0.1:21\""),
        "{stderr}"
    );
}
