//! Dispatching: replies by content type, headers, sessions and errors.

use std::time::Duration;

use rues_client::{Body, Client, Dispatcher, Error, StatusCode};
use rues_core::Limits;

use crate::support::TestServer;

#[tokio::test]
async fn a_json_reply_parses_and_names_the_node_version() {
    let server = TestServer::start().await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let reply = node.dispatch("node/info", ()).await.expect("a reply");
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.is_json());
    assert_eq!(reply.node_version(), Some("1.6.0"));
    let info: serde_json::Value = reply.json().expect("JSON");
    assert_eq!(info["version"], "1.6.0");
    // No session was opened for it.
    assert_eq!(server.publisher.stats().sessions_opened, 0);
}

#[tokio::test]
async fn a_binary_reply_comes_raw() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let bytes = vec![0u8, 1, 2, 254, 255];
    let reply = client
        .dispatch("node/echo", bytes.clone())
        .await
        .expect("a reply");
    assert!(reply.is_binary());
    assert_eq!(reply.content_type(), Some("application/octet-stream"));
    assert_eq!(reply.body().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn a_hex_text_body_is_binary_to_the_node_and_the_reply_still_raw() {
    let server = TestServer::start().await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let reply = node.dispatch("node/echo", "0x01ff").await.expect("a reply");
    assert_eq!(reply.body().as_ref(), [0x01, 0xff]);
    // Asking for text gets the node's hex rendering instead.
    let reply = node
        .request("node/echo")
        .body(vec![0xab_u8])
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("a reply");
    // The request's own Content-Type (octet-stream) still asks for raw.
    assert_eq!(reply.body().as_ref(), [0xab]);
    let reply = node
        .request("node/echo")
        .body("0xab")
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("a reply");
    assert_eq!(reply.text(), Some("ab"));
}

#[tokio::test]
async fn text_and_accepted_replies() {
    let server = TestServer::start().await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let reply = node
        .dispatch("node/words", Body::Empty)
        .await
        .expect("a reply");
    assert_eq!(reply.text(), Some("plain words"));
    assert!(!reply.is_json() && !reply.is_binary());
    let reply = node
        .dispatch("node/accept", vec![1u8])
        .await
        .expect("a reply");
    assert_eq!(reply.status(), StatusCode::ACCEPTED);
    assert!(reply.body().is_empty());
}

#[tokio::test]
async fn x_headers_are_echoed_and_the_session_is_sent_when_asked() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let reply = client
        .request("node/whoami")
        .header("X-Request-Id", "42")
        .session(client.session_id())
        .send()
        .await
        .expect("a reply");
    assert_eq!(reply.header("x-request-id"), Some("42"));
    assert_eq!(reply.text(), Some(client.session_id().to_string().as_str()));
    // Without it, the dispatch is fire-and-forget.
    let reply = client.dispatch("node/whoami", ()).await.expect("a reply");
    assert_eq!(reply.text(), Some(""));
}

#[tokio::test]
async fn a_session_that_is_gone_is_a_424() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let old = client.session_id();
    client.close().await;
    server
        .wait_for("the session gone", |s| s.sessions_open == 0)
        .await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let error = node
        .request("node/whoami")
        .session(old)
        .send()
        .await
        .expect_err("closed session");
    assert_eq!(
        error.status(),
        Some(StatusCode::FAILED_DEPENDENCY),
        "{error}"
    );
}

#[tokio::test]
async fn error_statuses_carry_the_nodes_message() {
    let server = TestServer::start_with(
        |config| {
            let mut limits = Limits::default();
            limits.max_body = 1024;
            config.with_limits(limits)
        },
        |t| t,
    )
    .await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");

    let error = node.dispatch("nope/info", ()).await.expect_err("unknown");
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert!(error.to_string().starts_with("404 Not Found: "), "{error}");
    assert!(error.to_string().contains("nope"), "{error}");

    let error = node
        .dispatch("node/nothing", ())
        .await
        .expect_err("unknown topic");
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));

    let error = node
        .dispatch("node/echo", vec![0u8; 2048])
        .await
        .expect_err("too large");
    assert_eq!(
        error.status(),
        Some(StatusCode::PAYLOAD_TOO_LARGE),
        "{error}"
    );
    assert!(error.to_string().contains("1024"), "{error}");

    let error = node
        .dispatch(
            "node/echo",
            Body::json(&serde_json::json!({"a": 1})).expect("JSON"),
        )
        .await
        .expect_err("not binary");
    assert_eq!(error.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    match &error {
        Error::Status { message, .. } => assert_eq!(message, "echo takes binary"),
        other => panic!("{other:?}"),
    }

    let strict = rues_client::ClientBuilder::new(server.url())
        .rusk_version("^9")
        .dispatcher()
        .expect("a dispatcher");
    let error = strict.dispatch("node/info", ()).await.expect_err("^9");
    assert!(error.is_version_mismatch(), "{error}");

    // The default requirement is the one Dusk's clients send, and matches.
    let compat = rues_client::ClientBuilder::new(server.url())
        .strict_version(false)
        .dispatcher()
        .expect("a dispatcher");
    compat
        .dispatch("node/info", ())
        .await
        .expect("^1.0.0-rc.0 matches 1.6.0");
}

#[tokio::test]
async fn a_request_over_its_timeout_is_a_timeout_error() {
    let server = TestServer::start().await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let error = node
        .request("node/slow")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("too slow");
    match error {
        Error::Timeout { after, context } => {
            assert_eq!(after, Duration::from_millis(200));
            assert!(context.starts_with("POST http://"), "{context}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn an_invalid_header_is_the_callers_error() {
    let server = TestServer::start().await;
    let node = Dispatcher::new(&server.url()).expect("a dispatcher");
    let error = node
        .request("node/info")
        .header("bad header", "x")
        .send()
        .await
        .expect_err("invalid name");
    assert!(matches!(error, Error::InvalidHeader { .. }), "{error:?}");
}
