//! hotserve mounted inside an existing hyper server, next to an API route.
//!
//! ```sh
//! cargo run --example mount              # serves examples/site; try /api/time
//! cargo run --example mount -- ROOT
//! ```
//! The host server must serve connections with upgrades enabled, or the HMR WebSocket
//! cannot be taken over, and should wrap each connection with [`hotserve::Connection`], so
//! hotserve sees the peer address and the `#` the `http` crate drops from request targets
//! and answers every request exactly as its own server does.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/site".into());
    let hot = hotserve::HotService::new(hotserve::Config::new(root)).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}/  (API at /api/time)", listener.local_addr()?);
    serve(listener, hot).await?;
    Ok(())
}

/// The host server: `/api/time` is its own, everything else goes to hotserve.
pub async fn serve(listener: TcpListener, hot: hotserve::HotService) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        // Every request of the connection goes through `connection.tag`, in order,
        // whichever handler answers it.
        let (stream, connection) = hotserve::Connection::new(stream, peer);
        let hot = hot.clone();
        let service = service_fn(move |mut req: Request<Incoming>| {
            connection.tag(&mut req);
            let hot = hot.clone();
            async move {
                if req.uri().path() == "/api/time" {
                    return Ok::<_, Infallible>(api_time());
                }
                Ok(hot.handle(req).await)
            }
        });
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(err) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}

fn api_time() -> Response<hotserve::Body> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = Full::new(Bytes::from(format!("{{\"now\":{now}}}")));
    let mut response = Response::new(hotserve::Body::new(body));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
