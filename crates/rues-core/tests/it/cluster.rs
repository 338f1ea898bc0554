//! Cluster mode (docs/protocol.md §11): the changes a node reports to its
//! backplane, and the requests it leaves to other nodes.

use http::{HeaderMap, Method, StatusCode};
use rues_core::rues_target::EventPath;
use rues_core::{Arrival, Change, Decision, Destination, Node, SeededIds, SessionId};

use crate::harness::{Harness, header_map, registry};

fn cluster() -> Harness {
    Harness::with_config(|config| config.in_cluster(true))
}

fn path(text: &str) -> EventPath {
    EventPath::parse(text).expect("valid path")
}

fn with_session(session: SessionId) -> HeaderMap {
    header_map(&[("rusk-session-id", &session.to_string())])
}

#[test]
fn interest_is_reported_when_the_first_subscription_comes_and_the_last_goes() {
    let mut h = cluster();
    let a = h.open();
    let b = h.open();
    assert_eq!(
        h.node.take_changes(),
        [Change::SessionOpened(a), Change::SessionOpened(b)]
    );
    assert_eq!(h.get(a, "/on/blocks/accepted").status(), StatusCode::OK);
    assert_eq!(h.get(b, "/on/blocks/accepted").status(), StatusCode::OK);
    assert_eq!(h.get(b, "/on/blocks:ab/accepted").status(), StatusCode::OK);
    assert_eq!(
        h.node.take_changes(),
        [
            Change::InterestAdded(path("/on/blocks/accepted")),
            Change::InterestAdded(path("/on/blocks:ab/accepted")),
        ],
        "a second subscription to a wanted path is no change"
    );
    assert_eq!(h.delete(a, "/on/blocks/accepted").status(), StatusCode::OK);
    assert!(!h.node.has_changes(), "b still wants it");
    h.node.handle_closed(b, rues_core::SocketEnd::Vanished);
    let mut changes = h.node.take_changes();
    let last = changes.pop();
    assert_eq!(last, Some(Change::SessionClosed(b)));
    changes.sort_by_key(|change| format!("{change:?}"));
    assert_eq!(
        changes,
        [
            Change::InterestDropped(path("/on/blocks/accepted")),
            Change::InterestDropped(path("/on/blocks:ab/accepted")),
        ]
    );
    assert!(h.node.current_state() == [Change::SessionOpened(a)]);
}

#[test]
fn current_state_lists_every_session_and_wanted_path() {
    let mut h = cluster();
    let a = h.open();
    assert_eq!(h.get(a, "/on/blocks:ab/accepted").status(), StatusCode::OK);
    let state = h.node.current_state();
    assert!(state.contains(&Change::SessionOpened(a)));
    assert!(state.contains(&Change::InterestAdded(path("/on/blocks:ab/accepted"))));
    assert_eq!(state.len(), 2);
}

#[test]
fn a_single_node_records_nothing_and_forwards_nothing() {
    let mut h = Harness::new();
    let a = h.open();
    assert_eq!(h.get(a, "/on/blocks/accepted").status(), StatusCode::OK);
    assert!(!h.node.has_changes());
    let stranger = SessionId::from_bytes([7; 16]);
    let decision =
        h.node
            .handle_request(&Method::GET, "/on/blocks/accepted", &with_session(stranger));
    assert!(
        matches!(&decision, Decision::Respond(r) if r.status() == StatusCode::FAILED_DEPENDENCY)
    );
}

#[test]
fn a_session_owned_elsewhere_is_left_to_its_owner_with_the_424_as_fallback() {
    let mut h = cluster();
    let stranger = SessionId::from_bytes([7; 16]);
    for method in [Method::GET, Method::DELETE] {
        let Decision::Forward(forward) =
            h.node
                .handle_request(&method, "/on/blocks/accepted", &with_session(stranger))
        else {
            panic!("{method} on a session owned elsewhere must be forwarded");
        };
        assert_eq!(forward.to, Destination::Owner(stranger));
        assert_eq!(forward.fallback.status(), StatusCode::FAILED_DEPENDENCY);
        assert!(forward.body.is_none());
    }
    let Decision::Forward(forward) = h.node.handle_request(
        &Method::POST,
        "/on/blocks/gas-price",
        &with_session(stranger),
    ) else {
        panic!("a dispatch naming a session owned elsewhere goes to the owner");
    };
    assert_eq!(forward.to, Destination::Owner(stranger));
    assert!(forward.body.is_some());
    // The owner decides, and forwards nothing back.
    let decision = h.node.handle_request_from(
        Arrival::ForOwner,
        &Method::GET,
        "/on/blocks/accepted",
        &with_session(stranger),
    );
    assert!(
        matches!(&decision, Decision::Respond(r) if r.status() == StatusCode::FAILED_DEPENDENCY)
    );
}

#[test]
fn checks_before_the_session_are_answered_here() {
    let mut h = cluster();
    let stranger = SessionId::from_bytes([7; 16]);
    let decision =
        h.node
            .handle_request(&Method::GET, "/on/nosuch/accepted", &with_session(stranger));
    assert!(matches!(&decision, Decision::Respond(r) if r.status() == StatusCode::NOT_FOUND));
}

#[test]
fn a_dispatch_without_a_handler_here_goes_to_a_service_and_a_service_trusts_the_session() {
    let mut node = Node::new(
        rues_core::Config::new("1.0.0".parse().expect("version")).in_cluster(true),
        registry().without_handlers(),
        SeededIds::new(1),
    );
    let Decision::Forward(forward) =
        node.handle_request(&Method::POST, "/on/blocks/gas-price", &HeaderMap::new())
    else {
        panic!("no handler here: forward");
    };
    assert_eq!(
        forward.to,
        Destination::Service(path("/on/blocks/gas-price"))
    );
    assert_eq!(forward.fallback.status(), StatusCode::NOT_FOUND);
    // A topic that exists nowhere is still this node's 404.
    let decision = node.handle_request(&Method::POST, "/on/blocks/nosuch", &HeaderMap::new());
    assert!(matches!(&decision, Decision::Respond(r) if r.status() == StatusCode::NOT_FOUND));
    // Subscribing to a handler's topic works on the node without handlers.
    let mut full = Node::new(
        rues_core::Config::new("1.0.0".parse().expect("version")).in_cluster(true),
        registry(),
        SeededIds::new(2),
    );
    let stranger = SessionId::from_bytes([9; 16]);
    let decision = full.handle_request_from(
        Arrival::ForService,
        &Method::POST,
        "/on/blocks/gas-price",
        &with_session(stranger),
    );
    assert!(
        matches!(decision, Decision::ReadBody(_)),
        "a service runs the call for a session its forwarder vouched for"
    );
}
