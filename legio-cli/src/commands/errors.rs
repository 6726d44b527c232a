//! `legio errors`: recent errors across the fleet, newest first.
//!
//! Error-level events of every agent (or of `--agent`s, or of a `--run`) in the window; with
//! `--warnings`, warnings too (failed tool calls, denied calls, sessions that ended unfinished).

use clap::Args;
use legio_core::ops::views::{self, Scope};
use legio_core::time::Clock;

use super::view::{self, ShowDuration, WindowArgs};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{BOLD, DIM, Printer, RED, YELLOW, paint};

/// `legio errors`.
#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// Only this agent's errors (repeatable).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// Only this run's errors.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Keep the newest N.
    #[arg(long, value_name = "N", default_value = "100", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
    /// Include warnings.
    #[arg(long)]
    pub warnings: bool,
}

/// Runs `legio errors`.
pub fn run(args: &ErrorsArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let scope = Scope {
        agents: args.agent.clone(),
        run_id: args.run.clone(),
    };
    let window = args.window.window(ctx.clock.now())?;
    let found = match view::events_if_present(&layout)? {
        Some(store) => views::errors(&*store, &scope, window, args.limit, args.warnings)?,
        None => Vec::new(),
    };
    if out.json_mode() {
        return out.json(&found);
    }
    view::title(
        out,
        if args.warnings {
            "Errors and warnings"
        } else {
            "Errors"
        },
        RED,
    );
    if found.is_empty() {
        out.line(paint(DIM, "No errors found."));
        return Ok(());
    }
    view::count_line(out, found.len(), args.limit, "newest first");
    let width = found.iter().map(|e| e.agent_name.len()).max().unwrap_or(0);
    for e in &found {
        let level = if e.level == legio_core::domain::event::EventLevel::Error {
            paint(RED, "ERROR")
        } else {
            paint(YELLOW, "WARN ")
        };
        // The kind of event, unless it is an `error` event (the level says it already).
        let kind = if e.event_type == "error" {
            String::new()
        } else {
            format!("{} ", view::long_label(e))
        };
        out.line(format!(
            "{} {} {} {kind}{}",
            paint(DIM, view::date_time(e.created_at)),
            level,
            paint(BOLD, format!("{:<width$}", e.agent_name)),
            view::detail(e, 100, ShowDuration::Hidden),
        ));
    }
    Ok(())
}
