//! What happened, for library users, watch-mode tests and `hotserve --json`.
//!
//! Every stage reports into one broadcast stream: files seen changing, payloads sent,
//! clients coming and going, and what clients sent. The JSON form (`serde`) is the stable
//! wire format of `--json` (one object per line, tagged by `event`).

use crate::protocol::{InvalidateMessage, Payload};
use crate::watch::ChangeKind;
use serde::Serialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::broadcast;

/// Identifies one connected browser tab (or tool) for the lifetime of the process.
pub type ClientId = u64;

/// Something that happened in a running server.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// The watcher (or [`HotService::notify_changed`](crate::HotService::notify_changed))
    /// reported changed files.
    FilesChanged {
        /// The files, deduplicated.
        changes: Vec<FileChange>,
    },
    /// A payload went out to `clients` clients (0 when none were connected).
    PayloadSent {
        /// How many clients it was queued for.
        clients: usize,
        /// The payload, exactly as sent.
        payload: Payload,
    },
    /// Stylesheets or images were swapped in the page without a reload, in the clients that
    /// announced in-place updates (hotserve's own); the others were told to reload.
    UpdatedInPlace {
        /// What was swapped, and why.
        updates: Vec<InPlaceUpdate>,
        /// How many clients swapped in place.
        clients: usize,
        /// How many clients without in-place support got a full reload instead.
        reloaded: usize,
    },
    /// A client completed the `vite-hmr` handshake.
    ClientConnected {
        /// The client.
        id: ClientId,
        /// Its address.
        peer: SocketAddr,
    },
    /// A client went away or was dropped.
    ClientDisconnected {
        /// The client.
        id: ClientId,
        /// Why, in words (`closed by client`, `queue overflow`, `no answer to pings` ...).
        reason: String,
    },
    /// A client sent `import.meta.hot.send(name, data)`.
    ClientCustom {
        /// The client.
        id: ClientId,
        /// The event name.
        name: String,
        /// The data, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
    },
    /// Dependencies were pre-bundled for the `/@deps/` route (the installed packages the
    /// application imports by bare name), by rolldown or read back from the cache on disk.
    DepsBundled {
        /// The bundled imports, by chunk name (`react`, `react-dom_client`).
        entries: Vec<String>,
        /// Read back from `node_modules/.hotserve/deps/` without running rolldown.
        reused: bool,
        /// How long it took, in milliseconds.
        millis: u64,
        /// Entries that could not be bundled (each also reaches the overlay when loaded).
        failed: Vec<String>,
    },
    /// A module called `import.meta.hot.invalidate()`.
    Invalidate {
        /// The client.
        id: ClientId,
        /// What it sent.
        #[serde(flatten)]
        message: InvalidateMessage,
    },
}

/// One changed file in [`Event::FilesChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// The file's path on disk.
    pub path: PathBuf,
    /// Its URL path from the server root (`/css/site.css`).
    pub url: String,
    /// Created, modified or removed.
    pub kind: ChangeKind,
}

impl Event {
    /// Whether this is a payload that names `url` (a hot update of it, a reload of that
    /// page, a prune of it) or reloads every page, or an in-place swap of it. Handy in
    /// watch-mode tests.
    pub fn mentions(&self, url: &str) -> bool {
        if let Event::UpdatedInPlace { updates, .. } = self {
            return updates.iter().any(|u| u.url == url);
        }
        let Event::PayloadSent { payload, .. } = self else {
            return false;
        };
        match payload {
            Payload::Update { updates } => updates
                .iter()
                .any(|u| u.path == url || u.accepted_path == url),
            Payload::FullReload { path, .. } => {
                path.as_deref().is_none_or(|p| p == "*" || p == url)
            }
            Payload::Prune { paths } => paths.iter().any(|p| p == url),
            _ => false,
        }
    }
}

/// One stylesheet or image swapped in place, in [`Event::UpdatedInPlace`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InPlaceUpdate {
    /// The URL path swapped: a stylesheet (`/css/site.css`) or an image the page shows.
    pub url: String,
    /// What it is.
    pub kind: InPlaceKind,
    /// The file whose change (or removal) made it stale.
    pub changed: String,
    /// Why it is swapped.
    pub reason: InPlaceReason,
}

/// What an [`InPlaceUpdate`] swaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InPlaceKind {
    /// A stylesheet: its `<link>` gets a fresh copy (and that copy fresh copies of the
    /// sheets it imports).
    Stylesheet,
    /// An image or other file the page's elements show (`<img>`, `srcset`, `poster`, icons,
    /// inline `style` URLs).
    Asset,
}

/// Why an [`InPlaceUpdate`] happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", content = "via", rename_all = "kebab-case")]
pub enum InPlaceReason {
    /// The file itself changed.
    Changed,
    /// The stylesheet `@import`s this stale sheet (the changed one, or one between).
    Imports(String),
    /// The stylesheet references this changed file with `url()` (an image, a font).
    References(String),
}

impl std::fmt::Display for InPlaceUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            InPlaceReason::Changed => write!(f, "{} (changed)", self.url),
            InPlaceReason::Imports(via) => write!(f, "{} (@import {via})", self.url),
            InPlaceReason::References(via) => write!(f, "{} (url({via}))", self.url),
        }
    }
}

/// A subscription to a server's [`Event`]s, from the moment it was made.
#[derive(Debug)]
pub struct Events {
    receiver: broadcast::Receiver<Event>,
}

impl Events {
    pub(crate) fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Events { receiver }
    }

    /// The next event; `None` once the server is gone. A subscriber that falls more than
    /// 1,024 events behind skips the oldest ones (a warning is logged).
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("event subscriber fell behind; skipped {missed} events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event for which `predicate` holds, or `None` after `timeout`.
    ///
    /// ```no_run
    /// # async fn demo(server: &hotserve::Server) {
    /// use std::time::Duration;
    /// let mut events = server.service().events();
    /// std::fs::write("site/style.css", "body { color: teal }").unwrap();
    /// let update = events
    ///     .wait_for(|e| e.mentions("/style.css"), Duration::from_secs(5))
    ///     .await
    ///     .expect("an update for /style.css");
    /// # }
    /// ```
    pub async fn wait_for(
        &mut self,
        mut predicate: impl FnMut(&Event) -> bool,
        timeout: Duration,
    ) -> Option<Event> {
        let wait = async {
            while let Some(event) = self.next().await {
                if predicate(&event) {
                    return Some(event);
                }
            }
            None
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}
