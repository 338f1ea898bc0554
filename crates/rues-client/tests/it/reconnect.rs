//! Losing the session and opening a new one.

use std::time::Duration;

use rues_client::{Client, Error, Gap, ReconnectPolicy, StatusCode};

use crate::support::{
    TestServer, assert_ends, next, next_event, registry, registry_without_blocks, within,
};

fn fast() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(50))
        .max_delay(Duration::from_millis(200))
}

#[tokio::test]
async fn a_restarted_node_gets_the_subscriptions_back_and_the_gap_is_reported() {
    let mut server = TestServer::start().await;
    let addr = server.addr;
    let client = Client::builder(server.url())
        .reconnect_policy(fast())
        .connect()
        .await
        .expect("connected");
    let first = client.session_id();
    let mut every = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    let mut one = client
        .subscribe("blocks:aa/accepted")
        .await
        .expect("subscribed");
    server.publish("/on/blocks:aa/accepted", r#"{"before":true}"#);
    next_event(&mut every).await;
    next_event(&mut one).await;

    server.shutdown().await;
    // Published while no node runs: lost, and the gap says so.
    let server = TestServer::start_on(addr, registry()).await;
    server
        .wait_for("both subscriptions renewed", |s| s.subscriptions == 2)
        .await;

    for stream in [&mut every, &mut one] {
        match next(stream).await {
            Err(Gap::Reconnected {
                previous,
                session,
                cause,
            }) => {
                assert_eq!(previous, first);
                assert_ne!(session, first);
                assert_eq!(cause.close_code(), Some(1001), "{cause}");
            }
            other => panic!("expected the reconnect notice, got {other:?}"),
        }
    }
    assert!(client.is_connected());
    assert_ne!(client.session_id(), first);

    assert_eq!(
        server.publish("/on/blocks:aa/accepted", r#"{"after":true}"#),
        1
    );
    assert_eq!(
        next_event(&mut every).await.payload().as_ref(),
        br#"{"after":true}"#
    );
    assert_eq!(
        next_event(&mut one).await.payload().as_ref(),
        br#"{"after":true}"#
    );

    // Subscribing and unsubscribing work on the new session.
    let mut more = client.subscribe("contracts:c/x").await.expect("subscribed");
    server.publish("/on/contracts:c/x", "{}");
    next_event(&mut more).await;
    drop(one);
    server
        .wait_for("one dropped", |s| s.subscriptions == 2)
        .await;
}

#[tokio::test]
async fn a_path_the_new_node_refuses_ends_with_its_answer() {
    let mut server = TestServer::start().await;
    let addr = server.addr;
    let client = Client::builder(server.url())
        .reconnect_policy(fast())
        .connect()
        .await
        .expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    server.shutdown().await;
    let _server = TestServer::start_on(addr, registry_without_blocks()).await;
    assert!(matches!(
        next(&mut blocks).await,
        Err(Gap::Reconnected { .. })
    ));
    assert_ends(&mut blocks).await;
    let error = blocks.error().expect("ended by the node's refusal");
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND), "{error}");
    // The session itself is fine.
    assert!(client.is_connected());
    client.dispatch("node/info", ()).await.expect("a reply");
}

#[tokio::test]
async fn reconnecting_gives_up_after_the_policys_attempts() {
    let mut server = TestServer::start().await;
    let client = Client::builder(server.url())
        .reconnect_policy(fast().max_attempts(Some(2)))
        .connect()
        .await
        .expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    server.shutdown().await;
    assert_ends(&mut blocks).await;
    let error = blocks.error().expect("an error");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let closed = within("closed", client.closed()).await;
    assert!(matches!(closed, Some(Error::Connect { .. })), "{closed:?}");
}

#[tokio::test]
async fn subscribing_while_reconnecting_says_so_and_close_stops_it() {
    let mut server = TestServer::start().await;
    let client = Client::builder(server.url())
        .reconnect_policy(fast().initial_delay(Duration::from_secs(30)))
        .connect()
        .await
        .expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    server.shutdown().await;
    within("the session to drop", async {
        while client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let error = client.subscribe("blocks/accepted").await.expect_err("down");
    assert!(matches!(error, Error::Reconnecting), "{error:?}");
    // Unsubscribing while down sends nothing: the node forgot the old
    // session's subscriptions, and this one will not be renewed.
    client
        .unsubscribe("blocks:aa/accepted")
        .await
        .expect("nothing to do");
    within("close", client.close()).await;
    assert_ends(&mut blocks).await;
    assert!(blocks.error().is_none());
    assert!(client.closed().await.is_none());
}
