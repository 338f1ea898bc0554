//! The GraphQL engine's cost bounds, through the function `graphql/query`
//! runs: each refusal comes before the work it would cost.

use std::time::Duration;

use rues_demo::graphql::{
    MAX_COMPLEXITY, MAX_LIST, MAX_QUERY_BYTES, MAX_SELECTIONS, RunBounds, graphql_query_bounded,
};
use rues_demo::{Chain, ChainConfig, GraphqlError, graphql_query_blocking};

use rues_demo::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT};

use crate::support::{account, quiet_chain};

/// A chain with a few blocks and thousands of pending transactions.
fn busy_chain() -> Chain {
    let mut config = ChainConfig::default();
    config.tx_per_second = 1000.0;
    config.block_time_ms = 1000;
    config.max_block_txs = 10;
    config.revert_one_in = 0;
    let mut chain = Chain::new(config, 0).expect("valid config");
    for now in (0..=4_000).step_by(500) {
        chain.tick(now);
    }
    assert!(
        chain.mempool().len() > 2 * MAX_LIST,
        "{}",
        chain.mempool().len()
    );
    chain
}

fn run(chain: &Chain, query: &str) -> Result<serde_json::Value, GraphqlError> {
    graphql_query_blocking(chain.snapshot(), query)
}

#[track_caller]
fn refused(result: Result<serde_json::Value, GraphqlError>, needle: &str) -> String {
    let error = match result {
        Ok(data) => panic!("not refused: {:.300}", data.to_string()),
        Err(error) => error.to_string(),
    };
    assert!(error.contains(needle), "{error:?} lacks {needle:?}");
    assert!(error.len() < 512, "a {}-byte message", error.len());
    error
}

#[test]
fn text_nesting_and_expanded_fragments_are_bounded_before_the_engine_runs() {
    let chain = quiet_chain();
    let long = format!("{{ {} }}", "__typename ".repeat(MAX_QUERY_BYTES / 10));
    refused(run(&chain, &long), "bytes; at most");
    let deep = format!("{}{}", "{ a ".repeat(40), "}".repeat(40));
    refused(run(&chain, &deep), "deep; at most");
    // Braces inside strings and comments are not nesting.
    let quoted = format!(
        "{{ block(hash: \"{}\") {{ fees }} }} # {}",
        "{".repeat(100),
        "[".repeat(100)
    );
    refused(run(&chain, &quoted), "not a hash");

    let mut bomb = String::from("query { ...F0 }\n");
    for level in 0..24 {
        let next = level + 1;
        bomb.push_str(&format!(
            "fragment F{level} on Query {{ a: __typename ...F{next} b: __typename ...F{next} }}\n"
        ));
    }
    bomb.push_str("fragment F24 on Query { __typename }\n");
    refused(run(&chain, &bomb), "fragments are expanded");

    let cycle =
        "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }";
    refused(run(&chain, cycle), "spreads itself");

    // A long chain of fragments, used or not, is refused by its depth
    // before anything recurses through it; the query runs on a thread
    // with a small stack, as a blocking pool's would.
    let mut chain_of = String::from("query { __typename }\n");
    for level in 0..800 {
        let next = level + 1;
        chain_of.push_str(&format!("fragment F{level} on Query {{ ...F{next} }}\n"));
    }
    chain_of.push_str("fragment F800 on Query { __typename }\n");
    let snapshot = chain.snapshot();
    let result = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || graphql_query_blocking(snapshot, &chain_of))
        .expect("a thread")
        .join()
        .expect("no stack overflow");
    refused(result, "deep");
    // The same 40 levels deep through spreads used from the query.
    let mut used = String::from("query { ...F0 }\n");
    for level in 0..40 {
        let next = level + 1;
        used.push_str(&format!("fragment F{level} on Query {{ ...F{next} }}\n"));
    }
    used.push_str("fragment F40 on Query { __typename }\n");
    refused(run(&chain, &used), "deep");

    // Just within the bound is fine.
    let wide = format!("{{ {} }}", "a:__typename ".repeat(MAX_SELECTIONS / 2));
    assert!(wide.len() < MAX_QUERY_BYTES);
    assert!(run(&chain, &wide).is_ok());
}

#[test]
fn list_sizes_count_in_the_complexity() {
    let chain = busy_chain();
    // 10 aliases × 200 blocks × 3 fields: within the limit.
    let some: String = (0..10)
        .map(|i| format!("a{i}: blocks(last: 200) {{ header {{ height hash }} }} "))
        .collect();
    assert!(run(&chain, &format!("{{ {some} }}")).is_ok());
    // 100 of them: 60 000, past it, though it has only 400 fields.
    let many: String = (0..100)
        .map(|i| format!("a{i}: blocks(last: 200) {{ header {{ height hash }} }} "))
        .collect();
    const { assert!(100 * MAX_LIST * 3 > MAX_COMPLEXITY) };
    refused(run(&chain, &format!("{{ {many} }}")), "too complex");
    // A short range costs its length, not the cap.
    let ranges: String = (0..100)
        .map(|i| format!("a{i}: blocks(range: [0, 1]) {{ header {{ height hash }} }} "))
        .collect();
    assert!(run(&chain, &format!("{{ {ranges} }}")).is_ok());
    // An unbounded list is capped by default.
    let mempool: String = (0..100)
        .map(|i| format!("a{i}: mempoolTxs {{ id sender receiver }} "))
        .collect();
    refused(run(&chain, &format!("{{ {mempool} }}")), "too complex");
}

#[test]
fn every_list_field_is_capped() {
    let chain = busy_chain();
    let data = run(
        &chain,
        "{ mempoolTxs { id } few: mempoolTxs(limit: 3) { id } }",
    )
    .expect("ok");
    assert_eq!(data["mempoolTxs"].as_array().expect("list").len(), MAX_LIST);
    assert_eq!(data["few"].as_array().expect("list").len(), 3);
    refused(
        run(&chain, "{ mempoolTxs(limit: 201) { id } }"),
        "at most 200",
    );
    refused(run(&chain, "{ mempoolTxs(limit: -1) { id } }"), "≥ 0");
    refused(
        run(&chain, "{ transactions(last: 201) { id } }"),
        "at most 200",
    );
}

fn bounded(
    chain: &Chain,
    query: &str,
    bounds: RunBounds,
) -> Result<serde_json::Value, GraphqlError> {
    futures_util::FutureExt::now_or_never(graphql_query_bounded(chain.snapshot(), query, bounds))
        .expect("the engine never waits")
}

#[test]
fn a_large_answer_stops_at_the_response_budget() {
    let chain = busy_chain();
    let query = "{ mempoolTxs { raw json } }";
    let whole = run(&chain, query).expect("within the default bounds");
    let len = whole.to_string().len();
    assert!(len > 100_000, "{len}");
    // A long deadline, so only the budget can stop it.
    let bounds = RunBounds::default().with_deadline(Duration::from_secs(3600));
    let error = bounded(&chain, query, bounds.with_max_response_bytes(len / 10));
    assert!(
        matches!(&error, Err(GraphqlError::Limit(m)) if m.contains("answer would pass")),
        "{error:?}"
    );
    assert!(bounded(&chain, query, bounds.with_max_response_bytes(2 * len)).is_ok());
}

#[test]
fn a_query_stops_at_its_deadline() {
    let chain = busy_chain();
    let error = bounded(
        &chain,
        "{ mempoolTxs { id } }",
        RunBounds::default().with_deadline(Duration::ZERO),
    );
    assert!(
        matches!(&error, Err(GraphqlError::Limit(m)) if m.contains("deadline")),
        "{error:?}"
    );
}

#[test]
fn errors_quote_the_query_short() {
    let chain = quiet_chain();
    let name = "x".repeat(10_000);
    let error = refused(run(&chain, &format!("{{ {name} }}")), "GraphQL error");
    assert!(!error.contains(&"x".repeat(200)), "{error}");
    let junk = format!("{{ block{} }}", "\u{1}".repeat(10_000));
    let error = refused(run(&chain, &junk), "syntax error: at line 1, column 8");
    assert!(error.contains("\\u{1}"), "escaped: {error}");
    let many: String = (0..50).map(|i| format!("f{i} ")).collect();
    refused(run(&chain, &format!("{{ {many} }}")), "(and 47 more)");
}

/// A quiet chain with one transfer with `memo` from account 1 to account
/// 2, one stake from account 3 and a transfer from account 4 to 5 whose
/// memo starts with `memo`, executed and finalized under more blocks:
/// (chain, transfer id, stake id).
fn chain_with_history(memo: &str) -> (Chain, String, String) {
    let mut chain = quiet_chain();
    let transfer = rues_demo::Transaction::builder()
        .sender(account(1))
        .receiver(account(2))
        .value(1_000)
        .gas_price(3)
        .memo(memo.as_bytes().to_vec())
        .build()
        .expect("valid");
    let stake = rues_demo::Transaction::builder()
        .sender(account(3))
        .receiver(STAKE_CONTRACT)
        .value(5_000)
        .gas_price(2)
        .build()
        .expect("valid");
    let other = rues_demo::Transaction::builder()
        .sender(account(4))
        .receiver(account(5))
        .value(7)
        .memo(format!("{memo}!").into_bytes())
        .build()
        .expect("valid");
    let transfer_id = chain.propagate(&transfer.encode()).expect("accepted");
    let stake_id = chain.propagate(&stake.encode()).expect("accepted");
    chain.propagate(&other.encode()).expect("accepted");
    let block_time = chain.config().block_time_ms;
    for i in 1..=40 {
        chain.tick(i * block_time);
    }
    (chain, transfer_id.to_string(), stake_id.to_string())
}

#[test]
fn archive_fields_answer_what_the_chain_did() {
    let (chain, transfer, stake) = chain_with_history("gql memo");
    let sender = account(1).to_string();
    let receiver = account(2).to_string();
    // The address form `account:<address>/status` takes (base58) names the
    // same account as hex does.
    let receiver_base58 = rues_demo::address(&account(2));
    let data = run(
        &chain,
        &format!(
            r#"{{
                memo: transactionsByMemo(memo: "gql memo") {{ json }}
                none: transactionsByMemo(memo: "no such memo") {{ json }}
                sent: moonlightHistory(sender: "{sender}") {{ json }}
                got: moonlightHistory(receiver: "{receiver}", maxCount: 1, pageCount: 1) {{ json }}
                page2: moonlightHistory(receiver: "{receiver}", maxCount: 1, pageCount: 2) {{ json }}
                full: fullMoonlightHistory(address: "{receiver}", ord: "desc") {{ json }}
                full58: fullMoonlightHistory(address: "{receiver_base58}", ord: "desc") {{ json }}
                tx(hash: "{transfer}") {{ blockHeight raw tx {{ txType memo callData {{ fnName }} }} }}
                stake: tx(hash: "{stake}") {{ tx {{ callData {{ contractId fnName }} }} }}
                lastBlockPair {{ json }}
                nextPhoenix(height: 0)
            }}"#
        ),
    )
    .expect("runs");
    let group = &data["memo"]["json"][0];
    assert_eq!(group["origin"], transfer, "{data}");
    assert_eq!(data["memo"]["json"].as_array().map(Vec::len), Some(1));
    assert_eq!(group["events"][0]["topic"], "moonlight");
    assert_eq!(group["events"][0]["target"], TRANSFER_CONTRACT.to_string());
    assert_eq!(group["events"][0]["data"]["sender"], sender);
    assert_eq!(group["events"][0]["data"]["receiver"], receiver);
    assert_eq!(group["events"][0]["data"]["value"], 1_000);
    assert_eq!(group["block_height"], data["tx"]["blockHeight"]);
    assert!(data["none"].is_null(), "{data}");
    assert_eq!(data["sent"]["json"][0]["origin"], transfer);
    assert_eq!(data["got"]["json"][0]["origin"], transfer);
    assert!(data["page2"].is_null(), "one transfer, one page: {data}");
    assert_eq!(data["full"]["json"][0]["origin"], transfer);
    assert_eq!(data["full58"], data["full"]);
    // `raw` is the encoding `transactions/propagate` took.
    let raw = hex::decode(data["tx"]["raw"].as_str().expect("hex")).expect("hex");
    let decoded = rues_demo::Transaction::decode(&raw).expect("the demo format");
    assert_eq!(decoded.id().to_string(), transfer);
    assert_eq!(data["tx"]["tx"]["txType"], "Moonlight");
    assert_eq!(data["tx"]["tx"]["memo"], hex::encode("gql memo"));
    assert!(data["tx"]["tx"]["callData"].is_null());
    assert_eq!(data["stake"]["tx"]["callData"]["fnName"], "stake");
    let pair = &data["lastBlockPair"]["json"];
    assert_eq!(pair["last_block"][0], chain.tip().height());
    assert!(pair["last_finalized_block"][0].as_u64() < pair["last_block"][0].as_u64());
    assert!(data["nextPhoenix"].is_null());
}

#[test]
fn contract_events_are_the_blocks_and_finalized_events_page_by_cursor() {
    let (chain, transfer, stake) = chain_with_history("events");
    let height = run(
        &chain,
        &format!(r#"{{ tx(hash: "{transfer}") {{ blockHeight }} }}"#),
    )
    .expect("runs")["tx"]["blockHeight"]
        .as_u64()
        .expect("a height");
    let data = run(
        &chain,
        &format!(
            r#"{{ contractEvents(height: {height}) {{ json }}
                 gone: contractEvents(height: 100000) {{ json }} }}"#
        ),
    )
    .expect("runs");
    let events = data["contractEvents"]["json"].as_array().expect("a list");
    // The transfer, the stake, the block's reward.
    let topics: Vec<&str> = events.iter().filter_map(|e| e["topic"].as_str()).collect();
    assert_eq!(
        topics,
        ["moonlight", "stake", "moonlight", "reward"],
        "{data}"
    );
    assert_eq!(events[0]["origin"], transfer);
    assert_eq!(events[1]["origin"], stake);
    assert_eq!(events[1]["source"], STAKE_CONTRACT.to_string());
    assert_eq!(
        events[0]["data"].as_str().map(str::len),
        Some(144),
        "72 bytes, hex"
    );
    assert!(data["gone"].is_null(), "{data}");

    // Every reward of the stake contract's finalized blocks, two at a time.
    let mut cursor = None::<String>;
    let mut seen = Vec::new();
    loop {
        let after = cursor
            .as_ref()
            .map_or(String::new(), |c| format!(r#", cursor: "{c}""#));
        let page = run(
            &chain,
            &format!(
                r#"{{ finalizedEvents(contractId: "{STAKE_CONTRACT}", limit: 2{after}) {{ json }} }}"#
            ),
        )
        .expect("runs");
        let page = &page["finalizedEvents"]["json"];
        for event in page["events"].as_array().expect("events") {
            seen.push((event["block_height"].as_u64(), event["topic"].clone()));
        }
        if page["hasNextPage"] != true {
            break;
        }
        cursor = page["endCursor"].as_str().map(str::to_owned);
        assert!(seen.len() < 1000, "the pages end");
    }
    let finalized = chain
        .snapshot()
        .blocks()
        .filter(|b| b.finality == rues_demo::Finality::Finalized && b.height() > 0)
        .count();
    let rewards = seen.iter().filter(|(_, t)| t == "reward").count();
    assert_eq!(rewards, finalized, "{seen:?}");
    assert_eq!(seen.len(), finalized + 1, "the rewards and the stake");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");

    for (query, needle) in [
        (
            r#"{ finalizedEvents(contractId: "01") { json } }"#,
            "Invalid contract_id",
        ),
        (
            r#"{ finalizedEvents(contractId: "0100000000000000000000000000000000000000000000000000000000000000", cursor: "nope") { json } }"#,
            "Invalid cursor",
        ),
        (r#"{ contractEvents { json } }"#, "Specify height or hash"),
        (
            r#"{ moonlightHistory { json } }"#,
            "give `sender`, `receiver` or both",
        ),
        (
            r#"{ moonlightHistory(sender: "zz") { json } }"#,
            "not a demo account",
        ),
        (
            r#"{ fullMoonlightHistory(address: "0101010101010101010101010101010101010101010101010101010101010101", ord: "up") { json } }"#,
            "`asc` or `desc`",
        ),
        (
            r#"{ blockTxs(last: 1, contract: "zz") { id } }"#,
            "not a contract id",
        ),
        (r#"{ blocks(range: [5, 1]) { reward } }"#, "ascending"),
    ] {
        refused(run(&chain, query), needle);
    }
}

#[test]
fn block_txs_filter_by_contract_and_blocks_carry_rusks_fields() {
    let (chain, transfer, stake) = chain_with_history("blocks");
    let data = run(
        &chain,
        &format!(
            r#"{{ all: blockTxs(last: 40) {{ id }}
                 transfers: blockTxs(range: [0, 40], contract: "{TRANSFER_CONTRACT}") {{ id }}
                 stakes: blockTxs(last: 40, contract: "{STAKE_CONTRACT}") {{ id }}
                 blocks(last: 1) {{ status reward fees gasSpent header {{ txRoot }} }}
                 checkBlock(height: 0, hash: "{genesis}", onlyFinalized: true)
                 wrong: checkBlock(height: 1, hash: "{genesis}") }}"#,
            genesis = chain.snapshot().block(0).expect("genesis").hash()
        ),
    )
    .expect("runs");
    let ids = |key: &str| -> Vec<String> {
        data[key]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(ids("all").len(), 3, "{data}");
    assert_eq!(ids("all")[..2], [transfer.clone(), stake.clone()], "{data}");
    // Genesis's blob transaction (height 0, first in an ascending range),
    // then the two transfers.
    assert_eq!(ids("transfers").len(), 3, "{data}");
    assert_eq!(ids("transfers")[1], transfer);
    assert_eq!(ids("stakes"), [stake]);
    assert_eq!(
        data["blocks"][0]["status"],
        serde_json::json!({"Accepted": 0})
    );
    assert_eq!(data["checkBlock"], true);
    assert_eq!(data["wrong"], false);
}

#[test]
fn archive_answers_count_in_the_response_budget() {
    let (chain, ..) = chain_with_history("budget");
    let one =
        format!(r#"{{ finalizedEvents(contractId: "{STAKE_CONTRACT}", limit: 200) {{ json }} }}"#);
    let len = run(&chain, &one).expect("runs").to_string().len();
    assert!(len > 1_000, "{len}");
    let aliases: String = (0..20)
        .map(|i| {
            format!(
                r#"a{i}: finalizedEvents(contractId: "{STAKE_CONTRACT}", limit: 200) {{ json }} "#
            )
        })
        .collect();
    let bounds = RunBounds::default()
        .with_deadline(Duration::from_secs(3600))
        .with_max_response_bytes(len * 5);
    let error = bounded(&chain, &format!("{{ {aliases} }}"), bounds);
    assert!(
        matches!(&error, Err(GraphqlError::Limit(m)) if m.contains("answer would pass")),
        "{error:?}"
    );
    // Each archive field costs as much as a whole list: aliases add up.
    let many: String = (0..300)
        .map(|i| format!(r#"a{i}: transactionsByMemo(memo: "x") {{ json }} "#))
        .collect();
    refused(run(&chain, &format!("{{ {many} }}")), "too complex");
}

#[test]
fn archive_answers_past_their_cap_are_refused_or_paged() {
    let mut chain = quiet_chain();
    let cap = rues_demo::graphql::MAX_GROUPS;
    for nonce in 0..=cap as u64 {
        let tx = rues_demo::Transaction::builder()
            .sender(account(6))
            .receiver(account(7))
            .value(1)
            .nonce(nonce)
            .memo(b"same".to_vec())
            .build()
            .expect("valid");
        chain.propagate(&tx.encode()).expect("accepted");
    }
    let block_time = chain.config().block_time_ms;
    for i in 1..=30 {
        chain.tick(i * block_time);
    }
    let sender = account(6).to_string();
    refused(
        run(&chain, r#"{ transactionsByMemo(memo: "same") { json } }"#),
        "more than 1000 transactions match",
    );
    refused(
        run(
            &chain,
            &format!(r#"{{ moonlightHistory(sender: "{sender}") {{ json }} }}"#),
        ),
        "page it with maxCount",
    );
    refused(
        run(
            &chain,
            &format!(r#"{{ fullMoonlightHistory(address: "{sender}") {{ json }} }}"#),
        ),
        "fromBlock",
    );
    let data = run(
        &chain,
        &format!(
            r#"{{ first: moonlightHistory(sender: "{sender}", maxCount: 1000) {{ json }}
                 last: moonlightHistory(sender: "{sender}", maxCount: 1000, pageCount: 2) {{ json }} }}"#
        ),
    )
    .expect("pages");
    assert_eq!(data["first"]["json"].as_array().map(Vec::len), Some(cap));
    assert_eq!(data["last"]["json"].as_array().map(Vec::len), Some(1));
    assert_ne!(
        data["first"]["json"][0]["origin"],
        data["last"]["json"][0]["origin"]
    );
}
