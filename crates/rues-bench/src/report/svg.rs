//! The p99-against-rate plot of the fan-out ladders, as SVG.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::client::Kind;
use crate::plan::{Plan, Results, fanout_bound_ms};

fn color(kind: Kind) -> RGBColor {
    match kind {
        Kind::Rues => RGBColor(0xd6, 0x27, 0x28),
        Kind::Baseline => RGBColor(0x1f, 0x77, 0xb4),
        Kind::Nats => RGBColor(0x2c, 0xa0, 0x2c),
        Kind::NodeWs => RGBColor(0x94, 0x67, 0xbd),
        Kind::Limit => RGBColor(0x33, 0x33, 0x33),
    }
}

/// p99 latency against offered rate, one panel per (N, payload), one line
/// per server (rues twice when its budget was also raised) and run; filled
/// dots passed, rings failed.
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
    // One line per server, and rues's raised-budget ladder after rues's.
    let mut lines: Vec<(Kind, Option<usize>)> = Vec::new();
    for &kind in &plan.servers {
        lines.push((kind, None));
        if kind == Kind::Rues && plan.rues_budget.is_some() {
            lines.push((kind, plan.rues_budget));
        }
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
        for &(kind, budget) in &lines {
            let c = match budget {
                None => color(kind),
                // rues with its budget raised: orange beside its red.
                Some(_) => RGBColor(0xff, 0x7f, 0x0e),
            };
            let name = crate::scenarios::label(kind, budget);
            let mut labelled = false;
            for run in runs
                .iter()
                .filter(|r| r.server == kind && r.budget == budget)
            {
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
                    series.label(name.clone()).legend(move |(x, y)| {
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
