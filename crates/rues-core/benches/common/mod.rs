//! The setup the core's benchmarks share: a node with one component and
//! one topic, sessions opened as an upgrade on `/on` opens them, requests
//! as an adapter hands them over. Each benchmark target compiles this
//! module on its own and uses part of it.
#![allow(dead_code)]

use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use rues_core::{
    ComponentSpec, Config, Decision, EntityRule, Limits, NewSession, Node, Registry, SeededIds,
};
use rues_target::{Component, Topic};

/// A node whose registry has `component` (entity optional) with the one
/// topic `topic`, room for `sessions` sessions of one subscription each,
/// and `configure` applied to its configuration last.
pub(crate) fn node(
    component: &str,
    topic: &str,
    sessions: usize,
    configure: impl FnOnce(Config) -> Config,
) -> Node {
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new(component).expect("valid"))
            .entity(EntityRule::Optional)
            .topic(Topic::new(topic).expect("valid")),
    );
    let mut limits = Limits::default();
    limits.max_sessions = sessions + 1;
    // One subscription per session, more than the node-wide default.
    limits.max_total_subscriptions = sessions + 1;
    let config = Config::new("1.6.0".parse().expect("valid")).with_limits(limits);
    Node::new(configure(config), registry, SeededIds::new(7))
}

/// Opens a session; the headers that name it in requests, and the session.
pub(crate) fn open(node: &mut Node, now: Instant) -> (HeaderMap, NewSession) {
    let session = node
        .handle_upgrade(now, "/on", &HeaderMap::new(), None)
        .expect("opened");
    let mut headers = HeaderMap::new();
    headers.insert(
        "rusk-session-id",
        HeaderValue::from_str(&session.id.to_string()).expect("hex"),
    );
    (headers, session)
}

/// Whether the core answered a request with a success; a single node
/// reads no body for `GET` and `DELETE` and forwards nothing.
pub(crate) fn succeeded(decision: Decision) -> bool {
    match decision {
        Decision::Respond(response) => response.status().is_success(),
        Decision::ReadBody(_) | Decision::Forward(_) => {
            unreachable!("a single node reads no body for GET and DELETE")
        }
    }
}
