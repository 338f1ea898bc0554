//! Size limits applied while parsing.

/// Size limits for event paths (docs/protocol.md §3).
///
/// The path limit bounds the raw path (without its query string); the entity
/// and topic limits bound their **decoded** values, in bytes.
///
/// ```
/// use rues_target::{EventPath, Limits};
///
/// let strict = Limits::new(64, 8, 16);
/// assert!(EventPath::parse_with("/on/blocks:ab12/accepted", &strict).is_ok());
/// assert!(EventPath::parse_with("/on/blocks:ab12ab12ab/accepted", &strict).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    max_path_len: usize,
    max_entity_len: usize,
    max_topic_len: usize,
}

impl Limits {
    /// The default limit on the raw path, in bytes.
    pub const DEFAULT_MAX_PATH_LEN: usize = 1024;
    /// The default limit on a decoded entity, in bytes.
    pub const DEFAULT_MAX_ENTITY_LEN: usize = 256;
    /// The default limit on a decoded topic, in bytes.
    pub const DEFAULT_MAX_TOPIC_LEN: usize = 128;

    /// The defaults of docs/protocol.md §3, usable in `const` contexts.
    pub const DEFAULT: Limits = Limits::new(
        Self::DEFAULT_MAX_PATH_LEN,
        Self::DEFAULT_MAX_ENTITY_LEN,
        Self::DEFAULT_MAX_TOPIC_LEN,
    );

    /// Limits with the given maximum lengths, in bytes.
    pub const fn new(max_path_len: usize, max_entity_len: usize, max_topic_len: usize) -> Self {
        Limits {
            max_path_len,
            max_entity_len,
            max_topic_len,
        }
    }

    /// The longest raw path accepted, in bytes, query string excluded.
    pub const fn max_path_len(&self) -> usize {
        self.max_path_len
    }

    /// The longest entity accepted, in bytes after percent-decoding.
    pub const fn max_entity_len(&self) -> usize {
        self.max_entity_len
    }

    /// The longest topic accepted, in bytes after percent-decoding.
    pub const fn max_topic_len(&self) -> usize {
        self.max_topic_len
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_the_protocol_numbers() {
        let limits = Limits::default();
        assert_eq!(limits.max_path_len(), 1024);
        assert_eq!(limits.max_entity_len(), 256);
        assert_eq!(limits.max_topic_len(), 128);
    }

    #[test]
    fn new_keeps_each_limit_in_its_place() {
        let limits = Limits::new(1, 2, 3);
        assert_eq!(
            (
                limits.max_path_len(),
                limits.max_entity_len(),
                limits.max_topic_len()
            ),
            (1, 2, 3)
        );
    }
}
