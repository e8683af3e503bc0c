//! hotserve: a dev server that gives any frontend folder Vite-compatible hot module reload.
//!
//! Three ways to use it: the `hotserve` command next to a frontend project, this library
//! embedded in a Rust build tool, and watch-mode tests that follow its events.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hotserve::Error> {
//! let server = hotserve::Server::bind(hotserve::Config::new("site")).await?;
//! println!("http://{}", server.local_addr());
//! server.run(std::future::pending()).await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod config;
mod error;
mod events;
pub mod graph;
mod http;
mod hub;
mod plan;
pub mod protocol;
mod server;
mod service;
#[cfg(feature = "tls")]
mod tls;
pub mod watch;

pub use config::{Config, DEFAULT_PORT};
pub use error::Error;
pub use events::{ClientId, Event, Events, FileChange};
pub use http::Body;
pub use hub::Hub;
pub use server::Server;
pub use service::HotService;
#[cfg(feature = "tls")]
pub use tls::{CACHE_DIR_ENV, CertificateSource, TlsConfig};
