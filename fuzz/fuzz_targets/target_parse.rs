//! Fuzzes `rues_target::EventPath::parse`: it must never panic, and every
//! path it accepts must display as a path that parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_target::{EventPath, Limits};

/// The default entity and topic limits with no path limit: displaying
/// percent-encodes, so a valid path can display longer than it was sent
/// (raw `é` becomes `%C3%A9`), past the default path limit.
const UNBOUNDED_PATH: Limits = Limits::new(
    usize::MAX,
    Limits::DEFAULT_MAX_ENTITY_LEN,
    Limits::DEFAULT_MAX_TOPIC_LEN,
);

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(path) = EventPath::parse(&input) {
        let displayed = path.to_string();
        let reparsed = EventPath::parse_with(&displayed, &UNBOUNDED_PATH);
        assert_eq!(
            reparsed.as_ref(),
            Ok(&path),
            "display {displayed:?} of {input:?}"
        );
        assert_eq!(
            reparsed.unwrap().to_string(),
            displayed,
            "display is not canonical"
        );
    }
});
