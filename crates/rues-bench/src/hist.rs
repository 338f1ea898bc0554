//! A small log-linear latency histogram: 32 buckets per power of two (at most
//! 3 % relative error), values in nanoseconds up to about 18 minutes.
//! One per connection, allocated on first use and merged at the end of a step.

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Values are clamped below 2^40 ns.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = ((MAX_EXP - SUB_BITS + 1) as usize + 1) * SUB as usize;

/// Counts of latencies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hist {
    counts: Vec<u32>,
    total: u64,
    max: u64,
}

fn index(value: u64) -> usize {
    let value = value.min((1 << MAX_EXP) - 1);
    if value < SUB {
        return value as usize;
    }
    let exp = 63 - value.leading_zeros();
    let shift = exp - SUB_BITS;
    let mantissa = (value >> shift) & (SUB - 1);
    ((exp - SUB_BITS + 1) as usize) * SUB as usize + mantissa as usize
}

/// The upper end of a bucket's values.
fn upper(index: usize) -> u64 {
    let sub = SUB as usize;
    if index < sub {
        return index as u64;
    }
    let exp = (index / sub) as u32 + SUB_BITS - 1;
    let mantissa = (index % sub) as u64;
    let shift = exp - SUB_BITS;
    ((SUB + mantissa + 1) << shift) - 1
}

impl Hist {
    /// Adds one value.
    pub(crate) fn record(&mut self, value: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        let slot = &mut self.counts[index(value)];
        *slot = slot.saturating_add(1);
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds every value of `other`.
    pub(crate) fn merge(&mut self, other: &Hist) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Forgets every value, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.max = 0;
    }

    /// How many values were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0..=1), as the upper end of its bucket; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in (0..2_000_000u64).step_by(7).chain([1 << 30, (1 << 40) - 1]) {
            let i = index(v);
            assert!(i >= last, "monotone at {v}");
            last = i;
            assert!(upper(i) >= v, "upper({i}) = {} < {v}", upper(i));
            assert!(upper(i) as f64 <= v as f64 * 1.04 + 1.0, "loose at {v}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Hist::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.04, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.04, "{p99}");
        assert_eq!(h.quantile(1.0), 1_000_000);
        let mut merged = Hist::default();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!(merged.count(), 2000);
        merged.clear();
        assert_eq!(merged.quantile(0.99), 0);
    }
}
