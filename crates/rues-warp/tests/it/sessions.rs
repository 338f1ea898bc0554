//! Sessions over a real WebSocket: id, limits, close codes, shutdown.

use std::time::Duration;

use rues_core::Limits;
use rues_core::http::{Method, StatusCode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, TestServer, http};

#[tokio::test]
async fn first_message_is_a_32_lowercase_hex_session_id() {
    let server = TestServer::start().await;
    let a = server.connect().await;
    let b = server.connect().await;
    for client in [&a, &b] {
        assert_eq!(client.session_text.len(), 32);
        assert!(
            client
                .session_text
                .chars()
                .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
        );
    }
    assert_ne!(a.session, b.session);
    server
        .wait_for("two sessions", |s| s.sessions_open == 2)
        .await;
}

#[tokio::test]
async fn session_path_with_trailing_slash_also_upgrades() {
    let server = TestServer::start().await;
    let client = Client::connect(&format!("ws://{}/on/", server.addr)).await;
    assert_eq!(client.session_text.len(), 32);
}

#[tokio::test]
async fn upgrade_on_any_other_path_is_404() {
    let server = TestServer::start().await;
    for path in ["/online", "/on/blocks/accepted", "/"] {
        let result = tokio_tungstenite::connect_async(format!("ws://{}{path}", server.addr)).await;
        match result {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            }
            other => panic!("{path}: expected a 404 refusal, got {other:?}"),
        }
    }
    assert_eq!(server.publisher.stats().sessions_opened, 0);
}

#[tokio::test]
async fn plain_get_on_the_session_path_asks_for_an_upgrade() {
    let server = TestServer::start().await;
    let answer = server.http(Method::GET, "/on", &[], b"").await;
    answer.assert_error(StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade");
}

#[tokio::test]
async fn session_limit_answers_503_and_recovers() {
    let server = TestServer::start_with(
        |c| {
            let mut limits = Limits::default();
            limits.max_sessions = 1;
            c.with_limits(limits)
        },
        |t| t,
    )
    .await;
    let mut first = server.connect().await;
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body = response.body().as_deref().unwrap_or_default();
            assert!(
                String::from_utf8_lossy(body).contains("session limit"),
                "{body:?}"
            );
        }
        other => panic!("expected 503, got {other:?}"),
    }
    first.send(Message::Close(None)).await;
    server
        .wait_for("the session to close", |s| s.sessions_open == 0)
        .await;
    server.connect().await;
}

#[tokio::test]
async fn client_close_is_echoed_and_releases_the_session() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    client
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Library(4321),
            reason: "bye".into(),
        })))
        .await;
    assert_eq!(client.close_code().await, Some(4321));
    server
        .wait_for("release", |s| s.sessions_open == 0 && s.subscriptions == 0)
        .await;
    // The id is dead.
    client
        .subscribe(&server, "/on/blocks/accepted")
        .await
        .assert_error(StatusCode::FAILED_DEPENDENCY, "unknown or closed");
}

#[tokio::test]
async fn vanished_client_is_cleaned_up() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    drop(client);
    server
        .wait_for("release", |s| s.sessions_open == 0 && s.subscriptions == 0)
        .await;
}

#[tokio::test]
async fn text_and_binary_frames_from_the_client_are_ignored() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(Message::text("")).await;
    client.send(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(server.publish("/on/blocks:a/accepted", b"{}"), 1);
    client.next_event().await;
}

#[tokio::test]
async fn client_ping_gets_a_pong_with_the_same_payload() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(Message::Ping(b"hello".to_vec().into())).await;
    loop {
        match tokio::time::timeout(
            crate::support::PATIENCE,
            futures_util::StreamExt::next(&mut client.ws),
        )
        .await
        {
            Ok(Some(Ok(Message::Pong(payload)))) => {
                assert_eq!(payload.as_ref(), b"hello");
                break;
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn inbound_frame_over_the_limit_closes_with_1009() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(Message::binary(vec![0u8; 64 * 1024 + 1])).await;
    assert_eq!(client.close_code().await, Some(1009));
    server.wait_for("release", |s| s.sessions_open == 0).await;
    assert_eq!(
        server
            .publisher
            .stats()
            .closed(rues_core::CloseReason::MessageTooBig),
        1
    );
}

#[tokio::test]
async fn server_pings_and_closes_silent_sessions_with_4001() {
    let server = TestServer::start_with(
        |c| {
            let mut limits = Limits::default();
            limits.ping_interval = Duration::from_millis(100);
            limits.idle_timeout = Duration::from_millis(400);
            c.with_limits(limits)
        },
        |t| t,
    )
    .await;
    // A raw client that never reads, so it never answers pings: tungstenite
    // answers pings only while reading.
    let (mut silent, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("upgraded");
    let mut alive = server.connect().await;
    // The live client reads (and so pongs) all along, and sees pings arrive.
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(900);
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut alive.ws)).await
    {
        if matches!(message, Message::Ping(_)) {
            pings += 1;
        }
    }
    assert!(pings >= 3, "only {pings} pings");
    // The silent one was closed with 4001.
    let mut code = None;
    while let Ok(Some(message)) = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut silent),
    )
    .await
    {
        let Ok(message) = message else { break };
        if let Message::Close(frame) = message {
            code = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(code, Some(4001));
    assert_eq!(
        server
            .publisher
            .stats()
            .closed(rues_core::CloseReason::IdleTimeout),
        1
    );
    assert_eq!(server.publisher.stats().sessions_open, 1);
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001_and_finishes_in_flight_dispatches() {
    let mut server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let addr = server.addr;
    let in_flight =
        tokio::spawn(async move { http(addr, Method::POST, "/on/node/slow", &[], b"").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(a.close_code().await, Some(1001));
    assert_eq!(b.close_code().await, Some(1001));
    let answer = in_flight.await.expect("no panic");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), b"done");
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
