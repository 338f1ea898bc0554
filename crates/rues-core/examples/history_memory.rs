//! What the resume history costs in memory at its bounds: fills a node's
//! history to its default bounds (or the bounds given) with frames of a
//! given size, and prints the process's resident memory before and after
//! beside the bytes the history says it keeps (docs/benchmarks.md,
//! "Resume history memory").
//!
//! ```text
//! cargo run --release -p rues-core --example history_memory -- [payload bytes] [streams]
//! ```
//!
//! Linux only (it reads `/proc/self/status`).

use bytes::Bytes;
use rues_core::{
    ComponentSpec, Config, EntityRule, Event, HistoryLimits, Node, Registry, SeededIds,
};
use rues_target::{Component, Entity, EventPath, Target, Topic};

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let payload_len: usize = args
        .next()
        .map_or(1024, |a| a.parse().expect("payload bytes"));
    let streams: usize = args.next().map_or(128, |a| a.parse().expect("streams"));
    let limits = HistoryLimits::default();
    let mut registry = Registry::new();
    let topics: Vec<Topic> = (0..streams)
        .map(|n| Topic::new(format!("t{n}")).expect("valid"))
        .collect();
    let mut spec =
        ComponentSpec::new(Component::new("bench").expect("valid")).entity(EntityRule::Optional);
    for topic in &topics {
        spec = spec.topic(topic.clone());
    }
    registry = registry.with(spec);
    let config = Config::new("1.0.0".parse().expect("valid")).with_history(limits);
    let mut node = Node::new(config, registry, SeededIds::new(1));

    // Every event its own payload buffer, as events from a chain are.
    let payload = vec![0x5a_u8; payload_len];
    let before = rss_kib();
    let mut published = 0u64;
    // Enough to pass every bound: each stream gets twice its event bound.
    for round in 0..2000 {
        for topic in &topics {
            let path = EventPath::new(
                Target::new(
                    Component::new("bench").expect("valid"),
                    Some(Entity::new(format!("{round:08x}")).expect("valid")),
                ),
                topic.clone(),
            );
            let event = Event::new(
                path,
                "application/octet-stream",
                Bytes::copy_from_slice(&payload),
            );
            node.publish(&event).expect("published");
            published += 1;
        }
    }
    let after = rss_kib();
    let stats = node.stats();
    println!("payload {payload_len} B, {streams} streams, {published} events published");
    println!(
        "history keeps {} events in {} streams, {:.1} MiB of frames (bound: {:.1} MiB over the node)",
        stats.history_events,
        stats.history_streams,
        stats.history_bytes as f64 / (1 << 20) as f64,
        limits.max_total_bytes as f64 / (1 << 20) as f64,
    );
    println!(
        "VmRSS before {:.1} MiB, after {:.1} MiB: +{:.1} MiB, {:.2}x the frames kept",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after - before) as f64 / 1024.0,
        ((after - before) * 1024) as f64 / stats.history_bytes.max(1) as f64,
    );
}
