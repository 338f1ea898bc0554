//! Parsing and displaying event paths.
//!
//! `cargo bench -p rues-target` measures; `cargo test -p rues-target --benches`
//! runs each benchmark once as a smoke test.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rues_target::EventPath;

/// Paths a node sees, from the shortest to one with escapes to decode.
const PATHS: [(&str, &str); 3] = [
    ("short", "/on/blocks/accepted"),
    (
        "hash_entity",
        "/on/blocks:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/accepted",
    ),
    (
        "percent_encoded",
        "/on/contracts:caf%C3%A9%3Aa%2Fb%20c/Transfer%3Av2%20%F0%9F%98%80",
    ),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, path) in PATHS {
        group.bench_function(name, |b| b.iter(|| EventPath::parse(black_box(path))));
    }
    group.finish();
}

fn display(c: &mut Criterion) {
    let mut group = c.benchmark_group("display");
    for (name, path) in PATHS {
        let parsed = EventPath::parse(path).expect("benchmark paths are valid");
        group.bench_function(name, |b| b.iter(|| black_box(&parsed).to_string()));
    }
    group.finish();
}

criterion_group!(benches, parse, display);
criterion_main!(benches);
