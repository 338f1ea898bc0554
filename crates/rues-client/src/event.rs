//! [`Event`]: one decoded event frame, and the `Content-Type` rules that
//! decide how a payload reads.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rues_target::EventPath;
use rues_wire::Headers;
use serde::de::DeserializeOwned;

use crate::Error;

/// One event, as the node delivered it: its canonical location, its
/// headers and its payload.
///
/// Cheap to clone: an event that matches several subscriptions is shared by
/// them, and the payload is a slice of the WebSocket message, not a copy.
///
/// The payload's format is what the node's `Content-Type` says; nothing is
/// guessed (w3sper tries `JSON.parse` on every payload, so a binary payload
/// that happens to be valid JSON is mis-decoded).
#[derive(Clone)]
pub struct Event {
    inner: Arc<Inner>,
}

struct Inner {
    path: EventPath,
    headers: Headers,
    payload: Bytes,
}

impl Event {
    pub(crate) fn new(path: EventPath, headers: Headers, payload: Bytes) -> Self {
        Event {
            inner: Arc::new(Inner {
                path,
                headers,
                payload,
            }),
        }
    }

    /// The event's canonical location, parsed: always entity-specific for
    /// events that have an entity, also when the subscription had none.
    pub fn path(&self) -> &EventPath {
        &self.inner.path
    }

    /// The `Content-Location` header as the node sent it.
    pub fn content_location(&self) -> &str {
        // Present: the event was routed by it.
        self.inner
            .headers
            .get(rues_wire::CONTENT_LOCATION)
            .unwrap_or_default()
    }

    /// The `Content-Type` header: the payload's format. Nodes that follow
    /// docs/protocol.md always send it; rusk does not.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.headers.get(rues_wire::CONTENT_TYPE)
    }

    /// Whether the payload is JSON by its `Content-Type`
    /// (`application/json` or any `+json` type).
    pub fn is_json(&self) -> bool {
        self.content_type().is_some_and(is_json_type)
    }

    /// Whether the payload is binary by its `Content-Type`
    /// (`application/octet-stream`).
    pub fn is_binary(&self) -> bool {
        self.content_type()
            .is_some_and(|ct| media_type(ct).eq_ignore_ascii_case("application/octet-stream"))
    }

    /// A header's value, by name (ASCII case-insensitive), e.g. `Rusk-Origin`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers.get(name)
    }

    /// Every header, in the order the node sent them.
    pub fn headers(&self) -> &Headers {
        &self.inner.headers
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.inner.payload
    }

    /// The payload parsed as JSON into `T` (e.g. [`serde_json::Value`]).
    ///
    /// Parses whatever the `Content-Type`; check [`Event::is_json`] first
    /// when it matters.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.inner.payload).map_err(|source| Error::Json {
            what: "event payload",
            source: Arc::new(source),
        })
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("content_location", &self.content_location())
            .field("headers", &self.inner.headers)
            .field("payload_len", &self.inner.payload.len())
            .finish()
    }
}

/// The media type of a `Content-Type` value: parameters dropped, trimmed.
pub(crate) fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

pub(crate) fn is_json_type(content_type: &str) -> bool {
    let media = media_type(content_type).to_ascii_lowercase();
    media == "application/json" || media.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(content_type: &str, payload: &'static [u8]) -> Event {
        let path = EventPath::parse("/on/blocks:ab/accepted").unwrap();
        let headers: Headers = [
            ("Content-Location", "/on/blocks:ab/accepted"),
            ("content-type", content_type),
        ]
        .into_iter()
        .collect();
        Event::new(path, headers, Bytes::from_static(payload))
    }

    #[test]
    fn content_type_decides_json_and_binary() {
        assert!(event("application/json", b"{}").is_json());
        assert!(event("application/problem+json; charset=utf-8", b"{}").is_json());
        assert!(!event("application/octet-stream", b"{}").is_json());
        assert!(event("Application/Octet-Stream", b"{}").is_binary());
    }

    #[test]
    fn json_parses_and_errors_name_the_payload() {
        let value: serde_json::Value = event("application/json", br#"{"a":1}"#).json().unwrap();
        assert_eq!(value["a"], 1);
        let error = event("application/json", b"{")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("event payload is not valid JSON"),
            "{error}"
        );
    }
}
