//! Opening, closing and losing sessions.

use std::time::Duration;

use rues_client::{Client, Error, StatusCode};
use rues_core::{CloseReason, Limits};

use crate::support::{TestServer, assert_ends, next_event, within};

#[tokio::test]
async fn connect_reads_the_session_id() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let id = client.session_id().to_string();
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert!(client.is_connected());
    assert_eq!(client.url(), server.url());
    server
        .wait_for("one session", |s| s.sessions_open == 1)
        .await;
}

#[tokio::test]
async fn connect_takes_ws_urls_and_the_address_rues_serve_prints() {
    let server = TestServer::start().await;
    for url in [
        format!("ws://{}/on", server.addr),
        format!("http://{}/on/", server.addr),
        format!("ws://{}", server.addr),
    ] {
        let client = Client::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut blocks = client
            .subscribe("blocks/accepted")
            .await
            .expect("subscribed");
        assert_eq!(server.publish("/on/blocks:aa/accepted", "{}"), 1);
        next_event(&mut blocks).await;
        client.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_node_is_a_connect_error() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
        listener.local_addr().expect("an address").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let error = Client::connect(&url).await.expect_err("nothing listens");
    match &error {
        Error::Connect {
            url: at, reason, ..
        } => {
            assert_eq!(at, &url);
            assert_eq!(reason, "connection refused");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        format!("cannot connect to {url}: connection refused")
    );
}

#[tokio::test]
async fn a_bad_url_is_refused_before_connecting() {
    for url in ["127.0.0.1:8080", "ftp://127.0.0.1", "http://"] {
        let error = Client::connect(url).await.expect_err(url);
        assert!(
            matches!(error, Error::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_upgrade_carries_the_nodes_status_and_message() {
    let server = TestServer::start_with(
        |config| {
            let mut limits = Limits::default();
            limits.max_sessions = 1;
            config.with_limits(limits)
        },
        |t| t,
    )
    .await;
    let _first = Client::connect(&server.url()).await.expect("connected");
    let error = Client::connect(&server.url())
        .await
        .expect_err("over the limit");
    match &error {
        Error::Status {
            status,
            message,
            node_version,
        } => {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(!message.is_empty());
            assert_eq!(node_version.as_deref(), Some("1.6.0"));
        }
        other => panic!("expected a 503, got {other:?}"),
    }
}

#[tokio::test]
async fn close_ends_the_session_and_every_stream_without_error() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    within("close", client.close()).await;
    assert!(!client.is_connected());
    assert_ends(&mut blocks).await;
    assert!(blocks.error().is_none());
    assert!(client.closed().await.is_none());
    server
        .wait_for("the session closed by the client", |s| {
            s.sessions_open == 0 && s.closed(CloseReason::ClientClosed) == 1 && s.subscriptions == 0
        })
        .await;
    let error = client
        .subscribe("blocks/accepted")
        .await
        .expect_err("closed");
    assert!(matches!(error, Error::Closed), "{error:?}");
    // Closing twice is harmless.
    within("a second close", client.close()).await;
}

#[tokio::test]
async fn dropping_every_handle_closes_the_session() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    drop(client);
    // The subscription keeps the session alive...
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.publisher.stats().sessions_open, 1);
    // ...until it goes too.
    drop(blocks);
    server
        .wait_for("the session to close", |s| s.sessions_open == 0)
        .await;
}

#[tokio::test]
async fn node_shutdown_ends_the_streams_with_close_code_1001() {
    let mut server = TestServer::start().await;
    let client = Client::connect(&server.url()).await.expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    server.shutdown().await;
    assert_ends(&mut blocks).await;
    let error = blocks.error().expect("ended by an error");
    assert_eq!(error.close_code(), Some(1001), "{error}");
    assert!(error.to_string().contains("shutting down"), "{error}");
    let closed = within("closed", client.closed()).await.expect("an error");
    assert_eq!(closed.close_code(), Some(1001));
    let error = client
        .subscribe("blocks/accepted")
        .await
        .expect_err("ended");
    assert_eq!(error.close_code(), Some(1001));
}

#[tokio::test]
async fn the_client_answers_node_pings_so_the_session_stays_open() {
    let server = TestServer::start_with(
        |config| {
            let mut limits = Limits::default();
            limits.ping_interval = Duration::from_millis(200);
            limits.idle_timeout = Duration::from_millis(1500);
            config.with_limits(limits)
        },
        |t| t,
    )
    .await;
    // No client pings: only the answers to the node's keep the session.
    let client = Client::builder(server.url())
        .keep_alive(None)
        .connect()
        .await
        .expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    // Over two idle timeouts: only pongs can have kept the session.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        client.is_connected(),
        "closed: {:?}; node: {:?}",
        blocks.error(),
        server.publisher.stats()
    );
    assert_eq!(server.publish("/on/blocks:aa/accepted", "{}"), 1);
    next_event(&mut blocks).await;
    assert_eq!(server.publisher.stats().closed(CloseReason::IdleTimeout), 0);
}
