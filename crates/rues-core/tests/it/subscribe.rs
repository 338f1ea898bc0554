//! docs/protocol.md §5.1: subscribe (`GET`) and unsubscribe (`DELETE`), one test
//! per row of the check-order table, each also proving it comes before the
//! next row by breaking the later checks too.

use http::{Method, StatusCode};
use rues_core::{AccessRules, Limits, SessionId};

use crate::harness::{Harness, assert_empty, assert_error};

const UNKNOWN_SESSION: &str = "00000000000000000000000000000000";

#[test]
fn row1_bad_version_is_400_before_missing_session() {
    let mut h = Harness::new();
    let response = h.request(Method::GET, "/on/nope/x", &[("rusk-version", "2.0.0")], b"");
    assert_error(&response, StatusCode::BAD_REQUEST, "does not satisfy");
    let response = h.request(
        Method::DELETE,
        "/on/nope/x",
        &[("rusk-version", "not a version")],
        b"",
    );
    assert_error(&response, StatusCode::BAD_REQUEST, "invalid Rusk-Version");
}

#[test]
fn row2_missing_or_malformed_session_is_424_before_bad_path() {
    let mut h = Harness::new();
    let response = h.request(Method::GET, "/on/nope/x/y/z", &[], b"");
    assert_error(&response, StatusCode::FAILED_DEPENDENCY, "Rusk-Session-Id");
    for bad in [
        "abc",
        "zz000000000000000000000000000000",
        "000000000000000000000000000000000",
    ] {
        let response = h.request(Method::GET, "/on/nope/x", &[("rusk-session-id", bad)], b"");
        assert_error(&response, StatusCode::FAILED_DEPENDENCY, "Rusk-Session-Id");
    }
}

#[test]
fn row3_malformed_path_or_unknown_names_are_404_before_unknown_session() {
    let mut h = Harness::new();
    let cases = [
        ("/on/blocks/accepted/extra", "segment"),
        ("/on/block/accepted", "unknown component `block`"),
        (
            "/on/blocks/acepted",
            "unknown topic `acepted` of component `blocks`",
        ),
        ("/on/contracts/transfer", "needs an entity"),
        ("/on/node:abc/info", "takes no entity"),
    ];
    for (path, message) in cases {
        let response = h.request(
            Method::GET,
            path,
            &[("rusk-session-id", UNKNOWN_SESSION)],
            b"",
        );
        assert_error(&response, StatusCode::NOT_FOUND, message);
    }
    let long_topic = format!("/on/contracts:c/{}", "t".repeat(129));
    let response = h.request(
        Method::GET,
        &long_topic,
        &[("rusk-session-id", UNKNOWN_SESSION)],
        b"",
    );
    assert_error(&response, StatusCode::NOT_FOUND, "128");
}

#[test]
fn row4_unknown_or_closed_session_is_424_before_access_rule() {
    let mut h = Harness::with_config(|c| {
        c.with_access(AccessRules::parse(["DENY GET /on/"]).expect("rule"))
    });
    let response = h.request(
        Method::GET,
        "/on/blocks/accepted",
        &[("rusk-session-id", UNKNOWN_SESSION)],
        b"",
    );
    assert_error(
        &response,
        StatusCode::FAILED_DEPENDENCY,
        "unknown or closed",
    );

    let session = h.open();
    h.node
        .handle_closed(session, rues_core::SocketEnd::ClientClose);
    let response = h.get(session, "/on/blocks/accepted");
    assert_error(
        &response,
        StatusCode::FAILED_DEPENDENCY,
        "unknown or closed",
    );
}

#[test]
fn row5_access_rule_is_403_naming_the_rule_before_limit() {
    let mut h = Harness::with_config(|c| {
        let mut limits = Limits::default();
        limits.max_subscriptions = 0;
        c.with_access(AccessRules::parse(["DENY GET /on/blocks/"]).expect("rule"))
            .with_limits(limits)
    });
    let session = h.open();
    let response = h.get(session, "/on/blocks/accepted");
    assert_error(&response, StatusCode::FORBIDDEN, "DENY GET /on/blocks/");
    // GET covers DELETE.
    let response = h.delete(session, "/on/blocks/accepted");
    assert_error(&response, StatusCode::FORBIDDEN, "DENY GET /on/blocks/");
    // Entity-specific requests are not covered by `/on/blocks/`: the limit answers.
    let response = h.get(session, "/on/blocks:ab/accepted");
    assert_error(&response, StatusCode::TOO_MANY_REQUESTS, "maximum of 0");
}

#[test]
fn row6_subscription_limit_is_429_but_resubscribing_is_still_200() {
    let mut h = Harness::with_config(|c| {
        let mut limits = Limits::default();
        limits.max_subscriptions = 2;
        c.with_limits(limits)
    });
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(session, "/on/blocks:a/accepted"), StatusCode::OK);
    assert_error(
        &h.get(session, "/on/blocks:b/accepted"),
        StatusCode::TOO_MANY_REQUESTS,
        "maximum of 2",
    );
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    // After an unsubscribe there is room again.
    assert_empty(&h.delete(session, "/on/blocks:a/accepted"), StatusCode::OK);
    assert_empty(&h.get(session, "/on/blocks:b/accepted"), StatusCode::OK);
}

#[test]
fn row7_get_adds_idempotently_and_delete_removes_the_exact_target() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(session, "/on/blocks/accepted/"), StatusCode::OK);
    assert_eq!(h.node.stats().subscriptions, 1);
    // The entity-specific target is a different subscription.
    assert_error(
        &h.delete(session, "/on/blocks:ab/accepted"),
        StatusCode::NOT_FOUND,
        "Subscription not found",
    );
    // A trailing slash names the same event for DELETE too.
    assert_empty(&h.delete(session, "/on/blocks/accepted/"), StatusCode::OK);
    assert_error(
        &h.delete(session, "/on/blocks/accepted"),
        StatusCode::NOT_FOUND,
        "Subscription not found",
    );
    assert_eq!(h.node.stats().subscriptions, 0);
    assert_eq!(h.node.stats().index_topics, 0);
}

#[test]
fn session_header_is_case_insensitive_hex() {
    let mut h = Harness::new();
    let session = h.open();
    let upper = session.to_string().to_uppercase();
    let response = h.request(
        Method::GET,
        "/on/blocks/accepted",
        &[("Rusk-Session-Id", &upper)],
        b"",
    );
    assert_empty(&response, StatusCode::OK);
    assert_eq!(h.node.subscriptions(session).count(), 1);
    assert!(upper.parse::<SessionId>().is_ok());
}

#[test]
fn component_and_topic_are_case_insensitive_and_the_entity_exact() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/Blocks/ACCEPTED"), StatusCode::OK);
    // Already held, in any spelling: still one subscription.
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_eq!(h.node.stats().subscriptions, 1);
    assert_empty(&h.get(session, "/on/contracts:c/Transfer"), StatusCode::OK);
    // A mixed-case DELETE removes it.
    assert_empty(
        &h.delete(session, "/on/CONTRACTS:c/transfer"),
        StatusCode::OK,
    );
    // The entity is compared exactly.
    assert_empty(&h.get(session, "/on/contracts:C/transfer"), StatusCode::OK);
    assert_error(
        &h.delete(session, "/on/contracts:c/transfer"),
        StatusCode::NOT_FOUND,
        "Subscription not found",
    );
    // A capitalised contract event reaches its lower-case subscriber.
    let event = rues_core::Event::new(
        rues_core::rues_target::EventPath::parse("/on/contracts:C/Transfer").expect("valid"),
        "application/octet-stream",
        bytes::Bytes::from_static(b"x"),
    );
    assert_eq!(h.node.publish(&event).expect("published").receivers, 1);
    let frames = h.frames(session);
    assert_eq!(
        frames[0].content_location(),
        Some("/on/contracts:C/transfer")
    );
}

#[test]
fn unsupported_methods_are_405_with_allow() {
    let mut h = Harness::new();
    for method in [Method::PUT, Method::PATCH, Method::HEAD, Method::TRACE] {
        let response = h.request(method.clone(), "/on/blocks/accepted", &[], b"");
        assert_error(&response, StatusCode::METHOD_NOT_ALLOWED, method.as_str());
        assert_eq!(
            crate::harness::header(&response, "allow"),
            Some("GET, POST, DELETE, OPTIONS")
        );
    }
}
