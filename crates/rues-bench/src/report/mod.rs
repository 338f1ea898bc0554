//! The results as Markdown tables (medians over runs, with the ratios
//! rues/baseline, rues/limit and rues/NATS; for the cluster scenario, one
//! node against the cluster and the targets; for the relay scenario,
//! through the relay against directly), one module per scenario, the
//! table helpers they share here, and the p99-against-rate plot as SVG
//! (`svg.rs`).

mod blocking;
mod churn;
pub(crate) mod cluster;
mod fanout;
mod graphql;
mod idle;
pub(crate) mod relay;
mod selective;
mod slow;
pub(crate) mod svg;

use std::fmt::Write as _;

use crate::client::Kind;
use crate::plan::{Plan, Results};

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn fmt_num(value: Option<f64>, decimals: usize) -> String {
    match value {
        None => "—".into(),
        Some(v) if v.abs() >= 100_000.0 => format!("{:.2} M", v / 1e6),
        Some(v) => format!("{v:.decimals$}"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

/// `a / b` when both are there and `b` is positive.
fn quotient(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// The header of a table with a `measure` column, then one per name.
fn measure_header(out: &mut String, names: &[&str]) {
    let mut first = vec!["measure"];
    first.extend(names);
    header(out, &first, &[], &[]);
}

/// A row of per-run figures (counts): its name, then for each column the
/// figures of that column's runs joined by `separator` ("—" when none).
fn per_run_row<K: Copy>(
    name: &str,
    keys: &[K],
    separator: &str,
    figures: impl Fn(K) -> Vec<String>,
) -> String {
    let mut cols = vec![name.to_owned()];
    cols.extend(keys.iter().map(|&k| {
        let each = figures(k);
        if each.is_empty() {
            "—".to_owned()
        } else {
            each.join(separator)
        }
    }));
    format!("| {} |", cols.join(" | "))
}

fn header(out: &mut String, first: &[&str], servers: &[Kind], last: &[&str]) {
    let mut cols: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
    cols.extend(servers.iter().map(|k| k.name().to_owned()));
    cols.extend(last.iter().map(|s| (*s).to_owned()));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(cols.len()));
}

/// A row's value for each server (or each of another kind of column),
/// boxed so rows of a table can differ.
type Measure<'a, K = Kind> = Box<dyn Fn(K) -> Option<f64> + 'a>;

/// One table row per measure: its name, then its value in each column, to
/// the measure's number of decimals.
fn measure_rows<K: Copy>(out: &mut String, keys: &[K], rows: &[(&str, usize, Measure<'_, K>)]) {
    for (name, decimals, value) in rows {
        let mut cols = vec![(*name).to_owned()];
        cols.extend(keys.iter().map(|&k| fmt_num(value(k), *decimals)));
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }
}

/// The columns of a table: one per server, then the ratios whose two
/// servers both ran.
struct Columns<'a> {
    servers: &'a [Kind],
    ratio_names: Vec<&'static str>,
}

impl<'a> Columns<'a> {
    fn new(servers: &'a [Kind]) -> Self {
        let has = |k: Kind| servers.contains(&k);
        let mut ratio_names = Vec::new();
        if has(Kind::Rues) && has(Kind::Baseline) {
            ratio_names.push("rues/baseline");
        }
        if has(Kind::Rues) && has(Kind::Limit) {
            ratio_names.push("rues/limit");
        }
        if has(Kind::Rues) && has(Kind::Nats) {
            ratio_names.push("rues/NATS");
        }
        Columns {
            servers,
            ratio_names,
        }
    }

    fn servers(&self) -> &'a [Kind] {
        self.servers
    }

    fn has(&self, kind: Kind) -> bool {
        self.servers.contains(&kind)
    }

    /// One value per server, in column order.
    fn pick(&self, values: &dyn Fn(Kind) -> Option<f64>) -> Vec<Option<f64>> {
        self.servers.iter().map(|&k| values(k)).collect()
    }

    /// The ratio columns of a row of [`pick`](Self::pick)ed values.
    fn ratios(&self, row: &[Option<f64>]) -> Vec<String> {
        let of = |k: Kind| {
            self.servers
                .iter()
                .position(|&s| s == k)
                .and_then(|i| row[i])
        };
        let mut cols = Vec::new();
        if self.has(Kind::Rues) && self.has(Kind::Baseline) {
            cols.push(ratio(of(Kind::Rues), of(Kind::Baseline)));
        }
        if self.has(Kind::Rues) && self.has(Kind::Limit) {
            cols.push(ratio(of(Kind::Rues), of(Kind::Limit)));
        }
        if self.has(Kind::Rues) && self.has(Kind::Nats) {
            cols.push(ratio(of(Kind::Rues), of(Kind::Nats)));
        }
        cols
    }
}

/// The Markdown report: each scenario's tables, the machine's load, and
/// the errors.
pub(crate) fn markdown(plan: &Plan, results: &Results) -> String {
    let columns = Columns::new(&plan.servers);
    let mut out = String::new();
    if !results.fanout.is_empty() {
        fanout::section(&mut out, plan, results, &columns);
    }
    if !results.selective.is_empty() {
        selective::section(&mut out, plan, results, &columns);
    }
    if !results.idle.is_empty() {
        idle::section(&mut out, plan, results, &columns);
    }
    if !results.churn.is_empty() {
        churn::section(&mut out, plan, results, &columns);
    }
    if !results.slow.is_empty() {
        slow::section(&mut out, plan, results, &columns);
    }
    if !results.blocking.is_empty() {
        blocking::section(&mut out, plan, results);
    }
    if !results.graphql.is_empty() {
        graphql::section(&mut out, plan, results);
    }
    if !results.cluster.is_empty() {
        cluster::section(&mut out, plan, results);
    }
    if !results.relay.is_empty() {
        relay::section(&mut out, plan, results);
    }

    let loads: Vec<f64> = results
        .fanout
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| s.loadavg))
        .chain(results.selective.iter().map(|r| r.loadavg))
        .chain(
            results
                .churn
                .iter()
                .flat_map(|r| r.steps.iter().map(|s| s.loadavg)),
        )
        .chain(results.blocking.iter().map(|r| r.loadavg))
        .chain(results.graphql.iter().map(|r| r.loadavg))
        .chain(results.cluster.iter().map(|r| r.loadavg))
        .chain(results.relay.iter().map(|r| r.loadavg))
        .filter(|l| l.is_finite())
        .collect();
    if let Some(mid) = median(loads.clone()) {
        let max = loads.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "\nMachine load (1-minute load average, sampled after each step): median {mid:.1}, max {max:.1}."
        );
    }
    let errors: Vec<String> = results
        .fanout
        .iter()
        .filter_map(|r| {
            r.error.as_ref().map(|e| {
                format!(
                    "fan-out {} N={} {} B run {}: {e}",
                    r.server.name(),
                    r.n,
                    r.size,
                    r.run
                )
            })
        })
        .chain(results.selective.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("selective {} N={} run {}: {e}", r.server.name(), r.n, r.run))
        }))
        .chain(results.idle.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("idle {} run {}: {e}", r.server.name(), r.run))
        }))
        .chain(results.churn.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("churn {} run {}: {e}", r.server.name(), r.run))
        }))
        .chain(results.slow.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("slow {} run {}: {e}", r.server.name(), r.run))
        }))
        .chain(results.blocking.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("blocking {} run {}: {e}", r.variant.name(), r.run))
        }))
        .chain(results.graphql.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("graphql {} run {}: {e}", r.phase.name(), r.run))
        }))
        .chain(results.cluster.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("cluster {} run {}: {e}", r.topology.name(), r.run))
        }))
        .chain(results.relay.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("relay {} run {}: {e}", r.route.name(), r.run))
        }))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\n### Errors\n");
        for error in errors {
            let _ = writeln!(out, "- {error}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_run_rows_join_each_columns_runs_or_show_a_dash() {
        let row = per_run_row("runs", &[1, 2, 3], "; ", |k| {
            (0..k - 1).map(|i| format!("{k}.{i}")).collect()
        });
        assert_eq!(row, "| runs | — | 2.0 | 3.0; 3.1 |");
        let mut out = String::new();
        measure_header(&mut out, &["a", "b"]);
        assert_eq!(out, "| measure | a | b |\n|---|---|---|\n");
        assert_eq!(quotient(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(quotient(Some(3.0), Some(0.0)), None);
        assert_eq!(quotient(None, Some(2.0)), None);
    }
}
