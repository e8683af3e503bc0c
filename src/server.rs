//! The composition root: binds the listener, accepts connections, and wires the stages
//! together. Everything else in the crate is a stage that knows nothing of the others.

use crate::http::fragment::{FragmentLog, FragmentSeen, FragmentSniffer};
use crate::http::ws::Peer;
use crate::hub::Hub;
use crate::{Config, Error, HotService};
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
    service: HotService,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("root", &self.service.root())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Check the config and bind its host and port. When the port is taken and
    /// `strict_port` is off, the next ports are tried (and the switch is logged).
    pub async fn bind(config: Config) -> Result<Self, Error> {
        // Resolve the host first: a typo should not cost a tree walk.
        let ip = resolve_host(&config.host).await?;
        let service = HotService::new(config.clone()).await?;
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
                    return Self::from_tokio(listener, service);
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
        let service = HotService::new(config).await?;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let bind_err = |source| Error::Bind { addr, source };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let listener = TcpListener::from_std(listener).map_err(bind_err)?;
        Self::from_tokio(listener, service)
    }

    fn from_tokio(listener: TcpListener, service: HotService) -> Result<Self, Error> {
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        service.bound_to(local_addr);
        Ok(Server {
            listener,
            local_addr,
            service,
        })
    }

    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The HMR channel: send payloads to every connected browser.
    pub fn hub(&self) -> &Hub {
        self.service.hub()
    }

    /// The secret browsers present to open the HMR socket (embedded in the served client).
    pub fn token(&self) -> &str {
        self.service.token()
    }

    /// The canonical folder being served.
    pub fn root(&self) -> &Path {
        self.service.root()
    }

    /// The request handler and its stages: events, `notify_changed`, the hub. Clone it
    /// before [`run`](Server::run) to keep using it while the server runs.
    pub fn service(&self) -> &HotService {
        &self.service
    }

    /// Serve until `shutdown` resolves, then stop accepting, give in-flight requests a short
    /// grace period, and return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener, service, ..
        } = self;
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
            let service = service.clone();
            let fragments = Arc::new(FragmentLog::default());
            let stream = FragmentSniffer::new(stream, fragments.clone());
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                if req.version() <= hyper::Version::HTTP_11 && fragments.next_had_fragment() {
                    req.extensions_mut().insert(FragmentSeen);
                }
                req.extensions_mut().insert(Peer(peer));
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.handle(req).await) }
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
        tokio::join!(http, service.shutdown());
    }
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
