//! `legio logs [--follow]`: what the agents printed, and legio's own error log.
//!
//! legio's hooks record events in `events.db` (see `legio feed` and `trace`), not in log files,
//! so the logs here are the agents' own output: each tmux agent's terminal log
//! (`.legio/logs/<agent>/terminal.log`), each headless agent's `output.log`, and
//! `.legio/legio-errors.log` (problems legio met without blocking an agent). Terminal bytes are
//! shown as plain text.
//!
//! Shows the last `--limit` lines of each log. `--follow` then prints new lines as they are
//! written, by byte offset: a line being written is printed once it is complete, never cut or
//! lost, and history is not printed again. Logs that appear later (new agents) are followed
//! from their start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use legio_core::Layout;
use legio_core::ops::logs::{self, LogSource, Tail};
use serde::Serialize;

use super::view::{self, StopSignal};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{BOLD, DIM, Printer, paint};

/// `legio logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this agent's logs (repeatable; leaves out legio's error log).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// Show the last N lines of each log.
    #[arg(long, value_name = "N", default_value = "100", value_parser = view::parse_limit, allow_negative_numbers = true)]
    pub limit: u32,
    /// Keep printing new lines until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// How often to look for new lines while following, in milliseconds.
    #[arg(long, value_name = "MS", default_value = "1000", value_parser = view::parse_interval)]
    pub interval: u64,
}

/// One log and its last lines (`--json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogTail {
    #[serde(flatten)]
    source: LogSource,
    lines: Vec<String>,
}

/// One new line while following (`--json --follow`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogLine<'a> {
    name: &'a str,
    kind: logs::LogKind,
    line: &'a str,
}

/// Runs `legio logs`.
pub fn run(args: &LogsArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    for a in &args.agent {
        legio_core::AgentName::new(a.clone())?;
    }
    let sources = discover(&layout, &args.agent)?;
    let mut tails = Vec::new();
    let mut offsets = BTreeMap::new();
    for source in sources {
        let (lines, end) = logs::last_lines(&source.path, args.limit as usize, !args.follow)?;
        offsets.insert(source.path.clone(), end);
        tails.push(LogTail { source, lines });
    }
    if !args.follow {
        if out.json_mode() {
            return out.json(&tails);
        }
        if tails.is_empty() {
            out.line(paint(DIM, "No logs found."));
            return Ok(());
        }
        for (i, t) in tails.iter().enumerate() {
            if i > 0 {
                out.line("");
            }
            header(&t.source, out);
            for l in &t.lines {
                out.line(l);
            }
        }
        return Ok(());
    }

    let stop = StopSignal::install()?;
    out.progress(paint(DIM, "Following logs (Ctrl-C to stop)"));
    let mut last_shown: Option<PathBuf> = None;
    for t in &tails {
        emit(&t.source, &t.lines, &mut last_shown, out)?;
    }
    let mut following: BTreeMap<PathBuf, (LogSource, Tail)> = tails
        .into_iter()
        .map(|t| {
            let offset = offsets.get(&t.source.path).copied().unwrap_or(0);
            let tail = Tail::new(&t.source.path, offset);
            (t.source.path.clone(), (t.source, tail))
        })
        .collect();
    while stop.wait(Duration::from_millis(args.interval)) {
        for source in discover(&layout, &args.agent)? {
            // A log that appeared while following is new: all of it is shown.
            following
                .entry(source.path.clone())
                .or_insert_with(|| (source.clone(), Tail::new(&source.path, 0)));
        }
        for (source, tail) in following.values_mut() {
            let read = tail.read()?;
            if read.restarted {
                out.progress(paint(
                    DIM,
                    format!(
                        "{} became shorter; reading it from its start",
                        source.label()
                    ),
                ));
            }
            emit(source, &read.lines, &mut last_shown, out)?;
        }
    }
    Ok(())
}

fn discover(layout: &Layout, only: &[String]) -> CliResult<Vec<LogSource>> {
    let sessions = match view::sessions_if_present(layout)? {
        Some(s) => s.list()?,
        None => Vec::new(),
    };
    Ok(logs::discover(layout, &sessions, only)?)
}

fn header(source: &LogSource, out: &mut Printer) {
    out.line(paint(BOLD, format!("==> {} <==", source.label())));
}

/// Prints new lines of `source`, with its header first when the previous line came from
/// another log.
fn emit(
    source: &LogSource,
    lines: &[String],
    last_shown: &mut Option<PathBuf>,
    out: &mut Printer,
) -> CliResult {
    if lines.is_empty() {
        return Ok(());
    }
    for l in lines {
        if out.json_mode() {
            out.json_line(&LogLine {
                name: &source.name,
                kind: source.kind,
                line: l,
            })?;
            continue;
        }
        if last_shown.as_ref() != Some(&source.path) {
            if last_shown.is_some() {
                out.line("");
            }
            header(source, out);
            *last_shown = Some(source.path.clone());
        }
        out.line(l);
    }
    out.flush();
    Ok(())
}
