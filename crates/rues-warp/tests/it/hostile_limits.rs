//! The per-client session limit through the transport: the core gets the
//! TCP peer's address from the listener, and a forwarded address only from
//! a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use rues_core::Limits;
use rues_testkit::TestServer;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// A WebSocket upgrade from `local` with `extra` header lines: the status
/// code, and the socket (the session lives while it is open).
async fn upgrade_from(server: SocketAddr, local: IpAddr, extra: &str) -> (u16, TcpStream) {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(local, 0))
        .expect("bind a loopback address");
    let mut stream = socket.connect(server).await.expect("connect");
    let request = format!(
        "GET /on HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let (code, _) = rues_testkit::read_head(&mut stream).await;
    (code, stream)
}

async fn server(per_client: usize, trusted: Vec<IpAddr>) -> TestServer {
    TestServer::builder()
        .config(move |config| {
            let mut limits = Limits::default();
            limits.max_sessions_per_client = per_client;
            limits.trusted_proxies = trusted;
            config.with_limits(limits)
        })
        .start()
        .await
}

#[tokio::test]
async fn the_tcp_peer_is_the_client_and_a_forged_header_changes_nothing() {
    let server = server(2, Vec::new()).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let (code, stream) = upgrade_from(server.addr, ip("127.0.0.1"), "").await;
        assert_eq!(code, 101);
        held.push(stream);
    }
    // Before the fix: 101 until `max_sessions`, for one client.
    let (code, _) = upgrade_from(server.addr, ip("127.0.0.1"), "").await;
    assert_eq!(code, 429);
    // Naming another client is no way around it when nobody is trusted.
    let forged = "X-Forwarded-For: 198.51.100.7\r\nForwarded: for=198.51.100.8\r\n";
    let (code, _) = upgrade_from(server.addr, ip("127.0.0.1"), forged).await;
    assert_eq!(code, 429);
    let (code, _other) = upgrade_from(server.addr, ip("127.0.0.3"), "").await;
    assert_eq!(code, 101);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let server = server(1, vec![ip("127.0.0.1")]).await;
    let one = "X-Forwarded-For: 198.51.100.1\r\n";
    let two = "X-Forwarded-For: 198.51.100.2\r\n";
    let (code, _a) = upgrade_from(server.addr, ip("127.0.0.1"), one).await;
    assert_eq!(code, 101);
    let (code, _) = upgrade_from(server.addr, ip("127.0.0.1"), one).await;
    assert_eq!(code, 429, "the same forwarded client");
    let (code, _b) = upgrade_from(server.addr, ip("127.0.0.1"), two).await;
    assert_eq!(code, 101, "another client behind the same proxy");
}
