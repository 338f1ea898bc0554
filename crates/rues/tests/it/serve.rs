//! `rues serve`: the demo node of docs/protocol.md §9, over real sockets.

use std::time::Duration;

use hyper::{Method, StatusCode};

use crate::node::{Node, rues};

#[tokio::test]
async fn banner_names_the_address_and_node_info_answers() {
    let node = Node::start(&[]);
    assert!(
        node.banner
            .starts_with("rues: listening on http://127.0.0.1:"),
        "{}",
        node.banner
    );
    let answer = node
        .http(
            Method::POST,
            "/on/node/info",
            &[("rusk-version", "1.0.0-rc.0")],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("rusk-version"), Some("1.6.0"));
    let info = answer.json();
    for key in [
        "version",
        "version_build",
        "chain_id",
        "bootstrapping_nodes",
        "kadcast_address",
        "vm_config",
    ] {
        assert!(info.get(key).is_some(), "node/info lacks {key}: {info}");
    }
}

/// `/health` checks the node and the chain; by default it and `/metrics`
/// are on the public listener, beside the explorer.
#[tokio::test]
async fn health_checks_the_node_and_the_chain() {
    let node = Node::start(&[]);
    assert_eq!(node.admin, node.addr);
    let health = node.http(Method::GET, "/health", &[], b"").await;
    assert_eq!(health.status, StatusCode::OK);
    let body = health.json();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["node"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["chain"]["status"], "ok", "{body}");
    assert!(
        body["checks"]["chain"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("block ")),
        "{body}"
    );
    assert_eq!(
        node.http(Method::GET, "/", &[], b"").await.status,
        StatusCode::OK
    );
}

/// With `--admin-listen` and `--no-explorer`, the public listener serves
/// RUES alone, and the admin listener `/metrics` and `/health` alone.
#[tokio::test]
async fn an_admin_listener_leaves_the_public_one_to_rues() {
    let node = Node::start(&["--admin-listen", "127.0.0.1:0", "--no-explorer"]);
    assert_ne!(node.admin, node.addr);
    for path in ["/", "/metrics", "/health"] {
        let answer = node.http(Method::GET, path, &[], b"").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "public {path}");
    }
    let info = node.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(info.status, StatusCode::OK);

    let admin = |path: &'static str| rues_testkit::http(node.admin, Method::GET, path, &[], b"");
    let health = admin("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["checks"]["chain"]["status"], "ok");
    let metrics = admin("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    for name in [
        "rues_build_info{",
        "process_open_fds ",
        "process_resident_memory_bytes ",
    ] {
        assert!(text.contains(name), "no {name} in {text}");
    }
    let elsewhere = rues_testkit::http(node.admin, Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn block_events_arrive_with_their_headers() {
    let node = Node::start(&[]);
    let mut session = node.session().await;
    assert_eq!(session.id.len(), 32);
    session.subscribe(&node, "/on/blocks/accepted").await;
    let mut heights = Vec::new();
    for _ in 0..2 {
        let event = session.next_event().await;
        let hash = event
            .location
            .strip_prefix("/on/blocks:")
            .and_then(|r| r.strip_suffix("/accepted"))
            .expect("a block location");
        assert_eq!(hash.len(), 64);
        assert_eq!(event.content_type, "application/json");
        assert_eq!(event.content_length, event.payload.len().to_string());
        let block: serde_json::Value = serde_json::from_slice(&event.payload).expect("JSON block");
        assert_eq!(block["header"]["hash"], hash);
        heights.push(block["header"]["height"].as_u64().expect("a height"));
    }
    assert!(heights[1] > heights[0], "{heights:?}");
}

#[tokio::test]
async fn propagated_transaction_is_included_then_executed_then_removed() {
    let node = Node::start(&["--set", "chain.revert_one_in=0"]);
    let file = std::env::temp_dir().join(format!("rues-tx-{}.bin", std::process::id()));
    let output = rues()
        .args(["tx", "--value", "5", "--memo", "walk-through", "--out"])
        .arg(&file)
        .output()
        .expect("rues tx runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64, "{id:?}");
    let tx = std::fs::read(&file).expect("tx written");
    let _ = std::fs::remove_file(&file);

    let mut session = node.session().await;
    for topic in ["included", "executed", "removed"] {
        session
            .subscribe(&node, &format!("/on/transactions:{id}/{topic}"))
            .await;
    }
    let answer = node
        .http(
            Method::POST,
            "/on/transactions/propagate",
            &[("content-type", "application/octet-stream")],
            &tx,
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.body.is_empty());

    let mut topics = Vec::new();
    while topics.len() < 3 {
        let event = session.next_event().await;
        let topic = event
            .location
            .rsplit('/')
            .next()
            .expect("a topic")
            .to_owned();
        assert_eq!(event.location, format!("/on/transactions:{id}/{topic}"));
        if topic == "executed" {
            let executed: serde_json::Value = serde_json::from_slice(&event.payload).expect("JSON");
            assert!(executed["block_height"].as_u64().is_some(), "{executed}");
            assert!(executed.get("err").is_some(), "{executed}");
        }
        topics.push(topic);
    }
    assert_eq!(topics, ["included", "executed", "removed"]);

    // The same transaction again is refused; garbage is 422.
    let again = node
        .http(
            Method::POST,
            "/on/transactions/propagate",
            &[("content-type", "application/octet-stream")],
            &tx,
        )
        .await;
    assert!(again.status.is_client_error(), "{:?}", again.status);
    let garbage = node
        .http(
            Method::POST,
            "/on/transactions/propagate",
            &[("content-type", "application/octet-stream")],
            b"not a tx",
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(garbage.json()["error"].as_str().is_some());
}

#[tokio::test]
async fn every_dispatch_endpoint_of_the_demo_node_answers() {
    let node = Node::start(&[]);
    let json = |a: &crate::node::Answer| {
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&a.body)
        );
        a.json()
    };
    let gas = json(
        &node
            .http(Method::POST, "/on/blocks/gas-price", &[], b"")
            .await,
    );
    for key in ["average", "max", "median", "min"] {
        assert!(gas.get(key).is_some(), "{gas}");
    }
    let provisioners = json(
        &node
            .http(Method::POST, "/on/node/provisioners", &[], b"")
            .await,
    );
    let first = &provisioners.as_array().expect("an array")[0];
    for key in ["key", "amount", "eligibility", "reward"] {
        assert!(first.get(key).is_some(), "{first}");
    }
    let crs = node
        .http(
            Method::POST,
            "/on/node/crs",
            &[("accept", "application/octet-stream")],
            b"",
        )
        .await;
    assert_eq!(crs.status, StatusCode::OK);
    assert_eq!(crs.header("content-type"), Some("application/octet-stream"));
    assert!(!crs.body.is_empty());
    let peers = json(
        &node
            .http(Method::POST, "/on/network/peers", &[], b"2")
            .await,
    );
    assert!(peers.as_array().expect("an array").len() <= 2);
    assert_eq!(
        node.http(Method::POST, "/on/network/peers", &[], b"many")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tip = json(
        &node
            .http(
                Method::POST,
                "/on/graphql/query",
                &[],
                b"query { block(height: -1) { header { height } } }",
            )
            .await,
    );
    assert!(
        tip.pointer("/block/header/height")
            .and_then(serde_json::Value::as_u64)
            .is_some(),
        "{tip}"
    );
    let contract = "0100000000000000000000000000000000000000000000000000000000000000";
    let balance = node
        .http(
            Method::POST,
            &format!("/on/contracts:{contract}/balance"),
            &[("content-type", "application/octet-stream")],
            &[0u8; 32],
        )
        .await;
    assert_eq!(
        balance.status,
        StatusCode::OK,
        "{:?}",
        String::from_utf8_lossy(&balance.body)
    );
    let unknown = node
        .http(
            Method::POST,
            &format!("/on/contracts:{}/balance", "ff".repeat(32)),
            &[],
            b"",
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let preverify = node
        .http(
            Method::POST,
            "/on/transactions/preverify",
            &[("content-type", "application/octet-stream")],
            b"junk",
        )
        .await;
    assert_eq!(preverify.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sigterm_closes_sessions_with_1001_and_exits() {
    let mut node = Node::start(&[]);
    let mut session = node.session().await;
    session.subscribe(&node, "/on/blocks/accepted").await;
    node.terminate();
    assert_eq!(session.close_code().await, Some(1001));
    let status = node.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let output = rues()
        .args([
            "serve",
            "--print-config",
            "--listen",
            "127.0.0.1:9999",
            "--set",
            "limits.max_sessions=5",
            "--access-rule",
            "DENY POST /on/node/",
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    for needle in [
        "listen = \"127.0.0.1:9999\"",
        "max_sessions = 5",
        "DENY POST /on/node/",
        "[chain]",
        "block_time_ms = 2000",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn invalid_configuration_exits_non_zero_with_the_reason() {
    let output = rues()
        .args(["serve", "--set", "limits.max_sesions=5"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown field") && stderr.contains("max_sesions"),
        "{stderr}"
    );
}

#[test]
fn tx_prints_hex_that_decodes_to_a_demo_transaction() {
    let output = rues().args(["tx", "--value", "7"]).output().expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let hex = text.trim().strip_prefix("0x").expect("0x prefix");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    let tx = rues_demo::Transaction::decode(&bytes).expect("a demo transaction");
    assert_eq!(tx.value(), 7);
    assert_eq!(tx.nonce(), 0);
}
