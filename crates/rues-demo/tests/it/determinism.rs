//! The same seed and the same inputs at the same times give the same chain.

use rues_core::Event;
use rues_demo::{Chain, ChainConfig};

use crate::support::transfer;

/// Runs a busy chain (generated transactions, reverts, a propagated one) for
/// 200 blocks and returns every event.
fn run(seed: u64) -> (Vec<Event>, String) {
    let mut config = ChainConfig::default();
    config.seed = seed;
    config.tx_per_second = 3.0;
    config.revert_one_in = 5;
    let mut chain = Chain::new(config, 1_700_000_000_000).expect("valid");
    let mut events = Vec::new();
    for step in 1..=400u64 {
        if step == 100 {
            chain.propagate(&transfer(0).encode()).expect("valid");
        }
        events.extend(chain.tick(1_700_000_000_000 + step * 1000));
    }
    (events, chain.tip().hash().to_string())
}

#[test]
fn same_seed_gives_the_same_events_and_tip() {
    let (a, tip_a) = run(42);
    let (b, tip_b) = run(42);
    assert!(a.len() > 1000, "a busy chain: {} events", a.len());
    assert_eq!(a, b);
    assert_eq!(tip_a, tip_b);
    assert!(a.iter().any(|e| e.path.topic().as_str() == "reverted"));
}

#[test]
fn another_seed_gives_another_chain() {
    let (_, tip_a) = run(1);
    let (_, tip_b) = run(2);
    assert_ne!(tip_a, tip_b);
}
