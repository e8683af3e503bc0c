//! Detecting `#` in HTTP/1 request targets.
//!
//! A fragment is never sent by browsers, so one in a request target is a crafted request
//! (Vite answers it with 400). The `http` crate silently drops the fragment while parsing the
//! URI, so the service cannot see it; this wrapper watches the raw request lines as hyper
//! reads them and records, per request and in order, whether the target held a `#`.
//!
//! It follows request heads and `Content-Length` bodies. Once it meets something it does
//! not follow (chunked bodies, an upgrade, HTTP/2), it stops looking for the rest of the
//! connection rather than guess.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Marks a request whose target held a `#` (set by the connection, read by the service).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FragmentSeen;

/// Per-connection record of which request targets held a fragment, oldest first.
#[derive(Debug, Default)]
pub(crate) struct FragmentLog {
    flags: Mutex<VecDeque<bool>>,
}

impl FragmentLog {
    /// Whether the next request (in arrival order) had a `#` in its target.
    pub fn next_had_fragment(&self) -> bool {
        self.flags
            .lock()
            .map(|mut q| q.pop_front().unwrap_or(false))
            .unwrap_or(false)
    }

    fn push(&self, flag: bool) {
        if let Ok(mut q) = self.flags.lock() {
            q.push_back(flag);
        }
    }
}

#[derive(Debug)]
enum State {
    Method { started: bool },
    Target { fragment: bool },
    Version { line: Vec<u8> },
    Header { line: Vec<u8>, head: Head },
    Body { remaining: u64 },
    Stopped,
}

#[derive(Debug, Default)]
struct Head {
    content_length: u64,
    stop_after: bool,
}

/// Longest header line prefix kept; enough for the names and values we look at.
const KEEP: usize = 64;

/// A connection's IO as hotserve serves it: exactly the wrapped IO, and every byte read also
/// goes through the request-line watcher. Made by [`Connection::new`](crate::Connection::new).
pub struct ConnectionIo<IO> {
    io: IO,
    state: State,
    log: Arc<FragmentLog>,
}

impl<IO> std::fmt::Debug for ConnectionIo<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionIo").finish_non_exhaustive()
    }
}

impl<IO> ConnectionIo<IO> {
    pub(crate) fn new(io: IO, log: Arc<FragmentLog>) -> Self {
        ConnectionIo {
            io,
            state: State::Method { started: false },
            log,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let b = bytes[0];
            match &mut self.state {
                State::Stopped => return,
                State::Body { remaining } => {
                    let n = (*remaining).min(bytes.len() as u64) as usize;
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::Method { started: false };
                    }
                    bytes = &bytes[n..];
                    continue;
                }
                State::Method { started } => {
                    if b == b' ' {
                        self.state = State::Target { fragment: false };
                    } else if !*started && (b == b'\r' || b == b'\n') {
                        // Empty lines before a request line are allowed (RFC 9112 §2.2).
                    } else {
                        *started = true;
                    }
                }
                State::Target { fragment } => {
                    if b == b' ' {
                        let fragment = *fragment;
                        self.log.push(fragment);
                        self.state = State::Version { line: Vec::new() };
                    } else if b == b'#' {
                        *fragment = true;
                    }
                }
                State::Version { line } => {
                    if b == b'\n' {
                        // `PRI * HTTP/2.0` is the HTTP/2 preface: binary frames follow.
                        let http2 = line.starts_with(b"HTTP/2");
                        self.state = if http2 {
                            State::Stopped
                        } else {
                            State::Header {
                                line: Vec::new(),
                                head: Head::default(),
                            }
                        };
                    } else if line.len() < KEEP {
                        line.push(b);
                    }
                }
                State::Header { line, head } => {
                    if b == b'\n' {
                        let text = line.strip_suffix(b"\r").unwrap_or(line);
                        if text.is_empty() {
                            self.state = if head.stop_after {
                                State::Stopped
                            } else if head.content_length > 0 {
                                State::Body {
                                    remaining: head.content_length,
                                }
                            } else {
                                State::Method { started: false }
                            };
                        } else {
                            read_header(text, head);
                            line.clear();
                        }
                    } else if line.len() < KEEP {
                        line.push(b);
                    }
                }
            }
            bytes = &bytes[1..];
        }
    }
}

fn read_header(line: &[u8], head: &mut Head) {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return;
    };
    let name = &line[..colon];
    let value = std::str::from_utf8(&line[colon + 1..]).unwrap_or("").trim();
    if name.eq_ignore_ascii_case(b"content-length") {
        match value.parse() {
            Ok(n) => head.content_length = n,
            Err(_) => head.stop_after = true,
        }
    } else if name.eq_ignore_ascii_case(b"transfer-encoding")
        || name.eq_ignore_ascii_case(b"upgrade")
    {
        head.stop_after = true;
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ConnectionIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.observe(&buf.filled()[before..]);
        }
        poll
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ConnectionIo<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(chunks: &[&[u8]]) -> Vec<bool> {
        let log = Arc::new(FragmentLog::default());
        let mut sniffer = ConnectionIo::new((), log.clone());
        for chunk in chunks {
            sniffer.observe(chunk);
        }
        let q = log.flags.lock().unwrap();
        q.iter().copied().collect()
    }

    #[test]
    fn fragments_are_recorded_per_request_in_order() {
        let input: &[u8] =
            b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(flags(&[input]), [true, false]);
    }

    #[test]
    fn request_lines_split_across_reads_are_followed() {
        assert_eq!(
            flags(&[b"GE", b"T /x", b"#y HT", b"TP/1.1\r\n\r\n"]),
            [true]
        );
    }

    #[test]
    fn content_length_bodies_are_skipped() {
        let input: &[u8] =
            b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\nGET /#x HTTP/GET /ok HTTP/1.1\r\n\r\n";
        assert_eq!(flags(&[input]), [false, false]);
    }

    #[test]
    fn watching_stops_at_upgrades_chunked_bodies_and_http2() {
        let upgrade: &[u8] = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /#x HTTP/1.1\r\n";
        assert_eq!(flags(&[upgrade]), [false]);
        let chunked: &[u8] =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nGET /#x HTTP/1.1\r\n";
        assert_eq!(flags(&[chunked]), [false]);
        let h2: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /#x HTTP/1.1\r\n";
        assert_eq!(flags(&[h2]), [false]);
    }
}
