//! The core's answers as warp responses: a whole one as it is, a streamed
//! one as a chunked body written chunk by chunk (docs/protocol.md §5.2).

use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use rues_core::{Answer, HandlerError, ReplyBody};
use warp::reply::Response;

/// Converts the core's answer (or a whole response) into warp's, keeping
/// the core's status and headers.
///
/// A streamed answer's body goes to hyper as a stream with no length, which
/// it sends chunked (HTTP/1.1), polling the next chunk only once the last
/// one is written, so nothing is gathered. An error item ends the stream
/// with an error, on which hyper closes the connection without the last
/// chunk: the client sees a truncated body. When the client goes away,
/// hyper drops the body, and with it the handler's stream.
pub(crate) fn into_warp(answer: impl Into<Answer>) -> Response {
    match answer.into() {
        Answer::Whole(response) => {
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, body.into())
        }
        Answer::Stream(response) => {
            let (parts, body) = response.into_parts();
            let chunks = warp::reply::stream(Chunks {
                body: Mutex::new(body),
                failed: None,
            });
            let (_, body) = warp::Reply::into_response(chunks).into_parts();
            Response::from_parts(parts, body)
        }
    }
}

/// A streamed reply's body as warp's stream body wants it: `Sync`, which
/// a handler's stream need not be. Only the connection's task polls it,
/// through `&mut`, so the mutex is reached with `get_mut` and never locked.
struct Chunks {
    body: Mutex<ReplyBody>,
    /// The body's error, held back for one poll: hyper drops what it has
    /// not written yet when a body fails, so the body first says "not
    /// ready", on which hyper flushes what came before the error (the
    /// head, the last chunks), then fails.
    failed: Option<HandlerError>,
}

impl Stream for Chunks {
    type Item = Result<Bytes, HandlerError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let body = this.body.get_mut().unwrap_or_else(PoisonError::into_inner);
        match Pin::new(body).poll_next(cx) {
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!(
                    status = error.status().as_u16(),
                    %error,
                    "a streamed reply failed after its head was sent: its body is cut short"
                );
                this.failed = Some(error);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            next => next,
        }
    }
}

/// A `Send` stream made `Sync`, as warp's stream body wants it (a
/// forwarded answer's chunks): only the connection's task polls it,
/// through `&mut`, so the mutex is reached with `get_mut` and never locked.
pub(crate) struct SyncStream<S>(Mutex<S>);

impl<S> SyncStream<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self(Mutex::new(stream))
    }
}

impl<S: Stream + Unpin> Stream for SyncStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let stream = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        Pin::new(stream).poll_next(cx)
    }
}
