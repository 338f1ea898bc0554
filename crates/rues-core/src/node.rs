//! The node: sessions, subscriptions, keep-alive and fan-out.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;
use http::header::HeaderValue;
use rues_target::EventPath;
use rues_wire::{
    CONTENT_LENGTH, CONTENT_LOCATION, Epoch, Frame, Headers, Position, RUES_EPOCH, RUES_GAP,
    RUES_SEQ, ResumeResult,
};

use crate::close::{CloseReason, ClosedCounts, SocketEnd};
use crate::cluster::Change;
use crate::config::Config;
use crate::history::{History, StreamId};
use crate::id::{IdSource, SessionMap};
use crate::index::Index;
use crate::outbox::{Outbox, Pushed};
use crate::registry::Registry;
use crate::resume::Marks;
use rues_wire::SessionId;

/// An event to publish: where it happened, and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's canonical location: entity-specific when it has an entity.
    pub path: EventPath,
    /// The payload's media type (`application/json`, `application/octet-stream`, ...).
    pub content_type: String,
    /// The payload, sent raw.
    pub payload: Bytes,
    /// Headers beyond the ones every frame carries (e.g. `Rusk-Origin`);
    /// `Rues-Seq` and `Rues-Epoch` are the node's to set.
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

/// What one publish (or gap notice) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Sessions the frame was queued to.
    pub receivers: usize,
    /// Sessions closed with 4008 because the frame did not fit their queue.
    pub slow_consumers_closed: usize,
    /// The encoded frame's size in bytes.
    pub frame_len: usize,
    /// The event's number in its stream (its `Rues-Seq`); for a gap
    /// notice, the number it took.
    pub seq: u64,
}

/// Counters and gauges an adapter can expose (e.g. as Prometheus metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Events kept in the resume history now, over all streams.
    pub history_events: usize,
    /// Bytes of frames kept in the resume history now (frames are shared
    /// with the outboxes that hold them: this is their size, once).
    pub history_bytes: usize,
    /// Streams (component, topic) that ever had an event: each holds its
    /// number and its history.
    pub history_streams: usize,
    /// Gap notices published ([`Node::publish_gap`]); their frames are
    /// counted in `frames_queued`, not in `events_published`.
    pub gaps_published: u64,
    /// Frames queued by resumes (also counted in `frames_queued`).
    pub frames_replayed: u64,
    /// Resumes that were `complete`.
    pub resumes_complete: u64,
    /// Resumes that were a `gap`.
    pub resumes_gap: u64,
    /// Resumes that were a `reset`.
    pub resumes_reset: u64,
    /// Sessions closed, by reason: read with [`Stats::closed`].
    closed: ClosedCounts,
}

impl Stats {
    /// Sessions closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed.get(reason)
    }

    pub(crate) fn count_resume(&mut self, result: ResumeResult) {
        match result {
            ResumeResult::Complete { .. } => self.resumes_complete += 1,
            ResumeResult::Gap { .. } => self.resumes_gap += 1,
            _ => self.resumes_reset += 1,
        }
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

/// What a subscription is sure to have queued to its session, as numbers
/// of its stream (for resume).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Since {
    /// Every event the subscription matches numbered after this is queued
    /// (live, or replayed by its resume).
    pub(crate) events: u64,
    /// The stream's newest number when the subscription was added: every
    /// gap notice numbered after this is queued (notices are never
    /// replayed, so a resume does not move this back).
    pub(crate) live: u64,
}

#[derive(Debug)]
pub(crate) struct Session {
    /// Each subscription, with what it is sure to have queued.
    pub(crate) subscriptions: HashMap<EventPath, Since>,
    /// What the session may hold of streams it no longer subscribes to.
    pub(crate) marks: Marks,
    /// The client address the session counts against, if the adapter knew it.
    client: Option<IpAddr>,
    pub(crate) outbox: Outbox,
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
    /// Open sessions per client address, for `max_sessions_per_client`;
    /// an address leaves the map with its last session.
    pub(crate) clients: HashMap<IpAddr, usize>,
    /// One entry per session: its next keep-alive deadline. An entry may be
    /// early (activity moved the real deadline later); it is re-armed when
    /// it fires, which keeps activity O(1).
    timers: BTreeSet<(Instant, SessionId)>,
    /// Counters; `bytes_queued` and `frames_delivered` here cover released
    /// sessions only, the live ones are read from their outboxes.
    pub(crate) stats: Stats,
    pub(crate) version_header: HeaderValue,
    /// The node's version without pre-release tag, for non-strict matching.
    pub(crate) release_version: semver::Version,
    wire_limits: rues_wire::Limits,
    /// Reused receiver buffer, so publishing allocates nothing per event.
    scratch: Vec<SessionId>,
    /// [`Node::shutdown`] was called: no new session opens.
    pub(crate) shutting_down: bool,
    /// What a cluster backplane has not been told yet, in order; always
    /// empty unless `config.cluster`.
    changes: Vec<Change>,
    /// Every stream's numbers and bounded history, for resume.
    pub(crate) history: History,
    /// The name of this node's history: drawn at creation.
    pub(crate) epoch: Epoch,
    /// `epoch` as the text of every frame's `Rues-Epoch`.
    epoch_text: String,
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
    pub fn new(mut config: Config, registry: Registry, ids: impl IdSource + 'static) -> Self {
        // Rules are decided on canonical entities, as requests are.
        config
            .access
            .canonicalise(|component, entity| registry.canonical_entity(component, entity));
        let version_header = HeaderValue::from_str(&config.version.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0.0.0"));
        let mut release_version = config.version.clone();
        release_version.pre = semver::Prerelease::EMPTY;
        let wire_limits = rues_wire::Limits::new(config.limits.max_event_header);
        let mut ids = ids;
        let epoch = Epoch::new(ids.draw().map_or_else(
            |_| fallback_epoch(),
            |bytes| {
                u64::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                ])
            },
        ));
        let history = History::new(config.history);
        Self {
            config,
            registry,
            ids: Box::new(ids),
            sessions: SessionMap::default(),
            index: Index::default(),
            clients: HashMap::new(),
            timers: BTreeSet::new(),
            stats: Stats::default(),
            version_header,
            release_version,
            wire_limits,
            scratch: Vec::new(),
            shutting_down: false,
            changes: Vec::new(),
            history,
            epoch,
            epoch_text: epoch.to_string(),
        }
    }

    /// The name of this node's history (every frame's `Rues-Epoch`): a new
    /// one for every `Node`, so numbers of an earlier life of the node are
    /// never taken for this one's.
    pub fn epoch(&self) -> Epoch {
        self.epoch
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
        stats.history_events = self.history.events();
        stats.history_bytes = self.history.bytes();
        stats.history_streams = self.history.streams();
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
            .flat_map(|s| s.subscriptions.keys())
    }

    /// The changes a cluster backplane must mirror since the last call, in
    /// the order they happened (docs/protocol.md §11). Always empty unless
    /// [`Config::cluster`] is set. An adapter drains them after every call
    /// that may change sessions or subscriptions (any `handle_*` and
    /// [`Node::publish`], which may close slow consumers).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Whether [`Node::take_changes`] has something to give.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Everything a backplane must know afresh after it lost its broker:
    /// the sessions open here and the paths they want, as changes.
    pub fn current_state(&self) -> Vec<Change> {
        self.sessions
            .keys()
            .map(|&id| Change::SessionOpened(id))
            .chain(self.index.wanted().into_iter().map(Change::InterestAdded))
            .collect()
    }

    /// Makes the node one of a cluster from now on ([`Config::cluster`])
    /// and gives what its backplane must know first, as
    /// [`Node::current_state`] does; later changes come from
    /// [`Node::take_changes`].
    pub fn enter_cluster(&mut self) -> Vec<Change> {
        self.config.cluster = true;
        self.changes.clear();
        self.current_state()
    }

    /// Records a change for the backplane, in a cluster only.
    pub(crate) fn record(&mut self, change: impl FnOnce() -> Change) {
        if self.config.cluster {
            self.changes.push(change());
        }
    }

    /// Opens a session without the upgrade checks: draws an id no live
    /// session has. Adapters normally use [`Node::handle_upgrade`], which
    /// checks the origin and the session limit first.
    pub(crate) fn open_session(
        &mut self,
        now: Instant,
        client: Option<IpAddr>,
    ) -> Result<(SessionId, Outbox), crate::IdSourceError> {
        let id = loop {
            let id = SessionId::from_bytes(self.ids.draw()?);
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let next_ping = now + self.config.limits.ping_interval;
        let timer = next_ping.min(now + self.config.limits.idle_timeout);
        let outbox = Outbox::default();
        self.sessions.insert(
            id,
            Session {
                subscriptions: HashMap::new(),
                marks: Marks::default(),
                client,
                outbox: outbox.clone(),
                last_seen: now,
                next_ping,
                timer,
            },
        );
        self.timers.insert((timer, id));
        if let Some(client) = client {
            *self.clients.entry(client).or_default() += 1;
        }
        self.stats.sessions_opened += 1;
        self.record(|| Change::SessionOpened(id));
        Ok((id, outbox))
    }

    /// Something arrived from the client (any frame: data, ping, pong): a
    /// sign of life, which keeps the session from its idle timeout.
    pub fn handle_inbound(&mut self, session: SessionId, now: Instant) {
        if let Some(state) = self.sessions.get_mut(&session) {
            state.last_seen = now;
        }
    }

    /// The socket is gone, or the adapter's WebSocket layer gave up on it
    /// ([`SocketEnd`]). Releases the session at once; its writer's outbox
    /// then yields [`Transmit::Close`](crate::Transmit::Close) with the
    /// reason the core decided (1009 for a frame over the inbound limit,
    /// 1002 for a protocol violation, no code when the client closed or the
    /// socket vanished).
    pub fn handle_closed(&mut self, session: SessionId, end: SocketEnd) {
        self.close(session, end.reason());
    }

    /// Whether [`Node::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Closes every session with 1001 (graceful shutdown); from then on,
    /// upgrades are refused with 503.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.close(session, CloseReason::Shutdown);
        }
    }

    /// When to call [`Node::handle_timeout`] next, if any session is open.
    ///
    /// The deadline moves earlier only when a session opens
    /// ([`Node::handle_upgrade`]) and may move either way after
    /// [`Node::handle_timeout`]; every other call leaves it or moves it
    /// later (activity only pushes a session's real deadline back, and the
    /// timer entry is re-armed when it fires). So an adapter re-reads it
    /// after those two calls, and a wake-up at an old deadline costs one
    /// call that does nothing.
    pub fn next_timeout(&self) -> Option<Instant> {
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
                session.outbox.request_ping();
            }
            session.timer = session.next_ping.min(idle_deadline);
            self.timers.insert((session.timer, id));
        }
    }

    /// Publishes an event: numbers it in its stream, encodes its frame once
    /// (with `Rues-Seq` and `Rues-Epoch`), keeps that `Bytes` in the
    /// stream's history and queues the same `Bytes` to the outbox of every
    /// session whose subscriptions match, each once, waking the writers that
    /// wait on an empty outbox. Never waits: a session whose queue cannot
    /// take the frame is closed with 4008.
    ///
    /// A stream whose events came numbered from elsewhere
    /// ([`publish_at`](Self::publish_at)) is numbered by the node again
    /// from here on, under the node's epoch, its numbers going on from the
    /// newest.
    pub fn publish(&mut self, event: &Event) -> Result<Published, PublishError> {
        let stream = self.history.stream(&event.path);
        let last = self.history.last(stream);
        if self.history.epoch(stream).is_some() {
            self.history.renumber(stream, None, last);
        }
        self.publish_numbered(stream, event, last + 1)
    }

    /// Publishes an event numbered elsewhere: at `at`, a position of a
    /// history shared by several nodes (a cluster's, docs/cluster.md), so
    /// that every node gives the event the same `Rues-Seq` and `Rues-Epoch`
    /// and a client may resume at any of them. As [`publish`](Self::publish)
    /// otherwise.
    ///
    /// Numbers arrive in order: one the stream has had already is not
    /// published again (a duplicate: nothing is queued, `receivers` is 0);
    /// one past the next, or of another epoch, starts the stream's history
    /// afresh from it, and a resume from before it cannot be complete.
    pub fn publish_at(&mut self, event: &Event, at: Position) -> Result<Published, PublishError> {
        let stream = self.history.stream(&event.path);
        if !self.number_at(stream, &event.path, at) {
            return Ok(Published {
                seq: at.seq,
                ..Published::default()
            });
        }
        self.publish_numbered(stream, event, at.seq)
    }

    /// Makes `at` the next number of `stream`, if it is not one the stream
    /// had: `false` for a duplicate.
    fn number_at(&mut self, stream: StreamId, path: &EventPath, at: Position) -> bool {
        let last = self.history.last(stream);
        if self.stream_epoch(stream) != at.epoch {
            self.renumber(stream, path, at.epoch, at.seq.saturating_sub(1));
        } else if at.seq <= last {
            return false;
        } else if at.seq > last + 1 {
            self.history.renumber(stream, Some(at.epoch), at.seq - 1);
        }
        true
    }

    /// Moves `stream` to another numbering whose newest number is `last`.
    /// Numbers may go back then: what a session's subscriptions say they
    /// have queued is brought down to `last`, so that a resume under the
    /// new numbering does not take old numbers for new ones.
    fn renumber(&mut self, stream: StreamId, path: &EventPath, epoch: Epoch, last: u64) {
        let old_last = self.history.last(stream);
        self.history.renumber(stream, Some(epoch), last);
        if last >= old_last {
            return;
        }
        let mut receivers = std::mem::take(&mut self.scratch);
        receivers.clear();
        self.index.stream_sessions(path, &mut receivers);
        for id in &receivers {
            let Some(session) = self.sessions.get_mut(id) else {
                continue;
            };
            for (held, since) in &mut session.subscriptions {
                if held.component() == path.component() && held.topic() == path.topic() {
                    since.events = since.events.min(last);
                    since.live = since.live.min(last);
                }
            }
        }
        self.scratch = receivers;
    }

    /// The epoch `stream`'s numbers belong to.
    pub(crate) fn stream_epoch(&self, stream: StreamId) -> Epoch {
        self.history
            .epoch(stream)
            .map_or(self.epoch, |(epoch, _)| *epoch)
    }

    /// The newest position of the stream of `path` (component, topic; an
    /// entity in it is not looked at): its epoch and newest number. `None`
    /// before its first event here.
    pub fn stream_position(&self, path: &EventPath) -> Option<Position> {
        let stream = self.history.find(path)?;
        Some(Position::new(
            self.stream_epoch(stream),
            self.history.last(stream),
        ))
    }

    /// Whether this node's history of the stream of `path` holds every
    /// number after `from`: the same epoch, kept from `from.seq + 1` to the
    /// newest. Then a resume from `from` needs nothing from elsewhere.
    pub fn keeps_since(&self, path: &EventPath, from: Position) -> bool {
        self.history.find(path).is_some_and(|stream| {
            self.stream_epoch(stream) == from.epoch
                && self.history.first(stream) <= from.seq + 1
                && from.seq <= self.history.last(stream)
        })
    }

    /// Encodes `event` as the frame numbered `seq` of `stream`, keeps it
    /// and queues it to the sessions it matches.
    fn publish_numbered(
        &mut self,
        stream: StreamId,
        event: &Event,
        seq: u64,
    ) -> Result<Published, PublishError> {
        let encoded = self.encode_numbered(stream, event, seq)?;
        self.history.record(stream, event.path.entity(), &encoded);
        self.stats.events_published += 1;

        Ok(self.fan_out(&encoded, seq, |index, receivers| {
            index.receivers(&event.path, receivers);
        }))
    }

    /// The frame of `event` numbered `seq` in `stream`'s numbering.
    fn encode_numbered(
        &self,
        stream: StreamId,
        event: &Event,
        seq: u64,
    ) -> Result<Bytes, PublishError> {
        let mut frame = Frame::new(
            event.path.to_string(),
            event.content_type.clone(),
            event.payload.clone(),
        );
        for (name, value) in &event.extra_headers {
            frame = frame.with_header(name.clone(), value.clone());
        }
        // Set last, so that an application's header of the same name
        // cannot stand in for the node's.
        let frame = frame
            .with_header(RUES_SEQ, seq.to_string())
            .with_header(RUES_EPOCH, self.epoch_text(stream).to_owned());
        Ok(frame.encode_with(&self.wire_limits)?)
    }

    /// The `Rues-Epoch` of `stream`'s frames.
    fn epoch_text(&self, stream: StreamId) -> &str {
        self.history
            .epoch(stream)
            .map_or(&self.epoch_text, |(_, text)| text)
    }

    /// Puts back in the history of the stream of `path` (component,
    /// topic) events of a shared numbering (`epoch`) that the node did not
    /// have: `events[i]` is number `first + i`, `None` for a gap notice's
    /// number (a hole). For a cluster node about to resume a session from
    /// an older position than its own history reaches (docs/cluster.md).
    ///
    /// Those older than what the stream keeps go in front of it, if they
    /// reach it without a hole; those newer than its newest are published
    /// as [`publish_at`](Self::publish_at) would (live sessions get them),
    /// so that numbers stay in order for everyone; the others it has.
    ///
    /// # Errors
    ///
    /// [`PublishError::Encode`] when an event cannot be framed; what came
    /// before it is in.
    pub fn backfill(
        &mut self,
        path: &EventPath,
        epoch: Epoch,
        first: u64,
        events: &[Option<Event>],
    ) -> Result<(), PublishError> {
        if first == 0 {
            return Ok(());
        }
        let stream = self.history.stream(path);
        if self.stream_epoch(stream) != epoch {
            self.renumber(stream, path, epoch, first - 1);
        }
        let front = self.history.first(stream);
        let last = self.history.last(stream);
        let mut older = Vec::new();
        for (at, event) in (first..).zip(events) {
            if at < front {
                older.push(match event {
                    Some(event) => (
                        event.path.entity().cloned(),
                        Some(self.encode_numbered(stream, event, at)?),
                    ),
                    None => (None, None),
                });
            } else if at > last {
                let position = Position::new(epoch, at);
                match event {
                    Some(event) => self.publish_at(event, position)?,
                    None => self.publish_gap_at(path, LOST_BEFORE_THIS_NODE, position)?,
                };
            }
        }
        // Older events that do not reach the kept ones are left out: a
        // resume that needs them is a gap.
        self.history.prepend(stream, first, older);
        Ok(())
    }

    /// Says that events of a stream were lost before they reached the node
    /// (a relay lost its upstream for a while, docs/protocol.md §10 and
    /// §12): takes the stream's next number for them, keeps it in the
    /// history as a hole, and queues one notice frame to every session with
    /// any subscription on the stream (wildcard or entity), each once.
    ///
    /// `stream` names the stream, (component, topic); an entity in it is
    /// not looked at. The notice has `Content-Location: /on/<component>/
    /// <topic>`, `Content-Length: 0`, `Rues-Seq` (the number taken),
    /// `Rues-Epoch`, `Rues-Gap: <reason>`, and no payload; it is encoded
    /// once, shared, and counted against each session's queue as any frame
    /// (4008 past the budget). A later resume from before that number
    /// answers a `gap` that covers it, one from it or later `complete`.
    ///
    /// # Errors
    ///
    /// [`PublishError::Encode`] when the notice's headers are over the
    /// event header limit (a `reason` too long): nothing is numbered or
    /// sent then.
    pub fn publish_gap(
        &mut self,
        stream: &EventPath,
        reason: &str,
    ) -> Result<Published, PublishError> {
        let location = stream.without_entity();
        let id = self.history.stream(&location);
        let last = self.history.last(id);
        if self.history.epoch(id).is_some() {
            self.history.renumber(id, None, last);
        }
        self.publish_gap_numbered(id, &location, reason, last + 1)
    }

    /// [`publish_gap`](Self::publish_gap) for a notice numbered elsewhere,
    /// at `at` of a shared history, with the rules of
    /// [`publish_at`](Self::publish_at).
    ///
    /// # Errors
    ///
    /// As [`publish_gap`](Self::publish_gap).
    pub fn publish_gap_at(
        &mut self,
        stream: &EventPath,
        reason: &str,
        at: Position,
    ) -> Result<Published, PublishError> {
        let location = stream.without_entity();
        let id = self.history.stream(&location);
        if !self.number_at(id, &location, at) {
            return Ok(Published {
                seq: at.seq,
                ..Published::default()
            });
        }
        self.publish_gap_numbered(id, &location, reason, at.seq)
    }

    fn publish_gap_numbered(
        &mut self,
        id: StreamId,
        location: &EventPath,
        reason: &str,
        seq: u64,
    ) -> Result<Published, PublishError> {
        let mut headers = Headers::new();
        headers.insert(CONTENT_LOCATION, location.to_string());
        headers.insert(CONTENT_LENGTH, "0");
        headers.insert(RUES_SEQ, seq.to_string());
        headers.insert(RUES_EPOCH, self.epoch_text(id).to_owned());
        headers.insert(RUES_GAP, reason);
        let encoded = Frame::from_parts(headers, Bytes::new()).encode_with(&self.wire_limits)?;
        self.history.record_hole(id);
        self.stats.gaps_published += 1;

        Ok(self.fan_out(&encoded, seq, |index, receivers| {
            index.stream_sessions(location, receivers);
        }))
    }

    /// Queues `encoded`, the frame numbered `seq`, to the sessions `find`
    /// lists from the index, and says how it went.
    fn fan_out(
        &mut self,
        encoded: &Bytes,
        seq: u64,
        find: impl FnOnce(&Index, &mut Vec<SessionId>),
    ) -> Published {
        // The receivers' list is reused from call to call: no allocation
        // per publish once it has grown.
        let mut receivers = std::mem::take(&mut self.scratch);
        receivers.clear();
        find(&self.index, &mut receivers);
        let mut published = Published {
            frame_len: encoded.len(),
            seq,
            ..Published::default()
        };
        self.queue_to(encoded, &receivers, &mut published);
        self.scratch = receivers;
        published
    }

    /// Queues `encoded` to each of `receivers` (each listed once), waking
    /// the writers that wait on an empty outbox; closes with 4008 those
    /// whose queue cannot take it.
    fn queue_to(&mut self, encoded: &Bytes, receivers: &[SessionId], published: &mut Published) {
        let max_queue = self.config.limits.max_queue_bytes;
        for &id in receivers {
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            match session.outbox.push(encoded, max_queue) {
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
    }

    /// Releases a session: drops every trace of it (subscriptions, index
    /// entries, queued frames, timer) and closes its outbox with `reason`,
    /// which wakes its writer. A session already released is left alone.
    pub(crate) fn close(&mut self, id: SessionId, reason: CloseReason) {
        let Some(session) = self.sessions.remove(&id) else {
            return;
        };
        for path in session.subscriptions.keys() {
            if self.index.remove(path, id) {
                self.record(|| Change::InterestDropped(path.clone()));
            }
        }
        self.stats.subscriptions -= session.subscriptions.len();
        if let Some(client) = session.client {
            if let std::collections::hash_map::Entry::Occupied(mut count) =
                self.clients.entry(client)
            {
                *count.get_mut() -= 1;
                if *count.get() == 0 {
                    count.remove();
                }
            }
        }
        self.stats.frames_delivered += session.outbox.close(reason);
        self.timers.remove(&(session.timer, id));
        self.stats.closed.count(reason);
        self.record(|| Change::SessionClosed(id));
    }
}

/// The reason of a gap notice put back by [`Node::backfill`] for a number
/// that stands for lost events.
const LOST_BEFORE_THIS_NODE: &str = "events lost before they reached the cluster";

/// An epoch when the id source fails at creation (the OS CSPRNG is
/// unavailable): std's per-process random hash keys, which differ between
/// lives of the node as an epoch must.
fn fallback_epoch() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}
