//! `cargo xtask bench load [ARGS]`: the load harness
//! (`crates/rues-bench`: rues side by side with the stack's limits), built in release mode and run as
//! `rues-bench load ARGS`. `--quick` is the CI-sized run; with no arguments
//! it is the full run that docs/benchmarks.md reports. The harness installs
//! its peers itself (nats-server with apt-get, the `ws` package with
//! `npm ci`) and writes `target/rues-bench/{report.md,results.json,fanout-p99.svg}`.

use anyhow::Result;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut cmd = crate::cargo();
    cmd.args([
        "run",
        "--release",
        "--locked",
        "--quiet",
        "--package",
        "rues-bench",
        "--",
        "load",
    ]);
    cmd.args(args);
    crate::run(&mut cmd)
}
