//! The three names an event path is made of: [`Component`], [`Entity`], [`Topic`].

use std::borrow::Borrow;
use std::fmt;

use percent_encoding::utf8_percent_encode;

use crate::encoding::{ENTITY_ENCODE_SET, TOPIC_ENCODE_SET};
use crate::{Error, Limits, Segment};

/// The component of a target, such as `blocks` or `contracts`.
///
/// Non-empty, made of ASCII letters, digits, `-`, `_` and `.`; never
/// percent-encoded, so its `Display` is the value itself. Components are
/// case-insensitive: the name is ASCII-lower-cased when it is made
/// (docs/protocol.md §3), so `Blocks` and `blocks` are the same component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Component(String);

impl Component {
    /// Validates a component name.
    ///
    /// ```
    /// use rues_target::Component;
    ///
    /// assert_eq!(Component::new("blocks").unwrap().as_str(), "blocks");
    /// assert_eq!(Component::new("Blocks").unwrap().as_str(), "blocks");
    /// assert!(Component::new("blocks:ab").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let mut name = name.into();
        if name.is_empty() {
            return Err(Error::Empty {
                segment: Segment::Component,
            });
        }
        if let Some(ch) = name.chars().find(|&ch| !is_component_char(ch)) {
            return Err(Error::InvalidComponentChar { ch });
        }
        name.make_ascii_lowercase();
        Ok(Component(name))
    }

    /// The component name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The component name, as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_component_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')
}

/// The entity of a target, such as a block hash or a contract id.
///
/// Holds the **decoded** value: any non-empty string, `:` and `/` included,
/// within the entity limit. `Display` percent-encodes it, `:` included.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entity(String);

impl Entity {
    /// Validates a decoded entity against the default limit
    /// ([`Limits::DEFAULT_MAX_ENTITY_LEN`] bytes).
    ///
    /// ```
    /// use rues_target::Entity;
    ///
    /// let entity = Entity::new("a:b").unwrap();
    /// assert_eq!(entity.as_str(), "a:b");
    /// assert_eq!(entity.to_string(), "a%3Ab");
    /// ```
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        Self::with_limits(value, &Limits::DEFAULT)
    }

    /// Validates a decoded entity against `limits.max_entity_len()`.
    pub fn with_limits(value: impl Into<String>, limits: &Limits) -> Result<Self, Error> {
        check_decoded(value.into(), Segment::Entity, limits.max_entity_len()).map(Entity)
    }

    /// The decoded entity.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded entity, as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The topic of an event, such as `accepted` or a contract's event name.
///
/// Holds the **decoded** value: any non-empty string within the topic limit,
/// ASCII-lower-cased, as topics are case-insensitive (docs/protocol.md §3:
/// a contract event named `Transfer` reaches subscribers of `transfer`).
/// `Display` percent-encodes it; a `:` stays raw, as only the target segment
/// is split at a colon.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(String);

impl Topic {
    /// Validates a decoded topic against the default limit
    /// ([`Limits::DEFAULT_MAX_TOPIC_LEN`] bytes).
    ///
    /// ```
    /// use rues_target::Topic;
    ///
    /// let topic = Topic::new("state change").unwrap();
    /// assert_eq!(topic.to_string(), "state%20change");
    /// assert_eq!(Topic::new("Accepted").unwrap().as_str(), "accepted");
    /// ```
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        Self::with_limits(value, &Limits::DEFAULT)
    }

    /// Validates a decoded topic against `limits.max_topic_len()`.
    pub fn with_limits(value: impl Into<String>, limits: &Limits) -> Result<Self, Error> {
        let mut topic = check_decoded(value.into(), Segment::Topic, limits.max_topic_len())?;
        topic.make_ascii_lowercase();
        Ok(Topic(topic))
    }

    /// The decoded topic.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded topic, as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The rules shared by decoded entities and topics: non-empty, at most `max` bytes.
fn check_decoded(value: String, segment: Segment, max: usize) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::Empty { segment });
    }
    if value.len() > max {
        return Err(Error::TooLong {
            segment,
            len: value.len(),
            max,
        });
    }
    Ok(value)
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&utf8_percent_encode(&self.0, ENTITY_ENCODE_SET), f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&utf8_percent_encode(&self.0, TOPIC_ENCODE_SET), f)
    }
}

// `Borrow<str>` lets maps keyed by these names be queried with a `&str`;
// the derived `Eq`, `Ord` and `Hash` all delegate to the inner string, as
// `Borrow` requires.
macro_rules! impl_str_views {
    ($($name:ident),*) => {$(
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    )*};
}

impl_str_views!(Component, Entity, Topic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_accepts_its_whole_charset_and_lower_cases_it() {
        assert_eq!(Component::new("AZaz09-_.").unwrap().as_str(), "azaz09-_.");
    }

    #[test]
    fn topic_lower_cases_ascii_only() {
        assert_eq!(
            Topic::new("Ärger Transfer").unwrap().as_str(),
            "Ärger transfer"
        );
    }

    #[test]
    fn component_rejects_the_first_char_outside_its_charset() {
        assert_eq!(
            Component::new("blocks%3A"),
            Err(Error::InvalidComponentChar { ch: '%' })
        );
        assert_eq!(
            Component::new("bl\u{f6}cks"),
            Err(Error::InvalidComponentChar { ch: '\u{f6}' })
        );
    }

    #[test]
    fn empty_names_are_rejected_with_their_segment() {
        for (result, segment) in [
            (Component::new("").map(|_| ()), Segment::Component),
            (Entity::new("").map(|_| ()), Segment::Entity),
            (Topic::new("").map(|_| ()), Segment::Topic),
        ] {
            assert_eq!(result, Err(Error::Empty { segment }));
        }
    }

    #[test]
    fn entity_and_topic_limits_count_decoded_bytes() {
        assert!(Entity::new("a".repeat(256)).is_ok());
        assert_eq!(
            Entity::new("a".repeat(257)),
            Err(Error::TooLong {
                segment: Segment::Entity,
                len: 257,
                max: 256
            })
        );
        // 64 two-byte characters are 128 bytes: at the limit.
        assert!(Topic::new("\u{e9}".repeat(64)).is_ok());
        assert_eq!(
            Topic::new("\u{e9}".repeat(65)),
            Err(Error::TooLong {
                segment: Segment::Topic,
                len: 130,
                max: 128
            })
        );
    }

    #[test]
    fn with_limits_applies_the_given_limit() {
        let limits = Limits::new(1024, 4, 2);
        assert!(Entity::with_limits("abcd", &limits).is_ok());
        assert!(Entity::with_limits("abcde", &limits).is_err());
        assert!(Topic::with_limits("ab", &limits).is_ok());
        assert!(Topic::with_limits("abc", &limits).is_err());
    }

    #[test]
    fn display_encodes_entities_and_topics_but_not_components() {
        assert_eq!(Component::new("a.b-c_d").unwrap().to_string(), "a.b-c_d");
        assert_eq!(Entity::new("x:y/z").unwrap().to_string(), "x%3Ay%2Fz");
        assert_eq!(Topic::new("x:y/z").unwrap().to_string(), "x:y%2Fz");
    }
}
