//! HTTPS and WSS on the server's own port: rustls (ring provider, no OpenSSL), a certificate
//! from the developer's PEM files or a self-signed one for localhost kept in a cache folder,
//! and the first-byte check that tells a TLS handshake from a plain-HTTP request.

use crate::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_rustls::rustls;

/// The names the self-signed certificate is valid for.
const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How long a generated certificate is valid. Browsers cap publicly trusted certificates at
/// 398 days; staying under that keeps the exception a developer accepted working everywhere.
const SELF_SIGNED_DAYS: u64 = 365;

/// A cached certificate this close to expiry is replaced at startup, so it never expires
/// in the middle of a working session.
const RENEW_BEFORE: Duration = Duration::from_secs(7 * 86_400);

/// File names in the cache folder.
const CACHED_CERT: &str = "localhost-cert.pem";
const CACHED_KEY: &str = "localhost-key.pem";

/// The first line of a cached certificate file: when it expires, in Unix seconds. PEM
/// readers skip text outside `-----BEGIN` blocks (RFC 7468 §5.2), so the file stays a
/// valid PEM file for other tools.
const EXPIRES_PREFIX: &str = "hotserve-expires: ";

/// The environment variable that overrides the cache folder (tests, sandboxes).
pub const CACHE_DIR_ENV: &str = "HOTSERVE_CACHE_DIR";

/// How to serve HTTPS: with the developer's own certificate or a generated one.
///
/// ```
/// let config = hotserve::Config::new("site").https(hotserve::TlsConfig::self_signed());
/// let mkcert = hotserve::TlsConfig::pem_files("localhost.pem", "localhost-key.pem");
/// # let _ = (config, mkcert);
/// ```
#[derive(Clone, Debug)]
pub struct TlsConfig {
    source: Source,
    cache_dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
enum Source {
    SelfSigned,
    PemFiles { cert: PathBuf, key: PathBuf },
}

impl TlsConfig {
    /// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, generated on first
    /// use and kept in the [cache folder](TlsConfig::cache_dir) so that the exception the
    /// browser asked you to accept survives restarts. It is replaced when it is about to
    /// expire or cannot be read.
    pub fn self_signed() -> Self {
        TlsConfig {
            source: Source::SelfSigned,
            cache_dir: None,
        }
    }

    /// The certificate chain and private key in PEM files, for example made by `mkcert
    /// localhost 127.0.0.1 ::1` (which browsers trust without a warning).
    pub fn pem_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsConfig {
            source: Source::PemFiles {
                cert: cert.into(),
                key: key.into(),
            },
            cache_dir: None,
        }
    }

    /// Where the self-signed certificate is kept. Defaults to `$HOTSERVE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/hotserve`, else `~/.cache/hotserve` (`~/Library/Caches/hotserve` on
    /// macOS, `%LOCALAPPDATA%\hotserve` on Windows).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
}

/// Where the server's certificate came from, for banners and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateSource {
    /// The developer's own PEM files.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A self-signed certificate for localhost.
    SelfSigned {
        /// The folder it is kept in; `None` when no cache folder could be written (the
        /// certificate then lasts for this process only).
        cache: Option<PathBuf>,
        /// Whether it was loaded from the cache rather than generated now.
        reused: bool,
    },
}

/// A loaded certificate, ready to accept connections.
#[derive(Clone)]
pub(crate) struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub source: CertificateSource,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("source", &self.source).finish()
    }
}

/// The first byte of every TLS connection: a handshake record (RFC 8446 §5.1).
pub(crate) const HANDSHAKE_RECORD: u8 = 0x16;

impl Tls {
    /// Read the certificate (or make one) and build the server configuration. ALPN offers
    /// HTTP/2 and HTTP/1.1; WebSockets stay on HTTP/1.1 connections.
    pub fn load(config: &TlsConfig) -> Result<Self, Error> {
        match &config.source {
            Source::PemFiles { cert, key } => {
                let server =
                    server_config(read_certs(cert)?, read_key(key)?).map_err(|err| match err {
                        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                            Error::TlsKeyMismatch {
                                cert: cert.clone(),
                                key: key.clone(),
                            }
                        }
                        err => Error::Tls {
                            source: Box::new(err),
                        },
                    })?;
                let source = CertificateSource::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                };
                Ok(Tls::new(server, source))
            }
            Source::SelfSigned => {
                let dir = config.cache_dir.clone().or_else(default_cache_dir);
                let (certs, key, source) = self_signed(dir.as_deref(), false)?;
                match server_config(certs, key) {
                    Ok(server) => Ok(Tls::new(server, source)),
                    Err(err) => {
                        // A cached pair that does not fit together (two servers wrote the
                        // cache at once, or someone edited it): make a new one.
                        tracing::info!(%err, "the cached certificate is unusable; making a new one");
                        let (certs, key, source) = self_signed(dir.as_deref(), true)?;
                        let server = server_config(certs, key).map_err(|err| Error::Tls {
                            source: Box::new(err),
                        })?;
                        Ok(Tls::new(server, source))
                    }
                }
            }
        }
    }

    fn new(server: rustls::ServerConfig, source: CertificateSource) -> Self {
        Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            source,
        }
    }
}

/// rustls with the ring provider, TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 offered through ALPN.
/// Fails when the key does not belong to the certificate.
fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

/// The answer to a plain-HTTP request on the HTTPS port: a 400 that names the URL to use.
pub(crate) fn https_only<B>(req: &hyper::Request<B>) -> hyper::Response<crate::Body> {
    use crate::http::{escape_html, page};
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = escape_html(&format!("https://{host}{target}"));
    let mut res = page(
        hyper::StatusCode::BAD_REQUEST,
        "This port speaks HTTPS",
        &format!("This port speaks HTTPS; use <a href=\"{url}\">{url}</a>."),
    );
    res.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    res
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::TlsCertificate {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|err| bad(Box::new(err)))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("not a PEM certificate: {err}").into()))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

/// A private key: PKCS#8, PKCS#1 or SEC1.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::TlsKey {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|err| bad(Box::new(err)))?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            Err(bad("no PRIVATE KEY block in the file".into()))
        }
        Err(err) => Err(bad(format!("not a PEM private key: {err}").into())),
    }
}

type Loaded = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    CertificateSource,
);

/// The cached self-signed certificate (unless `fresh`), or a new one, stored in the cache
/// when possible.
fn self_signed(dir: Option<&Path>, fresh: bool) -> Result<Loaded, Error> {
    if !fresh
        && let Some(dir) = dir
        && let Some((certs, key)) = read_cached(dir)
    {
        tracing::debug!(dir = %dir.display(), "reusing the cached self-signed certificate");
        let source = CertificateSource::SelfSigned {
            cache: Some(dir.to_path_buf()),
            reused: true,
        };
        return Ok((certs, key, source));
    }
    let generated = generate().map_err(|err| Error::Tls {
        source: format!("cannot generate a self-signed certificate: {err}").into(),
    })?;
    let stored = dir.and_then(|dir| match store(dir, &generated) {
        Ok(()) => Some(dir.to_path_buf()),
        Err(err) => {
            tracing::warn!(
                "cannot keep the self-signed certificate in {}: {err}; the browser will \
                 ask again after a restart",
                dir.display()
            );
            None
        }
    });
    let cert = CertificateDer::from_pem_slice(generated.cert_pem.as_bytes());
    let key = PrivateKeyDer::from_pem_slice(generated.key_pem.as_bytes());
    match (cert, key) {
        (Ok(cert), Ok(key)) => Ok((
            vec![cert],
            key,
            CertificateSource::SelfSigned {
                cache: stored,
                reused: false,
            },
        )),
        _ => Err(Error::Tls {
            source: "the generated certificate does not parse".into(),
        }),
    }
}

struct Generated {
    cert_pem: String,
    key_pem: String,
    expires: u64,
}

fn generate() -> Result<Generated, rcgen::Error> {
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names)?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, "hotserve localhost");
    name.push(rcgen::DnType::OrganizationName, "hotserve dev server");
    params.distinguished_name = name;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let today = unix_now() / 86_400;
    // A day of slack before now covers clocks that disagree a little.
    let date = |days: u64| {
        let (y, m, d) = civil_from_days(days as i64);
        rcgen::date_time_ymd(y, m, d)
    };
    params.not_before = date(today - 1);
    params.not_after = date(today + SELF_SIGNED_DAYS);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        expires: (today + SELF_SIGNED_DAYS) * 86_400,
    })
}

fn store(dir: &Path, generated: &Generated) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_private(&dir.join(CACHED_KEY), generated.key_pem.as_bytes())?;
    let cert = format!(
        "{EXPIRES_PREFIX}{}\nhotserve self-signed certificate for {}\n{}",
        generated.expires,
        SELF_SIGNED_NAMES.join(", "),
        generated.cert_pem
    );
    write_private(&dir.join(CACHED_CERT), cert.as_bytes())
}

/// Write a file only its owner can read (it may hold a private key), through a temporary
/// file and a rename, so a reader never sees half of it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The cached certificate and key when both read, parse, and the certificate is not about
/// to expire.
fn read_cached(dir: &Path) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let cert_text = std::fs::read_to_string(dir.join(CACHED_CERT)).ok()?;
    let expires: u64 = cert_text
        .lines()
        .next()?
        .strip_prefix(EXPIRES_PREFIX)?
        .trim()
        .parse()
        .ok()?;
    if expires < unix_now() + RENEW_BEFORE.as_secs() {
        tracing::info!("the cached self-signed certificate expires soon; making a new one");
        return None;
    }
    let cert = CertificateDer::from_pem_slice(cert_text.as_bytes()).ok()?;
    let key = PrivateKeyDer::from_pem_file(dir.join(CACHED_KEY)).ok()?;
    Some((vec![cert], key))
}

fn default_cache_dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if cfg!(windows) {
        return env("LOCALAPPDATA").map(|d| PathBuf::from(d).join("hotserve"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|h| PathBuf::from(h).join("Library/Caches/hotserve"));
    }
    if let Some(dir) = env("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("hotserve"));
    }
    env("HOME").map(|h| PathBuf::from(h).join(".cache/hotserve"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian year, month and day of a
/// day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_map_to_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn an_expiring_cached_certificate_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut generated = generate().unwrap();
        store(dir.path(), &generated).unwrap();
        assert!(read_cached(dir.path()).is_some());
        generated.expires = unix_now() + 3600;
        store(dir.path(), &generated).unwrap();
        assert!(read_cached(dir.path()).is_none());
    }

    #[test]
    fn a_cached_key_from_another_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &generate().unwrap()).unwrap();
        let other = generate().unwrap();
        std::fs::write(dir.path().join(CACHED_KEY), other.key_pem).unwrap();
        let tls = Tls::load(&TlsConfig::self_signed().cache_dir(dir.path())).unwrap();
        assert_eq!(
            tls.source,
            CertificateSource::SelfSigned {
                cache: Some(dir.path().to_path_buf()),
                reused: false
            }
        );
        let again = Tls::load(&TlsConfig::self_signed().cache_dir(dir.path())).unwrap();
        assert!(matches!(
            again.source,
            CertificateSource::SelfSigned { reused: true, .. }
        ));
    }

    #[test]
    fn a_damaged_cached_certificate_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &generate().unwrap()).unwrap();
        std::fs::write(dir.path().join(CACHED_KEY), "garbage").unwrap();
        assert!(read_cached(dir.path()).is_none());
    }
}
