//! Blobs: data a transaction carries beside it, as Dusk's blob transactions
//! do (EIP-4844 style), named by a 48-byte commitment and the 32-byte
//! versioned hash derived from it; and `BlobIndex`, the chain's blobs by
//! versioned hash.
//!
//! The demo chain has no KZG: a demo commitment is a domain-separated
//! SHA-256 of the data (see [`Blob::commitment`]), not a KZG commitment, and
//! its sidecar's proof is all zeros: there is no proof. The versioned hash is
//! computed from the commitment exactly as Dusk computes it.

use std::collections::HashMap;

use rues_core::bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::id::Id;

/// The most data one blob carries, in bytes. Dusk's blobs are 128 KiB of
/// field elements; the demo keeps them small because it holds every blob of
/// the history in memory.
pub const MAX_BLOB_DATA: usize = 4096;
/// The most blobs one transaction carries (Dusk's limit).
pub const MAX_BLOBS: usize = 6;
/// A commitment's length in bytes (a compressed G₁ point on Dusk).
pub const COMMITMENT_LEN: usize = 48;
/// A sidecar proof's length in bytes.
pub const PROOF_LEN: usize = 48;
/// The first byte of a versioned hash: the KZG version, as on Dusk.
pub const VERSIONED_HASH_VERSION_KZG: u8 = 0x01;

/// The label the demo's commitment hashes the data under.
const COMMITMENT_LABEL: &[u8] = b"rues-demo blob commitment";

/// One blob: its data, its commitment and its versioned hash.
///
/// Made by [`Blob::new`] or by decoding a transaction, so the commitment and
/// the hash always belong to the data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Blob {
    data: Bytes,
    commitment: [u8; COMMITMENT_LEN],
    versioned_hash: Id,
}

/// Blob data over [`MAX_BLOB_DATA`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("blob data is {len} bytes, over the maximum of {MAX_BLOB_DATA}")]
pub struct BlobTooLarge {
    /// The data's length.
    pub len: usize,
}

impl Blob {
    /// A blob of `data` (at most [`MAX_BLOB_DATA`] bytes).
    pub fn new(data: impl Into<Bytes>) -> Result<Self, BlobTooLarge> {
        let data = data.into();
        if data.len() > MAX_BLOB_DATA {
            return Err(BlobTooLarge { len: data.len() });
        }
        let commitment = commitment_of(&data);
        Ok(Self {
            versioned_hash: versioned_hash(&commitment),
            commitment,
            data,
        })
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The demo's commitment to the data: SHA-256 of `"rues-demo blob
    /// commitment"` ‖ `00` ‖ data, then the first 16 bytes of the same with
    /// `01` for `00` (48 bytes). Not a KZG commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// The versioned hash: `01` ‖ SHA-256(commitment)[1..], as Dusk computes
    /// it ([`versioned_hash`]).
    pub fn versioned_hash(&self) -> &Id {
        &self.versioned_hash
    }

    /// The sidecar as rusk serves it raw: commitment (48) ‖ proof (48, all
    /// zeros: the demo has no proof) ‖ data.
    pub fn sidecar_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(COMMITMENT_LEN + PROOF_LEN + self.data.len());
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(&[0; PROOF_LEN]);
        out.extend_from_slice(&self.data);
        out
    }

    /// The sidecar as rusk serves it in JSON: `commitment`, `proof` and
    /// `data`, each lowercase hex.
    pub fn sidecar_json(&self) -> serde_json::Value {
        json!({
            "commitment": hex::encode(self.commitment),
            "proof": hex::encode([0u8; PROOF_LEN]),
            "data": hex::encode(&self.data),
        })
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data may be kilobytes: its length says enough.
        f.debug_struct("Blob")
            .field("versioned_hash", &self.versioned_hash)
            .field("data_len", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// The versioned hash of a commitment: `01` ‖ SHA-256(commitment)[1..]
/// (EIP-4844's definition, which Dusk follows).
pub fn versioned_hash(commitment: &[u8]) -> Id {
    let mut out: [u8; 32] = Sha256::digest(commitment).into();
    out[0] = VERSIONED_HASH_VERSION_KZG;
    Id::from_bytes(out)
}

fn commitment_of(data: &[u8]) -> [u8; COMMITMENT_LEN] {
    let first = Id::hash(&[COMMITMENT_LABEL, &[0], data]);
    let second = Id::hash(&[COMMITMENT_LABEL, &[1], data]);
    let mut out = [0u8; COMMITMENT_LEN];
    out[..32].copy_from_slice(first.as_bytes());
    out[32..].copy_from_slice(&second.as_bytes()[..16]);
    out
}

/// The blobs of the blocks the chain holds, by versioned hash. A blob
/// carried by several transactions is counted, so it stays until the last
/// block holding it is reverted or pruned. A lookup by commitment derives
/// the versioned hash first, as rusk does.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobIndex {
    blobs: HashMap<Id, (Blob, usize)>,
}

impl BlobIndex {
    pub(crate) fn add<'a>(&mut self, blobs: impl IntoIterator<Item = &'a Blob>) {
        for blob in blobs {
            self.blobs
                .entry(*blob.versioned_hash())
                .or_insert_with(|| (blob.clone(), 0))
                .1 += 1;
        }
    }

    pub(crate) fn remove<'a>(&mut self, blobs: impl IntoIterator<Item = &'a Blob>) {
        for blob in blobs {
            let hash = blob.versioned_hash();
            if let Some((_, count)) = self.blobs.get_mut(hash) {
                *count -= 1;
                if *count == 0 {
                    self.blobs.remove(hash);
                }
            }
        }
    }

    pub(crate) fn get(&self, versioned_hash: &Id) -> Option<&Blob> {
        self.blobs.get(versioned_hash).map(|(blob, _)| blob)
    }

    pub(crate) fn len(&self) -> usize {
        self.blobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_hash_is_version_byte_then_sha256_tail_of_the_commitment() {
        let commitment = [7u8; COMMITMENT_LEN];
        let digest = Sha256::digest(commitment);
        let hash = versioned_hash(&commitment);
        assert_eq!(hash.as_bytes()[0], 0x01);
        assert_eq!(hash.as_bytes()[1..], digest[1..]);
    }

    #[test]
    fn a_blob_commits_to_its_data_and_refuses_too_much() {
        let a = Blob::new(b"a".to_vec()).expect("small");
        let b = Blob::new(b"b".to_vec()).expect("small");
        assert_ne!(a.commitment(), b.commitment());
        assert_eq!(a.versioned_hash(), &versioned_hash(a.commitment()));
        assert_eq!(
            Blob::new(vec![0; MAX_BLOB_DATA + 1]),
            Err(BlobTooLarge {
                len: MAX_BLOB_DATA + 1
            })
        );
        assert!(Blob::new(vec![0; MAX_BLOB_DATA]).is_ok());
        let sidecar = a.sidecar_bytes();
        assert_eq!(&sidecar[..48], a.commitment());
        assert_eq!(&sidecar[48..96], &[0; 48]);
        assert_eq!(&sidecar[96..], b"a");
    }

    #[test]
    fn the_index_keeps_a_shared_blob_until_its_last_holder_goes() {
        let blob = Blob::new(b"shared".to_vec()).expect("small");
        let mut index = BlobIndex::default();
        index.add([&blob, &blob]);
        index.remove([&blob]);
        assert_eq!(index.get(blob.versioned_hash()), Some(&blob));
        index.remove([&blob]);
        assert_eq!(index.get(blob.versioned_hash()), None);
        assert_eq!(index.len(), 0);
    }
}
