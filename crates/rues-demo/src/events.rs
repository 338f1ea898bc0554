//! The events the chain publishes, and the JSON shapes they carry
//! (docs/protocol.md §9), in the order rusk publishes them.

use rues_core::Event;
use rues_core::bytes::Bytes;
use rues_core::rues_target::EventPath;
use serde_json::{Value, json};

use crate::contracts::STAKE_CONTRACT;
use crate::id::{BlockHash, ContractId, Id, TxId};
use crate::records::{Block, ExecutedTx, Finality, Header};
use crate::tx::Transaction;

/// `Content-Type` of JSON payloads.
pub const JSON: &str = "application/json";
/// `Content-Type` of binary payloads (contract events) and of the empty
/// `removed` payload.
pub const BINARY: &str = "application/octet-stream";

fn path(location: String) -> EventPath {
    // Components and topics here are fixed ASCII names and entities are hex,
    // all well under the path limits.
    EventPath::parse(&location).expect("hex ids and fixed topics make a valid event path")
}

fn json_event(location: String, value: &Value) -> Event {
    Event::new(path(location), JSON, Bytes::from(value.to_string()))
}

/// The JSON of a transaction, shaped like rusk's `moonlight` transaction JSON.
pub(crate) fn tx_json(id: &TxId, tx: &Transaction) -> Value {
    let call = if tx.is_stake() {
        json!({"contract": STAKE_CONTRACT, "fn_name": "stake", "fn_args": ""})
    } else {
        Value::Null
    };
    let memo = if tx.memo().is_empty() {
        Value::Null
    } else {
        Value::String(hex::encode(tx.memo()))
    };
    json!({
        "type": "moonlight",
        "id": id,
        "chain_id": tx.chain_id(),
        "sender": tx.sender(),
        "receiver": tx.receiver(),
        "value": tx.value(),
        "nonce": tx.nonce(),
        "deposit": 0,
        "fee": {
            "gas_limit": tx.gas_limit().to_string(),
            "gas_price": tx.gas_price().to_string(),
            "refund_address": tx.sender(),
        },
        "call": call,
        "is_deploy": false,
        "memo": memo,
    })
}

/// The JSON of a block header, with rusk's field names.
pub(crate) fn header_json(header: &Header) -> Value {
    json!({
        "version": header.version,
        "height": header.height,
        "timestamp": header.timestamp,
        "prev_block_hash": header.prev_block_hash,
        "seed": header.seed,
        "state_hash": header.state_hash,
        "generator_bls_pubkey": header.generator_key,
        "txroot": header.txroot,
        "faultroot": Id::ZERO,
        "gas_limit": header.gas_limit,
        "iteration": header.iteration,
        "hash": header.hash,
    })
}

/// The JSON of an executed transaction (rusk's `SpentTransaction`).
pub(crate) fn executed_json(block_height: u64, executed: &ExecutedTx) -> Value {
    json!({
        "inner": tx_json(&executed.id, &executed.tx),
        "block_height": block_height,
        "gas_spent": executed.gas_spent,
        "err": executed.err,
    })
}

impl Block {
    /// The block as its `accepted` event carries it.
    pub fn to_json(&self) -> serde_json::Value {
        block_json(self)
    }
}

/// The JSON of an accepted block: `{header, transactions: [ids]}`.
pub(crate) fn block_json(block: &Block) -> Value {
    let ids: Vec<&TxId> = block.txs.iter().map(|t| &t.id).collect();
    json!({"header": header_json(&block.header), "transactions": ids})
}

/// `transactions:<id>/included`: the transaction entered the mempool.
pub(crate) fn included(id: &TxId, tx: &Transaction) -> Event {
    json_event(format!("/on/transactions:{id}/included"), &tx_json(id, tx))
}

/// `transactions:<id>/removed`: the transaction left the mempool; empty payload.
pub(crate) fn removed(id: &TxId) -> Event {
    Event::new(
        path(format!("/on/transactions:{id}/removed")),
        BINARY,
        Bytes::new(),
    )
}

/// `transactions:<id>/executed`.
pub(crate) fn executed(block_height: u64, executed: &ExecutedTx) -> Event {
    json_event(
        format!("/on/transactions:{}/executed", executed.id),
        &executed_json(block_height, executed),
    )
}

/// `blocks:<hash>/accepted`.
pub(crate) fn accepted(block: &Block) -> Event {
    json_event(
        format!("/on/blocks:{}/accepted", block.header.hash),
        &block_json(block),
    )
}

/// `blocks:<hash>/statechange`: `{state, atHeight}` with the tip's height.
pub(crate) fn statechange(hash: &BlockHash, state: Finality, at_height: u64) -> Event {
    json_event(
        format!("/on/blocks:{hash}/statechange"),
        &json!({"state": state.as_str(), "atHeight": at_height}),
    )
}

/// `blocks:<hash>/reverted`: `{atHeight}` with the reverted block's height.
pub(crate) fn reverted(hash: &BlockHash, height: u64) -> Event {
    json_event(
        format!("/on/blocks:{hash}/reverted"),
        &json!({"atHeight": height}),
    )
}

/// `contracts:<id>/<topic>`, binary, with `Rusk-Origin` naming what caused
/// it (the transaction id, or the block hash for a block reward), as rusk does.
pub(crate) fn contract(contract: &ContractId, topic: &str, payload: Vec<u8>, origin: &Id) -> Event {
    Event::new(
        path(format!("/on/contracts:{contract}/{topic}")),
        BINARY,
        Bytes::from(payload),
    )
    .with_header("Rusk-Origin", origin.to_string())
}
