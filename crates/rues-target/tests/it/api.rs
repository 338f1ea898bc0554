//! The public API beyond parsing vectors: constructors, custom limits,
//! `FromStr`, `Display` of each part, and error messages.

use std::collections::HashMap;

use rues_target::{Component, Entity, Error, EventPath, Limits, Segment, Target, Topic};

fn path(raw: &str) -> EventPath {
    EventPath::parse(raw).unwrap()
}

#[test]
fn parts_built_by_hand_equal_the_parsed_path() {
    let built = EventPath::new(
        Target::new(
            Component::new("contracts").unwrap(),
            Some(Entity::new("a:b/c").unwrap()),
        ),
        Topic::new("Transfer:v2").unwrap(),
    );
    assert_eq!(built, path("/on/contracts:a%3Ab%2Fc/Transfer:v2"));
    assert_eq!(built.to_string(), "/on/contracts:a%3Ab%2Fc/transfer:v2");
}

#[test]
fn accessors_return_the_decoded_parts() {
    let parsed = path("/on/contracts:a%3Ab/x%20y");
    assert_eq!(parsed.component().as_str(), "contracts");
    assert_eq!(parsed.entity().map(Entity::as_str), Some("a:b"));
    assert_eq!(parsed.topic().as_str(), "x y");
    assert_eq!(parsed.target().component(), parsed.component());
    assert_eq!(parsed.target().entity(), parsed.entity());
    assert_eq!(path("/on/blocks/accepted").entity(), None);
}

#[test]
fn from_str_is_parse_with_default_limits() {
    let parsed: EventPath = "/on/blocks:ab/accepted".parse().unwrap();
    assert_eq!(parsed, path("/on/blocks:ab/accepted"));
    assert_eq!("/on".parse::<EventPath>(), Err(Error::NotAnEventPath));
    let target: Target = "blocks:a%3Ab".parse().unwrap();
    assert_eq!(target.entity().map(Entity::as_str), Some("a:b"));
    assert_eq!(
        "blocks:".parse::<Target>(),
        Err(Error::Empty {
            segment: Segment::Entity
        })
    );
}

#[test]
fn target_display_is_component_or_component_colon_encoded_entity() {
    assert_eq!(path("/on/blocks/x").target().to_string(), "blocks");
    assert_eq!(
        path("/on/blocks:a%3Ab/x").target().to_string(),
        "blocks:a%3Ab"
    );
    assert_eq!(
        Target::parse("blocks:a%3Ab").unwrap(),
        path("/on/blocks:a%3Ab/x").target().clone()
    );
}

#[test]
fn part_displays_are_their_encoded_forms() {
    let parsed = path("/on/blocks:%C3%A9%3A/t%C3%A9:%25");
    assert_eq!(parsed.component().to_string(), "blocks");
    assert_eq!(parsed.entity().unwrap().to_string(), "%C3%A9%3A");
    assert_eq!(parsed.topic().to_string(), "t%C3%A9:%25");
}

#[test]
fn parse_with_custom_limits_checks_each_limit_at_and_over_its_boundary() {
    let limits = Limits::new(32, 4, 3);
    assert!(EventPath::parse_with("/on/b:abcd/xyz", &limits).is_ok());
    assert_eq!(
        EventPath::parse_with("/on/b:abcde/xyz", &limits),
        Err(Error::TooLong {
            segment: Segment::Entity,
            len: 5,
            max: 4
        })
    );
    assert_eq!(
        EventPath::parse_with("/on/b:abcd/wxyz", &limits),
        Err(Error::TooLong {
            segment: Segment::Topic,
            len: 4,
            max: 3
        })
    );
    let at_path_limit = format!("/on/{}/x", "c".repeat(26));
    assert_eq!(at_path_limit.len(), 32);
    assert!(EventPath::parse_with(&at_path_limit, &limits).is_ok());
    assert_eq!(
        EventPath::parse_with(&format!("{at_path_limit}/"), &limits),
        Err(Error::PathTooLong { len: 33, max: 32 })
    );
}

#[test]
fn larger_limits_admit_values_the_default_constructors_reject() {
    let generous = Limits::new(4096, 1000, 500);
    let long_entity = "e".repeat(1000);
    let parsed = EventPath::parse_with(&format!("/on/blocks:{long_entity}/x"), &generous).unwrap();
    assert_eq!(parsed.entity().unwrap().as_str(), long_entity);
    assert!(Entity::new(long_entity.clone()).is_err());
    assert!(Entity::with_limits(long_entity, &generous).is_ok());
    assert!(Topic::with_limits("t".repeat(500), &generous).is_ok());
}

#[test]
fn limits_default_is_the_protocol_defaults() {
    assert_eq!(Limits::default(), Limits::DEFAULT);
    assert_eq!(
        Limits::default(),
        Limits::new(
            Limits::DEFAULT_MAX_PATH_LEN,
            Limits::DEFAULT_MAX_ENTITY_LEN,
            Limits::DEFAULT_MAX_TOPIC_LEN
        )
    );
    assert_eq!(
        (
            Limits::DEFAULT_MAX_PATH_LEN,
            Limits::DEFAULT_MAX_ENTITY_LEN,
            Limits::DEFAULT_MAX_TOPIC_LEN
        ),
        (1024, 256, 128)
    );
}

#[test]
fn constructors_take_decoded_values_and_check_them() {
    assert_eq!(
        Component::new("a b"),
        Err(Error::InvalidComponentChar { ch: ' ' })
    );
    // Decoded values may hold anything, even what must be encoded raw.
    assert_eq!(Entity::new("a b\n").unwrap().to_string(), "a%20b%0A");
    assert_eq!(Topic::new("%").unwrap().to_string(), "%25");
    assert_eq!(
        Topic::new(""),
        Err(Error::Empty {
            segment: Segment::Topic
        })
    );
}

#[test]
fn names_look_up_by_str_in_maps() {
    let mut topics = HashMap::new();
    topics.insert(Topic::new("accepted").unwrap(), 1);
    assert_eq!(topics.get("accepted"), Some(&1));
    let mut components = HashMap::new();
    components.insert(Component::new("blocks").unwrap(), 2);
    assert_eq!(components.get("blocks"), Some(&2));
}

#[test]
fn error_messages_name_the_part_and_can_be_shown_to_a_client() {
    let cases = [
        ("/x", "not an event path: expected /on/<target>/<topic>"),
        (
            "/on/blocks",
            "event path has no topic: expected /on/<target>/<topic>",
        ),
        (
            "/on/a/b/c",
            "event path has 3 segments after /on/, expected 2: /on/<target>/<topic>",
        ),
        ("/on/blocks:/x", "entity is empty"),
        (
            "/on/blo%63ks/x",
            "component contains '%', expected only ASCII letters, digits, '-', '_' and '.'",
        ),
        (
            "/on/blocks/a\tb",
            "topic contains the raw character '\\t' (U+0009), which must be percent-encoded",
        ),
        (
            "/on/blocks:%4/x",
            "entity has an invalid percent-encoding: '%' must be followed by two hex digits",
        ),
        (
            "/on/blocks/%FF",
            "topic is not valid UTF-8 after percent-decoding",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(
            EventPath::parse(input).unwrap_err().to_string(),
            message,
            "{input:?}"
        );
    }
}

#[test]
fn error_implements_std_error() {
    fn assert_std_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_std_error::<Error>();
}

#[test]
fn segment_displays_in_lower_case() {
    assert_eq!(Segment::Component.to_string(), "component");
    assert_eq!(Segment::Entity.to_string(), "entity");
    assert_eq!(Segment::Topic.to_string(), "topic");
}

#[test]
fn ordering_groups_paths_by_component_then_entity_then_topic() {
    let mut paths = [
        path("/on/b/x"),
        path("/on/a:z/a"),
        path("/on/a/z"),
        path("/on/a:y/b"),
    ];
    paths.sort();
    let displayed: Vec<String> = paths.iter().map(ToString::to_string).collect();
    assert_eq!(displayed, ["/on/a/z", "/on/a:y/b", "/on/a:z/a", "/on/b/x"]);
}
