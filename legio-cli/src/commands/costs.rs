//! `legio costs`: tokens and dollars per agent, read from the agents' Claude Code transcripts
//! (found through their `session_start` events), priced as ccusage prices them.
//!
//! The newest `--last` agents by default, newest first; `--agent`, `--run` and `--live` (active
//! agents only, with the burn rate) choose others; `--by-capability` groups them;
//! `--transcript PATH...` prices the given transcript files (and their subagents') directly.
//! Transcripts that cannot be found and tokens of models without a known price are reported on
//! stderr, never dropped silently.

use std::path::PathBuf;

use clap::Args;
use legio_core::costs::{Usage, UsageReport};
use legio_core::ops::cost_report::{
    self, AgentCost, CostQuery, CostTotals, Sources, TranscriptCost,
};
use legio_core::ops::views;
use legio_core::time::Clock;
use serde::Serialize;

use super::view;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, paint};

/// `legio costs`.
#[derive(Debug, Args)]
pub struct CostsArgs {
    /// Only agents that are active now, with their burn rate.
    #[arg(long)]
    pub live: bool,
    /// Only this agent (repeatable).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// Only sessions of this run.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Totals per capability.
    #[arg(long)]
    pub by_capability: bool,
    /// The newest N agents (by their latest session start).
    #[arg(long, value_name = "N", default_value = "20", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub last: u32,
    /// Price these transcript files (JSONL) directly, with their subagents' transcripts.
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with_all = ["live", "agent", "run", "by_capability"])]
    pub transcript: Vec<PathBuf>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentsReport<'a> {
    agents: &'a [AgentCost],
    totals: CostTotals,
    #[serde(skip_serializing_if = "Option::is_none")]
    burn_rate: Option<cost_report::BurnRate>,
}

/// Runs `legio costs`.
pub fn run(args: &CostsArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    if !args.transcript.is_empty() {
        return transcripts(&args.transcript, out);
    }
    let layout = ctx.project()?;
    for a in &args.agent {
        legio_core::AgentName::new(a.clone())?;
    }
    let sessions = match view::sessions_if_present(&layout)? {
        Some(s) => s.list()?,
        None => Vec::new(),
    };
    let claude = view::claude_dir(ctx);
    let agents = match view::events_if_present(&layout)? {
        Some(events) => cost_report::agent_costs(
            Sources {
                events: &*events,
                sessions: &sessions,
                claude: claude.as_ref(),
            },
            &CostQuery {
                agents: args.agent.clone(),
                run_id: args.run.clone(),
                active_only: args.live,
                last: Some(args.last),
            },
        )?,
        None => Vec::new(),
    };
    let totals = CostTotals::of(agents.iter().map(|a| &a.report));
    let burn_rate = args
        .live
        .then(|| cost_report::burn_rate(&agents, ctx.clock.now()));
    report_problems(&agents, out);

    if args.by_capability {
        let groups = cost_report::by_capability(&agents);
        if out.json_mode() {
            return out.json(&serde_json::json!({ "capabilities": groups, "totals": totals }));
        }
        view::title(out, "Cost by Capability", anstyle::Style::new());
        if groups.is_empty() {
            out.line(paint(DIM, "No agent sessions found."));
            return Ok(());
        }
        let table = Table::CAPABILITIES;
        table.header(out);
        for g in &groups {
            table.row(
                out,
                &g.capability,
                &g.agents.to_string(),
                &g.totals.usage,
                g.totals.cost_usd,
                None,
            );
        }
        table.total(out, &agents.len().to_string(), &totals);
        return Ok(());
    }

    if out.json_mode() {
        return out.json(&AgentsReport {
            agents: &agents,
            totals,
            burn_rate,
        });
    }
    let heading = if args.live {
        format!(
            "Live Token Usage ({})",
            view::count(agents.len(), "active agent", "active agents")
        )
    } else {
        format!("Cost Summary (at most {} agents, newest first)", args.last)
    };
    view::title(out, heading, anstyle::Style::new());
    if agents.is_empty() {
        out.line(paint(
            DIM,
            if args.live {
                "No active agent has started a Claude Code session."
            } else {
                "No agent sessions found."
            },
        ));
        return Ok(());
    }
    let table = Table::AGENTS;
    table.header(out);
    for a in &agents {
        let cap = a.capability.as_deref().unwrap_or("-");
        table.row(
            out,
            &a.agent_name,
            cap,
            &a.report.total,
            a.report.cost_usd.unwrap_or(0.0),
            None,
        );
    }
    table.total(out, "", &totals);
    if let Some(rate) = burn_rate {
        out.line("");
        out.line(format!(
            "Burn rate: {}/min  |  {} tokens/min (input + output)",
            dollars(rate.cost_per_min),
            view::thousands(rate.tokens_per_min.floor() as u64)
        ));
    }
    Ok(())
}

fn transcripts(paths: &[PathBuf], out: &mut Printer) -> CliResult {
    for p in paths {
        if !p.is_file() {
            return Err(CliError::usage(format!(
                "{} is not a file",
                p.display()
            ))
            .hint("give the path of a Claude Code transcript (a .jsonl file under ~/.claude/projects/)"));
        }
    }
    let costs: Vec<TranscriptCost> =
        cost_report::transcript_costs(paths).map_err(|e| CliError::failure(e.to_string()))?;
    let totals = CostTotals::of(costs.iter().map(|c| &c.report));
    for c in &costs {
        unpriced(&c.path.display().to_string(), &c.report, out);
    }
    if out.json_mode() {
        return out.json(&serde_json::json!({ "transcripts": costs, "totals": totals }));
    }
    view::title(out, "Transcript Costs", anstyle::Style::new());
    let table = Table::TRANSCRIPTS;
    table.header(out);
    for c in &costs {
        let name = c.path.file_stem().map_or_else(
            || c.path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let models: Vec<&str> = c
            .report
            .models
            .iter()
            .filter_map(|m| m.model.as_deref())
            .collect();
        table.row(
            out,
            &name,
            &c.report.responses.to_string(),
            &c.report.total,
            c.report.cost_usd.unwrap_or(0.0),
            Some(&models.join(", ")),
        );
    }
    table.total(out, &totals.responses.to_string(), &totals);
    Ok(())
}

/// Says, on stderr, what is missing from the figures.
fn report_problems(agents: &[AgentCost], out: &mut Printer) {
    for a in agents {
        for p in &a.problems {
            out.warn(format!("{}: {p}", a.agent_name));
        }
        unpriced(&a.agent_name, &a.report, out);
    }
}

fn unpriced(whose: &str, report: &UsageReport, out: &mut Printer) {
    for u in report.unpriced() {
        out.warn(format!("{whose}: {u}"));
    }
}

/// `$0.0526` below a dollar, `$12.35` above.
fn dollars(usd: f64) -> String {
    if usd.abs() < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// The figures table: two label columns (title, width), the token columns and the cost, and
/// an optional free-width column at the end.
struct Table {
    first: (&'static str, usize),
    second: (&'static str, usize),
    last: Option<&'static str>,
}

impl Table {
    const AGENTS: Self = Self {
        first: ("Agent", 19),
        second: ("Capability", 12),
        last: None,
    };
    const CAPABILITIES: Self = Self {
        first: ("Capability", 12),
        second: ("Agents", 6),
        last: None,
    };
    const TRANSCRIPTS: Self = Self {
        first: ("Transcript", 36),
        second: ("Responses", 9),
        last: Some("Model"),
    };

    fn width(&self) -> usize {
        self.first.1 + self.second.1 + 5 * 12 + self.last.map_or(0, |l| l.len() + 2)
    }

    fn line(&self, first: &str, second: &str, cells: &[String; 5], last: Option<&str>) -> String {
        let (w1, w2) = (self.first.1, self.second.1);
        let mut text = format!(
            "{:<w1$} {:<w2$} {:>11} {:>11} {:>11} {:>11} {:>11}",
            views::shorten(first, w1),
            views::shorten(second, w2),
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
        );
        if let Some(last) = last {
            text.push_str("  ");
            text.push_str(last);
        }
        text
    }

    fn header(&self, out: &mut Printer) {
        let cells = ["Input", "Output", "Cache write", "Cache read", "Cost"].map(str::to_owned);
        out.line(paint(
            BOLD,
            self.line(self.first.0, self.second.0, &cells, self.last),
        ));
        out.line(paint(DIM, "─".repeat(self.width())));
    }

    fn row(
        &self,
        out: &mut Printer,
        first: &str,
        second: &str,
        usage: &Usage,
        cost: f64,
        last: Option<&str>,
    ) {
        out.line(self.line(first, second, &cells(usage, cost), last));
    }

    fn total(&self, out: &mut Printer, second: &str, totals: &CostTotals) {
        out.line(paint(DIM, "─".repeat(self.width())));
        out.line(paint(
            GREEN.bold(),
            self.line(
                "Total",
                second,
                &cells(&totals.usage, totals.cost_usd),
                None,
            ),
        ));
    }
}

fn cells(usage: &Usage, cost: f64) -> [String; 5] {
    [
        view::thousands(usage.input_tokens),
        view::thousands(usage.output_tokens),
        view::thousands(usage.cache_creation_tokens()),
        view::thousands(usage.cache_read_tokens),
        dollars(cost),
    ]
}
