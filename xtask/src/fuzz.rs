//! `cargo xtask fuzz`: runs the cargo-fuzz targets of `fuzz/`.
//!
//! cargo-fuzz needs nightly-only rustc flags (sanitizers); `RUSTC_BOOTSTRAP=1`
//! lets the stable toolchain accept them, so no second toolchain is needed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::{cargo, display};

/// Seconds per target in `cargo xtask ci`: enough to replay the seeds and
/// explore a little, small enough to keep CI well inside its budget.
pub(crate) const CI_SMOKE_SECONDS: u64 = 15;

const DEFAULT_SECONDS: u64 = 60;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut all = false;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--all" => all = true,
            "--list" => {
                for target in targets_in_manifest()? {
                    println!("{target}");
                }
                return Ok(());
            }
            "--seconds" => {
                let value = args.next().context("--seconds needs a value")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds: `{value}` is not a number"))?;
            }
            flag if flag.starts_with('-') => bail!("fuzz: unknown option `{flag}`"),
            target => targets.push(target.to_owned()),
        }
    }
    let known = targets_in_manifest()?;
    if all {
        targets = known.clone();
    }
    if targets.is_empty() {
        bail!(
            "fuzz: name a target or pass --all; targets: {}",
            known.join(", ")
        );
    }
    for target in &targets {
        if !known.contains(target) {
            bail!(
                "fuzz: unknown target `{target}`; targets: {}",
                known.join(", ")
            );
        }
    }
    ensure_cargo_fuzz()?;
    let mut report = Vec::new();
    for target in &targets {
        let runs = fuzz_target(target, seconds)?;
        report.push((target.clone(), runs));
    }
    eprintln!("\nfuzz summary ({seconds} s per target):");
    for (target, runs) in report {
        eprintln!(
            "  {target:<20} {} executions, no crash",
            runs.map_or("?".to_owned(), |r| r.to_string())
        );
    }
    Ok(())
}

/// Runs every target briefly: the CI smoke step.
pub(crate) fn smoke(seconds: u64) -> Result<()> {
    run(&[
        "--all".to_owned(),
        "--seconds".to_owned(),
        seconds.to_string(),
    ])
}

fn targets_in_manifest() -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string("fuzz/Cargo.toml").context("reading fuzz/Cargo.toml")?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if let (true, Some(value)) = (in_bin, line.strip_prefix("name")) {
            let name = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            targets.push(name.to_owned());
        }
    }
    Ok(targets)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(());
    }
    eprintln!("cargo-fuzz is not installed; installing it from crates.io");
    crate::run(cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// Runs one target for `seconds`, echoing libFuzzer's output, and returns the
/// number of executions from its closing `Done N runs` line.
fn fuzz_target(target: &str, seconds: u64) -> Result<Option<u64>> {
    let corpus = format!("fuzz/corpus/{target}");
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {corpus}"))?;
    let mut cmd = cargo();
    cmd.args(["fuzz", "run", "--fuzz-dir", "fuzz", target, &corpus, "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .env("RUSTC_BOOTSTRAP", "1")
        .stderr(Stdio::piped());
    eprintln!("$ RUSTC_BOOTSTRAP=1 {}", display(&cmd));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", display(&cmd)))?;
    let mut runs = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            eprintln!("{line}");
            // libFuzzer closes with "Done 123456 runs in 60 second(s)".
            if let Some(rest) = line.strip_prefix("Done ") {
                runs = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "fuzz target `{target}` failed ({status}): see the crash report above; the input is saved under fuzz/artifacts/{target}/"
        );
    }
    Ok(runs)
}
