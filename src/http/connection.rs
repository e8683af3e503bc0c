//! What hotserve needs from a connection that its requests do not carry: the peer's
//! address, whether it came over TLS, and which HTTP/1 request targets held a `#` (the
//! `http` crate drops a fragment while parsing, and a browser never sends one, so one is a
//! crafted request that gets 400).
//!
//! hotserve's own [`Server`](crate::Server) and a host server that mounts
//! [`HotService`](crate::HotService) use the same two pieces, so a request gets the same
//! answer however hotserve is run.

use super::OverTls;
use super::fragment::{ConnectionIo, FragmentLog, FragmentSeen};
use super::ws::Peer;
use hyper::Request;
use std::net::SocketAddr;
use std::sync::Arc;

/// One accepted connection, as hotserve needs to know it. Create it with
/// [`Connection::new`] when you accept, serve the IO it returns, and call
/// [`tag`](Connection::tag) on every request read from that IO.
///
/// ```no_run
/// # async fn demo(listener: tokio::net::TcpListener, hot: hotserve::HotService) -> std::io::Result<()> {
/// use hyper::service::service_fn;
/// let (stream, peer) = listener.accept().await?;
/// let (stream, connection) = hotserve::Connection::new(stream, peer);
/// let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
///     connection.tag(&mut req);
///     let hot = hot.clone();
///     async move { Ok::<_, std::convert::Infallible>(hot.handle(req).await) }
/// });
/// hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
///     .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
///     .await
///     .ok();
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Connection {
    fragments: Arc<FragmentLog>,
    peer: SocketAddr,
    secure: bool,
}

impl Connection {
    /// Wrap the IO of a connection accepted from `peer`. The returned IO behaves exactly
    /// like `io`; it also notes, as hyper reads them, which request targets held a `#`.
    pub fn new<IO>(io: IO, peer: SocketAddr) -> (ConnectionIo<IO>, Connection) {
        let fragments = Arc::new(FragmentLog::default());
        let io = ConnectionIo::new(io, fragments.clone());
        let connection = Connection {
            fragments,
            peer,
            secure: false,
        };
        (io, connection)
    }

    /// Mark the connection as one that arrived over TLS (for the proxy's forwarded headers).
    pub(crate) fn over_tls(mut self) -> Self {
        self.secure = true;
        self
    }

    /// Put what hotserve knows about the connection on `req`. Call it for every request of
    /// the connection, in the order they arrive, including those your own routes answer:
    /// the `#` notes are matched to requests by order.
    pub fn tag<B>(&self, req: &mut Request<B>) {
        if req.version() <= hyper::Version::HTTP_11 && self.fragments.next_had_fragment() {
            req.extensions_mut().insert(FragmentSeen);
        }
        req.extensions_mut().insert(Peer(self.peer));
        if self.secure {
            req.extensions_mut().insert(OverTls);
        }
    }
}
