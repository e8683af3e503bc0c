#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod client;
mod config;
mod css;
mod error;
mod events;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod hmr;
mod http;
// Public only for `tests/lexer_corpus.rs` (the scanner checked against es-module-lexer);
// not part of the stable API.
#[doc(hidden)]
pub mod modules;
mod packages;
mod plan;
pub mod protocol;
mod server;
mod service;
mod sync;
#[cfg(feature = "tls")]
mod tls;
pub mod watch;

pub use config::{Config, DEFAULT_PORT};
pub use error::Error;
pub use events::{ClientId, Event, Events, FileChange, InPlaceKind, InPlaceReason, InPlaceUpdate};
pub use hmr::Hub;
pub use http::Body;
pub use http::connection::Connection;
pub use http::fragment::ConnectionIo;
pub use modules::transform::{Output, OutputKind, Transform, TransformError};
pub use server::Server;
pub use service::HotService;
#[cfg(feature = "tls")]
pub use tls::{CACHE_DIR_ENV, CertificateSource, TlsConfig};
