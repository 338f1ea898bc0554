//! Fuzzes the demo node's GraphQL entry point (`graphql_query_blocking`,
//! what `graphql/query` runs) over a chain with blocks and a full mempool:
//! whatever the query text, it must return within its deadline (plus the
//! bounded work before and after execution), with an answer within the
//! response budget and an error message that stays short.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rues_demo::graphql::{MAX_RESPONSE_BYTES, QUERY_DEADLINE};
use rues_demo::{Chain, ChainConfig, Snapshot, graphql_query_blocking};

/// A chain a few seconds old with thousands of pending transactions, so
/// list fields have more than their cap to return.
fn snapshot() -> Snapshot {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN
        .get_or_init(|| {
            let mut config = ChainConfig::default();
            config.tx_per_second = 1000.0;
            config.block_time_ms = 1000;
            config.max_block_txs = 50;
            config.revert_one_in = 0;
            let mut chain = Chain::new(config, 0).expect("valid config");
            for now in (0..=5_000).step_by(500) {
                chain.tick(now);
            }
            chain
        })
        .snapshot()
}

/// Validation and serialization come on top of the execution deadline;
/// the margin is wide for a sanitized, instrumented build.
const BOUND: Duration = Duration::from_secs(10);

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let started = Instant::now();
    let result = graphql_query_blocking(snapshot(), query);
    let took = started.elapsed();
    assert!(
        took < QUERY_DEADLINE + BOUND,
        "took {took:?} for a {}-byte query",
        query.len()
    );
    match result {
        Ok(data) => {
            let len = data.to_string().len();
            // The budget counts the answer as it resolves, to within a field.
            assert!(len < 2 * MAX_RESPONSE_BYTES, "a {len}-byte answer");
        }
        Err(error) => {
            let len = error.to_string().len();
            assert!(len < 1024, "a {len}-byte error message: {error}");
        }
    }
});
