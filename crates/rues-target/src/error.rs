//! The one error type of this crate.

use std::fmt;

/// Which part of an event path an [`Error`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// The component, before the first raw `:` of the target segment.
    Component,
    /// The entity, after the first raw `:` of the target segment.
    Entity,
    /// The topic, the segment after the target.
    Topic,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Component => "component",
            Segment::Entity => "entity",
            Segment::Topic => "topic",
        })
    }
}

/// Why a path, a target or a name was rejected.
///
/// Every variant is the peer's fault (a malformed or oversized request), and
/// its `Display` message is written to be shown verbatim in a 404 body.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The path does not start with `/on/`.
    #[error("not an event path: expected /on/<target>/<topic>")]
    NotAnEventPath,

    /// The path (without its query string) is longer than the limit.
    #[error("path is {len} bytes long, over the limit of {max} bytes")]
    PathTooLong {
        /// The path's length in bytes.
        len: usize,
        /// The limit, [`Limits::max_path_len`](crate::Limits::max_path_len).
        max: usize,
    },

    /// The path names a target but no topic (`/on/blocks`, `/on/blocks/`).
    #[error("event path has no topic: expected /on/<target>/<topic>")]
    MissingTopic,

    /// The path has more than two segments after `/on/`
    /// (one trailing slash is tolerated and not counted).
    #[error("event path has {count} segments after /on/, expected 2: /on/<target>/<topic>")]
    TooManySegments {
        /// How many segments follow `/on/`.
        count: usize,
    },

    /// A component, entity or topic is empty (`/on//accepted`, `/on/blocks:/accepted`).
    #[error("{segment} is empty")]
    Empty {
        /// The empty part.
        segment: Segment,
    },

    /// The component contains a character outside `ALPHA / DIGIT / "-" / "_" / "."`.
    #[error("component contains {ch:?}, expected only ASCII letters, digits, '-', '_' and '.'")]
    InvalidComponentChar {
        /// The first offending character.
        ch: char,
    },

    /// An entity or topic contains a raw character that must be percent-encoded:
    /// whitespace, a control character, or a delimiter (`/`, `?`) where one
    /// cannot appear.
    #[error(
        "{segment} contains the raw character {ch:?} (U+{:04X}), which must be percent-encoded",
        u32::from(*.ch)
    )]
    ForbiddenChar {
        /// The part holding the character.
        segment: Segment,
        /// The first offending character.
        ch: char,
    },

    /// An entity or topic has a `%` that is not followed by two hex digits.
    #[error("{segment} has an invalid percent-encoding: '%' must be followed by two hex digits")]
    InvalidPercentEncoding {
        /// The malformed part.
        segment: Segment,
    },

    /// An entity or topic is not UTF-8 once percent-decoded (`%FF`).
    #[error("{segment} is not valid UTF-8 after percent-decoding")]
    InvalidUtf8 {
        /// The malformed part.
        segment: Segment,
    },

    /// An entity or topic is longer than its limit once percent-decoded.
    #[error("{segment} is {len} bytes long after percent-decoding, over the limit of {max} bytes")]
    TooLong {
        /// The oversized part.
        segment: Segment,
        /// Its decoded length in bytes.
        len: usize,
        /// The limit, [`Limits::max_entity_len`](crate::Limits::max_entity_len)
        /// or [`Limits::max_topic_len`](crate::Limits::max_topic_len).
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_char_message_names_the_code_point() {
        let error = Error::ForbiddenChar {
            segment: Segment::Topic,
            ch: '\u{a0}',
        };
        assert_eq!(
            error.to_string(),
            r"topic contains the raw character '\u{a0}' (U+00A0), which must be percent-encoded"
        );
    }

    #[test]
    fn limit_messages_name_the_limit_and_both_numbers() {
        let error = Error::TooLong {
            segment: Segment::Entity,
            len: 257,
            max: 256,
        };
        assert_eq!(
            error.to_string(),
            "entity is 257 bytes long after percent-decoding, over the limit of 256 bytes"
        );
        let error = Error::PathTooLong {
            len: 1025,
            max: 1024,
        };
        assert_eq!(
            error.to_string(),
            "path is 1025 bytes long, over the limit of 1024 bytes"
        );
    }
}
