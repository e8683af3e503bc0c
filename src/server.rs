//! The composition root: binds the listener, accepts connections, and wires the stages
//! together. Everything else in the crate is a stage that knows nothing of the others.

use crate::client::{ClientConfig, ServedClient, url_host};
use crate::http::fragment::{FragmentLog, FragmentSeen, FragmentSniffer};
use crate::http::{Site, host::HostPolicy, resolve::DenyList, ws::Peer};
use crate::hub::{Hub, HubEvent};
use crate::plan::Plan;
use crate::watch::{ChangeSet, WatchOptions, Watcher};
use crate::{Config, Error};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

/// How many ports after the requested one are tried when it is taken.
const PORT_ATTEMPTS: u16 = 100;

/// How long in-flight requests may take to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A bound dev server. Create it with [`Server::bind`] (or [`Server::from_listener`]), read
/// [`local_addr`](Server::local_addr), then [`run`](Server::run) it until a shutdown future
/// resolves.
///
/// ```no_run
/// # async fn demo() -> Result<(), hotserve::Error> {
/// let server = hotserve::Server::bind(hotserve::Config::new("site").port(0)).await?;
/// println!("serving on http://{}", server.local_addr());
/// server.run(async { tokio::signal::ctrl_c().await.ok(); }).await;
/// # Ok(()) }
/// ```
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    site: Arc<Site>,
    watcher: Option<(Watcher, mpsc::Receiver<ChangeSet>)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("root", &self.site.root)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Check the config and bind its host and port. When the port is taken and
    /// `strict_port` is off, the next ports are tried (and the switch is logged).
    pub async fn bind(config: Config) -> Result<Self, Error> {
        let site = site(&config)?;
        let watcher = start_watcher(&config, &site).await?;
        let ip = resolve_host(&config.host).await?;
        let first = config.port;
        let attempts = if config.strict_port || first == 0 {
            1
        } else {
            PORT_ATTEMPTS.min(u16::MAX - first + 1)
        };
        for offset in 0..attempts {
            let addr = SocketAddr::new(ip, first + offset);
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    if offset > 0 {
                        tracing::info!("port {first} is in use, using {} instead", addr.port());
                    }
                    return Self::from_tokio(listener, site, watcher);
                }
                Err(err) if err.kind() == io::ErrorKind::AddrInUse => {
                    if config.strict_port {
                        return Err(Error::PortInUse { port: first });
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(Error::BindDenied { addr });
                }
                Err(source) => return Err(Error::Bind { addr, source }),
            }
        }
        Err(Error::NoFreePort {
            first,
            last: first + (attempts - 1),
        })
    }

    /// Serve on a listener the caller bound (the config's host and port are ignored), so
    /// embedders and tests control the address.
    pub async fn from_listener(listener: StdListener, config: Config) -> Result<Self, Error> {
        let site = site(&config)?;
        let watcher = start_watcher(&config, &site).await?;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let bind_err = |source| Error::Bind { addr, source };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let listener = TcpListener::from_std(listener).map_err(bind_err)?;
        Self::from_tokio(listener, site, watcher)
    }

    fn from_tokio(
        listener: TcpListener,
        mut site: Site,
        watcher: Option<(Watcher, mpsc::Receiver<ChangeSet>)>,
    ) -> Result<Self, Error> {
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        site.client = site.client.bound_to(local_addr);
        Ok(Server {
            listener,
            local_addr,
            site: Arc::new(site),
            watcher,
        })
    }

    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The HMR channel: send payloads to every connected browser.
    pub fn hub(&self) -> &Hub {
        &self.site.hub
    }

    /// The secret browsers present to open the HMR socket (embedded in the served client).
    pub fn token(&self) -> &str {
        &self.site.token
    }

    /// The canonical folder being served.
    pub fn root(&self) -> &Path {
        &self.site.root
    }

    /// Serve until `shutdown` resolves, then stop accepting, give in-flight requests a short
    /// grace period, and return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            site,
            watcher,
            ..
        } = self;
        let stages = spawn_stages(&site, watcher);
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // EMFILE and friends: log, breathe, and keep serving.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Small responses and HMR messages must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let site = site.clone();
            let fragments = Arc::new(FragmentLog::default());
            let stream = FragmentSniffer::new(stream, fragments.clone());
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                if req.version() <= hyper::Version::HTTP_11 && fragments.next_had_fragment() {
                    req.extensions_mut().insert(FragmentSeen);
                }
                req.extensions_mut().insert(Peer(peer));
                let site = site.clone();
                async move { Ok::<_, Infallible>(site.handle(req).await) }
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let conn = graceful.watch(conn.into_owned());
            tokio::spawn(async move {
                if let Err(err) = conn.await {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
            });
        }
        drop(listener);
        // hyper's graceful shutdown stops at upgraded connections: the hub closes the
        // WebSockets itself (1001 going away) while HTTP requests drain.
        let http = async {
            tokio::select! {
                () = graceful.shutdown() => tracing::debug!("all HTTP connections closed"),
                () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                    tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; stopping anyway");
                }
            }
        };
        stages.abort();
        tokio::join!(http, site.hub.close_all(SHUTDOWN_GRACE));
    }
}

/// Validate the root and build the shared request handler state.
fn site(config: &Config) -> Result<Site, Error> {
    let token = config.token.clone().unwrap_or_else(random_token);
    let root = check_root(&config.root)?;
    Ok(Site {
        plan: Arc::new(Plan::new(root.clone())),
        cache: Default::default(),
        root,
        deny: DenyList::new(&config.deny)?,
        hosts: HostPolicy::new(&config.host, &config.allowed_hosts),
        spa: config.spa,
        hub: Hub::new(),
        hmr_path: config.hmr_path.clone(),
        client: ServedClient::new(&client_config(config, &token)),
        token,
        inject: config.inject,
    })
}

/// What the served client needs to know; the direct address is added once bound.
fn client_config(config: &Config, token: &str) -> ClientConfig {
    ClientConfig {
        token: token.to_owned(),
        host: config.hmr_host.as_deref().map(url_host),
        port: config.hmr_port,
        path: config.hmr_path.clone(),
        direct_host: None,
        direct_port: None,
        spa: config.spa,
    }
}

/// Start watching the root (walking it on a blocking thread: big trees take a moment).
async fn start_watcher(
    config: &Config,
    site: &Site,
) -> Result<Option<(Watcher, mpsc::Receiver<ChangeSet>)>, Error> {
    if !config.watch {
        return Ok(None);
    }
    let options = WatchOptions::new(site.root.clone())
        .poll(config.poll)
        .settle(config.debounce)
        .ignore_globs(config.ignore.iter().cloned());
    Ok(Some(Watcher::start(options)?))
}

/// The stages that run beside the accept loop: watched changes -> plan -> hub, and
/// `hot.invalidate()` from clients -> plan -> hub. Aborted on shutdown.
struct Stages(Vec<tokio::task::JoinHandle<()>>);

impl Stages {
    fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn spawn_stages(site: &Arc<Site>, watcher: Option<(Watcher, mpsc::Receiver<ChangeSet>)>) -> Stages {
    let mut tasks = Vec::new();
    if let Some((watcher, mut changes)) = watcher {
        let site = site.clone();
        tasks.push(tokio::spawn(async move {
            // The watcher lives as long as this task; dropping it stops watching.
            let _watcher = watcher;
            while let Some(set) = changes.recv().await {
                site.cache
                    .forget(set.changes.iter().map(|c| c.path.as_path()));
                let plan = site.plan.clone();
                let first_event = set.first_event;
                let outcome = match tokio::task::spawn_blocking(move || plan.plan(&set)).await {
                    Ok(outcome) => outcome,
                    Err(err) => {
                        tracing::warn!(%err, "planning a change failed");
                        continue;
                    }
                };
                for payload in outcome.payloads {
                    tracing::info!(
                        "{} ({:.1?})",
                        crate::plan::describe(&payload),
                        first_event.elapsed()
                    );
                    site.hub.send(payload);
                }
            }
        }));
    }
    let site = site.clone();
    let mut events = site.hub.subscribe();
    tasks.push(tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(HubEvent::Invalidate { message, .. }) => {
                    if let Some(payload) = site.plan.invalidate(&message) {
                        tracing::info!(
                            "{} (invalidated by {})",
                            crate::plan::describe(&payload),
                            message.path
                        );
                        site.hub.send(payload);
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        "missed {missed} client events; reloading pages to stay consistent"
                    );
                    site.hub.full_reload();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }));
    Stages(tasks)
}

/// 9 random bytes as 12 base64url characters, as Vite makes its token.
fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 9];
    if let Err(err) = getrandom::fill(&mut bytes) {
        // Without randomness the token would be guessable; fall back to time and address
        // entropy rather than refusing to start, and say so.
        tracing::warn!(%err, "no OS randomness for the HMR token; using a weaker source");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ (&bytes as *const _ as usize as u128);
        bytes.copy_from_slice(&seed.to_le_bytes()[..9]);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_root(root: &Path) -> Result<std::path::PathBuf, Error> {
    let meta = match std::fs::metadata(root) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(Error::RootMissing(root.to_path_buf()));
        }
        Err(source) => {
            return Err(Error::RootUnreadable {
                path: root.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        return Err(Error::RootNotDir(root.to_path_buf()));
    }
    let canonical = std::fs::canonicalize(root).map_err(|source| Error::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    std::fs::read_dir(&canonical).map_err(|source| Error::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    Ok(canonical)
}

async fn resolve_host(host: &str) -> Result<std::net::IpAddr, Error> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse() {
        return Ok(ip);
    }
    let bad = |reason: String| Error::BadHost {
        host: host.to_owned(),
        reason,
    };
    let mut addrs = tokio::net::lookup_host((trimmed, 0))
        .await
        .map_err(|e| bad(e.to_string()))?;
    // Prefer IPv4 for `localhost`: it is what most tools and docs use.
    let all: Vec<SocketAddr> = addrs.by_ref().collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .map(|a| a.ip())
        .ok_or_else(|| bad("no addresses".into()))
}
