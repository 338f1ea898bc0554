//! Arbitrary bytes into `Frame::decode`: it must return, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_wire::{Bytes, Frame, Limits};

fuzz_target!(|data: &[u8]| {
    let message = Bytes::copy_from_slice(data);
    let _ = Frame::decode(&message);
    // A small limit reaches the header-too-large path with short inputs too.
    let _ = Frame::decode_with(&message, &Limits::new(64));
});
