//! A feed: many paths, one stream, each event once; gap notices; streamed
//! dispatch answers.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rues_client::{Client, Feed, FeedControl, Gap, ReconnectPolicy, StatusCode};
use rues_core::rues_target::EventPath;

use crate::support::{TestServer, assert_ends, assert_quiet, next, next_event, registry, within};

const QUIET: Duration = Duration::from_millis(200);

fn payload_of(event: &rues_client::Event) -> String {
    String::from_utf8_lossy(event.payload()).into_owned()
}

/// A feed of `blocks/accepted` and `blocks:ab12/accepted`: one path
/// covers the other.
async fn overlapping_feed(client: &Client, buffer: usize) -> (FeedControl, Feed) {
    let (control, feed) = client.feed(buffer);
    control
        .subscribe("blocks/accepted")
        .await
        .expect("wildcard");
    control
        .subscribe("blocks:ab12/accepted")
        .await
        .expect("entity");
    (control, feed)
}

#[tokio::test]
async fn a_feed_gets_each_event_once_in_order_over_overlapping_paths() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let (control, mut feed) = overlapping_feed(&client, 64).await;
    // Adding a path twice is nothing new.
    control
        .subscribe("blocks:ab12/accepted")
        .await
        .expect("again");
    server
        .wait_for("two subscriptions", |s| s.subscriptions == 2)
        .await;
    // A subscription of the same client beside the feed gets its own copy.
    let mut alone = client.subscribe("blocks:ab12/accepted").await.expect("sub");

    for (n, entity) in ["ab12", "cd34", "ab12"].iter().enumerate() {
        assert_eq!(
            server.publish(&format!("/on/blocks:{entity}/accepted"), format!("{n}")),
            1
        );
    }
    for n in 0..3 {
        assert_eq!(payload_of(&next_event(&mut feed).await), n.to_string());
    }
    assert_quiet(&mut feed, QUIET).await;
    assert_eq!(payload_of(&next_event(&mut alone).await), "0");
    assert_eq!(payload_of(&next_event(&mut alone).await), "2");

    // Without the wildcard, only the entity is left.
    control
        .unsubscribe("blocks/accepted")
        .await
        .expect("unsubscribed");
    server
        .wait_for("the wildcard is gone", |s| s.subscriptions == 1)
        .await;
    server.publish("/on/blocks:cd34/accepted", "other");
    server.publish("/on/blocks:ab12/accepted", "mine");
    assert_eq!(payload_of(&next_event(&mut feed).await), "mine");
    assert_quiet(&mut feed, QUIET).await;
    // Removing a path the feed does not have is nothing.
    control
        .unsubscribe("blocks/statechange")
        .await
        .expect("nothing to do");
}

#[tokio::test]
async fn a_dropped_feed_leaves_nothing_on_the_node() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let (control, feed) = client.feed(8);
    control
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    control
        .subscribe("transactions/included")
        .await
        .expect("subscribed");
    // A path another subscription of the client holds stays on the node.
    let _kept = client.subscribe("blocks/accepted").await.expect("sub");
    server.wait_for("two paths", |s| s.subscriptions == 2).await;
    drop(feed);
    drop(control);
    server
        .wait_for("one path left", |s| s.subscriptions == 1)
        .await;
    assert!(client.is_connected());
}

#[tokio::test]
async fn a_gap_notice_reaches_everything_on_its_stream_once() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let (_control, mut feed) = overlapping_feed(&client, 8).await;
    let mut entity = client.subscribe("blocks:cd34/accepted").await.expect("sub");
    let mut elsewhere = client
        .subscribe("transactions/included")
        .await
        .expect("sub");

    // The node's own notice (what a relay sends when its upstream was lost).
    server
        .endpoint
        .cluster_port()
        .notify_gap(
            &EventPath::parse("/on/blocks/accepted").expect("valid"),
            "upstream lost",
        )
        .expect("sent");
    server.publish("/on/blocks:cd34/accepted", "after");

    for stream in [&mut feed] {
        match next(stream).await {
            Err(Gap::Lost { stream, reason }) => {
                assert_eq!(stream.to_string(), "/on/blocks/accepted");
                assert_eq!(reason, "upstream lost");
            }
            other => panic!("expected the node's gap notice, got {other:?}"),
        }
        assert_eq!(payload_of(&next_event(stream).await), "after");
    }
    assert!(matches!(next(&mut entity).await, Err(Gap::Lost { .. })));
    assert_eq!(payload_of(&next_event(&mut entity).await), "after");
    assert_quiet(&mut elsewhere, QUIET).await;
    // The notice's Display names the stream and the reason.
    let gap = Gap::Lost {
        stream: EventPath::parse("/on/blocks/accepted").expect("valid"),
        reason: "upstream lost".into(),
    };
    assert_eq!(
        gap.to_string(),
        "the node lost events of /on/blocks/accepted: upstream lost"
    );
}

#[tokio::test]
async fn a_feed_hears_of_a_reconnect_once_and_keeps_its_paths() {
    let mut server = TestServer::start().await;
    let addr = server.addr;
    let client = Client::builder(server.url())
        .reconnect_policy(
            ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(200)),
        )
        .connect()
        .await
        .expect("connected");
    let (control, mut feed) = client.feed(8);
    control
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    control
        .subscribe("blocks:aa/accepted")
        .await
        .expect("subscribed");
    server.shutdown().await;
    let server = TestServer::start_on(addr, registry()).await;
    server
        .wait_for("both renewed", |s| s.subscriptions == 2)
        .await;
    assert!(matches!(
        next(&mut feed).await,
        Err(Gap::Reconnected { .. })
    ));
    server.publish("/on/blocks:aa/accepted", "back");
    assert_eq!(payload_of(&next_event(&mut feed).await), "back");
    assert_quiet(&mut feed, QUIET).await;
    client.close().await;
    assert_ends(&mut feed).await;
}

#[tokio::test]
async fn a_streamed_answer_comes_chunk_by_chunk_and_errors_are_answers() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let reply = client
        .request("node/feed")
        .header("Rusk-Feeder", "1")
        .header("X-Trace", "t1")
        .body(Bytes::from_static(b"abc"))
        .send_streamed()
        .await
        .expect("answered");
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.is_chunked());
    assert_eq!(
        reply.headers().get("x-trace").map(|v| v.as_bytes()),
        Some(&b"t1"[..])
    );
    let chunks: Vec<Bytes> = within(
        "the chunks",
        reply.into_stream().map(|c| c.expect("chunk")).collect(),
    )
    .await;
    assert_eq!(chunks.concat(), b"abc");

    let whole = client
        .request("node/feed")
        .body(Bytes::from_static(b"abc"))
        .send_streamed()
        .await
        .expect("answered");
    assert!(!whole.is_chunked());

    let refused = client
        .request("node/nothing-here")
        .send_streamed()
        .await
        .expect("a 404 is an answer");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let body: Vec<Bytes> = within(
        "the body",
        refused.into_stream().map(|c| c.expect("chunk")).collect(),
    )
    .await;
    let body: serde_json::Value = serde_json::from_slice(&body.concat()).expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("nothing-here")),
        "{body}"
    );
}
