//! Session ids and where they come from.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::str::FromStr;

/// A session id: 16 random bytes, written as 32 lowercase hex characters
/// (PROTOCOL.md §2).
///
/// Parsing accepts either case, as the `Rusk-Session-Id` header is
/// case-insensitive; anything that is not exactly 32 hex characters is
/// rejected.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl Hash for SessionId {
    /// Feeds one `u64`, the two halves folded together: the bytes are random
    /// already, so [`IdHasher`] needs nothing more to spread them.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (low, high) = self.0.split_at(8);
        let half = |bytes: &[u8]| {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_le_bytes(word)
        };
        state.write_u64(half(low) ^ half(high).rotate_left(32));
    }
}

/// The hasher of every map keyed by [`SessionId`]: one wide multiply per
/// key instead of SipHash's rounds, because fan-out looks a session up for
/// every receiver of every event.
///
/// Flooding is not a concern here: the keys stored are ids the node drew
/// itself (from the OS CSPRNG in production), so a peer cannot choose keys
/// that collide; looking up an id a peer made up costs one probe like any
/// other.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached when something other than a `SessionId` is hashed;
        // still a fine (if slower) hash.
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        // A folded multiply (as in foldhash): the 128-bit product's halves
        // XORed, so every input bit reaches both the low bits (the bucket)
        // and the top bits (hashbrown's tag), even for structured ids.
        let product = u128::from(self.0 ^ word) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

/// Builds [`IdHasher`]s.
pub type BuildIdHasher = BuildHasherDefault<IdHasher>;

/// A map keyed by session id, with [`IdHasher`].
pub type SessionMap<V> = HashMap<SessionId, V, BuildIdHasher>;

/// A set of session ids, with [`IdHasher`].
pub type SessionSet = HashSet<SessionId, BuildIdHasher>;

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
    fn id_hasher_spreads_structured_ids_over_buckets() {
        use std::hash::BuildHasher;
        // Counter-like ids (a custom `IdSource` might draw them) must not
        // pile into a few buckets: look at the low 12 bits and the top 7
        // bits, the parts hashbrown uses.
        let build = BuildIdHasher::default();
        let layouts: [fn(u64) -> [u8; 16]; 2] = [
            |n| {
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&n.to_le_bytes());
                bytes
            },
            |n| {
                let mut bytes = [0u8; 16];
                bytes[8..].copy_from_slice(&n.to_be_bytes());
                bytes
            },
        ];
        for layout in layouts {
            let hashes: Vec<u64> = (0u64..4096)
                .map(|n| build.hash_one(SessionId::from_bytes(layout(n))))
                .collect();
            let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
            let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
            assert!(low.len() > 2500, "{} distinct low-bit buckets", low.len());
            assert_eq!(top.len(), 128);
        }
    }

    #[test]
    fn os_ids_are_not_constant() {
        let mut os = OsIds;
        assert_ne!(os.draw(), os.draw());
    }
}
