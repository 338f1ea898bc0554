//! `driver:<id>/<method>[:<target>]` over real HTTP, on the payloads the
//! chain really emits.

use rues_core::http::StatusCode;
use rues_demo::contracts::TRANSFER_CONTRACT;
use rues_demo::params::{LUX_PER_DUSK, demo_account};
use rues_demo::{Transaction, address};
use serde_json::json;

use crate::api::{Demo, content_type, stake_id, transfer_id};
use crate::support::account;

#[tokio::test]
async fn get_schema_and_get_version_describe_the_driver() {
    let demo = Demo::start().await;
    let answer = demo
        .post(
            &format!("/on/driver:{}/get_schema", transfer_id()),
            &[],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(content_type(&answer), "application/json");
    let schema = answer.json();
    assert_eq!(schema["contract"], json!(TRANSFER_CONTRACT));
    let functions: Vec<&str> = schema["functions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        functions,
        ["balance", "account", "chain_id", "leaves_from_height"]
    );
    assert_eq!(schema["events"][0]["name"], "moonlight");
    let schema = demo
        .post(&format!("/on/driver:{}/get_schema", stake_id()), &[], b"")
        .await
        .json();
    let events: Vec<&str> = schema["events"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(events, ["stake", "reward"]);
    let answer = demo
        .post(&format!("/on/driver:{}/get_version", stake_id()), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        content_type(&answer).starts_with("text/plain"),
        "{answer:?}"
    );
    assert_eq!(&answer.body[..], b"0.1.0");
}

#[tokio::test]
async fn encode_and_decode_input_are_inverse() {
    let demo = Demo::start().await;
    let who = demo_account(3);
    let json = format!("\"{}\"", address(&who));
    let path = format!("/on/driver:{}/encode_input_fn:balance", transfer_id());
    // Hex text by default, raw bytes when asked (rusk's rule for bytes).
    let answer = demo.post(&path, &[], json.as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], who.to_string().as_bytes());
    let answer = demo
        .post(
            &path,
            &[("accept", "application/octet-stream")],
            json.as_bytes(),
        )
        .await;
    assert_eq!(content_type(&answer), "application/octet-stream");
    assert_eq!(&answer.body[..], who.as_bytes());
    let path = format!("/on/driver:{}/decode_input_fn:balance", transfer_id());
    let answer = demo.post_binary(&path, who.as_bytes()).await;
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.json(), json!(address(&who)));
    // The same bytes as 0x hex text.
    let answer = demo.post(&path, &[], format!("0x{who}").as_bytes()).await;
    assert_eq!(answer.json(), json!(address(&who)));
}

#[tokio::test]
async fn decode_output_reads_what_the_contract_answers() {
    let demo = Demo::start().await;
    let who = demo_account(0);
    let query = format!("/on/contracts:{}/account", transfer_id());
    let output = demo.post_binary(&query, who.as_bytes()).await.body;
    assert_eq!(output.len(), 16);
    let path = format!("/on/driver:{}/decode_output_fn:account", transfer_id());
    let answer = demo.post_binary(&path, &output).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"balance": (1_000_000 * LUX_PER_DUSK).to_string(), "nonce": "0"})
    );
}

#[tokio::test]
async fn decode_event_reads_the_events_the_chain_publishes() {
    let demo = Demo::start().await;
    let (sender, receiver) = (demo_account(4), account(7));
    let tx = Transaction::builder()
        .sender(sender)
        .receiver(receiver)
        .value(42)
        .build()
        .expect("valid");
    demo.propagate(&tx);
    let events = demo.chain.lock().tick(2000);
    let payload = |topic: &str| {
        events
            .iter()
            .find(|e| e.path.topic().as_str() == topic)
            .map(|e| e.payload.clone())
            .unwrap_or_else(|| panic!("no {topic} event"))
    };
    let path = format!("/on/driver:{}/decode_event:moonlight", transfer_id());
    let answer = demo.post_binary(&path, &payload("moonlight")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"sender": address(&sender), "receiver": address(&receiver), "value": "42"})
    );
    let path = format!("/on/driver:{}/decode_event:reward", stake_id());
    let reward = demo.post_binary(&path, &payload("reward")).await.json();
    assert_eq!(reward["height"], "1");
    assert!(
        reward["account"].as_str().is_some_and(|a| a.len() > 40),
        "{reward}"
    );
}

#[tokio::test]
async fn undecodable_driver_input_is_422_and_unknown_names_404() {
    let demo = Demo::start().await;
    let t = transfer_id();
    let path = format!("/on/driver:{t}/decode_event:moonlight");
    let answer = demo.post_binary(&path, &[0; 71]).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "is 72 bytes, got 71");
    // Text that is not 0x hex is not bytes.
    let answer = demo.post(&path, &[], b"00ff-secret").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "0x-prefixed hex");
    assert!(!answer.error().contains("secret"));
    let path = format!("/on/driver:{t}/encode_input_fn:leaves_from_height");
    let answer = demo.post(&path, &[], b"[1,").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "must be JSON");
    let answer = demo.post(&path, &[], b"-3").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "unsigned 64-bit");
    // A method of the other contract, an unknown method, bad and unknown ids.
    let answer = demo
        .post(
            &format!("/on/driver:{}/encode_input_fn:balance", stake_id()),
            &[],
            b"null",
        )
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "has no function");
    let answer = demo
        .post(&format!("/on/driver:{t}/decode_event:nope"), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = demo
        .post(&format!("/on/driver:{t}/get_schemas"), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = demo.post("/on/driver:01/get_schema", &[], b"").await;
    answer.assert_error(StatusCode::BAD_REQUEST, "is not a contract id");
    let answer = demo
        .post(
            &format!("/on/driver:{}/get_schema", "f".repeat(64)),
            &[],
            b"",
        )
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "no contract");
}
