//! rues-demo's integration tests: the transaction format, the simulated
//! chain driven with fake time, every dispatch endpoint driven through
//! `rues_core::Node` exactly as a transport drives it, determinism, and the
//! tokio driver with paused time; and Dusk's node API (accounts, contracts,
//! data drivers, feeders) over real HTTP, against a loopback server.

mod api;
mod support;

mod accounts;
mod chain;
mod chain_api;
mod contracts_api;
mod data_driver;
mod determinism;
mod driver;
mod feeders;
mod graphql;
mod graphql_schema;
mod handlers;
mod txformat;
