//! The test harness: a node with a small registry, a fake clock, and helpers
//! to send requests and read what the node answered or queued.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use rues_core::{
    Answer, CloseReason, Config, Decision, Node, Outbox, Response, SeededIds, SessionId,
    SessionMap, Transmit,
};
use rues_wire::Frame;

pub(crate) use rues_testkit::{
    VERSION as NODE_VERSION, assert_empty, assert_error, block_on, body_text, collect, header,
    header_map, registry,
};

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
            .handle_upgrade(self.now, "/on", &HeaderMap::new(), None)
            .expect("session opened");
        self.outboxes.insert(session.id, session.outbox);
        session.id
    }

    /// The outbox of a session this harness opened.
    pub(crate) fn outbox(&self, session: SessionId) -> &Outbox {
        &self.outboxes[&session]
    }

    /// Sends a request; `POST` bodies go through the ticket and the handler,
    /// and a streamed reply is read whole ([`collect`]).
    pub(crate) fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        collect(self.answer(method, path, headers, body))
    }

    /// [`request`](Self::request), with the answer as the core gives it:
    /// whole, or streamed.
    pub(crate) fn answer(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let headers = header_map(headers);
        match self.node.handle_request(&method, path, &headers) {
            Decision::Respond(response) => response.into(),
            Decision::Forward(forward) => forward.fallback.into(),
            Decision::ReadBody(ticket) => {
                if body.len() > ticket.body_limit().max() {
                    return ticket.body_limit().too_large().into();
                }
                match ticket.with_body(Bytes::copy_from_slice(body)) {
                    Ok(call) => block_on(call.run()),
                    Err(response) => response.into(),
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
