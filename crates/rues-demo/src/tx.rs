//! The demo chain's transaction format (see `docs/demo-chain.md` for the
//! byte-by-byte layout).

use rues_core::bytes::Bytes;

pub use crate::blob::{Blob, BlobTooLarge, MAX_BLOB_DATA, MAX_BLOBS};
use crate::contracts::STAKE_CONTRACT;
use crate::id::{Account, Id, TxId};

/// The format's magic bytes: every demo transaction starts with them.
pub const MAGIC: [u8; 8] = *b"RUESDEMO";
/// The format version of a transaction without blobs.
pub const FORMAT_VERSION: u8 = 1;
/// The format version of a transaction with blobs: version 1's layout
/// followed by a blob section. A transaction without blobs is always
/// written as version 1, so every transaction has one encoding.
pub const BLOB_FORMAT_VERSION: u8 = 2;
/// The fixed part's length: everything but the memo (and the blobs).
pub const FIXED_LEN: usize = 108;
/// The longest memo, in bytes.
pub const MAX_MEMO: usize = 512;
/// The gas limit a [`TxBuilder`] uses unless told otherwise.
pub const DEFAULT_GAS_LIMIT: u64 = 500_000;
/// The gas price a [`TxBuilder`] uses unless told otherwise.
pub const DEFAULT_GAS_PRICE: u64 = 1;

/// A demo-chain transaction: a transfer of `value` Lux from `sender` to
/// `receiver` (or a stake, when the receiver is the stake contract), paying
/// for gas at `gas_price` up to `gas_limit`.
///
/// Built with [`Transaction::builder`] or [`Transaction::decode`], so every
/// value is encodable; [`Transaction::encode`] and `decode` round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    chain_id: u8,
    sender: Account,
    receiver: Account,
    value: u64,
    nonce: u64,
    gas_limit: u64,
    gas_price: u64,
    memo: Vec<u8>,
    blobs: Vec<Blob>,
}

/// Why bytes are not a demo-chain transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not a demo-chain transaction: it does not start with the magic bytes `RUESDEMO`")]
    BadMagic,
    /// The input ends before the fixed part does.
    #[error(
        "transaction is {len} bytes, shorter than the {FIXED_LEN}-byte fixed part of the format"
    )]
    TooShort {
        /// The input's length.
        len: usize,
    },
    /// A format version this node does not read.
    #[error("transaction format version {0} is not supported (this node reads versions 1 and 2)")]
    UnsupportedVersion(u8),
    /// The memo length field is over [`MAX_MEMO`].
    #[error("memo is {len} bytes, over the maximum of {MAX_MEMO}")]
    MemoTooLong {
        /// The memo length the transaction claims or was built with.
        len: usize,
    },
    /// The input's length disagrees with its memo length field.
    #[error(
        "transaction is {actual} bytes, but its memo length says it must be exactly {expected}"
    )]
    LengthMismatch {
        /// The length the memo length field implies.
        expected: usize,
        /// The input's length.
        actual: usize,
    },
    /// A version-2 transaction whose blob count is 0 or over [`MAX_BLOBS`]
    /// (or a builder given too many blobs).
    #[error("a transaction with blobs carries 1 to {MAX_BLOBS} of them, this one {count}")]
    BlobCount {
        /// The count the transaction claims or was built with.
        count: usize,
    },
    /// A blob's data length is over [`MAX_BLOB_DATA`].
    #[error("blob {index} is {len} bytes, over the maximum of {MAX_BLOB_DATA}")]
    BlobTooLarge {
        /// Which blob, from 0.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The input ends inside the blob section.
    #[error("transaction is {len} bytes and ends inside its blobs")]
    BlobsTruncated {
        /// The input's length.
        len: usize,
    },
    /// Bytes after the last blob.
    #[error("transaction has {extra} bytes after its last blob")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

impl Transaction {
    /// A builder with the defaults of [`TxBuilder::new`].
    pub fn builder() -> TxBuilder {
        TxBuilder::new()
    }

    /// The chain this transaction is for.
    pub fn chain_id(&self) -> u8 {
        self.chain_id
    }

    /// The paying account.
    pub fn sender(&self) -> &Account {
        &self.sender
    }

    /// The receiving account, or [`STAKE_CONTRACT`] for a stake.
    pub fn receiver(&self) -> &Account {
        &self.receiver
    }

    /// The amount moved, in Lux (10⁻⁹ DUSK).
    pub fn value(&self) -> u64 {
        self.value
    }

    /// The sender's nonce (makes otherwise identical transactions distinct).
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The most gas the transaction may spend.
    pub fn gas_limit(&self) -> u64 {
        self.gas_limit
    }

    /// Lux per unit of gas.
    pub fn gas_price(&self) -> u64 {
        self.gas_price
    }

    /// The memo (at most [`MAX_MEMO`] bytes).
    pub fn memo(&self) -> &[u8] {
        &self.memo
    }

    /// The blobs it carries, in order (none for a version-1 transaction).
    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Whether this is a stake (its receiver is the stake contract).
    pub fn is_stake(&self) -> bool {
        self.receiver == STAKE_CONTRACT
    }

    /// The encoding's length: [`FIXED_LEN`] plus the memo, plus the blob
    /// section when there are blobs (a count byte, then a 2-byte length and
    /// the data of each).
    pub fn encoded_len(&self) -> usize {
        let blobs = if self.blobs.is_empty() {
            0
        } else {
            1 + self.blobs.iter().map(|b| 2 + b.data().len()).sum::<usize>()
        };
        FIXED_LEN + self.memo.len() + blobs
    }

    /// The binary encoding (see `docs/demo-chain.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(if self.blobs.is_empty() {
            FORMAT_VERSION
        } else {
            BLOB_FORMAT_VERSION
        });
        out.push(self.chain_id);
        out.extend_from_slice(self.sender.as_bytes());
        out.extend_from_slice(self.receiver.as_bytes());
        out.extend_from_slice(&self.value.to_le_bytes());
        out.extend_from_slice(&self.nonce.to_le_bytes());
        out.extend_from_slice(&self.gas_limit.to_le_bytes());
        out.extend_from_slice(&self.gas_price.to_le_bytes());
        // The builder and the decoder both cap the memo at MAX_MEMO (< u16::MAX).
        let memo_len = u16::try_from(self.memo.len()).expect("memo length is capped at MAX_MEMO");
        out.extend_from_slice(&memo_len.to_le_bytes());
        out.extend_from_slice(&self.memo);
        if !self.blobs.is_empty() {
            // Both cap the count at MAX_BLOBS and each blob at MAX_BLOB_DATA.
            out.push(u8::try_from(self.blobs.len()).expect("blob count is capped at MAX_BLOBS"));
            for blob in &self.blobs {
                let len = u16::try_from(blob.data().len()).expect("blob data is capped");
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(blob.data());
            }
        }
        out
    }

    /// Decodes exactly one transaction: the input must be the whole
    /// encoding, nothing more or less.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(DecodeError::BadMagic);
        }
        let version = *bytes
            .get(MAGIC.len())
            .ok_or(DecodeError::TooShort { len: bytes.len() })?;
        if version != FORMAT_VERSION && version != BLOB_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let Some(fixed) = bytes.get(..FIXED_LEN) else {
            return Err(DecodeError::TooShort { len: bytes.len() });
        };
        let mut reader = Reader {
            bytes: fixed,
            at: 9,
        };
        let chain_id = reader.u8();
        let sender = Id::from_bytes(reader.array());
        let receiver = Id::from_bytes(reader.array());
        let value = reader.u64();
        let nonce = reader.u64();
        let gas_limit = reader.u64();
        let gas_price = reader.u64();
        let memo_len = usize::from(u16::from_le_bytes(reader.array()));
        if memo_len > MAX_MEMO {
            return Err(DecodeError::MemoTooLong { len: memo_len });
        }
        let memo_end = FIXED_LEN + memo_len;
        let blobs = if version == FORMAT_VERSION {
            if bytes.len() != memo_end {
                return Err(DecodeError::LengthMismatch {
                    expected: memo_end,
                    actual: bytes.len(),
                });
            }
            Vec::new()
        } else {
            let section = bytes
                .get(memo_end..)
                .ok_or(DecodeError::BlobsTruncated { len: bytes.len() })?;
            decode_blobs(section, bytes.len())?
        };
        Ok(Self {
            chain_id,
            sender,
            receiver,
            value,
            nonce,
            gas_limit,
            gas_price,
            memo: bytes[FIXED_LEN..memo_end].to_vec(),
            blobs,
        })
    }

    /// The transaction id: SHA-256 of [`encode`](Self::encode)'s bytes.
    pub fn id(&self) -> TxId {
        Id::hash(&[&self.encode()])
    }
}

/// The blob section of a version-2 transaction (`section` is everything
/// after the memo; `total` the whole input's length, for the messages):
/// a count (1..=[`MAX_BLOBS`]), then per blob a u16 LE length
/// (≤ [`MAX_BLOB_DATA`]) and the data, and nothing after.
fn decode_blobs(section: &[u8], total: usize) -> Result<Vec<Blob>, DecodeError> {
    let (&count, mut rest) = section
        .split_first()
        .ok_or(DecodeError::BlobsTruncated { len: total })?;
    let count = usize::from(count);
    if count == 0 || count > MAX_BLOBS {
        return Err(DecodeError::BlobCount { count });
    }
    let mut blobs = Vec::with_capacity(count);
    for index in 0..count {
        let Some((len, after)) = rest.split_first_chunk::<2>() else {
            return Err(DecodeError::BlobsTruncated { len: total });
        };
        let len = usize::from(u16::from_le_bytes(*len));
        if len > MAX_BLOB_DATA {
            return Err(DecodeError::BlobTooLarge { index, len });
        }
        let (data, after) = after
            .split_at_checked(len)
            .ok_or(DecodeError::BlobsTruncated { len: total })?;
        let blob = Blob::new(Bytes::copy_from_slice(data))
            .map_err(|e| DecodeError::BlobTooLarge { index, len: e.len })?;
        blobs.push(blob);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes { extra: rest.len() });
    }
    Ok(blobs)
}

/// Reads fixed-size fields from a slice whose length was checked first.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        // The caller checked the fixed part's length; a short read leaves zeros
        // rather than panicking.
        if let Some(src) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }

    fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

/// Builds a [`Transaction`]; the CLI's `rues tx` uses it.
///
/// ```
/// use rues_demo::{Id, Transaction};
///
/// let to: Id = "ab".repeat(32).parse()?;
/// let tx = Transaction::builder()
///     .receiver(to)
///     .value(1_000_000_000) // 1 DUSK
///     .nonce(7)
///     .memo("hello")
///     .build()?;
/// assert_eq!(Transaction::decode(&tx.encode())?, tx);
/// assert_eq!(tx.id().to_string().len(), 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TxBuilder {
    tx: Transaction,
    blobs: Vec<Vec<u8>>,
}

impl Default for TxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TxBuilder {
    /// Defaults: chain id 0 (the demo chain's default), sender
    /// [`demo_account(0)`](crate::params::demo_account), receiver all zeros, value 0,
    /// nonce 0, gas limit [`DEFAULT_GAS_LIMIT`], gas price
    /// [`DEFAULT_GAS_PRICE`], no memo.
    pub fn new() -> Self {
        Self {
            tx: Transaction {
                chain_id: crate::config::DEFAULT_CHAIN_ID,
                sender: crate::params::demo_account(0),
                receiver: Id::ZERO,
                value: 0,
                nonce: 0,
                gas_limit: DEFAULT_GAS_LIMIT,
                gas_price: DEFAULT_GAS_PRICE,
                memo: Vec::new(),
                blobs: Vec::new(),
            },
            blobs: Vec::new(),
        }
    }

    /// Sets the chain id (must match the node's `chain_id`).
    pub fn chain_id(mut self, chain_id: u8) -> Self {
        self.tx.chain_id = chain_id;
        self
    }

    /// Sets the sender.
    pub fn sender(mut self, sender: Account) -> Self {
        self.tx.sender = sender;
        self
    }

    /// Sets the receiver ([`STAKE_CONTRACT`] makes the transaction a stake).
    pub fn receiver(mut self, receiver: Account) -> Self {
        self.tx.receiver = receiver;
        self
    }

    /// Sets the value, in Lux.
    pub fn value(mut self, value: u64) -> Self {
        self.tx.value = value;
        self
    }

    /// Sets the nonce.
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.tx.nonce = nonce;
        self
    }

    /// Sets the gas limit.
    pub fn gas_limit(mut self, gas_limit: u64) -> Self {
        self.tx.gas_limit = gas_limit;
        self
    }

    /// Sets the gas price.
    pub fn gas_price(mut self, gas_price: u64) -> Self {
        self.tx.gas_price = gas_price;
        self
    }

    /// Sets the memo (at most [`MAX_MEMO`] bytes, checked by `build`).
    pub fn memo(mut self, memo: impl Into<Vec<u8>>) -> Self {
        self.tx.memo = memo.into();
        self
    }

    /// Adds a blob carrying `data` (at most [`MAX_BLOB_DATA`] bytes, and at
    /// most [`MAX_BLOBS`] blobs, checked by `build`). A transaction with
    /// blobs is encoded as version 2; each blob costs
    /// [`GAS_PER_BLOB`](crate::params::GAS_PER_BLOB), so raise the gas limit
    /// to match.
    pub fn blob(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.blobs.push(data.into());
        self
    }

    /// The transaction; fails only when the memo is over [`MAX_MEMO`] or the
    /// blobs are over [`MAX_BLOBS`] or [`MAX_BLOB_DATA`].
    pub fn build(self) -> Result<Transaction, DecodeError> {
        let mut tx = self.tx;
        if tx.memo.len() > MAX_MEMO {
            return Err(DecodeError::MemoTooLong { len: tx.memo.len() });
        }
        if self.blobs.len() > MAX_BLOBS {
            return Err(DecodeError::BlobCount {
                count: self.blobs.len(),
            });
        }
        tx.blobs = self
            .blobs
            .into_iter()
            .enumerate()
            .map(|(index, data)| {
                Blob::new(data).map_err(|e| DecodeError::BlobTooLarge { index, len: e.len })
            })
            .collect::<Result<_, _>>()?;
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        Transaction::builder()
            .chain_id(3)
            .sender(Id::from_bytes([1; 32]))
            .receiver(Id::from_bytes([2; 32]))
            .value(5)
            .nonce(6)
            .gas_limit(7)
            .gas_price(8)
            .memo(b"hi".to_vec())
            .build()
            .expect("memo fits")
    }

    #[test]
    fn encoding_is_laid_out_as_documented() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), FIXED_LEN + 2);
        assert_eq!(&bytes[0..8], b"RUESDEMO");
        assert_eq!(bytes[8], 1);
        assert_eq!(bytes[9], 3);
        assert_eq!(&bytes[10..42], &[1; 32]);
        assert_eq!(&bytes[42..74], &[2; 32]);
        assert_eq!(&bytes[74..82], &5u64.to_le_bytes());
        assert_eq!(&bytes[82..90], &6u64.to_le_bytes());
        assert_eq!(&bytes[90..98], &7u64.to_le_bytes());
        assert_eq!(&bytes[98..106], &8u64.to_le_bytes());
        assert_eq!(&bytes[106..108], &2u16.to_le_bytes());
        assert_eq!(&bytes[108..], b"hi");
    }

    #[test]
    fn builder_rejects_a_memo_over_the_maximum() {
        let err = Transaction::builder().memo(vec![0; MAX_MEMO + 1]).build();
        assert_eq!(err, Err(DecodeError::MemoTooLong { len: MAX_MEMO + 1 }));
        assert!(
            Transaction::builder()
                .memo(vec![0; MAX_MEMO])
                .build()
                .is_ok()
        );
    }
}
