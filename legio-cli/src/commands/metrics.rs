//! `legio metrics`: recorded agent sessions (`metrics.db`): totals, durations per capability,
//! merge tiers, and the most recent sessions, newest first.

use clap::Args;
use legio_core::domain::metrics::SessionMetrics;
use legio_core::ops::views::{self, MetricsSummary};
use legio_core::time::format_duration_ms;
use serde::Serialize;

use super::view;
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{BOLD, DIM, Printer, paint};

/// `legio metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// List the newest N sessions.
    #[arg(long, value_name = "N", default_value = "20", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub last: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    summary: MetricsSummary,
    /// The newest sessions, newest first.
    sessions: Vec<SessionMetrics>,
}

/// Runs `legio metrics`.
pub fn run(args: &MetricsArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let all = match view::metrics_if_present(&layout)? {
        Some(store) => store.recent_sessions(u32::MAX)?,
        None => Vec::new(),
    };
    let summary = views::metrics_summary(&all);
    let recent: Vec<SessionMetrics> = all.into_iter().take(args.last as usize).collect();
    if out.json_mode() {
        return out.json(&Report {
            summary,
            sessions: recent,
        });
    }
    out.line(paint(BOLD, "📈 Session Metrics"));
    out.line("═".repeat(60));
    out.line("");
    if summary.total_sessions == 0 {
        out.line(paint(DIM, "No sessions recorded yet."));
        return Ok(());
    }
    out.line(format!("Total sessions: {}", summary.total_sessions));
    out.line(format!("Completed: {}", summary.completed_sessions));
    out.line(format!(
        "Avg duration: {}",
        format_duration_ms(summary.avg_duration_ms)
    ));
    out.line("");
    if !summary.merge_tiers.is_empty() {
        out.line("Merge tiers:");
        for (tier, n) in &summary.merge_tiers {
            out.line(format!("  {tier}: {n}"));
        }
        out.line("");
    }
    out.line("By capability:");
    for c in &summary.by_capability {
        out.line(format!(
            "  {}: {} (avg {})",
            c.capability,
            view::count(c.sessions, "session", "sessions"),
            format_duration_ms(c.avg_duration_ms)
        ));
    }
    out.line("");
    out.line(format!("Recent sessions (newest {}):", recent.len()));
    for s in &recent {
        let done = if s.completed_at.is_some() {
            "done"
        } else {
            "running"
        };
        let task = if s.bead_id.is_empty() {
            "-"
        } else {
            &s.bead_id
        };
        out.line(format!(
            "  {} [{}] {task} | {done} | {}",
            s.agent_name,
            s.capability,
            format_duration_ms(s.duration_ms)
        ));
    }
    Ok(())
}
