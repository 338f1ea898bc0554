//! The demo chain's parameters: its unit, gas costs and limits, the block
//! reward, stake maturity, the wording of a failed transfer, and the
//! genesis accounts and provisioners with the keys derived from them.

use crate::id::{Account, Id};

/// Lux per DUSK: amounts are in Lux, 10⁻⁹ DUSK.
pub const LUX_PER_DUSK: u64 = 1_000_000_000;
/// Every block's gas limit; a transaction's gas limit may not exceed it.
pub const BLOCK_GAS_LIMIT: u64 = 3_000_000_000;
/// What the generator of a block earns, on top of the block's fees.
pub const BLOCK_REWARD: u64 = 19_857_400_000;
/// Gas a transfer spends.
pub const TRANSFER_GAS: u64 = 100_000;
/// Gas a stake spends.
pub const STAKE_GAS: u64 = 250_000;
/// Extra gas per memo byte.
pub const MEMO_BYTE_GAS: u64 = 100;
/// Gas each blob of a transaction spends (rusk's default `gas_per_blob`);
/// a transaction whose gas limit is below its blobs' gas is refused.
pub const GAS_PER_BLOB: u64 = 1_000_000;
/// The most blobs one block carries: a block stops taking mempool
/// transactions at the first whose blobs would pass it, so that the blobs
/// the history holds stay bounded.
pub const MAX_BLOCK_BLOBS: usize = 6;
/// The most blob data the mempool holds, in bytes (1024 of the largest
/// blobs): propagating a blob transaction past it is refused with 503, as
/// into a full mempool.
pub const MAX_MEMPOOL_BLOB_BYTES: usize = 4 * 1024 * 1024;
/// One generated transaction in this many carries a blob (the 10th, the
/// 20th, ...).
pub const GENERATED_BLOB_EVERY: u64 = 10;
/// The data of the genesis block's blob: the same on every demo chain, so
/// its commitment and versioned hash can be written down (docs/demo-chain.md).
pub const GENESIS_BLOB_DATA: &[u8] = b"rues-demo genesis blob";
/// Blocks after a first stake before it is eligible.
pub const STAKE_MATURITY: u64 = 10;
/// How many demo accounts the generated transactions move funds between.
pub const DEMO_ACCOUNTS: u8 = 8;

/// The balance of each demo account at genesis.
pub(crate) const DEMO_ACCOUNT_BALANCE: u64 = 1_000_000 * LUX_PER_DUSK;
/// The stake of each genesis provisioner.
pub(crate) const GENESIS_STAKE: u64 = 1_000_000 * LUX_PER_DUSK;

/// The error of a transaction whose value and fee exceed the sender's balance
/// (rusk's wording, which rusk-wallet recognises).
pub const INSUFFICIENT_BALANCE: &str = "Value spent larger than account holds";

/// The `i`th demo account (`i` below [`DEMO_ACCOUNTS`]): SHA-256 of
/// `"rues-demo account"` and the byte `i`. They start with 1 000 000 DUSK each.
pub fn demo_account(i: u8) -> Account {
    Id::hash(&[b"rues-demo account", &[i]])
}

/// The `i`th genesis provisioner's account.
pub(crate) fn provisioner_account(i: u8) -> Account {
    Id::hash(&[b"rues-demo provisioner", &[i]])
}

/// The key a stake shows in `node/provisioners` and as a block's
/// `generator_bls_pubkey`: a 96-byte stand-in for a BLS public key, derived
/// from the account, in base58 as rusk shows BLS keys.
pub fn provisioner_key(account: &Account) -> String {
    let mut bytes = Vec::with_capacity(96);
    for i in 0u8..3 {
        bytes.extend_from_slice(Id::hash(&[b"rues-demo bls", account.as_bytes(), &[i]]).as_bytes());
    }
    crate::bs58::encode(&bytes)
}
