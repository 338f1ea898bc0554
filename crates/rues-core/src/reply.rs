//! What a handler answers: a [`Reply`], whole or streamed, or a
//! [`HandlerError`] (docs/protocol.md §5.2).

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use http::StatusCode;

use crate::response::{APPLICATION_JSON, OCTET_STREAM, TEXT_PLAIN};

/// What a handler answers with.
#[derive(Debug)]
pub enum Reply {
    /// Serialized JSON: `200`, `Content-Type: application/json`.
    Json(Bytes),
    /// Bytes: `200`; raw `application/octet-stream` when the caller asked for
    /// binary (request `Content-Type` or `Accept`), hex text otherwise.
    Binary(Bytes),
    /// Text: `200`, `Content-Type: text/plain; charset=utf-8`.
    Text(String),
    /// Accepted, nothing to return: `202` with an empty body.
    Accepted,
    /// A reply produced while it is sent: `200`, then a chunked body
    /// ([`Reply::binary_stream`], [`Reply::json_stream`]).
    Stream(ReplyStream),
}

impl Reply {
    /// A JSON reply from a value.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::Json(Bytes::from(value.to_string()))
    }

    /// Bytes produced chunk by chunk, under the rule of [`Reply::Binary`]:
    /// each chunk sent raw as `application/octet-stream` when the caller
    /// asked for binary (request `Content-Type` or `Accept`), otherwise as
    /// lowercase hex in a `text/plain` body, so that the body is the hex of
    /// the chunks put together. Chunk boundaries mean nothing to the
    /// caller; an empty chunk sends nothing.
    ///
    /// The status (`200`) and the headers are sent before the first chunk,
    /// so an `Err` item cannot change them any more: it ends the body
    /// abnormally (the adapter cuts the connection before the body's end,
    /// so the caller sees a truncated body, never a clean end), and the
    /// stream is not polled again. When the caller goes away the adapter
    /// drops the stream: a producer that is a stream stops being polled,
    /// and one that is a task feeding a channel finds the channel closed.
    pub fn binary_stream<S>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, HandlerError>> + Send + 'static,
    {
        Self::Stream(ReplyStream::new(Box::pin(chunks), StreamKind::Binary))
    }

    /// Serialized JSON values produced one by one and sent as one JSON
    /// array: `200`, `Content-Type: application/json`, and a body of `[`,
    /// the items separated by `,`, and `]`, written as the items come (an
    /// empty stream sends `[]`). Each item must be one serialized JSON
    /// value; an empty item sends nothing. An `Err` item ends the body
    /// abnormally, as in [`Reply::binary_stream`], without the closing `]`.
    pub fn json_stream<S>(items: S) -> Self
    where
        S: Stream<Item = Result<Bytes, HandlerError>> + Send + 'static,
    {
        Self::Stream(ReplyStream::new(Box::pin(items), StreamKind::JsonArray))
    }

    /// A body another node is producing, passed on chunk by chunk as it
    /// is, already framed: `200` and the `Content-Type` that body was sent
    /// with (a relay's answer from its upstream). No hex, no JSON array is
    /// added; chunks are sent as they come, empty ones send nothing. The
    /// type is one of the three a streamed reply is sent with: a JSON one
    /// is `application/json`, a `text/...` one `text/plain;
    /// charset=utf-8`, any other `application/octet-stream`. An `Err`
    /// item ends the body abnormally, as in [`Reply::binary_stream`].
    pub fn framed_stream<S>(content_type: &str, chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, HandlerError>> + Send + 'static,
    {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let content_type = if media == APPLICATION_JSON || media.ends_with("+json") {
            APPLICATION_JSON
        } else if media.starts_with("text/") {
            TEXT_PLAIN
        } else {
            OCTET_STREAM
        };
        Self::Stream(ReplyStream::new(
            Box::pin(chunks),
            StreamKind::Framed(content_type),
        ))
    }
}

/// The items of a streamed reply, boxed so handlers of any kind can return
/// them; polled by the adapter, never by the core.
pub(crate) type Items = Pin<Box<dyn Stream<Item = Result<Bytes, HandlerError>> + Send>>;

/// A streamed reply, made by [`Reply::binary_stream`] or
/// [`Reply::json_stream`]: the handler's items, and how they are framed.
pub struct ReplyStream {
    pub(crate) items: Items,
    pub(crate) kind: StreamKind,
}

/// How a [`ReplyStream`]'s items make the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// Raw bytes (or their hex): [`Reply::binary_stream`].
    Binary,
    /// One JSON array: [`Reply::json_stream`].
    JsonArray,
    /// Framed already, with this type: [`Reply::framed_stream`].
    Framed(&'static str),
}

impl ReplyStream {
    fn new(items: Items, kind: StreamKind) -> Self {
        Self { items, kind }
    }
}

impl fmt::Debug for ReplyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyStream")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A handler's refusal or failure, with the status it maps to.
///
/// The caller's faults are 4xx, the node's own 5xx (docs/protocol.md §5.2: a
/// rejected transaction is the caller's fault, not a 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    status: StatusCode,
    message: String,
}

impl HandlerError {
    /// An error with an explicit status; a status that is not an error (not
    /// 4xx or 5xx) becomes 500, since a handler must not fake success.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed in a way the handler checks.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 422: the body cannot be processed (e.g. not a transaction).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500: the node itself failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 503: the node cannot serve this now (e.g. still syncing).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}
