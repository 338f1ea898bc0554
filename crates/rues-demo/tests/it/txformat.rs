//! The demo transaction format: round trip, every decode error, stable ids.

use proptest::prelude::*;
use rues_demo::contracts::STAKE_CONTRACT;
use rues_demo::tx::{FIXED_LEN, FORMAT_VERSION, MAGIC, MAX_MEMO};
use rues_demo::{DecodeError, Id, Transaction};

use crate::support::{account, transfer};

fn any_tx() -> impl Strategy<Value = Transaction> {
    (
        any::<u8>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..=MAX_MEMO),
    )
        .prop_map(|(chain, from, to, value, nonce, limit, price, memo)| {
            Transaction::builder()
                .chain_id(chain)
                .sender(Id::from_bytes(from))
                .receiver(Id::from_bytes(to))
                .value(value)
                .nonce(nonce)
                .gas_limit(limit)
                .gas_price(price)
                .memo(memo)
                .build()
                .expect("memo within the maximum")
        })
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

    #[test]
    fn every_truncation_and_extension_is_an_error(tx in any_tx(), extra in 1usize..4) {
        let bytes = tx.encode();
        for len in 0..bytes.len() {
            prop_assert!(Transaction::decode(&bytes[..len]).is_err(), "prefix of {} bytes", len);
        }
        let mut longer = bytes.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        prop_assert!(
            matches!(Transaction::decode(&longer), Err(DecodeError::LengthMismatch { .. })),
            "extended by {}", extra
        );
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
    bytes[8] = 2;
    assert_eq!(
        Transaction::decode(&bytes),
        Err(DecodeError::UnsupportedVersion(2))
    );
    // The version is checked as soon as it is there, before the length.
    assert_eq!(
        Transaction::decode(b"RUESDEMO\x07"),
        Err(DecodeError::UnsupportedVersion(7))
    );
    assert_eq!(FORMAT_VERSION, 1);
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
