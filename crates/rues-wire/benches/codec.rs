//! Encode and decode throughput of the event frame codec, from memory.
//!
//! `cargo bench -p rues-wire` measures; `cargo test -p rues-wire --benches`
//! runs each benchmark once as a smoke test.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rues_wire::{Bytes, Frame};

/// Payload sizes: an empty event, a typical JSON event, a large one, a block-sized one.
const PAYLOAD_SIZES: [(usize, &str); 4] = [
    (0, "0B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

fn frame_with_payload(len: usize) -> Frame {
    let payload: Vec<u8> = (0..len).map(|index| index as u8).collect();
    Frame::new(
        "/on/contracts:0200000000000000000000000000000000000000000000000000000000000000/transfer",
        "application/octet-stream",
        Bytes::from(payload),
    )
    .with_header(
        "Rusk-Origin",
        "0300000000000000000000000000000000000000000000000000000000000000",
    )
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (len, label) in PAYLOAD_SIZES {
        let frame = frame_with_payload(len);
        group.throughput(Throughput::Bytes(frame.encoded_len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &frame, |b, frame| {
            b.iter(|| black_box(frame).encode().expect("bench frame encodes"));
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (len, label) in PAYLOAD_SIZES {
        let message = frame_with_payload(len)
            .encode()
            .expect("bench frame encodes");
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(label),
            &message,
            |b, message| {
                b.iter(|| Frame::decode(black_box(message)).expect("bench message decodes"));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
