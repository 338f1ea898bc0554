//! HTTP requests over a real socket: every status code of docs/protocol.md §5,
//! CORS, access rules, header echo, body limits.

use rues_core::http::{Method, StatusCode};
use rues_core::{AccessRules, Limits, OriginPolicy};

use crate::support::TestServer;

const UNKNOWN: &str = "00000000000000000000000000000000";

#[tokio::test]
async fn every_status_code_of_the_protocol() {
    let server = TestServer::start_with(
        |c| {
            let mut limits = Limits::default();
            limits.max_subscriptions = 1;
            limits.max_body = 16;
            c.with_limits(limits)
                .with_access(AccessRules::parse(["DENY GET /on/blocks:denied/*"]).expect("rule"))
        },
        |t| t,
    )
    .await;
    let client = server.connect().await;
    let id = client.session_text.as_str();
    // 200: subscribe, and a JSON dispatch.
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    let info = server.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.header("content-type"), Some("application/json"));
    // 202: accepted with nothing to return.
    let accepted = server.http(Method::POST, "/on/node/accept", &[], b"").await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    assert!(accepted.body.is_empty());
    // 400: version.
    server
        .http(
            Method::GET,
            "/on/blocks/accepted",
            &[("rusk-version", "2")],
            b"",
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "does not satisfy");
    // 403: access rule.
    server
        .http(
            Method::GET,
            "/on/blocks:denied/accepted",
            &[("rusk-session-id", id)],
            b"",
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "DENY GET /on/blocks:denied/*");
    // 404: path, registry, subscription.
    server
        .http(Method::GET, "/on/nope/x", &[("rusk-session-id", id)], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown component");
    server
        .http(
            Method::GET,
            "/on/blocks/accepted/more",
            &[("rusk-session-id", id)],
            b"",
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "segment");
    client
        .unsubscribe(&server, "/on/blocks:zz/accepted")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Subscription not found");
    // 405: other methods.
    let put = server
        .http(Method::PUT, "/on/blocks/accepted", &[], b"")
        .await;
    put.assert_error(StatusCode::METHOD_NOT_ALLOWED, "PUT");
    assert_eq!(put.header("allow"), Some("GET, POST, DELETE, OPTIONS"));
    // 413: body over the limit.
    server
        .http(
            Method::POST,
            "/on/node/echo",
            &[("content-type", "application/octet-stream")],
            &[0u8; 17],
        )
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "exceeds 16 bytes");
    // 422: a body the handler cannot process.
    server
        .http(Method::POST, "/on/node/echo", &[], b"text")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "binary");
    server
        .http(Method::POST, "/on/node/echo", &[], &[0xff])
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "UTF-8");
    // 424: session missing, malformed, unknown.
    server
        .http(Method::GET, "/on/blocks/accepted", &[], b"")
        .await
        .assert_error(StatusCode::FAILED_DEPENDENCY, "Rusk-Session-Id");
    server
        .http(
            Method::GET,
            "/on/blocks/accepted",
            &[("rusk-session-id", UNKNOWN)],
            b"",
        )
        .await
        .assert_error(StatusCode::FAILED_DEPENDENCY, "unknown or closed");
    server
        .http(
            Method::POST,
            "/on/node/info",
            &[("rusk-session-id", "nope")],
            b"",
        )
        .await
        .assert_error(StatusCode::FAILED_DEPENDENCY, "not a valid session id");
    // 429: subscription limit.
    client
        .subscribe(&server, "/on/blocks:a/accepted")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "maximum of 1");
    // 404 for routes outside /on, with the version header too.
    server
        .http(Method::GET, "/elsewhere", &[], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "no such route");
}

#[tokio::test]
async fn binary_dispatch_round_trips_raw_or_as_hex() {
    let server = TestServer::start().await;
    let raw = server
        .http(
            Method::POST,
            "/on/node/echo",
            &[("content-type", "application/octet-stream")],
            &[0, 1, 254, 255],
        )
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.body.as_ref(), [0, 1, 254, 255]);
    assert_eq!(raw.header("content-type"), Some("application/octet-stream"));
    let hex = server
        .http(Method::POST, "/on/node/echo", &[], b"0x0001feff")
        .await;
    assert_eq!(hex.body.as_ref(), b"0001feff");
}

#[tokio::test]
async fn x_headers_are_echoed() {
    let server = TestServer::start().await;
    let answer = server
        .http(
            Method::POST,
            "/on/node/info",
            &[("x-correlation-id", "abc-123")],
            b"",
        )
        .await;
    assert_eq!(answer.header("x-correlation-id"), Some("abc-123"));
}

#[tokio::test]
async fn cors_preflight_from_a_foreign_origin_passes() {
    let server = TestServer::start().await;
    let answer = server
        .http(
            Method::OPTIONS,
            "/on/node/info",
            &[
                ("origin", "http://wallet.example:3000"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "rusk-version, rusk-session-id, content-type, x-trace",
                ),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    let headers = answer
        .header("access-control-allow-headers")
        .expect("allow-headers")
        .to_ascii_lowercase();
    for name in ["rusk-version", "rusk-session-id", "content-type", "x-trace"] {
        assert!(headers.contains(name), "{headers} lacks {name}");
    }
    let response = server
        .http(
            Method::POST,
            "/on/node/info",
            &[("origin", "http://wallet.example:3000")],
            b"",
        )
        .await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        response.header("access-control-expose-headers"),
        Some("Rusk-Version, Content-Type")
    );
}

#[tokio::test]
async fn disallowed_origins_get_403_on_upgrade_and_requests_without_cors_headers() {
    let server = TestServer::start_with(
        |c| c.with_origins(OriginPolicy::List(vec!["https://ok.example".into()])),
        |t| t,
    )
    .await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url(),
        )
        .expect("request");
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("valid"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let answer = server
        .http(
            Method::POST,
            "/on/node/info",
            &[("origin", "https://evil.example")],
            b"",
        )
        .await;
    answer.assert_error(StatusCode::FORBIDDEN, "origin not allowed");
    assert_eq!(answer.header("access-control-allow-origin"), None);
    let answer = server
        .http(
            Method::POST,
            "/on/node/info",
            &[("origin", "https://ok.example")],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    assert_eq!(answer.header("vary"), Some("Origin"));
}

#[tokio::test]
async fn access_rule_denies_subscribe_with_403_naming_the_rule() {
    let server = TestServer::start_with(
        |c| c.with_access(AccessRules::parse(["DENY GET /on/blocks:*/"]).expect("rule")),
        |t| t,
    )
    .await;
    let client = server.connect().await;
    client
        .subscribe(&server, "/on/blocks:ab/accepted")
        .await
        .assert_error(StatusCode::FORBIDDEN, "DENY GET /on/blocks:*/");
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_expose_core_and_transport_counters() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    server.publish("/on/blocks:a/accepted", b"{}");
    server.http(Method::POST, "/on/node/info", &[], b"").await;
    let metrics = server.http(Method::GET, "/metrics", &[], b"").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8(metrics.body.to_vec()).expect("text");
    let history_bytes: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("rues_history_bytes "))
        .and_then(|value| value.parse().ok())
        .expect("rues_history_bytes");
    assert!(history_bytes > 2.0, "the one frame kept: {history_bytes}");
    for needle in [
        "rues_sessions_open 1",
        "rues_subscriptions 1",
        "rues_events_published_total 1",
        "rues_sessions_closed_total{reason=\"slow_consumer\"} 0",
        "rues_requests_total{operation=\"dispatch\",status=\"200\"} 1",
        "rues_request_duration_seconds_count{operation=\"subscribe\"} 1",
        "rues_connections_accepted_total",
        "rues_history_events 1",
        "rues_history_streams 1",
        "rues_resumes_total{result=\"complete\"} 0",
        "rues_frames_replayed_total 0",
        "rues_gaps_published_total 0",
    ] {
        assert!(text.contains(needle), "metrics lack {needle:?}:\n{text}");
    }
}
