//! The fixture registry: a small node shaped like the demo node, whose
//! handlers all answer at once (no runtime needed to poll them).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use rues_core::futures_core::Stream;
use rues_core::rues_target::{Component, Topic};
use rues_core::{
    ComponentSpec, DispatchRequest, EntityRule, HandlerError, Registry, Reply, RequestBody,
};

/// The node version every fixture serves, answers in `Rusk-Version` and
/// reports from `node/info`.
pub const VERSION: &str = "1.6.0";

/// A component name known to be valid.
///
/// # Panics
///
/// If `name` is not a valid component name.
pub fn component(name: &str) -> Component {
    Component::new(name).expect("valid component")
}

/// A topic name known to be valid.
///
/// # Panics
///
/// If `name` is not a valid topic name.
pub fn topic(name: &str) -> Topic {
    Topic::new(name).expect("valid topic")
}

/// The fixture registry:
/// - `blocks`: entity optional; event topics `accepted`, `statechange`;
///   dispatch `gas-price` (JSON);
/// - `contracts`: entity required; open topics; any topic dispatches,
///   answering the request body as binary;
/// - `node`: no entity; dispatch `info` (JSON `{"version": VERSION}`), `crs`
///   (binary `de ad be ef`), `text` (`text:<body>` for a text body,
///   `binary:<len>` for a binary one), `words` (the text `plain words`),
///   `echo` (the binary body back; a text body is 422), `whoami` (the
///   caller's session id as text, empty without one), `accept` (202),
///   `reject` (422), `broken` (500); `feed` (the body's bytes back, one
///   chunk per byte as [`Reply::binary_stream`] when the request carries
///   `Rusk-Feeder`, whole as [`Reply::Binary`] otherwise) and `feed-json`
///   (the body's bytes as a JSON array of numbers, [`Reply::json_stream`]
///   with `Rusk-Feeder`, whole [`Reply::Json`] otherwise);
/// - `transactions`: entity optional; event topics `included`, `executed`;
///   dispatch `propagate` (202 for a binary body, 422 for text).
pub fn registry() -> Registry {
    Registry::new()
        .with(blocks())
        .with(contracts())
        .with(node())
        .with(transactions())
}

/// [`registry`] without `blocks`: a node a client may reconnect to that no
/// longer knows some of its subscriptions.
pub fn registry_without_blocks() -> Registry {
    Registry::new()
        .with(contracts())
        .with(node())
        .with(transactions())
}

/// [`registry`] without `contracts`: a node on which `/on/contracts/...` is
/// an unknown component.
pub fn registry_without_contracts() -> Registry {
    Registry::new()
        .with(blocks())
        .with(node())
        .with(transactions())
}

fn blocks() -> ComponentSpec {
    ComponentSpec::new(component("blocks"))
        .entity(EntityRule::Optional)
        .topic(topic("accepted"))
        .topic(topic("statechange"))
        .handler(topic("gas-price"), |_req: DispatchRequest| async {
            Ok(Reply::json(
                &serde_json::json!({"average": 1, "max": 2, "median": 1, "min": 1}),
            ))
        })
}

fn contracts() -> ComponentSpec {
    ComponentSpec::new(component("contracts"))
        .entity(EntityRule::Required)
        .open_topics()
        .fallback_handler(|req: DispatchRequest| async move {
            Ok(Reply::Binary(Bytes::copy_from_slice(req.body.as_bytes())))
        })
}

fn node() -> ComponentSpec {
    ComponentSpec::new(component("node"))
        .entity(EntityRule::Forbidden)
        .handler(topic("info"), |_req: DispatchRequest| async {
            Ok(Reply::json(&serde_json::json!({"version": VERSION})))
        })
        .handler(topic("crs"), |_req: DispatchRequest| async {
            Ok(Reply::Binary(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])))
        })
        .handler(topic("text"), |req: DispatchRequest| async move {
            match req.body {
                RequestBody::Text(text) => Ok(Reply::Text(format!("text:{text}"))),
                RequestBody::Binary(bytes) => Ok(Reply::Text(format!("binary:{}", bytes.len()))),
            }
        })
        .handler(topic("words"), |_req: DispatchRequest| async {
            Ok(Reply::Text("plain words".into()))
        })
        .handler(topic("echo"), |req: DispatchRequest| async move {
            match req.body {
                RequestBody::Binary(bytes) => Ok(Reply::Binary(bytes)),
                RequestBody::Text(_) => Err(HandlerError::unprocessable("echo takes binary")),
            }
        })
        .handler(topic("whoami"), |req: DispatchRequest| async move {
            Ok(Reply::Text(
                req.session.map(|s| s.to_string()).unwrap_or_default(),
            ))
        })
        .handler(topic("accept"), |_req: DispatchRequest| async {
            Ok(Reply::Accepted)
        })
        .handler(topic("reject"), |_req: DispatchRequest| async {
            Err(HandlerError::unprocessable("not a transaction"))
        })
        .handler(topic("broken"), |_req: DispatchRequest| async {
            Err(HandlerError::internal("database unavailable"))
        })
        .handler(topic("feed"), |req: DispatchRequest| async move {
            let body = Bytes::copy_from_slice(req.body.as_bytes());
            Ok(if req.feeder {
                Reply::binary_stream(Ready::new((0..body.len()).map(move |i| body.slice(i..=i))))
            } else {
                Reply::Binary(body)
            })
        })
        .handler(topic("feed-json"), |req: DispatchRequest| async move {
            let numbers: Vec<u8> = req.body.as_bytes().to_vec();
            Ok(if req.feeder {
                Reply::json_stream(Ready::new(
                    numbers.into_iter().map(|n| Bytes::from(n.to_string())),
                ))
            } else {
                Reply::json(&serde_json::json!(numbers))
            })
        })
}

/// A stream whose items are all ready at once: the items of an iterator.
struct Ready<I>(I);

impl<I> Ready<I> {
    fn new(items: I) -> Self {
        Self(items)
    }
}

impl<I: Iterator<Item = Bytes> + Unpin> Stream for Ready<I> {
    type Item = Result<Bytes, HandlerError>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next().map(Ok))
    }
}

fn transactions() -> ComponentSpec {
    ComponentSpec::new(component("transactions"))
        .entity(EntityRule::Optional)
        .topic(topic("included"))
        .topic(topic("executed"))
        .handler(topic("propagate"), |req: DispatchRequest| async move {
            match req.body {
                RequestBody::Binary(_) => Ok(Reply::Accepted),
                RequestBody::Text(_) => Err(HandlerError::unprocessable("a transaction is binary")),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(registry: &Registry) -> Vec<String> {
        let mut names: Vec<String> = registry
            .components()
            .map(|spec| spec.name().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_variants_leave_out_one_component_each() {
        assert_eq!(
            names(&registry()),
            ["blocks", "contracts", "node", "transactions"]
        );
        assert_eq!(
            names(&registry_without_blocks()),
            ["contracts", "node", "transactions"]
        );
        assert_eq!(
            names(&registry_without_contracts()),
            ["blocks", "node", "transactions"]
        );
    }
}
