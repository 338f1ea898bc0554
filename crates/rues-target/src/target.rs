//! [`Target`]: a component and an optional entity, and the matching rule.

use std::fmt;
use std::str::FromStr;

use crate::encoding::decode_segment;
use crate::{Component, Entity, Error, Limits, Segment};

/// What an event is about: a component and, optionally, one of its entities.
///
/// Written `component` or `component:entity`, the entity percent-encoded.
/// In a subscription, a target without entity stands for every entity of the
/// component; see [`Target::matches`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    component: Component,
    entity: Option<Entity>,
}

impl Target {
    /// A target from its parts.
    pub fn new(component: Component, entity: Option<Entity>) -> Self {
        Target { component, entity }
    }

    /// Parses an encoded target segment (`blocks`, `blocks:ab12`,
    /// `contracts:a%3Ab`) with the default limits: the inverse of `Display`.
    ///
    /// The segment is split at its first raw `:` before percent-decoding, as
    /// in a path. A raw `/` or `?` in the entity is rejected, since in a path
    /// it could not be part of the target.
    ///
    /// ```
    /// use rues_target::Target;
    ///
    /// let target = Target::parse("contracts:a%3Ab").unwrap();
    /// assert_eq!(target.component().as_str(), "contracts");
    /// assert_eq!(target.entity().unwrap().as_str(), "a:b");
    /// assert_eq!(target.to_string(), "contracts:a%3Ab");
    /// ```
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Self::parse_with(raw, &Limits::DEFAULT)
    }

    /// Parses an encoded target segment, applying `limits.max_entity_len()`.
    pub fn parse_with(raw: &str, limits: &Limits) -> Result<Self, Error> {
        // `:` is ASCII, so both halves are valid `&str` slices.
        let (component, entity) = match raw.split_once(':') {
            Some((component, entity)) => (component, Some(entity)),
            None => (raw, None),
        };
        let component = Component::new(component)?;
        let entity = entity
            .map(|raw_entity| {
                let decoded = decode_segment(raw_entity, Segment::Entity)?;
                Entity::with_limits(decoded, limits)
            })
            .transpose()?;
        Ok(Target { component, entity })
    }

    /// The component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The entity, if the target names one.
    pub fn entity(&self) -> Option<&Entity> {
        self.entity.as_ref()
    }

    /// The same component with no entity: the subscription target that
    /// matches every entity of this component.
    pub fn without_entity(&self) -> Target {
        Target {
            component: self.component.clone(),
            entity: None,
        }
    }

    /// The matching rule of docs/protocol.md §5.1: whether a subscription to
    /// `self` receives an event published at `event`.
    ///
    /// The components must be equal. A subscription without entity matches
    /// every entity, and events without one; a subscription with an entity
    /// matches only that exact entity. Comparisons are case-sensitive.
    ///
    /// ```
    /// use rues_target::Target;
    ///
    /// let every_block = Target::parse("blocks").unwrap();
    /// let one_block = Target::parse("blocks:ab12").unwrap();
    /// let other_block = Target::parse("blocks:cd34").unwrap();
    /// assert!(every_block.matches(&one_block));
    /// assert!(one_block.matches(&one_block));
    /// assert!(!one_block.matches(&other_block));
    /// assert!(!one_block.matches(&every_block));
    /// ```
    pub fn matches(&self, event: &Target) -> bool {
        self.component == event.component
            && match &self.entity {
                None => true,
                Some(entity) => event.entity.as_ref() == Some(entity),
            }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.component)?;
        if let Some(entity) = &self.entity {
            write!(f, ":{entity}")?;
        }
        Ok(())
    }
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        Target::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(raw: &str) -> Target {
        raw.parse().unwrap()
    }

    #[test]
    fn parse_splits_at_the_first_raw_colon_only() {
        let parsed = target("contracts:a:b");
        assert_eq!(parsed.component().as_str(), "contracts");
        assert_eq!(parsed.entity().map(Entity::as_str), Some("a:b"));
        assert_eq!(parsed.to_string(), "contracts:a%3Ab");
    }

    #[test]
    fn parse_rejects_delimiters_that_cannot_be_in_a_path_target() {
        assert_eq!(
            Target::parse("blocks:a/b"),
            Err(Error::ForbiddenChar {
                segment: Segment::Entity,
                ch: '/'
            })
        );
        assert_eq!(
            Target::parse("blocks/a"),
            Err(Error::InvalidComponentChar { ch: '/' })
        );
    }

    #[test]
    fn parse_rejects_an_empty_entity_after_the_colon() {
        assert_eq!(
            Target::parse("blocks:"),
            Err(Error::Empty {
                segment: Segment::Entity
            })
        );
    }

    #[test]
    fn parse_with_applies_the_entity_limit() {
        let limits = Limits::new(1024, 3, 128);
        assert!(Target::parse_with("blocks:abc", &limits).is_ok());
        assert_eq!(
            Target::parse_with("blocks:abcd", &limits),
            Err(Error::TooLong {
                segment: Segment::Entity,
                len: 4,
                max: 3
            })
        );
    }

    #[test]
    fn without_entity_keeps_the_component() {
        assert_eq!(target("blocks:ab").without_entity(), target("blocks"));
    }

    #[test]
    fn subscription_without_entity_matches_events_with_and_without_entity() {
        assert!(target("blocks").matches(&target("blocks:ab")));
        assert!(target("blocks").matches(&target("blocks")));
    }

    #[test]
    fn subscription_with_entity_does_not_match_an_event_without_entity() {
        assert!(!target("blocks:ab").matches(&target("blocks")));
    }
}
