//! The worked example of docs/protocol.md §6, byte for byte.

use rues_wire::{Bytes, Frame};

/// The 108-byte message of docs/protocol.md §6, laid out as there.
const WORKED_EXAMPLE: &[&str] = &[
    "66000000",
    "7b22436f6e74656e742d4c6f636174696f6e223a",
    "222f6f6e2f626c6f636b733a616231322f616363",
    "6570746564222c22436f6e74656e742d54797065",
    "223a226170706c69636174696f6e2f6a736f6e22",
    "2c22436f6e74656e742d4c656e677468223a2232",
    "227d",
    "7b7d",
];

fn worked_example_bytes() -> Vec<u8> {
    let hex: String = WORKED_EXAMPLE.concat();
    (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).expect("valid hex"))
        .collect()
}

fn worked_example_frame() -> Frame {
    Frame::new(
        "/on/blocks:ab12/accepted",
        "application/json",
        Bytes::from_static(b"{}"),
    )
}

#[test]
fn worked_example_encodes_to_the_108_bytes_of_protocol_section_6() {
    let message = worked_example_frame().encode().expect("encodes");
    assert_eq!(message.len(), 108);
    assert_eq!(message[..], worked_example_bytes()[..]);
    assert_eq!(worked_example_frame().encoded_len(), 108);
}

#[test]
fn worked_example_decodes_to_its_headers_and_payload() {
    let frame = Frame::decode(&Bytes::from(worked_example_bytes())).expect("decodes");
    assert_eq!(frame, worked_example_frame());
    assert_eq!(frame.content_location(), Some("/on/blocks:ab12/accepted"));
    assert_eq!(frame.content_type(), Some("application/json"));
    assert_eq!(frame.content_length(), Some(2));
    assert_eq!(frame.headers().len(), 3);
    assert_eq!(frame.into_payload(), Bytes::from_static(b"{}"));
}

#[test]
fn with_header_appends_after_the_three_standard_headers() {
    let frame = worked_example_frame().with_header("Rusk-Origin", "0300");
    let names: Vec<&str> = frame.headers().iter().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        [
            "Content-Location",
            "Content-Type",
            "Content-Length",
            "Rusk-Origin"
        ]
    );
    let message = frame.encode().expect("encodes");
    assert!(message.ends_with(br#","Rusk-Origin":"0300"}{}"#));
}

#[test]
fn content_length_is_none_when_absent_or_unparseable() {
    let (mut headers, payload) = worked_example_frame().into_parts();
    headers.insert("content-length", "two");
    assert_eq!(
        Frame::from_parts(headers.clone(), payload.clone()).content_length(),
        None
    );
    headers.remove("Content-Length");
    assert_eq!(Frame::from_parts(headers, payload).content_length(), None);
}
