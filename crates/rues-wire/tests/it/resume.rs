//! Properties of the resume vocabulary: `Position` and `ResumeResult`
//! print as text that parses back to the same value, parsing never panics
//! on any bytes, and a frame's position survives the codec.

use proptest::prelude::*;
use rues_wire::{Bytes, Epoch, Frame, Position, RUES_EPOCH, RUES_SEQ, ResumeResult};

fn result() -> impl Strategy<Value = ResumeResult> {
    prop_oneof![
        any::<u64>().prop_map(|replayed| ResumeResult::Complete { replayed }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(replayed, a, b)| {
            ResumeResult::Gap {
                replayed,
                first_lost: a.min(b),
                last_lost: a.max(b),
            }
        }),
        Just(ResumeResult::Reset),
    ]
}

proptest! {
    #[test]
    fn a_position_round_trips_through_its_text(epoch in any::<u64>(), seq in any::<u64>()) {
        let position = Position::new(Epoch::new(epoch), seq);
        let text = position.to_string();
        prop_assert_eq!(text.len(), 16 + 1 + seq.to_string().len());
        prop_assert_eq!(text.parse::<Position>(), Ok(position));
        prop_assert_eq!(text.to_uppercase().parse::<Position>(), Ok(position));
    }

    #[test]
    fn a_result_round_trips_through_its_text(result in result()) {
        prop_assert_eq!(result.to_string().parse::<ResumeResult>(), Ok(result));
    }

    #[test]
    fn parsing_any_bytes_never_panics_and_what_parses_prints_back(
        bytes in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        if let Ok(position) = Position::parse(&bytes) {
            prop_assert_eq!(Position::parse(position.to_string().as_bytes()), Ok(position));
        }
        if let Ok(result) = ResumeResult::parse(&bytes) {
            prop_assert_eq!(ResumeResult::parse(result.to_string().as_bytes()), Ok(result));
        }
    }

    #[test]
    fn a_numbered_frame_keeps_its_position_through_the_codec(epoch in any::<u64>(), seq in any::<u64>()) {
        let position = Position::new(Epoch::new(epoch), seq);
        let frame = Frame::new("/on/blocks/accepted", "application/json", Bytes::from_static(b"{}"))
            .with_header(RUES_SEQ, seq.to_string())
            .with_header(RUES_EPOCH, position.epoch.to_string());
        let decoded = Frame::decode(&frame.encode().expect("encodes")).expect("decodes");
        prop_assert_eq!(decoded.position(), Ok(Some(position)));
    }
}

#[test]
fn a_frame_without_numbers_has_no_position_and_a_broken_one_is_an_error() {
    let plain = Frame::new("/on/a/b", "text/plain", Bytes::new());
    assert_eq!(plain.position(), Ok(None));
    let only_seq = plain.clone().with_header(RUES_SEQ, "1");
    assert!(only_seq.position().is_err());
    let bad_epoch = only_seq.clone().with_header(RUES_EPOCH, "xyz");
    assert!(bad_epoch.position().is_err());
    let bad_seq = plain
        .with_header(RUES_SEQ, "1e3")
        .with_header(RUES_EPOCH, "0000000000000001");
    assert!(bad_seq.position().is_err());
}
