//! Typed startup errors. Runtime problems (a bad request, a client that went away) are
//! answered or logged where they happen and never stop the server.
//!
//! Each error keeps its cause as [`source`](std::error::Error::source) (and names it in its
//! message). The messages speak of the library's settings; the command line adds its own
//! hints (`--port`, `--strict-port`) in `main.rs`.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// An underlying cause, kept as the error's source.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folder to serve does not exist.
    #[error("the folder to serve does not exist: {0}")]
    RootMissing(PathBuf),
    /// The path to serve exists but is a file or something else.
    #[error("the path to serve is not a folder: {0}")]
    RootNotDir(PathBuf),
    /// The folder to serve cannot be read.
    #[error("cannot read the folder to serve {path}: {source}")]
    RootUnreadable {
        /// The folder.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The mode (`Config::mode`, `--mode`) cannot name `.env` files.
    #[error("{0}")]
    BadMode(String),
    /// `host` did not resolve to an address.
    #[error("cannot resolve host {host:?}: {source}")]
    BadHost {
        /// The host as given.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// The port is taken and `strict_port` forbids trying the next ones.
    #[error("port {port} is already in use")]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// Every port tried was taken.
    #[error("ports {first} to {last} are all in use")]
    NoFreePort {
        /// The first port tried.
        first: u16,
        /// The last port tried.
        last: u16,
    },
    /// Binding was refused by the operating system.
    #[error("permission denied binding {addr}: {source}")]
    BindDenied {
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// Any other failure to bind or configure the listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file watcher could not start.
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    /// A pattern given in the configuration is not a valid glob.
    #[error("invalid pattern {pattern:?}: {source}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        source: Cause,
    },
    /// The HTTPS certificate file is missing, unreadable, or holds no PEM certificate.
    #[error("cannot use the certificate {path}: {source}")]
    TlsCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with it.
        source: Cause,
    },
    /// The HTTPS private key file is missing, unreadable, or holds no PEM private key.
    #[error("cannot use the private key {path}: {source}")]
    TlsKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        source: Cause,
    },
    /// The private key does not belong to the certificate.
    #[error(
        "the private key {key} does not match the certificate {cert} (pass the key made together with that certificate)"
    )]
    TlsKeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Any other failure to set up HTTPS.
    #[error("cannot set up HTTPS: {source}")]
    Tls {
        /// What went wrong.
        source: Cause,
    },
    /// A proxy target is not an `http://` or `https://` URL, or a proxy prefix is malformed.
    /// (These are hotserve's own checks: there is no underlying cause to keep.)
    #[error("invalid proxy {target:?}: {reason}")]
    BadProxy {
        /// The proxy as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
}
