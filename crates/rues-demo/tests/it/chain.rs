//! The simulated chain, driven with fake time.

use rues_demo::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT};
use rues_demo::params::{BLOCK_REWARD, DEMO_ACCOUNTS, INSUFFICIENT_BALANCE, demo_account};
use rues_demo::{Chain, ChainConfig, Finality, Id, Transaction, TxError, TxStatus};
use serde_json::json;

use crate::support::{account, header, json, paths, position, quiet_chain, quiet_config, transfer};

#[test]
fn blocks_come_every_block_time_with_increasing_heights_and_linked_hashes() {
    let mut chain = quiet_chain();
    let genesis = chain.tip().clone();
    assert_eq!(genesis.height(), 0);
    assert_eq!(genesis.finality, Finality::Finalized);
    assert_eq!(chain.poll_timeout(), 2000);
    assert!(chain.tick(1999).is_empty(), "nothing before the block time");
    let mut prev = *genesis.hash();
    for height in 1..=10u64 {
        let events = chain.tick(height * 2000);
        let tip = chain.tip();
        assert_eq!(tip.height(), height);
        assert_eq!(tip.header.prev_block_hash, prev);
        assert_eq!(tip.header.timestamp, height * 2);
        assert_ne!(*tip.hash(), prev);
        assert_eq!(chain.block(height).map(|b| *b.hash()), Some(*tip.hash()));
        assert_eq!(
            chain.block_by_hash(tip.hash()).map(|b| b.height()),
            Some(height)
        );
        let accepted = format!("/on/blocks:{}/accepted", tip.hash());
        assert_eq!(paths(&events).last(), Some(&accepted));
        let body = json(events.last().expect("accepted"));
        assert_eq!(body["header"]["height"], height);
        assert_eq!(body["header"]["hash"], tip.hash().to_string());
        assert_eq!(body["header"]["prev_block_hash"], prev.to_string());
        assert_eq!(body["header"]["timestamp"], height * 2);
        assert_eq!(body["transactions"], json!([]));
        assert_eq!(
            events.last().map(|e| e.content_type.as_str()),
            Some("application/json")
        );
        prev = *tip.hash();
        assert_eq!(chain.poll_timeout(), (height + 1) * 2000);
    }
    assert_eq!(chain.blocks().count(), 11);
}

#[test]
fn a_late_tick_catches_up_at_most_eight_blocks_then_resumes_from_now() {
    let mut chain = quiet_chain();
    chain.tick(100 * 2000);
    assert_eq!(chain.tip().height(), 8);
    assert_eq!(chain.poll_timeout(), 100 * 2000 + 2000);
    // Time going backwards counts as the last time.
    assert!(chain.tick(5).is_empty());
    assert_eq!(chain.now_ms(), 100 * 2000);
}

#[test]
fn finality_sends_confirmed_then_finalized_for_each_block() {
    let mut chain = quiet_chain();
    let mut changes = Vec::new();
    for height in 1..=6u64 {
        for event in chain.tick(height * 2000) {
            if event.path.topic().as_str() == "statechange" {
                let body = json(&event);
                let entity = event
                    .path
                    .entity()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                changes.push((entity, body["state"].clone(), body["atHeight"].clone()));
            }
        }
    }
    let hash = |h: u64| {
        chain
            .block(h)
            .map(|b| b.hash().to_string())
            .unwrap_or_default()
    };
    // confirmed after 1 block on top, finalized after 3 (the defaults).
    let expected: Vec<_> = vec![
        (hash(1), json!("confirmed"), json!(2)),
        (hash(2), json!("confirmed"), json!(3)),
        (hash(1), json!("finalized"), json!(4)),
        (hash(3), json!("confirmed"), json!(4)),
        (hash(2), json!("finalized"), json!(5)),
        (hash(4), json!("confirmed"), json!(5)),
        (hash(3), json!("finalized"), json!(6)),
        (hash(5), json!("confirmed"), json!(6)),
    ];
    assert_eq!(changes, expected);
    assert_eq!(
        chain.block(3).map(|b| b.finality),
        Some(Finality::Finalized)
    );
    assert_eq!(
        chain.block(5).map(|b| b.finality),
        Some(Finality::Confirmed)
    );
    assert_eq!(chain.block(6).map(|b| b.finality), Some(Finality::Accepted));
}

#[test]
fn a_propagated_tx_is_included_then_executed_removed_and_accepted_in_order() {
    let mut chain = quiet_chain();
    let tx = transfer(0);
    let id = chain.propagate(&tx.encode()).expect("valid");
    assert_eq!(id, tx.id());
    assert!(matches!(chain.transaction(&id), Some(TxStatus::Pending(_))));
    assert_eq!(chain.poll_timeout(), 0, "the included event is due now");

    let events = chain.tick(0);
    assert_eq!(
        paths(&events),
        vec![format!("/on/transactions:{id}/included")]
    );
    let included = json(&events[0]);
    assert_eq!(included["id"], id.to_string());
    assert_eq!(included["type"], "moonlight");
    assert_eq!(included["sender"], account(1).to_string());
    assert_eq!(included["receiver"], account(2).to_string());
    assert_eq!(included["value"], 1000);
    assert_eq!(included["fee"]["gas_price"], "3");
    assert_eq!(included["memo"], serde_json::Value::Null);

    let events = chain.tick(2000);
    let block = chain.tip().clone();
    let executed = position(&events, &format!("/on/transactions:{id}/executed"));
    let removed = position(&events, &format!("/on/transactions:{id}/removed"));
    let accepted = position(&events, &format!("/on/blocks:{}/accepted", block.hash()));
    let moonlight = position(
        &events,
        &format!("/on/contracts:{TRANSFER_CONTRACT}/moonlight"),
    );
    assert!(moonlight < executed && executed < removed && removed < accepted);
    assert_eq!(accepted, events.len() - 1);

    let body = json(&events[executed]);
    assert_eq!(body["block_height"], 1);
    assert_eq!(body["gas_spent"], 100_000);
    assert_eq!(body["err"], serde_json::Value::Null);
    assert_eq!(body["inner"]["id"], id.to_string());
    assert!(events[removed].payload.is_empty());
    assert_eq!(events[removed].content_type, "application/octet-stream");
    assert_eq!(
        json(&events[accepted])["transactions"],
        json!([id.to_string()])
    );

    // The transfer contract's binary event: sender, receiver, value.
    let event = &events[moonlight];
    assert_eq!(event.content_type, "application/octet-stream");
    assert_eq!(header(event, "Rusk-Origin"), Some(id.to_string().as_str()));
    let mut expected = account(1).as_bytes().to_vec();
    expected.extend_from_slice(account(2).as_bytes());
    expected.extend_from_slice(&1000u64.to_le_bytes());
    assert_eq!(event.payload.as_ref(), expected.as_slice());

    match chain.transaction(&id) {
        Some(TxStatus::Executed { block: b, tx: t }) => {
            assert_eq!(b.height(), 1);
            assert_eq!(t.err, None);
        }
        other => panic!("not executed: {other:?}"),
    }
    assert_eq!(chain.mempool().count(), 0);
    assert_eq!(
        chain.balance(&account(2)),
        ChainConfig::default().initial_balance + 1000
    );
    assert_eq!(
        chain.balance(&account(1)),
        ChainConfig::default().initial_balance - 1000 - 100_000 * 3
    );
    assert_eq!(chain.nonce(&account(1)), 1);
}

#[test]
fn every_block_rewards_its_generator_through_the_stake_contract() {
    let mut chain = quiet_chain();
    let events = chain.tick(2000);
    let block = chain.tip().clone();
    let at = position(&events, &format!("/on/contracts:{STAKE_CONTRACT}/reward"));
    let event = &events[at];
    assert_eq!(
        header(event, "Rusk-Origin"),
        Some(block.hash().to_string().as_str())
    );
    assert_eq!(&event.payload[..32], block.header.generator.as_bytes());
    assert_eq!(&event.payload[32..40], &BLOCK_REWARD.to_le_bytes());
    assert_eq!(&event.payload[40..48], &1u64.to_le_bytes());
    let stake = chain.stake(&block.header.generator).expect("a provisioner");
    assert_eq!(stake.reward, BLOCK_REWARD);
}

#[test]
fn a_stake_transaction_stakes_and_emits_a_stake_event() {
    let mut chain = quiet_chain();
    let tx = Transaction::builder()
        .sender(account(9))
        .receiver(STAKE_CONTRACT)
        .value(5_000)
        .build()
        .expect("valid");
    let id = chain.propagate(&tx.encode()).expect("valid");
    let events = chain.tick(2000);
    let at = position(&events, &format!("/on/contracts:{STAKE_CONTRACT}/stake"));
    assert_eq!(
        header(&events[at], "Rusk-Origin"),
        Some(id.to_string().as_str())
    );
    assert_eq!(events[at].payload.len(), 48);
    let executed = json(&events[position(&events, &format!("/on/transactions:{id}/executed"))]);
    assert_eq!(executed["inner"]["call"]["fn_name"], "stake");
    let stake = chain.stake(&account(9)).expect("staked");
    assert_eq!(stake.amount, 5_000);
    assert_eq!(stake.eligibility, 1 + rues_demo::params::STAKE_MATURITY);
    assert!(chain.provisioners().iter().any(|p| p.account == account(9)));
}

#[test]
fn failing_transactions_are_executed_with_an_error_and_still_pay() {
    let mut config = quiet_config();
    config.initial_balance = 1_000_000;
    let mut chain = Chain::new(config, 0).expect("valid");
    let too_much = Transaction::builder()
        .sender(account(1))
        .value(10_000_000)
        .build()
        .expect("valid");
    let out_of_gas = Transaction::builder()
        .sender(account(3))
        .gas_limit(10)
        .build()
        .expect("valid");
    let a = chain.propagate(&too_much.encode()).expect("valid");
    let b = chain.propagate(&out_of_gas.encode()).expect("valid");
    let events = chain.tick(2000);
    let first = json(&events[position(&events, &format!("/on/transactions:{a}/executed"))]);
    assert_eq!(first["err"], INSUFFICIENT_BALANCE);
    let second = json(&events[position(&events, &format!("/on/transactions:{b}/executed"))]);
    assert!(
        second["err"]
            .as_str()
            .is_some_and(|e| e.contains("out of gas"))
    );
    assert_eq!(second["gas_spent"], 10);
    assert_eq!(chain.balance(&account(1)), 1_000_000 - 100_000);
    assert_eq!(chain.balance(&account(3)), 1_000_000 - 10);
    assert!(!paths(&events).iter().any(|p| p.contains("moonlight")));
}

#[test]
fn propagate_refuses_bad_and_duplicate_transactions() {
    let mut chain = quiet_chain();
    assert!(matches!(chain.propagate(b"nope"), Err(TxError::Decode(_))));
    let other_chain = Transaction::builder().chain_id(9).build().expect("valid");
    assert_eq!(
        chain.propagate(&other_chain.encode()),
        Err(TxError::WrongChain {
            expected: 0,
            got: 9
        })
    );
    let free = Transaction::builder().gas_price(0).build().expect("valid");
    assert_eq!(chain.propagate(&free.encode()), Err(TxError::ZeroGasPrice));
    for limit in [0, rues_demo::params::BLOCK_GAS_LIMIT + 1] {
        let tx = Transaction::builder()
            .gas_limit(limit)
            .build()
            .expect("valid");
        assert_eq!(
            chain.propagate(&tx.encode()),
            Err(TxError::GasLimit { got: limit })
        );
    }
    let tx = transfer(0);
    let id = chain.propagate(&tx.encode()).expect("first time");
    let dup = chain.propagate(&tx.encode());
    assert_eq!(dup, Err(TxError::InMempool(id)));
    assert!(dup.is_err_and(|e| e.is_duplicate()));
    chain.tick(2000);
    assert_eq!(
        chain.preverify(&tx.encode()),
        Err(TxError::InBlock { id, height: 1 })
    );
    // preverify never adds anything.
    let fresh = transfer(1);
    assert_eq!(chain.preverify(&fresh.encode()), Ok(fresh.clone()));
    assert_eq!(chain.mempool().count(), 0);
}

#[test]
fn a_full_mempool_refuses_more() {
    let mut config = quiet_config();
    config.max_mempool = 2;
    let mut chain = Chain::new(config, 0).expect("valid");
    chain.propagate(&transfer(0).encode()).expect("room");
    chain.propagate(&transfer(1).encode()).expect("room");
    assert_eq!(
        chain.propagate(&transfer(2).encode()),
        Err(TxError::MempoolFull { max: 2 })
    );
}

#[test]
fn blocks_take_at_most_max_block_txs_oldest_first() {
    let mut config = quiet_config();
    config.max_block_txs = 2;
    let mut chain = Chain::new(config, 0).expect("valid");
    let ids: Vec<Id> = (0..3)
        .map(|n| chain.propagate(&transfer(n).encode()).expect("valid"))
        .collect();
    chain.tick(2000);
    assert_eq!(chain.tip().tx_ids().copied().collect::<Vec<_>>(), ids[..2]);
    chain.tick(4000);
    assert_eq!(chain.tip().tx_ids().copied().collect::<Vec<_>>(), ids[2..]);
}

#[test]
fn a_revert_sends_reverted_and_the_transactions_are_included_again() {
    let mut config = quiet_config();
    config.revert_one_in = 1; // revert the tip before every block
    let mut chain = Chain::new(config, 0).expect("valid");
    let id = chain.propagate(&transfer(0).encode()).expect("valid");
    chain.tick(2000);
    let first = chain.tip().clone();
    assert_eq!(first.height(), 1);
    assert_eq!(first.tx_ids().collect::<Vec<_>>(), vec![&id]);

    let events = chain.tick(4000);
    let reverted = position(&events, &format!("/on/blocks:{}/reverted", first.hash()));
    assert_eq!(reverted, 0);
    assert_eq!(json(&events[reverted]), json!({"atHeight": 1}));
    let again = position(&events, &format!("/on/transactions:{id}/included"));
    let executed = position(&events, &format!("/on/transactions:{id}/executed"));
    let second = chain.tip().clone();
    let accepted = position(&events, &format!("/on/blocks:{}/accepted", second.hash()));
    assert!(reverted < again && again < executed && executed < accepted);

    // The replacement is a new block at the same height, one iteration later.
    assert_eq!(second.height(), 1);
    assert_eq!(second.header.iteration, 1);
    assert_ne!(second.hash(), first.hash());
    assert_eq!(second.header.prev_block_hash, first.header.prev_block_hash);
    assert!(chain.block_by_hash(first.hash()).is_none());
    assert_eq!(second.tx_ids().collect::<Vec<_>>(), vec![&id]);
    // The state was rolled back before re-executing: paid once, not twice.
    assert_eq!(chain.nonce(&account(1)), 1);
    assert_eq!(json(&events[executed])["block_height"], 1);

    // A replacement is never reverted itself, so the chain still grows.
    chain.tick(6000);
    assert_eq!(chain.tip().height(), 2);
    let events = chain.tick(8000);
    assert_eq!(events[0].path.topic().as_str(), "reverted");
    assert_eq!(chain.tip().height(), 2);
    assert_eq!(chain.tip().header.iteration, 1);
}

#[test]
fn reverts_happen_now_and_then_with_the_default_odds_and_never_touch_confirmed_blocks() {
    let mut chain = Chain::new(ChainConfig::default(), 0).expect("valid");
    let mut reverts = 0;
    let mut confirmed = std::collections::HashSet::new();
    for step in 1..=400u64 {
        for event in chain.tick(step * 2000) {
            let entity = event
                .path
                .entity()
                .map(|e| e.to_string())
                .unwrap_or_default();
            match event.path.topic().as_str() {
                "reverted" => {
                    reverts += 1;
                    assert!(!confirmed.contains(&entity), "reverted a confirmed block");
                }
                "statechange" => {
                    confirmed.insert(entity);
                }
                _ => {}
            }
        }
    }
    // 1 in 20 over 400 blocks: about 20.
    assert!((5..=45).contains(&reverts), "{reverts} reverts");
    // Each revert replaces the tip at the same height.
    assert_eq!(chain.tip().height(), 400 - reverts);
}

#[test]
fn generated_transactions_appear_at_the_configured_rate() {
    let mut config = quiet_config();
    config.tx_per_second = 1.0;
    let mut chain = Chain::new(config, 0).expect("valid");
    let events = chain.tick(1000);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].path.topic().as_str(), "included");
    let id: Id = events[0]
        .path
        .entity()
        .map(|e| e.as_str().parse())
        .expect("an entity")
        .expect("a tx id");
    let events = chain.tick(2000);
    // The transaction due at 2000 comes before the block at 2000.
    assert_eq!(events[0].path.topic().as_str(), "included");
    assert_eq!(chain.tip().tx_ids().count(), 2);
    assert!(chain.tip().tx_ids().any(|t| *t == id));
    let demo: Vec<Id> = (0..DEMO_ACCOUNTS).map(demo_account).collect();
    for tx in &chain.tip().txs {
        assert!(demo.contains(tx.tx.sender()));
        assert_eq!(tx.err, None);
    }
    assert!(paths(&events).iter().any(|p| p.ends_with("/executed")));
}

#[test]
fn old_finalized_blocks_are_pruned_past_the_history() {
    let mut config = quiet_config();
    config.history = 5;
    let mut chain = Chain::new(config, 0).expect("valid");
    let id = chain.propagate(&transfer(0).encode()).expect("valid");
    for step in 1..=20u64 {
        chain.tick(step * 2000);
    }
    assert_eq!(chain.blocks().count(), 5);
    assert_eq!(chain.blocks().next().map(|b| b.height()), Some(16));
    assert!(chain.block(1).is_none());
    assert!(chain.transaction(&id).is_none());
}

#[test]
fn gas_price_summarises_the_mempool() {
    let mut chain = quiet_chain();
    let one = rues_demo::GasPrice {
        average: 1,
        max: 1,
        median: 1,
        min: 1,
    };
    assert_eq!(chain.gas_price(None), one);
    for (n, price) in [(0, 2), (1, 10), (2, 4), (3, 3)] {
        let tx = Transaction::builder()
            .nonce(n)
            .gas_price(price)
            .build()
            .expect("valid");
        chain.propagate(&tx.encode()).expect("valid");
    }
    // The average is rounded up, as rusk rounds it: 19 / 4 gives 5.
    let all = chain.gas_price(None);
    assert_eq!((all.average, all.max, all.median, all.min), (5, 10, 3, 2));
    let top = chain.gas_price(Some(1));
    assert_eq!(
        (top.average, top.max, top.median, top.min),
        (10, 10, 10, 10)
    );
    let top3 = chain.gas_price(Some(3));
    assert_eq!(
        (top3.average, top3.max, top3.median, top3.min),
        (6, 10, 4, 3)
    );
    assert_eq!(chain.gas_price(Some(0)), one);
}

#[test]
fn a_snapshot_is_unchanged_by_later_blocks() {
    let mut chain = quiet_chain();
    chain.propagate(&transfer(0).encode()).expect("valid");
    let before = chain.snapshot();
    chain.tick(2000);
    chain.tick(4000);
    assert_eq!(before.tip().height(), 0);
    assert_eq!(before.mempool().count(), 1);
    assert_eq!(before.blocks().count(), 1);
    let after = chain.snapshot();
    assert_eq!(after.tip().height(), 2);
    assert_eq!(after.mempool().count(), 0);
    let id = transfer(0).id();
    assert!(matches!(
        after.transaction(&id),
        Some(TxStatus::Executed { .. })
    ));
    assert!(matches!(
        before.transaction(&id),
        Some(TxStatus::Pending(_))
    ));
}

#[test]
fn invalid_configurations_are_refused() {
    let mut config = ChainConfig::default();
    config.finalized_after = 1;
    assert!(Chain::new(config, 0).is_err());
}
