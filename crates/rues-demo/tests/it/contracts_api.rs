//! `contract:<id>/…`, `contract_owner:<id>/…` and JSON contract queries
//! over real HTTP.

use rues_core::http::StatusCode;
use rues_demo::params::{LUX_PER_DUSK, demo_account};
use rues_demo::{Transaction, address};
use serde_json::json;

use crate::api::{Demo, content_type, stake_id, transfer_id};

const GENESIS_STAKES: u64 = 4 * 1_000_000 * LUX_PER_DUSK;

#[tokio::test]
async fn contract_status_is_the_lux_the_contract_holds() {
    let mut demo = Demo::start().await;
    let answer = demo
        .post(&format!("/on/contract:{}/status", stake_id()), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.json(), json!({"balance": GENESIS_STAKES}));
    // A stake adds to it; ids are hex, so either case names the contract.
    let stake = Transaction::builder()
        .sender(demo_account(2))
        .receiver(rues_demo::contracts::STAKE_CONTRACT)
        .value(7 * LUX_PER_DUSK)
        .build()
        .expect("valid");
    demo.propagate(&stake);
    demo.block();
    let upper = stake_id().to_ascii_uppercase();
    let answer = demo
        .post(&format!("/on/contract:{upper}/status"), &[], b"")
        .await;
    assert_eq!(
        answer.json(),
        json!({"balance": GENESIS_STAKES + 7 * LUX_PER_DUSK})
    );
    let answer = demo
        .post(&format!("/on/contract:{}/status", transfer_id()), &[], b"")
        .await;
    assert_eq!(answer.json(), json!({"balance": 0}));
}

#[tokio::test]
async fn contract_endpoints_refuse_bad_and_unknown_ids() {
    let demo = Demo::start().await;
    let unknown = format!("03{}", "0".repeat(62));
    for topic in ["status", "metadata", "download_driver", "upload_driver"] {
        let answer = demo
            .post(&format!("/on/contract:xyz-secret/{topic}"), &[], b"")
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "is not a contract id");
        let answer = demo
            .post(&format!("/on/contract:{unknown}/{topic}"), &[], b"")
            .await;
        answer.assert_error(StatusCode::NOT_FOUND, "no contract");
    }
    let answer = demo
        .post(&format!("/on/contract_owner:{unknown}/owner"), &[], b"")
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "no contract");
    let answer = demo.post("/on/contract_owner:12/owner", &[], b"").await;
    answer.assert_error(StatusCode::BAD_REQUEST, "is not a contract id");
    let answer = demo
        .post(&format!("/on/contract:{}/nope", transfer_id()), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn contract_metadata_and_owner_have_rusks_shapes() {
    let demo = Demo::start().await;
    let nobody = address(&rues_demo::Id::ZERO);
    for id in [transfer_id(), stake_id()] {
        let answer = demo
            .post(&format!("/on/contract:{id}/metadata"), &[], b"")
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(content_type(&answer), "application/json");
        assert_eq!(
            answer.json(),
            json!({"owner": nobody, "driver_available": false,
                   "driver_signature": null, "created_at": null})
        );
        let answer = demo
            .post(
                &format!("/on/contract_owner:{id}/owner"),
                &[("accept", "application/octet-stream")],
                b"",
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(content_type(&answer), "application/octet-stream");
        assert_eq!(&answer.body[..], &[0u8; 32]);
    }
}

#[tokio::test]
async fn drivers_cannot_be_downloaded_or_uploaded_and_say_why() {
    let demo = Demo::start().await;
    let id = transfer_id();
    let answer = demo
        .post(&format!("/on/contract:{id}/download_driver"), &[], b"")
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "built into the node");
    assert!(answer.error().contains("get_schema"), "{}", answer.error());
    let answer = demo
        .post_binary(
            &format!("/on/contract:{id}/upload_driver"),
            b"\0asm\x01\0\0\0",
        )
        .await;
    answer.assert_error(StatusCode::FORBIDDEN, "does not accept driver uploads");
}

#[tokio::test]
async fn json_queries_go_through_the_data_driver() {
    let demo = Demo::start().await;
    let genesis = address(&demo_account(0));
    let path = format!("/on/contracts:{}/balance", transfer_id());
    let answer = demo.post_json(&path, &format!("\"{genesis}\"")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.json(), json!((1_000_000 * LUX_PER_DUSK).to_string()));
    let path = format!("/on/contracts:{}/account", transfer_id());
    let answer = demo.post_json(&path, &format!("\"{genesis}\"")).await;
    assert_eq!(
        answer.json(),
        json!({"balance": (1_000_000 * LUX_PER_DUSK).to_string(), "nonce": "0"})
    );
    let path = format!("/on/contracts:{}/chain_id", transfer_id());
    assert_eq!(demo.post_json(&path, "null").await.json(), json!(0));
    let path = format!("/on/contracts:{}/total_stake", stake_id());
    let answer = demo.post_json(&path, "").await;
    assert_eq!(answer.json(), json!(GENESIS_STAKES.to_string()));
    // The same query, binary, is the raw layout.
    let answer = demo.post_binary(&path, b"").await;
    assert_eq!(&answer.body[..], &GENESIS_STAKES.to_le_bytes());
    // A feeder-style call of an ordinary query streams the one reply.
    let answer = demo
        .post(
            &path,
            &[("content-type", "application/json"), ("rusk-feeder", "1")],
            b"null",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!([GENESIS_STAKES.to_string()]));
}

#[tokio::test]
async fn json_queries_refuse_what_the_driver_cannot_encode() {
    let demo = Demo::start().await;
    let path = format!("/on/contracts:{}/balance", transfer_id());
    let answer = demo.post_json(&path, "{\"secret\": ").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "must be JSON");
    let answer = demo.post_json(&path, "\"not-an-account-secret\"").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "base58");
    assert!(!answer.error().contains("secret"), "{}", answer.error());
    let answer = demo
        .post_json(&format!("/on/contracts:{}/nope", transfer_id()), "null")
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "leaves_from_height");
    let answer = demo
        .post_json(&format!("/on/contracts:{}/balance", "0".repeat(64)), "null")
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "no contract");
    // Binary arguments of the wrong length stay 422.
    let answer = demo.post_binary(&path, &[1, 2, 3]).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "32-byte account");
}
