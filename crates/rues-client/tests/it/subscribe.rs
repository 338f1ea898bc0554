//! Subscribing, receiving, matching and unsubscribing.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rues_client::{Client, Error, Gap, StatusCode};
use rues_core::rues_target::EventPath;

use crate::support::{TestServer, assert_ends, assert_quiet, next, next_event};

const QUIET: Duration = Duration::from_millis(200);

#[tokio::test]
async fn subscribe_receives_decoded_events() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut blocks = client
        .subscribe("/on/blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(blocks.path().to_string(), "/on/blocks/accepted");
    assert_eq!(
        server.publish("/on/blocks:ab12/accepted", r#"{"header":{"height":7}}"#),
        1
    );
    let event = next_event(&mut blocks).await;
    assert_eq!(event.content_location(), "/on/blocks:ab12/accepted");
    assert_eq!(event.path().entity().map(|e| e.as_str()), Some("ab12"));
    assert_eq!(event.content_type(), Some("application/json"));
    assert_eq!(event.header("content-length"), Some("23"));
    assert!(event.is_json());
    let block: serde_json::Value = event.json().expect("JSON");
    assert_eq!(block["header"]["height"], 7);
    assert_eq!(event.payload().as_ref(), br#"{"header":{"height":7}}"#);
}

#[tokio::test]
async fn binary_payloads_and_extra_headers_arrive_as_sent() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    // A colon inside the entity travels encoded and comes back decoded.
    let mut transfers = client
        .subscribe("contracts:a%3Ab/Transfer")
        .await
        .expect("subscribed");
    let event = rues_core::Event::new(
        EventPath::parse("/on/contracts:a%3Ab/Transfer").expect("valid"),
        "application/octet-stream",
        Bytes::from_static(&[0, 159, 146, 150]),
    )
    .with_header("Rusk-Origin", "0300");
    assert_eq!(server.publish_event(event), 1);
    let event = next_event(&mut transfers).await;
    assert!(event.is_binary());
    assert!(!event.is_json());
    assert_eq!(event.payload().as_ref(), [0, 159, 146, 150]);
    assert_eq!(event.header("rusk-origin"), Some("0300"));
    assert_eq!(event.path().entity().map(|e| e.as_str()), Some("a:b"));
    // Topics are case-insensitive: lower-cased on parse (docs/protocol.md §3).
    assert_eq!(event.path().topic().as_str(), "transfer");
}

#[tokio::test]
async fn a_path_without_entity_matches_every_entity_and_one_with_only_its_own() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut every = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut one = client
        .subscribe("blocks:aa/accepted")
        .await
        .expect("subscribed");
    server
        .wait_for("two subscriptions", |s| s.subscriptions == 2)
        .await;

    // One session: the node sends each event once, the client routes it
    // to both streams.
    assert_eq!(server.publish("/on/blocks:aa/accepted", r#"{"n":1}"#), 1);
    assert_eq!(server.publish("/on/blocks:bb/accepted", r#"{"n":2}"#), 1);

    assert_eq!(
        next_event(&mut every).await.content_location(),
        "/on/blocks:aa/accepted"
    );
    assert_eq!(
        next_event(&mut every).await.content_location(),
        "/on/blocks:bb/accepted"
    );
    assert_eq!(
        next_event(&mut one).await.content_location(),
        "/on/blocks:aa/accepted"
    );
    assert_quiet(&mut one, QUIET).await;
    assert_quiet(&mut every, QUIET).await;
}

#[tokio::test]
async fn the_same_path_twice_shares_one_subscription_on_the_node() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut first = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut second = client
        .subscribe("/on/blocks/accepted/")
        .await
        .expect("subscribed");
    assert_eq!(server.publisher.stats().subscriptions, 1);
    server.publish("/on/blocks:aa/accepted", "{}");
    next_event(&mut first).await;
    next_event(&mut second).await;

    // Dropping one keeps the node's subscription for the other.
    drop(first);
    tokio::time::sleep(QUIET).await;
    assert_eq!(server.publisher.stats().subscriptions, 1);
    server.publish("/on/blocks:bb/accepted", "{}");
    next_event(&mut second).await;

    drop(second);
    server
        .wait_for("no subscription", |s| s.subscriptions == 0)
        .await;
}

#[tokio::test]
async fn unsubscribe_stops_the_events_and_ends_the_stream() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(server.publisher.stats().subscriptions, 1);
    blocks.unsubscribe().await.expect("unsubscribed");
    assert_eq!(server.publisher.stats().subscriptions, 0);
    assert_eq!(server.publish("/on/blocks:aa/accepted", "{}"), 0);
    assert!(client.is_connected());
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes_on_the_node() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    server.publish("/on/blocks:aa/accepted", "{}");
    // The "first event only" pattern: take one, drop the stream.
    next_event(&mut blocks).await;
    drop(blocks);
    server
        .wait_for("no subscription", |s| s.subscriptions == 0)
        .await;
    assert_eq!(server.publish("/on/blocks:bb/accepted", "{}"), 0);
}

#[tokio::test]
async fn client_unsubscribe_ends_every_stream_of_that_path() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut first = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut second = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut other = client
        .subscribe("blocks:aa/accepted")
        .await
        .expect("subscribed");
    client
        .unsubscribe("blocks/accepted")
        .await
        .expect("unsubscribed");
    assert_ends(&mut first).await;
    assert_ends(&mut second).await;
    assert!(first.error().is_none());
    assert_eq!(server.publisher.stats().subscriptions, 1);
    server.publish("/on/blocks:aa/accepted", "{}");
    next_event(&mut other).await;

    // Not subscribed: the node's 404 and message come back.
    let error = client
        .unsubscribe("blocks/accepted")
        .await
        .expect_err("not subscribed");
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert!(
        error.to_string().contains("Subscription not found"),
        "{error}"
    );
}

#[tokio::test]
async fn the_nodes_refusals_come_back_as_typed_errors() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    for (path, needle) in [
        ("nope/accepted", "nope"),
        ("blocks/rejected", "rejected"),
        ("contracts/anything", "entity"),
    ] {
        match client.subscribe(path).await {
            Err(Error::Status {
                status, message, ..
            }) => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {message}");
                assert!(
                    message.contains(needle),
                    "{path}: {message:?} lacks {needle:?}"
                );
            }
            other => panic!("{path}: expected a 404, got {other:?}"),
        }
    }
    // A refused subscription leaves nothing behind.
    assert_eq!(server.publisher.stats().subscriptions, 0);
}

#[tokio::test]
async fn an_invalid_path_is_refused_before_any_request() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    for path in [
        "blocks",
        "blocks:/accepted",
        "/on/a/b/c",
        "bl ocks/accepted",
    ] {
        let error = client.subscribe(path).await.expect_err(path);
        assert!(
            matches!(error, Error::InvalidPath { .. }),
            "{path}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_version_the_node_does_not_satisfy_is_a_400() {
    let server = TestServer::start().await;
    let client = Client::builder(server.url())
        .rusk_version("^9")
        .connect()
        .await
        .expect("the upgrade has no version check");
    let error = client.subscribe("blocks/accepted").await.expect_err("^9");
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(error.is_version_mismatch(), "{error}");
    assert!(error.to_string().contains("1.6.0"), "{error}");
    match error {
        Error::Status { node_version, .. } => assert_eq!(node_version.as_deref(), Some("1.6.0")),
        other => panic!("{other:?}"),
    }

    // A requirement that is not semver is the caller's error, found early.
    let error = Client::builder(server.url())
        .rusk_version("not a version")
        .connect()
        .await
        .expect_err("invalid requirement");
    assert!(matches!(error, Error::InvalidHeader { .. }), "{error:?}");
}

#[tokio::test]
async fn a_slow_stream_drops_its_own_events_and_says_how_many() {
    let server = TestServer::start().await;
    let client = Client::builder(server.url())
        .buffer(2)
        .connect()
        .await
        .expect("connected");
    let mut slow = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut marker = client
        .subscribe("contracts:m/done")
        .await
        .expect("subscribed");
    for _ in 0..5 {
        server.publish("/on/blocks:aa/accepted", "{}");
    }
    server.publish("/on/contracts:m/done", "{}");
    // Same socket, in order: once the marker is here, so are the five.
    next_event(&mut marker).await;

    next_event(&mut slow).await;
    next_event(&mut slow).await;
    match next(&mut slow).await {
        Err(Gap::Lagged { missed }) => assert_eq!(missed, 3),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    server.publish("/on/blocks:bb/accepted", "{}");
    assert_eq!(
        next_event(&mut slow).await.content_location(),
        "/on/blocks:bb/accepted"
    );
    // The session was never at risk.
    assert!(client.is_connected());
    assert!(futures_util::FutureExt::now_or_never(slow.next()).is_none());
}
