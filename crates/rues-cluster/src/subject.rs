//! RUES paths as NATS subjects (docs/cluster.md, "Subjects").
//! (Interim version: replaced by the full, fuzzed module.)

use rues_core::SessionId;
use rues_target::{Component, EventPath, Topic};

/// Event subjects: `rues.ev.<component>.<entity or ~>.<topic>`.
pub const EVENTS: &str = "rues.ev";
/// Session subjects: `rues.sess.<id>`.
pub const SESSIONS: &str = "rues.sess";
/// Service subjects: `rues.rpc.<component>.<topic>`.
pub const SERVICES: &str = "rues.rpc";

/// Why a subject is not an event subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Anything wrong.
    #[error("not an event subject")]
    Invalid,
}

/// A name as one subject token.
pub fn token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("~{byte:02X}"));
        }
    }
    out
}

/// The subject an event is published on.
pub fn event_subject(path: &EventPath) -> String {
    let entity = path
        .entity()
        .map_or_else(|| "~".to_owned(), |e| token(e.as_str()));
    format!(
        "{EVENTS}.{}.{entity}.{}",
        token(path.component().as_str()),
        token(path.topic().as_str())
    )
}

/// The subject that receives what a subscription to `path` wants.
pub fn interest_subject(path: &EventPath) -> String {
    match path.entity() {
        Some(_) => event_subject(path),
        None => format!(
            "{EVENTS}.{}.*.{}",
            token(path.component().as_str()),
            token(path.topic().as_str())
        ),
    }
}

fn untoken(token: &str) -> Result<String, SubjectError> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let hex = token.get(i + 1..i + 3).ok_or(SubjectError::Invalid)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| SubjectError::Invalid)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| SubjectError::Invalid)
}

/// The event path of an event subject.
pub fn parse_event_subject(subject: &str) -> Result<EventPath, SubjectError> {
    let rest = subject
        .strip_prefix(EVENTS)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or(SubjectError::Invalid)?;
    let parts: Vec<&str> = rest.split('.').collect();
    let [component, entity, topic] = parts[..] else {
        return Err(SubjectError::Invalid);
    };
    let component = Component::new(untoken(component)?).map_err(|_| SubjectError::Invalid)?;
    let entity = match entity {
        "~" => None,
        entity => {
            Some(rues_target::Entity::new(untoken(entity)?).map_err(|_| SubjectError::Invalid)?)
        }
    };
    let topic = Topic::new(untoken(topic)?).map_err(|_| SubjectError::Invalid)?;
    Ok(EventPath::new(
        rues_target::Target::new(component, entity),
        topic,
    ))
}

/// The subject a session's owner answers on.
pub fn session_subject(id: SessionId) -> String {
    format!("{SESSIONS}.{id}")
}

/// The subject services of (component, topic) answer on.
pub fn service_subject(component: &Component, topic: &Topic) -> String {
    format!(
        "{SERVICES}.{}.{}",
        token(component.as_str()),
        token(topic.as_str())
    )
}

/// The subject of every topic of a component.
pub fn service_wildcard(component: &Component) -> String {
    format!("{SERVICES}.{}.*", token(component.as_str()))
}
