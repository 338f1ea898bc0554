//! Resume after a lost connection (docs/protocol.md §10): the client
//! renews each path from the last event it delivered, and the node replays
//! what it missed.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rues_client::{Client, Gap, ReconnectPolicy};

use crate::support::{CuttingProxy, TestServer, next_event, within};

fn fast() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
}

/// A node, a proxy that can cut the connections to it, and a client
/// through the proxy that reconnects fast.
async fn behind_a_proxy() -> (TestServer, CuttingProxy, Client) {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let client = Client::builder(proxy.url())
        .reconnect_policy(fast())
        .connect()
        .await
        .expect("connected");
    (server, proxy, client)
}

fn number(event: &rues_client::Event) -> u64 {
    std::str::from_utf8(event.payload())
        .expect("text")
        .parse()
        .expect("a number")
}

/// Reads `stream` until the event numbered `last`, failing on any gap.
async fn numbers_until<S>(stream: &mut S, last: u64) -> Vec<u64>
where
    S: futures_util::Stream<Item = Result<rues_client::Event, Gap>> + Unpin,
{
    let mut seen = Vec::new();
    within("every event", async {
        while seen.last() != Some(&last) {
            match stream.next().await {
                Some(Ok(event)) => seen.push(number(&event)),
                Some(Err(gap)) => panic!("a gap after {:?}: {gap}", seen.last()),
                None => panic!("the stream ended after {:?}", seen.last()),
            }
        }
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_stream_is_resumed_with_no_loss_and_no_duplicate() {
    const EVENTS: u64 = 400;
    let (server, proxy, client) = behind_a_proxy().await;
    let first_session = client.session_id();
    // Overlapping paths on one stream, as subscriptions and as a feed.
    let mut every = client.subscribe("blocks/accepted").await.expect("sub");
    let mut odd = client.subscribe("blocks:0b/accepted").await.expect("sub");
    let (control, mut feed) = client.feed(1024);
    control.subscribe("blocks/accepted").await.expect("feed");
    control.subscribe("blocks:0b/accepted").await.expect("feed");
    // One event first: something to resume from.
    server.publish("/on/blocks:0a/accepted", "0");
    assert_eq!(number(&next_event(&mut every).await), 0);
    assert_eq!(number(&next_event(&mut feed).await), 0);

    let publisher = server.publisher.clone();
    let publishing = tokio::spawn(async move {
        for n in 1..EVENTS {
            let entity = if n % 2 == 1 { "0b" } else { "0a" };
            let event = rues_core::Event::new(
                rues_core::rues_target::EventPath::parse(&format!("/on/blocks:{entity}/accepted"))
                    .expect("valid"),
                "text/plain",
                rues_client::Bytes::from(n.to_string()),
            );
            publisher.publish(&event).expect("published");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    // Cut twice while events flow.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        proxy.cut();
    }
    let every_seen = numbers_until(&mut every, EVENTS - 1).await;
    let odd_seen = numbers_until(&mut odd, EVENTS - 1).await;
    let feed_seen = numbers_until(&mut feed, EVENTS - 1).await;
    publishing.await.expect("published all");

    assert_ne!(client.session_id(), first_session, "the connection was cut");
    assert_eq!(every_seen, (1..EVENTS).collect::<Vec<_>>());
    assert_eq!(
        odd_seen,
        (1..EVENTS).filter(|n| n % 2 == 1).collect::<Vec<_>>()
    );
    assert_eq!(feed_seen, (1..EVENTS).collect::<Vec<_>>());
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for n in &feed_seen {
        *counts.entry(*n).or_default() += 1;
    }
    assert!(counts.values().all(|&c| c == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_that_no_longer_reaches_back_is_a_gap_with_the_lost_numbers() {
    // A history of 5 events per stream, and 20 published while cut off.
    let server = TestServer::builder()
        .config(|config| {
            config.with_history(rues_core::HistoryLimits::default().per_stream(5, 1 << 20))
        })
        .start()
        .await;
    let proxy = CuttingProxy::start(server.addr).await;
    let client = Client::builder(proxy.url())
        .reconnect_policy(
            ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(300))
                .max_delay(Duration::from_millis(300)),
        )
        .connect()
        .await
        .expect("connected");
    let mut every = client.subscribe("blocks/accepted").await.expect("sub");
    server.publish("/on/blocks:0a/accepted", "1");
    assert_eq!(number(&next_event(&mut every).await), 1);
    proxy.cut();
    server
        .wait_for("the cut session gone", |stats| stats.sessions_open == 0)
        .await;
    for n in 2..=21 {
        server.publish("/on/blocks:0a/accepted", n.to_string());
    }
    match within("the gap", every.next()).await {
        Some(Err(Gap::Missed { path, first, last })) => {
            assert_eq!(path.to_string(), "/on/blocks/accepted");
            assert_eq!((first, last), (2, 16));
        }
        other => panic!("expected the lost range, got {other:?}"),
    }
    for n in 17..=21 {
        assert_eq!(number(&next_event(&mut every).await), n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_notice_heard_live_is_not_reported_again_on_resume() {
    let (server, proxy, client) = behind_a_proxy().await;
    let mut every = client.subscribe("blocks/accepted").await.expect("sub");
    server.publish("/on/blocks:0a/accepted", "1");
    assert_eq!(number(&next_event(&mut every).await), 1);
    let stream = rues_core::rues_target::EventPath::parse("/on/blocks/accepted").expect("valid");
    server
        .endpoint
        .cluster_port()
        .notify_gap(&stream, "upstream lost")
        .expect("sent");
    assert!(matches!(
        within("the notice", every.next()).await,
        Some(Err(Gap::Lost { .. }))
    ));
    proxy.cut();
    server
        .wait_for("the cut session gone", |stats| stats.sessions_open == 0)
        .await;
    // Number 2 was the hole; 3 and 4 come while cut off.
    server.publish("/on/blocks:0a/accepted", "3");
    server.publish("/on/blocks:0a/accepted", "4");
    // Resumed from the notice: 3 and 4 replayed, nothing reported twice.
    assert_eq!(numbers_until(&mut every, 4).await, [3, 4]);
}
