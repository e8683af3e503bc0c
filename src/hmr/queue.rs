//! One client's outgoing queue: bounded, shared bytes, and the hub's request to stop.

use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::Poll;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How many payloads may wait for one client before it counts as stalled. Browsers read
/// within microseconds; only a client that stopped reading gets near this.
pub(crate) const CLIENT_QUEUE: usize = 256;

/// Why a payload was not queued.
#[derive(Debug)]
pub(super) enum QueueError {
    /// `CLIENT_QUEUE` payloads are waiting: the client stopped reading.
    Full,
    /// The connection task is gone.
    Closed,
}

/// Why the hub asks a connection to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The client stopped reading: tell it to reload if it still can, then close with 1008.
    Overflow = 1,
    /// The server is shutting down: close with 1001.
    Shutdown = 2,
}

/// What the connection task gets from its queue.
#[derive(Debug)]
pub(super) enum Next {
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

/// A new, empty client queue.
pub(super) fn queue() -> (QueueTx, QueueRx) {
    let shared = Arc::new(Queue {
        items: Mutex::new(VecDeque::new()),
        waker: futures_util::task::AtomicWaker::new(),
        stop: AtomicU8::new(0),
        sender_gone: AtomicBool::new(false),
        receiver_gone: AtomicBool::new(false),
    });
    (QueueTx(shared.clone()), QueueRx(shared))
}

/// The hub's end of a client queue.
#[derive(Debug)]
pub(super) struct QueueTx(Arc<Queue>);

impl QueueTx {
    pub(super) fn try_send(&self, item: Utf8Bytes) -> Result<(), QueueError> {
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
    pub(super) fn stop(&self, reason: Stop) {
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
pub(super) struct QueueRx(Arc<Queue>);

impl QueueRx {
    /// The next thing to do: a stop request first, then queued payloads in order.
    pub(super) fn next(&mut self) -> impl Future<Output = Next> + '_ {
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
    pub(super) fn stopped(&self) -> impl Future<Output = Stop> + '_ {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Utf8Bytes {
        Utf8Bytes::from_static(s)
    }

    #[tokio::test]
    async fn payloads_come_out_in_order() {
        let (tx, mut rx) = queue();
        tx.try_send(text("a")).unwrap();
        tx.try_send(text("b")).unwrap();
        assert!(matches!(rx.next().await, Next::Payload(t) if t == "a"));
        assert!(matches!(rx.next().await, Next::Payload(t) if t == "b"));
    }

    #[tokio::test]
    async fn a_stop_comes_before_payloads_still_queued_and_the_first_reason_sticks() {
        let (tx, mut rx) = queue();
        tx.try_send(text("a")).unwrap();
        tx.stop(Stop::Shutdown);
        tx.stop(Stop::Overflow);
        assert!(matches!(rx.next().await, Next::Stop(Stop::Shutdown)));
        assert_eq!(rx.stopped().await, Stop::Shutdown);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_more() {
        let (tx, _rx) = queue();
        for _ in 0..CLIENT_QUEUE {
            tx.try_send(text("x")).unwrap();
        }
        assert!(matches!(tx.try_send(text("x")), Err(QueueError::Full)));
    }

    #[tokio::test]
    async fn the_receiver_sees_closed_once_the_hub_forgot_it_and_it_is_drained() {
        let (tx, mut rx) = queue();
        tx.try_send(text("last")).unwrap();
        drop(tx);
        assert!(matches!(rx.next().await, Next::Payload(t) if t == "last"));
        assert!(matches!(rx.next().await, Next::Closed));
    }

    #[test]
    fn sending_to_a_queue_whose_task_ended_says_closed() {
        let (tx, rx) = queue();
        drop(rx);
        assert!(matches!(tx.try_send(text("x")), Err(QueueError::Closed)));
    }
}
