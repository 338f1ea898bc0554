//! One clock for every process of a run: `CLOCK_MONOTONIC`, which the
//! publishers (ours, and Node's `process.hrtime.bigint()`) stamp into each
//! payload and the subscribers read on arrival, all on the same machine.

/// Nanoseconds of `CLOCK_MONOTONIC`.
pub(crate) fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}
