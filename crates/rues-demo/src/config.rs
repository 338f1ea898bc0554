//! The simulated chain's configuration.

use serde::{Deserialize, Serialize};

/// The chain id a default configuration (and a default [`TxBuilder`](crate::tx::TxBuilder)) uses.
pub const DEFAULT_CHAIN_ID: u8 = 0;

/// How the simulated chain behaves. Every field has a default, so a TOML
/// table may name only what it changes:
///
/// ```toml
/// block_time_ms = 1000
/// revert_one_in = 0     # never revert
/// seed = 7
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ChainConfig {
    /// Milliseconds between blocks (default 2000).
    pub block_time_ms: u64,
    /// Generated transactions per second, 0 for none (default 1.0; at most 1000).
    pub tx_per_second: f64,
    /// A block is `confirmed` once this many blocks are on top of it (default 1).
    pub confirmed_after: u64,
    /// A block is `finalized` once this many blocks are on top of it
    /// (default 3; more than `confirmed_after`).
    pub finalized_after: u64,
    /// Before each block, the tip is reverted with probability 1 in this
    /// number (a block that replaced a reverted one is never reverted); 0
    /// never reverts (default 20).
    pub revert_one_in: u64,
    /// The seed of every random choice: the same seed and the same inputs
    /// at the same times give the same chain (default 1).
    pub seed: u64,
    /// The chain id in `node/info` and in transactions (default 0).
    pub chain_id: u8,
    /// The node version `node/info` reports; a semantic version (default
    /// `1.6.0`, which satisfies `^1.0.0-rc.0` as Dusk's clients require).
    pub version: String,
    /// Most transactions per block (default 100).
    pub max_block_txs: usize,
    /// Most transactions in the mempool; propagating into a full mempool is
    /// refused with 503 (default 10 000).
    pub max_mempool: usize,
    /// Blocks kept in memory; older finalized blocks and their transactions
    /// are forgotten (default 10 000; at least `finalized_after + 2`).
    pub history: usize,
    /// Provisioners at genesis, which take turns generating blocks (default 4).
    pub provisioners: usize,
    /// The balance, in Lux, of an account the chain has not seen yet, so any
    /// sender can transact (default 1000 DUSK).
    pub initial_balance: u64,
    /// Accounts the contract state remembers beyond the demo accounts
    /// (default 10 000). Past it the account seen first is forgotten: it
    /// reads as a fresh account again (`initial_balance`, nonce 0). Keeps
    /// the state bounded whatever senders clients invent.
    pub max_accounts: usize,
    /// Stakes remembered beyond the genesis provisioners (default 64), so
    /// `node/provisioners` stays bounded. Past it the oldest stake is
    /// forgotten, as if withdrawn.
    pub max_stakes: usize,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            block_time_ms: 2000,
            tx_per_second: 1.0,
            confirmed_after: 1,
            finalized_after: 3,
            revert_one_in: 20,
            seed: 1,
            chain_id: DEFAULT_CHAIN_ID,
            version: "1.6.0".to_owned(),
            max_block_txs: 100,
            max_mempool: 10_000,
            history: 10_000,
            provisioners: 4,
            initial_balance: 1_000 * crate::params::LUX_PER_DUSK,
            max_accounts: 10_000,
            max_stakes: 64,
        }
    }
}

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field is out of range; the message says which and why.
    #[error("invalid chain configuration: `{field}` {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl ChainConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.block_time_ms == 0 {
            return Err(invalid("block_time_ms", "must be at least 1"));
        }
        if !(self.tx_per_second.is_finite() && (0.0..=1000.0).contains(&self.tx_per_second)) {
            return Err(invalid("tx_per_second", "must be between 0 and 1000"));
        }
        if self.confirmed_after == 0 {
            return Err(invalid("confirmed_after", "must be at least 1"));
        }
        if self.finalized_after <= self.confirmed_after {
            return Err(invalid(
                "finalized_after",
                format!(
                    "must be more than confirmed_after ({})",
                    self.confirmed_after
                ),
            ));
        }
        if self.finalized_after > 1000 {
            return Err(invalid("finalized_after", "must be at most 1000"));
        }
        rues_core::semver::Version::parse(&self.version)
            .map_err(|e| invalid("version", format!("is not a semantic version: {e}")))?;
        if self.max_block_txs == 0 {
            return Err(invalid("max_block_txs", "must be at least 1"));
        }
        if self.max_mempool == 0 {
            return Err(invalid("max_mempool", "must be at least 1"));
        }
        let min_history = usize::try_from(self.finalized_after + 2).unwrap_or(usize::MAX);
        if self.history < min_history {
            return Err(invalid(
                "history",
                format!("must be at least finalized_after + 2 ({min_history})"),
            ));
        }
        if !(1..=64).contains(&self.provisioners) {
            return Err(invalid("provisioners", "must be between 1 and 64"));
        }
        Ok(())
    }

    /// Milliseconds between generated transactions; `None` when none are generated.
    pub(crate) fn tx_interval_ms(&self) -> Option<u64> {
        if self.tx_per_second > 0.0 {
            // `as` saturates: a vanishing rate gives a practically infinite interval.
            let interval = (1000.0 / self.tx_per_second).round();
            Some((interval as u64).max(1))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_matches_the_docs() {
        let config = ChainConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.block_time_ms, 2000);
        assert_eq!(config.tx_interval_ms(), Some(1000));
        let version = rues_core::semver::Version::parse(&config.version).expect("semver");
        let required = rues_core::semver::VersionReq::parse("^1.0.0-rc.0").expect("req");
        assert!(required.matches(&version));
    }

    #[test]
    fn empty_table_gives_the_defaults_and_unknown_fields_are_refused() {
        let config: ChainConfig = serde_json::from_str("{}").expect("defaults");
        assert_eq!(config, ChainConfig::default());
        let partial: ChainConfig =
            serde_json::from_str(r#"{"seed": 9, "tx_per_second": 0}"#).expect("partial");
        assert_eq!(partial.seed, 9);
        assert_eq!(partial.tx_interval_ms(), None);
        assert_eq!(partial.block_time_ms, 2000);
        let typo = serde_json::from_str::<ChainConfig>(r#"{"block_time": 5}"#);
        assert!(typo.is_err());
    }

    #[test]
    fn validate_names_the_bad_field() {
        type Change = Box<dyn Fn(&mut ChainConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("block_time_ms", Box::new(|c| c.block_time_ms = 0)),
            ("tx_per_second", Box::new(|c| c.tx_per_second = -1.0)),
            ("tx_per_second", Box::new(|c| c.tx_per_second = f64::NAN)),
            ("confirmed_after", Box::new(|c| c.confirmed_after = 0)),
            ("finalized_after", Box::new(|c| c.finalized_after = 1)),
            ("finalized_after", Box::new(|c| c.finalized_after = 5000)),
            ("version", Box::new(|c| c.version = "one".into())),
            ("max_block_txs", Box::new(|c| c.max_block_txs = 0)),
            ("max_mempool", Box::new(|c| c.max_mempool = 0)),
            ("history", Box::new(|c| c.history = 4)),
            ("provisioners", Box::new(|c| c.provisioners = 0)),
        ];
        for (field, change) in cases {
            let mut config = ChainConfig::default();
            change(&mut config);
            let err = config.validate().expect_err(field);
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
