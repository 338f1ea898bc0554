//! [`EventPath`]: the parsed `/on/<target>/<topic>` path.

use std::fmt;
use std::str::FromStr;

use crate::encoding::decode_segment;
use crate::{Component, Entity, Error, Limits, Segment, Target, Topic};

/// The prefix every event path starts with.
const PREFIX: &str = "/on/";

/// A parsed event path: a [`Target`] and a [`Topic`].
///
/// `Display` writes the canonical location, `/on/<component>:<entity>/<topic>`
/// or `/on/<component>/<topic>`, with the entity and topic percent-encoded,
/// so that parsing it gives back the same value. The encoded form can be up
/// to three times as long as the decoded values, so a value built from parts
/// near their limits may display longer than [`Limits::max_path_len`]; its
/// display then parses only with a larger path limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventPath {
    target: Target,
    topic: Topic,
}

impl EventPath {
    /// An event path from its parts.
    pub fn new(target: Target, topic: Topic) -> Self {
        EventPath { target, topic }
    }

    /// Parses a request path with the default [`Limits`].
    ///
    /// ```
    /// use rues_target::EventPath;
    ///
    /// let path = EventPath::parse("/on/blocks:ab12/accepted/?ignored").unwrap();
    /// assert_eq!(path.component().as_str(), "blocks");
    /// assert_eq!(path.entity().unwrap().as_str(), "ab12");
    /// assert_eq!(path.topic().as_str(), "accepted");
    /// assert_eq!(path.to_string(), "/on/blocks:ab12/accepted");
    /// ```
    pub fn parse(path: &str) -> Result<Self, Error> {
        Self::parse_with(path, &Limits::DEFAULT)
    }

    /// Parses a request path with the given limits.
    ///
    /// Checks run in this order, and the first failure is returned: path
    /// length, the `/on/` prefix, the number of segments, then the
    /// component, the entity and the topic.
    pub fn parse_with(path: &str, limits: &Limits) -> Result<Self, Error> {
        // `?` is ASCII, so slicing at it stays on a char boundary.
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        if path.len() > limits.max_path_len() {
            return Err(Error::PathTooLong {
                len: path.len(),
                max: limits.max_path_len(),
            });
        }
        let segments = path.strip_prefix(PREFIX).ok_or(Error::NotAnEventPath)?;

        // Split on raw `/` before any decoding, so `%2F` is always data.
        let Some((raw_target, rest)) = segments.split_once('/') else {
            return Err(Error::MissingTopic);
        };
        if rest.is_empty() {
            return Err(Error::MissingTopic);
        }
        // One trailing slash names the same event.
        let raw_topic = rest.strip_suffix('/').unwrap_or(rest);
        if raw_topic.contains('/') {
            return Err(Error::TooManySegments {
                count: 2 + raw_topic.matches('/').count(),
            });
        }

        let target = Target::parse_with(raw_target, limits)?;
        let topic = Topic::with_limits(decode_segment(raw_topic, Segment::Topic)?, limits)?;
        Ok(EventPath { target, topic })
    }

    /// The target: component and optional entity.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The target's component.
    pub fn component(&self) -> &Component {
        self.target.component()
    }

    /// The target's entity, if any.
    pub fn entity(&self) -> Option<&Entity> {
        self.target.entity()
    }

    /// The topic.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// The same component and topic with no entity: the path that names
    /// the whole stream, every entity's events and none.
    pub fn without_entity(&self) -> EventPath {
        EventPath {
            target: self.target.without_entity(),
            topic: self.topic.clone(),
        }
    }

    /// The target and the topic, by value.
    pub fn into_parts(self) -> (Target, Topic) {
        (self.target, self.topic)
    }

    /// Whether a subscription to `self` receives an event published at
    /// `event`: the topics are equal and [`Target::matches`] holds.
    ///
    /// ```
    /// use rues_target::EventPath;
    ///
    /// let subscription = EventPath::parse("/on/blocks/accepted").unwrap();
    /// let event = EventPath::parse("/on/blocks:ab12/accepted").unwrap();
    /// assert!(subscription.matches(&event));
    /// assert!(!event.matches(&subscription));
    /// ```
    pub fn matches(&self, event: &EventPath) -> bool {
        self.topic == event.topic && self.target.matches(&event.target)
    }
}

impl fmt::Display for EventPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}/{}", self.target, self.topic)
    }
}

impl FromStr for EventPath {
    type Err = Error;

    fn from_str(path: &str) -> Result<Self, Error> {
        EventPath::parse(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_counts_segments_after_dropping_one_trailing_slash() {
        assert_eq!(
            EventPath::parse("/on/a/b/c/"),
            Err(Error::TooManySegments { count: 3 })
        );
        assert_eq!(
            EventPath::parse("/on/a/b//"),
            Err(Error::TooManySegments { count: 3 })
        );
        assert_eq!(
            EventPath::parse("/on/a/b/c/d"),
            Err(Error::TooManySegments { count: 4 })
        );
    }

    #[test]
    fn parse_reports_structure_before_content() {
        // The component is invalid too, but the extra segment is reported.
        assert_eq!(
            EventPath::parse("/on/b%41d/x/y"),
            Err(Error::TooManySegments { count: 3 })
        );
    }

    #[test]
    fn parse_measures_the_path_without_its_query() {
        let long_query = format!("/on/blocks/accepted?{}", "q".repeat(2000));
        assert!(EventPath::parse(&long_query).is_ok());
    }

    #[test]
    fn parse_checks_the_path_limit_before_the_prefix() {
        let limits = Limits::new(4, 256, 128);
        assert_eq!(
            EventPath::parse_with("/nope", &limits),
            Err(Error::PathTooLong { len: 5, max: 4 })
        );
    }

    #[test]
    fn into_parts_returns_what_new_was_given() {
        let target = Target::parse("blocks:ab").unwrap();
        let topic = Topic::new("accepted").unwrap();
        let path = EventPath::new(target.clone(), topic.clone());
        assert_eq!(path.into_parts(), (target, topic));
    }
}
