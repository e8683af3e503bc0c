//! The shared headless Chromium for browser tests: `tests/js/browser.mjs` (playwright-core)
//! driven over stdin/stdout, one tab at a time (tests take turns through a lock).
//!
//! Needs `node`, `npm ci` in `tests/js` and Chromium (`/usr/bin/chromium`, or the path in
//! `HOTSERVE_CHROMIUM`). When one is missing the tests pass with a "skipping" note on
//! stderr, unless `HOTSERVE_REQUIRE_BROWSER=1` (CI), which turns that into a failure.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The node process that drives Chromium.
pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<Value>,
    next_id: u64,
}

pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

pub fn chromium_path() -> PathBuf {
    std::env::var_os("HOTSERVE_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// Why the browser tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("`node` is not on PATH".into());
    }
    if !js_dir()
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Some("tests/js/node_modules is missing (run `npm ci` in tests/js)".into());
    }
    let chromium = chromium_path();
    if !chromium.exists() {
        return Some(format!(
            "no Chromium at {} (set HOTSERVE_CHROMIUM)",
            chromium.display()
        ));
    }
    None
}

impl Driver {
    fn launch() -> Result<Driver, String> {
        let mut child = Command::new("node")
            .arg(js_dir().join("browser.mjs"))
            .current_dir(js_dir())
            .env("HOTSERVE_CHROMIUM", chromium_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(value) => {
                        if tx.send(value).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("browser.mjs: {line}"),
                }
            }
        });
        let ready = replies
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the browser did not start within 60 s".to_owned())?;
        if ready["ok"] != json!(true) {
            return Err(format!("the browser did not start: {ready}"));
        }
        Ok(Driver {
            child,
            stdin,
            replies,
            next_id: 1,
        })
    }

    pub fn call(&mut self, mut request: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = json!(id);
        writeln!(self.stdin, "{request}").map_err(|e| format!("browser gone: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .replies
                .recv_timeout(left)
                .map_err(|_| format!("no answer to {request} within 60 s"))?;
            // Answers to requests of a test that panicked earlier are skipped.
            if reply["id"] != json!(id) {
                continue;
            }
            return if reply["ok"] == json!(true) {
                Ok(reply["value"].clone())
            } else {
                Err(reply["error"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned())
            };
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared browser, or `None` (after a note) when the tests must be skipped.
pub fn browser() -> Option<Tab> {
    static DRIVER: OnceLock<Result<Mutex<Driver>, String>> = OnceLock::new();
    let required = std::env::var("HOTSERVE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    if let Some(why) = missing_prerequisite() {
        assert!(
            !required,
            "HOTSERVE_REQUIRE_BROWSER=1 but the browser tests cannot run: {why}"
        );
        eprintln!("skipping browser test: {why}");
        return None;
    }
    match DRIVER.get_or_init(|| Driver::launch().map(Mutex::new)) {
        // A test that failed while holding the lock leaves the browser usable.
        Ok(driver) => Some(Tab {
            driver: driver.lock().unwrap_or_else(|e| e.into_inner()),
        }),
        Err(err) => panic!("the browser could not be started: {err}"),
    }
}

/// One test's use of the browser: a tab at a time.
pub struct Tab {
    driver: MutexGuard<'static, Driver>,
}

impl Tab {
    pub fn call(&mut self, request: Value) -> Value {
        match self.driver.call(request.clone()) {
            Ok(value) => value,
            Err(err) => panic!("browser: {request}: {err}"),
        }
    }

    pub fn open(&mut self, url: &str) {
        self.call(json!({"op": "open", "url": url}));
    }

    pub fn eval(&mut self, expr: &str) -> Value {
        self.call(json!({"op": "eval", "expr": expr}))
    }

    pub fn wait(&mut self, expr: &str, timeout: Duration) -> Value {
        self.call(json!({"op": "wait", "expr": expr, "timeout": timeout.as_millis() as u64}))
    }

    pub fn key(&mut self, key: &str) {
        self.call(json!({"op": "key", "key": key}));
    }

    pub fn click(&mut self, x: u32, y: u32) {
        self.call(json!({"op": "click", "x": x, "y": y}));
    }

    /// The tab's console lines (`type: text`) and uncaught errors so far.
    pub fn log(&mut self) -> (Vec<String>, Vec<String>) {
        let log = self.call(json!({"op": "log"}));
        let console = log["console"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!(
                    "{}: {}",
                    m["type"].as_str().unwrap_or(""),
                    m["text"].as_str().unwrap_or("")
                )
            })
            .collect();
        let errors = log["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.as_str().unwrap_or("").to_owned())
            .collect();
        (console, errors)
    }

    /// Wait until the console has shown `text` at least `count` times (one per page load
    /// for the client's "connected." line).
    pub fn wait_console(&mut self, text: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let (console, _) = self.log();
            if console.iter().filter(|l| l.contains(text)).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "console never showed {text:?} {count} times in {timeout:?}: {console:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_connected(&mut self, loads: usize) {
        self.wait_console("[vite] connected.", loads, Duration::from_secs(10));
    }

    /// No uncaught errors, and no console errors but the browser's own notes about
    /// connections refused while a server was down (`network_ok`).
    pub fn assert_clean(&mut self, network_ok: bool) {
        let (console, errors) = self.log();
        assert!(
            errors.is_empty(),
            "uncaught errors in the page: {errors:#?}"
        );
        let bad: Vec<&String> = console
            .iter()
            .filter(|l| l.starts_with("error:"))
            .filter(|l| {
                !(network_ok
                    && (l.contains("WebSocket connection to")
                        || l.contains("net::ERR_CONNECTION_REFUSED")))
            })
            .collect();
        assert!(bad.is_empty(), "console errors: {bad:#?}");
    }

    /// The text of the first element matching `selector`, or `""` when there is none.
    pub fn text_of(&mut self, selector: &str) -> String {
        self.eval(&format!(
            "document.querySelector({selector:?})?.textContent ?? null"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Wait (10 s) until the first element matching `selector` has exactly `text`.
    pub fn wait_text(&mut self, selector: &str, text: &str) {
        self.wait(
            &format!("document.querySelector({selector:?})?.textContent === {text:?}"),
            Duration::from_secs(10),
        );
    }

    pub fn load_id(&mut self) -> Value {
        self.eval("window.__loadId")
    }
}
