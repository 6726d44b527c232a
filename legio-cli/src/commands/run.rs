//! `legio run [list | show <id> | complete]`: runs, the batches of agents started under one
//! coordinator session (`sessions.db`, table `runs`).
//!
//! Without a subcommand: the current run (`.legio/current-run.txt`). `list` is newest first.
//! `complete` is the one command here that writes: it completes the current run and clears
//! `current-run.txt`, so the next `legio sling` starts a new run.

use clap::{Args, Subcommand};
use legio_core::domain::agent::{AgentSession, Run, RunStatus};
use legio_core::ports::StoreError;
use legio_core::time::{Clock, Timestamp, format_duration_ms};
use serde::Serialize;

use super::view;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, paint};
use crate::stores;

/// `legio run`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunArgs {
    /// What to do (default: show the current run).
    #[command(subcommand)]
    pub command: Option<RunCommand>,
}

/// `legio run ...`.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// List runs, newest first.
    List {
        /// List the newest N runs.
        #[arg(long, value_name = "N", default_value = "10", value_parser = view::parse_limit, allow_negative_numbers = true)]
        last: u32,
    },
    /// Show one run and its agents.
    Show {
        /// The run id.
        id: String,
    },
    /// Mark the current run completed (and clear `.legio/current-run.txt`).
    Complete,
}

/// A run with its duration (until its end, or until now while active).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunView {
    run: Run,
    duration_ms: i64,
    duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    agents: Option<Vec<AgentSession>>,
}

impl RunView {
    fn new(run: Run, now: Timestamp, agents: Option<Vec<AgentSession>>) -> Self {
        let ms = run
            .completed_at
            .unwrap_or(now)
            .millis_since(run.started_at)
            .max(0);
        Self {
            run,
            duration_ms: ms,
            duration: format_duration_ms(ms),
            agents,
        }
    }
}

/// Runs `legio run`.
pub fn run(args: RunArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let now = ctx.clock.now();
    let sessions = view::sessions_if_present(&layout)?;
    match args.command {
        None => {
            let Some(id) = layout.read_current_run() else {
                if out.json_mode() {
                    return out.json(&serde_json::json!({"run": null, "message": "No active run"}));
                }
                out.line("No active run.");
                return Ok(());
            };
            let found = match &sessions {
                Some(s) => s.get_run(&id)?,
                None => None,
            };
            let Some(run) = found else {
                return Err(unknown_current(&id));
            };
            let agents = agents_of(sessions.as_deref(), &id)?;
            let view = RunView::new(run, now, Some(agents));
            if out.json_mode() {
                return out.json(&view);
            }
            print_run("Current Run", &view, now, out);
        }
        Some(RunCommand::List { last }) => {
            let runs = match &sessions {
                Some(s) => s.list_runs(None, Some(last))?,
                None => Vec::new(),
            };
            let views: Vec<RunView> = runs
                .into_iter()
                .map(|r| RunView::new(r, now, None))
                .collect();
            if out.json_mode() {
                return out.json(&views);
            }
            view::title(out, "Recent Runs", anstyle::Style::new());
            if views.is_empty() {
                out.line(paint(DIM, "No runs recorded yet."));
                return Ok(());
            }
            out.line(format!(
                "{:<36} {:<10} {:<7} {}",
                "ID", "Status", "Agents", "Duration"
            ));
            out.line(paint(DIM, "-".repeat(view::RULE)));
            for v in &views {
                out.line(format!(
                    "{:<36} {:<10} {:<7} {}",
                    view_id(&v.run.id),
                    v.run.status.as_str(),
                    v.run.agent_count,
                    v.duration
                ));
            }
        }
        Some(RunCommand::Show { id }) => {
            let found = match &sessions {
                Some(s) => s.get_run(&id)?,
                None => None,
            };
            let Some(run) = found else {
                return Err(CliError::failure(format!("no run {id}"))
                    .hint("list the runs with `legio run list`"));
            };
            let agents = agents_of(sessions.as_deref(), &id)?;
            let view = RunView::new(run, now, Some(agents));
            if out.json_mode() {
                return out.json(&view);
            }
            print_run("Run Details", &view, now, out);
        }
        Some(RunCommand::Complete) => {
            let Some(id) = layout.read_current_run() else {
                return Err(CliError::failure("there is no active run to complete")
                    .hint("`legio run list` shows past runs"));
            };
            let store = stores::sessions(&layout)?;
            let changed = match store.finish_run(&id, RunStatus::Completed, now) {
                Ok(changed) => changed,
                Err(StoreError::NotFound { .. }) => return Err(unknown_current(&id)),
                Err(e) => return Err(e.into()),
            };
            std::fs::remove_file(layout.current_run()).map_err(|e| {
                CliError::failure(format!(
                    "run {id} is completed, but {} could not be removed: {e}",
                    layout.current_run().display()
                ))
                .hint("delete it by hand so the next `legio sling` starts a new run")
            })?;
            let status = store
                .get_run(&id)?
                .map_or(RunStatus::Completed, |r| r.status);
            if out.json_mode() {
                return out.json(&serde_json::json!({
                    "success": true, "runId": id, "status": status, "changed": changed,
                }));
            }
            if changed {
                out.line(format!("{} run {id}", paint(GREEN, "Completed")));
            } else {
                out.line(format!(
                    "Run {id} was already {status}; cleared the current run"
                ));
            }
        }
    }
    Ok(())
}

fn unknown_current(id: &str) -> CliError {
    CliError::failure(format!(
        "the current run {id} (from .legio/current-run.txt) is not in sessions.db"
    ))
    .hint("delete .legio/current-run.txt; the next `legio sling` starts a new run")
}

fn agents_of(
    sessions: Option<&dyn legio_core::ports::SessionStore>,
    run: &str,
) -> CliResult<Vec<AgentSession>> {
    let Some(s) = sessions else {
        return Ok(Vec::new());
    };
    Ok(s.list()?
        .into_iter()
        .filter(|a| a.run_id.as_deref() == Some(run))
        .collect())
}

/// Ids longer than the column are cut with `...`.
fn view_id(id: &str) -> String {
    legio_core::ops::views::shorten(id, 35)
}

fn print_run(heading: &str, v: &RunView, now: Timestamp, out: &mut Printer) {
    out.line(paint(BOLD, heading));
    out.line("=".repeat(60));
    out.line(format!("  ID:       {}", v.run.id));
    out.line(format!("  Status:   {}", v.run.status));
    out.line(format!("  Started:  {}", v.run.started_at));
    if let Some(end) = v.run.completed_at {
        out.line(format!("  Ended:    {end}"));
    }
    out.line(format!("  Agents:   {}", v.run.agent_count));
    out.line(format!("  Duration: {}", v.duration));
    let Some(agents) = &v.agents else { return };
    out.line("");
    if agents.is_empty() {
        out.line(paint(DIM, "No agents recorded for this run."));
        return;
    }
    out.line(format!("Agents ({}):", agents.len()));
    out.line("-".repeat(60));
    for a in agents {
        // An active agent's time runs until now; a finished one's until its last activity.
        let end = if a.state.is_active() {
            now
        } else {
            a.last_activity
        };
        out.line(format!(
            "  {} [{}] {} | {}",
            a.agent_name,
            a.capability,
            a.state,
            format_duration_ms(end.millis_since(a.started_at).max(0))
        ));
    }
}
