//! The accept loop against hostile peers.

use std::time::Duration;

use rues_core::http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestServer;

#[tokio::test]
async fn two_thousand_idle_connections_do_not_delay_a_real_client() {
    let server = TestServer::start().await;
    // 2 000 connections that send nothing (the idle-connection target of
    // docs/reliability.md), all accepted and parked in their own tasks.
    let mut idle = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        idle.push(TcpStream::connect(server.addr).await.expect("connected"));
    }
    let started = tokio::time::Instant::now();
    let client = server.connect().await;
    let answer = client.subscribe(&server, "/on/blocks/accepted").await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        elapsed < Duration::from_secs(1),
        "session + subscribe took {elapsed:?}"
    );
    drop(idle);
}

#[tokio::test]
async fn slow_header_connections_are_dropped_at_the_head_read_timeout() {
    let server = TestServer::start_with(
        |c| c,
        |mut t| {
            t.head_read_timeout = Duration::from_millis(300);
            t
        },
    )
    .await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connected");
    slow.write_all(b"GET /on/blocks/accepted HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("sent");
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    // The server closes the connection (EOF, possibly after a 408).
    loop {
        match tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the slow connection was never dropped"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(3),
        "dropped after {elapsed:?}"
    );
    // Meanwhile, and after, the node serves others.
    let answer = server.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn garbage_and_port_scans_do_not_stop_the_listener() {
    let server = TestServer::start().await;
    for _ in 0..50 {
        // Connect and leave at once, as a port scan does.
        drop(TcpStream::connect(server.addr).await.expect("connected"));
    }
    for junk in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"NOT HTTP AT ALL\r\n\r\n",
        &[0u8; 4096],
    ] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connected");
        let _ = stream.write_all(junk).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    }
    let client = server.connect().await;
    assert_eq!(
        client
            .subscribe(&server, "/on/blocks/accepted")
            .await
            .status,
        StatusCode::OK
    );
}
