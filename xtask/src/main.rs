//! The project's tasks, run as `cargo xtask <task>` (the alias lives in
//! `.cargo/config.toml`). `cargo xtask help` lists them.
//!
//! This crate is deliberately dependency-light (std and anyhow): it shells out
//! to cargo and the tools cargo installs, so that what CI runs is exactly what a
//! developer runs by hand. `.ci/run` is `cargo xtask ci` and nothing else.

mod deps;
mod fuzz;
mod load;
mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

const HELP: &str = "\
cargo xtask <task> [options]

tasks:
  test [--long]                 every test of the workspace (unit, integration, doc,
                                browser); installs Chromium, ChromeDriver and curl with
                                apt-get when missing (as root); --long raises proptest case
                                counts (PROPTEST_CASES=20000)
  lint                          rustfmt check, clippy -D warnings, rustdoc -D warnings
  tidy                          dependency-direction and packaging checks
  fuzz <target>|--all [--seconds N]
                                run cargo-fuzz targets (installs cargo-fuzz if missing;
                                RUSTC_BOOTSTRAP=1 on stable); default 60 s per target
  fuzz --list                   list the fuzz targets
  bench [--smoke] [-- ARGS]     criterion benches (--smoke: run each bench once, as tests)
  bench load [--quick] [ARGS]   the load harness (rues vs tokio-tungstenite, nats-server,
                                Node ws, limit; docs/benchmarks.md); installs its peers itself
  soak [--minutes N]            mixed load against a release build of `rues serve` for N
                                minutes (default 10), sampling RSS and descriptors; fails on
                                unbounded growth or leaks; samples in target/soak/soak.csv
  ci                            what .ci/run runs: lint, tidy, test, bench --smoke, fuzz smoke
";

fn main() -> std::process::ExitCode {
    match run_task() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line, without the
            // backtrace anyhow adds when RUST_BACKTRACE is set.
            eprintln!("xtask: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_task() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{HELP}");
        return Ok(());
    };
    let root = project_root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))?;
    match task.as_str() {
        "test" => test(rest).map(|_| ()),
        "lint" => lint(),
        "tidy" => tidy::run(),
        "fuzz" => fuzz::run(rest),
        "bench" => bench(rest),
        "ci" => ci(),
        "soak" => soak(rest),
        "help" | "--help" | "-h" => {
            eprint!("{HELP}");
            Ok(())
        }
        other => bail!("unknown task `{other}`\n\n{HELP}"),
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Totals of `test result:` lines, so `ci` can close with one summary line.
#[derive(Default, Debug, Clone, Copy)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    fn add_line(&mut self, line: &str) {
        // "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ..."
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }

    fn absorb(&mut self, other: TestTotals) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }
}

fn test(args: &[String]) -> Result<TestTotals> {
    let mut long = false;
    for arg in args {
        match arg.as_str() {
            "--long" => long = true,
            other => bail!("test: unknown option `{other}`"),
        }
    }
    deps::ensure()?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--locked"]);
    if long {
        cmd.env("PROPTEST_CASES", "20000");
    }
    run_counting_tests(cmd)
}

fn lint() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    if let Some(("load", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        return load::run(rest);
    }
    let (own, passthrough) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut smoke = false;
    for arg in own {
        match arg.as_str() {
            "--smoke" => smoke = true,
            other => bail!("bench: unknown option `{other}`"),
        }
    }
    if smoke {
        // Criterion runs every benchmark once when the binary is started
        // without `--bench`, which is what `cargo test --benches` does.
        run_counting_tests({
            let mut cmd = cargo();
            cmd.args(["test", "--workspace", "--benches", "--locked"]);
            cmd
        })?;
        return Ok(());
    }
    let mut cmd = cargo();
    cmd.args(["bench", "--workspace", "--locked", "--"]);
    cmd.args(passthrough);
    run(&mut cmd)
}

fn soak(args: &[String]) -> Result<()> {
    let mut minutes = "10".to_owned();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" => minutes = args.next().context("--minutes needs a value")?.clone(),
            other => bail!("soak: unknown option `{other}`"),
        }
    }
    run(cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "rues",
        "-p",
        "rues-soak",
    ]))?;
    run(Command::new("target/release/rues-soak").args([
        "--rues",
        "target/release/rues",
        "--minutes",
        &minutes,
        "--out",
        "target/soak",
    ]))
}

/// Set by `ci`: every cargo it starts builds lean (see [`cargo`]).
static LEAN_BUILD: AtomicBool = AtomicBool::new(false);

fn ci() -> Result<()> {
    LEAN_BUILD.store(true, Ordering::Relaxed);
    let started = Instant::now();
    step("lint", lint)?;
    step("tidy", tidy::run)?;
    let mut totals = TestTotals::default();
    step("test", || {
        totals.absorb(test(&[])?);
        Ok(())
    })?;
    step("bench --smoke", || bench(&["--smoke".to_owned()]))?;
    step("fuzz smoke", || fuzz::smoke(fuzz::CI_SMOKE_SECONDS))?;
    eprintln!(
        "ci: every step passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // One closing line a CI reader can count, in the plain `N passed, N failed`
    // form; ignored tests are listed so a skipped suite can't hide.
    println!(
        "test: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("\n==> xtask ci: {name}");
    let started = Instant::now();
    f().with_context(|| format!("ci step `{name}` failed"))?;
    eprintln!(
        "==> xtask ci: {name} ok ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    if LEAN_BUILD.load(Ordering::Relaxed) {
        // CI builds everything once, from scratch, on a disk it shares: incremental caches
        // are never reused there, and full debug info in every test binary is most of
        // target/. Line tables keep panic backtraces readable. (A full-debug, incremental
        // CI build once filled the CI disk and failed with "No space left on device".)
        cmd.env("CARGO_INCREMENTAL", "0")
            .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only");
    }
    cmd
}

/// Runs a command with inherited stdio; a non-zero exit is an error.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed: {status}", display(cmd));
    }
    Ok(())
}

/// Runs a `cargo test`-like command, echoing its stdout while summing its
/// `test result:` lines.
fn run_counting_tests(mut cmd: Command) -> Result<TestTotals> {
    eprintln!("$ {}", display(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{}`", display(&cmd)))?;
    let mut totals = TestTotals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{}` failed: {status}", display(&cmd));
    }
    Ok(totals)
}

fn display(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn test_totals_sum_result_lines() {
        let mut totals = TestTotals::default();
        totals.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        totals.add_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        totals.add_line("running 3 tests");
        assert_eq!((totals.passed, totals.failed, totals.ignored), (15, 2, 1));
    }
}
