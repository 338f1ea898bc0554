//! TLS with a certificate generated in the test.

use std::sync::Arc;

use rues_core::http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::MaybeTlsStream;

use crate::support::{Client, TestServer, try_request_on};

#[tokio::test]
async fn tls_sessions_and_requests_work_with_a_generated_certificate() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let dir = std::env::temp_dir().join(format!("rues-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).expect("cert written");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("key written");

    let server = TestServer::start_with(|c| c, |t| t.with_tls(&cert_path, &key_path)).await;

    let mut roots = RootCertStore::empty();
    roots.add(certified.cert.der().clone()).expect("root added");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").expect("a name");

    // A WebSocket session over TLS.
    let tcp = TcpStream::connect(server.addr).await.expect("connected");
    let tls = connector
        .connect(name.clone(), tcp)
        .await
        .expect("handshake");
    let url = format!("wss://localhost:{}/on", server.addr.port());
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Rustls(tls))
        .await
        .expect("upgraded");
    let mut client = Client::from_stream(ws).await;

    // A subscription over TLS, then an event on the TLS session.
    let tcp = TcpStream::connect(server.addr).await.expect("connected");
    let tls = connector
        .connect(name.clone(), tcp)
        .await
        .expect("handshake");
    let answer = try_request_on(
        tls,
        server.addr,
        Method::GET,
        "/on/blocks/accepted",
        &[("rusk-session-id", &client.session_text)],
        b"",
    )
    .await
    .expect("answered over TLS");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(server.publish("/on/blocks:a/accepted", b"{}"), 1);
    assert_eq!(
        client.next_event().await.content_location(),
        Some("/on/blocks:a/accepted")
    );

    // A failed handshake (plain HTTP on the TLS port) does not hurt anyone.
    let mut plain = TcpStream::connect(server.addr).await.expect("connected");
    let _ = plain
        .write_all(b"GET /on HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        plain.read_to_end(&mut buf),
    )
    .await;
    let tcp = TcpStream::connect(server.addr).await.expect("connected");
    let tls = connector.connect(name, tcp).await.expect("handshake");
    let answer = try_request_on(tls, server.addr, Method::POST, "/on/node/info", &[], b"")
        .await
        .expect("answered over TLS");
    assert_eq!(answer.status, StatusCode::OK);
    let _ = std::fs::remove_dir_all(&dir);
}
