//! Blobs, stats, `transactions/simulate`, `network/peers_location`,
//! `prover/prove` and the `blocks/gas-price` rounding: the chain with fake
//! time, then every endpoint over real HTTP (a `rues_warp::Server` on a
//! loopback port serving the demo registry), each error case included.

use std::sync::Arc;

use rues_core::http::{Method, StatusCode};
use rues_demo::blob::MAX_BLOB_DATA;
use rues_demo::params::{
    GAS_PER_BLOB, GENERATED_BLOB_EVERY, GENESIS_BLOB_DATA, MAX_BLOCK_BLOBS, MAX_MEMPOOL_BLOB_BYTES,
    TRANSFER_GAS, demo_account,
};
use rues_demo::{Blob, Chain, Id, SharedChain, Transaction, TxError, registry};
use rues_testkit::{Answer, TestServer};
use serde_json::{Value, json};

use crate::support::{account, quiet_chain, quiet_config, transfer};

/// The genesis blob's commitment and versioned hash, as docs/demo-chain.md
/// writes them (computed independently, with Python's hashlib, from the
/// documented derivation).
const GENESIS_COMMITMENT: &str = "b9d738645fa4c1c2ea755099bba9faec3d784ed4d41f219e16288c74681f3af4fefb278aa815fdceb4e258842a86871f";
const GENESIS_HASH: &str = "01c9f07c0e508b011a916b33d305fbe9746de78ff25b160eb47b8029826075c0";

fn hash(text: &str) -> Id {
    text.parse().expect("a 64-hex hash")
}

/// A transfer carrying one blob of `data`, with the gas its blob needs.
fn blob_tx(nonce: u64, data: &[u8]) -> Transaction {
    Transaction::builder()
        .sender(account(1))
        .receiver(account(2))
        .value(1_000)
        .nonce(nonce)
        .gas_limit(TRANSFER_GAS + GAS_PER_BLOB)
        .blob(data.to_vec())
        .build()
        .expect("valid")
}

// ---- the chain ----

#[test]
fn every_demo_chain_starts_with_the_documented_genesis_blob() {
    for (seed, chain_id) in [(1, 0), (99, 7)] {
        let mut config = quiet_config();
        config.seed = seed;
        config.chain_id = chain_id;
        let chain = Chain::new(config, 0).expect("valid");
        let genesis = chain.block(0).expect("genesis");
        assert_eq!(genesis.txs.len(), 1);
        let tx = &genesis.txs[0];
        assert_eq!(tx.gas_spent, 0);
        assert_eq!(tx.err, None);
        assert_eq!(tx.tx.sender(), &demo_account(0));
        let blobs = tx.tx.blobs();
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs[0].data(), GENESIS_BLOB_DATA);
        assert_eq!(hex::encode(blobs[0].commitment()), GENESIS_COMMITMENT);
        assert_eq!(blobs[0].versioned_hash().to_string(), GENESIS_HASH);
        assert_eq!(chain.blob(&hash(GENESIS_HASH)), Some(&blobs[0]));
        // Genesis is given: its transaction changed no balance.
        assert_eq!(
            chain.balance(&demo_account(0)),
            chain.balance(&demo_account(1))
        );
    }
}

#[test]
fn graphql_blob_hashes_name_the_blobs_a_transaction_carries() {
    let chain = Chain::new(quiet_config(), 0).expect("valid");
    let data = rues_demo::graphql_query_blocking(
        chain.snapshot(),
        "{ block(height: 0) { transactions { tx { blobHashes } } } }",
    )
    .expect("runs");
    assert_eq!(
        data["block"]["transactions"][0]["tx"]["blobHashes"],
        json!([GENESIS_HASH]),
        "{data}"
    );
    // A transaction without blobs has none: null, as rusk answers.
    let mut chain = chain;
    let plain = transfer(0);
    chain.propagate(&plain.encode()).expect("accepted");
    let query = format!(
        r#"{{ mempoolTx(hash: "{}") {{ blobHashes }} }}"#,
        plain.id()
    );
    let data = rues_demo::graphql_query_blocking(chain.snapshot(), &query).expect("runs");
    assert_eq!(data["mempoolTx"]["blobHashes"], Value::Null, "{data}");
}

#[test]
fn one_generated_transaction_in_ten_carries_a_blob_kept_once_in_a_block() {
    let mut config = quiet_config();
    config.tx_per_second = 10.0;
    let mut chain = Chain::new(config, 0).expect("valid");
    for step in 1..=10u64 {
        chain.tick(step * 2000);
    }
    let generated: Vec<&Transaction> = chain
        .blocks()
        .skip(1)
        .flat_map(|b| b.txs.iter().map(|t| &t.tx))
        .collect();
    assert!(generated.len() >= 190, "{} generated", generated.len());
    let with_blobs: Vec<&&Transaction> =
        generated.iter().filter(|t| !t.blobs().is_empty()).collect();
    let expected = generated.len() as u64 / GENERATED_BLOB_EVERY;
    assert!(
        (with_blobs.len() as u64).abs_diff(expected) <= 1,
        "{} of {} carry blobs",
        with_blobs.len(),
        generated.len()
    );
    for tx in &with_blobs {
        assert_eq!(tx.blobs().len(), 1);
        assert!(tx.blobs()[0].data().starts_with(b"rues demo blob #"));
        assert_eq!(
            chain.blob(tx.blobs()[0].versioned_hash()),
            Some(&tx.blobs()[0])
        );
    }
    // Genesis's and one per blob transaction (each generated blob differs).
    assert_eq!(chain.blob_count(), with_blobs.len() + 1);
}

#[test]
fn a_blob_is_served_from_its_block_until_the_block_is_pruned() {
    let mut config = quiet_config();
    config.history = 5;
    let mut chain = Chain::new(config, 0).expect("valid");
    let tx = blob_tx(0, b"pruned later");
    let blob = tx.blobs()[0].clone();
    chain.propagate(&tx.encode()).expect("valid");
    assert_eq!(chain.blob(blob.versioned_hash()), None, "not while pending");
    chain.tick(2000);
    assert_eq!(chain.tip().txs[0].gas_spent, TRANSFER_GAS + GAS_PER_BLOB);
    assert_eq!(chain.blob(blob.versioned_hash()), Some(&blob));
    for step in 2..=20u64 {
        chain.tick(step * 2000);
    }
    assert!(chain.block(1).is_none());
    assert_eq!(chain.blob(blob.versioned_hash()), None);
    assert_eq!(chain.blob(&hash(GENESIS_HASH)), None, "genesis pruned too");
    assert_eq!(chain.blob_count(), 0);
}

#[test]
fn a_blob_survives_its_block_being_reverted_and_produced_again() {
    let mut config = quiet_config();
    config.revert_one_in = 1; // every revertible tip is reverted
    config.history = 5;
    let mut chain = Chain::new(config, 0).expect("valid");
    let tx = blob_tx(0, b"reverted");
    let blob = tx.blobs()[0].clone();
    chain.propagate(&tx.encode()).expect("valid");
    chain.tick(2000);
    let events = chain.tick(4000);
    assert!(
        events.iter().any(|e| e.path.topic().as_str() == "reverted"),
        "block 1 was reverted"
    );
    assert_eq!(chain.blob(blob.versioned_hash()), Some(&blob));
    assert_eq!(chain.blob_count(), 2);
    // Reverted then produced again, it is counted once: pruning its block
    // forgets it.
    for step in 3..=30u64 {
        chain.tick(step * 2000);
    }
    assert!(chain.block(1).is_none());
    assert_eq!(chain.blob(blob.versioned_hash()), None);
}

#[test]
fn a_block_takes_at_most_six_blobs() {
    let mut chain = quiet_chain();
    for nonce in 0..=MAX_BLOCK_BLOBS as u64 {
        chain
            .propagate(&blob_tx(nonce, &nonce.to_le_bytes()).encode())
            .expect("valid");
    }
    chain.tick(2000);
    assert_eq!(chain.tip().txs.len(), MAX_BLOCK_BLOBS);
    assert_eq!(chain.mempool().count(), 1);
    chain.tick(4000);
    assert_eq!(chain.tip().txs.len(), 1);
}

#[test]
fn a_blob_transaction_without_gas_for_its_blobs_is_refused() {
    let mut chain = quiet_chain();
    let tx = Transaction::builder()
        .blob(b"x".to_vec())
        .blob(b"y".to_vec())
        .build()
        .expect("valid");
    let error = chain.propagate(&tx.encode()).expect_err("refused");
    assert_eq!(
        error,
        TxError::BlobGas {
            blobs: 2,
            needed: 2 * GAS_PER_BLOB,
            got: 500_000
        }
    );
    assert!(error.to_string().starts_with("not enough gas for blobs"));
}

#[test]
fn stats_count_accounts_and_transactions_of_finalized_blocks() {
    let mut chain = quiet_chain();
    // Genesis: demo accounts 0 and 1, one transaction.
    assert_eq!((chain.account_count(), chain.tx_count()), (2, 1));
    chain.propagate(&transfer(0).encode()).expect("valid");
    let stake = Transaction::builder()
        .sender(account(3))
        .receiver(rues_demo::contracts::STAKE_CONTRACT)
        .value(5)
        .build()
        .expect("valid");
    chain.propagate(&stake.encode()).expect("valid");
    chain.tick(2000);
    // Accepted, not finalized yet: not counted.
    assert_eq!((chain.account_count(), chain.tx_count()), (2, 1));
    for step in 2..=4u64 {
        chain.tick(step * 2000);
    }
    // Accounts 1 and 2 (the transfer), 3 (the stake; the stake contract is
    // not an account).
    assert_eq!((chain.account_count(), chain.tx_count()), (5, 3));
}

#[test]
fn simulate_says_what_execution_would_do_and_changes_nothing() {
    let mut chain = quiet_chain();
    let ok = chain.simulate(&transfer(0).encode()).expect("valid");
    assert_eq!((ok.gas_spent, ok.err), (TRANSFER_GAS, None));
    let low = Transaction::builder().gas_limit(10).build().expect("valid");
    let out_of_gas = chain.simulate(&low.encode()).expect("valid");
    assert_eq!(out_of_gas.gas_spent, 10);
    assert!(
        out_of_gas
            .err
            .as_deref()
            .is_some_and(|e| e.starts_with("out of gas")),
        "{out_of_gas:?}"
    );
    let rich = Transaction::builder()
        .value(u64::MAX / 2)
        .build()
        .expect("valid");
    let poor = chain.simulate(&rich.encode()).expect("valid");
    assert_eq!(
        poor.err.as_deref(),
        Some(rues_demo::params::INSUFFICIENT_BALANCE)
    );
    let with_blob = chain.simulate(&blob_tx(0, b"b").encode()).expect("valid");
    assert_eq!(with_blob.gas_spent, TRANSFER_GAS + GAS_PER_BLOB);
    assert!(matches!(chain.simulate(b"nope"), Err(TxError::Decode(_))));
    assert!(chain.tick(0).is_empty(), "no event queued");
    assert_eq!(chain.mempool().count(), 0);
    // A transaction already in a block can still be simulated.
    chain.propagate(&transfer(0).encode()).expect("valid");
    chain.tick(2000);
    assert!(chain.simulate(&transfer(0).encode()).is_ok());
}

// ---- over HTTP ----

/// A loopback server over a quiet chain whose time the test drives.
async fn serve() -> (TestServer, Arc<SharedChain>) {
    let chain = SharedChain::new(Chain::new(quiet_config(), 0).expect("valid"));
    let server = TestServer::builder()
        .registry(registry(Arc::clone(&chain)))
        .start()
        .await;
    (server, chain)
}

async fn post(server: &TestServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    server.http(Method::POST, path, headers, body).await
}

#[track_caller]
fn json_ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.json()
}

#[tokio::test]
async fn blobs_answer_by_commitment_and_by_hash_as_hex_raw_or_json() {
    let (server, _chain) = serve().await;
    let genesis = Blob::new(GENESIS_BLOB_DATA.to_vec()).expect("small");
    let sidecar = genesis.sidecar_bytes();
    assert_eq!(sidecar.len(), 48 + 48 + GENESIS_BLOB_DATA.len());
    let by_commitment = format!("/on/blobs:{GENESIS_COMMITMENT}/commitment");
    let by_hash = format!("/on/blobs:{GENESIS_HASH}/hash");
    for path in [&by_commitment, &by_hash] {
        // No content type: hex text, as every binary reply.
        let text = post(&server, path, &[], b"").await;
        assert_eq!(text.status, StatusCode::OK, "{text:?}");
        assert_eq!(text.body.as_ref(), hex::encode(&sidecar).as_bytes());
        let raw = post(
            &server,
            path,
            &[("accept", "application/octet-stream")],
            b"",
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK);
        assert_eq!(raw.header("content-type"), Some("application/octet-stream"));
        assert_eq!(raw.body.as_ref(), sidecar.as_slice());
        let json = post(&server, path, &[("content-type", "application/json")], b"").await;
        assert_eq!(
            json_ok(&json),
            json!({
                "commitment": GENESIS_COMMITMENT,
                "proof": "00".repeat(48),
                "data": hex::encode(GENESIS_BLOB_DATA),
            })
        );
    }
    // Hex in capitals (the core lower-cases hex entities) or with 0x.
    let upper = format!("/on/blobs:{}/hash", GENESIS_HASH.to_uppercase());
    let answer = post(
        &server,
        &upper,
        &[("content-type", "application/json")],
        b"",
    )
    .await;
    assert_eq!(json_ok(&answer)["commitment"], GENESIS_COMMITMENT);
    let prefixed = format!("/on/blobs:0x{GENESIS_COMMITMENT}/commitment");
    let answer = post(
        &server,
        &prefixed,
        &[("content-type", "application/json")],
        b"",
    )
    .await;
    assert_eq!(json_ok(&answer)["data"], hex::encode(GENESIS_BLOB_DATA));
}

#[tokio::test]
async fn a_propagated_blob_is_served_once_its_block_is_made() {
    let (server, chain) = serve().await;
    let tx = blob_tx(0, b"over http");
    let blob = tx.blobs()[0].clone();
    let path = format!("/on/blobs:{}/hash", blob.versioned_hash());
    let answer = post(
        &server,
        "/on/transactions/propagate",
        &[("content-type", "application/octet-stream")],
        &tx.encode(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    post(&server, &path, &[], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Blob not found");
    chain.lock().tick(2000);
    let answer = post(&server, &path, &[("content-type", "application/json")], b"").await;
    assert_eq!(json_ok(&answer)["data"], hex::encode(b"over http"));
    let by_commitment = format!("/on/blobs:{}/commitment", hex::encode(blob.commitment()));
    let answer = post(
        &server,
        &by_commitment,
        &[("accept", "application/octet-stream")],
        b"",
    )
    .await;
    assert_eq!(answer.body.as_ref(), blob.sidecar_bytes().as_slice());
}

#[tokio::test]
async fn blob_requests_that_name_no_blob_are_refused_without_echoing_them() {
    let (server, _chain) = serve().await;
    let cases = [
        ("/on/blobs:zz/hash", StatusCode::BAD_REQUEST, "hash not hex"),
        (
            "/on/blobs:abc/hash",
            StatusCode::BAD_REQUEST,
            "hash not hex",
        ),
        (
            "/on/blobs:abcd/hash",
            StatusCode::BAD_REQUEST,
            "hash length",
        ),
        (
            "/on/blobs:zz/commitment",
            StatusCode::BAD_REQUEST,
            "commitment not hex",
        ),
        (
            "/on/blobs:abcd/commitment",
            StatusCode::BAD_REQUEST,
            "commitment length",
        ),
        ("/on/blobs/hash", StatusCode::NOT_FOUND, "entity"),
    ];
    for (path, status, needle) in cases {
        post(&server, path, &[], b"")
            .await
            .assert_error(status, needle);
    }
    let missing_hash = format!("/on/blobs:{}/hash", "0f".repeat(32));
    let missing_commitment = format!("/on/blobs:{}/commitment", "0f".repeat(48));
    for (path, named_by) in [
        (&missing_hash, "that versioned hash"),
        (&missing_commitment, "that commitment"),
    ] {
        let answer = post(&server, path, &[], b"").await;
        answer.assert_error(StatusCode::NOT_FOUND, "Blob not found");
        assert!(answer.error().ends_with(named_by), "{}", answer.error());
        assert!(!answer.error().contains("0f0f"), "{}", answer.error());
    }
    let long = format!("/on/blobs:{}/hash", "q".repeat(200));
    let answer = post(&server, &long, &[], b"").await;
    answer.assert_error(StatusCode::BAD_REQUEST, "hash not hex");
    assert!(!answer.error().contains("qqqq"), "{}", answer.error());
}

#[tokio::test]
async fn stats_answer_rusks_shapes() {
    let (server, chain) = serve().await;
    let accounts = post(&server, "/on/stats/account_count", &[], b"").await;
    assert_eq!(json_ok(&accounts), json!({"public_accounts": 2}));
    let txs = post(&server, "/on/stats/tx_count", &[], b"").await;
    assert_eq!(
        json_ok(&txs),
        json!({"public": 1, "shielded": 0, "total": 1})
    );
    chain.propagate(&transfer(0).encode()).expect("valid");
    for step in 1..=4u64 {
        chain.lock().tick(step * 2000);
    }
    let accounts = post(&server, "/on/stats/account_count", &[], b"").await;
    assert_eq!(json_ok(&accounts), json!({"public_accounts": 4}));
    let txs = post(&server, "/on/stats/tx_count", &[], b"").await;
    assert_eq!(
        json_ok(&txs),
        json!({"public": 2, "shielded": 0, "total": 2})
    );
    post(&server, "/on/stats/block_count", &[], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "topic");
    post(&server, "/on/stats:x/tx_count", &[], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "entity");
}

#[tokio::test]
async fn simulate_answers_gas_and_error_without_touching_the_mempool() {
    let (server, chain) = serve().await;
    let binary = [("content-type", "application/octet-stream")];
    let ok = post(
        &server,
        "/on/transactions/simulate",
        &binary,
        &transfer(0).encode(),
    )
    .await;
    assert_eq!(
        json_ok(&ok),
        json!({"gas-spent": TRANSFER_GAS, "error": null})
    );
    // As hex text too, like propagate.
    let text = format!("0x{}", hex::encode(transfer(1).encode()));
    let ok = post(&server, "/on/transactions/simulate", &[], text.as_bytes()).await;
    assert_eq!(json_ok(&ok)["gas-spent"], TRANSFER_GAS);
    let low = Transaction::builder().gas_limit(7).build().expect("valid");
    let failing = post(&server, "/on/transactions/simulate", &binary, &low.encode()).await;
    let failing = json_ok(&failing);
    assert_eq!(failing["gas-spent"], 7);
    assert!(
        failing["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("out of gas")),
        "{failing}"
    );
    assert_eq!(
        chain.lock().mempool().count(),
        0,
        "nothing entered the mempool"
    );
    assert!(chain.lock().tick(0).is_empty(), "no event was queued");
    post(&server, "/on/transactions/simulate", &binary, b"garbage")
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a demo-chain transaction",
        );
    let other_chain = Transaction::builder().chain_id(9).build().expect("valid");
    post(
        &server,
        "/on/transactions/simulate",
        &binary,
        &other_chain.encode(),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "chain 9");
    let no_blob_gas = Transaction::builder()
        .blob(b"b".to_vec())
        .build()
        .expect("valid");
    post(
        &server,
        "/on/transactions/simulate",
        &binary,
        &no_blob_gas.encode(),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "not enough gas for blobs");
}

#[tokio::test]
async fn peers_location_places_every_fake_peer() {
    let (server, _chain) = serve().await;
    let answer = post(&server, "/on/network/peers_location", &[], b"").await;
    let list = json_ok(&answer);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), rues_demo::registry::PEERS.len());
    for entry in list {
        let object = entry.as_object().expect("an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["city", "country", "countryCode", "lat", "lon"]);
        assert!(
            entry["lat"]
                .as_f64()
                .is_some_and(|l| (-90.0..=90.0).contains(&l))
        );
        assert!(
            entry["lon"]
                .as_f64()
                .is_some_and(|l| (-180.0..=180.0).contains(&l))
        );
        assert_eq!(entry["countryCode"].as_str().map(str::len), Some(2));
    }
    assert_eq!(list[0]["city"], "Amsterdam");
    post(&server, "/on/network:x/peers_location", &[], b"")
        .await
        .assert_error(StatusCode::NOT_FOUND, "entity");
}

#[tokio::test]
async fn prover_prove_is_not_implemented_and_says_why() {
    let (server, _chain) = serve().await;
    for body in [&b""[..], b"0x00112233"] {
        post(&server, "/on/prover/prove", &[], body)
            .await
            .assert_error(StatusCode::NOT_IMPLEMENTED, "no prover");
    }
}

#[tokio::test]
async fn gas_price_rounds_its_average_up_as_rusk_does() {
    let (server, chain) = serve().await;
    for (nonce, price) in [(0, 1), (1, 2), (2, 2)] {
        let tx = Transaction::builder()
            .nonce(nonce)
            .gas_price(price)
            .build()
            .expect("valid");
        chain.propagate(&tx.encode()).expect("valid");
    }
    let answer = post(&server, "/on/blocks/gas-price", &[], b"").await;
    // 5 / 3 rounds up to 2.
    assert_eq!(
        json_ok(&answer),
        json!({"average": 2, "max": 2, "median": 2, "min": 1})
    );
    let answer = post(&server, "/on/blocks/gas-price", &[], b"2").await;
    assert_eq!(
        json_ok(&answer),
        json!({"average": 2, "max": 2, "median": 2, "min": 2})
    );
}

#[tokio::test]
async fn the_mempool_holds_a_bounded_amount_of_blob_data() {
    let (server, chain) = serve().await;
    let full_blob = |nonce: u64| {
        let mut data = vec![0u8; MAX_BLOB_DATA];
        data[..8].copy_from_slice(&nonce.to_le_bytes());
        blob_tx(nonce, &data)
    };
    let fits = (MAX_MEMPOOL_BLOB_BYTES / MAX_BLOB_DATA) as u64;
    for nonce in 0..fits {
        chain.propagate(&full_blob(nonce).encode()).expect("room");
    }
    let binary = [("content-type", "application/octet-stream")];
    post(
        &server,
        "/on/transactions/propagate",
        &binary,
        &full_blob(fits).encode(),
    )
    .await
    .assert_error(StatusCode::SERVICE_UNAVAILABLE, "bytes of blobs");
    // A transaction without blobs still enters.
    let answer = post(
        &server,
        "/on/transactions/propagate",
        &binary,
        &transfer(0).encode(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    // A block takes six blobs: room for six more.
    chain.lock().tick(2000);
    for nonce in fits..fits + MAX_BLOCK_BLOBS as u64 {
        chain
            .propagate(&full_blob(nonce).encode())
            .expect("room again");
    }
    assert!(matches!(
        chain.propagate(&full_blob(fits + 100).encode()),
        Err(TxError::MempoolBlobsFull { .. })
    ));
}

#[tokio::test]
async fn node_info_names_the_gas_each_blob_spends() {
    let (server, _chain) = serve().await;
    let info = post(&server, "/on/node/info", &[], b"").await;
    assert_eq!(json_ok(&info)["vm_config"]["gas_per_blob"], GAS_PER_BLOB);
}
