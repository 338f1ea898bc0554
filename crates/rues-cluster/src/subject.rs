//! RUES paths as NATS subjects (docs/cluster.md, "Subjects").
//!
//! Every name that reaches NATS is encoded as one subject token, so that no
//! component, entity or topic a client sends (any bytes, after
//! percent-decoding) can forge a token boundary or a wildcard:
//!
//! ```text
//! rues.ev.<component>.<entity or ~>.<topic>    an event (EVENTS)
//! rues.ev.<component>.*.<topic>                the interest of a subscription without entity
//! rues.sess.<session id>                       requests for the session's owner (SESSIONS)
//! rues.rpc.<component>.<topic>                 a dispatch service (SERVICES)
//! rues.rpc.<component>.*                       every topic of a component
//! ```
//!
//! # Token encoding
//!
//! Each byte of the name that is an ASCII letter, digit, `-` or `_` stays as
//! it is; every other byte (`.`, `*`, `>`, `~`, whitespace, controls, each
//! byte of a non-ASCII UTF-8 character, ...) becomes `~` and two upper-case
//! hex digits. A token is therefore never empty (names are non-empty), never
//! holds a NATS delimiter or wildcard, and each name has exactly one
//! spelling. "No entity" is the token `~` alone, which no name encodes to,
//! since a lone `~` is not a whole escape.
//!
//! The decoder ([`parse_event_subject`]) is strict, so that subjects coming
//! from NATS (where any publisher may write) are accepted only in the form
//! this module writes: it refuses lower-case hex, escapes of bytes that need
//! none, cut escapes, invalid UTF-8, empty tokens, wildcards, the wrong
//! number of tokens or the wrong prefix, and names their constructors in
//! `rues_target` refuse (or would write differently, such as an upper-case
//! topic). Hence `event_subject(&parse_event_subject(s)?) == s` whenever the
//! parse succeeds.
//!
//! ```
//! use rues_cluster::subject::{event_subject, interest_subject, parse_event_subject};
//! use rues_target::EventPath;
//!
//! let event = EventPath::parse("/on/contracts:a.b%2A/transfer")?;
//! let subject = event_subject(&event);
//! assert_eq!(subject, "rues.ev.contracts.a~2Eb~2A.transfer");
//! assert_eq!(parse_event_subject(&subject), Ok(event));
//!
//! let every_contract = EventPath::parse("/on/contracts/transfer")?;
//! assert_eq!(event_subject(&every_contract), "rues.ev.contracts.~.transfer");
//! assert_eq!(interest_subject(&every_contract), "rues.ev.contracts.*.transfer");
//! # Ok::<(), rues_target::Error>(())
//! ```

use std::fmt::Write as _;

use rues_core::SessionId;
use rues_target::{Component, Entity, EventPath, Limits, Segment, Target, Topic};

/// The prefix of event subjects: `rues.ev.<component>.<entity or ~>.<topic>`.
pub const EVENTS: &str = "rues.ev";

/// The prefix of session subjects: `rues.sess.<session id, 32 lower-case hex>`.
pub const SESSIONS: &str = "rues.sess";

/// The prefix of dispatch service subjects: `rues.rpc.<component>.<topic>`.
pub const SERVICES: &str = "rues.rpc";

/// The entity token of an event without entity.
const NO_ENTITY: &str = "~";

/// The escape character of the token encoding.
const ESCAPE: u8 = b'~';

/// Why a subject is not an event subject as [`event_subject`] writes them.
///
/// Messages are short and never repeat the subject: it may come from any
/// NATS publisher, and end up in a log.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The subject does not start with `rues.ev.`.
    #[error("not an event subject: expected rues.ev.<component>.<entity>.<topic>")]
    WrongPrefix,

    /// The subject has not exactly three tokens after `rues.ev`.
    #[error("event subject has {count} tokens after rues.ev, expected 3")]
    TokenCount {
        /// How many tokens follow the prefix.
        count: usize,
    },

    /// A token is `*` or `>`: a subscription's pattern, not an event.
    #[error("event subject holds a wildcard")]
    Wildcard,

    /// A token is empty (two dots in a row, or a dot at the end).
    #[error("{segment} token is empty")]
    EmptyToken {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// A token holds a byte that the encoding never writes raw.
    #[error("{segment} token holds a byte outside A-Z, a-z, 0-9, '-', '_' and '~' escapes")]
    ForbiddenByte {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// A token ends inside a `~` escape.
    #[error("{segment} token ends inside a ~ escape")]
    CutEscape {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// A `~` is not followed by two upper-case hex digits.
    #[error("{segment} token has a ~ escape that is not two upper-case hex digits")]
    BadEscape {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// A `~` escapes a letter, digit, `-` or `_`, which are written raw.
    #[error("{segment} token escapes a byte that needs no escape")]
    NeedlessEscape {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// The decoded bytes are not UTF-8.
    #[error("{segment} token does not decode to UTF-8")]
    InvalidUtf8 {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// The decoded name is refused by its constructor (a component outside
    /// its character set, an entity or topic over its limit).
    #[error("{segment} token decodes to an invalid name")]
    InvalidName {
        /// The part of the path the token names.
        segment: Segment,
    },

    /// The decoded name is valid but written differently in canonical form
    /// (an upper-case letter in a component or topic, which are
    /// case-insensitive and lower-cased).
    #[error("{segment} token is not in canonical (lower-case) form")]
    NotCanonical {
        /// The part of the path the token names.
        segment: Segment,
    },
}

/// Encodes a name as one subject token (see the module docs).
///
/// ```
/// use rues_cluster::subject::token;
///
/// assert_eq!(token("blocks"), "blocks");
/// assert_eq!(token("a.b *>~"), "a~2Eb~20~2A~3E~7E");
/// assert_eq!(token("é"), "~C3~A9");
/// ```
pub fn token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    push_token(&mut out, name);
    out
}

/// The subject `path`'s events are published on:
/// `rues.ev.<component>.<entity>.<topic>`, or `rues.ev.<component>.~.<topic>`
/// for an event without entity.
pub fn event_subject(path: &EventPath) -> String {
    subject_of(path, NO_ENTITY)
}

/// The subject a node subscribes to on NATS for a local subscription to
/// `path`: with an entity, [`event_subject`]; without,
/// `rues.ev.<component>.*.<topic>`, which matches the events of every entity
/// and of none, as a RUES subscription without entity does
/// ([`EventPath::matches`]).
pub fn interest_subject(path: &EventPath) -> String {
    subject_of(path, "*")
}

/// The event path of an event subject: the inverse of [`event_subject`],
/// with the default name limits ([`Limits::DEFAULT`]).
///
/// Refuses wildcards and every spelling [`event_subject`] does not write
/// (see [`SubjectError`]).
pub fn parse_event_subject(subject: &str) -> Result<EventPath, SubjectError> {
    parse_event_subject_with(subject, &Limits::DEFAULT)
}

/// [`parse_event_subject`] with the entity and topic limits of `limits`, for
/// a node configured with other limits than the defaults.
pub fn parse_event_subject_with(subject: &str, limits: &Limits) -> Result<EventPath, SubjectError> {
    let rest = subject
        .strip_prefix(EVENTS)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or(SubjectError::WrongPrefix)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    let [component, entity, topic] = tokens[..] else {
        return Err(SubjectError::TokenCount {
            count: tokens.len(),
        });
    };
    if tokens.iter().any(|t| matches!(*t, "*" | ">")) {
        return Err(SubjectError::Wildcard);
    }

    let raw = decode_token(component, Segment::Component)?;
    let component = Component::new(raw.as_str()).map_err(|_| SubjectError::InvalidName {
        segment: Segment::Component,
    })?;
    canonical(component.as_str(), &raw, Segment::Component)?;

    let entity = if entity == NO_ENTITY {
        None
    } else {
        let raw = decode_token(entity, Segment::Entity)?;
        Some(
            Entity::with_limits(raw, limits).map_err(|_| SubjectError::InvalidName {
                segment: Segment::Entity,
            })?,
        )
    };

    let raw = decode_token(topic, Segment::Topic)?;
    let topic =
        Topic::with_limits(raw.as_str(), limits).map_err(|_| SubjectError::InvalidName {
            segment: Segment::Topic,
        })?;
    canonical(topic.as_str(), &raw, Segment::Topic)?;

    Ok(EventPath::new(Target::new(component, entity), topic))
}

/// The subject of requests for the node that owns session `id`:
/// `rues.sess.<32 lower-case hex>`.
pub fn session_subject(id: SessionId) -> String {
    format!("{SESSIONS}.{id}")
}

/// The subject of the dispatch service for `component`'s `topic`:
/// `rues.rpc.<component>.<topic>`.
pub fn service_subject(component: &Component, topic: &Topic) -> String {
    let mut out = String::with_capacity(
        SERVICES.len() + 2 + component.as_str().len() + 3 * topic.as_str().len(),
    );
    out.push_str(SERVICES);
    out.push('.');
    push_token(&mut out, component.as_str());
    out.push('.');
    push_token(&mut out, topic.as_str());
    out
}

/// The subject matching every dispatch service subject of `component`:
/// `rues.rpc.<component>.*`, for a component whose topics are open (its
/// handler takes any topic).
pub fn service_wildcard(component: &Component) -> String {
    let mut out = String::with_capacity(SERVICES.len() + 3 + component.as_str().len());
    out.push_str(SERVICES);
    out.push('.');
    push_token(&mut out, component.as_str());
    out.push_str(".*");
    out
}

/// `rues.ev.<component>.<entity, or no_entity>.<topic>`.
fn subject_of(path: &EventPath, no_entity: &str) -> String {
    let entity_len = path.entity().map_or(1, |e| 3 * e.as_str().len());
    let mut out = String::with_capacity(
        EVENTS.len()
            + 3
            + path.component().as_str().len()
            + entity_len
            + 3 * path.topic().as_str().len(),
    );
    out.push_str(EVENTS);
    out.push('.');
    push_token(&mut out, path.component().as_str());
    out.push('.');
    match path.entity() {
        Some(entity) => push_token(&mut out, entity.as_str()),
        None => out.push_str(no_entity),
    }
    out.push('.');
    push_token(&mut out, path.topic().as_str());
    out
}

/// Whether `byte` is written raw in a token.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_')
}

fn push_token(out: &mut String, name: &str) {
    for &byte in name.as_bytes() {
        if is_plain(byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "~{byte:02X}");
        }
    }
}

/// The value of an upper-case hex digit; lower case is refused so that each
/// byte has one spelling.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The name a token encodes, refusing every spelling [`push_token`] does not
/// write.
fn decode_token(token: &str, segment: Segment) -> Result<String, SubjectError> {
    if token.is_empty() {
        return Err(SubjectError::EmptyToken { segment });
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if is_plain(byte) {
            out.push(byte);
            at += 1;
        } else if byte == ESCAPE {
            let (Some(&high), Some(&low)) = (bytes.get(at + 1), bytes.get(at + 2)) else {
                return Err(SubjectError::CutEscape { segment });
            };
            let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) else {
                return Err(SubjectError::BadEscape { segment });
            };
            let decoded = (high << 4) | low;
            if is_plain(decoded) {
                return Err(SubjectError::NeedlessEscape { segment });
            }
            out.push(decoded);
            at += 3;
        } else {
            return Err(SubjectError::ForbiddenByte { segment });
        }
    }
    String::from_utf8(out).map_err(|_| SubjectError::InvalidUtf8 { segment })
}

/// Refuses a name its constructor changed (lower-cased): the subject is not
/// the one [`event_subject`] writes for it.
fn canonical(made: &str, decoded: &str, segment: Segment) -> Result<(), SubjectError> {
    if made == decoded {
        Ok(())
    } else {
        Err(SubjectError::NotCanonical { segment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(raw: &str) -> EventPath {
        EventPath::parse(raw).unwrap()
    }

    fn event(component: &str, entity: Option<&str>, topic: &str) -> EventPath {
        EventPath::new(
            Target::new(
                Component::new(component).unwrap(),
                entity.map(|e| Entity::new(e).unwrap()),
            ),
            Topic::new(topic).unwrap(),
        )
    }

    /// NATS subject matching: `*` matches exactly one token, `>` (last
    /// only) one or more; every other token matches itself.
    fn nats_matches(pattern: &str, subject: &str) -> bool {
        let pattern: Vec<&str> = pattern.split('.').collect();
        let subject: Vec<&str> = subject.split('.').collect();
        for (i, p) in pattern.iter().enumerate() {
            match (*p, subject.get(i)) {
                (">", Some(_)) if i + 1 == pattern.len() => return true,
                ("*", Some(_)) => {}
                (p, Some(s)) if p == *s => {}
                _ => return false,
            }
        }
        pattern.len() == subject.len()
    }

    #[test]
    fn the_matcher_follows_nats_rules() {
        assert!(nats_matches("a.*.c", "a.b.c"));
        assert!(!nats_matches("a.*.c", "a.b.x.c"));
        assert!(!nats_matches("a.*.c", "a.c"));
        assert!(nats_matches("a.>", "a.b.c"));
        assert!(!nats_matches("a.>", "a"));
        assert!(!nats_matches("a.b", "a.b.c"));
        assert!(nats_matches("a.b", "a.b"));
    }

    #[test]
    fn plain_paths_map_to_readable_subjects() {
        let blocks = path("/on/blocks/accepted");
        assert_eq!(event_subject(&blocks), "rues.ev.blocks.~.accepted");
        assert_eq!(interest_subject(&blocks), "rues.ev.blocks.*.accepted");
        let hash = "ab12cd34".repeat(8);
        let one = path(&format!("/on/blocks:{hash}/accepted"));
        assert_eq!(
            event_subject(&one),
            format!("rues.ev.blocks.{hash}.accepted")
        );
        assert_eq!(interest_subject(&one), event_subject(&one));
        assert_eq!(parse_event_subject(&event_subject(&one)), Ok(one));
        assert_eq!(parse_event_subject("rues.ev.blocks.~.accepted"), Ok(blocks));
    }

    #[test]
    fn delimiters_and_wildcards_inside_names_are_escaped() {
        let cases = [
            ("a.b", "a~2Eb"),
            ("*", "~2A"),
            (">", "~3E"),
            ("a b", "a~20b"),
            ("~", "~7E"),
            ("\u{1F600}", "~F0~9F~98~80"),
            ("tab\there", "tab~09here"),
            ("Case-kept_", "Case-kept_"),
        ];
        for (entity, expected) in cases {
            let event = event("contracts", Some(entity), "transfer");
            let subject = event_subject(&event);
            assert_eq!(subject, format!("rues.ev.contracts.{expected}.transfer"));
            assert_eq!(parse_event_subject(&subject), Ok(event), "{entity:?}");
        }
        // A component may hold a dot; it is escaped as any other byte.
        let dotted = event("a.b", None, "t.u");
        assert_eq!(event_subject(&dotted), "rues.ev.a~2Eb.~.t~2Eu");
        assert_eq!(parse_event_subject(&event_subject(&dotted)), Ok(dotted));
    }

    #[test]
    fn session_and_service_subjects() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(
            session_subject(id),
            format!("rues.sess.{}", "ab".repeat(16))
        );
        let component = Component::new("node").unwrap();
        assert_eq!(
            service_subject(&component, &Topic::new("info").unwrap()),
            "rues.rpc.node.info"
        );
        assert_eq!(
            service_subject(&component, &Topic::new("a.b*").unwrap()),
            "rues.rpc.node.a~2Eb~2A"
        );
        assert_eq!(service_wildcard(&component), "rues.rpc.node.*");
        assert!(nats_matches(
            &service_wildcard(&component),
            &service_subject(&component, &Topic::new("x.y").unwrap())
        ));
    }

    #[test]
    fn the_decoder_refuses_every_other_spelling() {
        use SubjectError::*;
        let c = Segment::Component;
        let e = Segment::Entity;
        let t = Segment::Topic;
        let cases: &[(&str, SubjectError)] = &[
            ("", WrongPrefix),
            ("rues.ev", WrongPrefix),
            ("rues.evx.a.~.b", WrongPrefix),
            ("rues.sess.a.~.b", WrongPrefix),
            ("rues.ev.a.b", TokenCount { count: 2 }),
            ("rues.ev.a.~.b.c", TokenCount { count: 4 }),
            // One (empty) token: the count is checked first.
            ("rues.ev.", TokenCount { count: 1 }),
            ("rues.ev.a.*.b", Wildcard),
            ("rues.ev.a.~.>", Wildcard),
            ("rues.ev..~.b", EmptyToken { segment: c }),
            ("rues.ev.a..b", EmptyToken { segment: e }),
            ("rues.ev.a.~.", EmptyToken { segment: t }),
            ("rues.ev.a.x y.b", ForbiddenByte { segment: e }),
            ("rues.ev.a.\u{e9}.b", ForbiddenByte { segment: e }),
            ("rues.ev.a.~.b%", ForbiddenByte { segment: t }),
            ("rues.ev.a.x~2.b", CutEscape { segment: e }),
            ("rues.ev.a.x~.b", CutEscape { segment: e }),
            ("rues.ev.~.~.b", CutEscape { segment: c }),
            ("rues.ev.a.~2e.b", BadEscape { segment: e }),
            ("rues.ev.a.~G0.b", BadEscape { segment: e }),
            ("rues.ev.a.~41.b", NeedlessEscape { segment: e }),
            ("rues.ev.a.~5F.b", NeedlessEscape { segment: e }),
            ("rues.ev.a.~FF.b", InvalidUtf8 { segment: e }),
            ("rues.ev.a.~C3.b", InvalidUtf8 { segment: e }),
            ("rues.ev.a~20.~.b", InvalidName { segment: c }),
            ("rues.ev.Blocks.~.b", NotCanonical { segment: c }),
            ("rues.ev.a.~.Accepted", NotCanonical { segment: t }),
        ];
        for (subject, expected) in cases {
            assert_eq!(
                parse_event_subject(subject).as_ref(),
                Err(expected),
                "{subject:?}"
            );
        }
        // An entity keeps its case: upper case is canonical there.
        assert!(parse_event_subject("rues.ev.a.AB.b").is_ok());
    }

    #[test]
    fn limits_apply_to_decoded_names() {
        let long = "a".repeat(Limits::DEFAULT_MAX_ENTITY_LEN + 1);
        let subject = format!("rues.ev.a.{long}.b");
        assert_eq!(
            parse_event_subject(&subject),
            Err(SubjectError::InvalidName {
                segment: Segment::Entity
            })
        );
        let wide = Limits::new(usize::MAX, 1024, 1024);
        assert!(parse_event_subject_with(&subject, &wide).is_ok());
    }

    #[test]
    fn messages_never_repeat_the_subject() {
        for subject in ["rues.ev.secret", "rues.ev.a.secret~zz.b", "secret"] {
            let message = parse_event_subject(subject).unwrap_err().to_string();
            assert!(!message.contains("secret"), "{message}");
        }
    }

    /// Characters that stress the encoding, mixed with arbitrary ones.
    fn name_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec!['.', '*', '>', '~', ' ', '%', ':', '/', '\n', '-', '_', 'A', 'z', '0', '\u{e9}', '\u{1F600}']),
        ]
    }

    fn name(max_chars: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(name_char(), 1..=max_chars).prop_map(String::from_iter)
    }

    fn arb_path() -> impl Strategy<Value = EventPath> {
        // 4 bytes per char at most: 60 chars fit the entity limit, 30 the topic limit.
        ("[a-zA-Z0-9._-]{1,12}", prop::option::of(name(60)), name(30)).prop_map(
            |(component, entity, topic)| {
                EventPath::new(
                    Target::new(
                        Component::new(component).unwrap(),
                        entity.map(|e| Entity::new(e).unwrap()),
                    ),
                    Topic::new(topic).unwrap(),
                )
            },
        )
    }

    /// A second path that often shares parts with `path`, so that
    /// matching and distinctness are tested on near misses too.
    fn related(path: EventPath) -> impl Strategy<Value = EventPath> {
        (arb_path(), any::<[bool; 3]>()).prop_map(move |(other, [c, e, t])| {
            EventPath::new(
                Target::new(
                    if c {
                        path.component()
                    } else {
                        other.component()
                    }
                    .clone(),
                    if e { path.entity() } else { other.entity() }.cloned(),
                ),
                if t { path.topic() } else { other.topic() }.clone(),
            )
        })
    }

    fn assert_tokens_are_clean(subject: &str) {
        for token in subject.split('.') {
            assert!(!token.is_empty(), "{subject:?}");
            assert!(
                !token.contains(['*', '>']) && !token.contains(char::is_whitespace),
                "{subject:?}"
            );
            assert!(token.is_ascii(), "{subject:?}");
        }
    }

    proptest! {
        #[test]
        fn event_subjects_parse_back(path in arb_path()) {
            let subject = event_subject(&path);
            prop_assert_eq!(parse_event_subject(&subject), Ok(path));
        }

        #[test]
        fn every_token_is_clean(path in arb_path()) {
            let subject = event_subject(&path);
            assert_tokens_are_clean(&subject);
            prop_assert_eq!(subject.split('.').count(), 5);
            let interest = interest_subject(&path);
            prop_assert_eq!(interest.split('.').count(), 5);
            // The interest's wildcard is its own token, the only one.
            for (i, token) in interest.split('.').enumerate() {
                prop_assert!(!token.is_empty());
                prop_assert!(!token.contains('>'));
                prop_assert_eq!(token.contains('*'), i == 3 && path.entity().is_none());
            }
            let service = service_subject(path.component(), path.topic());
            assert_tokens_are_clean(&service);
            prop_assert_eq!(service.split('.').count(), 4);
        }

        #[test]
        fn distinct_paths_give_distinct_subjects(
            (a, b) in arb_path().prop_flat_map(|a| (Just(a.clone()), related(a)))
        ) {
            prop_assert_eq!(a == b, event_subject(&a) == event_subject(&b));
            prop_assert_eq!(
                (a.component(), a.topic()) == (b.component(), b.topic()),
                service_subject(a.component(), a.topic()) == service_subject(b.component(), b.topic())
            );
        }

        #[test]
        fn interest_matches_exactly_the_subscribed_events(
            (subscription, event) in arb_path().prop_flat_map(|a| (Just(a.clone()), related(a)))
        ) {
            prop_assert_eq!(
                nats_matches(&interest_subject(&subscription), &event_subject(&event)),
                subscription.matches(&event)
            );
        }

        #[test]
        fn a_wildcard_interest_matches_every_entity_and_none(
            path in arb_path(),
            entity in name(60),
        ) {
            let every = EventPath::new(path.target().without_entity(), path.topic().clone());
            let interest = interest_subject(&every);
            let with_entity = EventPath::new(
                Target::new(path.component().clone(), Some(Entity::new(entity).unwrap())),
                path.topic().clone(),
            );
            prop_assert!(nats_matches(&interest, &event_subject(&with_entity)));
            prop_assert!(nats_matches(&interest, &event_subject(&every)));
        }

        #[test]
        fn parsing_never_panics_and_accepts_only_canonical_subjects(subject in "rues\\.ev\\.[a-zA-Z0-9~.*> _-]{0,24}") {
            if let Ok(path) = parse_event_subject(&subject) {
                prop_assert_eq!(event_subject(&path), subject);
            }
        }

        #[test]
        fn tokens_decode_back(name in name(60)) {
            prop_assert_eq!(decode_token(&token(&name), Segment::Entity), Ok(name));
        }
    }
}
