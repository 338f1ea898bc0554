//! The bounded history of each stream, for resume after reconnect
//! (docs/protocol.md, "Resume").
//!
//! A stream is one (component, topic). Every event published on it gets the
//! next number of that stream (from 1), and its encoded frame, the same
//! `Bytes` every receiving session was handed, is kept here while the
//! bounds allow: so a history costs one reference per event, never a copy
//! per session. What a stream keeps is always a contiguous run ending with
//! its newest event; when a bound is passed the oldest events go first
//! (the node's oldest first for the node-wide bound), so "numbers from F
//! on" is all a resume needs to know of what the bounds dropped.
//!
//! A number may also stand for events the node never had (a relay that
//! lost its upstream, [`Node::publish_gap`](crate::Node::publish_gap)): it
//! is kept as a *hole*, an entry without frame, so that a resume across it
//! reports it lost. A hole counts as one entry and no bytes.
//!
//! A stream is numbered by the node (under the node's epoch) unless its
//! events come numbered from elsewhere (a cluster's shared history,
//! [`Node::publish_at`](crate::Node::publish_at)): then it carries the
//! epoch of that numbering. A change of numbering, or numbers that jump,
//! start the stream's run afresh ([`History::renumber`]); older events of
//! the same numbering can be put back in front of the run
//! ([`History::prepend`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use rues_target::{Component, Entity, EventPath, Topic};
use rues_wire::Epoch;

/// How much history a node keeps (docs/protocol.md, "Resume"). A stream
/// keeps at most `max_events_per_stream` events and
/// `max_bytes_per_stream` bytes of frames; all streams together at most
/// `max_total_bytes`. Any bound at 0 keeps no history at all: events are
/// still numbered, and every resume that needs a replay is a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryLimits {
    /// Events kept per stream.
    pub max_events_per_stream: usize,
    /// Bytes of encoded frames kept per stream.
    pub max_bytes_per_stream: usize,
    /// Bytes of encoded frames kept over every stream of the node.
    pub max_total_bytes: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            max_events_per_stream: 1000,
            max_bytes_per_stream: 8 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

impl HistoryLimits {
    /// Limits that keep no history (numbers only).
    pub fn off() -> Self {
        Self {
            max_events_per_stream: 0,
            max_bytes_per_stream: 0,
            max_total_bytes: 0,
        }
    }

    /// These limits with other per-stream bounds.
    pub fn per_stream(mut self, events: usize, bytes: usize) -> Self {
        self.max_events_per_stream = events;
        self.max_bytes_per_stream = bytes;
        self
    }

    /// These limits with another node-wide bound.
    pub fn total(mut self, bytes: usize) -> Self {
        self.max_total_bytes = bytes;
        self
    }

    /// Whether a frame of `len` bytes (0 for a hole) can be kept at all.
    fn keeps(&self, len: usize) -> bool {
        // Any bound at 0 keeps nothing, holes included.
        self.max_events_per_stream > 0
            && self.max_bytes_per_stream > 0
            && self.max_total_bytes > 0
            && len <= self.max_bytes_per_stream
            && len <= self.max_total_bytes
    }
}

/// A stream's index in [`History`]; streams are never removed (their
/// numbers must not restart), and only the application creates them, by
/// publishing.
pub(crate) type StreamId = usize;

/// One kept event, or a hole.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Publish order over the whole node, for the node-wide bound.
    ordinal: u64,
    pub(crate) entity: Option<Entity>,
    /// The frame as sent; `None` for a hole (events lost before they
    /// reached the node), which matches every subscription of its stream.
    pub(crate) frame: Option<Bytes>,
}

impl Entry {
    /// What the entry counts against the byte bounds.
    fn len(&self) -> usize {
        self.frame.as_ref().map_or(0, Bytes::len)
    }
}

#[derive(Debug, Default)]
struct Stream {
    /// The numbering the stream's numbers belong to, and its text, when it
    /// is not the node's own.
    epoch: Option<(Epoch, String)>,
    /// The number of the stream's newest event; 0 before the first.
    last: u64,
    /// The number of the stream's newest hole, kept or not; 0 for none.
    last_hole: u64,
    entries: VecDeque<Entry>,
    bytes: usize,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    limits: HistoryLimits,
    ids: HashMap<Component, HashMap<Topic, StreamId>>,
    streams: Vec<Stream>,
    /// Each stream that keeps something, under the ordinal of its oldest
    /// entry: the first is where the node's oldest event is.
    oldest: BTreeMap<u64, StreamId>,
    next_ordinal: u64,
    bytes: usize,
    events: usize,
}

impl History {
    pub(crate) fn new(limits: HistoryLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The stream of `path`, if an event was ever published on it.
    pub(crate) fn find(&self, path: &EventPath) -> Option<StreamId> {
        self.ids
            .get(path.component())
            .and_then(|topics| topics.get(path.topic()))
            .copied()
    }

    /// The stream of `path`, created when it is the first event there.
    pub(crate) fn stream(&mut self, path: &EventPath) -> StreamId {
        if let Some(id) = self.find(path) {
            return id;
        }
        let id = self.streams.len();
        self.streams.push(Stream::default());
        self.ids
            .entry(path.component().clone())
            .or_default()
            .insert(path.topic().clone(), id);
        id
    }

    /// The number of the stream's newest event (0 before the first).
    pub(crate) fn last(&self, stream: StreamId) -> u64 {
        self.streams.get(stream).map_or(0, |s| s.last)
    }

    /// The numbering of the stream's numbers when it is not the node's
    /// own, with its `Rues-Epoch` text.
    pub(crate) fn epoch(&self, stream: StreamId) -> Option<&(Epoch, String)> {
        self.streams.get(stream).and_then(|s| s.epoch.as_ref())
    }

    /// Starts the stream's numbering afresh: under `epoch` (`None` for the
    /// node's own), with `last` as its newest number. Everything kept goes,
    /// and every number up to `last` counts as a hole not kept: a resume
    /// from before it cannot be sure that no event there was lost.
    pub(crate) fn renumber(&mut self, stream: StreamId, epoch: Option<Epoch>, last: u64) {
        while self.pop_front(stream) {}
        if let Some(s) = self.streams.get_mut(stream) {
            s.epoch = epoch.map(|epoch| (epoch, epoch.to_string()));
            s.last = last;
            s.last_hole = last;
        }
    }

    /// Puts `older` back in front of what the stream keeps: the events (or
    /// holes, `None` frames) numbered `first`, `first + 1`, ..., the last of
    /// them right before the oldest kept one (or the newest number, when
    /// nothing is kept). Within the bounds, oldest dropped first as always.
    /// `false`, changing nothing, when they do not end there.
    pub(crate) fn prepend(
        &mut self,
        stream: StreamId,
        first: u64,
        older: Vec<(Option<Entity>, Option<Bytes>)>,
    ) -> bool {
        let front = self.first(stream);
        let Some(s) = self.streams.get(stream) else {
            return false;
        };
        if older.is_empty() || first == 0 || first + older.len() as u64 != front {
            return false;
        }
        let (last, last_hole) = (s.last, s.last_hole);
        let mut kept = Vec::with_capacity(s.entries.len());
        while let Some(entry) = self.streams[stream].entries.front() {
            kept.push((entry.entity.clone(), entry.frame.clone()));
            self.pop_front(stream);
        }
        self.streams[stream].last = first - 1;
        for (entity, frame) in older.into_iter().chain(kept) {
            self.push(stream, entity, frame);
        }
        let s = &mut self.streams[stream];
        debug_assert_eq!(s.last, last, "the run still ends with the newest");
        s.last_hole = s.last_hole.max(last_hole);
        true
    }

    /// The number of the stream's newest hole, kept or not (0 for none).
    pub(crate) fn last_hole(&self, stream: StreamId) -> u64 {
        self.streams.get(stream).map_or(0, |s| s.last_hole)
    }

    /// The number of the oldest event kept (`last + 1` when none is).
    pub(crate) fn first(&self, stream: StreamId) -> u64 {
        self.streams
            .get(stream)
            .map_or(1, |s| s.last + 1 - s.entries.len() as u64)
    }

    /// The events kept, oldest first, with their numbers.
    pub(crate) fn entries(
        &self,
        stream: StreamId,
    ) -> impl DoubleEndedIterator<Item = (u64, &Entry)> + '_ {
        let first = self.first(stream);
        self.streams
            .get(stream)
            .map(|s| s.entries.iter())
            .unwrap_or_default()
            .enumerate()
            .map(move |(at, entry)| (first + at as u64, entry))
    }

    /// Records the stream's next event, whose number is `last + 1`, and
    /// drops what the bounds no longer allow.
    pub(crate) fn record(&mut self, stream: StreamId, entity: Option<&Entity>, frame: &Bytes) {
        self.push(stream, entity.cloned(), Some(frame.clone()));
    }

    /// Records the stream's next number, `last + 1`, as a hole: events
    /// the node never had.
    pub(crate) fn record_hole(&mut self, stream: StreamId) {
        self.push(stream, None, None);
    }

    fn push(&mut self, stream: StreamId, entity: Option<Entity>, frame: Option<Bytes>) {
        let len = frame.as_ref().map_or(0, Bytes::len);
        let keeps = self.limits.keeps(len);
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.last += 1;
        if frame.is_none() {
            s.last_hole = s.last;
        }
        if !keeps {
            // What a stream keeps must stay contiguous: an event that cannot
            // be kept takes everything older with it.
            while self.pop_front(stream) {}
            return;
        }
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        if s.entries.is_empty() {
            self.oldest.insert(ordinal, stream);
        }
        s.entries.push_back(Entry {
            ordinal,
            entity,
            frame,
        });
        s.bytes += len;
        self.bytes += len;
        self.events += 1;
        while self.streams.get(stream).is_some_and(|s| {
            s.entries.len() > self.limits.max_events_per_stream
                || s.bytes > self.limits.max_bytes_per_stream
        }) {
            self.pop_front(stream);
        }
        while self.bytes > self.limits.max_total_bytes {
            let Some((_, &oldest)) = self.oldest.first_key_value() else {
                break;
            };
            self.pop_front(oldest);
        }
    }

    /// Drops the oldest event of `stream`; `false` when it kept none.
    fn pop_front(&mut self, stream: StreamId) -> bool {
        let Some(s) = self.streams.get_mut(stream) else {
            return false;
        };
        let Some(entry) = s.entries.pop_front() else {
            return false;
        };
        s.bytes -= entry.len();
        self.bytes -= entry.len();
        self.events -= 1;
        self.oldest.remove(&entry.ordinal);
        if let Some(next) = s.entries.front() {
            self.oldest.insert(next.ordinal, stream);
        }
        true
    }

    /// Events (and holes) kept now, over every stream.
    pub(crate) fn events(&self) -> usize {
        self.events
    }

    /// Bytes of frames kept now, over every stream.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Streams that ever had an event.
    pub(crate) fn streams(&self) -> usize {
        self.streams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> EventPath {
        EventPath::parse(text).expect("valid path")
    }

    fn record(history: &mut History, at: &str, len: usize) -> StreamId {
        let at = path(at);
        let stream = history.stream(&at);
        history.record(stream, at.entity(), &Bytes::from(vec![0; len]));
        stream
    }

    fn seqs(history: &History, stream: StreamId) -> Vec<u64> {
        history.entries(stream).map(|(seq, _)| seq).collect()
    }

    #[test]
    fn numbers_are_per_stream_and_the_count_bound_drops_the_oldest() {
        let mut history = History::new(HistoryLimits::default().per_stream(3, 1 << 20));
        for _ in 0..5 {
            record(&mut history, "/on/blocks:a/accepted", 10);
        }
        let other = record(&mut history, "/on/blocks/statechange", 10);
        let blocks = history.find(&path("/on/blocks/accepted")).expect("exists");
        assert_eq!(seqs(&history, blocks), [3, 4, 5]);
        assert_eq!((history.first(blocks), history.last(blocks)), (3, 5));
        assert_eq!(seqs(&history, other), [1]);
        assert_eq!((history.events(), history.bytes()), (4, 40));
    }

    #[test]
    fn the_byte_bounds_drop_the_oldest_and_the_total_bound_the_nodes_oldest() {
        let mut history = History::new(HistoryLimits::default().per_stream(100, 25).total(50));
        let a = record(&mut history, "/on/a/x", 10);
        record(&mut history, "/on/a/x", 10);
        record(&mut history, "/on/a/x", 10);
        assert_eq!(seqs(&history, a), [2, 3], "30 bytes pass the stream's 25");
        let b = record(&mut history, "/on/b/x", 20);
        record(&mut history, "/on/b/x", 5);
        record(&mut history, "/on/b/x", 0);
        assert_eq!(history.bytes(), 45, "20 of a and 25 of b: within 50");
        // 10 more pass 50: the node's oldest event (a's 2) goes.
        let c = record(&mut history, "/on/c/x", 10);
        assert_eq!(seqs(&history, a), [3]);
        assert_eq!(seqs(&history, b), [1, 2, 3]);
        assert_eq!(seqs(&history, c), [1]);
        assert_eq!(history.bytes(), 45);
    }

    #[test]
    fn a_frame_over_a_bound_empties_its_stream_but_is_numbered() {
        let mut history = History::new(HistoryLimits::default().per_stream(10, 100));
        let a = record(&mut history, "/on/a/x", 10);
        record(&mut history, "/on/a/x", 101);
        assert_eq!(seqs(&history, a), Vec::<u64>::new());
        assert_eq!((history.first(a), history.last(a)), (3, 2));
        record(&mut history, "/on/a/x", 10);
        assert_eq!(seqs(&history, a), [3]);
        assert_eq!((history.events(), history.bytes()), (1, 10));
    }

    #[test]
    fn a_hole_takes_a_number_and_a_place_but_no_bytes() {
        let mut history = History::new(HistoryLimits::default().per_stream(3, 25).total(1 << 20));
        let a = record(&mut history, "/on/a/x", 10);
        history.record_hole(a);
        record(&mut history, "/on/a/x", 10);
        assert_eq!(seqs(&history, a), [1, 2, 3]);
        let holes: Vec<bool> = history.entries(a).map(|(_, e)| e.frame.is_none()).collect();
        assert_eq!(holes, [false, true, false]);
        assert_eq!((history.events(), history.bytes()), (3, 20));
        // The count bound treats it as an entry: one more drops number 1.
        history.record_hole(a);
        assert_eq!(history.last_hole(a), 4);
        assert_eq!(seqs(&history, a), [2, 3, 4]);
        assert_eq!((history.events(), history.bytes()), (3, 10));
        // The node-wide bound pops it like any oldest entry.
        let mut history = History::new(HistoryLimits::default().per_stream(10, 100).total(15));
        let b = path("/on/b/x");
        let b = history.stream(&b);
        history.record_hole(b);
        record(&mut history, "/on/c/x", 10);
        record(&mut history, "/on/c/x", 10);
        assert_eq!(seqs(&history, b), Vec::<u64>::new());
        assert_eq!((history.first(b), history.last(b)), (2, 1));
        assert_eq!(history.last_hole(b), 1, "remembered when dropped");
        assert!(history.oldest.values().all(|&s| s != b));
    }

    #[test]
    fn off_keeps_nothing_and_still_numbers() {
        let mut history = History::new(HistoryLimits::off());
        let a = record(&mut history, "/on/a/x", 1);
        record(&mut history, "/on/a/x", 1);
        history.record_hole(a);
        assert_eq!(history.last(a), 3);
        assert_eq!(history.events(), 0);
        assert!(history.oldest.is_empty());
    }
}
