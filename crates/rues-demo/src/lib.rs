//! The RUES demo node's chain: an in-memory simulated blockchain, its RUES
//! registry and its transaction format, so the whole protocol can be seen
//! and tested with no Dusk node (docs/protocol.md §9).
//!
//! - [`Chain`] is a sans-IO state machine: blocks every
//!   [`block_time_ms`](ChainConfig::block_time_ms) with linked hashes, a
//!   mempool fed by generated and propagated transactions, a transfer-like
//!   and a stake-like contract emitting binary events, rolling finality
//!   (`confirmed`, then `finalized`) and occasional reverts of the tip. Time
//!   comes in as `now_ms`; randomness from [`ChainConfig::seed`], so the
//!   same seed and inputs give the same chain.
//! - [`Transaction`] is the demo chain's small binary transaction format
//!   (`RUESDEMO`, version, chain id, sender, receiver, value, nonce, gas,
//!   memo, and from version 2 up to six [`Blob`]s, each with its commitment
//!   and versioned hash), with a [`TxBuilder`] for the CLI.
//! - [`registry()`] builds the `rues_core::Registry` of the demo node:
//!   `blocks`, `transactions`, `contracts`, `node`, `network`, `blobs`,
//!   `stats`, `prover` (refused: no prover) and a real
//!   GraphQL engine with rusk's schema at `graphql/query` ([`graphql`];
//!   [`graphql_http`] reads its text or JSON bodies and `rusk-gqlvar-*`
//!   headers).
//! - [`data_driver`] maps the demo contracts' function inputs, outputs and
//!   events between JSON and their bytes, one table per contract
//!   (`driver:<id>/…`, and `contracts:<id>/<fn>` in JSON); the registry also
//!   serves `account:<address>/status`, `contract:<id>/…`,
//!   `contract_owner:<id>/…` and the feeders `leaves_from_height` and
//!   `stakes` (streamed records).
//! - [`run`] drives a [`SharedChain`] on tokio and hands every event to a
//!   publish callback, in chain order.
//!
//! The crate root holds the types; the constants and the functions that
//! derive them are in their modules: [`params`] (units, gas, rewards, the
//! genesis accounts), [`tx`] (the transaction format's constants),
//! [`blob`] (blob limits and the versioned hash),
//! [`contracts`] (the demo contracts' ids and topics), [`events`] (payload
//! types), [`config`], [`graphql`] and [`registry`](mod@registry) (the
//! `network` and `node` endpoints' fixed data).
//!
//! `docs/demo-chain.md` documents the format byte by byte, the chain's
//! behaviour, every event with an example payload, and every dispatch
//! endpoint.
//!
//! # Example: the chain with fake time
//!
//! ```
//! use rues_demo::{Chain, ChainConfig, Transaction};
//!
//! let mut config = ChainConfig::default();
//! config.tx_per_second = 0.0; // only our transaction
//! config.revert_one_in = 0; // no reverts
//! let mut chain = Chain::new(config, 0)?;
//!
//! // A client propagates a transaction: `included` is queued at once.
//! let tx = Transaction::builder().receiver("ab".repeat(32).parse()?).value(5).build()?;
//! let id = chain.propagate(&tx.encode())?;
//! let events = chain.tick(0);
//! assert_eq!(events[0].path.to_string(), format!("/on/transactions:{id}/included"));
//!
//! // One block time later: the block executes it, then announces itself.
//! let events = chain.tick(2000);
//! let paths: Vec<String> = events.iter().map(|e| e.path.to_string()).collect();
//! let tip = chain.tip().hash().to_string();
//! assert!(paths.contains(&format!("/on/transactions:{id}/executed")));
//! assert_eq!(paths.last(), Some(&format!("/on/blocks:{tip}/accepted")));
//! assert_eq!(chain.tip().height(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: serving it
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use rues_demo::{Chain, ChainConfig, SharedChain, registry, run, unix_time_ms};
//!
//! let chain = SharedChain::new(Chain::new(ChainConfig::default(), unix_time_ms())?);
//! let registry = registry(chain.clone()); // hand it to rues_core::Node::new
//! // ... and publish each event through the transport's publisher:
//! run(chain, |event| { let _ = event; /* node.publish(&event) */ }, std::future::pending()).await;
//! # let _ = registry;
//! # Ok(())
//! # }
//! ```

mod accounts;
pub mod blob;
mod bs58;
mod chain;
mod chain_api;
pub mod config;
mod contract_api;
pub mod contracts;
pub mod data_driver;
mod driver;
pub mod events;
mod feeders;
pub mod graphql;
pub mod graphql_http;
mod history;
mod id;
pub mod params;
mod records;
pub mod registry;
mod rng;
mod stats;
pub mod tx;

pub use crate::accounts::address;
pub use crate::blob::Blob;
pub use crate::chain::{Chain, Simulation, TxError};
pub use crate::config::{ChainConfig, ConfigError};
pub use crate::contracts::QueryError;
pub use crate::driver::{SharedChain, run, unix_time_ms};
pub use crate::graphql::{
    Executed, GraphqlError, GraphqlRequest, graphql_execute, graphql_execute_blocking,
    graphql_query, graphql_query_blocking, graphql_sdl,
};
pub use crate::history::Snapshot;
pub use crate::id::{Account, BlockHash, ContractId, Id, InvalidId, TxId};
pub use crate::records::{
    Block, ContractEvent, ExecutedTx, Finality, GasPrice, Header, PendingTx, Provisioner, Stake,
    TxStatus,
};
pub use crate::registry::registry;
pub use crate::tx::{DecodeError, Transaction, TxBuilder};
