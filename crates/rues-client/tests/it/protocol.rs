//! A node that breaks the protocol, or goes silent.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rues_client::{Client, Error};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{FakeNode, FakeSocket, Requests, assert_ends, next_event, within};

const ID: &str = "00112233445566778899aabbccddeeff";

fn event_frame(location: &str, payload: &[u8]) -> Message {
    let headers = serde_json::json!({
        "Content-Location": location,
        "Content-Type": "application/octet-stream",
        "Content-Length": payload.len().to_string(),
    })
    .to_string();
    let mut message = (headers.len() as u32).to_le_bytes().to_vec();
    message.extend_from_slice(headers.as_bytes());
    message.extend_from_slice(payload);
    Message::Binary(Bytes::from(message))
}

/// Sends the id, waits until the client has made `after.1` requests (its
/// subscriptions), sends `then`, and keeps reading so pings are answered.
async fn script_after(mut ws: FakeSocket, id: &str, after: (Requests, usize), then: Vec<Message>) {
    let _ = ws.send(Message::text(id)).await;
    after.0.wait_for(after.1).await;
    for message in then {
        let _ = ws.send(message).await;
    }
    while let Some(Ok(_)) = ws.next().await {}
}

#[tokio::test]
async fn a_first_message_that_is_not_a_session_id_is_a_protocol_error() {
    let node = FakeNode::start(|mut ws: FakeSocket, _, _| async move {
        let _ = ws.send(Message::text("hello")).await;
    })
    .await;
    let error = Client::connect(&node.url()).await.expect_err("not an id");
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
    assert!(error.to_string().contains("not a session id"), "{error}");

    let node = FakeNode::start(|mut ws: FakeSocket, _, _| async move {
        let _ = ws.send(Message::binary(vec![1u8, 2])).await;
    })
    .await;
    let error = Client::connect(&node.url()).await.expect_err("binary");
    assert!(error.to_string().contains("binary"), "{error}");
}

#[tokio::test]
async fn a_node_that_never_sends_the_id_times_out() {
    let node = FakeNode::start(|mut ws: FakeSocket, _, _| async move {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let error = Client::builder(node.url())
        .connect_timeout(Duration::from_millis(1000))
        .connect()
        .await
        .expect_err("no id");
    assert!(error.to_string().contains("no session id"), "{error}");
}

#[tokio::test]
async fn an_undecodable_frame_ends_the_session_with_a_protocol_error() {
    let node = FakeNode::start(|ws: FakeSocket, _, requests: Requests| async move {
        script_after(
            ws,
            ID,
            (requests, 1),
            vec![
                event_frame("/on/blocks:aa/accepted", b"ok"),
                Message::binary(vec![255u8, 0, 0, 0, b'{']),
            ],
        )
        .await;
    })
    .await;
    let client = Client::connect(&node.url()).await.expect("connected");
    assert_eq!(client.session_id().to_string(), ID);
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(next_event(&mut blocks).await.payload().as_ref(), b"ok");
    assert_ends(&mut blocks).await;
    let error = blocks.error().expect("an error");
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
    assert!(
        error.to_string().contains("undecodable event frame"),
        "{error}"
    );
}

#[tokio::test]
async fn frames_the_client_does_not_expect_are_ignored() {
    let node = FakeNode::start(|ws: FakeSocket, _, requests: Requests| async move {
        script_after(
            ws,
            ID,
            (requests, 1),
            vec![
                Message::text("later text"),
                event_frame("/on/blocks:zz/other", b"unmatched"),
                event_frame("/on/blocks:aa/accepted", b"wanted"),
            ],
        )
        .await;
    })
    .await;
    let client = Client::connect(&node.url()).await.expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(next_event(&mut blocks).await.payload().as_ref(), b"wanted");
    assert!(client.is_connected());
}

#[tokio::test]
async fn a_silent_node_is_noticed_by_the_keep_alive() {
    // Sends the id, then never reads: client pings go unanswered.
    let node = FakeNode::start(|mut ws: FakeSocket, _, _| async move {
        let _ = ws.send(Message::text(ID)).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let client = Client::builder(node.url())
        .keep_alive(Some(Duration::from_millis(100)))
        .connect()
        .await
        .expect("connected");
    let error = within("the keep-alive to give up", client.closed())
        .await
        .expect("an error");
    assert_eq!(error.close_code(), None);
    assert!(error.to_string().contains("keep-alive"), "{error}");
}

#[tokio::test]
async fn a_new_session_whose_renewal_fails_is_replaced_by_another() {
    // Session 0 ends after its first event; session 1 is fine but the
    // node fails its renewal (HTTP request 1: 500); session 2 works.
    let node = FakeNode::start_with(
        |ws: FakeSocket, n, requests: Requests| async move {
            let id = format!("{n:032x}");
            let frame = event_frame("/on/blocks:aa/accepted", format!("from {n}").as_bytes());
            if n == 0 {
                let mut ws = ws;
                let _ = ws.send(Message::text(id)).await;
                requests.wait_for(1).await;
                let _ = ws.send(frame).await;
                let _ = ws.close(None).await;
            } else {
                // Session n is renewed by request n.
                script_after(ws, &id, (requests, n + 1), vec![frame]).await;
            }
        },
        |request| if request == 1 { 500 } else { 200 },
    )
    .await;
    let client = Client::builder(node.url())
        .reconnect_policy(
            rues_client::ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(50)),
        )
        .connect()
        .await
        .expect("connected");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(next_event(&mut blocks).await.payload().as_ref(), b"from 0");
    let mut gaps = Vec::new();
    let payload = loop {
        match crate::support::next(&mut blocks).await {
            Ok(event) => break event.payload().clone(),
            Err(rues_client::Gap::Reconnected {
                previous,
                session,
                cause,
            }) => {
                gaps.push((previous.to_string(), session.to_string(), cause));
            }
            Err(other) => panic!("{other}"),
        }
    };
    // Session 1 may have sent its event before the client dropped it; it
    // was never renewed, so nothing of it is delivered.
    assert_eq!(payload.as_ref(), b"from 2");
    // One gap, from the last session renewed to the one that was: the
    // session whose renewal failed is not one the caller ever had.
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].0, format!("{:032x}", 0));
    assert_eq!(gaps[0].1, format!("{:032x}", 2));
    assert_eq!(gaps[0].2.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(client.session_id().to_string(), format!("{:032x}", 2));
}
