//! `legio inspect <agent>`: one agent in depth: its state, task and branch, the file it works
//! on, its newest tool calls (newest first), its tool use, and the end of its output log.
//!
//! The output shown is the agent's own log (`.legio/logs/<agent>/terminal.log` or
//! `output.log`), read from the file: inspecting never runs tmux and never changes anything.

use std::time::Duration;

use clap::Args;
use legio_core::AgentName;
use legio_core::domain::agent::AgentState;
use legio_core::ops::cost_report::{self, AgentCost, CostQuery, Sources};
use legio_core::ops::logs::{self, LogSource};
use legio_core::ops::views::{self, Inspection};
use legio_core::time::{Clock, format_duration_ms};
use serde::Serialize;

use super::view::{self, StopSignal};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BLUE, BOLD, DIM, GREEN, Printer, RED, YELLOW, paint};

/// How many lines of the agent's output are shown.
const OUTPUT_LINES: usize = 30;
/// The width of section rules.
const WIDTH: usize = 80;

/// `legio inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The agent.
    pub agent: String,
    /// Show the newest N tool calls.
    #[arg(long, value_name = "N", default_value = "20", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
    /// Do not show the end of the agent's output log.
    #[arg(long, visible_alias = "no-tmux")]
    pub no_output: bool,
    /// Redraw every interval until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// How often to redraw while following, in milliseconds.
    #[arg(long, value_name = "MS", default_value = "3000", value_parser = view::parse_interval)]
    pub interval: u64,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    #[serde(flatten)]
    inspection: Inspection,
    /// Tokens and cost from the agent's transcripts (`null` before its first session).
    token_usage: Option<AgentCost>,
    /// The log shown and its last lines (`null` with --no-output or without a log).
    output: Option<Output>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    source: LogSource,
    lines: Vec<String>,
}

/// Runs `legio inspect`.
pub fn run(args: &InspectArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let agent = AgentName::new(args.agent.clone())?;
    let stop = if args.follow {
        Some(StopSignal::install()?)
    } else {
        None
    };
    loop {
        let report = gather(args, ctx, &layout, &agent)?;
        if out.json_mode() {
            if args.follow {
                out.json_line(&report)?;
            } else {
                out.json(&report)?;
            }
        } else {
            if args.follow {
                out.raw("\x1b[2J\x1b[H");
            }
            print(&report, args.limit, out);
        }
        out.flush();
        match &stop {
            Some(stop) if stop.wait(Duration::from_millis(args.interval)) => {}
            _ => return Ok(()),
        }
    }
}

fn gather(
    args: &InspectArgs,
    ctx: &Ctx<'_>,
    layout: &legio_core::Layout,
    agent: &AgentName,
) -> CliResult<Report> {
    let not_found = || {
        CliError::failure(format!("no agent named {agent}"))
            .hint("list the agents with `legio status`")
    };
    let sessions = view::sessions_if_present(layout)?.ok_or_else(not_found)?;
    let events = view::events_if_present(layout)?;
    let inspection = views::inspect(
        &*sessions,
        events.as_deref(),
        agent,
        args.limit,
        ctx.clock.now(),
    )?
    .ok_or_else(not_found)?;
    let token_usage = match &events {
        Some(events) => cost_report::agent_costs(
            Sources {
                events: &**events,
                sessions: std::slice::from_ref(&inspection.session),
                claude: view::claude_dir(ctx).as_ref(),
            },
            &CostQuery {
                agents: vec![agent.to_string()],
                ..CostQuery::default()
            },
        )?
        .pop(),
        None => None,
    };
    let output = if args.no_output {
        None
    } else {
        let only = [agent.to_string()];
        let source = logs::discover(layout, std::slice::from_ref(&inspection.session), &only)?
            .into_iter()
            .next();
        match source {
            Some(source) => {
                let (lines, _) = logs::last_lines(&source.path, OUTPUT_LINES, true)?;
                Some(Output { source, lines })
            }
            None => None,
        }
    };
    Ok(Report {
        inspection,
        token_usage,
        output,
    })
}

fn section(out: &mut Printer, heading: &str) {
    out.line(paint(BOLD, heading));
    out.line("─".repeat(WIDTH));
}

fn print(report: &Report, limit: u32, out: &mut Printer) {
    let i = &report.inspection;
    let s = &i.session;
    out.line("");
    out.line(paint(
        BOLD,
        format!("🔍 Agent Inspection: {}", s.agent_name),
    ));
    out.line("═".repeat(WIDTH));
    out.line("");
    let (icon, style) = match s.state {
        AgentState::Booting => ("⏳", YELLOW),
        AgentState::Working => ("●", GREEN),
        AgentState::Idle => ("◌", BLUE),
        AgentState::Completed => ("✓", BLUE),
        AgentState::Zombie => ("☠", RED),
    };
    out.line(format!(
        "{} State: {}",
        paint(style, icon),
        paint(style, s.state)
    ));
    out.line(format!(
        "⏱  Last activity: {} ago",
        format_duration_ms(i.time_since_last_activity)
    ));
    let task = if s.bead_id.is_empty() {
        "(none)"
    } else {
        &s.bead_id
    };
    out.line(format!("🎯 Task: {task}"));
    out.line(format!("🔧 Capability: {}", s.capability));
    out.line(format!("🌿 Branch: {}", s.branch_name));
    if let Some(p) = &s.parent_agent {
        out.line(format!("👤 Parent: {p} (depth: {})", s.depth));
    }
    if let Some(run) = &s.run_id {
        out.line(format!("🏁 Run: {run}"));
    }
    out.line(format!("📅 Started: {}", s.started_at));
    out.line(format!("💻 Session: {} ({})", s.tmux_session, s.runtime));
    out.line("");
    if let Some(f) = &i.current_file {
        out.line(format!("📝 Current file: {f}"));
        out.line("");
    }
    if let Some(cost) = &report.token_usage {
        let u = &cost.report.total;
        section(out, "💰 Token Usage");
        out.line(format!(
            "  Input:          {}",
            view::thousands(u.input_tokens)
        ));
        out.line(format!(
            "  Output:         {}",
            view::thousands(u.output_tokens)
        ));
        out.line(format!(
            "  Cache write:    {}",
            view::thousands(u.cache_creation_tokens())
        ));
        out.line(format!(
            "  Cache read:     {}",
            view::thousands(u.cache_read_tokens)
        ));
        if let Some(usd) = cost.report.cost_usd {
            out.line(format!("  Estimated cost: ${usd:.4}"));
        }
        let models: Vec<&str> = cost
            .report
            .models
            .iter()
            .filter_map(|m| m.model.as_deref())
            .collect();
        if !models.is_empty() {
            out.line(format!("  Model: {}", models.join(", ")));
        }
        for p in &cost.problems {
            out.line(paint(YELLOW, format!("  ! {p}")));
        }
        out.line("");
    }
    if !i.tool_stats.is_empty() {
        section(out, "🛠  Tool Usage (Top 10)");
        for t in i.tool_stats.iter().take(10) {
            let calls = if t.count == 1 { "call " } else { "calls" };
            out.line(format!(
                "  {:<20} {:>6} {calls}  avg: {:>6}ms  max: {}ms",
                t.tool_name,
                t.count,
                t.avg_duration_ms.round() as i64,
                t.max_duration_ms
            ));
        }
        out.line("");
    }
    section(
        out,
        &format!("📊 Recent Tool Calls (newest first, at most {limit})"),
    );
    if i.recent_tool_calls.is_empty() {
        out.line(paint(DIM, "  No tool calls recorded."));
    }
    for c in &i.recent_tool_calls {
        let took = c
            .duration_ms
            .map_or_else(|| "running".to_owned(), |ms| format!("{ms}ms"));
        let args = if c.args.is_empty() {
            String::new()
        } else {
            format!("  {}", paint(DIM, &c.args))
        };
        out.line(format!(
            "  [{}] {:<15} {:>10}{args}",
            view::time_of_day(c.timestamp),
            c.tool_name,
            took
        ));
    }
    out.line("");
    if let Some(o) = &report.output {
        section(
            out,
            &format!(
                "📺 Output (last {OUTPUT_LINES} lines of {})",
                o.source.path.display()
            ),
        );
        for l in &o.lines {
            out.line(l);
        }
        out.line("─".repeat(WIDTH));
    }
}
