//! The fan-out of payloads to connected browsers.
//!
//! Each payload is serialized once and the same bytes are queued to every client. Queues are
//! bounded: a client that stops reading (a stalled tab, a dead network) never delays the
//! others and never grows memory without bound; when its queue overflows it is told to
//! reload (when its socket still takes writes) and closed with 1008, and a warning names it.

use crate::events::{ClientId, Event, Events};
use crate::protocol::{
    ClientMessage, ErrorInfo, INVALIDATE_EVENT, InvalidateMessage, Payload, Update,
};
use crate::sync::lock;
use serde_json::Value;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How many payloads may wait for one client before it counts as stalled. Browsers read
/// within microseconds; only a client that stopped reading gets near this.
pub(crate) const CLIENT_QUEUE: usize = 256;

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
}

#[derive(Debug)]
struct ClientSlot {
    queue: QueueTx,
    peer: SocketAddr,
}

/// What a connection task needs to serve one client.
pub(crate) struct Registration {
    pub id: ClientId,
    /// Payloads to send, and the hub's request to stop ([`Next::Stop`]).
    pub queue: QueueRx,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with no clients.
    pub fn new() -> Self {
        Self::with_keepalive(DEFAULT_KEEPALIVE)
    }

    /// A hub whose connections ping every `keepalive`.
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
            }),
        }
    }

    /// Send a payload to every connected client.
    pub fn send(&self, payload: Payload) {
        let text = match serde_json::to_string(&payload) {
            Ok(text) => Utf8Bytes::from(text),
            Err(err) => {
                tracing::warn!(%err, "cannot serialize payload");
                return;
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
            for (&id, slot) in clients.iter() {
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
                }
            }
            clients.len()
        };
        self.emit(Event::PayloadSent {
            payload,
            clients: delivered,
        });
    }

    /// Reload every page (`{"type":"full-reload","path":"*"}`).
    pub fn full_reload(&self) {
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
    pub(crate) fn keepalive(&self) -> std::time::Duration {
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

    /// Register a new client. Its queue already holds `connected` and any pending payload,
    /// so they go out first, before any later broadcast.
    pub(crate) fn register(&self, peer: SocketAddr) -> Option<Registration> {
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
            clients.insert(id, ClientSlot { queue: tx, peer });
        }
        self.emit(Event::ClientConnected { id, peer });
        Some(Registration { id, queue: rx })
    }

    /// Forget a client whose connection ended.
    pub(crate) fn unregister(&self, id: ClientId, reason: &str) {
        lock(&self.inner.clients).remove(&id);
        self.emit(Event::ClientDisconnected {
            id,
            reason: reason.to_owned(),
        });
    }

    /// Handle a text message from a client. Anything unknown is ignored with a debug log;
    /// nothing a client sends can read files or fetch modules (CVE-2026-39363).
    pub(crate) fn receive(&self, id: ClientId, text: &str) {
        match serde_json::from_str::<ClientMessage>(text) {
            Ok(ClientMessage::Ping) => {}
            Ok(ClientMessage::Custom { event, data }) if event == INVALIDATE_EVENT => {
                match data.map(serde_json::from_value::<InvalidateMessage>) {
                    Some(Ok(message)) => {
                        if self.inner.invalidations.try_send(message.clone()).is_err() {
                            tracing::warn!("too many hot.invalidate() calls at once; reloading");
                            self.full_reload();
                        }
                        self.emit(Event::Invalidate { id, message });
                    }
                    _ => tracing::debug!(id, "ignoring malformed vite:invalidate"),
                }
            }
            Ok(ClientMessage::Custom { event, data }) => {
                self.emit(Event::ClientCustom {
                    id,
                    name: event,
                    data,
                });
            }
            Err(err) => tracing::debug!(id, %err, "ignoring unknown client message"),
        }
    }

    /// Close every client with 1001 (going away) and refuse new ones. Returns when all
    /// connection tasks have finished or `deadline` has passed.
    pub(crate) async fn close_all(&self, deadline: std::time::Duration) {
        self.inner.shutting_down.store(true, Ordering::Release);
        for slot in lock(&self.inner.clients).values() {
            slot.queue.stop(Stop::Shutdown);
        }
        let wait = async {
            while self.client_count() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
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

/// Why a payload was not queued.
#[derive(Debug)]
enum QueueError {
    /// `CLIENT_QUEUE` payloads are waiting: the client stopped reading.
    Full,
    /// The connection task is gone.
    Closed,
}

/// Why the hub asks a connection to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The client stopped reading: tell it to reload if it still can, then close with 1008.
    Overflow = 1,
    /// The server is shutting down: close with 1001.
    Shutdown = 2,
}

/// What the connection task gets from its queue.
#[derive(Debug)]
pub(crate) enum Next {
    Payload(Utf8Bytes),
    /// Comes before any payload still queued.
    Stop(Stop),
    /// The hub forgot the client and the queue is drained.
    Closed,
}

/// A client's outgoing queue: bounded like an mpsc channel, but it allocates nothing beyond
/// its `VecDeque` while idle (tokio's bounded mpsc allocates a 32-slot block up front, about
/// 1.5 KiB per client with its channel state). It also carries the hub's request to stop,
/// so the connection task waits on one waker instead of a queue and a cancellation token
/// (whose every check takes a lock: measurable when a broadcast wakes a thousand tasks).
#[derive(Debug)]
struct Queue {
    items: Mutex<VecDeque<Utf8Bytes>>,
    waker: futures_util::task::AtomicWaker,
    /// 0, or a [`Stop`] as its discriminant.
    stop: AtomicU8,
    sender_gone: AtomicBool,
    receiver_gone: AtomicBool,
}

impl Queue {
    fn stopped(&self) -> Option<Stop> {
        match self.stop.load(Ordering::Acquire) {
            0 => None,
            1 => Some(Stop::Overflow),
            _ => Some(Stop::Shutdown),
        }
    }
}

fn queue() -> (QueueTx, QueueRx) {
    let shared = Arc::new(Queue {
        items: Mutex::new(VecDeque::new()),
        waker: futures_util::task::AtomicWaker::new(),
        stop: AtomicU8::new(0),
        sender_gone: AtomicBool::new(false),
        receiver_gone: AtomicBool::new(false),
    });
    (QueueTx(shared.clone()), QueueRx(shared))
}

#[derive(Debug)]
struct QueueTx(Arc<Queue>);

impl QueueTx {
    fn try_send(&self, item: Utf8Bytes) -> Result<(), QueueError> {
        if self.0.receiver_gone.load(Ordering::Acquire) {
            return Err(QueueError::Closed);
        }
        {
            let mut items = lock(&self.0.items);
            if items.len() >= CLIENT_QUEUE {
                return Err(QueueError::Full);
            }
            items.push_back(item);
        }
        self.0.waker.wake();
        Ok(())
    }

    /// Asks the connection to end; the first reason given sticks.
    fn stop(&self, reason: Stop) {
        let _ = self
            .0
            .stop
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.0.waker.wake();
    }
}

impl Drop for QueueTx {
    fn drop(&mut self) {
        self.0.sender_gone.store(true, Ordering::Release);
        self.0.waker.wake();
    }
}

/// The connection task's end of a client queue.
#[derive(Debug)]
pub(crate) struct QueueRx(Arc<Queue>);

impl QueueRx {
    /// The next thing to do: a stop request first, then queued payloads in order.
    pub(crate) fn next(&mut self) -> impl Future<Output = Next> + '_ {
        std::future::poll_fn(|cx| {
            let poll = || {
                if let Some(reason) = self.0.stopped() {
                    return Some(Next::Stop(reason));
                }
                let mut items = lock(&self.0.items);
                let item = items.pop_front();
                if items.is_empty() && items.capacity() > 4 {
                    items.shrink_to_fit();
                }
                item.map(Next::Payload)
            };
            if let Some(next) = poll() {
                return Poll::Ready(next);
            }
            self.0.waker.register(cx.waker());
            if let Some(next) = poll() {
                return Poll::Ready(next);
            }
            if self.0.sender_gone.load(Ordering::Acquire) {
                return Poll::Ready(Next::Closed);
            }
            Poll::Pending
        })
    }

    /// Resolves when the hub asks the connection to end, to abandon a stalled write.
    pub(crate) fn stopped(&self) -> impl Future<Output = Stop> + '_ {
        std::future::poll_fn(|cx| {
            if let Some(reason) = self.0.stopped() {
                return Poll::Ready(reason);
            }
            self.0.waker.register(cx.waker());
            match self.0.stopped() {
                Some(reason) => Poll::Ready(reason),
                None => Poll::Pending,
            }
        })
    }
}

impl Drop for QueueRx {
    fn drop(&mut self) {
        self.0.receiver_gone.store(true, Ordering::Release);
    }
}
