//! The version rule (docs/protocol.md §5): a semver requirement, caret by
//! default, strict mode, and the node's pre-release tag.

use http::{Method, StatusCode};

use crate::harness::{Harness, assert_error};

fn status(node_version: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut h = Harness::with_config(|mut c| {
        c.version = node_version.parse().expect("valid version");
        c
    });
    h.request(Method::POST, "/on/node/accept", headers, b"")
        .status()
}

/// (node version, request headers, expected status)
type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    StatusCode,
);

/// The version-rule table as the reference node (rusk) answers it, verified
/// against rusk and its clients (docs/protocol.md §5), plus the
/// strict-without-version row.
#[test]
fn version_rule_table() {
    let ok = StatusCode::ACCEPTED;
    let bad = StatusCode::BAD_REQUEST;
    let rows: &[Row] = &[
        ("1.6.0", &[], ok),
        ("1.6.0", &[("rusk-version", "1.0.0-rc.0")], ok),
        (
            "1.6.0",
            &[
                ("rusk-version", "1.0.0-rc.0"),
                ("rusk-version-strict", "true"),
            ],
            ok,
        ),
        ("1.6.0", &[("rusk-version", "2.0.0")], bad),
        ("1.6.0", &[("rusk-version", "0.8.0")], bad),
        ("1.6.0", &[("rusk-version", "=1.5.0")], bad),
        ("1.6.0", &[("rusk-version", "*")], ok),
        ("1.6.0", &[("rusk-version", "1")], ok),
        ("1.6.0", &[("rusk-version", "~1.6")], ok),
        ("1.6.0", &[("rusk-version", "")], bad),
        ("1.6.0-rc.1", &[("rusk-version", "1.6.0")], ok),
        (
            "1.6.0-rc.1",
            &[("rusk-version", "1.6.0"), ("rusk-version-strict", "1")],
            bad,
        ),
        (
            "1.6.0-rc.1",
            &[
                ("rusk-version", "1.0.0-rc.0"),
                ("rusk-version-strict", "yes"),
            ],
            bad,
        ),
        ("1.6.0", &[("rusk-version-strict", "true")], bad),
        ("1.6.0", &[("rusk-version-strict", "false")], ok),
        ("1.6.0", &[("rusk-version-strict", "0")], ok),
        ("1.6.0", &[("rusk-version-strict", "FALSE")], ok),
    ];
    for (node, headers, expected) in rows {
        assert_eq!(
            status(node, headers),
            *expected,
            "node {node}, headers {headers:?}"
        );
    }
}

#[test]
fn version_errors_explain_themselves() {
    let mut h = Harness::new();
    let response = h.post("/on/node/accept", &[("rusk-version-strict", "true")], b"");
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "required when Rusk-Version-Strict is set",
    );
    let response = h.post("/on/node/accept", &[("rusk-version", "a.b")], b"");
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "invalid Rusk-Version `a.b`",
    );
    let response = h.post("/on/node/accept", &[("rusk-version", "^2")], b"");
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "node version 1.6.0 does not satisfy the requested Rusk-Version ^2",
    );
}

#[test]
fn non_ascii_version_header_is_400() {
    let mut h = Harness::new();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "rusk-version",
        http::HeaderValue::from_bytes(&[0xc3, 0xa9]).expect("opaque bytes are allowed"),
    );
    let rues_core::Decision::Respond(response) =
        h.node
            .handle_request(&Method::GET, "/on/blocks/accepted", &headers)
    else {
        panic!("GET never reads a body");
    };
    assert_error(&response, StatusCode::BAD_REQUEST, "not valid ASCII");
}
