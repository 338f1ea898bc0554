//! The demo node's RUES registry: components, topics and dispatch handlers
//! (docs/protocol.md §9).

use std::future::{Ready, ready};
use std::sync::Arc;

use rues_core::bytes::Bytes;
use rues_core::http::StatusCode;
use rues_core::rues_target::{Component, Topic};
use rues_core::{
    ComponentSpec, DispatchRequest, EntityRule, HandlerError, Registry, Reply, RequestBody, quote,
};
use serde_json::json;

use crate::chain::TxError;
use crate::driver::SharedChain;
use crate::id::Id;

/// Fake peers `network/peers` draws from: TEST-NET-1 addresses (RFC 5737),
/// which route nowhere.
pub const PEERS: [&str; 8] = [
    "192.0.2.1:9000",
    "192.0.2.2:9000",
    "192.0.2.3:9000",
    "192.0.2.4:9000",
    "192.0.2.5:9000",
    "192.0.2.6:9000",
    "192.0.2.7:9000",
    "192.0.2.8:9000",
];

/// Size of the `node/crs` reply.
pub const CRS_LEN: usize = 4096;

pub(crate) fn component(name: &str) -> Component {
    Component::new(name).expect("a fixed component name is valid")
}

pub(crate) fn topic(name: &str) -> Topic {
    Topic::new(name).expect("a fixed topic name is valid")
}

type Result = std::result::Result<Reply, HandlerError>;

/// A handler that runs synchronously under a short lock; the future it
/// returns is already complete, so nothing is held across an await.
pub(crate) fn sync(
    chain: &Arc<SharedChain>,
    f: fn(&SharedChain, &DispatchRequest) -> Result,
) -> impl Fn(DispatchRequest) -> Ready<Result> + Send + Sync + 'static {
    let chain = Arc::clone(chain);
    move |request| ready(f(&chain, &request))
}

/// The registry of the demo node, serving `chain`:
///
/// | component | entity | event topics | dispatch |
/// |---|---|---|---|
/// | `blocks` | optional | `accepted`, `statechange`, `reverted` | `gas-price` |
/// | `transactions` | optional | `included`, `removed`, `executed` | `preverify`, `propagate` |
/// | `contracts` | required | any | any `<fn>`: contract queries (binary or JSON, feeders) |
/// | `account` | required (base58) | | `status` |
/// | `contract` | required | | `status`, `metadata`, `download_driver`, `upload_driver` |
/// | `contract_owner` | required | | any |
/// | `driver` | required | | `get_schema`, `get_version`, `<method>:<target>` |
/// | `node` | none | | `info`, `provisioners`, `crs` |
/// | `network` | none | | `peers` |
/// | `graphql` | none | | `query` |
///
/// `blocks`, `transactions` and `contracts` entities are hex ids, declared
/// with [`ComponentSpec::hex_entities`]: the core lower-cases them before
/// access rules, subscriptions and handlers see them.
///
/// Every endpoint's request and reply is in `docs/demo-chain.md`.
pub fn registry(chain: Arc<SharedChain>) -> Registry {
    let graphql_chain = Arc::clone(&chain);
    Registry::new()
        .with(
            ComponentSpec::new(component("blocks"))
                .entity(EntityRule::Optional)
                .hex_entities()
                .topic(topic("accepted"))
                .topic(topic("statechange"))
                .topic(topic("reverted"))
                .handler(topic("gas-price"), sync(&chain, gas_price)),
        )
        .with(
            ComponentSpec::new(component("transactions"))
                .entity(EntityRule::Optional)
                .hex_entities()
                .topic(topic("included"))
                .topic(topic("removed"))
                .topic(topic("executed"))
                .handler(topic("preverify"), sync(&chain, preverify))
                .handler(topic("propagate"), sync(&chain, propagate))
                .handler(topic("simulate"), sync(&chain, crate::chain_api::simulate)),
        )
        .with(
            ComponentSpec::new(component("contracts"))
                .entity(EntityRule::Required)
                .hex_entities()
                .open_topics()
                .fallback_handler(sync(&chain, crate::contract_api::query)),
        )
        .with(
            // Base58 is case-sensitive: no entity canonicalisation here.
            ComponentSpec::new(component("account"))
                .entity(EntityRule::Required)
                .handler(topic("status"), sync(&chain, crate::accounts::status)),
        )
        .with(
            ComponentSpec::new(component("contract"))
                .entity(EntityRule::Required)
                .hex_entities()
                .handler(topic("status"), sync(&chain, crate::contract_api::status))
                .handler(
                    topic("metadata"),
                    sync(&chain, crate::contract_api::metadata),
                )
                .handler(
                    topic("download_driver"),
                    sync(&chain, crate::contract_api::download_driver),
                )
                .handler(
                    topic("upload_driver"),
                    sync(&chain, crate::contract_api::upload_driver),
                ),
        )
        .with(
            ComponentSpec::new(component("contract_owner"))
                .entity(EntityRule::Required)
                .hex_entities()
                .open_topics()
                .fallback_handler(sync(&chain, crate::contract_api::owner)),
        )
        .with(
            crate::contract_api::driver_topics().iter().fold(
                ComponentSpec::new(component("driver"))
                    .entity(EntityRule::Required)
                    .hex_entities(),
                |spec, name| {
                    spec.handler(topic(name), sync(&chain, crate::contract_api::data_driver))
                },
            ),
        )
        .with(
            ComponentSpec::new(component("node"))
                .entity(EntityRule::Forbidden)
                .handler(topic("info"), sync(&chain, node_info))
                .handler(topic("provisioners"), sync(&chain, provisioners))
                .handler(topic("crs"), sync(&chain, crs)),
        )
        .with(
            ComponentSpec::new(component("network"))
                .entity(EntityRule::Forbidden)
                .handler(topic("peers"), sync(&chain, peers))
                .handler(
                    topic("peers_location"),
                    sync(&chain, crate::chain_api::peers_location),
                ),
        )
        .with(crate::chain_api::blobs(&chain))
        .with(crate::chain_api::stats(&chain))
        .with(crate::chain_api::prover())
        .with(
            ComponentSpec::new(component("graphql"))
                .entity(EntityRule::Forbidden)
                // A query is CPU work of up to its deadline: run it on the
                // blocking pool, never on the runtime's threads, and never
                // on every core at once (clients can send them in a loop).
                .blocking_handler_at_most(
                    topic("query"),
                    graphql_at_once(),
                    move |request: DispatchRequest| {
                        crate::graphql_http::handle(&graphql_chain, &request)
                    },
                ),
        )
}

/// How many GraphQL queries run at once: one core fewer than the machine
/// has (at least one), so that queries sent in a loop always leave a core
/// to event delivery, pings and every other request.
fn graphql_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get().saturating_sub(1).max(1))
}

/// The body as text (a binary body must be UTF-8 too). A well-formed
/// request whose body is not text is one the handler cannot process: 422
/// (docs/protocol.md §5.2).
fn body_text(body: &RequestBody) -> std::result::Result<&str, HandlerError> {
    std::str::from_utf8(body.as_bytes())
        .map_err(|_| HandlerError::unprocessable("the body must be UTF-8 text"))
}

/// An optional decimal count in the body: `None` when empty. A body that is
/// not a count is 422, quoted (bounded) in the message, never echoed whole.
fn count_arg(body: &RequestBody, what: &str) -> std::result::Result<Option<usize>, HandlerError> {
    let text = body_text(body)?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<usize>().map(Some).map_err(|_| {
        HandlerError::unprocessable(format!(
            "invalid amount {}: the body is {what} as a decimal number",
            quote(text)
        ))
    })
}

fn tx_error(error: TxError) -> HandlerError {
    match error {
        TxError::Decode(e) => HandlerError::unprocessable(e.to_string()),
        TxError::MempoolFull { .. } | TxError::MempoolBlobsFull { .. } => {
            HandlerError::unavailable(error.to_string())
        }
        e if e.is_duplicate() => HandlerError::new(StatusCode::CONFLICT, e.to_string()),
        e => HandlerError::unprocessable(e.to_string()),
    }
}

fn gas_price(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let max = count_arg(&request.body, "the most transactions to consider")?;
    let stats = chain.lock().gas_price(max);
    Ok(Reply::json(&json!(stats)))
}

fn preverify(chain: &SharedChain, request: &DispatchRequest) -> Result {
    chain
        .lock()
        .preverify(request.body.as_bytes())
        .map_err(tx_error)?;
    Ok(Reply::Accepted)
}

fn propagate(chain: &SharedChain, request: &DispatchRequest) -> Result {
    chain.propagate(request.body.as_bytes()).map_err(tx_error)?;
    Ok(Reply::Accepted)
}

fn node_info(chain: &SharedChain, _request: &DispatchRequest) -> Result {
    let chain = chain.lock();
    let config = chain.config();
    Ok(Reply::json(&json!({
        "version": config.version,
        "version_build": format!("{} (rues-demo {})", config.version, env!("CARGO_PKG_VERSION")),
        "chain_id": config.chain_id,
        "bootstrapping_nodes": &PEERS[..3],
        "kadcast_address": "127.0.0.1:9000",
        "vm_config": {
            "block_gas_limit": crate::params::BLOCK_GAS_LIMIT,
            "gas_per_blob": crate::params::GAS_PER_BLOB,
            "gas_per_deploy_byte": 100,
            "min_deploy_points": 5_000_000,
            "min_deployment_gas_price": 2000,
            "generation_timeout": null,
        },
    })))
}

fn provisioners(chain: &SharedChain, _request: &DispatchRequest) -> Result {
    let list: Vec<serde_json::Value> = chain
        .lock()
        .provisioners()
        .into_iter()
        .map(|p| {
            json!({
                "key": p.key,
                "amount": p.stake.amount,
                "locked_amt": 0,
                "eligibility": p.stake.eligibility,
                "reward": p.stake.reward,
                "faults": 0,
                "hard_faults": 0,
                "owner": {"Account": p.key},
            })
        })
        .collect();
    Ok(Reply::json(&serde_json::Value::Array(list)))
}

/// Deterministic stand-in for the common reference string: SHA-256 in
/// counter mode over a fixed label.
pub fn crs_bytes() -> Vec<u8> {
    let mut out = Vec::with_capacity(CRS_LEN);
    let mut counter = 0u64;
    while out.len() < CRS_LEN {
        out.extend_from_slice(Id::hash(&[b"rues-demo crs", &counter.to_le_bytes()]).as_bytes());
        counter += 1;
    }
    out.truncate(CRS_LEN);
    out
}

fn crs(_chain: &SharedChain, _request: &DispatchRequest) -> Result {
    Ok(Reply::Binary(Bytes::from(crs_bytes())))
}

fn peers(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    let Some(count) = count_arg(&request.body, "how many peers to return")? else {
        return Err(HandlerError::unprocessable(
            "missing amount: the body is how many peers to return, as a decimal number",
        ));
    };
    let list: Vec<&str> = PEERS.iter().copied().take(count).collect();
    Ok(Reply::json(&json!(list)))
}
