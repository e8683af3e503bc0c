//! `https://` backends on this machine: a development backend with its own self-signed
//! certificate (Vite's `secure: false`). Only loopback hosts are accepted (checked when the
//! target is parsed), because the certificate is not verified: the bytes never leave the
//! machine, so there is no one in the middle to keep out.
//!
//! Each request gets its own connection (a local TLS handshake costs about a millisecond),
//! which keeps upgrades and errors as simple as with the pooled plain-HTTP client.

use super::proxy::SendError;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio_rustls::rustls::{
    self, DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
};

/// A TLS client for loopback backends.
#[derive(Clone)]
pub(crate) struct TlsBackend {
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsBackend")
    }
}

impl TlsBackend {
    pub fn new() -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        // HTTP/1.1 only: the upgrade tunnel and the response handling are HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsBackend {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// Send `req` (origin-form URI, `Host` set) to `host:port` over a new TLS connection.
    pub async fn send<B>(
        &self,
        host: &str,
        port: u16,
        req: Request<B>,
    ) -> Result<Response<hyper::body::Incoming>, SendError>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = tokio::net::TcpStream::connect((bare, port))
            .await
            .map_err(|err| SendError::Connect(err.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|err| SendError::Connect(err.to_string()))?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|err| SendError::Connect(format!("TLS handshake failed: {err}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|err| SendError::Connect(err.to_string()))?;
        tokio::spawn(async move {
            if let Err(err) = conn.with_upgrades().await {
                tracing::debug!(%err, "connection to an https backend ended");
            }
        });
        sender
            .send_request(req)
            .await
            .map_err(|err| SendError::Answer(super::proxy::error_chain(&err)))
    }
}

/// Accepts any certificate, but still checks that the server holds its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
