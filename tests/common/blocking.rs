//! Servers for tests that drive a browser: its calls block, so these servers run on a
//! runtime of their own and are stopped when dropped.

use hotserve::{Config, Event, Events, Server};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The real `hotserve` binary as a child process; killed when dropped.
pub struct Binary {
    child: Child,
    pub addr: SocketAddr,
}

impl Binary {
    /// `hotserve <root> --port <port>`; a fixed port (a restart on the same address) also
    /// gets `--strict-port`. Its log is dropped.
    pub fn start(root: &Path, port: u16) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotserve"));
        command
            .arg(root)
            .args(["--port", &port.to_string()])
            .stderr(Stdio::null());
        if port != 0 {
            command.arg("--strict-port");
        }
        Binary::spawn(command)
    }

    /// Run `command` (the binary with the caller's arguments and stderr) and wait for the
    /// `Local:` URL it prints.
    pub fn spawn(mut command: Command) -> Binary {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("hotserve starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading so the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("Local:").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("hotserve prints its Local URL within 20 s");
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the Local URL has an address");
        Binary { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// hotserve as a library in this process, on a one-worker runtime of its own, so the test
/// can reach its hub and events between blocking browser calls.
pub struct InProcess {
    pub rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub hub: hotserve::Hub,
    pub events: Events,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    /// Bind `config` on port 0 and run it until dropped.
    pub fn start(config: Config) -> InProcess {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt
            .block_on(Server::bind(config.port(0)))
            .expect("server binds");
        let addr = server.local_addr();
        let hub = server.service().hub().clone();
        let events = server.service().events();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        InProcess {
            rt,
            addr,
            hub,
            events,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn get(&self, target: &str) -> super::Reply {
        self.rt
            .block_on(super::request(self.addr, "GET", target, &[]))
    }

    /// The next server event that `pick` accepts, within 5 s.
    pub fn event<T>(&mut self, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        let events = &mut self.events;
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let event = events.next().await.expect("the server is running");
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
            })
            .await
            .expect("the expected event within 5 s")
        })
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
