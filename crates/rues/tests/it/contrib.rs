//! The files in `contrib/`: the systemd unit is one systemd accepts and
//! that runs a command line `rues` accepts, and every query of the Grafana
//! dashboard names a metric a live node exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hyper::{Method, StatusCode};

use crate::node::{Node, rues};

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(file)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A directory of this test's own, emptied first and removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rues-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of `key=` in the unit (the last one wins, as in systemd).
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
}

/// `systemd-analyze verify` needs the `ExecStart` binary to exist, so it
/// checks a copy of the unit that runs the `rues` just built; an unknown key
/// or a bad value is only a warning there, so any line that names the unit
/// fails the test.
#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = read(&contrib("rues.service"));
    let exec = "/usr/local/bin/rues serve --config /etc/rues/rues.toml";
    assert_eq!(unit_value(&unit, "ExecStart"), Some(exec), "{unit}");
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(unit_value(&unit, key), Some(value), "{key}= in {unit}");
    }

    // systemd must wait longer than the node's own graceful shutdown.
    let config = rues()
        .args(["serve", "--print-config"])
        .output()
        .expect("rues runs");
    assert!(config.status.success(), "{config:?}");
    let config = String::from_utf8(config.stdout).expect("UTF-8");
    let shutdown_ms: u64 = config
        .lines()
        .find_map(|line| line.strip_prefix("shutdown_timeout_ms = "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no shutdown_timeout_ms in {config}"));
    let stop_s: u64 = unit_value(&unit, "TimeoutStopSec")
        .and_then(|v| v.strip_suffix('s')?.parse().ok())
        .expect("TimeoutStopSec=Ns");
    assert!(
        stop_s * 1000 > shutdown_ms,
        "TimeoutStopSec={stop_s}s is not above shutdown_timeout_ms = {shutdown_ms}"
    );

    // The unit's command line, with its configuration file, is one rues
    // accepts (`--print-config` stops it after reading everything).
    let scratch = Scratch::new("contrib-unit");
    let toml = scratch.0.join("rues.toml");
    std::fs::write(&toml, &config).expect("written");
    let mut args: Vec<String> = exec.split_whitespace().skip(1).map(str::to_owned).collect();
    for arg in &mut args {
        if arg == "/etc/rues/rues.toml" {
            *arg = toml.display().to_string();
        }
    }
    let parsed = rues()
        .args(&args)
        .arg("--print-config")
        .output()
        .expect("rues runs");
    assert!(parsed.status.success(), "rues {args:?}: {parsed:?}");

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        println!("skipped systemd-analyze verify: systemd-analyze is not installed here");
        return;
    };
    assert!(version.status.success(), "{version:?}");
    let path = scratch.0.join("rues.service");
    std::fs::write(
        &path,
        unit.replace(
            "ExecStart=/usr/local/bin/rues ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_rues")),
        ),
    )
    .expect("written");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "systemd-analyze verify: {stderr}");
    let about_the_unit: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("rues.service"))
        .collect();
    assert!(
        about_the_unit.is_empty(),
        "systemd-analyze verify warns about the unit: {about_the_unit:#?}"
    );
}

/// The metric names in a PromQL expression: identifiers that start with
/// `rues_` or `process_` (labels, functions and `$__rate_interval` do not).
fn metric_names(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("rues_") || word.starts_with("process_"))
}

/// Every query of the dashboard (panels, panels in rows, variables), with
/// where it is.
fn queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    fn panels(list: &serde_json::Value, out: &mut Vec<(String, String)>) {
        for panel in list.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("?");
            panels(&panel["panels"], out);
            if panel["type"] == "row" {
                continue;
            }
            let targets = panel["targets"].as_array().map_or(&[][..], Vec::as_slice);
            assert!(!targets.is_empty(), "panel {title:?} has no query");
            for target in targets {
                let expr = target["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("panel {title:?}: a target without expr"));
                out.push((format!("panel {title:?}"), expr.to_owned()));
            }
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = &variable["query"];
            let query = query["query"].as_str().or(query.as_str()).unwrap_or("");
            out.push((format!("variable {}", variable["name"]), query.to_owned()));
        }
    }
    out
}

#[tokio::test]
async fn every_dashboard_query_names_a_metric_the_node_exports() {
    let path = contrib("grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        dashboard["templating"]["list"][0]["name"], "DS_PROMETHEUS",
        "the Prometheus data source variable comes first"
    );
    let mut used = BTreeSet::new();
    for (place, expr) in queries(&dashboard) {
        let names: Vec<&str> = metric_names(&expr).collect();
        assert!(
            !names.is_empty(),
            "{place}: {expr:?} names no rues_ or process_ metric"
        );
        used.extend(names.into_iter().map(str::to_owned));
    }

    let node = Node::start(&[]);
    // A histogram's and a labelled counter's series appear with their first
    // observation: answer one request before scraping.
    let info = node.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(info.status, StatusCode::OK);
    let metrics = rues_testkit::http(node.admin, Method::GET, "/metrics", &[], b"").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&metrics.body);
    let exported: BTreeSet<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .filter(|name| !name.is_empty())
        .collect();
    let missing: Vec<&String> = used
        .iter()
        .filter(|name| !exported.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the node does not export: {missing:?}\nit exports: {exported:?}"
    );
    // And a panel shows every family the node exports (but two that say
    // little on a graph), so a new metric is not forgotten there.
    let shown = |family: &str| {
        ["", "_total", "_bucket", "_info"]
            .iter()
            .any(|suffix| used.contains(&format!("{family}{suffix}")))
    };
    let unshown: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|family| !shown(family))
        .filter(|family| {
            !matches!(
                *family,
                "process_virtual_memory_bytes" | "process_start_time_seconds"
            )
        })
        .collect();
    assert!(
        unshown.is_empty(),
        "no panel of the dashboard shows {unshown:?}"
    );
}
