//! 32-byte identifiers: block hashes, transaction ids, contract ids, accounts.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A 32-byte identifier, written as 64 lowercase hex characters.
///
/// The demo chain uses it for every id it has: block hashes ([`BlockHash`]),
/// transaction ids ([`TxId`]), contract ids ([`ContractId`]) and accounts
/// ([`Account`]). Parsing accepts either case; display is always lowercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id([u8; 32]);

/// A block's hash: SHA-256 over its header fields (see `docs/demo-chain.md`).
pub type BlockHash = Id;
/// A transaction's id: SHA-256 over its encoding.
pub type TxId = Id;
/// A contract's id (`0100…00` transfer, `0200…00` stake).
pub type ContractId = Id;
/// An account: 32 opaque bytes (a public key on a real chain).
pub type Account = Id;

impl Id {
    /// The id's length in bytes.
    pub const LEN: usize = 32;

    /// The all-zero id (e.g. the genesis block's previous hash).
    pub const ZERO: Id = Id([0; 32]);

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex characters, in either case.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        if text.len() != 2 * Self::LEN {
            return Err(InvalidId);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidId)?;
        Ok(Self(bytes))
    }

    /// Copies the id out of a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// SHA-256 over the concatenation of `parts`.
    pub fn hash(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        Self(hasher.finalize().into())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl FromStr for Id {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Text that is not 64 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an id is 64 hexadecimal characters (32 bytes)")]
pub struct InvalidId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_displays_lowercase_and_parses_either_case() {
        let id = Id::from_bytes([0xAB; 32]);
        assert_eq!(id.to_string(), "ab".repeat(32));
        assert_eq!(Id::parse(&"AB".repeat(32)), Ok(id));
        assert_eq!(id.to_string().parse::<Id>(), Ok(id));
    }

    #[test]
    fn id_rejects_wrong_length_and_non_hex() {
        for bad in ["", "ab", &"a".repeat(63), &"a".repeat(65), &"g".repeat(64)] {
            assert_eq!(Id::parse(bad), Err(InvalidId), "{bad:?}");
        }
        assert_eq!(Id::parse(&"é".repeat(32)), Err(InvalidId));
    }

    #[test]
    fn id_hash_is_sha256_of_the_concatenation() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Id::hash(&[b"a", b"bc"]).to_string(), expected);
    }

    #[test]
    fn id_serializes_as_a_hex_string() {
        let json = serde_json::to_string(&Id::from_bytes([1; 32])).expect("serializes");
        assert_eq!(json, format!("\"{}\"", "01".repeat(32)));
    }
}
