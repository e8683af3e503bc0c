//! Binds the listener, accepts connections (plain or TLS) and shuts down in steps. The rooms
//! are wired by the composition root, [`HotService`](crate::HotService) in `service.rs`;
//! this module only runs it.

use crate::{Config, Error, HotService};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
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
    header_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Tls>,
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
        #[cfg(feature = "tls")]
        let tls = load_tls(&config).await?;
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
                    return Self::from_tokio(
                        listener,
                        service,
                        config.header_timeout,
                        #[cfg(feature = "tls")]
                        tls,
                    );
                }
                Err(err) if err.kind() == io::ErrorKind::AddrInUse => {
                    if config.strict_port {
                        return Err(Error::PortInUse { port: first });
                    }
                }
                Err(source) if source.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(Error::BindDenied { addr, source });
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
        #[cfg(feature = "tls")]
        let tls = load_tls(&config).await?;
        let header_timeout = config.header_timeout;
        let service = HotService::new(config).await?;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let bind_err = |source| Error::Bind { addr, source };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let listener = TcpListener::from_std(listener).map_err(bind_err)?;
        Self::from_tokio(
            listener,
            service,
            header_timeout,
            #[cfg(feature = "tls")]
            tls,
        )
    }

    fn from_tokio(
        listener: TcpListener,
        service: HotService,
        header_timeout: Duration,
        #[cfg(feature = "tls")] tls: Option<crate::tls::Tls>,
    ) -> Result<Self, Error> {
        let local_addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        service.bound_to(local_addr);
        Ok(Server {
            listener,
            local_addr,
            service,
            header_timeout,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server speaks HTTPS (and WSS), so URLs start with `https://`.
    pub fn is_https(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Where the HTTPS certificate came from; `None` for plain HTTP.
    #[cfg(feature = "tls")]
    pub fn certificate(&self) -> Option<&crate::CertificateSource> {
        self.tls.as_ref().map(|tls| &tls.source)
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
            listener,
            service,
            header_timeout,
            #[cfg(feature = "tls")]
            tls,
            ..
        } = self;
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Slowloris: a head must arrive within the limit. hyper starts the clock whenever it
        // waits for a head, so an idle kept-alive connection is closed after it too; a
        // response being written, and an upgraded (HMR) socket, are never cut.
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout);
        // Shutdown, for every connection: one still before or in its TLS handshake gives up,
        // one being served finishes its requests and closes. The graceful-shutdown watcher
        // each holds only counts it, so that `graceful.shutdown()` waits for it.
        let stopping = tokio_util::sync::CancellationToken::new();
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
            let conn = Connection {
                service: service.clone(),
                builder: builder.clone(),
                watcher: graceful.watcher(),
                stopping: stopping.clone(),
                peer,
                header_timeout,
            };
            #[cfg(feature = "tls")]
            if let Some(tls) = &tls {
                let acceptor = tls.acceptor.clone();
                tokio::spawn(conn.serve_tls(stream, acceptor));
                continue;
            }
            tokio::spawn(conn.serve(stream, false));
        }
        drop(listener);
        stopping.cancel();
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

/// One accepted connection and what serving it needs.
struct Connection {
    service: HotService,
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    stopping: tokio_util::sync::CancellationToken,
    peer: SocketAddr,
    header_timeout: Duration,
}

impl Connection {
    /// Serve HTTP/1.1 (with upgrades) or HTTP/2 on `io` until the peer leaves or shutdown.
    async fn serve<IO>(self, io: IO, secure: bool)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            service,
            builder,
            watcher,
            stopping,
            peer,
            header_timeout,
        } = self;
        // Held until the connection ends: the server's shutdown waits for it.
        let _counted = watcher;
        // The same two pieces an embedder uses (see `Connection`), so both answer alike.
        let (io, connection) = crate::Connection::new(io, peer);
        let connection = if secure {
            connection.over_tls()
        } else {
            connection
        };
        let activity = std::sync::Arc::new(Activity::default());
        let requests = activity.clone();
        let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let in_flight = requests.start(req.version());
            connection.tag(&mut req);
            let service = service.clone();
            async move {
                let _in_flight = in_flight;
                Ok::<_, Infallible>(service.handle(req).await)
            }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::pin!(conn);
        let mut closing = false;
        let ended = loop {
            let check = tokio::time::sleep(activity.next_check(header_timeout));
            tokio::select! {
                ended = &mut conn => break ended,
                () = stopping.cancelled(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = check, if !closing => match activity.decide(header_timeout) {
                    Verdict::Busy => {}
                    // hyper's head timer starts only once the first bytes told HTTP/1 from
                    // HTTP/2: a connection that never says anything (or dribbles out the
                    // HTTP/2 preface) would stay forever.
                    Verdict::Silent => {
                        tracing::debug!(%peer, "no request within {header_timeout:?}; closing");
                        return;
                    }
                    // HTTP/1 has hyper's head timer between requests; HTTP/2 has no such
                    // timer, so an idle one is told to go away (GOAWAY: streams in flight,
                    // a download included, still finish).
                    Verdict::Idle => {
                        tracing::debug!(%peer, "HTTP/2 connection idle for {header_timeout:?}; closing");
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                },
            }
        };
        if let Err(err) = ended {
            tracing::debug!(%peer, %err, "connection ended with an error");
        }
    }

    /// A connection to the HTTPS port: a TLS handshake, or a plain-HTTP request that gets a
    /// 400 naming the `https://` URL instead of a connection closed without a word.
    #[cfg(feature = "tls")]
    async fn serve_tls(self, stream: tokio::net::TcpStream, acceptor: tokio_rustls::TlsAcceptor) {
        let peer = self.peer;
        let stopping = self.stopping.clone();
        let mut first = [0u8; 1];
        let peek = tokio::time::timeout(FIRST_BYTE_LIMIT, stream.peek(&mut first));
        let Some(peeked) = stopping.run_until_cancelled(peek).await else {
            return; // shutting down: an idle spare connection is simply closed
        };
        match peeked {
            Ok(Ok(1..)) => {}
            Ok(Ok(_)) => return, // closed before saying anything
            Ok(Err(err)) => {
                tracing::debug!(%peer, %err, "connection failed before the TLS handshake");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "no data within {FIRST_BYTE_LIMIT:?}; closing");
                return;
            }
        }
        if first[0] != crate::tls::HANDSHAKE_RECORD {
            self.answer_plain_http(stream).await;
            return;
        }
        let handshake = tokio::time::timeout(TLS_HANDSHAKE_LIMIT, acceptor.accept(stream));
        match stopping.run_until_cancelled(handshake).await {
            Some(Ok(Ok(tls))) => self.serve(tls, true).await,
            Some(Ok(Err(err))) => tracing::debug!(%peer, %err, "TLS handshake failed"),
            Some(Err(_)) => tracing::debug!(%peer, "TLS handshake timed out"),
            None => {}
        }
    }

    #[cfg(feature = "tls")]
    async fn answer_plain_http(self, stream: tokio::net::TcpStream) {
        let Connection {
            watcher,
            peer,
            header_timeout,
            ..
        } = self;
        let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
            Ok::<_, Infallible>(crate::tls::https_only(&req))
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(false)
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        if let Err(err) = watcher.watch(conn).await {
            tracing::debug!(%peer, %err, "plain-HTTP connection to the HTTPS port failed");
        }
    }
}

/// What a connection's requests did, for closing it when it has nothing to do.
#[derive(Debug)]
struct Activity {
    opened: std::time::Instant,
    /// Milliseconds from `opened` to when the last request started or ended.
    last: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
    heard: std::sync::atomic::AtomicBool,
    http2: std::sync::atomic::AtomicBool,
}

/// What [`Activity::decide`] says when a check comes due.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A request in flight, or one recently: check again later.
    Busy,
    /// No request at all within the limit.
    Silent,
    /// An HTTP/2 connection with nothing in flight for the whole limit.
    Idle,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            opened: std::time::Instant::now(),
            last: Default::default(),
            in_flight: Default::default(),
            heard: Default::default(),
            http2: Default::default(),
        }
    }
}

impl Activity {
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request started; the guard marks its end (its response head sent).
    fn start(self: &std::sync::Arc<Self>, version: hyper::Version) -> InFlight {
        use std::sync::atomic::Ordering::Relaxed;
        self.heard.store(true, Relaxed);
        self.http2.store(version == hyper::Version::HTTP_2, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        self.last.store(self.now(), Relaxed);
        InFlight(self.clone())
    }

    /// How long until the next check: when the quiet time so far reaches `limit`.
    fn next_check(&self, limit: Duration) -> Duration {
        let quiet = self
            .now()
            .saturating_sub(self.last.load(std::sync::atomic::Ordering::Relaxed));
        limit
            .saturating_sub(Duration::from_millis(quiet))
            .max(Duration::from_millis(10))
    }

    fn decide(&self, limit: Duration) -> Verdict {
        use std::sync::atomic::Ordering::Relaxed;
        let quiet = Duration::from_millis(self.now().saturating_sub(self.last.load(Relaxed)));
        if quiet < limit || self.in_flight.load(Relaxed) > 0 {
            Verdict::Busy
        } else if !self.heard.load(Relaxed) {
            Verdict::Silent
        } else if self.http2.load(Relaxed) {
            Verdict::Idle
        } else {
            Verdict::Busy
        }
    }
}

/// One request of a connection, from its start until its response head is ready.
struct InFlight(std::sync::Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.in_flight.fetch_sub(1, Relaxed);
        self.0.last.store(self.0.now(), Relaxed);
    }
}

/// How long a connection to the HTTPS port may stay silent before its first byte. Browsers
/// open spare connections ahead of need, so this is generous.
#[cfg(feature = "tls")]
const FIRST_BYTE_LIMIT: Duration = Duration::from_secs(60);

/// How long a TLS handshake may take once it started.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Read the certificate on a blocking thread (file reads, maybe key generation).
#[cfg(feature = "tls")]
async fn load_tls(config: &Config) -> Result<Option<crate::tls::Tls>, Error> {
    let Some(tls) = config.tls.clone() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || crate::tls::Tls::load(&tls))
        .await
        .map_err(|err| Error::Tls {
            source: Box::new(err),
        })?
        .map(Some)
}

async fn resolve_host(host: &str) -> Result<std::net::IpAddr, Error> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse() {
        return Ok(ip);
    }
    let bad = |source: io::Error| Error::BadHost {
        host: host.to_owned(),
        source,
    };
    let mut addrs = tokio::net::lookup_host((trimmed, 0)).await.map_err(bad)?;
    // Prefer IPv4 for `localhost`: it is what most tools and docs use.
    let all: Vec<SocketAddr> = addrs.by_ref().collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .map(|a| a.ip())
        .ok_or_else(|| bad(io::Error::new(io::ErrorKind::NotFound, "no addresses")))
}
