//! Where session ids come from, and the hasher of the maps keyed by them.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use rues_wire::SessionId;

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
#[error("cannot draw a session id: {reason}")]
pub struct IdSourceError {
    reason: String,
}

impl IdSourceError {
    /// An error saying why the source failed (for a custom [`IdSource`]).
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// Why the source failed.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Session ids from the operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsIds;

impl IdSource for OsIds {
    fn draw(&mut self) -> Result<[u8; 16], IdSourceError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| IdSourceError::new(e.to_string()))?;
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
