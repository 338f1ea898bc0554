//! Arbitrary bytes into the demo chain's `Transaction::decode`, versions 1
//! and 2 (blobs): it must return, never panic, and a transaction it accepts
//! must encode back to exactly the input, with each blob's commitment and
//! versioned hash derived from its data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_demo::Transaction;
use rues_demo::blob::versioned_hash;

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::decode(data) else {
        return;
    };
    assert_eq!(tx.encode(), data, "one encoding per transaction");
    assert_eq!(tx.encoded_len(), data.len());
    for blob in tx.blobs() {
        assert_eq!(blob.versioned_hash(), &versioned_hash(blob.commitment()));
    }
});
