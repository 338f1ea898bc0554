//! The node: sessions, subscriptions, keep-alive and fan-out.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use http::header::HeaderValue;
use rues_target::EventPath;
use rues_wire::Frame;

use crate::config::Config;
use crate::id::{IdSource, SessionMap};
use crate::index::Index;
use crate::outbox::{Outbox, Pushed};
use crate::registry::Registry;
use rues_wire::SessionId;

/// Why a session ended. Each reason is counted in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent a Close frame; the adapter echoes its code (1000 when none).
    ClientClosed,
    /// The socket went away without a Close frame (reset, EOF, write error).
    Disconnected,
    /// The node is shutting down: 1001.
    Shutdown,
    /// The client broke the WebSocket protocol (a malformed frame, text that
    /// is not UTF-8, ...): 1002.
    ProtocolError,
    /// The client sent a frame or message over the inbound limit: 1009.
    MessageTooBig,
    /// The node failed: 1011.
    InternalError,
    /// Nothing arrived for `idle_timeout`: 4001.
    IdleTimeout,
    /// The outbound queue overflowed: 4008.
    SlowConsumer,
}

impl CloseReason {
    /// Every reason, in a stable order (for metrics).
    pub const ALL: [CloseReason; 8] = [
        Self::ClientClosed,
        Self::Disconnected,
        Self::Shutdown,
        Self::ProtocolError,
        Self::MessageTooBig,
        Self::InternalError,
        Self::IdleTimeout,
        Self::SlowConsumer,
    ];

    /// The WebSocket close code the node sends, when it is the node that
    /// closes. `ClientClosed` echoes the client's code and `Disconnected` has
    /// no Close frame, so both are `None`.
    pub fn code(self) -> Option<u16> {
        match self {
            Self::ClientClosed | Self::Disconnected => None,
            Self::Shutdown => Some(1001),
            Self::ProtocolError => Some(1002),
            Self::MessageTooBig => Some(1009),
            Self::InternalError => Some(1011),
            Self::IdleTimeout => Some(4001),
            Self::SlowConsumer => Some(4008),
        }
    }

    /// A short reason text for the Close frame and logs.
    pub fn text(self) -> &'static str {
        match self {
            Self::ClientClosed => "client closed",
            Self::Disconnected => "disconnected",
            Self::Shutdown => "node shutting down",
            Self::ProtocolError => "protocol error",
            Self::MessageTooBig => "message over the inbound limit",
            Self::InternalError => "internal error",
            Self::IdleTimeout => "keep-alive timeout",
            Self::SlowConsumer => "slow consumer",
        }
    }

    /// A stable label for metrics (`slow_consumer`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::ClientClosed => "client_closed",
            Self::Disconnected => "disconnected",
            Self::Shutdown => "shutdown",
            Self::ProtocolError => "protocol_error",
            Self::MessageTooBig => "message_too_big",
            Self::InternalError => "internal_error",
            Self::IdleTimeout => "idle_timeout",
            Self::SlowConsumer => "slow_consumer",
        }
    }

    fn slot(self) -> usize {
        match self {
            Self::ClientClosed => 0,
            Self::Disconnected => 1,
            Self::Shutdown => 2,
            Self::ProtocolError => 3,
            Self::MessageTooBig => 4,
            Self::InternalError => 5,
            Self::IdleTimeout => 6,
            Self::SlowConsumer => 7,
        }
    }
}

/// Something the adapter must do; drained with [`Node::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send a WebSocket Ping to the session.
    Ping(SessionId),
    /// Close the session's socket with `reason.code()`. The core has already
    /// released the session: its subscriptions and queue are gone and its id
    /// is no longer valid.
    Close {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
}

/// An event to publish: where it happened, and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's canonical location: entity-specific when it has an entity.
    pub path: EventPath,
    /// The payload's media type (`application/json`, `application/octet-stream`, ...).
    pub content_type: String,
    /// The payload, sent raw.
    pub payload: Bytes,
    /// Headers beyond the three every frame carries (e.g. `Rusk-Origin`).
    pub extra_headers: Vec<(String, String)>,
}

impl Event {
    /// An event with no extra headers.
    pub fn new(path: EventPath, content_type: impl Into<String>, payload: Bytes) -> Self {
        Self {
            path,
            content_type: content_type.into(),
            payload,
            extra_headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }
}

/// What one publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Sessions the frame was queued to.
    pub receivers: usize,
    /// Sessions closed with 4008 because the frame did not fit their queue.
    pub slow_consumers_closed: usize,
    /// The encoded frame's size in bytes.
    pub frame_len: usize,
}

/// Counters and gauges an adapter can expose (e.g. as Prometheus metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sessions open now.
    pub sessions_open: usize,
    /// Sessions opened since start.
    pub sessions_opened: u64,
    /// Subscriptions held now, over all sessions.
    pub subscriptions: usize,
    /// Events published.
    pub events_published: u64,
    /// Frames queued to sessions (one event to three sessions is three).
    pub frames_queued: u64,
    /// Frames handed to the adapter for sending (drained from outboxes).
    pub frames_delivered: u64,
    /// Bytes of frames queued now, over all sessions.
    pub bytes_queued: usize,
    /// (component, topic) keys in the subscription index now.
    pub index_topics: usize,
    /// Sessions closed, by reason, in [`CloseReason::ALL`] order.
    pub closed: [u64; 8],
}

impl Stats {
    /// Sessions closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed[reason.slot()]
    }
}

/// Why a publish failed; the event went to nobody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The frame could not be encoded (e.g. headers over the limit).
    #[error("cannot encode the event frame: {0}")]
    Encode(#[from] rues_wire::EncodeError),
}

/// Why a session-scoped call failed. These are the adapter's mistakes (a
/// session it never opened or already released), never the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No such session (never opened, or already closed).
    #[error("unknown or closed session {0}")]
    Unknown(SessionId),
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) subscriptions: HashSet<EventPath>,
    outbox: Outbox,
    last_seen: Instant,
    next_ping: Instant,
    /// The key this session has in `Node::timers`.
    timer: Instant,
}

/// The sans-IO RUES node: see the crate docs for the drive loop.
pub struct Node {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    ids: Box<dyn IdSource>,
    pub(crate) sessions: SessionMap<Session>,
    pub(crate) index: Index,
    /// One entry per session: its next keep-alive deadline. An entry may be
    /// early (activity moved the real deadline later); it is re-armed when
    /// it fires, which keeps activity O(1).
    timers: BTreeSet<(Instant, SessionId)>,
    outputs: VecDeque<Output>,
    /// Counters; `bytes_queued` and `frames_delivered` here cover released
    /// sessions only, the live ones are read from their outboxes.
    pub(crate) stats: Stats,
    pub(crate) version_header: HeaderValue,
    /// The node's version without pre-release tag, for non-strict matching.
    pub(crate) release_version: semver::Version,
    wire_limits: rues_wire::Limits,
    /// Reused receiver buffer, so publishing allocates nothing per event.
    scratch: Vec<SessionId>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("version", &self.config.version)
            .field("sessions", &self.sessions.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with this configuration, registry and session-id source.
    pub fn new(config: Config, registry: Registry, ids: impl IdSource + 'static) -> Self {
        let version_header = HeaderValue::from_str(&config.version.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0.0.0"));
        let mut release_version = config.version.clone();
        release_version.pre = semver::Prerelease::EMPTY;
        let wire_limits = rues_wire::Limits::new(config.limits.max_event_header);
        Self {
            config,
            registry,
            ids: Box::new(ids),
            sessions: SessionMap::default(),
            index: Index::default(),
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            version_header,
            release_version,
            wire_limits,
            scratch: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A snapshot of the counters. Reads every open session's outbox, so it
    /// costs O(sessions): fine for a metrics scrape, not for every event.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.sessions_open = self.sessions.len();
        stats.index_topics = self.index.topic_count();
        for session in self.sessions.values() {
            stats.bytes_queued += session.outbox.queued_bytes();
            stats.frames_delivered += session.outbox.delivered();
        }
        stats
    }

    /// Whether `session` is open.
    pub fn is_open(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The subscriptions `session` holds, in no particular order.
    pub fn subscriptions(&self, session: SessionId) -> impl Iterator<Item = &EventPath> {
        self.sessions
            .get(&session)
            .into_iter()
            .flat_map(|s| s.subscriptions.iter())
    }

    /// Opens a session without the upgrade checks: draws an id no live
    /// session has. Adapters normally use [`Node::handle_upgrade`], which
    /// checks the origin and the session limit first.
    pub(crate) fn open_session(&mut self, now: Instant) -> Result<SessionId, crate::IdSourceError> {
        let id = loop {
            let id = SessionId::from_bytes(self.ids.draw()?);
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let next_ping = now + self.config.limits.ping_interval;
        let timer = next_ping.min(now + self.config.limits.idle_timeout);
        self.sessions.insert(
            id,
            Session {
                subscriptions: HashSet::new(),
                outbox: Outbox::default(),
                last_seen: now,
                next_ping,
                timer,
            },
        );
        self.timers.insert((timer, id));
        self.stats.sessions_opened += 1;
        Ok(id)
    }

    /// Something arrived from the client (any frame: data, ping, pong). It
    /// counts as a sign of life; a frame over the inbound limit closes the
    /// session with 1009.
    pub fn handle_inbound(
        &mut self,
        session: SessionId,
        now: Instant,
        frame_len: usize,
    ) -> Result<(), SessionError> {
        let state = self
            .sessions
            .get_mut(&session)
            .ok_or(SessionError::Unknown(session))?;
        state.last_seen = now;
        if frame_len > self.config.limits.max_inbound_frame {
            self.close(session, CloseReason::MessageTooBig);
        }
        Ok(())
    }

    /// The socket is gone: the client closed it (`ClientClosed`) or it
    /// vanished (`Disconnected`). Releases the session at once; emits no
    /// output, since there is no socket left to act on. Closing an unknown
    /// session is a no-op, so adapters may call it unconditionally on exit.
    pub fn handle_closed(&mut self, session: SessionId, reason: CloseReason) {
        self.release(session, reason);
    }

    /// Closes every session with 1001 (graceful shutdown).
    pub fn shutdown(&mut self) {
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.close(session, CloseReason::Shutdown);
        }
    }

    /// When to call [`Node::handle_timeout`] next, if any session is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Time passed: pings sessions that are due and closes the idle ones
    /// with 4001.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ping_interval = self.config.limits.ping_interval;
        let idle_timeout = self.config.limits.idle_timeout;
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(session) = self.sessions.get_mut(&id) else {
                continue;
            };
            let idle_deadline = session.last_seen + idle_timeout;
            if now >= idle_deadline {
                self.close(id, CloseReason::IdleTimeout);
                continue;
            }
            if now >= session.next_ping {
                session.next_ping = now + ping_interval;
                self.outputs.push_back(Output::Ping(id));
            }
            session.timer = session.next_ping.min(idle_deadline);
            self.timers.insert((session.timer, id));
        }
    }

    /// The next thing the adapter must do, if any. Drain until `None` after
    /// every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The outbox of `session`: the queue its frames wait in, to hand to
    /// the task that writes its socket. That task drains it with
    /// [`Outbox::poll_drain`] without locking the node.
    pub fn outbox(&self, session: SessionId) -> Option<Outbox> {
        self.sessions.get(&session).map(|s| s.outbox.clone())
    }

    /// The next frame to send to `session`, oldest first; a shortcut for
    /// draining its [`Outbox`] one frame at a time. Each frame is the shared
    /// encoding of one event: send it as one Binary message.
    pub fn poll_transmit(&mut self, session: SessionId) -> Option<Bytes> {
        self.sessions.get(&session)?.outbox.pop()
    }

    /// Moves up to `max_bytes` of `session`'s queued frames (at least one, if
    /// any is queued) into `out`, oldest first; returns how many. A shortcut
    /// for [`Outbox::drain`].
    pub fn drain_transmit(
        &mut self,
        session: SessionId,
        max_bytes: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        self.sessions
            .get(&session)
            .map_or(0, |s| s.outbox.drain(max_bytes, out))
    }

    /// Bytes queued for `session` now.
    pub fn queued_bytes(&self, session: SessionId) -> Option<usize> {
        self.sessions.get(&session).map(|s| s.outbox.queued_bytes())
    }

    /// Publishes an event: encodes its frame once and queues that same
    /// `Bytes` to the outbox of every session whose subscriptions match, each
    /// once, waking the writers that wait on an empty outbox. Never waits: a
    /// session whose queue cannot take the frame is closed with 4008.
    pub fn publish(&mut self, event: &Event) -> Result<Published, PublishError> {
        let mut frame = Frame::new(
            event.path.to_string(),
            event.content_type.clone(),
            event.payload.clone(),
        );
        for (name, value) in &event.extra_headers {
            frame = frame.with_header(name.clone(), value.clone());
        }
        let encoded = frame.encode_with(&self.wire_limits)?;
        self.stats.events_published += 1;

        let mut receivers = std::mem::take(&mut self.scratch);
        receivers.clear();
        self.index.receivers(&event.path, &mut receivers);
        let mut published = Published {
            frame_len: encoded.len(),
            ..Published::default()
        };
        let max_queue = self.config.limits.max_queue_bytes;
        for &id in &receivers {
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            match session.outbox.push(&encoded, max_queue) {
                Pushed::Queued(waker) => {
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                    self.stats.frames_queued += 1;
                    published.receivers += 1;
                }
                Pushed::OverBudget => {
                    self.close(id, CloseReason::SlowConsumer);
                    published.slow_consumers_closed += 1;
                }
                // Released sessions leave the index with their outbox.
                Pushed::Closed => {}
            }
        }
        self.scratch = receivers;
        Ok(published)
    }

    /// Releases a session and tells the adapter to close its socket.
    pub(crate) fn close(&mut self, session: SessionId, reason: CloseReason) {
        if self.release(session, reason) {
            self.outputs.push_back(Output::Close { session, reason });
        }
    }

    /// Drops every trace of a session: subscriptions, index entries, queued
    /// frames, timer. Returns whether it was open.
    fn release(&mut self, id: SessionId, reason: CloseReason) -> bool {
        let Some(session) = self.sessions.remove(&id) else {
            return false;
        };
        for path in &session.subscriptions {
            self.index.remove(path, id);
        }
        self.stats.subscriptions -= session.subscriptions.len();
        let (_dropped, delivered) = session.outbox.close();
        self.stats.frames_delivered += delivered;
        self.timers.remove(&(session.timer, id));
        self.stats.closed[reason.slot()] += 1;
        true
    }
}
