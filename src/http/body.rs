//! The response body type of hotserve's service.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The body of every response hotserve gives: chunks of [`Bytes`] that may fail with an
/// [`io::Error`] (a file read that failed mid-way, a backend that went away).
///
/// It implements [`hyper::body::Body`], so it goes wherever hyper, axum or tower expect a
/// body. Its inner type is private, so hotserve can change how it builds bodies without a
/// breaking release; wrap your own with [`Body::new`] to answer beside hotserve.
pub struct Body(UnsyncBoxBody<Bytes, io::Error>);

impl Body {
    /// Wrap any body of [`Bytes`]; its errors become [`io::Error`]s.
    pub fn new<B>(body: B) -> Self
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Body(body.map_err(io::Error::other).boxed_unsync())
    }

    /// A body with no bytes.
    pub fn empty() -> Self {
        Body(Empty::new().map_err(|never| match never {}).boxed_unsync())
    }

    /// A body of these bytes, sent at once.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body(
            Full::new(bytes.into())
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
    }

    /// Wrap a body whose errors are already [`io::Error`]s, without boxing them again.
    pub(crate) fn from_io<B>(body: B) -> Self
    where
        B: hyper::body::Body<Data = Bytes, Error = io::Error> + Send + 'static,
    {
        Body(body.boxed_unsync())
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
