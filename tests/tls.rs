//! HTTPS and WSS with real TLS handshakes: a client that trusts the generated (or given)
//! certificate, and one that does not.
#![cfg(feature = "tls")]

mod common;

use hotserve::{CertificateSource, Config, Error, Server, TlsConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};

/// A running HTTPS server and where its certificate came from.
struct Running {
    addr: SocketAddr,
    hub: hotserve::Hub,
    source: CertificateSource,
    server: common::TestServer,
}

impl Running {
    async fn start(config: Config) -> Self {
        let server = Server::bind(config.port(0)).await.expect("server binds");
        assert!(server.is_https());
        let source = server
            .certificate()
            .expect("HTTPS server has a certificate")
            .clone();
        let server = common::TestServer::run(server);
        Running {
            addr: server.addr,
            hub: server.hub.clone(),
            source,
            server,
        }
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "index.html",
        "<!doctype html><h1>secure page</h1>",
    );
    common::write(dir.path(), "style.css", "body { color: green }");
    dir
}

fn cached_cert(cache: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(cache.join("localhost-cert.pem"))
        .expect("the certificate is in the cache folder")
        .collect::<Result<_, _>>()
        .expect("the cached certificate parses")
}

fn client_config(trusted: &[CertificateDer<'static>], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone()).expect("trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .expect("handshake within 10 s")
}

/// One HTTP/1.1 GET over a fresh TLS connection.
async fn https_get(
    addr: SocketAddr,
    trusted: &[CertificateDer<'static>],
    target: &str,
) -> common::Reply {
    let mut tls = connect(addr, client_config(trusted, &[b"http/1.1"]), "localhost")
        .await
        .expect("TLS handshake succeeds");
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut out))
        .await
        .expect("response within 10 s")
        .expect("read");
    common::parse_reply(&out, false)
}

#[tokio::test]
async fn https_serves_files_with_a_self_signed_certificate_kept_in_the_cache_folder() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    assert_eq!(
        server.source,
        CertificateSource::SelfSigned {
            cache: Some(cache.path().to_path_buf()),
            reused: false
        }
    );
    let trusted = cached_cert(cache.path());
    let reply = https_get(server.addr, &trusted, "/").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("secure page"));
    let reply = https_get(server.addr, &trusted, "/style.css").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "body { color: green }");
    server.stop().await;
}

#[tokio::test]
async fn the_self_signed_certificate_is_reused_from_the_cache_on_the_next_start() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let config =
        || Config::new(root.path()).https(TlsConfig::self_signed().cache_dir(cache.path()));
    let first = Running::start(config()).await;
    let trusted = cached_cert(cache.path());
    first.stop().await;

    let second = Running::start(config()).await;
    assert_eq!(
        second.source,
        CertificateSource::SelfSigned {
            cache: Some(cache.path().to_path_buf()),
            reused: true
        }
    );
    assert_eq!(cached_cert(cache.path()), trusted, "the same certificate");
    // A browser that accepted the first certificate accepts the second server.
    let tls = connect(second.addr, client_config(&trusted, &[]), "localhost")
        .await
        .expect("the first start's certificate is still the one served");
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(served, trusted[0]);
    second.stop().await;
}

#[tokio::test]
async fn an_unreadable_cached_certificate_is_replaced() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    common::write(cache.path(), "localhost-cert.pem", "not a certificate");
    common::write(cache.path(), "localhost-key.pem", "not a key");
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    assert!(matches!(
        server.source,
        CertificateSource::SelfSigned { reused: false, .. }
    ));
    let reply = https_get(server.addr, &cached_cert(cache.path()), "/").await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn http2_is_negotiated_with_alpn() {
    use http_body_util::BodyExt;
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    let trusted = cached_cert(cache.path());
    let stream = connect(
        server.addr,
        client_config(&trusted, &[b"h2", b"http/1.1"]),
        "localhost",
    )
    .await
    .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(format!(
        "https://localhost:{}/style.css",
        server.addr.port()
    ))
    .body(http_body_util::Empty::<bytes::Bytes>::new())
    .unwrap();
    let res = sender.send_request(req).await.expect("HTTP/2 response");
    assert_eq!(res.version(), hyper::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"body { color: green }");
    server.stop().await;
}

#[tokio::test]
async fn the_hmr_socket_upgrades_over_wss_and_receives_payloads() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    let trusted = cached_cert(cache.path());
    let stream = connect(
        server.addr,
        client_config(&trusted, &[b"http/1.1"]),
        "localhost",
    )
    .await
    .unwrap();
    let mut request = format!("wss://localhost:{}/", server.addr.port())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "vite-hmr".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("WSS upgrade accepted");
    assert_eq!(response.headers()["sec-websocket-protocol"], "vite-hmr");
    let first = common::next_json(&mut ws).await;
    assert_eq!(first["type"], "connected");
    server
        .hub
        .send(hotserve::protocol::Payload::full_reload_all());
    let reload = common::next_json(&mut ws).await;
    assert_eq!(reload["type"], "full-reload");
    server.stop().await;
}

/// A certificate and key for localhost made in the test, as mkcert would.
fn write_pem_pair(
    dir: &Path,
    name: &str,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    CertificateDer<'static>,
) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

#[tokio::test]
async fn the_developers_own_pem_files_are_served() {
    let root = site();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, der) = write_pem_pair(certs.path(), "localhost");
    let tls = TlsConfig::pem_files(&cert, &key);
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    assert_eq!(server.source, CertificateSource::Files { cert, key });
    let reply = https_get(server.addr, std::slice::from_ref(&der), "/").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("secure page"));
    server.stop().await;
}

async fn bind_error(config: Config) -> Error {
    Server::bind(config.port(0))
        .await
        .expect_err("the server refuses to start")
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_a_typed_error() {
    let root = site();
    let certs = tempfile::tempdir().unwrap();
    let (cert, _, _) = write_pem_pair(certs.path(), "one");
    let (_, other_key, _) = write_pem_pair(certs.path(), "two");
    let err =
        bind_error(Config::new(root.path()).https(TlsConfig::pem_files(&cert, &other_key))).await;
    assert!(
        matches!(&err, Error::TlsKeyMismatch { cert: c, key: k } if *c == cert && *k == other_key),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("does not match the certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_or_unreadable_certificate_files_are_typed_errors() {
    let root = site();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_pem_pair(certs.path(), "good");
    let missing = certs.path().join("missing.pem");
    let err =
        bind_error(Config::new(root.path()).https(TlsConfig::pem_files(&missing, &key))).await;
    assert!(
        matches!(&err, Error::TlsCertificate { path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err =
        bind_error(Config::new(root.path()).https(TlsConfig::pem_files(&cert, &missing))).await;
    assert!(
        matches!(&err, Error::TlsKey { path, .. } if *path == missing),
        "{err:?}"
    );

    // A certificate where the key should be: no private key in it.
    let err = bind_error(Config::new(root.path()).https(TlsConfig::pem_files(&cert, &cert))).await;
    assert!(matches!(&err, Error::TlsKey { .. }), "{err:?}");
    assert!(err.to_string().contains("no PRIVATE KEY"), "{err}");

    let garbage = certs.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let err =
        bind_error(Config::new(root.path()).https(TlsConfig::pem_files(&garbage, &key))).await;
    assert!(matches!(&err, Error::TlsCertificate { .. }), "{err:?}");
}

#[tokio::test]
async fn plain_http_to_the_https_port_gets_a_400_naming_the_https_url() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    let host = format!("localhost:{}", server.addr.port());
    let reply = common::request(server.addr, "GET", "/style.css?v=1", &[("Host", &host)]).await;
    assert_eq!(reply.status, 400);
    let text = reply.text();
    assert!(
        text.contains("this port speaks https") || text.contains("This port speaks HTTPS"),
        "{text}"
    );
    assert!(
        text.contains(&format!("https://{host}/style.css?v=1")),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failed_handshake_leaves_the_server_running() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    // A client that trusts some other certificate refuses ours.
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let refused = connect(
        server.addr,
        client_config(&[stranger.cert.der().clone()], &[]),
        "localhost",
    )
    .await;
    assert!(refused.is_err(), "the untrusted certificate is refused");
    // Garbage after a handshake byte.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(&[0x16, 0xff, 0xff, 0xff, 0xff, 0, 0])
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut sink)).await;
    let reply = https_get(server.addr, &cached_cert(cache.path()), "/").await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn proxied_requests_over_https_say_so_and_redirects_keep_https() {
    use http_body_util::Full;
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = backend.accept().await {
            let service = hyper::service::service_fn(
                move |req: hyper::Request<hyper::body::Incoming>| async move {
                    let proto = req.headers()["x-forwarded-proto"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let res = if req.uri().path() == "/old" {
                        hyper::Response::builder()
                            .status(302)
                            .header("location", format!("http://{backend_addr}/new"))
                            .body(Full::new(bytes::Bytes::new()))
                    } else {
                        hyper::Response::builder()
                            .header("content-type", "text/html")
                            .body(Full::new(bytes::Bytes::from(format!(
                                "<head></head>proto={proto}"
                            ))))
                    };
                    Ok::<_, std::convert::Infallible>(res.unwrap())
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let config = Config::new(root.path())
        .https(tls)
        .proxy(format!("http://{backend_addr}"));
    let server = Running::start(config).await;
    let trusted = cached_cert(cache.path());
    let page = https_get(server.addr, &trusted, "/page").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("proto=https"), "{}", page.text());
    assert!(page.text().contains("/@vite/client"), "{}", page.text());
    let moved = https_get(server.addr, &trusted, "/old").await;
    assert_eq!(moved.status, 302);
    assert_eq!(
        moved.header("location"),
        Some(format!("https://localhost:{}/new", server.addr.port()).as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_before_its_handshake_does_not_delay_shutdown() {
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let server = Running::start(Config::new(root.path()).https(tls)).await;
    // A browser's spare connection: open, silent.
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        started.elapsed()
    );
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn an_https_backend_on_this_machine_is_proxied_with_its_self_signed_certificate() {
    use futures_util::{SinkExt, StreamExt};
    use http_body_util::Full;
    use tokio_tungstenite::tungstenite::Message;
    // The backend: HTTPS with a certificate nobody trusts, a page and a WebSocket echo.
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(
        made.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let backend_tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(backend_tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    |mut req: hyper::Request<hyper::body::Incoming>| async move {
                        if req.uri().path() == "/ws" {
                            let key = req.headers()["sec-websocket-key"].as_bytes().to_vec();
                            let upgrade = hyper::upgrade::on(&mut req);
                            tokio::spawn(async move {
                                let Ok(upgraded) = upgrade.await else { return };
                                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                                    hyper_util::rt::TokioIo::new(upgraded),
                                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                                    None,
                                )
                                .await;
                                while let Some(Ok(Message::Text(text))) = ws.next().await {
                                    let _ =
                                        ws.send(Message::text(format!("tls echo: {text}"))).await;
                                }
                            });
                            let accept =
                                tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
                            return Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(101)
                                    .header("connection", "Upgrade")
                                    .header("upgrade", "websocket")
                                    .header("sec-websocket-accept", accept)
                                    .body(Full::new(bytes::Bytes::new()))
                                    .unwrap(),
                            );
                        }
                        let host = req.headers()["host"].to_str().unwrap().to_owned();
                        Ok(hyper::Response::builder()
                            .header("content-type", "text/html")
                            .body(Full::new(bytes::Bytes::from(format!(
                                "<head></head>secure backend, host={host}"
                            ))))
                            .unwrap())
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    let root = site();
    let server = common::TestServer::start(
        Config::new(root.path()).proxy(format!("https://localhost:{}", backend_addr.port())),
    )
    .await;
    let reply = server.get("/page").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("secure backend"), "{}", reply.text());
    assert!(reply.text().contains("/@vite/client"), "{}", reply.text());
    assert!(
        reply.text().contains(&format!("host={}", server.addr)),
        "the browser's Host goes through: {}",
        reply.text()
    );
    let mut ws = common::ws_connect(server.addr, "/ws", "", &[])
        .await
        .expect("tunnel to the https backend");
    ws.send(Message::text("hi")).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("echo within 5 s")
        .unwrap()
        .unwrap();
    assert_eq!(echoed, Message::text("tls echo: hi"));
    server.stop().await;
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn an_https_backend_elsewhere_is_refused_at_startup() {
    let root = site();
    let err = Server::bind(
        Config::new(root.path())
            .port(0)
            .proxy("https://api.example.com"),
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, Error::BadProxy { .. }), "{err:?}");
    assert!(err.to_string().contains("must be on this machine"), "{err}");
}

/// HTTP/2 has no head timer between requests, as HTTP/1 has: an idle connection is told to
/// go away after the header timeout, while one that keeps asking stays open.
#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    use http_body_util::BodyExt;
    let root = site();
    let cache = tempfile::tempdir().unwrap();
    let tls = TlsConfig::self_signed().cache_dir(cache.path());
    let limit = Duration::from_millis(400);
    let server = Running::start(Config::new(root.path()).https(tls).header_timeout(limit)).await;
    let trusted = cached_cert(cache.path());
    let stream = connect(server.addr, client_config(&trusted, &[b"h2"]), "localhost")
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("HTTP/2 handshake");
    let conn = tokio::spawn(conn);
    let url = format!("https://localhost:{}/style.css", server.addr.port());
    // Busy: a request every 150 ms for twice the limit, all on this one connection.
    for _ in 0..6 {
        let req = hyper::Request::get(&url)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = sender
            .send_request(req)
            .await
            .expect("still open while busy");
        assert_eq!(res.status(), 200);
        res.into_body().collect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Idle: the server ends the connection (GOAWAY, then close).
    let ended = tokio::time::timeout(limit * 5, conn).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was still open");
    server.stop().await;
}
