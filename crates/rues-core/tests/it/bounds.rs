//! Node-wide bounds and the decisions made on canonical entities: the
//! total-subscription limit, the per-client session limit (with trusted
//! proxies), canonical entities before access rules, index and handler,
//! and error messages that quote at most a short prefix of the input.

use std::net::IpAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use rues_core::rues_target::{Component, EventPath};
use rues_core::{
    AccessRules, ComponentSpec, Config, Decision, DispatchRequest, EntityRule, Event, Limits, Node,
    Registry, Reply, SeededIds,
};

use crate::harness::{
    Harness, NODE_VERSION, assert_error, block_on, body_text, collect, header_map,
};

const ID: &str = "efda355bc94a3be09006dc90f3714a0ee22c586c5e577e429ef3b5e3e464a8da";

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

fn limits(configure: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    configure(&mut limits);
    limits
}

/// A node whose `contracts` declare hex entities, with a handler that
/// answers the entity it was given.
fn canonical_node(rules: &[&str]) -> Node {
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new("contracts").expect("valid"))
            .entity(EntityRule::Required)
            .hex_entities()
            .open_topics()
            .fallback_handler(|request: DispatchRequest| async move {
                let entity = request.path.entity().map(ToString::to_string);
                Ok(Reply::Text(entity.unwrap_or_default()))
            }),
    );
    let config = Config::new(NODE_VERSION.parse().expect("valid"))
        .with_access(AccessRules::parse(rules.iter().copied()).expect("valid rules"));
    Node::new(config, registry, SeededIds::new(7))
}

fn post(node: &mut Node, path: &str) -> http::Response<Bytes> {
    match node.handle_request(&Method::POST, path, &HeaderMap::new()) {
        Decision::Respond(response) => response,
        Decision::Forward(forward) => forward.fallback,
        Decision::ReadBody(ticket) => match ticket.with_body(Bytes::new()) {
            Ok(call) => collect(block_on(call.run())),
            Err(response) => response,
        },
    }
}

#[test]
fn a_deny_rule_holds_for_every_spelling_of_a_hex_entity() {
    let upper = ID.to_ascii_uppercase();
    let mixed: String = ID
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    for rule in [
        format!("DENY GET, POST /on/contracts:{ID}/*"),
        // A rule written in upper case denies the canonical id too.
        format!("DENY GET, POST /on/contracts:{upper}/*"),
    ] {
        let mut node = canonical_node(&[&rule]);
        let session = node
            .handle_upgrade(std::time::Instant::now(), "/on", &HeaderMap::new(), None)
            .expect("opened")
            .id;
        let headers = header_map(&[("rusk-session-id", &session.to_string())]);
        for spelling in [ID, upper.as_str(), mixed.as_str()] {
            let path = format!("/on/contracts:{spelling}/balance");
            let response = post(&mut node, &path);
            assert_error(&response, StatusCode::FORBIDDEN, "denied by access rule");
            let Decision::Respond(response) = node.handle_request(&Method::GET, &path, &headers)
            else {
                unreachable!("GET reads no body")
            };
            assert_error(&response, StatusCode::FORBIDDEN, "denied by access rule");
        }
    }
}

#[test]
fn handlers_and_subscriptions_see_the_canonical_entity() {
    let mut node = canonical_node(&[]);
    let upper = ID.to_ascii_uppercase();
    let response = post(&mut node, &format!("/on/contracts:{upper}/balance"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(&response), ID);

    let opened = node
        .handle_upgrade(std::time::Instant::now(), "/on", &HeaderMap::new(), None)
        .expect("opened");
    let headers = header_map(&[("rusk-session-id", &opened.id.to_string())]);
    let Decision::Respond(response) = node.handle_request(
        &Method::GET,
        &format!("/on/contracts:{upper}/moved"),
        &headers,
    ) else {
        unreachable!("GET reads no body")
    };
    assert_eq!(response.status(), StatusCode::OK);
    let held: Vec<String> = node
        .subscriptions(opened.id)
        .map(ToString::to_string)
        .collect();
    assert_eq!(held, [format!("/on/contracts:{ID}/moved")]);
    // The event, published at its canonical path, reaches the subscriber.
    let event = Event::new(
        EventPath::parse(&format!("/on/contracts:{ID}/moved")).expect("valid"),
        "application/json",
        Bytes::from_static(b"{}"),
    );
    assert_eq!(node.publish(&event).expect("encodes").receivers, 1);
}

#[test]
fn the_node_wide_subscription_limit_answers_429() {
    let mut h = Harness::with_config(|c| {
        c.with_limits(limits(|l| {
            l.max_subscriptions = 10;
            l.max_total_subscriptions = 15;
        }))
    });
    let a = h.open();
    let b = h.open();
    for i in 0..10 {
        let response = h.get(a, &format!("/on/blocks:{i:02x}/accepted"));
        assert_eq!(response.status(), StatusCode::OK);
    }
    for i in 0..5 {
        let response = h.get(b, &format!("/on/blocks:{i:02x}/accepted"));
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = h.get(b, "/on/blocks:ff/accepted");
    assert_error(
        &response,
        StatusCode::TOO_MANY_REQUESTS,
        "the node holds its maximum of 15 subscriptions",
    );
    // Freed slots are taken again.
    assert_eq!(
        h.delete(a, "/on/blocks:00/accepted").status(),
        StatusCode::OK
    );
    assert_eq!(h.get(b, "/on/blocks:ff/accepted").status(), StatusCode::OK);
    assert_eq!(h.node.stats().subscriptions, 15);
}

#[test]
fn one_client_address_holds_at_most_its_share_of_sessions() {
    let mut h = Harness::with_config(|c| {
        c.with_limits(limits(|l| {
            l.max_sessions_per_client = 2;
            l.trusted_proxies = vec![ip("10.0.0.2")];
        }))
    });
    let none = HeaderMap::new();
    // The refusal is the core's response, as `handle_upgrade` returns it.
    #[allow(clippy::result_large_err)]
    let open = |h: &mut Harness, headers: &HeaderMap, peer: &str| {
        h.node
            .handle_upgrade(h.now, "/on", headers, Some(ip(peer)))
            .map(|s| s.id)
    };
    let first = open(&mut h, &none, "192.0.2.1").expect("1st");
    open(&mut h, &none, "192.0.2.1").expect("2nd");
    let refused = open(&mut h, &none, "192.0.2.1").expect_err("3rd refused");
    assert_error(
        &refused,
        StatusCode::TOO_MANY_REQUESTS,
        "this client address already holds the maximum of 2 sessions",
    );
    // Another address is not affected; an address without a peer neither.
    open(&mut h, &none, "192.0.2.9").expect("other address");
    h.node
        .handle_upgrade(h.now, "/on", &none, None)
        .expect("no address known");
    // Closing one frees a slot.
    h.node.handle_closed(first, rues_core::SocketEnd::Vanished);
    open(&mut h, &none, "192.0.2.1").expect("slot freed");

    // A forwarded address counts only through a trusted proxy.
    let forwarded = header_map(&[("x-forwarded-for", "203.0.113.5, 10.0.0.2")]);
    open(&mut h, &forwarded, "10.0.0.2").expect("client 203.0.113.5, 1st");
    open(&mut h, &forwarded, "10.0.0.2").expect("client 203.0.113.5, 2nd");
    open(&mut h, &forwarded, "10.0.0.2").expect_err("client 203.0.113.5, 3rd");
    let rfc = header_map(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")]);
    open(&mut h, &rfc, "10.0.0.2").expect("another client behind the proxy");
    // From an untrusted peer the header is ignored: the peer is the client.
    open(&mut h, &forwarded, "192.0.2.1").expect_err("192.0.2.1 is full");
}

#[test]
fn errors_quote_at_most_a_short_prefix_of_the_input() {
    let mut h = Harness::new();
    let huge = "x".repeat(64 * 1024);
    let response = h.post("/on/node/info", &[("rusk-version", &huge)], b"");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.body().len() < 1024,
        "{} bytes",
        response.body().len()
    );
}
