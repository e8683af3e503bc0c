//! The HMR wire format, as Vite's browser client reads and writes it.
//!
//! Field names, tags and optional fields follow `vite/types/hmrPayload.d.ts` exactly, so that
//! hotserve's client, Vite's own client and tools written for either can talk to hotserve.
//! The checked-in fixtures in `tests/fixtures/payloads` freeze the shapes (`tests/protocol.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A message from the server to every connected browser. Vite adds payload types over
/// time, so matches need a `_` arm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Payload {
    /// Sent first on every new connection.
    Connected,
    /// Keepalive; clients ignore it.
    Ping,
    /// Hot updates, applied by the client in order.
    Update {
        /// The modules and stylesheets to swap.
        updates: Vec<Update>,
    },
    /// Reload the page. With an `.html` path only pages showing that file reload;
    /// `"*"` or no path reloads every page.
    FullReload {
        /// The page to reload, `"*"` for all.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The file whose change caused the reload (informational).
        #[serde(
            default,
            rename = "triggeredBy",
            skip_serializing_if = "Option::is_none"
        )]
        triggered_by: Option<String>,
    },
    /// Modules that are no longer imported: clients run their dispose and prune handlers.
    Prune {
        /// URL paths of the pruned modules.
        paths: Vec<String>,
    },
    /// Show the error overlay.
    Error {
        /// What went wrong and where.
        err: ErrorInfo,
    },
    /// An application event for `import.meta.hot.on(event, ...)`.
    Custom {
        /// The event name.
        event: String,
        /// Any JSON value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
    },
}

impl Payload {
    /// A `full-reload` of every page.
    pub fn full_reload_all() -> Self {
        Payload::FullReload {
            path: Some("*".into()),
            triggered_by: None,
        }
    }

    /// The value of the payload's `type` field, for logs and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Connected => "connected",
            Payload::Ping => "ping",
            Payload::Update { .. } => "update",
            Payload::FullReload { .. } => "full-reload",
            Payload::Prune { .. } => "prune",
            Payload::Error { .. } => "error",
            Payload::Custom { .. } => "custom",
        }
    }
}

/// Whether an [`Update`] swaps a JavaScript module or a stylesheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateKind {
    /// Re-import `accepted_path` and run the accept callbacks of `path`.
    JsUpdate,
    /// Swap the `<link>` elements whose href contains `path`.
    CssUpdate,
}

/// One hot update inside [`Payload::Update`]. Make one with [`Update::css`] or
/// [`Update::js`]: Vite adds fields over time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Update {
    /// JS or CSS.
    #[serde(rename = "type")]
    pub kind: UpdateKind,
    /// The boundary module that owns the accept callback (URL path, no query).
    pub path: String,
    /// The module the client re-imports; equal to `path` for self-accepting modules.
    pub accepted_path: String,
    /// Epoch milliseconds, strictly increasing across the process (see [`next_timestamp`]).
    pub timestamp: u64,
    /// Vite sends this flag on every update; the client adds `import&` to the URL when set.
    #[serde(default)]
    pub explicit_import_required: bool,
    /// Vite sends this flag on every update; set when the boundary sits inside an import cycle.
    #[serde(default)]
    pub is_within_circular_import: bool,
    /// Set when the update came from `hot.invalidate()`; prevents invalidation loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_invalidated_by: Option<String>,
}

impl Update {
    /// A `css-update` for the stylesheet served at `path`.
    pub fn css(path: impl Into<String>, timestamp: u64) -> Self {
        let path = path.into();
        Update {
            kind: UpdateKind::CssUpdate,
            accepted_path: path.clone(),
            path,
            timestamp,
            explicit_import_required: false,
            is_within_circular_import: false,
            first_invalidated_by: None,
        }
    }

    /// A `js-update`: `path` is the boundary, `accepted_path` the module it re-imports.
    pub fn js(path: impl Into<String>, accepted_path: impl Into<String>, timestamp: u64) -> Self {
        Update {
            kind: UpdateKind::JsUpdate,
            path: path.into(),
            accepted_path: accepted_path.into(),
            timestamp,
            explicit_import_required: false,
            is_within_circular_import: false,
            first_invalidated_by: None,
        }
    }
}

/// The `err` object of an `error` payload, shown by the client's overlay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The headline.
    pub message: String,
    /// A stack trace; may be empty.
    #[serde(default)]
    pub stack: String,
    /// The module the error belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A code frame, shown verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
    /// The tool or plugin that reported the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// Where in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<ErrorLocation>,
}

/// A position inside a file, for [`ErrorInfo::loc`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLocation {
    /// The file, when it differs from [`ErrorInfo::id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A message from a browser client to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMessage {
    /// Heartbeat; ignored.
    Ping,
    /// `import.meta.hot.send(event, data)`, or `vite:invalidate` from `hot.invalidate()`.
    Custom {
        /// The event name.
        event: String,
        /// Any JSON value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
    },
}

/// The `data` of a `vite:invalidate` custom message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidateMessage {
    /// The module that called `hot.invalidate()`.
    pub path: String,
    /// Why, as given to `hot.invalidate(message)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The module where this chain of invalidations started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_invalidated_by: Option<String>,
}

/// The event name of the payload that says why the `full-reload` after it reloads: a
/// `custom` payload (Vite's client passes it to `import.meta.hot.on` listeners and
/// otherwise ignores it; hotserve's client logs it in the console).
pub(crate) const RELOAD_EVENT: &str = "hotserve:reload";

/// The event name `hot.invalidate()` sends.
pub const INVALIDATE_EVENT: &str = "vite:invalidate";

/// Epoch milliseconds for a new update, strictly greater than any earlier value in this process.
///
/// The client appends `?t=<timestamp>` to re-imported URLs; two updates in the same
/// millisecond with equal timestamps would let the browser reuse a stale module instance.
pub fn next_timestamp() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase_within_one_millisecond() {
        let stamps: Vec<u64> = (0..10_000).map(|_| next_timestamp()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn optional_fields_are_omitted_when_absent() {
        let json = serde_json::to_string(&Payload::FullReload {
            path: None,
            triggered_by: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"type":"full-reload"}"#);
        let json = serde_json::to_string(&Payload::Custom {
            event: "x".into(),
            data: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"type":"custom","event":"x"}"#);
    }
}
