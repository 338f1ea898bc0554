//! Properties over generated frames and bytes. `PROPTEST_CASES` raises the
//! number of cases (the default of 256 keeps the suite fast).

use proptest::prelude::*;
use rues_wire::{Bytes, DecodeError, Frame, Headers, LENGTH_PREFIX_LEN, Limits};

/// Header names: mostly HTTP-like, sometimes any text at all.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z][A-Za-z0-9-]{0,15}",
        1 => any::<String>(),
    ]
}

fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((header_name(), any::<String>()), 0..5)
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..256)
}

/// Frames as a node builds them: the three standard headers, then extras.
fn standard_frame() -> impl Strategy<Value = Frame> {
    (
        "/on/[a-z]{1,8}(:[0-9a-f]{1,16})?/[a-z]{1,8}",
        "[a-z]{1,12}/[a-z-]{1,12}",
        payload(),
        extra_headers(),
    )
        .prop_map(|(location, content_type, payload, extras)| {
            extras
                .into_iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("Content-Length"))
                .fold(
                    Frame::new(location, content_type, Bytes::from(payload)),
                    |frame, (name, value)| frame.with_header(name, value),
                )
        })
}

/// Any frame that encodes: arbitrary headers, with or without a correct `Content-Length`.
fn any_frame() -> impl Strategy<Value = Frame> {
    any::<bool>().prop_flat_map(frame_with_arbitrary_headers)
}

/// Arbitrary headers, plus a correct `Content-Length` when `with_length`.
fn frame_with_arbitrary_headers(with_length: bool) -> impl Strategy<Value = Frame> {
    (extra_headers(), payload()).prop_map(move |(pairs, payload)| {
        let mut headers: Headers = pairs.into_iter().collect();
        headers.remove("Content-Length");
        if with_length {
            headers.insert("Content-Length", payload.len().to_string());
        }
        Frame::from_parts(headers, Bytes::from(payload))
    })
}

fn header_end(message: &Bytes) -> usize {
    let prefix: [u8; 4] = message[..4].try_into().expect("4 bytes");
    LENGTH_PREFIX_LEN + u32::from_le_bytes(prefix) as usize
}

proptest! {
    #[test]
    fn encode_then_decode_preserves_headers_and_payload(frame in prop_oneof![standard_frame(), any_frame()]) {
        let message = frame.encode().expect("generated frames encode");
        prop_assert_eq!(message.len(), frame.encoded_len());
        prop_assert_eq!(Frame::decode(&message), Ok(frame));
    }

    #[test]
    fn header_block_is_what_serde_json_writes(name in any::<String>(), value in any::<String>()) {
        let frame = Frame::from_parts([(name.clone(), value.clone())].into_iter().collect(), Bytes::new());
        let message = frame.encode().expect("encodes");
        let expected = format!(
            "{{{}:{}}}",
            serde_json::to_string(&name).expect("serializes"),
            serde_json::to_string(&value).expect("serializes"),
        );
        prop_assert_eq!(&message[LENGTH_PREFIX_LEN..], expected.as_bytes());
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        max_header_len in prop_oneof![Just(Limits::DEFAULT_MAX_HEADER_LEN), 0usize..600],
    ) {
        let _ = Frame::decode_with(&Bytes::from(bytes), &Limits::new(max_header_len));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_header_text(text in "[{}\\[\\]\":, a-zA-Z0-9\\\\-]{0,64}", tail in payload()) {
        let mut message = u32::try_from(text.len()).expect("short").to_le_bytes().to_vec();
        message.extend_from_slice(text.as_bytes());
        message.extend_from_slice(&tail);
        let _ = Frame::decode(&Bytes::from(message));
    }

    #[test]
    fn decode_never_panics_on_a_frame_with_one_byte_changed(frame in standard_frame(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut message = frame.encode().expect("encodes").to_vec();
        let at = at.index(message.len());
        message[at] = byte;
        let _ = Frame::decode(&Bytes::from(message));
    }

    #[test]
    fn truncation_into_prefix_or_header_is_an_error(frame in any_frame()) {
        let message = frame.encode().expect("encodes");
        for cut in 0..header_end(&message) {
            let error = Frame::decode(&message.slice(..cut));
            prop_assert!(
                matches!(error, Err(DecodeError::TooShort { .. } | DecodeError::HeaderLenPastEnd { .. })),
                "cut at {} of {}: {:?}", cut, message.len(), error
            );
        }
    }

    #[test]
    fn truncation_inside_payload_is_an_error_when_content_length_is_present(frame in standard_frame()) {
        let message = frame.encode().expect("encodes");
        for cut in header_end(&message)..message.len() {
            let error = Frame::decode(&message.slice(..cut));
            prop_assert!(
                matches!(error, Err(DecodeError::ContentLengthMismatch { .. })),
                "cut at {} of {}: {:?}", cut, message.len(), error
            );
        }
    }

    #[test]
    fn truncation_inside_payload_shortens_it_when_content_length_is_absent(
        frame in frame_with_arbitrary_headers(false),
    ) {
        let message = frame.encode().expect("encodes");
        let end = header_end(&message);
        for cut in end..message.len() {
            let decoded = Frame::decode(&message.slice(..cut)).expect("no length to contradict");
            prop_assert_eq!(decoded.headers(), frame.headers());
            prop_assert_eq!(decoded.payload().len(), cut - end);
        }
    }

    #[test]
    fn limit_is_enforced_exactly_at_the_header_length(frame in any_frame()) {
        let message = frame.encode().expect("encodes");
        let header_len = header_end(&message) - LENGTH_PREFIX_LEN;
        prop_assert!(frame.encode_with(&Limits::new(header_len)).is_ok());
        prop_assert!(Frame::decode_with(&message, &Limits::new(header_len)).is_ok());
        if let Some(below) = header_len.checked_sub(1) {
            prop_assert!(frame.encode_with(&Limits::new(below)).is_err());
            prop_assert_eq!(
                Frame::decode_with(&message, &Limits::new(below)),
                Err(DecodeError::HeaderTooLarge { len: header_len, max: below })
            );
        }
    }
}
