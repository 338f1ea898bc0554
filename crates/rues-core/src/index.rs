//! The subscription index: who receives an event, found without scanning.
//!
//! Keyed by component, then topic; under each, the sessions subscribed
//! without an entity (the wildcard set) and, per entity, the sessions
//! subscribed to that entity. Finding the receivers of an event costs one
//! hash lookup per level plus the receivers themselves, however many other
//! subscriptions exist. Empty sets and maps are removed as soon as they
//! empty, so a node whose sessions all closed holds nothing.

use std::collections::HashMap;

use rues_target::{Component, Entity, EventPath, Topic};

use crate::id::SessionSet;
use rues_wire::SessionId;

#[derive(Debug, Default)]
struct TopicIndex {
    wildcard: SessionSet,
    // Entities are chosen by peers: keep the standard (DoS-resistant) hasher.
    by_entity: HashMap<Entity, SessionSet>,
}

impl TopicIndex {
    fn is_empty(&self) -> bool {
        self.wildcard.is_empty() && self.by_entity.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    components: HashMap<Component, HashMap<Topic, TopicIndex>>,
}

impl Index {
    pub(crate) fn insert(&mut self, path: &EventPath, session: SessionId) {
        let topic = self
            .components
            .entry(path.component().clone())
            .or_default()
            .entry(path.topic().clone())
            .or_default();
        match path.entity() {
            None => topic.wildcard.insert(session),
            Some(entity) => topic
                .by_entity
                .entry(entity.clone())
                .or_default()
                .insert(session),
        };
    }

    pub(crate) fn remove(&mut self, path: &EventPath, session: SessionId) {
        let Some(topics) = self.components.get_mut(path.component()) else {
            return;
        };
        let Some(topic) = topics.get_mut(path.topic()) else {
            return;
        };
        match path.entity() {
            None => {
                topic.wildcard.remove(&session);
            }
            Some(entity) => {
                if let Some(sessions) = topic.by_entity.get_mut(entity) {
                    sessions.remove(&session);
                    if sessions.is_empty() {
                        topic.by_entity.remove(entity);
                    }
                }
            }
        }
        if topic.is_empty() {
            topics.remove(path.topic());
            if topics.is_empty() {
                self.components.remove(path.component());
            }
        }
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

    /// Number of (component, topic) keys; zero when no subscription exists.
    pub(crate) fn topic_count(&self) -> usize {
        self.components.values().map(HashMap::len).sum()
    }
}
