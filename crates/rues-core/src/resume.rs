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
        if from.epoch != self.epoch || from.seq > last {
            // Another history's numbers, or more than this one ever had.
            self.stats.count_resume(ResumeResult::Reset);
            return (ResumeResult::Reset, last);
        }
        let seen = from.seq;
        let first = self.history.first(stream);
        // What the session's subscriptions of the stream deliver: each
        // matching event numbered after its `since`.
        let mut wildcard_since = None;
        let mut entity_since: HashMap<&Entity, u64> = HashMap::new();
        for (held, &since) in &state.subscriptions {
            if same_stream(held, path) {
                match held.entity() {
                    None => wildcard_since = Some(since),
                    Some(entity) => {
                        entity_since.insert(entity, since);
                    }
                }
            }
        }
        let delivered = |seq: u64, entry: &Entry| {
            wildcard_since.is_some_and(|since| since < seq)
                || entry
                    .entity
                    .as_ref()
                    .and_then(|entity| entity_since.get(entity))
                    .is_some_and(|&since| since < seq)
        };
        let matches = |entry: &Entry| {
            path.entity()
                .is_none_or(|entity| entry.entity.as_ref() == Some(entity))
        };
        // The newest number the session may hold: the newest kept event a
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
        // A subscription that delivers all `path` matches from `seen` on.
        let covers_all = wildcard_since
            .into_iter()
            .chain(
                path.entity()
                    .and_then(|entity| entity_since.get(entity).copied()),
            )
            .any(|since| since <= seen);
        // The last number lost; `seen` while nothing is.
        let mut lost = seen;

        // 1. Up to `queued` the session may hold frames already: nothing
        //    there can be replayed, and what matches and no subscription
        //    delivered is lost.
        if queued > seen && !covers_all {
            if first > seen + 1 {
                lost = lost.max((first - 1).min(queued));
            }
            if let Some((seq, _)) = self
                .history
                .entries(stream)
                .rev()
                .skip_while(|(seq, _)| *seq > queued)
                .take_while(|(seq, _)| *seq > seen)
                .find(|(seq, entry)| matches(entry) && !delivered(*seq, entry))
            {
                lost = lost.max(seq);
            }
        }
        // 2. After it, what the history no longer reaches is lost, and the
        //    rest is replayed, newest first as far as the queue's budget goes.
        let after = seen.max(queued);
        if first > after + 1 {
            lost = lost.max(first - 1);
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
            let len = entry.frame.len();
            // As for a live frame, an empty queue takes one frame whatever
            // its size.
            let fits = bytes + len <= budget || (replay.is_empty() && queued_bytes == 0);
            if !fits {
                lost = lost.max(seq);
                break;
            }
            bytes += len;
            replay.push(entry.frame.clone());
        }
        replay.reverse();
        let replayed = replay.len() as u64;
        if let Some(waker) = state.outbox.push_all(replay, bytes) {
            waker.wake();
        }
        self.stats.frames_queued += replayed;
        self.stats.frames_replayed += replayed;
        let result = if lost > seen {
            ResumeResult::Gap {
                replayed,
                first_lost: seen + 1,
                last_lost: lost,
            }
        } else {
            ResumeResult::Complete { replayed }
        };
        self.stats.count_resume(result);
        (result, lost)
    }
}
