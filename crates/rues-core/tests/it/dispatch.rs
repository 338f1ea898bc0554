//! docs/protocol.md §5.2 (dispatch) and §5.3 (CORS): the check order, body
//! decoding, reply encoding, header echo and preflight.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, StatusCode};
use rues_core::futures_core::Stream;
use rues_core::{
    AccessRules, Answer, ComponentSpec, Config, EntityRule, HandlerError, Limits, Node,
    OriginPolicy, Registry, Reply, SeededIds, SocketEnd,
};
use rues_target::{Component, Topic};

use crate::harness::{
    Harness, NODE_VERSION, assert_empty, assert_error, block_on, body_text, collect, header,
};

const UNKNOWN_SESSION: &str = "00000000000000000000000000000000";

#[test]
fn version_is_400_before_bad_path() {
    let mut h = Harness::new();
    let response = h.post("/on/nope/x", &[("rusk-version", "3")], b"");
    assert_error(&response, StatusCode::BAD_REQUEST, "does not satisfy");
}

#[test]
fn path_or_registry_is_404_before_bad_session() {
    let mut h = Harness::new();
    let bad_session = [("rusk-session-id", "xyz")];
    assert_error(
        &h.post("/on/nope/x", &bad_session, b""),
        StatusCode::NOT_FOUND,
        "unknown component",
    );
    assert_error(
        &h.post("/on/on/x/y/z", &bad_session, b""),
        StatusCode::NOT_FOUND,
        "segment",
    );
    // A known event topic without a handler cannot be dispatched to.
    assert_error(
        &h.post("/on/blocks/accepted", &bad_session, b""),
        StatusCode::NOT_FOUND,
        "no dispatch handler",
    );
    assert_error(
        &h.post("/on/node/missing", &bad_session, b""),
        StatusCode::NOT_FOUND,
        "unknown topic",
    );
}

#[test]
fn session_is_optional_but_when_present_must_be_valid_and_live_before_access() {
    let mut h = Harness::with_config(|c| {
        c.with_access(AccessRules::parse(["DENY POST /on/node/"]).expect("rule"))
    });
    assert_error(
        &h.post("/on/node/info", &[("rusk-session-id", "xyz")], b""),
        StatusCode::FAILED_DEPENDENCY,
        "not a valid session id",
    );
    assert_error(
        &h.post(
            "/on/node/info",
            &[("rusk-session-id", UNKNOWN_SESSION)],
            b"",
        ),
        StatusCode::FAILED_DEPENDENCY,
        "unknown or closed",
    );
    let session = h.open();
    h.node.handle_closed(session, SocketEnd::Vanished);
    let id = session.to_string();
    assert_error(
        &h.post("/on/node/info", &[("rusk-session-id", &id)], b""),
        StatusCode::FAILED_DEPENDENCY,
        "unknown or closed",
    );
}

#[test]
fn access_rule_is_403_before_body_limit() {
    let mut h = Harness::with_config(|c| {
        let mut limits = Limits::default();
        limits.max_body = 4;
        c.with_access(AccessRules::parse(["DENY POST /on/node/"]).expect("rule"))
            .with_limits(limits)
    });
    let session = h.open();
    let id = session.to_string();
    let response = h.post(
        "/on/node/info",
        &[("rusk-session-id", &id), ("content-length", "100")],
        b"",
    );
    assert_error(&response, StatusCode::FORBIDDEN, "DENY POST /on/node/");
    // Subscribing is not covered by a POST rule.
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
}

#[test]
fn body_over_the_limit_is_413_from_the_announced_length_or_the_bytes() {
    let mut h = Harness::with_config(|c| {
        let mut limits = Limits::default();
        limits.max_body = 4;
        c.with_limits(limits)
    });
    let response = h.post("/on/node/info", &[("content-length", "5")], b"");
    assert_error(&response, StatusCode::PAYLOAD_TOO_LARGE, "exceeds 4 bytes");
    let response = h.post("/on/node/info", &[], b"12345");
    assert_error(&response, StatusCode::PAYLOAD_TOO_LARGE, "exceeds 4 bytes");
    let response = h.post("/on/node/text", &[], b"1234");
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn json_reply_is_200_with_content_type_and_version() {
    let mut h = Harness::new();
    let response = h.post("/on/node/info", &[], b"");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "rusk-version"), Some("1.6.0"));
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
    assert_eq!(body["version"], "1.6.0");
}

#[test]
fn binary_reply_is_hex_text_unless_binary_is_asked_for() {
    let mut h = Harness::new();
    let response = h.post("/on/node/crs", &[], b"");
    assert_eq!(body_text(&response), "deadbeef");
    assert_eq!(
        header(&response, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    for asks_binary in [
        [("content-type", "application/octet-stream")],
        [("accept", "application/octet-stream")],
        [("accept", "text/html, Application/Octet-Stream;q=0.9")],
    ] {
        let response = h.post("/on/node/crs", &asks_binary, b"");
        assert_eq!(response.body().as_ref(), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            header(&response, "content-type"),
            Some("application/octet-stream")
        );
    }
}

#[test]
fn body_is_raw_for_octet_stream_hex_decoded_for_0x_text_and_text_otherwise() {
    let mut h = Harness::new();
    let binary = [("content-type", "application/octet-stream")];
    assert_eq!(
        body_text(&h.post("/on/node/text", &binary, b"0xabcd")),
        "binary:6"
    );
    assert_eq!(
        body_text(&h.post("/on/node/text", &[], b"0xabcd")),
        "binary:2"
    );
    assert_eq!(
        body_text(&h.post("/on/node/text", &[("content-type", "text/plain")], b"hello")),
        "text:hello"
    );
    // Binary in, binary out, raw because the request was octet-stream.
    let response = h.post("/on/contracts:c/fn", &binary, &[0, 1, 255]);
    assert_eq!(response.body().as_ref(), [0, 1, 255]);
}

#[test]
fn undecodable_bodies_are_422() {
    let mut h = Harness::new();
    assert_error(
        &h.post("/on/node/text", &[], &[0xff, 0xfe]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not UTF-8",
    );
    assert_error(
        &h.post("/on/node/text", &[], b"0xabc"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not hex",
    );
    assert_error(
        &h.post("/on/node/text", &[], b"0xzz"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not hex",
    );
    // The handler's own refusal of a content type it cannot process.
    assert_error(
        &h.post("/on/transactions/propagate", &[], b"hello"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "binary",
    );
}

#[test]
fn accepted_is_202_empty() {
    let mut h = Harness::new();
    assert_empty(&h.post("/on/node/accept", &[], b""), StatusCode::ACCEPTED);
    let response = h.post(
        "/on/transactions/propagate",
        &[("content-type", "application/octet-stream")],
        b"tx",
    );
    assert_empty(&response, StatusCode::ACCEPTED);
}

#[test]
fn handler_errors_map_to_their_status() {
    let mut h = Harness::new();
    assert_error(
        &h.post("/on/node/reject", &[], b""),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not a transaction",
    );
    assert_error(
        &h.post("/on/node/broken", &[], b""),
        StatusCode::INTERNAL_SERVER_ERROR,
        "database unavailable",
    );
}

#[test]
fn rusk_feeder_reaches_the_handler_whose_stream_has_the_head_of_a_whole_reply() {
    let mut h = Harness::new();
    let whole = h.answer(Method::POST, "/on/node/feed", &[], b"abc");
    assert!(matches!(whole, Answer::Whole(_)), "{whole:?}");
    let headers = [
        ("rusk-feeder", ""),
        ("x-request-id", "7"),
        ("origin", "https://wallet.example"),
    ];
    let streamed = h.answer(Method::POST, "/on/node/feed", &headers, b"abc");
    assert!(matches!(streamed, Answer::Stream(_)), "{streamed:?}");
    assert_eq!(streamed.status(), StatusCode::OK);
    let head = |name: &str| streamed.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(head("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(head("rusk-version"), Some(NODE_VERSION));
    assert_eq!(head("x-request-id"), Some("7"));
    assert_eq!(head("access-control-allow-origin"), Some("*"));
    // The length is not known before the end.
    assert_eq!(head("content-length"), None);
    assert_eq!(body_text(&collect(streamed)), "616263");
}

#[test]
fn streamed_bytes_are_raw_for_a_binary_caller_and_hex_otherwise() {
    let mut h = Harness::new();
    let bytes = [0x00, 0xff, 0x10];
    // `0x` text is decoded, so every request sends the same three bytes.
    let hex = h.post("/on/node/feed", &[("rusk-feeder", "1")], b"0x00ff10");
    assert_eq!(
        header(&hex, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(body_text(&hex), "00ff10");
    let accept = [("rusk-feeder", "1"), ("accept", "application/octet-stream")];
    let binary = [
        h.post("/on/node/feed", &accept, b"0x00ff10"),
        h.post(
            "/on/node/feed",
            &[
                ("rusk-feeder", "1"),
                ("content-type", "application/octet-stream"),
            ],
            &bytes,
        ),
    ];
    for response in binary {
        assert_eq!(
            header(&response, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(response.body().as_ref(), bytes);
    }
}

#[test]
fn streamed_json_is_one_array_the_same_as_the_whole_reply() {
    let mut h = Harness::new();
    let binary = ("content-type", "application/octet-stream");
    let streamed = h.post(
        "/on/node/feed-json",
        &[("rusk-feeder", ""), binary],
        &[1, 2, 3],
    );
    assert_eq!(header(&streamed, "content-type"), Some("application/json"));
    assert_eq!(body_text(&streamed), "[1,2,3]");
    let whole = h.post("/on/node/feed-json", &[binary], &[1, 2, 3]);
    assert_eq!(whole.body(), streamed.body());
    let empty = h.post("/on/node/feed-json", &[("rusk-feeder", "")], b"");
    assert_eq!(body_text(&empty), "[]");
}

/// A stream that never yields anything.
struct Nothing;

impl Stream for Nothing {
    type Item = Result<Bytes, HandlerError>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(None)
    }
}

#[test]
fn a_blocking_handler_cannot_stream_and_answers_500() {
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new("prover").expect("valid"))
            .entity(EntityRule::Forbidden)
            .blocking_handler(Topic::new("prove").expect("valid"), |_request| {
                Ok(Reply::binary_stream(Nothing))
            }),
    );
    let config = Config::new(NODE_VERSION.parse().expect("valid version"));
    let mut node = Node::new(config, registry, SeededIds::new(1));
    let rues_core::Decision::ReadBody(ticket) =
        node.handle_request(&Method::POST, "/on/prover/prove", &http::HeaderMap::new())
    else {
        panic!("a dispatch reads its body")
    };
    let call = ticket.with_body(Bytes::new()).expect("an empty body");
    assert_error(
        &collect(block_on(call.run())),
        StatusCode::INTERNAL_SERVER_ERROR,
        "cannot stream",
    );
}

#[test]
fn x_headers_are_echoed_on_every_response() {
    let mut h = Harness::new();
    let headers = [("x-request-id", "42"), ("X-Trace", "a"), ("other", "no")];
    for response in [
        h.post("/on/node/info", &headers, b""),
        h.post("/on/nope/x", &headers, b""),
        h.request(Method::GET, "/on/blocks/accepted", &headers, b""),
    ] {
        assert_eq!(header(&response, "x-request-id"), Some("42"));
        assert_eq!(header(&response, "x-trace"), Some("a"));
        assert_eq!(header(&response, "other"), None);
    }
}

#[test]
fn preflight_from_any_origin_allows_rues_headers_and_requested_x_headers() {
    let mut h = Harness::new();
    let response = h.request(
        Method::OPTIONS,
        "/on/node/info",
        &[
            ("origin", "https://wallet.example"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "rusk-version, x-request-id, content-type",
            ),
        ],
        b"",
    );
    assert_empty(&response, StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    let allowed = header(&response, "access-control-allow-headers").expect("allow-headers");
    for name in [
        "Rusk-Version",
        "Rusk-Version-Strict",
        "Rusk-Session-Id",
        "Rusk-Feeder",
        "Content-Type",
        "Accept",
        "x-request-id",
    ] {
        assert!(allowed.contains(name), "{allowed} lacks {name}");
    }
    assert_eq!(header(&response, "access-control-max-age"), Some("7200"));
}

#[test]
fn listed_origins_get_their_origin_echoed_with_vary_and_others_get_403_without_cors() {
    let mut h = Harness::with_config(|c| {
        c.with_origins(OriginPolicy::List(vec!["https://wallet.example".into()]))
    });
    let preflight = [
        ("origin", "https://wallet.example"),
        ("access-control-request-method", "GET"),
    ];
    let response = h.request(Method::OPTIONS, "/on/blocks/accepted", &preflight, b"");
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://wallet.example")
    );
    assert_eq!(header(&response, "vary"), Some("Origin"));

    let response = h.post(
        "/on/node/info",
        &[("origin", "https://wallet.example"), ("x-id", "1")],
        b"",
    );
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://wallet.example")
    );
    assert_eq!(
        header(&response, "access-control-expose-headers"),
        Some("Rusk-Version, Content-Type, x-id")
    );

    for method in [Method::OPTIONS, Method::GET, Method::POST] {
        let response = h.request(
            method,
            "/on/node/info",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            b"",
        );
        assert_error(&response, StatusCode::FORBIDDEN, "origin not allowed");
        assert_eq!(header(&response, "access-control-allow-origin"), None);
    }
    let refused = h.node.handle_upgrade(
        h.now,
        "/on",
        &crate::harness::header_map(&[("origin", "https://evil.example")]),
        None,
    );
    let response = refused.expect_err("origin refused");
    assert_error(&response, StatusCode::FORBIDDEN, "origin not allowed");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[test]
fn plain_options_without_cors_headers_is_204_with_allow() {
    let mut h = Harness::new();
    let response = h.request(Method::OPTIONS, "/on/node/info", &[], b"");
    assert_empty(&response, StatusCode::NO_CONTENT);
    assert_eq!(
        header(&response, "allow"),
        Some("GET, POST, DELETE, OPTIONS")
    );
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[test]
fn requests_without_origin_get_no_cors_headers() {
    let mut h = Harness::new();
    let response = h.post("/on/node/info", &[], b"");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let response = h.post("/on/node/info", &[("origin", "https://a.example")], b"");
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        header(&response, "access-control-expose-headers"),
        Some("Rusk-Version, Content-Type")
    );
}
