//! The test harness: a node with a small registry, a fake clock, and helpers
//! to send requests and read what the node answered or queued.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use rues_core::{
    CloseReason, ComponentSpec, Config, Decision, DispatchRequest, EntityRule, HandlerError, Node,
    Outbox, Registry, Reply, RequestBody, Response, SeededIds, SessionId, SessionMap, Transmit,
};
use rues_target::{Component, Topic};
use rues_wire::Frame;

pub(crate) const NODE_VERSION: &str = "1.6.0";

pub(crate) fn component(name: &str) -> Component {
    Component::new(name).expect("valid component")
}

pub(crate) fn topic(name: &str) -> Topic {
    Topic::new(name).expect("valid topic")
}

/// The registry every test uses, shaped like the demo node's:
/// - `blocks` (optional entity; events `accepted`, `statechange`; dispatch `gas-price`),
/// - `contracts` (entity required; open topics; any topic dispatches, echoing the body),
/// - `node` (no entity; dispatches `info` JSON, `crs` binary, `text`, `accept`,
///   `reject` 422, `broken` 500),
/// - `transactions` (optional entity; events `included`, `executed`;
///   dispatch `propagate`, which wants binary).
pub(crate) fn registry() -> Registry {
    Registry::new()
        .with(
            ComponentSpec::new(component("blocks"))
                .entity(EntityRule::Optional)
                .topic(topic("accepted"))
                .topic(topic("statechange"))
                .handler(topic("gas-price"), |_req: DispatchRequest| async {
                    Ok(Reply::json(
                        &serde_json::json!({"average": 1, "max": 2, "median": 1, "min": 1}),
                    ))
                }),
        )
        .with(
            ComponentSpec::new(component("contracts"))
                .entity(EntityRule::Required)
                .open_topics()
                .fallback_handler(|req: DispatchRequest| async move {
                    Ok(Reply::Binary(Bytes::copy_from_slice(req.body.as_bytes())))
                }),
        )
        .with(
            ComponentSpec::new(component("node"))
                .entity(EntityRule::Forbidden)
                .handler(topic("info"), |_req: DispatchRequest| async {
                    Ok(Reply::json(&serde_json::json!({"version": NODE_VERSION})))
                })
                .handler(topic("crs"), |_req: DispatchRequest| async {
                    Ok(Reply::Binary(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])))
                })
                .handler(topic("text"), |req: DispatchRequest| async move {
                    match req.body {
                        RequestBody::Text(text) => Ok(Reply::Text(format!("text:{text}"))),
                        RequestBody::Binary(bytes) => {
                            Ok(Reply::Text(format!("binary:{}", bytes.len())))
                        }
                    }
                })
                .handler(topic("accept"), |_req: DispatchRequest| async {
                    Ok(Reply::Accepted)
                })
                .handler(topic("reject"), |_req: DispatchRequest| async {
                    Err(HandlerError::unprocessable("not a transaction"))
                })
                .handler(topic("broken"), |_req: DispatchRequest| async {
                    Err(HandlerError::internal("database unavailable"))
                }),
        )
        .with(
            ComponentSpec::new(component("transactions"))
                .entity(EntityRule::Optional)
                .topic(topic("included"))
                .topic(topic("executed"))
                .handler(topic("propagate"), |req: DispatchRequest| async move {
                    match req.body {
                        RequestBody::Binary(_) => Ok(Reply::Accepted),
                        RequestBody::Text(_) => {
                            Err(HandlerError::unprocessable("a transaction is binary"))
                        }
                    }
                }),
        )
}

/// A node, a fake clock, the outbox of every session it opened, and
/// request helpers.
pub(crate) struct Harness {
    pub(crate) node: Node,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    outboxes: SessionMap<Outbox>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_config(|config| config)
    }

    pub(crate) fn with_config(configure: impl FnOnce(Config) -> Config) -> Self {
        let config = configure(Config::new(NODE_VERSION.parse().expect("valid version")));
        let start = Instant::now();
        Self {
            node: Node::new(config, registry(), SeededIds::new(42)),
            start,
            now: start,
            outboxes: SessionMap::default(),
        }
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.node.handle_timeout(self.now);
    }

    /// Opens a session, as an upgrade on `/on` does.
    pub(crate) fn open(&mut self) -> SessionId {
        let session = self
            .node
            .handle_upgrade(self.now, "/on", &HeaderMap::new())
            .expect("session opened");
        self.outboxes.insert(session.id, session.outbox);
        session.id
    }

    /// The outbox of a session this harness opened.
    pub(crate) fn outbox(&self, session: SessionId) -> &Outbox {
        &self.outboxes[&session]
    }

    /// Sends a request; `POST` bodies go through the ticket and the handler.
    pub(crate) fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let headers = header_map(headers);
        match self.node.handle_request(&method, path, &headers) {
            Decision::Respond(response) => response,
            Decision::ReadBody(ticket) => {
                if body.len() > ticket.max_body() {
                    return ticket.body_too_large();
                }
                match ticket.with_body(Bytes::copy_from_slice(body)) {
                    Ok(call) => block_on(call.run()),
                    Err(response) => response,
                }
            }
        }
    }

    pub(crate) fn get(&mut self, session: SessionId, path: &str) -> Response {
        let id = session.to_string();
        self.request(Method::GET, path, &[("rusk-session-id", &id)], b"")
    }

    pub(crate) fn delete(&mut self, session: SessionId, path: &str) -> Response {
        let id = session.to_string();
        self.request(Method::DELETE, path, &[("rusk-session-id", &id)], b"")
    }

    pub(crate) fn post(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.request(Method::POST, path, headers, body)
    }

    /// What `session`'s writer would do next, if anything; frames taken
    /// this way are dropped.
    pub(crate) fn next(&self, session: SessionId) -> Option<Transmit> {
        self.outbox(session).try_next(usize::MAX, &mut Vec::new())
    }

    /// The reason `session` was closed with, once it is.
    pub(crate) fn close_reason(&self, session: SessionId) -> Option<CloseReason> {
        self.outbox(session).close_reason()
    }

    /// The raw frames queued for `session` now, oldest first (a due ping
    /// is taken and skipped).
    pub(crate) fn raw_frames(&self, session: SessionId) -> Vec<Bytes> {
        let mut frames = Vec::new();
        while let Some(Transmit::Frames(_) | Transmit::Ping) =
            self.outbox(session).try_next(usize::MAX, &mut frames)
        {}
        frames
    }

    /// Every frame queued for `session`, decoded.
    pub(crate) fn frames(&self, session: SessionId) -> Vec<Frame> {
        self.raw_frames(session)
            .iter()
            .map(|raw| Frame::decode(raw).expect("the core queues valid frames"))
            .collect()
    }
}

pub(crate) fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_bytes(value.as_bytes()).expect("valid header value"),
        );
    }
    map
}

/// Polls a future that the test handlers make ready at once; no runtime.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Asserts a JSON error response: status, content type, `Rusk-Version`, and
/// an `error` message containing `needle`.
#[track_caller]
pub(crate) fn assert_error(response: &Response, status: StatusCode, needle: &str) {
    assert_eq!(response.status(), status, "body: {:?}", body_text(response));
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(header(response, "rusk-version"), Some(NODE_VERSION));
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON error body");
    let message = body["error"].as_str().expect("an error string");
    assert!(
        message.contains(needle),
        "{message:?} does not contain {needle:?}"
    );
}

/// Asserts an empty-bodied success with `Rusk-Version`.
#[track_caller]
pub(crate) fn assert_empty(response: &Response, status: StatusCode) {
    assert_eq!(response.status(), status, "body: {:?}", body_text(response));
    assert!(response.body().is_empty());
    assert_eq!(header(response, "rusk-version"), Some(NODE_VERSION));
}

pub(crate) fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn body_text(response: &Response) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}
