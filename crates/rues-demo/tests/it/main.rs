//! rues-demo's integration tests: the transaction format, the simulated
//! chain driven with fake time, every dispatch endpoint driven through
//! `rues_core::Node` exactly as a transport drives it, determinism, and the
//! tokio driver with paused time.

mod support;

mod chain;
mod chain_api;
mod determinism;
mod driver;
mod graphql;
mod handlers;
mod txformat;
