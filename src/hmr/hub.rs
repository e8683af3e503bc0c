//! The fan-out of payloads to connected browsers, and the registry of who is connected.
//!
//! Each payload is serialized once and the same bytes are queued to every client. Queues are
//! bounded: a client that stops reading (a stalled tab, a dead network) never delays the
//! others and never grows memory without bound; when its queue overflows the hub asks its
//! session to end ([`Stop::Overflow`]) and a warning names it.

use super::queue::{CLIENT_QUEUE, QueueError, QueueRx, QueueTx, Stop, queue};
use crate::events::{ClientId, Event, Events};
use crate::protocol::{ErrorInfo, InvalidateMessage, Payload, Update};
use crate::sync::lock;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How often a silent connection is pinged (Vite's client pings every 30 s too).
pub(crate) const DEFAULT_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(30);

/// Pending `hot.invalidate()` messages; more at once means something loops.
const INVALIDATION_QUEUE: usize = 256;

/// Capacity of the event stream for library users; slower subscribers see `Lagged`.
const EVENT_CAPACITY: usize = 1024;

/// A cloneable handle to the HMR channel: send payloads to every connected browser.
///
/// Sending with no client connected is not an error. An `error` or `full-reload` produced
/// while nobody is connected is kept and delivered right after `connected` to the next client.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clients: Mutex<HashMap<ClientId, ClientSlot>>,
    next_id: AtomicU64,
    /// The last `error`/`full-reload` sent while no client was connected.
    pending: Mutex<Option<Utf8Bytes>>,
    events: broadcast::Sender<Event>,
    shutting_down: AtomicBool,
    /// `hot.invalidate()` messages for the planner; a dedicated queue rather than the event
    /// stream, so a burst of events can never make one get lost.
    invalidations: mpsc::Sender<InvalidateMessage>,
    invalidations_rx: Mutex<Option<mpsc::Receiver<InvalidateMessage>>>,
    keepalive: std::time::Duration,
    /// Woken when the last client leaves, for [`Hub::close_all`].
    emptied: Notify,
}

#[derive(Debug)]
struct ClientSlot {
    queue: QueueTx,
    peer: SocketAddr,
    /// The client announced that it applies in-place updates (stylesheets pulled in by
    /// `@import`, images) when it connected; Vite's own client does not.
    in_place: bool,
}

/// Which clients a payload goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Every client.
    All,
    /// Clients that announced in-place updates.
    InPlace,
    /// Clients that did not.
    Plain,
}

impl Audience {
    fn includes(self, slot: &ClientSlot) -> bool {
        match self {
            Audience::All => true,
            Audience::InPlace => slot.in_place,
            Audience::Plain => !slot.in_place,
        }
    }
}

/// What a session needs to serve one client.
pub(super) struct Registration {
    pub id: ClientId,
    /// Payloads to send, and the hub's request to stop.
    pub queue: QueueRx,
}

impl Hub {
    /// A hub whose connections ping every `keepalive`. Only the composition root makes
    /// one: a hub gets clients through the server's HMR route.
    pub(crate) fn with_keepalive(keepalive: std::time::Duration) -> Self {
        let (invalidations, invalidations_rx) = mpsc::channel(INVALIDATION_QUEUE);
        Hub {
            inner: Arc::new(Inner {
                clients: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                pending: Mutex::new(None),
                events: broadcast::channel(EVENT_CAPACITY).0,
                shutting_down: AtomicBool::new(false),
                invalidations,
                invalidations_rx: Mutex::new(Some(invalidations_rx)),
                keepalive,
                emptied: Notify::new(),
            }),
        }
    }

    /// Send a payload to every connected client.
    pub fn send(&self, payload: Payload) {
        self.send_to(payload, Audience::All);
    }

    /// Send a payload to the clients in `audience`; returns how many it was queued for.
    pub(crate) fn send_to(&self, payload: Payload, audience: Audience) -> usize {
        let text = match serde_json::to_string(&payload) {
            Ok(text) => Utf8Bytes::from(text),
            Err(err) => {
                tracing::warn!(%err, "cannot serialize payload");
                return 0;
            }
        };
        let delivered = {
            let mut clients = lock(&self.inner.clients);
            if clients.is_empty()
                && matches!(payload, Payload::Error { .. } | Payload::FullReload { .. })
            {
                *lock(&self.inner.pending) = Some(text.clone());
            }
            let mut stalled = Vec::new();
            let mut delivered = 0;
            for (&id, slot) in clients.iter().filter(|(_, slot)| audience.includes(slot)) {
                delivered += 1;
                match slot.queue.try_send(text.clone()) {
                    Ok(()) => {}
                    Err(QueueError::Full) => stalled.push(id),
                    // The task is ending; it removes itself.
                    Err(QueueError::Closed) => {}
                }
            }
            for id in stalled {
                if let Some(slot) = clients.remove(&id) {
                    tracing::warn!(
                        "HMR client {id} ({}) stopped reading: {CLIENT_QUEUE} messages queued; \
                         asking it to reload and closing it",
                        slot.peer
                    );
                    slot.queue.stop(Stop::Overflow);
                    delivered -= 1;
                }
            }
            delivered
        };
        self.emit(Event::PayloadSent {
            payload,
            clients: delivered,
        });
        delivered
    }

    /// Reload every page (`{"type":"full-reload","path":"*"}`). Prefer
    /// [`full_reload_because`](Self::full_reload_because): users ask why a page reloaded.
    pub fn full_reload(&self) {
        self.send(Payload::full_reload_all());
    }

    /// Reload every page and say why, as hotserve's own reloads do: a `custom`
    /// `hotserve:reload` payload with `{"reason": "embedder", "message": why}` first (hotserve's
    /// client prints it in the console; Vite's passes it to `import.meta.hot.on` listeners),
    /// then the `full-reload`. `why` is one sentence for a person ("the site was rebuilt").
    pub fn full_reload_because(&self, why: impl Into<String>) {
        self.send(Payload::Custom {
            event: crate::protocol::RELOAD_EVENT.into(),
            data: Some(serde_json::json!({ "reason": "embedder", "message": why.into() })),
        });
        self.send(Payload::full_reload_all());
    }

    /// Reload only the pages showing `page` (an `.html` URL path such as `/index.html`).
    pub fn reload_page(&self, page: impl Into<String>) {
        self.send(Payload::FullReload {
            path: Some(page.into()),
            triggered_by: None,
        });
    }

    /// Send hot updates (`css-update` / `js-update` entries) in one message.
    pub fn update(&self, updates: Vec<Update>) {
        if !updates.is_empty() {
            self.send(Payload::Update { updates });
        }
    }

    /// Show the error overlay in every browser (for example, a failed build).
    pub fn error(&self, err: ErrorInfo) {
        self.send(Payload::Error { err });
    }

    /// Send an application event for `import.meta.hot.on(event, ...)`.
    ///
    /// Names starting with `vite:ws:` are client-local in Vite and are refused (logged).
    pub fn custom(&self, event: impl Into<String>, data: Option<Value>) {
        let event = event.into();
        if event.starts_with("vite:ws:") {
            tracing::warn!(event, "refusing to send a client-local event name");
            return;
        }
        self.send(Payload::Custom { event, data });
    }

    /// How many clients are connected now.
    pub fn client_count(&self) -> usize {
        lock(&self.inner.clients).len()
    }

    /// Subscribe to the server's events (connections, client messages, payloads sent,
    /// file changes). Events from before the call are not replayed.
    pub fn events(&self) -> Events {
        Events::new(self.inner.events.subscribe())
    }

    /// How often connections ping their client.
    pub(super) fn keepalive(&self) -> std::time::Duration {
        self.inner.keepalive
    }

    /// The queue of `hot.invalidate()` messages; handed out once, to the planner stage.
    pub(crate) fn take_invalidations(&self) -> Option<mpsc::Receiver<InvalidateMessage>> {
        lock(&self.inner.invalidations_rx).take()
    }

    pub(crate) fn emit(&self, event: Event) {
        // No subscribers is fine.
        let _ = self.inner.events.send(event);
    }

    /// Register a new client (`in_place`: it announced in-place updates). Its queue already
    /// holds `connected` and any pending payload, so they go out first, before any later
    /// broadcast.
    pub(super) fn register(&self, peer: SocketAddr, in_place: bool) -> Option<Registration> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return None;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = queue();
        {
            let mut clients = lock(&self.inner.clients);
            // Checked again under the lock `close_all` takes to stop every client.
            if self.inner.shutting_down.load(Ordering::Acquire) {
                return None;
            }
            let _ = tx.try_send(Utf8Bytes::from_static(r#"{"type":"connected"}"#));
            if let Some(pending) = lock(&self.inner.pending).take() {
                let _ = tx.try_send(pending);
            }
            clients.insert(
                id,
                ClientSlot {
                    queue: tx,
                    peer,
                    in_place,
                },
            );
        }
        self.emit(Event::ClientConnected { id, peer });
        Some(Registration { id, queue: rx })
    }

    /// Forget a client whose connection ended.
    pub(super) fn unregister(&self, id: ClientId, reason: &str) {
        let now_empty = {
            let mut clients = lock(&self.inner.clients);
            clients.remove(&id);
            clients.is_empty()
        };
        if now_empty {
            self.inner.emptied.notify_waiters();
        }
        self.emit(Event::ClientDisconnected {
            id,
            reason: reason.to_owned(),
        });
    }

    /// A client's `hot.invalidate()`, for the planner. A full queue means something loops:
    /// every page reloads instead.
    pub(super) fn invalidate(&self, id: ClientId, message: InvalidateMessage) {
        if self.inner.invalidations.try_send(message.clone()).is_err() {
            tracing::warn!("too many hot.invalidate() calls at once; reloading");
            self.full_reload();
        }
        self.emit(Event::Invalidate { id, message });
    }

    /// Close every client with 1001 (going away) and refuse new ones. Returns when all
    /// connection tasks have finished or `deadline` has passed.
    pub(crate) async fn close_all(&self, deadline: std::time::Duration) {
        self.inner.shutting_down.store(true, Ordering::Release);
        for slot in lock(&self.inner.clients).values() {
            slot.queue.stop(Stop::Shutdown);
        }
        let wait = async {
            loop {
                // Registered before the check, so a session that ends in between still
                // wakes this wait.
                let emptied = self.inner.emptied.notified();
                if self.client_count() == 0 {
                    break;
                }
                emptied.await;
            }
        };
        if tokio::time::timeout(deadline, wait).await.is_err() {
            tracing::warn!(
                "{} HMR clients still open after {deadline:?}",
                self.client_count()
            );
        }
    }
}
