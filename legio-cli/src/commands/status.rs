//! `legio status [--all] [--json]`: one view of the fleet: agents (state, task, role, runtime,
//! age, last activity, session), worktrees, multiplexer sessions, unread mail and the merge
//! queue (`legio_core::ops::status`). Reads only: nothing is changed, not even a dead agent's
//! state (the watchdog records that).

use std::fmt::Write as _;
use std::path::Path;

use clap::Args;
use legio_core::ops::status::{FleetStatus, SessionState, StatusSources, snapshot};
use legio_core::time::format_duration_ms;
use serde_json::json;

use crate::context::{Ctx, load_config};
use crate::error::CliResult;
use crate::output::{BOLD, DIM, GREEN, Printer, RED, YELLOW, paint};
use crate::stores;
use crate::wiring::{self, FleetMux};

/// `legio status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every agent ever started, not only active ones and those with a worktree or session.
    #[arg(long)]
    pub all: bool,
}

/// Runs `legio status`.
pub fn run(args: &StatusArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let config = load_config(&layout, out)?;
    let sessions = stores::sessions(&layout)?;
    let mail = stores::mail(&layout)?;
    let merge_queue = stores::merge_queue(&layout)?;
    let worktrees = wiring::worktrees(&layout)?;
    let mux = FleetMux::new(ctx, &layout, &config, false);
    let worktrees_dir = config.worktrees_dir();
    let status = snapshot(
        &StatusSources {
            layout: &layout,
            worktrees_dir: &worktrees_dir,
            clock: &ctx.clock,
            sessions: &*sessions,
            mail: &*mail,
            merge_queue: &*merge_queue,
            worktrees: &worktrees,
            mux: &mux,
        },
        args.all,
    );
    if out.json_mode() {
        let mut value = serde_json::to_value(&status)?;
        value["project"] = json!(config.project.name);
        value["tmuxSocket"] = json!(mux.tmux_socket());
        return out.json(&value);
    }
    print(
        &status,
        &config.project.name,
        mux.tmux_socket(),
        layout.root(),
        out,
    );
    Ok(())
}

fn session_word(state: SessionState) -> String {
    let word = state.as_str();
    match state {
        SessionState::Running => paint(GREEN, word),
        SessionState::Exited => paint(YELLOW, word),
        SessionState::Gone | SessionState::Unknown => paint(RED, word),
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}

/// Pads each column of `rows` to its widest cell (ignoring colour codes).
fn table(rows: &[Vec<String>], out: &mut Printer) {
    let visible = |s: &str| anstream::adapter::strip_str(s).to_string().chars().count();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| visible(cell))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - visible(cell) + 2));
            }
        }
        out.line(line.trim_end());
    }
}

fn print(s: &FleetStatus, project: &str, socket: Option<&str>, root: &Path, out: &mut Printer) {
    let mut head = format!("{} {project}", paint(BOLD, "legio status:"));
    if let Some(run) = &s.current_run {
        let _ = write!(head, "  run {run}");
    }
    if let Some(socket) = socket {
        head.push_str(&paint(DIM, format!("  (tmux -L {socket})")));
    }
    out.line(head);
    out.line("");
    out.line(paint(BOLD, format!("Agents ({})", s.agents.len())));
    if s.agents.is_empty() {
        out.line("  none");
    } else {
        let mut rows = vec![
            [
                "NAME", "ROLE", "STATE", "TASK", "RUNTIME", "AGE", "ACTIVE", "SESSION", "MAIL",
            ]
            .map(|h| paint(DIM, h))
            .to_vec(),
        ];
        for a in &s.agents {
            let mut session = session_word(a.session_state);
            if let Some(code) = a.exit_code {
                let _ = write!(session, " ({code})");
            }
            rows.push(vec![
                format!("{}{}", "  ".repeat(a.depth as usize), a.name),
                a.capability.to_string(),
                a.state.to_string(),
                if a.task.is_empty() {
                    "-".into()
                } else {
                    a.task.clone()
                },
                a.runtime.clone(),
                format_duration_ms(a.age_ms),
                format!("{} ago", format_duration_ms(a.idle_ms)),
                session,
                if a.unread == 0 {
                    "-".into()
                } else {
                    a.unread.to_string()
                },
            ]);
        }
        table(&rows, out);
    }
    out.line("");
    out.line(paint(BOLD, format!("Worktrees ({})", s.worktrees.len())));
    let rows: Vec<Vec<String>> = s
        .worktrees
        .iter()
        .map(|w| {
            vec![
                relative(root, &w.path),
                w.branch.clone(),
                match (&w.agent, w.state) {
                    (Some(a), Some(st)) => format!("{a} ({st})"),
                    _ => paint(YELLOW, "no agent"),
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        out.line("  none");
    }
    table(&rows, out);
    out.line("");
    out.line(paint(BOLD, format!("Sessions ({})", s.sessions.len())));
    let rows: Vec<Vec<String>> = s
        .sessions
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                if m.running {
                    paint(GREEN, "running")
                } else {
                    paint(
                        YELLOW,
                        format!(
                            "exited{}",
                            m.exit_code.map(|c| format!(" ({c})")).unwrap_or_default()
                        ),
                    )
                },
                m.pid.map_or_else(|| "-".into(), |p| format!("pid {p}")),
                m.agent.clone().unwrap_or_else(|| paint(YELLOW, "orphan")),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.line("  none");
    }
    table(&rows, out);
    out.line("");
    let unread: u64 = s.unread_mail.values().sum();
    out.line(paint(BOLD, format!("Unread mail ({unread})")));
    for (to, n) in &s.unread_mail {
        out.line(format!("  {to}: {n}"));
    }
    out.line("");
    out.line(paint(
        BOLD,
        format!("Merge queue ({})", s.merge_queue.len()),
    ));
    for e in &s.merge_queue {
        out.line(format!(
            "  {} {} ({}, task {})",
            e.status, e.branch_name, e.agent_name, e.bead_id
        ));
    }
    if !s.problems.is_empty() {
        out.line("");
        for p in &s.problems {
            out.warn(format!("could not read {p}"));
        }
    }
}
