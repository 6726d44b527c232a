//! `legio replay`: what happened, interleaved across agents, in time order.
//!
//! Replays the given run or agents; without either, the current run
//! (`.legio/current-run.txt`), and without one the last 24 hours. The newest `--limit` events
//! are kept and printed oldest first, each with its agent in the agent's colour.

use clap::Args;
use legio_core::ops::views::{self, ReplaySource, Scope};
use legio_core::time::Clock;

use super::view::{self, AgentColumn, WindowArgs};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{DIM, Printer, paint};

/// `legio replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Only this run's events (default: the current run).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Only this agent's events (repeatable).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Keep the newest N events.
    #[arg(long, value_name = "N", default_value = "200", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
}

/// Runs `legio replay`.
pub fn run(args: &ReplayArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let now = ctx.clock.now();
    let scope = Scope {
        agents: args.agent.clone(),
        run_id: args.run.clone(),
    };
    let (query, source) = views::replay_query(
        &scope,
        args.window.window(now)?,
        args.limit,
        layout.read_current_run(),
        now,
    );
    let events = match view::events_if_present(&layout)? {
        Some(store) => views::chronological(store.query(&query)?),
        None => Vec::new(),
    };
    if out.json_mode() {
        return out.json(&events);
    }
    let heading = match &source {
        ReplaySource::CurrentRun { run_id } => format!("Replay of the current run {run_id}"),
        ReplaySource::Window if args.window.since.is_none() => {
            "Replay of the last 24 hours (no current run)".to_owned()
        }
        _ => match &args.run {
            Some(run) => format!("Replay of run {run}"),
            None => "Replay".to_owned(),
        },
    };
    view::title(out, heading, anstyle::Style::new());
    if events.is_empty() {
        out.line(paint(DIM, "No events found."));
        return Ok(());
    }
    view::count_line(out, events.len(), args.limit, "oldest first");
    view::print_timeline(&events, AgentColumn::Always, out);
    Ok(())
}
