//! The endpoints of rusk's node API that read the chain beyond blocks and
//! transactions: `blobs:<commitment>/commitment` and `blobs:<hash>/hash`,
//! `stats/account_count` and `stats/tx_count`, `transactions/simulate`,
//! `network/peers_location`, and `prover/prove`, which the demo node
//! refuses (it has no prover). `registry` registers them; their requests
//! and replies are in `docs/demo-chain.md` §5.

use std::future::ready;
use std::sync::Arc;

use rues_core::bytes::Bytes;
use rues_core::http::StatusCode;
use rues_core::{ComponentSpec, DispatchRequest, EntityRule, HandlerError, Reply};
use serde_json::json;

use crate::blob::{COMMITMENT_LEN, versioned_hash};
use crate::chain::TxError;
use crate::driver::SharedChain;
use crate::id::Id;
use crate::registry::{component, sync, topic};

type Result = std::result::Result<Reply, HandlerError>;

/// Where `network/peers_location` places the fake peers of
/// [`PEERS`](crate::registry::PEERS), in the same order: fixed cities, since
/// TEST-NET-1 addresses have no location (rusk asks ip-api.com; the demo
/// node makes no outbound request). (latitude, longitude, city, country,
/// country code.)
pub(crate) const PEER_LOCATIONS: [(f64, f64, &str, &str, &str); 8] = [
    (52.3676, 4.9041, "Amsterdam", "Netherlands", "NL"),
    (50.1109, 8.6821, "Frankfurt am Main", "Germany", "DE"),
    (51.5072, -0.1276, "London", "United Kingdom", "GB"),
    (40.7128, -74.006, "New York", "United States", "US"),
    (1.3521, 103.8198, "Singapore", "Singapore", "SG"),
    (35.6762, 139.6503, "Tokyo", "Japan", "JP"),
    (-23.5505, -46.6333, "São Paulo", "Brazil", "BR"),
    (-33.8688, 151.2093, "Sydney", "Australia", "AU"),
];

/// `blobs:<commitment>/commitment` and `blobs:<versioned hash>/hash`. The
/// entities are hex, so the core lower-cases them (docs/protocol.md §3).
pub(crate) fn blobs(chain: &Arc<SharedChain>) -> ComponentSpec {
    ComponentSpec::new(component("blobs"))
        .entity(EntityRule::Required)
        .hex_entities()
        .handler(topic("commitment"), sync(chain, blob_by_commitment))
        .handler(topic("hash"), sync(chain, blob_by_hash))
}

/// `stats/account_count` and `stats/tx_count`.
pub(crate) fn stats(chain: &Arc<SharedChain>) -> ComponentSpec {
    ComponentSpec::new(component("stats"))
        .entity(EntityRule::Forbidden)
        .handler(topic("account_count"), sync(chain, account_count))
        .handler(topic("tx_count"), sync(chain, tx_count))
}

/// `prover/prove`: always 501.
pub(crate) fn prover() -> ComponentSpec {
    ComponentSpec::new(component("prover"))
        .entity(EntityRule::Forbidden)
        .handler(topic("prove"), |_request: DispatchRequest| {
            ready(Err::<Reply, _>(HandlerError::new(
                StatusCode::NOT_IMPLEMENTED,
                "this node has no prover: the demo node does not prove transactions \
                 (a node serving prover/prove runs a prover beside it)",
            )))
        })
}

/// The entity as bytes: hex, in either case, with or without `0x`.
fn entity_hex(request: &DispatchRequest) -> Option<Vec<u8>> {
    let text = request.path.entity()?.as_str();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(text).ok()
}

/// Whether the request's `Content-Type` is `application/json` (parameters
/// aside), which asks for the JSON sidecar, as on rusk.
fn wants_json(request: &DispatchRequest) -> bool {
    request.content_type.as_deref().is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// The sidecar of the blob with versioned hash `hash`; `named_by` says
/// what the request named it by, for the 404 (which repeats nothing of the
/// request).
fn blob_reply(chain: &SharedChain, request: &DispatchRequest, hash: &Id, named_by: &str) -> Result {
    let chain = chain.lock();
    let Some(blob) = chain.blob(hash) else {
        return Err(HandlerError::not_found(format!(
            "Blob not found: no block this node holds carries a blob with that {named_by}"
        )));
    };
    if wants_json(request) {
        Ok(Reply::json(&blob.sidecar_json()))
    } else {
        Ok(Reply::Binary(Bytes::from(blob.sidecar_bytes())))
    }
}

fn blob_by_commitment(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let commitment = entity_hex(request).ok_or_else(|| {
        HandlerError::bad_request(format!(
            "commitment not hex: a blob commitment is {} hex characters ({COMMITMENT_LEN} bytes)",
            2 * COMMITMENT_LEN
        ))
    })?;
    if commitment.len() != COMMITMENT_LEN {
        return Err(HandlerError::bad_request(format!(
            "commitment length: a blob commitment is {COMMITMENT_LEN} bytes, this one {}",
            commitment.len()
        )));
    }
    blob_reply(chain, request, &versioned_hash(&commitment), "commitment")
}

fn blob_by_hash(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let bytes = entity_hex(request).ok_or_else(|| {
        HandlerError::bad_request(
            "hash not hex: a blob's versioned hash is 64 hex characters (32 bytes)",
        )
    })?;
    let hash = Id::from_slice(&bytes).ok_or_else(|| {
        HandlerError::bad_request(format!(
            "hash length: a blob's versioned hash is 32 bytes, this one {}",
            bytes.len()
        ))
    })?;
    blob_reply(chain, request, &hash, "versioned hash")
}

fn account_count(chain: &SharedChain, _request: &DispatchRequest) -> Result {
    let count = chain.lock().account_count();
    Ok(Reply::json(&json!({ "public_accounts": count })))
}

fn tx_count(chain: &SharedChain, _request: &DispatchRequest) -> Result {
    // The demo chain has public (moonlight) transactions only.
    let public = chain.lock().tx_count();
    Ok(Reply::json(&json!({
        "public": public,
        "shielded": 0,
        "total": public,
    })))
}

/// `transactions/simulate`: rusk's `{"gas-spent", "error"}`. A body that is
/// not a transaction this node would take is 422, as for `propagate`.
pub(crate) fn simulate(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let simulation = chain
        .lock()
        .simulate(request.body.as_bytes())
        .map_err(|e: TxError| HandlerError::unprocessable(e.to_string()))?;
    Ok(Reply::json(&json!({
        "gas-spent": simulation.gas_spent,
        "error": simulation.err,
    })))
}

/// `network/peers_location`: where the fake peers are.
pub(crate) fn peers_location(_chain: &SharedChain, _request: &DispatchRequest) -> Result {
    let list: Vec<serde_json::Value> = PEER_LOCATIONS
        .iter()
        .map(|&(lat, lon, city, country, code)| {
            json!({
                "lat": lat,
                "lon": lon,
                "city": city,
                "country": country,
                "countryCode": code,
            })
        })
        .collect();
    Ok(Reply::json(&serde_json::Value::Array(list)))
}
