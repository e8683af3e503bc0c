//! The HMR channel: everything between a payload and a browser tab.
//!
//! - [`hub`]: the registry of connected clients; serializes each payload once and fans it
//!   out; keeps an `error`/`full-reload` for the next client when nobody is connected;
//!   publishes [`Event`](crate::Event)s and queues `hot.invalidate()` for the planner.
//! - [`queue`]: one client's bounded outgoing queue, which also carries the hub's request
//!   to stop.
//! - [`session`]: one socket: keepalive pings, overflow (one last reload, then 1008), 1001
//!   at shutdown, and parsing what clients send.
//!
//! `http::ws` does the WebSocket handshake and hands the upgraded connection to
//! [`session::accept`]; nothing else in the crate touches a socket's frames. This room
//! knows no files, routes or module graphs: the composition root tells the hub what to send.

pub(crate) mod hub;
pub(crate) mod queue;
pub(crate) mod session;

pub(crate) use hub::DEFAULT_KEEPALIVE;
pub use hub::Hub;

#[cfg(test)]
mod tests;
