//! `Rues-Resume` on a subscribe: replaying a stream's history into a
//! session's outbox before its live events (docs/protocol.md, "Resume").
//!
//! The replay is queued by the same call that adds the subscription, under
//! the node's `&mut self`: no event can be published between the two, so
//! every replayed frame comes before every live one and none is both.
//!
//! What the session may already have been queued on the stream (through
//! another subscription of it, or one it dropped, or an earlier resume) is
//! never queued again, and nothing is queued behind a frame with a greater
//! number: per session and stream the numbers only grow, which is what lets
//! a client resume from the last number it saw. So a resume replays only
//! after the newest number the session may hold, and reports as lost every
//! event before it that matches and that no subscription of the session
//! was sure to have delivered.
//!
//! A hole (a number [`Node::publish_gap`] took for events the node never
//! had) matches every subscription of its stream and is never replayed: a
//! resume across it reports it lost, unless the session was sent its
//! notice live.

use std::collections::HashMap;

use bytes::Bytes;
use rues_target::{Entity, EventPath};
use rues_wire::{Position, ResumeResult, SessionId};

use crate::history::{Entry, StreamId};
use crate::node::Node;

/// Per session, for each stream it dropped its last subscription of: the
/// stream's newest number then, so that a later resume knows what the
/// session may hold. Bounded: past `cap` streams the oldest mark is
/// forgotten, and from then on a stream without a mark is taken as fully
/// held (a resume there replays nothing and reports what it cannot know).
#[derive(Debug, Default)]
pub(crate) struct Marks {
    marks: Vec<(StreamId, u64)>,
    forgot: bool,
}

impl Marks {
    /// The newest number of `stream` the session may hold, as far as the
    /// marks know; `last` is the stream's newest.
    fn floor(&self, stream: StreamId, last: u64) -> u64 {
        match self.marks.iter().find(|(s, _)| *s == stream) {
            Some(&(_, seq)) => seq,
            None if self.forgot => last,
            None => 0,
        }
    }

    /// Records that the session may hold `stream`'s numbers up to `seq`.
    pub(crate) fn set(&mut self, stream: StreamId, seq: u64, cap: usize) {
        if let Some(mark) = self.marks.iter_mut().find(|(s, _)| *s == stream) {
            mark.1 = mark.1.max(seq);
            return;
        }
        if self.marks.len() >= cap.max(1) {
            self.marks.remove(0);
            self.forgot = true;
        }
        self.marks.push((stream, seq));
    }
}

fn same_stream(a: &EventPath, b: &EventPath) -> bool {
    a.component() == b.component() && a.topic() == b.topic()
}

impl Node {
    /// The stream's newest number for a subscription to `path` now (0 when
    /// nothing was ever published there).
    pub(crate) fn stream_last(&self, path: &EventPath) -> u64 {
        self.history
            .find(path)
            .map_or(0, |stream| self.history.last(stream))
    }

    /// Resumes `session`'s subscription to `path` from `from`, the last
    /// event its client saw: queues the events it missed that are still
    /// known and fit its queue, and says what happened. Also gives the
    /// number after which every event matching `path` is queued to the
    /// session (the subscription's `since`).
    pub(crate) fn resume(
        &mut self,
        session: SessionId,
        path: &EventPath,
        from: Position,
    ) -> (ResumeResult, u64) {
        let last = self.stream_last(path);
        let stream = self.history.find(path);
        let (Some(stream), Some(state)) = (stream, self.sessions.get(&session)) else {
            // Nothing was ever published here: only "before the first" is
            // a position of this history.
            let result = if from.epoch == self.epoch && from.seq == 0 {
                ResumeResult::Complete { replayed: 0 }
            } else {
                ResumeResult::Reset
            };
            self.stats.count_resume(result);
            return (result, last);
        };
        if from.epoch != self.stream_epoch(stream) || from.seq > last {
            // Another history's numbers, or more than this one ever had.
            self.stats.count_resume(ResumeResult::Reset);
            return (ResumeResult::Reset, last);
        }
        let seen = from.seq;
        let first = self.history.first(stream);
        // What the session's subscriptions of the stream deliver: each
        // matching event numbered after its `events`, and every gap notice
        // numbered after the oldest `live`.
        let mut wildcard_since = None;
        let mut entity_since: HashMap<&Entity, u64> = HashMap::new();
        let mut live_since: Option<u64> = None;
        for (held, since) in &state.subscriptions {
            if same_stream(held, path) {
                live_since = Some(live_since.map_or(since.live, |live| live.min(since.live)));
                match held.entity() {
                    None => wildcard_since = Some(since.events),
                    Some(entity) => {
                        entity_since.insert(entity, since.events);
                    }
                }
            }
        }
        let delivered = |seq: u64, entry: &Entry| match entry.frame {
            None => live_since.is_some_and(|live| live < seq),
            Some(_) => {
                wildcard_since.is_some_and(|since| since < seq)
                    || entry
                        .entity
                        .as_ref()
                        .and_then(|entity| entity_since.get(entity))
                        .is_some_and(|&since| since < seq)
            }
        };
        // A hole matches every subscription of its stream.
        let matches = |entry: &Entry| {
            entry.frame.is_none()
                || path
                    .entity()
                    .is_none_or(|entity| entry.entity.as_ref() == Some(entity))
        };
        // The newest number the session may hold: the newest kept entry a
        // subscription delivered, or, when the history no longer reaches
        // back to a subscription's start, all it dropped; and what dropped
        // subscriptions may have left.
        let oldest_since = wildcard_since
            .into_iter()
            .chain(entity_since.values().copied())
            .min();
        let newest_delivered = self
            .history
            .entries(stream)
            .rev()
            .find(|(seq, entry)| delivered(*seq, entry))
            .map(|(seq, _)| seq);
        let queued = newest_delivered
            .or_else(|| {
                oldest_since
                    .filter(|&since| since + 1 < first)
                    .map(|_| first - 1)
            })
            .unwrap_or(0)
            .max(state.marks.floor(stream, last));
        // A subscription that delivers all `path`'s events from `seen` on.
        let covers_all = wildcard_since
            .into_iter()
            .chain(
                path.entity()
                    .and_then(|entity| entity_since.get(entity).copied()),
            )
            .any(|since| since <= seen);
        // What is lost, as one range: every event the node cannot deliver
        // lies in it (with several holes apart, events between are inside
        // it though replayed). Only holes leave the start of the range
        // past `seen` + 1: every other loss is of the oldest numbers.
        let mut lost = Lost::new(seen);

        // 1. Up to `queued` the session may hold frames already: nothing
        //    there can be replayed, and what matches and no subscription
        //    delivered is lost; so is each hole whose notice the session
        //    was not sent.
        if queued > seen {
            if first > seen + 1 {
                if !covers_all {
                    lost.events((first - 1).min(queued));
                } else if let Some(live) = live_since {
                    // A subscription delivered every event there, but
                    // holes the history no longer shows may lie where no
                    // notice was sure to be sent.
                    let unsure = (first - 1)
                        .min(queued)
                        .min(live)
                        .min(self.history.last_hole(stream));
                    lost.events(unsure);
                }
            }
            let mut newest_event = None;
            for (seq, entry) in self
                .history
                .entries(stream)
                .rev()
                .skip_while(|(seq, _)| *seq > queued)
                .take_while(|(seq, _)| *seq > seen)
            {
                if !matches(entry) || delivered(seq, entry) {
                    continue;
                }
                if entry.frame.is_none() {
                    lost.hole(seq);
                } else if !covers_all && newest_event.is_none() {
                    newest_event = Some(seq);
                }
            }
            if let Some(seq) = newest_event {
                lost.events(seq);
            }
        }
        // 2. After it, what the history no longer reaches is lost, and the
        //    rest is replayed, newest first as far as the queue's budget
        //    goes; holes are lost (their notices are not replayed).
        let after = seen.max(queued);
        if first > after + 1 {
            lost.events(first - 1);
        }
        let queued_bytes = state.outbox.queued_bytes();
        let budget = self
            .config
            .limits
            .max_queue_bytes
            .saturating_sub(queued_bytes);
        let mut replay: Vec<Bytes> = Vec::new();
        let mut bytes = 0usize;
        for (seq, entry) in self
            .history
            .entries(stream)
            .rev()
            .take_while(|(seq, _)| *seq > after)
            .filter(|(_, entry)| matches(entry))
        {
            let Some(frame) = &entry.frame else {
                lost.hole(seq);
                continue;
            };
            let len = frame.len();
            // As for a live frame, an empty queue takes one frame whatever
            // its size.
            let fits = bytes + len <= budget || (replay.is_empty() && queued_bytes == 0);
            if !fits {
                lost.events(seq);
                break;
            }
            bytes += len;
            replay.push(frame.clone());
        }
        replay.reverse();
        let replayed = replay.len() as u64;
        if let Some(waker) = state.outbox.push_all(replay, bytes) {
            waker.wake();
        }
        self.stats.frames_queued += replayed;
        self.stats.frames_replayed += replayed;
        let result = match lost.range {
            Some((first_lost, last_lost)) => ResumeResult::Gap {
                replayed,
                first_lost,
                last_lost,
            },
            None => ResumeResult::Complete { replayed },
        };
        self.stats.count_resume(result);
        (result, lost.events_since)
    }
}

/// What a resume found lost.
struct Lost {
    seen: u64,
    /// The range to report, if anything is lost.
    range: Option<(u64, u64)>,
    /// The number after which every event the subscription matches is
    /// queued: `seen`, or the last event (not hole) lost.
    events_since: u64,
}

impl Lost {
    fn new(seen: u64) -> Self {
        Self {
            seen,
            range: None,
            events_since: seen,
        }
    }

    fn widen(&mut self, first: u64, last: u64) {
        self.range = Some(match self.range {
            Some((a, b)) => (a.min(first), b.max(last)),
            None => (first, last),
        });
    }

    /// Events numbered `seen + 1 ..= last` may be lost.
    fn events(&mut self, last: u64) {
        if last > self.seen {
            self.widen(self.seen + 1, last);
            self.events_since = self.events_since.max(last);
        }
    }

    /// The hole numbered `seq` is lost.
    fn hole(&mut self, seq: u64) {
        if seq > self.seen {
            self.widen(seq, seq);
        }
    }
}
