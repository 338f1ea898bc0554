//! The GraphQL engine's cost bounds, through the function `graphql/query`
//! runs: each refusal comes before the work it would cost.

use std::time::Duration;

use rues_demo::graphql::{
    MAX_COMPLEXITY, MAX_LIST, MAX_QUERY_BYTES, MAX_SELECTIONS, RunBounds, graphql_query_bounded,
};
use rues_demo::{Chain, ChainConfig, GraphqlError, graphql_query_blocking};

use crate::support::quiet_chain;

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
