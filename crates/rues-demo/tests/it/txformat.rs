//! The demo transaction format: round trip, every decode error, stable ids,
//! blobs (version 2).

use proptest::prelude::*;
use rues_demo::blob::{MAX_BLOB_DATA, MAX_BLOBS, versioned_hash};
use rues_demo::contracts::STAKE_CONTRACT;
use rues_demo::tx::{BLOB_FORMAT_VERSION, FIXED_LEN, FORMAT_VERSION, MAGIC, MAX_MEMO};
use rues_demo::{Blob, DecodeError, Id, Transaction};
use sha2::{Digest, Sha256};

use crate::support::{account, transfer};

fn any_tx() -> impl Strategy<Value = Transaction> {
    any_tx_with(any_blobs(true))
}

/// [`any_tx`] with small blobs only, for properties that decode a
/// transaction once per byte of it.
fn any_small_tx() -> impl Strategy<Value = Transaction> {
    any_tx_with(any_blobs(false))
}

fn any_tx_with(blobs: impl Strategy<Value = Vec<Vec<u8>>>) -> impl Strategy<Value = Transaction> {
    (
        any::<u8>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..=MAX_MEMO),
        blobs,
    )
        .prop_map(
            |(chain, from, to, value, nonce, limit, price, memo, blobs)| {
                let mut builder = Transaction::builder()
                    .chain_id(chain)
                    .sender(Id::from_bytes(from))
                    .receiver(Id::from_bytes(to))
                    .value(value)
                    .nonce(nonce)
                    .gas_limit(limit)
                    .gas_price(price)
                    .memo(memo);
                for blob in blobs {
                    builder = builder.blob(blob);
                }
                builder.build().expect("memo and blobs within the maximums")
            },
        )
}

/// Half the time no blob (version 1), otherwise 1 to MAX_BLOBS of them,
/// sometimes empty, and with `large`, sometimes the largest.
fn any_blobs(large: bool) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let largest = if large { MAX_BLOB_DATA } else { 64 };
    let data = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(vec![0xab; largest]),
    ];
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(data, 1..=MAX_BLOBS),
    ]
}

proptest! {
    #[test]
    fn encode_decode_round_trips(tx in any_tx()) {
        let bytes = tx.encode();
        prop_assert_eq!(bytes.len(), tx.encoded_len());
        prop_assert_eq!(Transaction::decode(&bytes), Ok(tx));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = Transaction::decode(&bytes);
    }

    /// Bytes that start like a transaction, either version, reach the memo
    /// and blob checks instead of stopping at the magic.
    #[test]
    fn decode_never_panics_past_the_fixed_part(
        version in 1u8..=2,
        rest in proptest::collection::vec(any::<u8>(), 0..900),
    ) {
        let mut bytes = transfer(0).encode()[..FIXED_LEN].to_vec();
        bytes[8] = version;
        bytes[106..108].copy_from_slice(&[rest.len().min(16) as u8, 0]);
        bytes.extend(rest);
        if let Ok(tx) = Transaction::decode(&bytes) {
            prop_assert_eq!(tx.encode(), bytes);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_an_error(tx in any_small_tx(), extra in 1usize..4) {
        let bytes = tx.encode();
        for len in 0..bytes.len() {
            prop_assert!(Transaction::decode(&bytes[..len]).is_err(), "prefix of {} bytes", len);
        }
        let mut longer = bytes.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        let error = Transaction::decode(&longer);
        if tx.blobs().is_empty() {
            prop_assert!(
                matches!(error, Err(DecodeError::LengthMismatch { .. })),
                "extended by {}", extra
            );
        } else {
            prop_assert_eq!(error, Err(DecodeError::TrailingBytes { extra }));
        }
    }
}

#[test]
fn decode_rejects_other_data_as_bad_magic() {
    assert_eq!(Transaction::decode(b"garbage"), Err(DecodeError::BadMagic));
    assert_eq!(
        Transaction::decode(b"RUESDEMX\x01"),
        Err(DecodeError::BadMagic)
    );
    let mut bytes = transfer(0).encode();
    bytes[0] = b'r';
    assert_eq!(Transaction::decode(&bytes), Err(DecodeError::BadMagic));
}

#[test]
fn decode_rejects_a_short_input() {
    assert_eq!(
        Transaction::decode(b""),
        Err(DecodeError::TooShort { len: 0 })
    );
    assert_eq!(
        Transaction::decode(b"RUES"),
        Err(DecodeError::TooShort { len: 4 })
    );
    assert_eq!(
        Transaction::decode(&MAGIC),
        Err(DecodeError::TooShort { len: 8 })
    );
    let bytes = transfer(0).encode();
    assert_eq!(
        Transaction::decode(&bytes[..FIXED_LEN - 1]),
        Err(DecodeError::TooShort { len: FIXED_LEN - 1 })
    );
}

#[test]
fn decode_rejects_an_unknown_version() {
    let mut bytes = transfer(0).encode();
    bytes[8] = 3;
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::UnsupportedVersion(3))
    );
    // The version is checked as soon as it is there, before the length.
    assert_eq!(
        Transaction::decode(b"RUESDEMO\x07"),
        Err(DecodeError::UnsupportedVersion(7))
    );
    assert_eq!(FORMAT_VERSION, 1);
    assert_eq!(BLOB_FORMAT_VERSION, 2);
}

#[test]
fn decode_rejects_a_memo_length_over_the_maximum() {
    let mut bytes = transfer(0).encode();
    let len = u16::try_from(MAX_MEMO + 1).expect("fits");
    bytes[106..108].copy_from_slice(&len.to_le_bytes());
    bytes.extend(vec![0; MAX_MEMO + 1]);
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::MemoTooLong { len: MAX_MEMO + 1 })
    );
}

#[test]
fn decode_rejects_a_length_that_disagrees_with_the_memo_length() {
    let tx = Transaction::builder().memo("abc").build().expect("valid");
    let bytes = tx.encode();
    assert_eq!(
        Transaction::decode(&bytes[..bytes.len() - 1]),
        Err(DecodeError::LengthMismatch {
            expected: FIXED_LEN + 3,
            actual: FIXED_LEN + 2
        })
    );
}

#[test]
fn decode_errors_read_well() {
    let message = Transaction::decode(b"hello")
        .expect_err("not a tx")
        .to_string();
    assert!(message.contains("RUESDEMO"), "{message}");
    let message = Transaction::decode(b"RUESDEMO\x01")
        .expect_err("short")
        .to_string();
    assert!(message.contains("108"), "{message}");
}

#[test]
fn tx_id_is_stable() {
    // A fixed transaction's id must never change: clients and docs rely on it.
    let tx = Transaction::builder()
        .chain_id(0)
        .sender(account(1))
        .receiver(account(2))
        .value(1_000_000_000)
        .nonce(7)
        .gas_limit(500_000)
        .gas_price(1)
        .memo("hello")
        .build()
        .expect("valid");
    assert_eq!(tx.id(), Id::hash(&[&tx.encode()]));
    assert_eq!(tx.id().to_string(), GOLDEN_ID);
    assert_eq!(hex::encode(tx.encode()), GOLDEN_HEX);
    assert_eq!(tx.id(), tx.clone().id());
    assert_ne!(tx.id(), transfer(8).id());
}

// Computed independently (Python's hashlib over the documented layout); the
// same example is in docs/demo-chain.md.
const GOLDEN_ID: &str = "13b426c69061a9af85e2ee9b284bf94ae78fb31b5b53f9772a2f26c61458edcb";
const GOLDEN_HEX: &str = concat!(
    "5255455344454d4f",                                                 // RUESDEMO
    "01",                                                               // version
    "00",                                                               // chain id
    "0101010101010101010101010101010101010101010101010101010101010101", // sender
    "0202020202020202020202020202020202020202020202020202020202020202", // receiver
    "00ca9a3b00000000",                                                 // value 1_000_000_000
    "0700000000000000",                                                 // nonce 7
    "20a1070000000000",                                                 // gas limit 500_000
    "0100000000000000",                                                 // gas price 1
    "0500",                                                             // memo length 5
    "68656c6c6f",                                                       // "hello"
);

#[test]
fn a_transaction_to_the_stake_contract_is_a_stake() {
    let stake = Transaction::builder()
        .receiver(STAKE_CONTRACT)
        .build()
        .expect("valid");
    assert!(stake.is_stake());
    assert!(!transfer(0).is_stake());
}

/// A version-2 transaction: `blobs` as (declared length, data) after a
/// count byte, `count` as written.
fn with_blob_section(count: u8, blobs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut bytes = transfer(0).encode();
    bytes[8] = BLOB_FORMAT_VERSION;
    bytes.push(count);
    for (len, data) in blobs {
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(data);
    }
    bytes
}

#[test]
fn a_transaction_with_blobs_is_version_2_laid_out_as_documented() {
    let tx = Transaction::builder()
        .memo("m")
        .blob(b"first".to_vec())
        .blob(Vec::new())
        .build()
        .expect("valid");
    let bytes = tx.encode();
    assert_eq!(bytes[8], 2, "version 2");
    assert_eq!(&bytes[106..108], &1u16.to_le_bytes());
    assert_eq!(bytes[108], b'm');
    assert_eq!(bytes[109], 2, "blob count");
    assert_eq!(&bytes[110..112], &5u16.to_le_bytes());
    assert_eq!(&bytes[112..117], b"first");
    assert_eq!(&bytes[117..119], &0u16.to_le_bytes());
    assert_eq!(bytes.len(), 119);
    assert_eq!(tx.encoded_len(), 119);
    let decoded = Transaction::decode(&bytes).expect("decodes");
    assert_eq!(decoded, tx);
    let blobs = decoded.blobs();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs[0].data(), b"first");
    assert_eq!(blobs[1].data(), b"");
    // Without blobs the same transaction is version 1, as before.
    let plain = Transaction::builder().memo("m").build().expect("valid");
    assert_eq!(plain.encode()[8], 1);
    assert!(plain.blobs().is_empty());
    assert_eq!(plain.encode()[..8], bytes[..8]);
    assert_eq!(plain.encode()[9..], bytes[9..109]);
}

#[test]
fn a_blob_commitment_and_versioned_hash_are_derived_as_documented() {
    let blob = Blob::new(b"hello blob".to_vec()).expect("small");
    // Commitment: SHA-256 over the label, 00 and the data, then the first 16
    // bytes of the same with 01.
    let label = b"rues-demo blob commitment";
    let first = Sha256::digest([&label[..], &[0], b"hello blob"].concat());
    let second = Sha256::digest([&label[..], &[1], b"hello blob"].concat());
    let mut commitment = first.to_vec();
    commitment.extend_from_slice(&second[..16]);
    assert_eq!(blob.commitment().as_slice(), commitment.as_slice());
    // Versioned hash: 01 then SHA-256(commitment) without its first byte.
    let digest = Sha256::digest(&commitment);
    let mut hash = vec![0x01];
    hash.extend_from_slice(&digest[1..]);
    assert_eq!(blob.versioned_hash().as_bytes().as_slice(), hash.as_slice());
    assert_eq!(blob.versioned_hash(), &versioned_hash(blob.commitment()));
}

#[test]
fn decode_rejects_a_blob_count_of_zero_or_over_the_maximum() {
    assert_eq!(
        Transaction::decode(&with_blob_section(0, &[])),
        Err(DecodeError::BlobCount { count: 0 })
    );
    let seven: Vec<(u16, &[u8])> = vec![(0, &[]); MAX_BLOBS + 1];
    let count = u8::try_from(MAX_BLOBS + 1).expect("small");
    assert_eq!(
        Transaction::decode(&with_blob_section(count, &seven)),
        Err(DecodeError::BlobCount {
            count: MAX_BLOBS + 1
        })
    );
    let mut builder = Transaction::builder();
    for _ in 0..=MAX_BLOBS {
        builder = builder.blob(b"x".to_vec());
    }
    assert_eq!(
        builder.build(),
        Err(DecodeError::BlobCount {
            count: MAX_BLOBS + 1
        })
    );
}

#[test]
fn decode_rejects_a_blob_over_the_maximum_before_reading_it() {
    let len = u16::try_from(MAX_BLOB_DATA + 1).expect("fits");
    // The data is not even there: the length alone is refused.
    assert_eq!(
        Transaction::decode(&with_blob_section(2, &[(1, b"a"), (len, b"")])),
        Err(DecodeError::BlobTooLarge {
            index: 1,
            len: MAX_BLOB_DATA + 1
        })
    );
    assert_eq!(
        Transaction::builder()
            .blob(vec![0; MAX_BLOB_DATA + 1])
            .build(),
        Err(DecodeError::BlobTooLarge {
            index: 0,
            len: MAX_BLOB_DATA + 1
        })
    );
}

#[test]
fn decode_rejects_truncated_blobs_and_trailing_bytes() {
    let total = FIXED_LEN;
    let mut no_section = transfer(0).encode();
    no_section[8] = BLOB_FORMAT_VERSION;
    assert_eq!(
        Transaction::decode(&no_section),
        Err(DecodeError::BlobsTruncated { len: total })
    );
    // Half a length field.
    let mut half = with_blob_section(1, &[]);
    half.push(3);
    assert_eq!(
        Transaction::decode(&half),
        Err(DecodeError::BlobsTruncated { len: total + 2 })
    );
    // Data shorter than its length.
    let short = with_blob_section(1, &[(4, b"abc")]);
    assert_eq!(
        Transaction::decode(&short),
        Err(DecodeError::BlobsTruncated { len: total + 6 })
    );
    // Fewer blobs than the count.
    let fewer = with_blob_section(2, &[(3, b"abc")]);
    assert_eq!(
        Transaction::decode(&fewer),
        Err(DecodeError::BlobsTruncated { len: total + 6 })
    );
    let mut trailing = with_blob_section(1, &[(3, b"abc")]);
    trailing.extend_from_slice(b"zz");
    assert_eq!(
        Transaction::decode(&trailing),
        Err(DecodeError::TrailingBytes { extra: 2 })
    );
    let message = DecodeError::BlobsTruncated { len: 9 }.to_string();
    assert!(message.contains("blobs"), "{message}");
}

#[test]
fn a_blob_transaction_id_is_stable() {
    // Pinned like the version-1 example: the bytes are in docs/demo-chain.md.
    let tx = Transaction::builder()
        .chain_id(0)
        .sender(account(1))
        .receiver(account(2))
        .value(1_000_000_000)
        .nonce(7)
        .gas_limit(1_500_000)
        .gas_price(1)
        .blob(b"hi".to_vec())
        .build()
        .expect("valid");
    assert_eq!(hex::encode(tx.encode()), GOLDEN_BLOB_HEX);
    assert_eq!(tx.id().to_string(), GOLDEN_BLOB_ID);
}

const GOLDEN_BLOB_HEX: &str = concat!(
    "5255455344454d4f",                                                 // RUESDEMO
    "02",                                                               // version 2
    "00",                                                               // chain id
    "0101010101010101010101010101010101010101010101010101010101010101", // sender
    "0202020202020202020202020202020202020202020202020202020202020202", // receiver
    "00ca9a3b00000000",                                                 // value 1_000_000_000
    "0700000000000000",                                                 // nonce 7
    "60e3160000000000",                                                 // gas limit 1_500_000
    "0100000000000000",                                                 // gas price 1
    "0000",                                                             // memo length 0
    "01",                                                               // 1 blob
    "0200",                                                             // blob length 2
    "6869",                                                             // "hi"
);
// Computed independently (Python's hashlib over the documented layout).
const GOLDEN_BLOB_ID: &str = "f04040f62a44dd8490b4f750d826ba8dfd9c438c2dcbf48f4e06669d1350bd47";
