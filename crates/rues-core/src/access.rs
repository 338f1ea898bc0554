//! Access rules (docs/protocol.md §8): `DENY <methods> <pattern>` lines, as in the
//! RUES wiki's table, enforced by the node itself.
//!
//! A pattern is `/on/` followed by an optional target and topic:
//!
//! | pattern | denies |
//! |---|---|
//! | `/on/` | every event |
//! | `/on/contracts/` | the `contracts` component itself (requests without an entity), any topic; entity requests are still allowed |
//! | `/on/contracts:*/` | every entity of `contracts` (requests with an entity), any topic; requests without an entity are still allowed |
//! | `/on/contracts:<id>/*` or `/on/contracts:<id>/` | contract `<id>`, any topic |
//! | `/on/contracts:<id>/item-changed` | contract `<id>`, topic `item-changed` |
//! | `/on/contracts/sync` | topic `sync` of `contracts`, with or without an entity (the wiki: "for any contract") |
//!
//! `GET` covers `DELETE` too (unsubscribing needs a subscription first);
//! `DELETE` may also be named on its own, with the same meaning as `GET`.
//! An entity literally named `*` is written `%2A`.
//!
//! Rules are decided on canonical entities: when a component declares how
//! its entities are canonicalised ([`ComponentSpec::canonical_entities`]),
//! the node rewrites a rule's entity that way when it starts, and every
//! request's entity before the check, so no other spelling escapes a rule.
//!
//! [`ComponentSpec::canonical_entities`]: crate::ComponentSpec::canonical_entities

use std::fmt;
use std::str::FromStr;

use rues_target::{Component, Entity, EventPath, Topic};

/// What a request does, as access rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET` (subscribe) or `DELETE` (unsubscribe).
    Subscribe,
    /// `POST`.
    Dispatch,
}

/// Which entities a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EntityPattern {
    /// No entity written: see the module docs for how the topic changes this.
    Unspecified,
    /// `:*`: any entity, but only requests that name one.
    Any,
    /// `:<entity>`: exactly this entity.
    Exact(Entity),
}

/// One `DENY` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    subscribe: bool,
    dispatch: bool,
    /// `None`: the pattern was `/on/`, every component.
    component: Option<Component>,
    entity: EntityPattern,
    /// `None`: any topic.
    topic: Option<Topic>,
    /// The rule as written (normalised spacing), quoted in 403 messages.
    text: String,
}

impl AccessRule {
    /// Whether this rule denies `operation` on `path`.
    pub fn denies(&self, operation: Operation, path: &EventPath) -> bool {
        let method_covered = match operation {
            Operation::Subscribe => self.subscribe,
            Operation::Dispatch => self.dispatch,
        };
        if !method_covered {
            return false;
        }
        let Some(component) = &self.component else {
            return true;
        };
        if component != path.component() {
            return false;
        }
        let topic_matches = self.topic.as_ref().is_none_or(|t| t == path.topic());
        let entity_matches = match (&self.entity, path.entity()) {
            // `/on/contracts/` is the component itself; `/on/contracts/sync`
            // is that topic for every contract (the wiki's reading of each).
            (EntityPattern::Unspecified, entity) => self.topic.is_some() || entity.is_none(),
            (EntityPattern::Any, entity) => entity.is_some(),
            (EntityPattern::Exact(rule), Some(entity)) => rule == entity,
            (EntityPattern::Exact(_), None) => false,
        };
        topic_matches && entity_matches
    }
}

impl fmt::Display for AccessRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A rule that does not parse; the message says which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access rule `{rule}`: {reason}")]
pub struct InvalidAccessRule {
    rule: String,
    reason: String,
}

impl FromStr for AccessRule {
    type Err = InvalidAccessRule;

    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| InvalidAccessRule {
            rule: rule.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = rule
            .trim()
            .strip_prefix("DENY")
            .filter(|r| r.starts_with(char::is_whitespace))
            .ok_or_else(|| fail("a rule starts with `DENY `"))?;
        let pattern_at = rest
            .find('/')
            .ok_or_else(|| fail("no pattern: a pattern starts with `/on/`"))?;
        let (methods, pattern) = rest.split_at(pattern_at);
        let (mut subscribe, mut dispatch) = (false, false);
        for method in methods.split(',').map(str::trim) {
            match method {
                "GET" | "DELETE" => subscribe = true,
                "POST" => dispatch = true,
                "" => return Err(fail("empty method in the method list")),
                other => {
                    return Err(fail(&format!(
                        "unknown method `{other}` (expected GET, DELETE or POST)"
                    )));
                }
            }
        }
        let pattern = pattern.trim();
        let body = pattern
            .strip_prefix("/on/")
            .ok_or_else(|| fail("a pattern starts with `/on/`"))?;
        let methods_text = match (subscribe, dispatch) {
            (true, true) => "GET, POST",
            (true, false) => "GET",
            _ => "POST",
        };
        let text = format!("DENY {methods_text} {pattern}");
        if body.is_empty() {
            return Ok(Self {
                subscribe,
                dispatch,
                component: None,
                entity: EntityPattern::Unspecified,
                topic: None,
                text,
            });
        }
        let (target, topic) = body
            .split_once('/')
            .ok_or_else(|| fail("a target is followed by `/` and an optional topic"))?;
        let topic = topic.strip_suffix('/').unwrap_or(topic);
        let (component, entity) = match target.split_once(':') {
            None => (target, EntityPattern::Unspecified),
            Some((component, "*")) => (component, EntityPattern::Any),
            Some((component, _)) => {
                // Reuse the event-path parser so an entity is decoded exactly
                // as in requests.
                let parsed = EventPath::parse(&format!("/on/{target}/x"))
                    .map_err(|e| fail(&e.to_string()))?;
                let entity = parsed
                    .entity()
                    .cloned()
                    .ok_or_else(|| fail("empty entity"))?;
                (component, EntityPattern::Exact(entity))
            }
        };
        let component = Component::new(component).map_err(|e| fail(&e.to_string()))?;
        let topic = match topic {
            "" | "*" => None,
            raw => {
                let parsed = EventPath::parse(&format!("/on/{component}/{raw}"))
                    .map_err(|e| fail(&e.to_string()))?;
                Some(parsed.topic().clone())
            }
        };
        Ok(Self {
            subscribe,
            dispatch,
            component: Some(component),
            entity,
            topic,
            text,
        })
    }
}

/// An ordered list of rules; the first that denies a request is reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    rules: Vec<AccessRule>,
}

impl AccessRules {
    /// No rules: everything is allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one rule per item.
    pub fn parse<'a>(rules: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidAccessRule> {
        let rules = rules
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// The first rule denying `operation` on `path`, if any.
    pub fn denying(&self, operation: Operation, path: &EventPath) -> Option<&AccessRule> {
        self.rules.iter().find(|rule| rule.denies(operation, path))
    }

    /// Rewrites every exact entity into the canonical form its component
    /// declares, so a rule written `EFDA…` denies what `efda…` names.
    pub(crate) fn canonicalise(&mut self, canonical: impl Fn(&Component, &Entity) -> Entity) {
        for rule in &mut self.rules {
            if let (Some(component), EntityPattern::Exact(entity)) =
                (&rule.component, &mut rule.entity)
            {
                *entity = canonical(component, entity);
            }
        }
    }

    /// The rules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &AccessRule> {
        self.rules.iter()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = "efda355bc94a3be09006dc90f3714a0ee22c586c5e577e429ef3b5e3e464a8da";

    fn path(p: &str) -> EventPath {
        EventPath::parse(p).expect("valid path")
    }

    fn denied(rule: &str, operation: Operation, p: &str) -> bool {
        let rule: AccessRule = rule.parse().expect("valid rule");
        rule.denies(operation, &path(p))
    }

    use Operation::{Dispatch as Post, Subscribe as Get};

    /// The wiki's table, row by row: (rule, operation, path, denied?).
    #[test]
    fn wiki_table_rows_deny_what_they_describe() {
        let other = "0000000000000000000000000000000000000000000000000000000000000001";
        let rows: Vec<(String, Operation, String, bool)> = vec![
            (
                "DENY GET /on/".into(),
                Get,
                "/on/blocks/accepted".into(),
                true,
            ),
            ("DENY GET /on/".into(), Post, "/on/node/info".into(), false),
            (
                "DENY GET, POST /on/".into(),
                Post,
                "/on/node/info".into(),
                true,
            ),
            (
                "DENY GET, POST /on/contracts/".into(),
                Get,
                "/on/contracts/deploy".into(),
                true,
            ),
            (
                "DENY GET, POST /on/contracts/".into(),
                Get,
                format!("/on/contracts:{CONTRACT}/x"),
                false,
            ),
            (
                "DENY GET, POST /on/contracts/".into(),
                Get,
                "/on/blocks/accepted".into(),
                false,
            ),
            (
                "DENY GET, POST /on/contracts:*/".into(),
                Post,
                format!("/on/contracts:{CONTRACT}/x"),
                true,
            ),
            (
                "DENY GET, POST /on/contracts:*/".into(),
                Post,
                "/on/contracts/x".into(),
                false,
            ),
            (
                format!("DENY GET, POST /on/contracts:{CONTRACT}/*"),
                Get,
                format!("/on/contracts:{CONTRACT}/any"),
                true,
            ),
            (
                format!("DENY GET, POST /on/contracts:{CONTRACT}/*"),
                Get,
                format!("/on/contracts:{other}/any"),
                false,
            ),
            (
                format!("DENY GET /on/contracts:{CONTRACT}/item-changed"),
                Get,
                format!("/on/contracts:{CONTRACT}/item-changed"),
                true,
            ),
            (
                format!("DENY GET /on/contracts:{CONTRACT}/item-changed"),
                Get,
                format!("/on/contracts:{CONTRACT}/other"),
                false,
            ),
            (
                format!("DENY GET /on/contracts:{CONTRACT}/item-changed"),
                Post,
                format!("/on/contracts:{CONTRACT}/item-changed"),
                false,
            ),
            (
                format!("DENY POST /on/contracts:{CONTRACT}/sync/"),
                Post,
                format!("/on/contracts:{CONTRACT}/sync"),
                true,
            ),
            (
                "DENY POST /on/contracts/sync".into(),
                Post,
                format!("/on/contracts:{CONTRACT}/sync"),
                true,
            ),
            (
                "DENY POST /on/contracts/sync".into(),
                Post,
                "/on/contracts/sync".into(),
                true,
            ),
            (
                "DENY POST /on/contracts/sync".into(),
                Post,
                format!("/on/contracts:{CONTRACT}/other"),
                false,
            ),
            (
                "DENY POST /on/contracts/sync".into(),
                Get,
                format!("/on/contracts:{CONTRACT}/sync"),
                false,
            ),
        ];
        for (rule, op, p, expected) in rows {
            assert_eq!(denied(&rule, op, &p), expected, "{rule} / {op:?} {p}");
        }
    }

    #[test]
    fn get_covers_delete_and_delete_alone_means_get() {
        assert!(denied(
            "DENY DELETE /on/blocks/",
            Get,
            "/on/blocks/accepted"
        ));
        assert!(!denied(
            "DENY DELETE /on/blocks/",
            Post,
            "/on/blocks/accepted"
        ));
    }

    #[test]
    fn encoded_star_is_a_literal_entity() {
        assert!(denied("DENY GET /on/things:%2A/", Get, "/on/things:%2A/t"));
        assert!(!denied("DENY GET /on/things:%2A/", Get, "/on/things:a/t"));
    }

    #[test]
    fn first_denying_rule_is_reported() {
        let rules = AccessRules::parse(["DENY POST /on/node/", "DENY GET, POST /on/"])
            .expect("valid rules");
        let rule = rules
            .denying(Post, &path("/on/node/info"))
            .map(ToString::to_string);
        assert_eq!(rule.as_deref(), Some("DENY POST /on/node/"));
        let rule = rules
            .denying(Get, &path("/on/node/info"))
            .map(ToString::to_string);
        assert_eq!(rule.as_deref(), Some("DENY GET, POST /on/"));
        assert!(AccessRules::new().denying(Get, &path("/on/a/b")).is_none());
    }

    #[test]
    fn malformed_rules_are_rejected_with_a_reason() {
        for bad in [
            "ALLOW GET /on/",
            "DENY",
            "DENYGET /on/",
            "DENY GET",
            "DENY PUT /on/",
            "DENY GET,, POST /on/",
            "DENY GET /off/",
            "DENY GET /on/blocks",
            "DENY GET /on/bad component/",
            "DENY GET /on/c:%zz/",
            "DENY GET /on/c/%zz",
        ] {
            let err = bad.parse::<AccessRule>().expect_err(bad);
            assert!(err.to_string().contains("invalid access rule"), "{err}");
        }
    }
}
