//! Every dispatch endpoint, driven through `rues_core::Node` exactly as the
//! transport drives it: `handle_request` → `ReadBody` → `with_body` →
//! `Call::run().await`.

use std::sync::Arc;

use rues_core::bytes::Bytes;
use rues_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use rues_core::{Answer, Config, Decision, Node, Response, SeededIds};
use rues_demo::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT};
use rues_demo::registry::{CRS_LEN, PEERS, crs_bytes};
use rues_demo::{Chain, SharedChain, Transaction, registry};
use serde_json::{Value, json};

use crate::support::{account, quiet_config, transfer};

struct Demo {
    node: Node,
    chain: Arc<SharedChain>,
}

impl Demo {
    fn new() -> Self {
        let chain = SharedChain::new(Chain::new(quiet_config(), 0).expect("valid"));
        let config = Config::new("1.6.0".parse().expect("semver"));
        let node = Node::new(config, registry(Arc::clone(&chain)), SeededIds::new(7));
        Self { node, chain }
    }

    /// A dispatch, its reply read whole.
    async fn post(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        rues_testkit::collect(self.answer(path, headers, body).await)
    }

    /// A dispatch, its answer as the core gives it: whole or streamed.
    async fn answer(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        match self.node.handle_request(&Method::POST, path, &map) {
            Decision::Respond(response) => response.into(),
            Decision::Forward(forward) => forward.fallback.into(),
            Decision::ReadBody(ticket) => match ticket.with_body(Bytes::copy_from_slice(body)) {
                Ok(call) => call.run().await,
                Err(response) => response.into(),
            },
        }
    }

    /// A binary dispatch (`Content-Type: application/octet-stream`).
    async fn post_binary(&mut self, path: &str, body: &[u8]) -> Response {
        self.post(path, &[("content-type", "application/octet-stream")], body)
            .await
    }

    async fn post_text(&mut self, path: &str, body: &str) -> Response {
        self.post(path, &[("content-type", "text/plain")], body.as_bytes())
            .await
    }
}

fn content_type(response: &Response) -> &str {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn body_json(response: &Response) -> Value {
    assert_eq!(content_type(response), "application/json", "{response:?}");
    serde_json::from_slice(response.body()).expect("JSON body")
}

fn assert_error(response: &Response, status: StatusCode, needle: &str) {
    assert_eq!(response.status(), status, "{response:?}");
    let error = body_json(response);
    let message = error["error"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "`{message}` lacks `{needle}`");
}

#[tokio::test]
async fn node_info_has_the_fields_w3sper_reads() {
    let mut demo = Demo::new();
    let response = demo.post("/on/node/info", &[], b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    let info = body_json(&response);
    assert_eq!(info["version"], "1.6.0");
    assert!(
        info["version_build"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.6.0"))
    );
    assert_eq!(info["chain_id"], 0);
    assert!(
        info["bootstrapping_nodes"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(info["kadcast_address"], "127.0.0.1:9000");
    assert_eq!(
        info["vm_config"]["block_gas_limit"],
        rues_demo::params::BLOCK_GAS_LIMIT
    );
    // node takes no entity.
    let response = demo.post("/on/node:x/info", &[], b"").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn node_provisioners_lists_every_stake() {
    let mut demo = Demo::new();
    let response = demo.post("/on/node/provisioners", &[], b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    let list = body_json(&response);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 4);
    for p in list {
        for field in [
            "key",
            "amount",
            "eligibility",
            "reward",
            "locked_amt",
            "owner",
        ] {
            assert!(p.get(field).is_some(), "{field} missing in {p}");
        }
        assert!(
            p["key"].as_str().is_some_and(|k| k.len() > 100),
            "base58 of 96 bytes"
        );
        assert_eq!(p["amount"], 1_000_000 * rues_demo::params::LUX_PER_DUSK);
    }
}

#[tokio::test]
async fn node_crs_is_binary_raw_or_hex() {
    let mut demo = Demo::new();
    let raw = demo
        .post(
            "/on/node/crs",
            &[("accept", "application/octet-stream")],
            b"",
        )
        .await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(content_type(&raw), "application/octet-stream");
    assert_eq!(raw.body().len(), CRS_LEN);
    assert_eq!(raw.body().as_ref(), crs_bytes().as_slice());
    let text = demo.post("/on/node/crs", &[], b"").await;
    assert_eq!(text.status(), StatusCode::OK);
    assert_eq!(text.body().as_ref(), hex::encode(crs_bytes()).as_bytes());
}

#[tokio::test]
async fn gas_price_is_all_ones_when_empty_then_follows_the_mempool() {
    let mut demo = Demo::new();
    let response = demo.post("/on/blocks/gas-price", &[], b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(&response),
        json!({"average": 1, "max": 1, "median": 1, "min": 1})
    );
    for (nonce, price) in [(0, 5), (1, 7)] {
        let tx = Transaction::builder()
            .nonce(nonce)
            .gas_price(price)
            .build()
            .expect("valid");
        demo.chain.propagate(&tx.encode()).expect("valid");
    }
    let response = demo.post("/on/blocks/gas-price", &[], b"").await;
    assert_eq!(
        body_json(&response),
        json!({"average": 6, "max": 7, "median": 6, "min": 5})
    );
    let response = demo.post_text("/on/blocks/gas-price", "1").await;
    assert_eq!(body_json(&response)["max"], 7);
    assert_eq!(body_json(&response)["min"], 7);
    // A body the handler cannot process is 422 (docs/protocol.md §5.2).
    let response = demo.post_text("/on/blocks/gas-price", "lots").await;
    assert_error(
        &response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid amount",
    );
}

#[tokio::test]
async fn network_peers_returns_at_most_the_count_asked() {
    let mut demo = Demo::new();
    for (count, expected) in [(0, 0), (3, 3), (100, PEERS.len())] {
        let response = demo
            .post_text("/on/network/peers", &count.to_string())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let peers = body_json(&response);
        let peers = peers.as_array().expect("an array");
        assert_eq!(peers.len(), expected);
        for peer in peers {
            let peer = peer.as_str().expect("a string");
            assert!(
                peer.starts_with("192.0.2.") && peer.ends_with(":9000"),
                "{peer}"
            );
        }
    }
    for bad in ["", "-1", "three", "1.5"] {
        let response = demo.post_text("/on/network/peers", bad).await;
        assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "amount");
    }
}

#[tokio::test]
async fn preverify_accepts_a_valid_transaction_without_adding_it() {
    let mut demo = Demo::new();
    let tx = transfer(0).encode();
    let response = demo.post_binary("/on/transactions/preverify", &tx).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.body().is_empty());
    assert_eq!(demo.chain.lock().mempool().count(), 0);
    // Hex text works too (docs/protocol.md §5.2).
    let hex_body = format!("0x{}", hex::encode(&tx));
    let response = demo
        .post_text("/on/transactions/preverify", &hex_body)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn propagate_accepts_then_the_chain_includes_and_executes() {
    let mut demo = Demo::new();
    let tx = transfer(0);
    let response = demo
        .post_binary("/on/transactions/propagate", &tx.encode())
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.body().is_empty());
    let id = tx.id();
    let events = demo.chain.lock().tick(0);
    assert_eq!(
        events.first().map(|e| e.path.to_string()),
        Some(format!("/on/transactions:{id}/included"))
    );
    let events = demo.chain.lock().tick(2000);
    assert!(
        events
            .iter()
            .any(|e| e.path.to_string() == format!("/on/transactions:{id}/executed"))
    );
}

#[tokio::test]
async fn garbage_is_422_with_the_decode_error_and_duplicates_are_409() {
    let mut demo = Demo::new();
    for path in ["/on/transactions/preverify", "/on/transactions/propagate"] {
        let response = demo
            .post_binary(path, b"definitely not a transaction")
            .await;
        assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "RUESDEMO");
        let response = demo.post_binary(path, b"RUESDEMO\x01").await;
        assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "108");
        let response = demo.post_text(path, "hello").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let wrong_chain = Transaction::builder().chain_id(4).build().expect("valid");
    let response = demo
        .post_binary("/on/transactions/propagate", &wrong_chain.encode())
        .await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "chain");
    let tx = transfer(1).encode();
    let first = demo.post_binary("/on/transactions/propagate", &tx).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    for path in ["/on/transactions/preverify", "/on/transactions/propagate"] {
        let again = demo.post_binary(path, &tx).await;
        assert_error(&again, StatusCode::CONFLICT, "already in the mempool");
    }
}

#[tokio::test]
async fn contract_queries_answer_binary_and_refuse_the_unknown() {
    let mut demo = Demo::new();
    let transfer_path = format!("/on/contracts:{TRANSFER_CONTRACT}/balance");
    let response = demo
        .post_binary(&transfer_path, account(5).as_bytes())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/octet-stream");
    let initial = rues_demo::ChainConfig::default().initial_balance;
    assert_eq!(response.body().as_ref(), initial.to_le_bytes());

    let account_path = format!("/on/contracts:{TRANSFER_CONTRACT}/account");
    let response = demo.post_binary(&account_path, account(5).as_bytes()).await;
    assert_eq!(response.body().len(), 16);

    let chain_id = format!("/on/contracts:{TRANSFER_CONTRACT}/chain_id");
    let response = demo.post_binary(&chain_id, b"").await;
    assert_eq!(response.body().as_ref(), [0]);

    let stake_path = format!("/on/contracts:{STAKE_CONTRACT}/get_stake");
    let response = demo.post_binary(&stake_path, account(5).as_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), [0u8; 24]);
    let total = format!("/on/contracts:{STAKE_CONTRACT}/total_stake");
    let response = demo.post_binary(&total, b"").await;
    assert_eq!(
        response.body().as_ref(),
        (4_000_000 * rues_demo::params::LUX_PER_DUSK).to_le_bytes()
    );

    // Hex in, hex out, for a client that does not ask for binary.
    let response = demo
        .post_text(
            &transfer_path,
            &format!("0x{}", hex::encode(account(5).as_bytes())),
        )
        .await;
    assert_eq!(
        response.body().as_ref(),
        hex::encode(initial.to_le_bytes()).as_bytes()
    );

    let unknown = format!("/on/contracts:{}/balance", "03".repeat(32));
    let response = demo.post_binary(&unknown, account(5).as_bytes()).await;
    assert_error(&response, StatusCode::NOT_FOUND, "no contract");
    let unknown_fn = format!("/on/contracts:{TRANSFER_CONTRACT}/mint");
    let response = demo.post_binary(&unknown_fn, b"").await;
    assert_error(&response, StatusCode::NOT_FOUND, "no function `mint`");
    let response = demo.post_binary(&transfer_path, b"short").await;
    assert_error(
        &response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "32-byte account",
    );
    let response = demo.post_binary(&chain_id, b"x").await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "no arguments");
    let response = demo.post_binary("/on/contracts:xyz/balance", b"").await;
    assert_error(&response, StatusCode::BAD_REQUEST, "not a contract id");
    // contracts requires an entity.
    let response = demo.post_binary("/on/contracts/balance", b"").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_contract_query_with_rusk_feeder_is_streamed() {
    let mut demo = Demo::new();
    let path = format!("/on/contracts:{TRANSFER_CONTRACT}/balance");
    let feeder = [
        ("content-type", "application/octet-stream"),
        ("rusk-feeder", ""),
    ];
    let answer = demo.answer(&path, &feeder, account(5).as_bytes()).await;
    assert!(matches!(answer, Answer::Stream(_)), "{answer:?}");
    let streamed = rues_testkit::collect(answer);
    assert_eq!(content_type(&streamed), "application/octet-stream");
    let whole = demo.post_binary(&path, account(5).as_bytes()).await;
    assert_eq!(streamed.body(), whole.body());
    // A refusal is whole all the same: its status is known before any body.
    let unknown = format!("/on/contracts:{TRANSFER_CONTRACT}/mint");
    let answer = demo.answer(&unknown, &feeder, b"").await;
    assert!(matches!(answer, Answer::Whole(_)), "{answer:?}");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn graphql_answers_the_tip_query() {
    let mut demo = Demo::new();
    demo.chain.lock().tick(2000);
    let query = "query { block(height: -1) { header { height hash } } }";
    let response = demo.post_text("/on/graphql/query", query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tip = demo.chain.lock().tip().hash().to_string();
    assert_eq!(
        body_json(&response),
        json!({"block": {"header": {"height": 1, "hash": tip}}})
    );
}

#[tokio::test]
async fn graphql_refuses_invalid_queries_and_serves_the_sdl_for_an_empty_body() {
    let mut demo = Demo::new();
    let response = demo.post_text("/on/graphql/query", "query { block(").await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "syntax");
    let response = demo.post_text("/on/graphql/query", "{ nope }").await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "nope");
    let response = demo
        .post_text(
            "/on/graphql/query",
            "{ block(height: -7) { header { height } } }",
        )
        .await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "height");
    let response = demo.post_text("/on/graphql/query", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let sdl = String::from_utf8_lossy(response.body()).into_owned();
    assert!(sdl.contains("mempoolTxs"), "{sdl}");
}

#[tokio::test]
async fn graphql_reads_blocks_transactions_and_the_mempool() {
    let mut demo = Demo::new();
    let executed = transfer(0);
    demo.chain.propagate(&executed.encode()).expect("valid");
    demo.chain.lock().tick(2000);
    let pending = transfer(1);
    demo.chain.propagate(&pending.encode()).expect("valid");
    let block_hash = demo.chain.lock().tip().hash().to_string();

    let query = format!(
        r#"{{
            byHash: block(hash: "{block_hash}") {{ header {{ height }} transactions {{ id }} }}
            blocks(last: 5) {{ header {{ height }} }}
            range: blocks(range: [0, 1]) {{ header {{ height }} }}
            tx(hash: "{}") {{ blockHeight gasSpent err tx {{ gasPrice sender }} }}
            transactions(last: 1) {{ id }}
            mempoolTxs {{ id gasPrice }}
            mempoolTx(hash: "{}") {{ id }}
            checkBlock(height: 1, hash: "{block_hash}")
        }}"#,
        executed.id(),
        pending.id()
    );
    let response = demo.post_text("/on/graphql/query", &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let data = body_json(&response);
    assert_eq!(data["byHash"]["header"]["height"], 1);
    assert_eq!(
        data["byHash"]["transactions"],
        json!([{"id": executed.id().to_string()}])
    );
    assert_eq!(
        data["blocks"],
        json!([{"header": {"height": 1}}, {"header": {"height": 0}}])
    );
    assert_eq!(
        data["range"],
        json!([{"header": {"height": 0}}, {"header": {"height": 1}}])
    );
    assert_eq!(data["tx"]["blockHeight"], 1);
    assert_eq!(data["tx"]["gasSpent"], 100_000);
    assert_eq!(data["tx"]["err"], Value::Null);
    assert_eq!(data["tx"]["tx"]["gasPrice"], 3);
    assert_eq!(data["tx"]["tx"]["sender"], account(1).to_string());
    assert_eq!(
        data["transactions"],
        json!([{"id": executed.id().to_string()}])
    );
    assert_eq!(
        data["mempoolTxs"],
        json!([{"id": pending.id().to_string(), "gasPrice": 3}])
    );
    assert_eq!(data["mempoolTx"]["id"], pending.id().to_string());
    assert_eq!(data["checkBlock"], true);

    let response = demo
        .post_text(
            "/on/graphql/query",
            "{ blocks(last: 201) { header { height } } }",
        )
        .await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "at most 200");
    let response = demo
        .post_text(
            "/on/graphql/query",
            r#"{ block(hash: "zz") { header { height } } }"#,
        )
        .await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "not a hash");
    let unknown = format!(
        r#"{{ block(hash: "{}") {{ header {{ height }} }} }}"#,
        "00".repeat(32)
    );
    let response = demo.post_text("/on/graphql/query", &unknown).await;
    assert_eq!(body_json(&response), json!({"block": null}));
}

#[tokio::test]
async fn event_topics_exist_for_subscription_but_take_no_dispatch() {
    let mut demo = Demo::new();
    for path in [
        "/on/blocks/accepted",
        "/on/blocks/statechange",
        "/on/blocks/reverted",
        "/on/transactions/included",
        "/on/transactions/removed",
        "/on/transactions/executed",
    ] {
        let response = demo.post(path, &[], b"").await;
        assert_error(&response, StatusCode::NOT_FOUND, "no dispatch handler");
    }
    let response = demo.post("/on/blocks/nope", &[], b"").await;
    assert_error(&response, StatusCode::NOT_FOUND, "unknown topic");
}

#[tokio::test]
async fn a_subscriber_receives_the_chain_events() {
    let mut demo = Demo::new();
    let session = demo
        .node
        .handle_upgrade(std::time::Instant::now(), "/on", &HeaderMap::new(), None)
        .expect("a session");
    let mut headers = HeaderMap::new();
    headers.insert(
        "rusk-session-id",
        HeaderValue::from_str(&session.id.to_string()).expect("header"),
    );
    for path in [
        "/on/blocks/accepted",
        &format!("/on/contracts:{STAKE_CONTRACT}/reward"),
    ] {
        let Decision::Respond(response) = demo.node.handle_request(&Method::GET, path, &headers)
        else {
            panic!("GET reads no body");
        };
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let events = demo.chain.lock().tick(2000);
    let delivered: usize = events
        .iter()
        .map(|e| demo.node.publish(e).expect("encodes").receivers)
        .sum();
    assert_eq!(delivered, 2);
    let mut frames = Vec::new();
    session.outbox.try_next(usize::MAX, &mut frames);
    let frame = rues_core::rues_wire::Frame::decode(&frames[0]).expect("a valid frame");
    assert_eq!(
        frame.headers().get("Rusk-Origin"),
        Some(demo.chain.lock().tip().hash().to_string().as_str())
    );
}
