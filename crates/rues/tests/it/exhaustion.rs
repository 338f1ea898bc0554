//! Exhaustion and vanishing clients against a real `rues serve` process:
//! running out of file descriptors, thousands of aborted sessions.

use std::time::Duration;

use futures_util::StreamExt;
use hyper::{Method, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::node::{Node, PATIENCE};

/// The server's resident set size, from /proc.
fn rss_kib(pid: u32) -> u64 {
    rues_testkit::rss_kib(pid).expect("VmRSS")
}

fn metric(text: &str, name: &str) -> u64 {
    rues_testkit::metric(text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn metrics(node: &Node) -> String {
    String::from_utf8(
        node.http(Method::GET, "/metrics", &[], b"")
            .await
            .body
            .to_vec(),
    )
    .expect("text")
}

async fn wait_released(node: &Node) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = metrics(node).await;
        if metric(&text, "rues_sessions_open ") == 0 && metric(&text, "rues_subscriptions ") == 0 {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions not released:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One session: connect, read the id, subscribe, then vanish with a TCP
/// reset (no Close frame).
async fn connect_subscribe_abort(node: &Node) {
    let tcp = TcpStream::connect(node.addr).await.expect("connected");
    tcp.set_zero_linger().expect("linger");
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/on", node.addr), tcp)
        .await
        .expect("upgraded");
    let Some(Ok(Message::Text(id))) = ws.next().await else {
        panic!("no session id")
    };
    let answer = node
        .http(
            Method::GET,
            "/on/blocks/accepted",
            &[("rusk-session-id", id.as_str())],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    drop(ws); // RST: linger 0
}

/// Cycles run here; `RUES_ABORT_CYCLES` raises it (docs/reliability.md
/// reports a 10 000-cycle run).
fn cycles() -> usize {
    std::env::var("RUES_ABORT_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

#[tokio::test]
async fn aborted_sessions_are_all_released_and_memory_returns() {
    let node = Node::start(&["--set", "chain.tx_per_second=0"]);
    let pid = node.child.id();
    // Warm up allocator pools and lazy statics before the baseline.
    for _ in 0..200 {
        connect_subscribe_abort(&node).await;
    }
    wait_released(&node).await;
    let baseline = rss_kib(pid);
    let cycles = cycles();
    for _ in 0..cycles {
        connect_subscribe_abort(&node).await;
    }
    let text = wait_released(&node).await;
    let after = rss_kib(pid);
    eprintln!("{cycles} connect/subscribe/abort cycles: RSS {baseline} KiB -> {after} KiB");
    assert!(metric(&text, "rues_sessions_opened_total ") >= (cycles + 200) as u64);
    assert!(
        after <= baseline + baseline / 10 + 1024,
        "RSS grew from {baseline} KiB to {after} KiB over {cycles} cycles"
    );
}

#[tokio::test]
async fn running_out_of_file_descriptors_is_survived() {
    // A node allowed 64 descriptors: the accept loop will hit EMFILE.
    let node = Node::start_with_fd_limit(64, &[]);
    let mut held = Vec::new();
    for _ in 0..120 {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(node.addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
    }
    // Let the node try (and fail) to accept the excess.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(held);
    // Service resumes: a session, a subscription, a dispatch.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let answer = loop {
        if let Ok(answer) = tokio::time::timeout(
            Duration::from_secs(2),
            node.http(Method::POST, "/on/node/info", &[], b""),
        )
        .await
        {
            break answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node did not recover"
        );
    };
    assert_eq!(answer.status, StatusCode::OK);
    let mut session = node.session().await;
    session.subscribe(&node, "/on/blocks/accepted").await;
    session.next_event().await;
    let text = metrics(&node).await;
    assert!(
        metric(&text, "rues_accept_errors_total ") > 0,
        "EMFILE was never hit:\n{text}"
    );
}
