//! Whatever decodes must re-encode, and decode again to the same frame.
//!
//! Re-encoding never needs a larger limit: the compact header block is never
//! longer than the one decoded (whitespace and `\/` or `\u` escapes only
//! shrink), and a decoded `Content-Length` always matches its payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_wire::{Bytes, Frame};

fuzz_target!(|data: &[u8]| {
    let message = Bytes::copy_from_slice(data);
    let Ok(frame) = Frame::decode(&message) else {
        return;
    };
    let encoded = frame
        .encode()
        .expect("a decoded frame re-encodes within the same limit");
    assert_eq!(encoded.len(), frame.encoded_len());
    assert!(encoded.len() <= message.len());
    assert_eq!(Frame::decode(&encoded), Ok(frame));
});
