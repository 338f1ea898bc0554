//! Decoding borrows the input buffer; encoding yields one shareable buffer.

use rues_wire::{Bytes, Frame};

const ONE_MIB: usize = 1024 * 1024;

fn large_message() -> Bytes {
    let payload: Vec<u8> = (0..ONE_MIB).map(|index| index as u8).collect();
    Frame::new(
        "/on/blocks:ab12/accepted",
        "application/octet-stream",
        Bytes::from(payload),
    )
    .encode()
    .expect("encodes")
}

#[test]
fn decode_returns_payload_inside_the_input_buffer() {
    let message = large_message();
    let frame = Frame::decode(&message).expect("decodes");

    let input = message.as_ptr_range();
    let payload = frame.payload().as_ptr_range();
    assert_eq!(frame.payload().len(), ONE_MIB);
    assert!(
        input.start <= payload.start && payload.end <= input.end,
        "payload {payload:?} is not inside the input {input:?}"
    );
    // The payload is the tail of the message.
    assert_eq!(payload.end, input.end);
}

#[test]
fn into_payload_still_points_into_the_input_after_the_input_is_dropped() {
    let message = large_message();
    let input = message.as_ptr_range();
    let payload = Frame::decode(&message).expect("decodes").into_payload();
    drop(message);
    let range = payload.as_ptr_range();
    assert!(input.start <= range.start && range.end <= input.end);
}

#[test]
fn encoded_message_clones_share_one_buffer() {
    let message = large_message();
    let for_another_session = message.clone();
    assert_eq!(for_another_session.as_ptr(), message.as_ptr());
}
