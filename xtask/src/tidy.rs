//! `cargo xtask tidy`: mechanical checks of the workspace's shape.
//!
//! - Dependency direction (ARCHITECTURE.md): the codec and the parser know
//!   nothing of each other, and nothing below the transport adapter knows a
//!   runtime or a socket library.
//! - Every library crate can be depended on: package metadata and crate docs.
//! - `Cargo.lock` is committed.

use anyhow::{Context, Result, bail};

use crate::cargo;

/// A crate and the packages that must never appear in its normal dependency tree.
struct Rule {
    krate: &'static str,
    forbidden: &'static [&'static str],
}

/// Runtime and socket crates that only the transport adapter may pull in.
const IO_CRATES: &[&str] = &[
    "tokio",
    "warp",
    "hyper",
    "mio",
    "async-std",
    "tokio-tungstenite",
    "tungstenite",
];

const RULES: &[Rule] = &[
    Rule {
        krate: "rues-wire",
        forbidden: &["rues-target", "rues-core"],
    },
    Rule {
        krate: "rues-target",
        forbidden: &["rues-wire", "rues-core"],
    },
    Rule {
        krate: "rues-core",
        forbidden: &[],
    },
];

/// The library crates others may depend on; each must be publishable.
const LIBRARY_CRATES: &[&str] = &["rues-wire", "rues-target", "rues-core", "rues-client"];

pub(crate) fn run() -> Result<()> {
    let mut problems = Vec::new();
    for rule in RULES {
        let deps = normal_dependencies(rule.krate)?;
        for bad in rule.forbidden.iter().chain(IO_CRATES) {
            if deps.iter().any(|d| d == bad) {
                problems.push(format!(
                    "{} depends on {bad} (see `cargo tree -p {} -i {bad}`)",
                    rule.krate, rule.krate
                ));
            }
        }
        eprintln!(
            "tidy: {} has {} normal dependencies: {}",
            rule.krate,
            deps.len(),
            deps.join(" ")
        );
    }
    for krate in LIBRARY_CRATES {
        check_package_metadata(krate, &mut problems)?;
    }
    check_packaging(&mut problems)?;
    if !std::path::Path::new("Cargo.lock").exists() {
        problems.push("Cargo.lock is missing: it is committed".to_owned());
    }
    if !problems.is_empty() {
        bail!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    eprintln!("tidy: ok");
    Ok(())
}

/// Names of every package in `krate`'s normal (non-dev, non-build) dependency tree.
fn normal_dependencies(krate: &str) -> Result<Vec<String>> {
    let output = cargo()
        .args([
            "tree", "--locked", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .output()
        .with_context(|| format!("running cargo tree -p {krate}"))?;
    if !output.status.success() {
        bail!(
            "cargo tree -p {krate} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != krate)
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// `cargo package` for every library crate at once, so each finds the others
/// (unpublished) in the same run. `--no-verify` skips the rebuild: the tests
/// already build every crate.
fn check_packaging(problems: &mut Vec<String>) -> Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "package",
        "--no-verify",
        "--allow-dirty",
        "--locked",
        "--quiet",
    ]);
    for krate in LIBRARY_CRATES {
        cmd.args(["-p", krate]);
    }
    let output = cmd.output().context("running cargo package")?;
    if !output.status.success() {
        problems.push(format!(
            "cargo package failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    } else {
        eprintln!("tidy: cargo package ok for {}", LIBRARY_CRATES.join(", "));
    }
    Ok(())
}

fn check_package_metadata(krate: &str, problems: &mut Vec<String>) -> Result<()> {
    let dir = format!("crates/{krate}");
    let manifest = std::fs::read_to_string(format!("{dir}/Cargo.toml"))
        .with_context(|| format!("reading {dir}/Cargo.toml"))?;
    for key in [
        "description",
        "license",
        "keywords",
        "categories",
        "repository",
    ] {
        let present = manifest
            .lines()
            .any(|line| line.trim_start().starts_with(key));
        if !present {
            problems.push(format!("{dir}/Cargo.toml has no `{key}`"));
        }
    }
    let lib = std::fs::read_to_string(format!("{dir}/src/lib.rs"))
        .with_context(|| format!("reading {dir}/src/lib.rs"))?;
    if !lib.trim_start().starts_with("//!") {
        problems.push(format!(
            "{dir}/src/lib.rs does not open with crate docs (`//!`)"
        ));
    }
    Ok(())
}
