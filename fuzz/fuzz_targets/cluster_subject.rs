//! Fuzzes the NATS subjects of cluster mode (`rues_cluster::subject`).
//!
//! The input is read two ways. As a subject, as any NATS publisher may send
//! one: `parse_event_subject` must never panic, and whatever it accepts must
//! be the one spelling `event_subject` writes for the result. As names,
//! split at NUL bytes (component, entity, topic): whatever the `rues_target`
//! constructors accept must map to a subject that parses back to the same
//! path, so no name forges a token or a wildcard.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_cluster::subject::{event_subject, interest_subject, parse_event_subject};
use rues_target::{Component, Entity, EventPath, Target, Topic};

fuzz_target!(|data: &[u8]| {
    let parsed = std::str::from_utf8(data)
        .ok()
        .and_then(|subject| Some((subject, parse_event_subject(subject).ok()?)));
    if let Some((subject, path)) = parsed {
        assert_eq!(
            event_subject(&path),
            subject,
            "accepted a non-canonical subject"
        );
    }

    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let (Some(component), Some(entity), Some(topic)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    // Components have a small character set: fall back to a fixed one so
    // that most inputs still exercise the entity and the topic.
    let component = Component::new(component).unwrap_or_else(|_| Component::new("c").unwrap());
    // An empty entity part stands for "no entity".
    let entity = match entity {
        "" => None,
        entity => match Entity::new(entity) {
            Ok(entity) => Some(entity),
            Err(_) => return,
        },
    };
    let Ok(topic) = Topic::new(topic) else {
        return;
    };
    let path = EventPath::new(Target::new(component, entity), topic);
    let subject = event_subject(&path);
    assert_eq!(
        parse_event_subject(&subject).as_ref(),
        Ok(&path),
        "{subject:?}"
    );
    for token in subject.split('.').chain(interest_subject(&path).split('.')) {
        assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
        assert!(token == "*" || !token.contains(['*', '>']));
    }
});
