//! The subscription index: who receives an event, found without scanning.
//!
//! Keyed by component, then topic; under each, the sessions subscribed
//! without an entity (the wildcard set) and, per entity, the sessions
//! subscribed to that entity. Finding the receivers of an event costs one
//! hash lookup per level plus the receivers themselves, however many other
//! subscriptions exist. Empty sets and maps are removed as soon as they
//! empty, so a node whose sessions all closed holds nothing.
//!
//! Each (component, topic) also counts its subscriptions per session, so
//! that every session on a stream, whatever its entities, is listed
//! without going through the entity sets (a gap notice goes to them all).

use std::collections::HashMap;

use rues_target::{Component, Entity, EventPath, Topic};

use crate::id::{SessionMap, SessionSet};
use rues_wire::SessionId;

#[derive(Debug, Default)]
struct TopicIndex {
    wildcard: SessionSet,
    // Entities are chosen by peers: keep the standard (DoS-resistant) hasher.
    by_entity: HashMap<Entity, SessionSet>,
    /// Every session under this topic, with how many of the sets above
    /// hold it (at least one).
    sessions: SessionMap<usize>,
}

impl TopicIndex {
    fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    components: HashMap<Component, HashMap<Topic, TopicIndex>>,
}

impl Index {
    /// Adds `session` under `path`; `true` when it is the first session
    /// there (the path became wanted).
    pub(crate) fn insert(&mut self, path: &EventPath, session: SessionId) -> bool {
        let topic = self
            .components
            .entry(path.component().clone())
            .or_default()
            .entry(path.topic().clone())
            .or_default();
        let sessions = match path.entity() {
            None => &mut topic.wildcard,
            Some(entity) => topic.by_entity.entry(entity.clone()).or_default(),
        };
        let added = sessions.insert(session);
        let first = sessions.len() == 1;
        if added {
            *topic.sessions.entry(session).or_default() += 1;
        }
        first
    }

    /// Removes `session` from under `path`; `true` when it was the last
    /// session there (the path is no longer wanted).
    pub(crate) fn remove(&mut self, path: &EventPath, session: SessionId) -> bool {
        let Some(topics) = self.components.get_mut(path.component()) else {
            return false;
        };
        let Some(topic) = topics.get_mut(path.topic()) else {
            return false;
        };
        let (removed, last) = match path.entity() {
            None => {
                let removed = topic.wildcard.remove(&session);
                (removed, removed && topic.wildcard.is_empty())
            }
            Some(entity) => match topic.by_entity.get_mut(entity) {
                Some(sessions) => {
                    let removed = sessions.remove(&session);
                    let last = removed && sessions.is_empty();
                    if sessions.is_empty() {
                        topic.by_entity.remove(entity);
                    }
                    (removed, last)
                }
                None => (false, false),
            },
        };
        if removed {
            if let std::collections::hash_map::Entry::Occupied(mut count) =
                topic.sessions.entry(session)
            {
                *count.get_mut() -= 1;
                if *count.get() == 0 {
                    count.remove();
                }
            }
        }
        if topic.is_empty() {
            topics.remove(path.topic());
            if topics.is_empty() {
                self.components.remove(path.component());
            }
        }
        last
    }

    /// Appends every session that receives an event published at `path`
    /// (entity-specific, or without entity) to `out`, each once.
    pub(crate) fn receivers(&self, path: &EventPath, out: &mut Vec<SessionId>) {
        let Some(topic) = self
            .components
            .get(path.component())
            .and_then(|topics| topics.get(path.topic()))
        else {
            return;
        };
        let exact = path.entity().and_then(|e| topic.by_entity.get(e));
        if let Some(exact) = exact {
            out.extend(exact.iter().copied());
            // A session holding both the wildcard and the exact subscription
            // is already in `out`: skip it in the wildcard pass.
            out.extend(
                topic
                    .wildcard
                    .iter()
                    .filter(|s| !exact.contains(s))
                    .copied(),
            );
        } else {
            out.extend(topic.wildcard.iter().copied());
        }
    }

    /// Appends every session with any subscription under `path`'s
    /// (component, topic), wildcard or entity (`path`'s own entity is not
    /// looked at), to `out`, each once.
    pub(crate) fn stream_sessions(&self, path: &EventPath, out: &mut Vec<SessionId>) {
        if let Some(topic) = self
            .components
            .get(path.component())
            .and_then(|topics| topics.get(path.topic()))
        {
            out.extend(topic.sessions.keys().copied());
        }
    }

    /// Every path some session is subscribed to, each once: what a cluster
    /// node declares as its interest (again) when its backplane reconnects.
    pub(crate) fn wanted(&self) -> Vec<EventPath> {
        let mut out = Vec::new();
        for (component, topics) in &self.components {
            for (topic, index) in topics {
                let target = |entity| {
                    EventPath::new(
                        rues_target::Target::new(component.clone(), entity),
                        topic.clone(),
                    )
                };
                if !index.wildcard.is_empty() {
                    out.push(target(None));
                }
                out.extend(index.by_entity.keys().map(|e| target(Some(e.clone()))));
            }
        }
        out
    }

    /// Number of (component, topic) keys; zero when no subscription exists.
    pub(crate) fn topic_count(&self) -> usize {
        self.components.values().map(HashMap::len).sum()
    }
}
