//! `account:<address>/status` over real HTTP.

use rues_core::http::StatusCode;
use rues_demo::params::{LUX_PER_DUSK, demo_account};
use rues_demo::{Transaction, address};
use serde_json::json;

use crate::api::{Demo, content_type};
use crate::support::account;

#[tokio::test]
async fn account_status_answers_a_genesis_accounts_balance_and_nonces() {
    let demo = Demo::start().await;
    let genesis = address(&demo_account(0));
    // Base58 has capitals: the core must hand the entity over as written.
    assert!(genesis.bytes().any(|b| b.is_ascii_uppercase()), "{genesis}");
    let answer = demo
        .post(&format!("/on/account:{genesis}/status"), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(
        answer.json(),
        json!({"balance": 1_000_000 * LUX_PER_DUSK, "nonce": 0, "next_nonce": 1})
    );
}

#[tokio::test]
async fn account_status_follows_transfers_and_skips_nonces_in_the_mempool() {
    let mut demo = Demo::start().await;
    let sender = demo_account(1);
    let path = format!("/on/account:{}/status", address(&sender));
    let tx = |nonce| {
        Transaction::builder()
            .sender(sender)
            .receiver(account(9))
            .value(5 * LUX_PER_DUSK)
            .nonce(nonce)
            .gas_price(2)
            .build()
            .expect("valid")
    };
    demo.propagate(&tx(1));
    demo.propagate(&tx(2));
    let pending = demo.post(&path, &[], b"").await.json();
    assert_eq!(pending["nonce"], 0);
    assert_eq!(
        pending["next_nonce"], 3,
        "nonces 1 and 2 are in the mempool"
    );
    demo.block();
    let after = demo.post(&path, &[], b"").await.json();
    let fees = 2 * 2 * 100_000;
    assert_eq!(
        after,
        json!({"balance": 1_000_000 * LUX_PER_DUSK - 10 * LUX_PER_DUSK - fees,
               "nonce": 2, "next_nonce": 3})
    );
    // The receiver, never seen before, now holds its start balance plus 10 DUSK.
    let receiver = demo
        .post(
            &format!("/on/account:{}/status", address(&account(9))),
            &[],
            b"",
        )
        .await
        .json();
    let initial = demo.chain.lock().config().initial_balance;
    assert_eq!(receiver["balance"], initial + 10 * LUX_PER_DUSK);
}

#[tokio::test]
async fn account_status_of_an_unseen_account_is_its_starting_state() {
    let demo = Demo::start().await;
    let initial = demo.chain.lock().config().initial_balance;
    let answer = demo
        .post(
            &format!("/on/account:{}/status", address(&account(0xee))),
            &[],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"balance": initial, "nonce": 0, "next_nonce": 1})
    );
}

#[tokio::test]
async fn account_status_refuses_malformed_addresses_without_echoing_them() {
    let demo = Demo::start().await;
    let genesis = address(&demo_account(0));
    let hex = demo_account(0).to_string();
    let cases = [
        ("0OIlsecret", "outside the base58 alphabet"),
        (hex.as_str(), "not hex"),
        ("2gsecret", "does not decode to 32 bytes"),
        (&genesis[..20], "does not decode to 32 bytes"),
        (
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "32 bytes",
        ),
    ];
    for (bad, needle) in cases {
        let answer = demo
            .post(&format!("/on/account:{bad}/status"), &[], b"")
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, needle);
        assert!(
            !answer.error().contains(bad),
            "{bad} echoed: {}",
            answer.error()
        );
    }
    // Case matters in base58: the lower-cased address is not the account.
    let lower = genesis.to_ascii_lowercase();
    let answer = demo
        .post(&format!("/on/account:{lower}/status"), &[], b"")
        .await;
    assert!(
        answer.status == StatusCode::BAD_REQUEST
            || answer.json()["balance"] != json!(1_000_000 * LUX_PER_DUSK),
        "{answer:?}"
    );
    // No address, or another topic: the registry's 404s.
    let answer = demo.post("/on/account/status", &[], b"").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = demo
        .post(&format!("/on/account:{genesis}/balance"), &[], b"")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}
