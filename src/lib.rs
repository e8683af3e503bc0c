//! hotserve: a dev server that gives any frontend folder Vite-compatible hot module reload.
#![warn(missing_docs)]

pub mod graph;
pub mod protocol;
