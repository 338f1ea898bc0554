//! Feeder queries (`Rusk-Feeder`) over real HTTP: the transfer contract's
//! `leaves_from_height` and the stake contract's `stakes`, read as a client
//! reads them, chunk by chunk, against the chain's own records.

use rues_core::http::StatusCode;
use rues_demo::contracts::STAKE_CONTRACT;
use rues_demo::params::{LUX_PER_DUSK, demo_account};
use rues_demo::{Transaction, address};
use serde_json::{Value, json};

use crate::api::{Demo, read_all, stake_id, transfer_id};
use crate::support::account;

const BINARY: (&str, &str) = ("content-type", "application/octet-stream");
const FEEDER: (&str, &str) = ("rusk-feeder", "1");

/// The 112-byte records the chain's blocks say `leaves_from_height` must
/// give from `from` on, computed here from the blocks, independently of the
/// node's feeder.
fn expected_transfers(demo: &Demo, from: u64) -> Vec<u8> {
    let chain = demo.chain.lock();
    let mut out = Vec::new();
    // Genesis's one transaction carries the genesis blob and moves nothing
    // (docs/demo-chain.md §2): it is no transfer.
    for block in chain.blocks().filter(|b| b.height() >= from.max(1)) {
        for t in &block.txs {
            if t.err.is_none() && *t.tx.receiver() != STAKE_CONTRACT {
                out.extend_from_slice(&block.height().to_le_bytes());
                out.extend_from_slice(t.id.as_bytes());
                out.extend_from_slice(t.tx.sender().as_bytes());
                out.extend_from_slice(t.tx.receiver().as_bytes());
                out.extend_from_slice(&t.tx.value().to_le_bytes());
            }
        }
    }
    out
}

/// A chain with 300 transfers over 3 blocks, a stake, and a failed
/// transfer (neither of the last two is a moonlight transfer).
fn busy_chain(demo: &mut Demo) {
    for nonce in 0..300u64 {
        let tx = Transaction::builder()
            .sender(demo_account(u8::try_from(nonce % 8).unwrap_or(0)))
            .receiver(account(u8::try_from(nonce % 5).unwrap_or(0) + 1))
            .value(1 + nonce)
            .nonce(nonce)
            .build()
            .expect("valid");
        demo.propagate(&tx);
    }
    let stake = Transaction::builder()
        .sender(demo_account(5))
        .receiver(STAKE_CONTRACT)
        .value(3 * LUX_PER_DUSK)
        .build()
        .expect("valid");
    demo.propagate(&stake);
    let broke = Transaction::builder()
        .sender(account(0xdd))
        .receiver(account(1))
        .value(u64::MAX / 2)
        .build()
        .expect("valid");
    demo.propagate(&broke);
    for _ in 0..5 {
        demo.block();
    }
}

#[tokio::test]
async fn leaves_from_height_streams_every_transfer_oldest_first() {
    let mut demo = Demo::start().await;
    busy_chain(&mut demo);
    let path = format!("/on/contracts:{}/leaves_from_height", transfer_id());
    let streamed = demo
        .stream(&path, &[BINARY, FEEDER], &0u64.to_le_bytes())
        .await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert_eq!(
        streamed.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    let body = read_all(streamed).await;
    let expected = expected_transfers(&demo, 0);
    assert_eq!(
        expected.len(),
        300 * 112,
        "the stake and the failure are no transfers"
    );
    assert_eq!(body, expected);
    // From height 2: only the blocks from there.
    let body = read_all(
        demo.stream(&path, &[BINARY, FEEDER], &2u64.to_le_bytes())
            .await,
    )
    .await;
    let expected = expected_transfers(&demo, 2);
    assert!(!expected.is_empty() && expected.len() < 300 * 112);
    assert_eq!(body, expected);
    // As hex text without the binary content type, as rusk answers.
    let body = read_all(demo.stream(&path, &[FEEDER], b"0x0000000000000000").await).await;
    assert_eq!(body, hex::encode(expected_transfers(&demo, 0)).as_bytes());
}

#[tokio::test]
async fn leaves_from_height_past_the_tip_is_an_empty_stream() {
    let mut demo = Demo::start().await;
    busy_chain(&mut demo);
    let tip = demo.chain.lock().tip().height();
    let path = format!("/on/contracts:{}/leaves_from_height", transfer_id());
    for from in [tip + 1, u64::MAX] {
        let streamed = demo
            .stream(&path, &[BINARY, FEEDER], &from.to_le_bytes())
            .await;
        assert_eq!(streamed.status, StatusCode::OK);
        assert_eq!(read_all(streamed).await, b"");
    }
}

#[tokio::test]
async fn leaves_from_height_in_json_is_a_streamed_array_of_records() {
    let mut demo = Demo::start().await;
    busy_chain(&mut demo);
    let path = format!("/on/contracts:{}/leaves_from_height", transfer_id());
    let streamed = demo
        .stream(
            &path,
            &[("content-type", "application/json"), FEEDER],
            b"\"3\"",
        )
        .await;
    assert_eq!(streamed.header("content-type"), Some("application/json"));
    let list: Value = serde_json::from_slice(&read_all(streamed).await).expect("JSON");
    let expected = expected_transfers(&demo, 3);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), expected.len() / 112);
    for (item, record) in list.iter().zip(expected.chunks(112)) {
        let le = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&record[range]);
            u64::from_le_bytes(bytes).to_string()
        };
        let id = rues_demo::Id::from_slice(&record[8..40]).expect("32 bytes");
        let sender = rues_demo::Id::from_slice(&record[40..72]).expect("32 bytes");
        assert_eq!(item["block_height"], json!(le(0..8)));
        assert_eq!(item["tx_id"], json!(id));
        assert_eq!(item["sender"], json!(address(&sender)));
        assert_eq!(item["value"], json!(le(104..112)));
    }
}

#[tokio::test]
async fn feeders_need_the_feeder_header_and_their_arguments() {
    let demo = Demo::start().await;
    let path = format!("/on/contracts:{}/leaves_from_height", transfer_id());
    let answer = demo.post_binary(&path, &0u64.to_le_bytes()).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "Missing feed");
    let answer = demo.post(&path, &[BINARY, FEEDER], &[0; 4]).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "takes 8 bytes, got 4");
    let answer = demo
        .post(
            &path,
            &[("content-type", "application/json"), FEEDER],
            b"-1",
        )
        .await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unsigned 64-bit");
    let path = format!("/on/contracts:{}/stakes", stake_id());
    let answer = demo.post_binary(&path, b"").await;
    answer.assert_error(StatusCode::BAD_REQUEST, "Missing feed");
}

#[tokio::test]
async fn stakes_streams_every_stake_as_node_provisioners_lists_them() {
    let mut demo = Demo::start().await;
    busy_chain(&mut demo);
    let path = format!("/on/contracts:{}/stakes", stake_id());
    let streamed = demo.stream(&path, &[BINARY, FEEDER], b"").await;
    assert_eq!(streamed.status, StatusCode::OK);
    let body = read_all(streamed).await;
    let provisioners = demo.post("/on/node/provisioners", &[], b"").await.json();
    let provisioners = provisioners.as_array().expect("an array");
    assert_eq!(
        provisioners.len(),
        5,
        "4 genesis provisioners and the staker"
    );
    assert_eq!(body.len(), 5 * 56);
    let le = |bytes: &[u8]| {
        let mut out = [0u8; 8];
        out.copy_from_slice(bytes);
        u64::from_le_bytes(out)
    };
    let mut accounts = Vec::new();
    for (record, p) in body.chunks(56).zip(provisioners) {
        accounts.push(rues_demo::Id::from_slice(&record[..32]).expect("32 bytes"));
        assert_eq!(json!(le(&record[32..40])), p["amount"]);
        assert_eq!(json!(le(&record[40..48])), p["reward"]);
        assert_eq!(json!(le(&record[48..56])), p["eligibility"]);
    }
    assert!(accounts.contains(&demo_account(5)), "the staker is listed");
    assert!(
        accounts.windows(2).all(|w| w[0] < w[1]),
        "ordered by account"
    );
    // In JSON, the same stakes, decoded.
    let streamed = demo
        .stream(
            &path,
            &[("content-type", "application/json"), FEEDER],
            b"null",
        )
        .await;
    let list: Value = serde_json::from_slice(&read_all(streamed).await).expect("JSON");
    let staker = list
        .as_array()
        .expect("an array")
        .iter()
        .find(|s| s["account"] == json!(address(&demo_account(5))))
        .expect("the staker");
    assert_eq!(staker["amount"], json!((3 * LUX_PER_DUSK).to_string()));
}
