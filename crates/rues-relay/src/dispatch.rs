//! Dispatches forwarded upstream (every component's fallback handler), and
//! the `Content-Type` of rusk's event payloads.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use rues_core::http::StatusCode;
use rues_core::http::header::CONTENT_TYPE;
use rues_core::rues_target::EventPath;
use rues_core::{DispatchRequest, Handler, HandlerError, HandlerFuture, Reply, RequestBody};

use crate::metrics::Counters;

/// The `Content-Type` of an upstream event that came without one (rusk
/// sends none): JSON for `blocks/*` and `transactions/included` and
/// `transactions/executed`, bytes for everything else (contract events,
/// `transactions/removed`), as rusk's payloads are.
pub fn content_type_for(path: &EventPath) -> &'static str {
    let json = match path.component().as_str() {
        "blocks" => true,
        "transactions" => matches!(path.topic().as_str(), "included" | "executed"),
        _ => false,
    };
    if json {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// The request headers a dispatch carries upstream: what the upstream
/// reads to answer (type, wanted reply, version, feeder) and the caller's
/// `X-*`, which the upstream echoes. Never `Rusk-Session-Id`: a downstream
/// session means nothing upstream.
fn forwarded_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "accept" | "rusk-version" | "rusk-feeder"
    ) || name.starts_with("x-")
}

/// The most of an upstream error's body read for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Every component's fallback handler: the request, sent upstream.
#[derive(Clone)]
pub(crate) struct Forwarder {
    dispatcher: rues_client::Dispatcher,
    max_whole: usize,
    counters: Arc<Counters>,
}

impl Forwarder {
    pub(crate) fn new(
        dispatcher: rues_client::Dispatcher,
        max_whole: usize,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            dispatcher,
            max_whole,
            counters,
        }
    }
}

impl Handler for Forwarder {
    fn call(&self, request: DispatchRequest) -> HandlerFuture {
        let forwarder = self.clone();
        Box::pin(async move {
            let answer = forwarder.forward(request).await;
            let status = match &answer {
                Ok(_) => 200,
                Err(error) => error.status().as_u16(),
            };
            forwarder.counters.dispatched(status);
            answer
        })
    }
}

impl Forwarder {
    async fn forward(&self, request: DispatchRequest) -> Result<Reply, HandlerError> {
        // A `0x...` text body was decoded by the core into the bytes it
        // stands for: those go upstream, as bytes.
        let body = match request.body {
            RequestBody::Binary(bytes) => rues_client::Body::Binary(bytes),
            RequestBody::Text(text) => rues_client::Body::Text(text),
        };
        let binary = matches!(body, rues_client::Body::Binary(_));
        let mut upstream = self.dispatcher.request(request.path.clone()).body(body);
        for (name, value) in &request.headers {
            let name = name.as_str();
            // A binary body is sent as bytes whatever type it came with.
            if !forwarded_header(name) || (binary && name == "content-type") {
                continue;
            }
            if let Ok(value) = value.to_str() {
                upstream = upstream.header(name, value);
            }
        }
        let reply = upstream.send_streamed().await.map_err(|error| {
            let status = if matches!(error, rues_client::Error::Timeout { .. }) {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            HandlerError::new(
                status,
                format!("the relay's upstream did not answer: {error}"),
            )
        })?;
        let status =
            StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let content_type = reply
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !status.is_success() {
            let body = read_whole(reply.into_stream(), MAX_ERROR_BODY, true).await?;
            return Err(HandlerError::new(status, message(status, &body)));
        }
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if reply.is_chunked() {
            let chunks = reply.into_stream().map(|chunk| {
                chunk.map_err(|error| {
                    HandlerError::new(StatusCode::BAD_GATEWAY, format!("upstream: {error}"))
                })
            });
            // Bytes follow the caller's ask (raw or hex) as any reply's
            // do; JSON and text are passed on as the upstream framed them.
            return Ok(if media == "application/octet-stream" || media.is_empty() {
                Reply::binary_stream(chunks)
            } else {
                Reply::framed_stream(&content_type, chunks)
            });
        }
        let body = read_whole(reply.into_stream(), self.max_whole, false).await?;
        if status == StatusCode::ACCEPTED && body.is_empty() {
            return Ok(Reply::Accepted);
        }
        Ok(if media == "application/json" || media.ends_with("+json") {
            Reply::Json(body)
        } else if media.starts_with("text/") {
            match String::from_utf8(body.to_vec()) {
                Ok(text) => Reply::Text(text),
                Err(_) => Reply::Binary(body),
            }
        } else {
            Reply::Binary(body)
        })
    }
}

/// A body read whole, up to `max` bytes: past it a 502, or (`cut`) the
/// first `max` bytes, for an error's message.
async fn read_whole<S>(stream: S, max: usize, cut: bool) -> Result<Bytes, HandlerError>
where
    S: futures_util::Stream<Item = Result<Bytes, rues_client::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            HandlerError::new(StatusCode::BAD_GATEWAY, format!("upstream: {error}"))
        })?;
        if body.len() + chunk.len() > max {
            if cut {
                body.extend_from_slice(&chunk[..max - body.len()]);
                break;
            }
            return Err(HandlerError::new(
                StatusCode::BAD_GATEWAY,
                format!("the upstream's answer exceeds the relay's {max} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An upstream error's message: a rues node's `{"error": "..."}`, or the
/// text rusk sends, or the status's reason.
fn message(status: StatusCode, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("error")?.as_str().map(str::to_owned));
    from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            text.to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rusk_payload_types_follow_its_topics() {
        let of = |p: &str| content_type_for(&EventPath::parse(p).expect("a path"));
        assert_eq!(of("/on/blocks:ab/accepted"), "application/json");
        assert_eq!(of("/on/blocks:ab/statechange"), "application/json");
        assert_eq!(of("/on/transactions:ab/included"), "application/json");
        assert_eq!(of("/on/transactions:ab/executed"), "application/json");
        assert_eq!(
            of("/on/transactions:ab/removed"),
            "application/octet-stream"
        );
        assert_eq!(
            of("/on/contracts:0100/moonlight"),
            "application/octet-stream"
        );
    }

    #[test]
    fn only_what_the_upstream_reads_is_forwarded() {
        for name in [
            "content-type",
            "accept",
            "rusk-version",
            "rusk-feeder",
            "x-request-id",
        ] {
            assert!(forwarded_header(name), "{name}");
        }
        for name in [
            "rusk-session-id",
            "host",
            "origin",
            "cookie",
            "content-length",
        ] {
            assert!(!forwarded_header(name), "{name}");
        }
    }

    #[test]
    fn error_messages_read_json_then_text_then_the_reason() {
        assert_eq!(
            message(StatusCode::NOT_FOUND, br#"{"error":"unknown topic"}"#),
            "unknown topic"
        );
        assert_eq!(
            message(StatusCode::BAD_REQUEST, b"Invalid input: bad\n"),
            "Invalid input: bad"
        );
        assert_eq!(message(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
    }
}
