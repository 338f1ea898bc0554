//! The body of a streamed reply as the adapter sends it: the handler's
//! items framed as they come, raw, as hex, or as one JSON array
//! (docs/protocol.md §5.2).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use futures_core::Stream;

use crate::reply::{HandlerError, Items, ReplyStream, StreamKind};
use crate::response::{APPLICATION_JSON, OCTET_STREAM, TEXT_PLAIN};

/// The body of a streamed [`Answer`](crate::Answer): a [`Stream`] of the
/// chunks to send, in order, each as soon as the handler produced it.
///
/// The adapter polls it on its runtime and writes each chunk as it comes
/// (a chunked body in HTTP/1.1), never gathering the whole. Then:
///
/// - `None` after `Ok` chunks: the body is complete; end it cleanly.
/// - `Some(Err(_))`: the handler failed after the head was sent. End the
///   body **abnormally** (HTTP/1.1: close the connection without the last
///   chunk), so the caller sees a truncated body rather than a clean end.
///   The handler's stream is dropped at once and the body yields `None`
///   from then on.
/// - The caller went away: drop the body. That drops the handler's stream,
///   so its producer stops.
///
/// It belongs to no session and counts against no event queue.
pub struct ReplyBody {
    /// `None` once the body has ended, cleanly or not: the producer is
    /// dropped as soon as it has nothing more to give.
    items: Option<Items>,
    framing: Framing,
    /// [`Framing::JsonArray`]: whether `[` has been sent.
    opened: bool,
}

/// How the handler's items become the chunks of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// The bytes as they are: `application/octet-stream`.
    Raw,
    /// The bytes as lowercase hex: `text/plain`.
    Hex,
    /// `[`, the items separated by `,`, `]`: `application/json`.
    JsonArray,
    /// The bytes as they are, framed already, with their own type.
    Framed(&'static str),
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyBody")
            .field("framing", &self.framing)
            .field("ended", &self.items.is_none())
            .finish_non_exhaustive()
    }
}

impl ReplyBody {
    /// The body of `stream` for a caller that asked for binary replies
    /// (`binary_reply`) or not.
    pub(crate) fn new(stream: ReplyStream, binary_reply: bool) -> Self {
        let framing = match stream.kind {
            StreamKind::JsonArray => Framing::JsonArray,
            StreamKind::Binary if binary_reply => Framing::Raw,
            StreamKind::Binary => Framing::Hex,
            StreamKind::Framed(content_type) => Framing::Framed(content_type),
        };
        Self {
            items: Some(stream.items),
            framing,
            opened: false,
        }
    }

    /// The `Content-Type` of the response that carries this body.
    pub(crate) fn content_type(&self) -> &'static str {
        match self.framing {
            Framing::Raw => OCTET_STREAM,
            Framing::Hex => TEXT_PLAIN,
            Framing::JsonArray => APPLICATION_JSON,
            Framing::Framed(content_type) => content_type,
        }
    }

    /// One item, framed; `None` for an item that sends nothing (empty).
    fn frame(&mut self, item: Bytes) -> Option<Bytes> {
        if item.is_empty() {
            return None;
        }
        Some(match self.framing {
            Framing::Raw | Framing::Framed(_) => item,
            Framing::Hex => Bytes::from(hex::encode(item)),
            Framing::JsonArray => {
                let mut out = BytesMut::with_capacity(1 + item.len());
                out.put_u8(if self.opened { b',' } else { b'[' });
                out.extend_from_slice(&item);
                self.opened = true;
                out.freeze()
            }
        })
    }

    /// What the body ends with once the handler's stream has: `]` (or `[]`)
    /// for a JSON array, nothing otherwise.
    fn close(&self) -> Option<Bytes> {
        match (self.framing, self.opened) {
            (Framing::JsonArray, true) => Some(Bytes::from_static(b"]")),
            (Framing::JsonArray, false) => Some(Bytes::from_static(b"[]")),
            _ => None,
        }
    }
}

impl Stream for ReplyBody {
    type Item = Result<Bytes, HandlerError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(items) = this.items.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(items.as_mut().poll_next(cx)) {
                Some(Ok(item)) => {
                    if let Some(chunk) = this.frame(item) {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                }
                Some(Err(error)) => {
                    this.items = None;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.items = None;
                    return Poll::Ready(this.close().map(Ok));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Waker;

    use super::*;
    use crate::reply::Reply;

    /// A stream of the items of an iterator, each ready at once; it sets
    /// `dropped` when it is dropped.
    struct Producer<I> {
        items: I,
        dropped: Arc<AtomicBool>,
    }

    impl<I> Drop for Producer<I> {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    impl<I: Iterator<Item = Result<Bytes, HandlerError>> + Unpin> Stream for Producer<I> {
        type Item = Result<Bytes, HandlerError>;

        fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.items.next())
        }
    }

    fn items(
        items: impl IntoIterator<Item = Result<&'static [u8], HandlerError>>,
    ) -> (
        impl Stream<Item = Result<Bytes, HandlerError>>,
        Arc<AtomicBool>,
    ) {
        let items: Vec<_> = items
            .into_iter()
            .map(|item| item.map(Bytes::copy_from_slice))
            .collect();
        let dropped = Arc::new(AtomicBool::new(false));
        let stream = Producer {
            items: items.into_iter(),
            dropped: dropped.clone(),
        };
        (stream, dropped)
    }

    fn reply_body(reply: Reply, binary_reply: bool) -> ReplyBody {
        let Reply::Stream(stream) = reply else {
            unreachable!("a streamed reply")
        };
        ReplyBody::new(stream, binary_reply)
    }

    /// Every chunk until the end, and the error that ended it, if any.
    fn drain(body: &mut ReplyBody) -> (Vec<Bytes>, Option<HandlerError>) {
        let mut context = Context::from_waker(Waker::noop());
        let mut chunks = Vec::new();
        loop {
            match Pin::new(&mut *body).poll_next(&mut context) {
                Poll::Ready(Some(Ok(chunk))) => chunks.push(chunk),
                Poll::Ready(Some(Err(error))) => return (chunks, Some(error)),
                Poll::Ready(None) => return (chunks, None),
                Poll::Pending => unreachable!("the test streams are always ready"),
            }
        }
    }

    fn json_array(values: &'static [&'static [u8]]) -> (String, ReplyBody) {
        let (stream, _) = items(values.iter().copied().map(Ok));
        let mut body = reply_body(Reply::json_stream(stream), false);
        let (chunks, error) = drain(&mut body);
        assert_eq!(error, None);
        (String::from_utf8(chunks.concat()).expect("UTF-8"), body)
    }

    #[test]
    fn json_stream_of_no_items_is_an_empty_array() {
        let (text, body) = json_array(&[]);
        assert_eq!(text, "[]");
        assert_eq!(body.content_type(), APPLICATION_JSON);
    }

    #[test]
    fn json_stream_of_one_item_is_an_array_of_it() {
        assert_eq!(json_array(&[br#"{"a":1}"#]).0, r#"[{"a":1}]"#);
    }

    #[test]
    fn json_stream_of_many_items_separates_them_with_commas_as_they_come() {
        let (stream, _) = items([Ok(&b"1"[..]), Ok(b"\"two\""), Ok(b"[3]"), Ok(b"{}")]);
        let mut body = reply_body(Reply::json_stream(stream), true);
        let (chunks, error) = drain(&mut body);
        assert_eq!(error, None);
        // One chunk per item, framed on the way: nothing waits for the end.
        assert_eq!(chunks, ["[1", ",\"two\"", ",[3]", ",{}", "]"]);
        let whole: serde_json::Value = serde_json::from_slice(&chunks.concat()).expect("JSON");
        assert_eq!(whole, serde_json::json!([1, "two", [3], {}]));
        // JSON whatever the caller asked for binary.
        assert_eq!(body.content_type(), APPLICATION_JSON);
    }

    #[test]
    fn json_stream_skips_empty_items() {
        assert_eq!(json_array(&[b"", b"1", b"", b"2"]).0, "[1,2]");
        assert_eq!(json_array(&[b""]).0, "[]");
    }

    #[test]
    fn binary_stream_is_raw_for_a_binary_caller() {
        let (stream, _) = items([Ok(&[0x00, 0xff][..]), Ok(&[]), Ok(&[0x10])]);
        let mut body = reply_body(Reply::binary_stream(stream), true);
        assert_eq!(body.content_type(), OCTET_STREAM);
        let (chunks, error) = drain(&mut body);
        assert_eq!(error, None);
        assert_eq!(chunks, [&[0x00, 0xff][..], &[0x10]]);
    }

    #[test]
    fn binary_stream_is_hex_per_chunk_otherwise_so_the_whole_is_the_hex_of_the_whole() {
        let parts: [&[u8]; 3] = [&[0xde, 0xad], &[0xbe], &[0xef, 0x00, 0x01]];
        let (stream, _) = items(parts.map(Ok));
        let mut body = reply_body(Reply::binary_stream(stream), false);
        assert_eq!(body.content_type(), TEXT_PLAIN);
        let (chunks, error) = drain(&mut body);
        assert_eq!(error, None);
        assert_eq!(chunks, ["dead", "be", "ef0001"]);
        assert_eq!(chunks.concat(), hex::encode(parts.concat()).as_bytes());
    }

    #[test]
    fn framed_stream_passes_chunks_as_they_are_with_its_type() {
        for (asked, binary_reply, sent) in [
            ("application/json", false, APPLICATION_JSON),
            (
                "application/problem+json; charset=utf-8",
                true,
                APPLICATION_JSON,
            ),
            ("text/plain; charset=utf-8", true, TEXT_PLAIN),
            ("application/octet-stream", false, OCTET_STREAM),
            ("application/wasm", false, OCTET_STREAM),
        ] {
            let (stream, _) = items([Ok(&b"[1"[..]), Ok(b""), Ok(b",2]")]);
            let mut body = reply_body(Reply::framed_stream(asked, stream), binary_reply);
            assert_eq!(body.content_type(), sent, "{asked}");
            let (chunks, error) = drain(&mut body);
            assert_eq!(error, None);
            // Neither hex nor a second array around the first.
            assert_eq!(chunks, ["[1", ",2]"], "{asked}");
        }
    }

    #[test]
    fn an_error_ends_the_body_and_drops_the_producer_at_once() {
        let (stream, dropped) = items([
            Ok(&b"1"[..]),
            Err(HandlerError::internal("the disk failed")),
            Ok(b"never sent"),
        ]);
        let mut body = reply_body(Reply::json_stream(stream), false);
        let (chunks, error) = drain(&mut body);
        // No closing `]`: the body is cut short, not ended.
        assert_eq!(chunks, ["[1"]);
        assert_eq!(error.expect("an error").message(), "the disk failed");
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(drain(&mut body), (Vec::new(), None));
    }

    #[test]
    fn the_producer_is_dropped_when_the_body_ends_or_is_dropped() {
        let (stream, dropped) = items([Ok(&b"a"[..])]);
        let mut body = reply_body(Reply::binary_stream(stream), true);
        drain(&mut body);
        assert!(dropped.load(Ordering::SeqCst), "dropped at the end");

        let (stream, dropped) = items([Ok(&b"a"[..]), Ok(b"b")]);
        let mut body = reply_body(Reply::binary_stream(stream), true);
        let mut context = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut body).poll_next(&mut context).is_ready());
        assert!(!dropped.load(Ordering::SeqCst));
        drop(body);
        assert!(dropped.load(Ordering::SeqCst), "dropped with the body");
    }
}
