//! What the relay holds upstream, per stream (component, topic): a pure
//! state machine, no I/O.
//!
//! The relay's core reports each exact path some downstream session wants
//! ([`Streams::want`]) and each one no session wants any more
//! ([`Streams::unwant`]). Per stream, the upstream set is the wildcard
//! path (no entity) when a downstream session wants it, else every entity
//! path wanted: the upstream never holds a wildcard beside one of its
//! entities, which would send the same event through both. The upstream
//! task brings the upstream set there one [`Step`] at a time
//! ([`Streams::next_step`]), subscribing what is missing before dropping
//! what is no longer needed, so that no event of a path still wanted is
//! missed during a switch, and reports each outcome back
//! ([`Streams::subscribed`], [`Streams::refused`],
//! [`Streams::unsubscribed`]).

use std::collections::{BTreeSet, HashMap};

use rues_core::rues_target::{Component, EventPath, Target, Topic};

/// A stream: every path of one (component, topic).
pub(crate) type StreamKey = (Component, Topic);

/// The stream a path belongs to.
pub(crate) fn stream_of(path: &EventPath) -> StreamKey {
    (path.component().clone(), path.topic().clone())
}

/// The wildcard path (no entity) of a stream.
fn wildcard(key: &StreamKey) -> EventPath {
    EventPath::new(Target::new(key.0.clone(), None), key.1.clone())
}

/// One thing to do upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// `GET` this path on the upstream session.
    Subscribe(EventPath),
    /// `DELETE` this path on the upstream session.
    Unsubscribe(EventPath),
}

#[derive(Debug, Default)]
struct Stream {
    /// The exact paths downstream sessions want.
    wanted: BTreeSet<EventPath>,
    /// Wanted paths the upstream refused: not asked again while wanted.
    refused: BTreeSet<EventPath>,
    /// The paths held on the upstream session.
    upstream: BTreeSet<EventPath>,
}

impl Stream {
    /// What the upstream should hold for this stream.
    fn desired(&self, key: &StreamKey) -> BTreeSet<EventPath> {
        let all = wildcard(key);
        if self.wanted.contains(&all) && !self.refused.contains(&all) {
            return BTreeSet::from([all]);
        }
        self.wanted.difference(&self.refused).cloned().collect()
    }

    fn is_empty(&self) -> bool {
        self.wanted.is_empty() && self.upstream.is_empty()
    }
}

/// Every stream's wanted and upstream paths.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    streams: HashMap<StreamKey, Stream>,
}

impl Streams {
    /// A downstream session wants `path` (the first one to).
    pub(crate) fn want(&mut self, path: EventPath) {
        let stream = self.streams.entry(stream_of(&path)).or_default();
        stream.refused.remove(&path);
        stream.wanted.insert(path);
    }

    /// No downstream session wants `path` any more.
    pub(crate) fn unwant(&mut self, path: &EventPath) {
        let key = stream_of(path);
        if let Some(stream) = self.streams.get_mut(&key) {
            stream.wanted.remove(path);
            stream.refused.remove(path);
            if stream.is_empty() {
                self.streams.remove(&key);
            }
        }
    }

    /// The next step for `key`'s stream: a missing subscription first, then
    /// one no longer needed; `None` when upstream holds what it should.
    pub(crate) fn next_step(&self, key: &StreamKey) -> Option<Step> {
        let stream = self.streams.get(key)?;
        let desired = stream.desired(key);
        if let Some(missing) = desired.difference(&stream.upstream).next() {
            return Some(Step::Subscribe(missing.clone()));
        }
        stream
            .upstream
            .difference(&desired)
            .next()
            .map(|extra| Step::Unsubscribe(extra.clone()))
    }

    /// The upstream holds `path` now.
    pub(crate) fn subscribed(&mut self, path: &EventPath) {
        let stream = self.streams.entry(stream_of(path)).or_default();
        stream.upstream.insert(path.clone());
    }

    /// The upstream refused `path`: not asked again while it is wanted.
    pub(crate) fn refused(&mut self, path: &EventPath) {
        if let Some(stream) = self.streams.get_mut(&stream_of(path)) {
            stream.refused.insert(path.clone());
        }
    }

    /// The upstream no longer holds `path` (it said so, or it forgot).
    pub(crate) fn unsubscribed(&mut self, path: &EventPath) {
        let key = stream_of(path);
        if let Some(stream) = self.streams.get_mut(&key) {
            stream.upstream.remove(path);
            if stream.is_empty() {
                self.streams.remove(&key);
            }
        }
    }

    /// Whether the events of `path` reach the relay: it, or its stream's
    /// wildcard, is held upstream.
    pub(crate) fn covered(&self, path: &EventPath) -> bool {
        let key = stream_of(path);
        self.streams.get(&key).is_some_and(|stream| {
            stream.upstream.contains(path) || stream.upstream.contains(&wildcard(&key))
        })
    }

    /// Whether the upstream refused `path` (and it is still wanted).
    pub(crate) fn is_refused(&self, path: &EventPath) -> bool {
        self.streams
            .get(&stream_of(path))
            .is_some_and(|stream| stream.refused.contains(path))
    }

    /// The wanted paths of `key`'s stream.
    pub(crate) fn wanted(&self, key: &StreamKey) -> Vec<EventPath> {
        self.streams
            .get(key)
            .map(|stream| stream.wanted.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many paths the upstream holds, over all streams.
    pub(crate) fn upstream_count(&self) -> usize {
        self.streams.values().map(|s| s.upstream.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> EventPath {
        EventPath::parse(text).expect("a path")
    }

    /// Runs every step for the stream of `of`, the upstream accepting all
    /// but `refuse`; returns the steps in order.
    fn settle(streams: &mut Streams, of: &str, refuse: &[&str]) -> Vec<Step> {
        let key = stream_of(&path(of));
        let mut steps = Vec::new();
        while let Some(step) = streams.next_step(&key) {
            match &step {
                Step::Subscribe(p) if refuse.contains(&p.to_string().as_str()) => {
                    streams.refused(p);
                }
                Step::Subscribe(p) => streams.subscribed(p),
                Step::Unsubscribe(p) => streams.unsubscribed(p),
            }
            steps.push(step);
            assert!(steps.len() < 100, "steps never end: {steps:?}");
        }
        steps
    }

    const ALL: &str = "/on/blocks/accepted";
    const A: &str = "/on/blocks:aa/accepted";
    const B: &str = "/on/blocks:bb/accepted";

    #[test]
    fn each_wanted_entity_path_is_held_once_and_dropped_with_its_last_want() {
        let mut streams = Streams::default();
        streams.want(path(A));
        streams.want(path(B));
        assert_eq!(
            settle(&mut streams, A, &[]),
            [Step::Subscribe(path(A)), Step::Subscribe(path(B))]
        );
        assert_eq!(streams.upstream_count(), 2);
        assert!(streams.covered(&path(A)) && !streams.covered(&path(ALL)));
        streams.unwant(&path(A));
        assert_eq!(settle(&mut streams, A, &[]), [Step::Unsubscribe(path(A))]);
        streams.unwant(&path(B));
        assert_eq!(settle(&mut streams, A, &[]), [Step::Unsubscribe(path(B))]);
        assert_eq!(streams.upstream_count(), 0);
        assert!(
            streams.streams.is_empty(),
            "nothing kept for an idle stream"
        );
    }

    #[test]
    fn a_wildcard_replaces_the_entity_paths_after_it_is_held_and_back() {
        let mut streams = Streams::default();
        streams.want(path(A));
        settle(&mut streams, A, &[]);
        streams.want(path(ALL));
        // The wildcard first, then the entity path it covers: never a
        // moment without A's events, never both held for long.
        assert_eq!(
            settle(&mut streams, A, &[]),
            [Step::Subscribe(path(ALL)), Step::Unsubscribe(path(A))]
        );
        assert!(streams.covered(&path(A)) && streams.covered(&path(B)));
        assert_eq!(streams.upstream_count(), 1);
        // The wildcard's last session leaves: A is held again first.
        streams.unwant(&path(ALL));
        assert_eq!(
            settle(&mut streams, A, &[]),
            [Step::Subscribe(path(A)), Step::Unsubscribe(path(ALL))]
        );
        assert!(!streams.covered(&path(B)));
    }

    #[test]
    fn other_streams_are_left_alone() {
        let mut streams = Streams::default();
        streams.want(path(ALL));
        streams.want(path("/on/blocks:aa/statechange"));
        assert_eq!(settle(&mut streams, ALL, &[]), [Step::Subscribe(path(ALL))]);
        // The wildcard of `accepted` covers nothing of `statechange`.
        assert!(!streams.covered(&path("/on/blocks:aa/statechange")));
        assert_eq!(
            settle(&mut streams, "/on/blocks:aa/statechange", &[]),
            [Step::Subscribe(path("/on/blocks:aa/statechange"))]
        );
    }

    #[test]
    fn a_refused_path_is_not_asked_again_until_wanted_afresh() {
        let mut streams = Streams::default();
        streams.want(path(A));
        assert_eq!(settle(&mut streams, A, &[A]), [Step::Subscribe(path(A))]);
        assert!(streams.is_refused(&path(A)));
        assert_eq!(settle(&mut streams, A, &[]), []);
        streams.unwant(&path(A));
        assert!(!streams.is_refused(&path(A)));
        streams.want(path(A));
        assert_eq!(settle(&mut streams, A, &[]), [Step::Subscribe(path(A))]);
    }

    #[test]
    fn a_refused_wildcard_leaves_the_entity_paths_held() {
        let mut streams = Streams::default();
        streams.want(path(A));
        settle(&mut streams, A, &[]);
        streams.want(path(ALL));
        assert_eq!(
            settle(&mut streams, A, &[ALL]),
            [Step::Subscribe(path(ALL))]
        );
        assert!(streams.covered(&path(A)));
        assert_eq!(streams.upstream_count(), 1);
    }
}
