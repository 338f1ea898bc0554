//! The results as Markdown tables (medians over runs, with the ratios
//! rues/baseline and rues/NATS), as JSON, and the p99-against-rate plot as
//! SVG.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::client::Kind;
use crate::plan::{Plan, Results, fanout_bound_ms};

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

fn header(out: &mut String, first: &[&str], servers: &[Kind], last: &[&str]) {
    let mut cols: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
    cols.extend(servers.iter().map(|k| k.name().to_owned()));
    cols.extend(last.iter().map(|s| (*s).to_owned()));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(cols.len()));
}

/// The Markdown report.
pub(crate) fn markdown(plan: &Plan, results: &Results) -> String {
    let servers = &plan.servers;
    let has = |k: Kind| servers.contains(&k);
    let mut out = String::new();
    let pick = |values: &dyn Fn(Kind) -> Option<f64>| -> Vec<Option<f64>> {
        servers.iter().map(|&k| values(k)).collect()
    };
    let ratios = |row: &[Option<f64>]| -> Vec<String> {
        let of = |k: Kind| servers.iter().position(|&s| s == k).and_then(|i| row[i]);
        let mut cols = Vec::new();
        if has(Kind::Rues) && has(Kind::Baseline) {
            cols.push(ratio(of(Kind::Rues), of(Kind::Baseline)));
        }
        if has(Kind::Rues) && has(Kind::Nats) {
            cols.push(ratio(of(Kind::Rues), of(Kind::Nats)));
        }
        cols
    };
    let mut ratio_names = Vec::new();
    if has(Kind::Rues) && has(Kind::Baseline) {
        ratio_names.push("rues/baseline");
    }
    if has(Kind::Rues) && has(Kind::Nats) {
        ratio_names.push("rues/NATS");
    }

    if !results.fanout.is_empty() {
        let _ = writeln!(
            out,
            "### Fan-out: highest sustained rate, delivered messages per second\n\n\
             Median over {} run(s) of the highest offered rate at which every event reached \
             every subscriber with p99 latency under the bound (50 ms, 500 ms from N = 5000); \
             messages/s = events/s × N. Ladder: first rung at the moderate rate, doubling until \
             a rung fails, then {} bisection(s).\n",
            plan.runs, plan.refine
        );
        header(&mut out, &["N", "payload", "bound"], servers, &ratio_names);
        for &n in &plan.fanout_n {
            for &size in &plan.payloads {
                let row = pick(&|k| {
                    median(
                        results
                            .fanout
                            .iter()
                            .filter(|r| r.server == k && r.n == n && r.size == size)
                            .map(|r| r.max_rate * n as f64)
                            .collect(),
                    )
                });
                let mut cols = vec![
                    n.to_string(),
                    format!("{size} B"),
                    format!("{} ms", fanout_bound_ms(n)),
                ];
                cols.extend(row.iter().map(|v| fmt_num(*v, 0)));
                cols.extend(ratios(&row));
                let _ = writeln!(out, "| {} |", cols.join(" | "));
            }
        }
        let p99_title = format!(
            "\n### Fan-out: p99 latency at the common moderate rate (ms)\n\n\
             The ladder's first rung: {} msgs/s delivered with 256 B payloads, {} msgs/s with 16 KiB \
             (events/s = that / N). Median over runs; — where not every event arrived.\n",
            plan.moderate_small, plan.moderate_large
        );
        let cpu_title =
            "\n### Fan-out: server CPU per delivered message at the moderate rate (µs)\n\n\
             CPU time (utime + stime) of the process serving the sessions over the first rung, \
             divided by the messages delivered. Median over runs.\n"
                .to_owned();
        type AtModerate = fn(&crate::plan::FanoutRun) -> Option<f64>;
        let tables: [(String, AtModerate); 2] = [
            (p99_title, |r| r.moderate_p99_ms),
            (cpu_title, |r| r.moderate_us_per_msg),
        ];
        for (title, measure) in tables {
            let _ = writeln!(out, "{title}");
            header(&mut out, &["N", "payload"], servers, &ratio_names);
            for &n in &plan.fanout_n {
                for &size in &plan.payloads {
                    let row = pick(&|k| {
                        median(
                            results
                                .fanout
                                .iter()
                                .filter(|r| r.server == k && r.n == n && r.size == size)
                                .filter_map(measure)
                                .collect(),
                        )
                    });
                    let mut cols = vec![n.to_string(), format!("{size} B")];
                    cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
                    cols.extend(ratios(&row));
                    let _ = writeln!(out, "| {} |", cols.join(" | "));
                }
            }
        }
    }

    if !results.selective.is_empty() {
        let _ = writeln!(
            out,
            "\n### Selective delivery: server CPU per delivered event (µs)\n\n\
             Every session subscribed to its own entity; {} events/s of 256 B, each to a random \
             entity, for {} s. CPU = utime + stime of the serving process (/proc/<pid>/stat) over \
             the step, divided by the events delivered; for NATS the separate publisher's CPU is \
             in the last column, not in the NATS figure. Median over runs.\n",
            plan.selective_rate, plan.step_secs
        );
        let mut last: Vec<&str> = ratio_names.clone();
        if has(Kind::Nats) {
            last.push("NATS publisher");
        }
        header(&mut out, &["N"], servers, &last);
        for &n in &plan.selective_n {
            let runs = |k: Kind| {
                results
                    .selective
                    .iter()
                    .filter(move |r| r.server == k && r.n == n && r.error.is_none())
            };
            let row = pick(&|k| median(runs(k).map(|r| r.us_per_event).collect()));
            let mut cols = vec![n.to_string()];
            cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
            cols.extend(ratios(&row));
            if has(Kind::Nats) {
                cols.push(fmt_num(
                    median(
                        runs(Kind::Nats)
                            .filter_map(|r| r.publisher_us_per_event)
                            .collect(),
                    ),
                    2,
                ));
            }
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
        let _ = writeln!(out, "\np99 latency in the same steps (ms):\n");
        header(&mut out, &["N"], servers, &[]);
        for &n in &plan.selective_n {
            let row = pick(&|k| {
                median(
                    results
                        .selective
                        .iter()
                        .filter(|r| r.server == k && r.n == n && r.error.is_none())
                        .map(|r| r.p99_ms)
                        .collect(),
                )
            });
            let mut cols = vec![n.to_string()];
            cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
    }

    if !results.idle.is_empty() {
        let _ = writeln!(
            out,
            "\n### Idle memory: server RSS per open session with one subscription (KiB)\n\n\
             ({{VmRSS with {} sessions open and subscribed, 2 s after the last}} − {{VmRSS before the \
             first}}) / {}; median over runs.\n",
            plan.idle_n, plan.idle_n
        );
        header(&mut out, &["N"], servers, &ratio_names);
        let row = pick(&|k| {
            median(
                results
                    .idle
                    .iter()
                    .filter(|r| r.server == k && r.error.is_none())
                    .map(|r| r.kib_per_session)
                    .collect(),
            )
        });
        let mut cols = vec![plan.idle_n.to_string()];
        cols.extend(row.iter().map(|v| fmt_num(*v, 1)));
        cols.extend(ratios(&row));
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }

    if !results.churn.is_empty() {
        let _ = writeln!(
            out,
            "\n### Churn: sustained session opens per second\n\n\
             Sessions opened, subscribed and closed at a steady offered rate for {} s per rung; a rung \
             passes when every cycle succeeded with p99 of open-and-subscribe (TCP connect to \
             confirmed subscription) under {} ms. Median over runs of the highest passing rung, \
             then the p99s at that rung.\n",
            plan.churn_secs, plan.churn_p99_ms
        );
        header(&mut out, &["measure"], servers, &ratio_names);
        let best_steps = |k: Kind| -> Vec<crate::plan::ChurnStep> {
            results
                .churn
                .iter()
                .filter(|r| r.server == k)
                .filter_map(|r| {
                    r.steps
                        .iter()
                        .filter(|s| s.ok)
                        .max_by(|a, b| a.rate.total_cmp(&b.rate))
                        .cloned()
                })
                .collect()
        };
        type Measure<'a> = Box<dyn Fn(Kind) -> Option<f64> + 'a>;
        let rows: [(&str, Measure<'_>); 3] = [
            (
                "max opens/s",
                Box::new(|k| {
                    median(
                        results
                            .churn
                            .iter()
                            .filter(|r| r.server == k)
                            .map(|r| r.max_rate)
                            .collect(),
                    )
                }),
            ),
            (
                "open+subscribe p99 at max (ms)",
                Box::new(|k| median(best_steps(k).iter().map(|s| s.p99_ms).collect())),
            ),
            (
                "subscribe request p99 at max (ms)",
                Box::new(|k| median(best_steps(k).iter().map(|s| s.subscribe_p99_ms).collect())),
            ),
        ];
        for (name, value) in rows.iter() {
            let row = pick(&|k| value(k));
            let mut cols = vec![(*name).to_owned()];
            cols.extend(
                row.iter()
                    .map(|v| fmt_num(*v, if name.contains("ms") { 2 } else { 0 })),
            );
            cols.extend(ratios(&row));
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
    }

    if !results.slow.is_empty() {
        slow_table(&mut out, plan, results);
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
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\n### Errors\n");
        for error in errors {
            let _ = writeln!(out, "- {error}");
        }
    }
    out
}

/// The slow-consumer table (issue 7): one column per server.
fn slow_table(out: &mut String, plan: &Plan, results: &Results) {
    let servers = &plan.servers;
    let _ = writeln!(
        out,
        "\n### Slow consumers: what {} stalled clients cost {} readers\n\n\
         Fan-out of {} events/s × {} B to {} readers for {} s, on a fresh server, twice: alone, \
         then beside {} clients that subscribe and never read (4 KiB kernel receive buffer). \
         Medians over runs; RSS growth is the highest VmRSS sampled every 50 ms during the \
         step minus VmRSS at its start. \"Stalled clients ended\" counts, over all runs, the \
         Close code each stalled client found behind its backlog when it finally read \
         (\"open\": none within 5 s).\n",
        plan.slow_stalled,
        plan.slow_n,
        plan.slow_rate,
        plan.slow_size,
        plan.slow_n,
        plan.slow_secs,
        plan.slow_stalled
    );
    header(out, &["measure"], servers, &[]);
    let runs = |k: Kind| {
        results
            .slow
            .iter()
            .filter(move |r| r.server == k && r.error.is_none())
    };
    let kib = |v: u64| v as f64 / 1024.0;
    type Measure<'a> = Box<dyn Fn(Kind) -> Option<f64> + 'a>;
    let rows: [(&str, usize, Measure<'_>); 5] = [
        (
            "readers' p99 alone (ms)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.without.p99_ms).collect())),
        ),
        (
            "readers' p99 beside the stalled (ms)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.with.p99_ms).collect())),
        ),
        (
            "p99 ratio, beside / alone (target ≤ 2)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.p99_ratio).collect())),
        ),
        (
            "RSS growth alone (MiB)",
            1,
            Box::new(|k| {
                median(
                    runs(k)
                        .map(|r| {
                            kib(r
                                .without
                                .rss_max_kib
                                .saturating_sub(r.without.rss_start_kib))
                        })
                        .collect(),
                )
            }),
        ),
        (
            "RSS growth beside the stalled (MiB)",
            1,
            Box::new(|k| {
                median(
                    runs(k)
                        .map(|r| kib(r.with.rss_max_kib.saturating_sub(r.with.rss_start_kib)))
                        .collect(),
                )
            }),
        ),
    ];
    for (name, decimals, value) in rows.iter() {
        let mut cols = vec![(*name).to_owned()];
        cols.extend(servers.iter().map(|&k| fmt_num(value(k), *decimals)));
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }
    let mut cols = vec!["stalled clients ended".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let mut codes: Vec<(String, usize)> = Vec::new();
        for stalled in runs(k).flat_map(|r| r.stalled.iter()) {
            let code = stalled
                .close_code
                .map_or("open".to_owned(), |c| c.to_string());
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => codes.push((code, 1)),
            }
        }
        if codes.is_empty() {
            "—".to_owned()
        } else {
            codes
                .iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let mut cols = vec!["closed with 4008 by the server (rues /metrics)".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let counts: Vec<u64> = runs(k)
            .filter_map(|r| r.with.slow_consumers_closed)
            .collect();
        if counts.is_empty() {
            "—".to_owned()
        } else {
            format!(
                "{} of {}",
                counts.iter().sum::<u64>(),
                counts.len() * plan.slow_stalled
            )
        }
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let mut cols = vec!["readers closed / events missed".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let closed: usize = runs(k)
            .map(|r| r.with.readers_closed + r.without.readers_closed)
            .sum();
        let missed: u64 = runs(k)
            .map(|r| {
                r.with.expected.saturating_sub(r.with.received)
                    + r.without.expected.saturating_sub(r.without.received)
            })
            .sum();
        format!("{closed} / {missed}")
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
}

fn color(kind: Kind) -> RGBColor {
    match kind {
        Kind::Rues => RGBColor(0xd6, 0x27, 0x28),
        Kind::Baseline => RGBColor(0x1f, 0x77, 0xb4),
        Kind::Nats => RGBColor(0x2c, 0xa0, 0x2c),
        Kind::NodeWs => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// p99 latency against offered rate, one panel per (N, payload), one line
/// per server and run; filled dots passed, rings failed.
pub(crate) fn plot(plan: &Plan, results: &Results, path: &Path) -> Result<()> {
    let configs: Vec<(usize, usize)> = plan
        .fanout_n
        .iter()
        .flat_map(|&n| plan.payloads.iter().map(move |&s| (n, s)))
        .filter(|&(n, s)| results.fanout.iter().any(|r| r.n == n && r.size == s))
        .collect();
    if configs.is_empty() {
        return Ok(());
    }
    let cols = plan.payloads.len().clamp(1, 2);
    let rows = configs.len().div_ceil(cols);
    let root = SVGBackend::new(path, (560 * cols as u32, 380 * rows as u32)).into_drawing_area();
    let err = |e: &dyn std::fmt::Debug| anyhow!("plot: {e:?}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((rows, cols));
    for (panel, &(n, size)) in panels.iter().zip(&configs) {
        let runs: Vec<_> = results
            .fanout
            .iter()
            .filter(|r| r.n == n && r.size == size)
            .collect();
        let points = runs.iter().flat_map(|r| r.steps.iter());
        let (mut x0, mut x1, mut y1) = (f64::MAX, 0f64, 0f64);
        for step in points {
            x0 = x0.min(step.msgs_per_sec);
            x1 = x1.max(step.msgs_per_sec);
            y1 = y1.max(step.p99_ms);
        }
        if x1 <= 0.0 {
            continue;
        }
        let bound = fanout_bound_ms(n);
        let y1 = y1.max(bound * 2.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("fan-out, N = {n}, {size} B payload: p99 latency"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(
                (x0 * 0.8..x1 * 1.25).log_scale(),
                (0.05..y1 * 1.5).log_scale(),
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("offered messages/s (events/s × N)")
            .y_desc("p99 latency (ms)")
            .x_label_formatter(&|x| {
                if *x >= 1e6 {
                    format!("{:.1}M", x / 1e6)
                } else {
                    format!("{:.0}k", x / 1e3)
                }
            })
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(LineSeries::new(
                [(x0 * 0.8, bound), (x1 * 1.25, bound)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(|e| err(&e))?
            .label(format!("bound {bound} ms"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.4)));
        for &kind in &plan.servers {
            let c = color(kind);
            let mut labelled = false;
            for run in runs.iter().filter(|r| r.server == kind) {
                let mut steps: Vec<_> = run.steps.iter().collect();
                steps.sort_by(|a, b| a.msgs_per_sec.total_cmp(&b.msgs_per_sec));
                let line: Vec<(f64, f64)> = steps
                    .iter()
                    .map(|s| (s.msgs_per_sec, s.p99_ms.max(0.05)))
                    .collect();
                let series = chart
                    .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                    .map_err(|e| err(&e))?;
                if !labelled {
                    series.label(kind.name()).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2))
                    });
                    labelled = true;
                }
                chart
                    .draw_series(steps.iter().zip(&line).map(|(s, &(x, y))| {
                        if s.ok {
                            EmptyElement::at((x, y)) + Circle::new((0, 0), 3, c.filled())
                        } else {
                            EmptyElement::at((x, y)) + Circle::new((0, 0), 5, c.stroke_width(1))
                        }
                    }))
                    .map_err(|e| err(&e))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
