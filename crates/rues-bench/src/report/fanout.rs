//! The fan-out tables: the highest sustained rate, and the p99 latency
//! and server CPU per message at the moderate rate (rues at its normative
//! slow-consumer budget); then, when rues also climbed with a raised
//! budget, the two budgets side by side.

use std::fmt::Write as _;

use super::{Columns, fmt_num, header, median, ratio};
use crate::client::Kind;
use crate::plan::{FanoutRun, Plan, Results, fanout_bound_ms};
use crate::scenarios::budget_name;

/// The fan-out tables.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let _ = writeln!(
        out,
        "### Fan-out: highest sustained rate, delivered messages per second\n\n\
         Median over {} run(s) of the highest offered rate at which every event reached \
         every subscriber with p99 latency under the bound (50 ms, 500 ms from N = 5000); \
         messages/s = events/s × N. Ladder: first rung at the moderate rate, doubling until \
         a rung fails, then {} bisection(s).\n",
        plan.runs, plan.refine
    );
    header(
        out,
        &["N", "payload", "bound"],
        columns.servers(),
        &columns.ratio_names,
    );
    // The runs of one server, N and payload size, at the default budget.
    let runs = |k: Kind, n: usize, size: usize| {
        results
            .fanout
            .iter()
            .filter(move |r| r.server == k && r.n == n && r.size == size && r.budget.is_none())
    };
    for &n in &plan.fanout_n {
        for &size in &plan.payloads {
            let row = columns
                .pick(&|k| median(runs(k, n, size).map(|r| r.max_rate * n as f64).collect()));
            let mut cols = vec![
                n.to_string(),
                format!("{size} B"),
                format!("{} ms", fanout_bound_ms(n)),
            ];
            cols.extend(row.iter().map(|v| fmt_num(*v, 0)));
            cols.extend(columns.ratios(&row));
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
    }
    let p99_title = format!(
        "\n### Fan-out: p99 latency at the common moderate rate (ms)\n\n\
         The ladder's first rung: {} msgs/s delivered with 256 B payloads, {} msgs/s with 16 KiB \
         (events/s = that / N). Median over runs; — where not every event arrived.\n",
        plan.moderate_small, plan.moderate_large
    );
    let cpu_title = "\n### Fan-out: server CPU per delivered message at the moderate rate (µs)\n\n\
         CPU time (utime + stime) of the process serving the sessions over the first rung, \
         divided by the messages delivered. Median over runs.\n"
        .to_owned();
    type AtModerate = fn(&FanoutRun) -> Option<f64>;
    let tables: [(String, AtModerate); 2] = [
        (p99_title, |r| r.moderate_p99_ms),
        (cpu_title, |r| r.moderate_us_per_msg),
    ];
    for (title, measure) in tables {
        let _ = writeln!(out, "{title}");
        header(
            out,
            &["N", "payload"],
            columns.servers(),
            &columns.ratio_names,
        );
        for &n in &plan.fanout_n {
            for &size in &plan.payloads {
                let row = columns.pick(&|k| median(runs(k, n, size).filter_map(measure).collect()));
                let mut cols = vec![n.to_string(), format!("{size} B")];
                cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
                cols.extend(columns.ratios(&row));
                let _ = writeln!(out, "| {} |", cols.join(" | "));
            }
        }
    }
    if let Some(budget) = plan.rues_budget {
        budgets(out, plan, results, columns, budget);
    }
}

/// rues's ladder at the normative budget and at `raised`, beside the
/// baseline and the limit: the highest rate at each, the ratios, and what
/// closed sessions on the failed rungs at 1 MiB.
fn budgets(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>, raised: usize) {
    let raised_name = budget_name(raised);
    let _ = writeln!(
        out,
        "\n### Fan-out: rues at the normative slow-consumer budget and at {raised_name}\n\n\
         The highest sustained rate (delivered messages/s, median over runs) of rues with the \
         normative 1 MiB budget, which closes a receiver that falls 1 MiB behind with 4008 and \
         so fails the rung, and with the budget raised to {raised_name} (`--rues-budget`), where \
         a rung fails only on latency or loss: the write path's speed apart from the policy's \
         effect. The last column counts, over the normative ladders' failed rungs, those on which \
         rues closed sessions with 4008.\n"
    );
    let others: Vec<Kind> = [Kind::Baseline, Kind::Limit]
        .into_iter()
        .filter(|k| columns.has(*k))
        .collect();
    let mut names = vec!["rues @ 1 MiB".to_owned(), format!("rues @ {raised_name}")];
    names.extend(others.iter().map(|k| k.name().to_owned()));
    for k in &others {
        names.push(format!("1 MiB/{}", k.name()));
        names.push(format!("{raised_name}/{}", k.name()));
    }
    names.push("failed rungs with 4008 @ 1 MiB".to_owned());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    header(out, &["N", "payload"], &[], &names);
    let max = |k: Kind, budget: Option<usize>, n: usize, size: usize| {
        median(
            results
                .fanout
                .iter()
                .filter(|r| r.server == k && r.budget == budget && r.n == n && r.size == size)
                .map(|r| r.max_rate * n as f64)
                .collect(),
        )
    };
    for &n in &plan.fanout_n {
        for &size in &plan.payloads {
            let normative = max(Kind::Rues, None, n, size);
            let high = max(Kind::Rues, Some(raised), n, size);
            let mut cols = vec![
                n.to_string(),
                format!("{size} B"),
                fmt_num(normative, 0),
                fmt_num(high, 0),
            ];
            for &k in &others {
                cols.push(fmt_num(max(k, None, n, size), 0));
            }
            for &k in &others {
                let other = max(k, None, n, size);
                cols.push(ratio(normative, other));
                cols.push(ratio(high, other));
            }
            let failed: Vec<_> = results
                .fanout
                .iter()
                .filter(|r| {
                    r.server == Kind::Rues && r.budget.is_none() && r.n == n && r.size == size
                })
                .flat_map(|r| &r.steps)
                .filter(|s| !s.ok)
                .collect();
            let closing = failed.iter().filter(|s| s.close_codes.contains(&4008));
            cols.push(format!("{}/{}", closing.count(), failed.len()));
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Step;

    fn step(rate: f64, ok: bool, close_codes: Vec<u64>) -> Step {
        Step {
            rate,
            msgs_per_sec: rate * 100.0,
            expected: 100,
            received: 100,
            closed: close_codes.len(),
            close_codes,
            p50_ms: 1.0,
            p99_ms: 2.0,
            max_ms: 3.0,
            publish_secs: 1.0,
            server_us_per_msg: 1.0,
            loadavg: 1.0,
            retry: false,
            ok,
        }
    }

    /// A run that reached `max` events/s at N = 100, 256 B, with `us` of
    /// CPU per message at the moderate rate; its failed rung closed with
    /// `codes`.
    fn record(
        server: Kind,
        budget: Option<usize>,
        max: f64,
        us: f64,
        codes: Vec<u64>,
    ) -> FanoutRun {
        FanoutRun {
            server,
            budget,
            n: 100,
            size: 256,
            run: 0,
            steps: vec![step(max, true, Vec::new()), step(max * 2.0, false, codes)],
            max_rate: max,
            moderate_p99_ms: Some(2.0),
            moderate_us_per_msg: Some(us),
            error: None,
        }
    }

    /// The cells of the table row that starts with `first`, after the
    /// heading `title`.
    fn row(report: &str, title: &str, first: &str) -> Vec<String> {
        let table = &report[report.find(title).expect("the table")..];
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("| {first} |")))
            .expect("the row");
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    }

    #[test]
    fn rues_is_compared_with_limit_and_at_both_budgets() {
        let plan = crate::tests::plan(&[
            "--fanout-n",
            "100",
            "--payloads",
            "256",
            "--servers",
            "rues,baseline,limit",
            "--rues-budget",
            "67108864",
        ])
        .expect("valid");
        let results = Results {
            fanout: vec![
                record(Kind::Rues, None, 1000.0, 1.5, vec![4008]),
                record(Kind::Rues, Some(64 << 20), 4000.0, 1.2, Vec::new()),
                record(Kind::Baseline, None, 2000.0, 2.0, Vec::new()),
                record(Kind::Limit, None, 8000.0, 1.0, Vec::new()),
            ],
            ..Results::default()
        };
        let mut out = String::new();
        section(&mut out, &plan, &results, &Columns::new(&plan.servers));
        // The main tables: rues at the normative budget only, with rues/limit.
        assert_eq!(
            row(&out, "highest sustained rate", "100"),
            [
                "100", "256 B", "50 ms", "0.10 M", "0.20 M", "0.80 M", "0.50×", "0.12×"
            ]
        );
        assert_eq!(
            row(&out, "server CPU per delivered message", "100"),
            ["100", "256 B", "1.50", "2.00", "1.00", "0.75×", "1.50×"]
        );
        // The budgets side by side, and the 4008 closes of the failed rung.
        assert_eq!(
            row(&out, "and at 64 MiB", "100"),
            [
                "100", "256 B", "0.10 M", "0.40 M", "0.20 M", "0.80 M", "0.50×", "2.00×", "0.12×",
                "0.50×", "1/1"
            ]
        );
        let header = row(&out, "and at 64 MiB", "N");
        assert_eq!(header[3], "rues @ 64 MiB");
        assert_eq!(
            header.last().map(String::as_str),
            Some("failed rungs with 4008 @ 1 MiB")
        );
    }
}
