//! `legio trace <agent|task>`: one agent's (or one task's agents') events as a timeline.
//!
//! The newest `--limit` events in the window are kept and printed oldest first, so the latest
//! is the last line. A task id traces every agent recorded as working on it.

use clap::Args;
use legio_core::ops::views::{self, TraceTarget};
use legio_core::time::Clock;

use super::view::{self, AgentColumn, WindowArgs};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{DIM, Printer, paint};

/// `legio trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// An agent name, or a task id (traces every agent that worked on it).
    pub target: String,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Keep the newest N events.
    #[arg(long, value_name = "N", default_value = "100", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
}

/// Runs `legio trace`.
pub fn run(args: &TraceArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let window = args.window.window(ctx.clock.now())?;
    let sessions = match view::sessions_if_present(&layout)? {
        Some(s) => s.list()?,
        None => Vec::new(),
    };
    let target = views::trace_target(&args.target, &sessions);
    let events = match view::events_if_present(&layout)? {
        Some(store) => views::chronological(store.query(&views::trace_query(
            target.agents(),
            window,
            args.limit,
        ))?),
        None => Vec::new(),
    };
    if out.json_mode() {
        return out.json(&events);
    }
    let (heading, column) = match &target {
        TraceTarget::Agent { agent } => {
            (format!("Timeline for {agent}"), AgentColumn::Unless(agent))
        }
        TraceTarget::Task { task, agents } => (
            format!("Timeline for task {task} ({})", agents.join(", ")),
            AgentColumn::Always,
        ),
    };
    view::title(out, heading, anstyle::Style::new());
    if events.is_empty() {
        out.line(paint(DIM, "No events found."));
        return Ok(());
    }
    view::count_line(out, events.len(), args.limit, "oldest first");
    view::print_timeline(&events, column, out);
    Ok(())
}
