//! Helpers shared by the tests.

use rues_core::Event;
use rues_demo::{Chain, ChainConfig, Id, Transaction};
use serde_json::Value;

/// A configuration with no generated transactions and no reverts, so a test
/// sees only what it does.
pub(crate) fn quiet_config() -> ChainConfig {
    let mut config = ChainConfig::default();
    config.tx_per_second = 0.0;
    config.revert_one_in = 0;
    config
}

pub(crate) fn quiet_chain() -> Chain {
    Chain::new(quiet_config(), 0).expect("valid config")
}

pub(crate) fn account(byte: u8) -> Id {
    Id::from_bytes([byte; 32])
}

/// A valid transaction for the default chain id.
pub(crate) fn transfer(nonce: u64) -> Transaction {
    Transaction::builder()
        .sender(account(1))
        .receiver(account(2))
        .value(1_000)
        .nonce(nonce)
        .gas_price(3)
        .build()
        .expect("valid transaction")
}

pub(crate) fn paths(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.path.to_string()).collect()
}

pub(crate) fn json(event: &Event) -> Value {
    serde_json::from_slice(&event.payload).expect("a JSON payload")
}

pub(crate) fn position(events: &[Event], path: &str) -> usize {
    paths(events)
        .iter()
        .position(|p| p == path)
        .unwrap_or_else(|| panic!("no event {path} in {:#?}", paths(events)))
}

pub(crate) fn header<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
    event
        .extra_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
