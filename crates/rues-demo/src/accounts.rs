//! `account:<address>/status`: a public account's balance and nonces, in
//! rusk's shape (docs/demo-chain.md §5, "Accounts").
//!
//! The address is written as Dusk writes account keys, base58, here of the
//! demo chain's 32-byte account. Base58 is case-sensitive, so the `account`
//! component declares no entity canonicalisation: the core hands the entity
//! over exactly as the client wrote it (docs/protocol.md §3).

use std::collections::HashSet;

use rues_core::{DispatchRequest, HandlerError, Reply};
use serde_json::json;

use crate::driver::SharedChain;
use crate::id::{Account, Id};

/// An account's address as Dusk writes account keys, and as
/// `account:<address>/status` takes it: the base58 of its 32 bytes.
pub fn address(account: &Account) -> String {
    crate::bs58::encode(account.as_bytes())
}

/// The account an address names. Errors say what is wrong, never repeating
/// the address.
pub(crate) fn parse_address(address: &str) -> Result<Account, HandlerError> {
    const EXPECTED: &str = "an account address is the base58 of its 32-byte key";
    if let Some(bytes) = crate::bs58::decode::<32>(address) {
        return Ok(Id::from_bytes(bytes));
    }
    let base58 = address
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'));
    let message = if address.len() == 64 && address.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("invalid account: {EXPECTED}, not hex")
    } else if base58 {
        format!("invalid account: {EXPECTED}, and this does not decode to 32 bytes")
    } else {
        format!("invalid account: {EXPECTED}, and this has characters outside the base58 alphabet")
    };
    Err(HandlerError::bad_request(message))
}

/// `account:<address>/status` → `{"balance", "nonce", "next_nonce"}`. An
/// account the chain has not seen is answered, as rusk answers one, with
/// its state: here the balance any unseen account starts with
/// (`initial_balance`) and nonce 0. `next_nonce` is the nonce after the
/// account's, skipping those its mempool transactions already use (rusk's
/// rule).
pub(crate) fn status(
    chain: &SharedChain,
    request: &DispatchRequest,
) -> Result<Reply, HandlerError> {
    let address = request.path.entity().ok_or_else(|| {
        HandlerError::not_found("accounts need an address: account:<address>/status")
    })?;
    let account = parse_address(address.as_str())?;
    let chain = chain.lock();
    let balance = chain.balance(&account);
    let nonce = chain.nonce(&account);
    let pending: HashSet<u64> = chain
        .mempool()
        .filter(|p| *p.tx.sender() == account)
        .map(|p| p.tx.nonce())
        .collect();
    drop(chain);
    let mut next_nonce = nonce.saturating_add(1);
    // Ends: each step uses up one of the finitely many pending nonces.
    while pending.contains(&next_nonce) && next_nonce < u64::MAX {
        next_nonce += 1;
    }
    Ok(Reply::json(&json!({
        "balance": balance,
        "nonce": nonce,
        "next_nonce": next_nonce,
    })))
}
