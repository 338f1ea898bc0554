//! Events over a real socket: frame headers, matching, once-only delivery,
//! unsubscribe, slow consumers.

use std::time::Duration;

use bytes::Bytes;
use rues_core::Event;
use rues_core::http::StatusCode;
use rues_core::rues_target::EventPath;

use crate::support::TestServer;

#[tokio::test]
async fn subscribed_session_receives_frames_with_location_type_and_length() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let answer = client.subscribe(&server, "/on/blocks/accepted").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("rusk-version"), Some("1.6.0"));
    assert_eq!(
        server.publish("/on/blocks:ab12/accepted", br#"{"height":7}"#),
        1
    );
    let frame = client.next_event().await;
    assert_eq!(frame.content_location(), Some("/on/blocks:ab12/accepted"));
    assert_eq!(frame.content_type(), Some("application/json"));
    assert_eq!(frame.content_length(), Some(12));
    assert_eq!(frame.payload().as_ref(), br#"{"height":7}"#);
}

#[tokio::test]
async fn wildcard_and_entity_subscriptions_deliver_once_each() {
    let server = TestServer::start().await;
    let mut both = server.connect().await;
    let mut only_b = server.connect().await;
    for path in ["/on/blocks/accepted", "/on/blocks:a/accepted"] {
        assert_eq!(both.subscribe(&server, path).await.status, StatusCode::OK);
    }
    assert_eq!(
        only_b
            .subscribe(&server, "/on/blocks:b/accepted")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(server.publish("/on/blocks:a/accepted", b"1"), 1);
    assert_eq!(server.publish("/on/blocks:b/accepted", b"2"), 2);
    assert_eq!(both.next_event().await.payload().as_ref(), b"1");
    assert_eq!(both.next_event().await.payload().as_ref(), b"2");
    assert_eq!(only_b.next_event().await.payload().as_ref(), b"2");
    both.assert_quiet(Duration::from_millis(200)).await;
    only_b.assert_quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_is_404_the_second_time() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        client
            .unsubscribe(&server, "/on/blocks/accepted/")
            .await
            .status,
        StatusCode::OK
    );
    client
        .unsubscribe(&server, "/on/blocks/accepted")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Subscription not found");
    assert_eq!(server.publish("/on/blocks:a/accepted", b"x"), 0);
    client.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn events_arrive_in_publish_order() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
    let publisher = server.publisher.clone();
    let path = EventPath::parse("/on/blocks:a/accepted").expect("valid");
    for i in 0..500u32 {
        let event = Event::new(
            path.clone(),
            "application/octet-stream",
            Bytes::copy_from_slice(&i.to_le_bytes()),
        );
        publisher.publish(&event).expect("published");
    }
    for i in 0..500u32 {
        assert_eq!(
            client.next_event().await.payload().as_ref(),
            i.to_le_bytes()
        );
    }
}

#[tokio::test]
async fn slow_consumer_is_closed_with_4008_while_another_keeps_receiving() {
    let server = TestServer::start().await;
    let mut slow = server.connect().await;
    let mut fast = server.connect().await;
    for client in [&slow, &fast] {
        assert_eq!(
            client
                .subscribe(&server, "/on/blocks/accepted")
                .await
                .status,
            StatusCode::OK
        );
    }
    let publisher = server.publisher.clone();
    let path = EventPath::parse("/on/blocks:a/accepted").expect("valid");
    let payload = Bytes::from(vec![0u8; 16 * 1024]);
    // The slow client reads nothing while events flow; the fast one reads
    // everything. Publish until the core gives up on the slow one: its queue
    // budget is 1 MiB, plus what the kernel's socket buffers absorb.
    let mut received = 0usize;
    let mut published = 0usize;
    while publisher
        .stats()
        .closed(rues_core::CloseReason::SlowConsumer)
        == 0
    {
        let event = Event::new(path.clone(), "application/octet-stream", payload.clone());
        publisher.publish(&event).expect("published");
        published += 1;
        fast.next_event().await;
        received += 1;
        assert!(published < 20_000, "the slow consumer was never closed");
    }
    // The fast session is unaffected and keeps receiving.
    let event = Event::new(
        path.clone(),
        "application/octet-stream",
        Bytes::from_static(b"after"),
    );
    assert_eq!(publisher.publish(&event).expect("published").receivers, 1);
    assert_eq!(fast.next_event().await.payload().as_ref(), b"after");
    assert_eq!(received, published);
    // The slow client, reading at last, finds the events it had and then 4008.
    assert_eq!(slow.close_code().await, Some(4008));
}

/// The next Binary message's bytes, as the client's WebSocket reads them.
async fn next_binary(client: &mut rues_testkit::WsClient) -> Bytes {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.ws.next())
            .await
            .expect("in time")
            .expect("a message")
            .expect("valid");
        if let tokio_tungstenite::tungstenite::Message::Binary(bytes) = message {
            return bytes;
        }
    }
}

/// Event frames whose lengths sit on each side of the three WebSocket
/// length encodings (7-bit up to 125, 16-bit up to 65 535, 64-bit above)
/// reach a tungstenite client whole, one after another, with the same
/// bytes every receiver gets.
#[tokio::test]
async fn frames_on_every_length_boundary_reach_the_client_whole() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let mut other = server.connect().await;
    for receiver in [&client, &other] {
        let answer = receiver.subscribe(&server, "/on/blocks/accepted").await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let path = EventPath::parse("/on/blocks:a/accepted").expect("valid");
    let event = |len: usize| {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        Event::new(path.clone(), "application/octet-stream", payload.into())
    };
    // What an event costs beyond its payload, from an empty one.
    assert_eq!(server.publish_event(event(0)), 2);
    let overhead = next_binary(&mut client).await.len();
    assert_eq!(next_binary(&mut other).await.len(), overhead);
    // Every event frame carries its number and the node's epoch, so even an
    // empty one is past 125 bytes: the one-byte length is a Text frame's
    // (the session id) and ws_write's own tests'. The others start at the
    // first boundary an event frame can reach.
    assert!(overhead < 250, "an empty event's frame is {overhead} bytes");
    // The header block grows with the digits of the payload's length, so
    // each frame length is found by adjusting the payload until it fits.
    let boundaries = [125usize, 126, 127, 65_535, 65_536, 65_537, 200_000];
    for length in boundaries
        .into_iter()
        .filter(|&length| length > overhead + 4)
    {
        let mut payload_len = length - overhead;
        let mut tries = 0;
        loop {
            assert_eq!(server.publish_event(event(payload_len)), 2);
            let frame = next_binary(&mut client).await;
            assert_eq!(next_binary(&mut other).await, frame);
            let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
            assert!(frame.ends_with(&payload), "frame of {} bytes", frame.len());
            if frame.len() == length {
                break;
            }
            tries += 1;
            assert!(tries < 4, "no payload gives a frame of {length} bytes");
            payload_len = payload_len + length - frame.len();
        }
    }
}

#[tokio::test]
async fn a_gap_notice_reaches_every_session_on_the_stream_over_its_socket() {
    let server = TestServer::start().await;
    let mut both = server.connect().await;
    let mut entity = server.connect().await;
    let mut other = server.connect().await;
    for path in ["/on/blocks/accepted", "/on/blocks:a/accepted"] {
        assert_eq!(both.subscribe(&server, path).await.status, StatusCode::OK);
    }
    for (client, path) in [
        (&entity, "/on/blocks:c/accepted"),
        (&other, "/on/blocks/statechange"),
    ] {
        assert_eq!(client.subscribe(&server, path).await.status, StatusCode::OK);
    }
    assert_eq!(server.publish("/on/blocks:a/accepted", b"1"), 1);
    let port = server.endpoint.cluster_port();
    let stream = EventPath::parse("/on/blocks/accepted").expect("valid path");
    let published = port.notify_gap(&stream, "upstream lost").expect("sent");
    assert_eq!((published.receivers, published.seq), (2, 2));
    assert_eq!(server.publish("/on/blocks:c/accepted", b"3"), 2);

    let first = both.next_event().await;
    assert_eq!(first.payload().as_ref(), b"1");
    let epoch = first
        .position()
        .expect("valid")
        .expect("numbered")
        .epoch
        .to_string();
    let expected = [
        ("Content-Location", "/on/blocks/accepted"),
        ("Content-Length", "0"),
        ("Rues-Seq", "2"),
        ("Rues-Epoch", epoch.as_str()),
        ("Rues-Gap", "upstream lost"),
    ];
    for client in [&mut both, &mut entity] {
        let notice = client.next_event().await;
        assert_eq!(notice.headers().iter().collect::<Vec<_>>(), expected);
        assert!(notice.payload().is_empty());
        let after = client.next_event().await;
        assert_eq!(after.position().expect("valid").map(|p| p.seq), Some(3));
    }
    both.assert_quiet(Duration::from_millis(100)).await;
    other.assert_quiet(Duration::from_millis(50)).await;

    // A later session resuming from before the notice is told of it.
    let late = server.connect().await;
    let from = format!("{epoch}:1");
    let answer = server
        .http(
            rues_core::http::Method::GET,
            "/on/blocks/accepted",
            &[
                ("rusk-session-id", late.session_text.as_str()),
                ("rues-resume", from.as_str()),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("rues-resume-result"),
        Some("gap; replayed=1; lost=2-2")
    );
}
