//! The resume history the cluster's nodes share (docs/cluster.md, "Resume
//! at any node"): the numbers of NATS JetStream, the broker's own
//! persistence, so that nothing here has to agree on anything.
//!
//! Each RUES stream (component, topic) is one JetStream stream, created by
//! whichever node needs it first, with the same configuration on every
//! node: subjects `rues.ev.<component>.*.<topic>` (every entity's events
//! and none), the bounds of the nodes' own history (1 000 messages, 8 MiB
//! by default), the oldest discarded first, kept in the server's memory.
//! JetStream numbers what it stores; that number is the event's `Rues-Seq`
//! on every node, and the stream's creation time (nanoseconds since the
//! Unix epoch) its `Rues-Epoch`: a stream deleted or lost with its server
//! is created again, with a new epoch, and a resume across is a `reset`.
//!
//! - **Publishing.** A node's own events are not delivered locally at
//!   once ([`Backplane::take`](rues_warp::Backplane::take)): they are
//!   published to NATS, once their stream exists, and come back numbered.
//! - **Receiving.** While a local session wants some of a stream, the node
//!   reads it through an ordered consumer (ephemeral, new messages only, in
//!   order, recreated by the client after an outage from where it
//!   stopped) and delivers each message at its number
//!   ([`ClusterPort::deliver_at`](rues_warp::ClusterPort::deliver_at)).
//! - **Resuming.** Before a subscribe with `Rues-Resume` goes to the core,
//!   the node makes sure it receives the stream (so nothing published from
//!   then on is missed), then reads from JetStream what its own history
//!   lacks after the client's position and puts it in
//!   ([`ClusterPort::backfill`](rues_warp::ClusterPort::backfill)). The
//!   core then replays as on one node.
//!
//! Without JetStream on the server (creating a stream fails), a node
//! numbers each stream itself, as before: events still flow, and a resume
//! at another node is a `reset`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{Epoch, Event, Position};

use crate::Inner;
use crate::subject;

/// The bounds of each shared stream, and how long a backfill may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedHistory {
    /// Messages kept per stream (JetStream's `max_msgs`).
    pub max_events: usize,
    /// Bytes kept per stream (JetStream's `max_bytes`).
    pub max_bytes: usize,
    /// The longest a resume waits for the history it reads back.
    pub backfill_timeout: Duration,
}

impl Default for SharedHistory {
    /// The nodes' own defaults: 1 000 events or 8 MiB per stream; 2 s.
    fn default() -> Self {
        Self {
            max_events: 1000,
            max_bytes: 8 * 1024 * 1024,
            backfill_timeout: Duration::from_secs(2),
        }
    }
}

impl SharedHistory {
    /// These bounds per stream.
    pub fn per_stream(mut self, events: usize, bytes: usize) -> Self {
        self.max_events = events;
        self.max_bytes = bytes;
        self
    }
}

/// Resumes that may read the shared history back at once on one node;
/// past it, a resume is answered from the node's own history. Each holds
/// at most one stream's bound (8 MiB by default) while it reads.
pub const MAX_BACKFILLS: usize = 8;

/// A stream: its component and topic.
pub(crate) type StreamKey = (Component, Topic);

pub(crate) fn key(path: &EventPath) -> StreamKey {
    (path.component().clone(), path.topic().clone())
}

/// The JetStream stream of a RUES stream: `RUES_<n>_<component>_<topic>`,
/// the names as subject tokens and `n` the length of the component's, so
/// that no two RUES streams share a name.
pub fn stream_name(path: &EventPath) -> String {
    let component = subject::token(path.component().as_str());
    let topic = subject::token(path.topic().as_str());
    format!("RUES_{}_{component}_{topic}", component.len())
}

/// What a node knows of the shared streams.
#[derive(Default)]
pub(crate) struct Streams {
    /// Each stream known to exist, with the connection to NATS it was
    /// known on: a server that restarted may have lost it (memory
    /// storage), so a new connection asks again.
    known: HashMap<StreamKey, u64>,
    /// The connection on which the server said it has no JetStream: this
    /// node numbers streams itself until a new connection (to a server
    /// that may have it).
    unavailable: Option<u64>,
}

impl Inner {
    fn streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        self.streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this node numbers its events through JetStream (configured
    /// so, and the server has not refused).
    pub(crate) fn shares_history(&self) -> bool {
        self.config.shared_history.is_some()
            && self.streams().unavailable != Some(self.counters.connections())
    }

    /// The shared stream of `path`, created if it does not exist yet, and
    /// its epoch.
    pub(crate) async fn shared_stream(
        &self,
        path: &EventPath,
    ) -> Result<(jetstream::stream::Stream, Epoch), String> {
        let bounds = self.config.shared_history.unwrap_or_default();
        let config = jetstream::stream::Config {
            name: stream_name(path),
            subjects: vec![subject::interest_subject(&path.without_entity())],
            max_messages: i64::try_from(bounds.max_events).unwrap_or(i64::MAX),
            max_bytes: i64::try_from(bounds.max_bytes).unwrap_or(i64::MAX),
            discard: jetstream::stream::DiscardPolicy::Old,
            storage: jetstream::stream::StorageType::Memory,
            num_replicas: 1,
            ..Default::default()
        };
        let stream = match self.jetstream.get_or_create_stream(config).await {
            Ok(stream) => stream,
            Err(error) => {
                if matches!(
                    error.kind(),
                    jetstream::context::CreateStreamErrorKind::JetStreamUnavailable
                ) {
                    let connection = self.counters.connections();
                    if self.streams().unavailable.replace(connection) != Some(connection) {
                        tracing::warn!(
                            "NATS has no JetStream: each node numbers its streams itself, and a resume at another node is a reset"
                        );
                    }
                }
                return Err(error.to_string());
            }
        };
        // The answer that found or made the stream carries its creation.
        let created = stream.cached_info().created;
        let epoch = Epoch::new(u64::try_from(created.unix_timestamp_nanos()).unwrap_or(0));
        let connection = self.counters.connections();
        self.streams().known.insert(key(path), connection);
        Ok((stream, epoch))
    }

    /// Whether the stream of `path` is known to exist (its events may be
    /// published straight away).
    pub(crate) fn known_stream(&self, path: &EventPath) -> bool {
        let connection = self.counters.connections();
        self.streams().known.get(&key(path)) == Some(&connection)
    }
}

/// Reads the stream of `path` from now on and delivers each message here
/// at its number; `None` when JetStream cannot give it (the caller falls
/// back to a plain subscription).
///
/// The ordered consumer mends itself after an outage; when it cannot (the
/// server restarted and lost the stream, kept in memory), the task starts
/// a new one: from where it stopped if the stream is the same, from the
/// start of the new stream otherwise (a new epoch).
pub(crate) async fn consume(
    inner: &Arc<Inner>,
    path: &EventPath,
) -> Option<tokio::task::JoinHandle<()>> {
    // Bounded: the control task waits for it, and every later change of
    // the node (a new session's subject) waits behind it.
    let setup = async {
        let (stream, epoch) = inner.shared_stream(path).await?;
        let messages = ordered(&stream, DeliverPolicy::New).await?;
        Ok::<_, String>((messages, epoch))
    };
    let (mut messages, mut epoch) = match tokio::time::timeout(inner.config.settle_timeout, setup)
        .await
    {
        Ok(Ok(ready)) => ready,
        Ok(Err(error)) => {
            tracing::debug!(%path, %error, "no shared history for the stream: numbered here");
            return None;
        }
        Err(_) => {
            tracing::warn!(%path, "JetStream did not answer in time: the stream is numbered here");
            return None;
        }
    };
    let inner = inner.clone();
    let path = path.clone();
    Some(tokio::spawn(async move {
        let mut last = 0;
        let mut reconnected = inner.reconnected.clone();
        reconnected.mark_unchanged();
        loop {
            let mut failures = 0;
            loop {
                let message = tokio::select! {
                    message = messages.next() => message,
                    // A new connection: the server may have lost the
                    // stream and the consumer with it.
                    _ = reconnected.changed() => break,
                };
                let Some(message) = message else { break };
                match message {
                    Ok(message) => {
                        failures = 0;
                        let Ok(info) = message.info() else { continue };
                        last = info.stream_sequence;
                        let at = Position::new(epoch, last);
                        crate::interest::deliver(&inner, &message.message, Some(at));
                    }
                    Err(error) => {
                        // The consumer recreates itself after most
                        // (a missed heartbeat, a reconnect); a few in a
                        // row mean it cannot.
                        tracing::debug!(%path, %error, "shared history consumer");
                        failures += 1;
                        if failures >= RECREATE_AFTER {
                            break;
                        }
                    }
                }
            }
            messages = loop {
                tokio::time::sleep(RETRY).await;
                let Ok((stream, now)) = inner.shared_stream(&path).await else {
                    continue;
                };
                let from = if now == epoch {
                    DeliverPolicy::ByStartSequence {
                        start_sequence: last + 1,
                    }
                } else {
                    DeliverPolicy::All
                };
                if let Ok(messages) = ordered(&stream, from).await {
                    epoch = now;
                    break messages;
                }
            };
        }
    }))
}

/// Errors in a row after which a consumer is made anew.
const RECREATE_AFTER: usize = 3;

/// The wait before making a consumer anew.
const RETRY: Duration = Duration::from_millis(250);

/// An ordered consumer of `stream`, from `deliver`.
async fn ordered(
    stream: &jetstream::stream::Stream,
    deliver: DeliverPolicy,
) -> Result<pull::Ordered, String> {
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: deliver,
            ..Default::default()
        })
        .await
        .map_err(|error| error.to_string())?;
    consumer.messages().await.map_err(|error| error.to_string())
}

/// Puts into the node's history of the stream of `path` what the shared
/// one has after `from` (the client's position) and the node lacks. The
/// node must be receiving the stream already (see the module docs).
pub(crate) async fn backfill(inner: &Arc<Inner>, path: &EventPath, from: Position) {
    let bounds = inner.config.shared_history.unwrap_or_default();
    if inner.port.keeps_since(path, from) {
        // The node received the stream all along: its history replays it
        // all, and JetStream is not asked (a resume that is repeated costs
        // the broker nothing).
        return;
    }
    let read = async {
        let (mut stream, epoch) = inner.shared_stream(path).await?;
        if epoch != from.epoch {
            // Another history: the core answers `reset`.
            return Ok(0);
        }
        let last = stream
            .info()
            .await
            .map_err(|error| error.to_string())?
            .state
            .last_sequence;
        // From the older of the client's position and what this node has.
        let had = inner
            .port
            .stream_position(path)
            .filter(|position| position.epoch == epoch)
            .map_or(from.seq, |position| position.seq.min(from.seq));
        let max = u64::try_from(bounds.max_events).unwrap_or(u64::MAX);
        let start = (had + 1).max(last.saturating_sub(max) + 1);
        if start > last {
            // Nothing after it: the position is known, and current.
            return inner
                .port
                .backfill(path, epoch, last + 1, &[])
                .map(|()| 0)
                .map_err(|error| error.to_string());
        }
        let mut messages = ordered(
            &stream,
            DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
        )
        .await?;
        let mut first = 0;
        let mut events: Vec<Option<Event>> = Vec::new();
        let mut bytes = 0;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|error| error.to_string())?;
            let Ok(info) = message.info() else { continue };
            let seq = info.stream_sequence;
            if first == 0 || seq != first + events.len() as u64 {
                // The first, or after numbers JetStream no longer has:
                // only an unbroken run can go in.
                first = seq;
                events.clear();
                bytes = 0;
            }
            bytes += message.payload.len();
            if bytes > bounds.max_bytes {
                first = seq;
                events.clear();
                bytes = message.payload.len();
            }
            events.push(crate::interest::decode(&message.message));
            if seq >= last {
                break;
            }
        }
        inner
            .port
            .backfill(path, epoch, first, &events)
            .map(|()| events.len())
            .map_err(|error| error.to_string())
    };
    match tokio::time::timeout(bounds.backfill_timeout, read).await {
        Ok(Ok(events)) => inner.counters.backfill(Some(events)),
        Ok(Err(error)) => {
            inner.counters.backfill(None);
            tracing::warn!(%path, %error, "the shared history could not be read back");
        }
        Err(_) => {
            inner.counters.backfill(None);
            tracing::warn!(%path, "the shared history was not read back in time");
        }
    }
}
