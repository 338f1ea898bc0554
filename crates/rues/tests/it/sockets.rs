//! What the tests of running nodes share: sessions over real sockets, the
//! blocks they receive, and the nodes' `/metrics`.

use std::net::SocketAddr;

use hyper::{Method, StatusCode};
use rues_testkit::{Answer, WsClient, http};

/// A session of the node at `addr`.
pub(crate) async fn session(addr: SocketAddr) -> WsClient {
    WsClient::connect(&format!("ws://{addr}/on")).await
}

/// An answer's body, as text.
pub(crate) fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// The sum of a metric's samples in `/metrics` (every label set, or the
/// one sample when `name` carries its labels).
pub(crate) async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let answer = http(addr, Method::GET, "/metrics", &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK);
    text(&answer)
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The height in a `blocks/accepted` event.
pub(crate) fn height(frame: &rues_core::rues_wire::Frame) -> u64 {
    let block: serde_json::Value = serde_json::from_slice(frame.payload()).expect("JSON");
    block["header"]["height"]
        .as_u64()
        .or_else(|| block["height"].as_u64())
        .unwrap_or_else(|| panic!("no height in {block}"))
}

/// `count` `blocks/accepted` events in a row (other events skipped): each
/// block once, in order, as JSON.
pub(crate) async fn consecutive_blocks(session: &mut WsClient, count: usize) -> Vec<u64> {
    let mut heights = Vec::new();
    while heights.len() < count {
        let frame = session.next_event().await;
        let location = frame.content_location().unwrap_or("");
        if location.ends_with("/accepted") && location.starts_with("/on/blocks:") {
            assert_eq!(frame.content_type(), Some("application/json"));
            heights.push(height(&frame));
        }
    }
    for pair in heights.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "each block once and in order: {heights:?}"
        );
    }
    heights
}
