//! `cargo xtask tidy`: mechanical checks of the workspace's shape.
//!
//! - Dependency direction (ARCHITECTURE.md): the codec and the parser know
//!   nothing of each other, and nothing below the transport adapter knows a
//!   runtime or a socket library. This check is also a test
//!   (`dependencies_point_the_right_way` below), so a plain `cargo test
//!   --workspace` fails the day tokio creeps into rues-core.
//! - Every library crate can be depended on: package metadata and crate docs,
//!   and `cargo package` (here only: too slow for a test).
//! - `Cargo.lock` is committed.

use std::path::Path;

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
    // The test kit's default part serves the runtime-free crates' tests and
    // the fuzz targets; tokio and the rest come only with its `server` feature.
    Rule {
        krate: "rues-testkit",
        forbidden: &[],
    },
];

impl Rule {
    /// What is wrong with `deps`, `krate`'s normal dependencies.
    fn violations(&self, deps: &[String]) -> Vec<String> {
        self.forbidden
            .iter()
            .chain(IO_CRATES)
            .filter(|bad| deps.iter().any(|d| d == *bad))
            .map(|bad| {
                format!(
                    "{} depends on {bad} (see `cargo tree -p {} -i {bad}`)",
                    self.krate, self.krate
                )
            })
            .collect()
    }
}

/// The library crates others may depend on; each must be publishable.
const LIBRARY_CRATES: &[&str] = &["rues-wire", "rues-target", "rues-core", "rues-client"];

pub(crate) fn run() -> Result<()> {
    let mut problems = dependency_direction(Path::new("."))?;
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

/// The dependency-direction check of the workspace at `root`: one problem
/// per forbidden dependency (none when the workspace is tidy). Called by
/// `cargo xtask tidy` and by the test `dependencies_point_the_right_way`.
pub(crate) fn dependency_direction(root: &Path) -> Result<Vec<String>> {
    check_dependency_direction(|krate| cargo_tree(root, krate))
}

/// [`dependency_direction`] with `tree(krate)` standing for `cargo tree`'s
/// output (one `name version [(source)]` line per package), so a test can
/// feed it a tree that breaks the rules.
fn check_dependency_direction(tree: impl Fn(&str) -> Result<String>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for rule in RULES {
        let deps = package_names(&tree(rule.krate)?, rule.krate);
        problems.extend(rule.violations(&deps));
        eprintln!(
            "tidy: {} has {} normal dependencies: {}",
            rule.krate,
            deps.len(),
            deps.join(" ")
        );
    }
    Ok(problems)
}

/// `krate`'s normal (non-dev, non-build) dependency tree, one package a line,
/// with its default features only.
fn cargo_tree(root: &Path, krate: &str) -> Result<String> {
    let output = cargo()
        .current_dir(root)
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
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The names of the packages in a `cargo tree --prefix none` listing, sorted
/// and once each, without `krate` itself.
fn package_names(tree: &str, krate: &str) -> Vec<String> {
    let mut names: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != krate)
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The real check, on this workspace: `cargo test` runs it, not only
    /// `cargo xtask tidy`.
    #[test]
    fn dependencies_point_the_right_way() {
        let problems = dependency_direction(&crate::project_root()).expect("cargo tree runs");
        assert!(
            problems.is_empty(),
            "the dependency direction is broken (ARCHITECTURE.md):\n  {}",
            problems.join("\n  ")
        );
    }

    /// What `cargo tree -p <krate> -e normal --prefix none --format {p}`
    /// prints for a tidy workspace.
    fn tidy_tree(krate: &str) -> Result<String> {
        Ok(match krate {
            "rues-wire" => "rues-wire v0.1.0 (/w/crates/rues-wire)\nbytes v1.12.0\n",
            "rues-target" => "rues-target v0.1.0 (/w/crates/rues-target)\npercent-encoding v2.3.2\n",
            "rues-core" => {
                "rues-core v0.1.0 (/w/crates/rues-core)\nrues-wire v0.1.0 (/w/crates/rues-wire)\n\
                 bytes v1.12.0\nrues-target v0.1.0 (/w/crates/rues-target)\nbytes v1.12.0 (*)\n"
            }
            "rues-testkit" => {
                "rues-testkit v0.1.0 (/w/crates/rues-testkit)\nrues-core v0.1.0 (/w/crates/rues-core)\n"
            }
            other => panic!("no rule names {other}"),
        }
        .to_owned())
    }

    #[test]
    fn a_tidy_tree_passes() {
        assert_eq!(
            check_dependency_direction(tidy_tree).expect("checked"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_runtime_under_the_core_fails() {
        let problems = check_dependency_direction(|krate| {
            if krate == "rues-core" {
                Ok("rues-core v0.1.0 (/w/crates/rues-core)\nrues-wire v0.1.0 (/w/crates/rues-wire)\n\
                    tokio v1.54.1\nmio v1.0.4\ntokio v1.54.1 (*)\n"
                    .to_owned())
            } else {
                tidy_tree(krate)
            }
        })
        .expect("checked");
        assert_eq!(
            problems,
            [
                "rues-core depends on tokio (see `cargo tree -p rues-core -i tokio`)",
                "rues-core depends on mio (see `cargo tree -p rues-core -i mio`)",
            ]
        );
    }

    #[test]
    fn the_codec_and_the_parser_must_not_meet() {
        let problems = check_dependency_direction(|krate| {
            if krate == "rues-wire" {
                Ok("rues-wire v0.1.0 (/w/crates/rues-wire)\nrues-target v0.1.0 (/w/crates/rues-target)\n".to_owned())
            } else {
                tidy_tree(krate)
            }
        })
        .expect("checked");
        assert_eq!(
            problems,
            ["rues-wire depends on rues-target (see `cargo tree -p rues-wire -i rues-target`)"]
        );
    }

    #[test]
    fn a_failing_cargo_tree_is_an_error_not_a_pass() {
        let result = check_dependency_direction(|_| bail!("cargo tree failed"));
        assert!(result.is_err());
    }
}
