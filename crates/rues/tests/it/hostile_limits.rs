//! What a hostile client can no longer do to a `rues serve` node, over real
//! sockets: amplify a bad body into a huge error, slip past an entity DENY
//! rule by case, get 400 where §5.2 says 422, hold every session slot from
//! one address, fill the node with subscriptions, or grow the demo chain's
//! state with stakes from invented senders.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hyper::{Method, StatusCode};
use rues_demo::contracts::STAKE_CONTRACT;
use rues_demo::{Id, Transaction};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::node::Node;

/// A contract id with hex letters, so that its case can change.
const CONTRACT: &str = "efda355bc94a3be09006dc90f3714a0ee22c586c5e577e429ef3b5e3e464a8da";

#[tokio::test]
async fn a_megabyte_of_control_bytes_gets_a_short_422() {
    let node = Node::start(&["--set", "chain.tx_per_second=0"]);
    let body = vec![0x01u8; 1 << 20];
    for path in ["/on/network/peers", "/on/blocks/gas-price"] {
        let answer = node.http(Method::POST, path, &[], &body).await;
        // Before the fix: the whole body, JSON-escaped (`\u0001`), 6 291 543 B.
        assert!(
            answer.body.len() < 1024,
            "{path}: a {} byte error for a 1 MiB body",
            answer.body.len()
        );
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(
            answer.error().contains("1048576 bytes"),
            "{}",
            answer.error()
        );
    }
}

#[tokio::test]
async fn bodies_a_handler_cannot_process_are_422() {
    let node = Node::start(&["--set", "chain.tx_per_second=0"]);
    for (path, body) in [
        ("/on/network/peers", "-1"),
        ("/on/network/peers", ""),
        ("/on/blocks/gas-price", "many"),
    ] {
        let answer = node.http(Method::POST, path, &[], body.as_bytes()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body:?}: {}",
            answer.error()
        );
    }
}

#[tokio::test]
async fn an_entity_deny_rule_holds_in_any_case() {
    let rule = format!("DENY GET, POST /on/contracts:{CONTRACT}/*");
    let node = Node::start(&["--access-rule", &rule]);
    let session = node.session().await;
    let upper = CONTRACT.to_ascii_uppercase();
    let mixed = format!("{}{}", &upper[..32], &CONTRACT[32..]);
    for spelling in [CONTRACT, upper.as_str(), mixed.as_str()] {
        let path = format!("/on/contracts:{spelling}/balance");
        // Before the fix the upper-case spellings reached the handler (404
        // "no contract ...").
        node.http(Method::POST, &path, &[], &[0u8; 32])
            .await
            .assert_error(StatusCode::FORBIDDEN, "denied by access rule");
        node.http(
            Method::GET,
            &format!("/on/contracts:{spelling}/moonlight"),
            &[("rusk-session-id", &session.id)],
            b"",
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "denied by access rule");
    }
}

/// Sends a WebSocket upgrade from `local` and returns the status line's
/// code, with the socket (kept open, the session stays).
async fn upgrade_from(node: SocketAddr, local: IpAddr) -> (u16, TcpStream) {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(local, 0))
        .expect("bind a loopback address");
    let mut stream = socket.connect(node).await.expect("connect");
    stream
        .write_all(
            b"GET /on HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("write");
    let (code, _) = rues_testkit::read_head(&mut stream).await;
    (code, stream)
}

#[tokio::test]
async fn one_address_cannot_hold_every_session_slot() {
    let node = Node::start(&["--set", "limits.max_sessions_per_client=3"]);
    let first: IpAddr = "127.0.0.1".parse().expect("ip");
    let second: IpAddr = "127.0.0.2".parse().expect("ip");
    let mut held = Vec::new();
    for _ in 0..3 {
        let (code, stream) = upgrade_from(node.addr, first).await;
        assert_eq!(code, 101);
        held.push(stream);
    }
    // Before the fix: 101, and so on up to max_sessions.
    let (code, _refused) = upgrade_from(node.addr, first).await;
    assert_eq!(code, 429, "a 4th session from the same address");
    let (code, _other) = upgrade_from(node.addr, second).await;
    assert_eq!(code, 101, "another address is not affected");
    // A slot freed is a slot again.
    drop(held.pop());
    let mut code = 0;
    for _ in 0..50 {
        let (c, stream) = upgrade_from(node.addr, first).await;
        code = c;
        if c == 101 {
            held.push(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, 101, "the freed slot");
}

#[tokio::test]
async fn the_node_wide_subscription_limit_answers_429() {
    let node = Node::start(&[
        "--set",
        "limits.max_subscriptions=4",
        "--set",
        "limits.max_total_subscriptions=5",
    ]);
    let a = node.session().await;
    let b = node.session().await;
    let subscribe = |id: String, i: usize| {
        let path = format!("/on/blocks:{i:064x}/accepted");
        let node = &node;
        async move {
            node.http(Method::GET, &path, &[("rusk-session-id", &id)], b"")
                .await
        }
    };
    for i in 0..4 {
        assert_eq!(subscribe(a.id.clone(), i).await.status, StatusCode::OK);
    }
    assert_eq!(subscribe(b.id.clone(), 0).await.status, StatusCode::OK);
    // Before the fix: 200 (only the per-session limit of 4 existed).
    subscribe(b.id.clone(), 1)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "maximum of 5 subscriptions");
}

#[tokio::test]
async fn provisioners_stay_bounded_after_many_stakes_from_fresh_senders() {
    let node = Node::start(&[
        "--set",
        "chain.tx_per_second=0",
        "--set",
        "chain.revert_one_in=0",
    ]);
    let before = node
        .http(Method::POST, "/on/node/provisioners", &[], b"")
        .await;
    assert_eq!(before.status, StatusCode::OK);
    const STAKES: u32 = 1000;
    for i in 0..STAKES {
        let mut sender = [0x5au8; 32];
        sender[..4].copy_from_slice(&i.to_le_bytes());
        let tx = Transaction::builder()
            .sender(Id::from_bytes(sender))
            .receiver(STAKE_CONTRACT)
            .value(1_000_000)
            .build()
            .expect("a valid stake");
        let answer = node
            .http(
                Method::POST,
                "/on/transactions/propagate",
                &[("content-type", "application/octet-stream")],
                &tx.encode(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.error());
    }
    // 100 transactions a block, a block every 200 ms: all in within ~2 s.
    let mut list = Vec::new();
    let mut size = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer = node
            .http(Method::POST, "/on/node/provisioners", &[], b"")
            .await;
        size = answer.body.len();
        list = answer.json().as_array().cloned().expect("an array");
        if list.len() >= 4 + 64 {
            break;
        }
    }
    // 4 genesis provisioners + the 64 newest stakes (`chain.max_stakes`).
    assert_eq!(list.len(), 4 + 64, "provisioners after {STAKES} stakes");
    // Before the fix: one entry (~400 B) per stake, ~400 KB for 1000.
    assert!(
        size < 40 * 1024,
        "{size} bytes of provisioners (was {} at genesis)",
        before.body.len()
    );
}
