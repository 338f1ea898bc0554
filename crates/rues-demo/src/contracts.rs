//! The two demo contracts: their ids, the binary layouts of their events,
//! and their queries (`contracts:<id>/<fn>`).

use crate::id::{Account, ContractId, Id};

/// The transfer-like contract, `0100…00` (the id of Dusk's transfer contract).
pub const TRANSFER_CONTRACT: ContractId = contract_id(1);
/// The stake-like contract, `0200…00` (the id of Dusk's stake contract).
pub const STAKE_CONTRACT: ContractId = contract_id(2);

const fn contract_id(first: u8) -> ContractId {
    let mut bytes = [0u8; 32];
    bytes[0] = first;
    Id::from_bytes(bytes)
}

/// Topics the demo contracts emit.
pub mod topics {
    /// Transfer contract: a successful transfer between accounts.
    pub const MOONLIGHT: &str = "moonlight";
    /// Stake contract: a successful stake.
    pub const STAKE: &str = "stake";
    /// Stake contract: the block generator's reward.
    pub const REWARD: &str = "reward";
}

/// Why a contract query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The entity is not 64 hex characters. Messages quote it bounded
    /// ([`rues_core::quote`]), as they do the function name.
    #[error("{} is not a contract id (64 hexadecimal characters)", rues_core::quote(.0))]
    MalformedContract(String),
    /// No demo contract has this id.
    #[error("no contract {0} on the demo chain (it has 0100…00 transfer and 0200…00 stake)")]
    UnknownContract(ContractId),
    /// The contract has no such function.
    #[error(
        "contract {contract} has no function {} (it has: {available})",
        rues_core::quote(.function)
    )]
    UnknownFunction {
        /// The contract.
        contract: ContractId,
        /// The function asked for.
        function: String,
        /// The functions it has, comma-separated.
        available: &'static str,
    },
    /// The arguments are not what the function takes.
    #[error("`{function}` takes {expected}, got {got} bytes")]
    BadArguments {
        /// The function.
        function: &'static str,
        /// What it takes, in words.
        expected: &'static str,
        /// The argument length received.
        got: usize,
    },
}

/// `moonlight` event payload (72 bytes): sender, receiver, value u64 LE.
pub(crate) fn moonlight_event(sender: &Account, receiver: &Account, value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(sender.as_bytes());
    out.extend_from_slice(receiver.as_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out
}

/// `stake` event payload (48 bytes): account, value staked now u64 LE,
/// account's total stake afterwards u64 LE.
pub(crate) fn stake_event(account: &Account, value: u64, total: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(account.as_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out
}

/// `reward` event payload (48 bytes): generator account, reward u64 LE
/// (block reward plus fees), block height u64 LE.
pub(crate) fn reward_event(generator: &Account, reward: u64, height: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(generator.as_bytes());
    out.extend_from_slice(&reward.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out
}

/// The functions of each contract, for error messages.
pub(crate) const TRANSFER_FUNCTIONS: &str = "balance, account, chain_id";
pub(crate) const STAKE_FUNCTIONS: &str = "get_stake, stake_info, total_stake";

/// Reads a 32-byte account argument.
pub(crate) fn account_arg(function: &'static str, args: &[u8]) -> Result<Account, QueryError> {
    Id::from_slice(args).ok_or(QueryError::BadArguments {
        function,
        expected: "a 32-byte account",
        got: args.len(),
    })
}

/// Checks that a function that takes nothing got nothing.
pub(crate) fn no_args(function: &'static str, args: &[u8]) -> Result<(), QueryError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(QueryError::BadArguments {
            function,
            expected: "no arguments",
            got: args.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_ids_are_dusks() {
        assert_eq!(
            TRANSFER_CONTRACT.to_string(),
            format!("01{}", "0".repeat(62))
        );
        assert_eq!(STAKE_CONTRACT.to_string(), format!("02{}", "0".repeat(62)));
    }

    #[test]
    fn event_layouts_have_the_documented_sizes() {
        let a = Id::from_bytes([1; 32]);
        let b = Id::from_bytes([2; 32]);
        let m = moonlight_event(&a, &b, 3);
        assert_eq!(m.len(), 72);
        assert_eq!(&m[64..], &3u64.to_le_bytes());
        assert_eq!(stake_event(&a, 1, 2).len(), 48);
        let r = reward_event(&a, 5, 6);
        assert_eq!(&r[32..40], &5u64.to_le_bytes());
        assert_eq!(&r[40..48], &6u64.to_le_bytes());
    }
}
