//! `rues tx --blob`: a blob transaction of the demo format, with the gas its
//! blobs need.

use crate::node::rues;

fn decoded(args: &[&str]) -> rues_demo::Transaction {
    let output = rues().arg("tx").args(args).output().expect("runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let hex = text.trim().strip_prefix("0x").expect("0x prefix");
    let bytes = hex::decode(hex).expect("hex");
    rues_demo::Transaction::decode(&bytes).expect("a demo transaction")
}

#[test]
fn tx_with_blobs_carries_them_and_the_gas_they_need() {
    let tx = decoded(&["--blob", "hello", "--blob", "world"]);
    let data: Vec<&[u8]> = tx.blobs().iter().map(|b| b.data()).collect();
    assert_eq!(data, [&b"hello"[..], b"world"]);
    assert_eq!(
        tx.gas_limit(),
        rues_demo::tx::DEFAULT_GAS_LIMIT + 2 * rues_demo::params::GAS_PER_BLOB
    );
    let plain = decoded(&[]);
    assert!(plain.blobs().is_empty());
    assert_eq!(plain.gas_limit(), rues_demo::tx::DEFAULT_GAS_LIMIT);
    assert_eq!(
        decoded(&["--blob", "x", "--gas-limit", "42"]).gas_limit(),
        42
    );
}

#[test]
fn tx_with_too_many_blobs_fails_with_the_reason() {
    let mut command = rues();
    command.arg("tx");
    for _ in 0..7 {
        command.args(["--blob", "b"]);
    }
    let output = command.output().expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 to 6"), "{stderr}");
}
