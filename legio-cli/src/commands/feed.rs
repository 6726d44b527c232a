//! `legio feed [--follow]`: the fleet's events as they happen, one line each.
//!
//! Prints the newest `--limit` events of the last five minutes (or since `--since`), oldest
//! first. `--follow` then prints every later event as it is recorded: it continues from the
//! highest event id seen (no time window, so no burst is cut and nothing is printed twice) until
//! Ctrl-C or a closed pipe. With `--json`, one compact JSON object per line while following.

use std::time::Duration;

use clap::Args;
use legio_core::domain::event::StoredEvent;
use legio_core::ops::views::{self, Follow, Scope};
use legio_core::time::Clock;

use super::view::{self, Palette, ShowDuration, StopSignal, TimeArg};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{DIM, Printer, paint};

/// `legio feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// Keep printing new events until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// How often to look for new events while following, in milliseconds.
    #[arg(long, value_name = "MS", default_value = "1000", value_parser = view::parse_interval)]
    pub interval: u64,
    /// Only this agent's events (repeatable).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// Only this run's events.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Start of the first batch: ISO 8601 or an age (default: 5m).
    #[arg(long, value_name = "TIME", value_parser = view::parse_time)]
    pub since: Option<TimeArg>,
    /// Keep the newest N events of the first batch.
    #[arg(long, value_name = "N", default_value = "50", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
}

/// Runs `legio feed`.
pub fn run(args: &FeedArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let now = ctx.clock.now();
    let scope = Scope {
        agents: args.agent.clone(),
        run_id: args.run.clone(),
    };
    let mut store = view::events_if_present(&layout)?;
    let stop = if args.follow {
        Some(StopSignal::install()?)
    } else {
        None
    };
    // Where following continues is fixed before the first batch is read (see `Follow`).
    let mut follow = match (&store, args.follow) {
        (Some(s), true) => Some(Follow::start(&**s, scope.clone())?),
        _ => None,
    };
    let batch = match &store {
        Some(s) => views::chronological(s.query(&views::feed_query(
            &scope,
            args.since.map(|t| t.at(now)),
            args.limit,
            now,
        ))?),
        None => Vec::new(),
    };
    let mut palette = Palette::default();
    let Some(stop) = stop else {
        if out.json_mode() {
            return out.json(&batch);
        }
        if batch.is_empty() {
            out.line(paint(DIM, "No events found."));
        }
        for e in &batch {
            out.line(line(e, &mut palette));
        }
        return Ok(());
    };

    out.progress(paint(DIM, "Following events (Ctrl-C to stop)"));
    print(&batch, &mut palette, out)?;
    if let Some(f) = &mut follow {
        f.shown(&batch);
    }
    while stop.wait(Duration::from_millis(args.interval)) {
        if store.is_none() {
            // No events.db yet: once the first event creates it, all of it is new.
            store = view::events_if_present(&layout)?;
            follow = Some(Follow::from_id(scope.clone(), 0));
        }
        let (Some(s), Some(f)) = (&store, &mut follow) else {
            continue;
        };
        let new = f.poll(&**s)?;
        print(&new, &mut palette, out)?;
    }
    Ok(())
}

fn print(events: &[StoredEvent], palette: &mut Palette, out: &mut Printer) -> CliResult {
    for e in events {
        if out.json_mode() {
            out.json_line(e)?;
        } else {
            out.line(line(e, palette));
        }
    }
    out.flush();
    Ok(())
}

/// `HH:MM:SS LABEL agent detail`.
fn line(e: &StoredEvent, palette: &mut Palette) -> String {
    let style = palette.style(&e.agent_name);
    format!(
        "{} {} {} {}",
        paint(DIM, view::time_of_day(e.created_at)),
        view::short_label(e),
        paint(style, format!("{:<15}", e.agent_name)),
        paint(DIM, view::detail(e, 60, ShowDuration::Bare)),
    )
}
