//! Properties: `Display` is the inverse of parsing, and nothing panics.
//!
//! Case counts come from proptest's defaults and the `PROPTEST_CASES`
//! environment variable, so CI or a developer can raise them.

use proptest::prelude::*;
use rues_target::{Component, Entity, Error, EventPath, Limits, Target, Topic};

/// Characters that exercise the encoder: delimiters, escapes, whitespace,
/// controls, multi-byte UTF-8, and anything else.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ':', '/', '%', '?', '#', ' ', '\t', '\0', '\u{7f}', '\u{a0}', '\u{e9}', '\u{1f600}',
            '+', '=', '@', '~', '"', '\\', 'a', 'Z', '0',
        ]),
        2 => any::<char>(),
    ]
}

/// A non-empty string of at most `max_bytes` bytes.
fn decoded_value(max_bytes: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 1..=max_bytes).prop_map(move |chars| {
        let mut value = String::new();
        for ch in chars {
            if value.len() + ch.len_utf8() > max_bytes {
                break;
            }
            value.push(ch);
        }
        value
    })
}

fn component() -> impl Strategy<Value = Component> {
    "[A-Za-z0-9._-]{1,24}".prop_map(|name| Component::new(name).unwrap())
}

fn entity() -> impl Strategy<Value = Entity> {
    decoded_value(Limits::DEFAULT_MAX_ENTITY_LEN).prop_map(|value| Entity::new(value).unwrap())
}

fn topic() -> impl Strategy<Value = Topic> {
    decoded_value(Limits::DEFAULT_MAX_TOPIC_LEN).prop_map(|value| Topic::new(value).unwrap())
}

fn event_path() -> impl Strategy<Value = EventPath> {
    (component(), prop::option::of(entity()), topic()).prop_map(|(component, entity, topic)| {
        EventPath::new(Target::new(component, entity), topic)
    })
}

/// Default entity and topic limits with no path limit: a value near its
/// limits can display longer than 1024 bytes, as every byte may triple.
const UNBOUNDED_PATH: Limits = Limits::new(
    usize::MAX,
    Limits::DEFAULT_MAX_ENTITY_LEN,
    Limits::DEFAULT_MAX_TOPIC_LEN,
);

/// Raw path-like text: `/on/` and then characters that stress the parser.
fn path_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "/",
            ":",
            "%",
            "%3A",
            "%2F",
            "%FF",
            "%C3%A9",
            "%4",
            "?",
            "#",
            " ",
            "a",
            "Z",
            "-",
            "\u{e9}",
            "\u{1f600}",
            "on",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|pieces| format!("/on/{}", pieces.concat()))
}

proptest! {
    #[test]
    fn display_of_any_valid_path_parses_back_to_it(path in event_path()) {
        let displayed = path.to_string();
        prop_assert_eq!(EventPath::parse_with(&displayed, &UNBOUNDED_PATH), Ok(path.clone()));
        // Under the default limits, only the path length can stand in the way.
        let expected = if displayed.len() <= Limits::DEFAULT_MAX_PATH_LEN {
            Ok(path)
        } else {
            Err(Error::PathTooLong { len: displayed.len(), max: Limits::DEFAULT_MAX_PATH_LEN })
        };
        prop_assert_eq!(EventPath::parse(&displayed), expected);
    }

    #[test]
    fn display_of_any_valid_target_parses_back_to_it(
        component in component(),
        entity in prop::option::of(entity()),
    ) {
        let target = Target::new(component, entity);
        prop_assert_eq!(Target::parse(&target.to_string()), Ok(target));
    }

    #[test]
    fn display_is_ascii_and_never_holds_delimiters_inside_parts(path in event_path()) {
        let displayed = path.to_string();
        prop_assert!(displayed.is_ascii());
        prop_assert!(!displayed.contains(['?', '#', ' ']));
        prop_assert_eq!(displayed.matches('/').count(), 3);
        if let Some(entity) = path.entity() {
            prop_assert!(!entity.to_string().contains(':'));
        }
    }

    #[test]
    fn parse_never_panics_on_any_string(input in any::<String>()) {
        let _ = EventPath::parse(&input);
        let _ = Target::parse(&input);
    }

    #[test]
    fn parse_of_on_prefixed_text_never_panics_and_accepted_paths_round_trip(input in path_like()) {
        if let Ok(path) = EventPath::parse(&input) {
            prop_assert_eq!(EventPath::parse_with(&path.to_string(), &UNBOUNDED_PATH), Ok(path));
        }
    }

    #[test]
    fn parsing_is_insensitive_to_trailing_slash_and_query(path in event_path(), query in ".*") {
        let displayed = path.to_string();
        let decorated = format!("{displayed}/?{query}");
        prop_assert_eq!(
            EventPath::parse_with(&decorated, &UNBOUNDED_PATH),
            EventPath::parse_with(&displayed, &UNBOUNDED_PATH)
        );
    }
}
