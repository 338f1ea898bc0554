//! Session ids and where they come from.

use std::fmt;
use std::str::FromStr;

/// A session id: 16 random bytes, written as 32 lowercase hex characters
/// (PROTOCOL.md §2).
///
/// Parsing accepts either case, as the `Rusk-Session-Id` header is
/// case-insensitive; anything that is not exactly 32 hex characters is
/// rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// The id's length in bytes.
    pub const LEN: usize = 16;

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the 32-hex-character form, in either case.
    pub fn parse(text: &[u8]) -> Result<Self, InvalidSessionId> {
        if text.len() != 2 * Self::LEN {
            return Err(InvalidSessionId);
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidSessionId)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        // Cannot fail: the buffer is exactly twice the input length.
        if hex::encode_to_slice(self.0, &mut buf).is_err() {
            return Err(fmt::Error);
        }
        // Hex digits are ASCII, so this is valid UTF-8.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// A session id that is not 32 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 32 hexadecimal characters")]
pub struct InvalidSessionId;

/// Where session ids come from.
///
/// Production uses [`OsIds`] (the operating system's CSPRNG); tests use
/// [`SeededIds`] so that a run is reproducible. The core redraws on the
/// (astronomically unlikely) collision with a live session, so a source only
/// has to be random, not unique.
pub trait IdSource: Send {
    /// Draws the next 16 bytes.
    fn draw(&mut self) -> Result<[u8; 16], IdSourceError>;
}

/// The id source failed (the OS CSPRNG is unavailable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot draw a session id: {0}")]
pub struct IdSourceError(pub String);

/// Session ids from the operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsIds;

impl IdSource for OsIds {
    fn draw(&mut self) -> Result<[u8; 16], IdSourceError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| IdSourceError(e.to_string()))?;
        Ok(bytes)
    }
}

/// Reproducible ids for tests and simulations: SplitMix64 from a seed.
///
/// Not cryptographic: never use it where ids must be unguessable.
#[derive(Debug, Clone)]
pub struct SeededIds {
    state: u64,
}

impl SeededIds {
    /// A source that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        // SplitMix64 (Steele, Lea, Flood 2014): full period, good enough
        // spread for test ids, and trivially seedable.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl IdSource for SeededIds {
    fn draw(&mut self) -> Result<[u8; 16], IdSourceError> {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_displays_as_32_lowercase_hex() {
        let id = SessionId::from_bytes([0xAB; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
    }

    #[test]
    fn session_id_parses_either_case() {
        let lower = "0123456789abcdef0123456789abcdef";
        let upper = lower.to_uppercase();
        assert_eq!(
            SessionId::parse(lower.as_bytes()),
            SessionId::parse(upper.as_bytes())
        );
        assert_eq!(
            SessionId::parse(lower.as_bytes()).map(|id| id.to_string()),
            Ok(lower.to_owned())
        );
    }

    #[test]
    fn session_id_rejects_wrong_length_and_non_hex() {
        for bad in ["", "abc", &"a".repeat(31), &"a".repeat(33), &"g".repeat(32)] {
            assert_eq!(
                SessionId::parse(bad.as_bytes()),
                Err(InvalidSessionId),
                "{bad:?}"
            );
        }
        assert_eq!(
            SessionId::parse("é".repeat(16).as_bytes()),
            Err(InvalidSessionId)
        );
    }

    #[test]
    fn seeded_ids_repeat_for_a_seed_and_differ_across_seeds() {
        let a: Vec<_> = (0..4).map(|_| SeededIds::new(7).draw()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut one = SeededIds::new(7);
        let first = one.draw();
        assert_ne!(first, one.draw());
        assert_ne!(SeededIds::new(7).draw(), SeededIds::new(8).draw());
    }

    #[test]
    fn os_ids_are_not_constant() {
        let mut os = OsIds;
        assert_ne!(os.draw(), os.draw());
    }
}
