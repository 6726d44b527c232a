//! `legio worktree list|clean`: agent worktrees, and removing finished agents' ones
//! (`legio_core::ops::worktree`). Clean exits 1 when it refused or failed to remove any.

use clap::{Args, Subcommand};
use legio_core::ops::worktree::{CleanMode, CleanOptions, WorktreeContext, clean, list};

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, YELLOW, paint};
use crate::stores;
use crate::wiring::{self, FleetMux};

/// `legio worktree ...`.
#[derive(Debug, Subcommand)]
pub enum WorktreeCommand {
    /// List agent worktrees with their agents.
    List,
    /// Remove finished agents' worktrees whose branch is merged.
    Clean(CleanArgs),
}

/// `legio worktree clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only worktrees of completed agents (the default).
    #[arg(long, conflicts_with = "all")]
    pub completed: bool,
    /// Also zombie agents' worktrees and worktrees no agent is recorded for.
    #[arg(long)]
    pub all: bool,
    /// Remove unmerged branches and uncommitted work too (that work is lost).
    #[arg(long)]
    pub force: bool,
}

/// Runs a worktree subcommand.
pub fn run(cmd: WorktreeCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let config = load_config(&layout, out)?;
    let sessions = stores::sessions(&layout)?;
    let worktrees = wiring::worktrees(&layout)?;
    let mux = FleetMux::new(ctx, &layout, &config, false);
    let dir = config.worktrees_dir();
    let wctx = WorktreeContext {
        worktrees_dir: &dir,
        canonical_branch: &config.project.canonical_branch,
        sessions: &*sessions,
        worktrees: &worktrees,
        mux: &mux,
    };
    let fail = |e: legio_core::ops::worktree::WorktreeOpError| CliError::failure(e.to_string());
    match cmd {
        WorktreeCommand::List => {
            let all = list(&wctx).map_err(fail)?;
            if out.json_mode() {
                return out.json(&all);
            }
            if all.is_empty() {
                out.line("No agent worktrees.");
                return Ok(());
            }
            out.line(format!("🌳 Agent worktrees: {}", all.len()));
            for w in &all {
                out.line(format!(
                    "  {}  {}",
                    paint(BOLD, &w.branch),
                    match (&w.agent, w.state) {
                        (Some(a), Some(s)) => format!("{a} ({s})"),
                        _ => paint(YELLOW, "no agent recorded"),
                    }
                ));
                out.line(paint(DIM, format!("    {}", w.path.display())));
            }
            Ok(())
        }
        WorktreeCommand::Clean(args) => {
            let options = CleanOptions {
                mode: if args.all {
                    CleanMode::All
                } else {
                    CleanMode::Completed
                },
                force: args.force,
            };
            let report = clean(&wctx, options).map_err(fail)?;
            if out.json_mode() {
                out.json(&report)?;
            } else {
                if report.removed.is_empty()
                    && report.refused.is_empty()
                    && report.failed.is_empty()
                {
                    out.line("No worktrees to clean.");
                }
                for r in &report.removed {
                    out.line(format!(
                        "{} {} ({}){}",
                        paint(GREEN, "Removed"),
                        r.path.display(),
                        r.branch,
                        match (&r.branch_kept, r.branch_deleted) {
                            (_, true) => ", branch deleted".to_owned(),
                            (Some(why), false) => format!(", branch kept: {why}"),
                            (None, false) => String::new(),
                        }
                    ));
                }
                for r in &report.refused {
                    out.line(format!(
                        "{} {}: {}",
                        paint(YELLOW, "Refused"),
                        r.path.display(),
                        r.reason
                    ));
                }
                for r in &report.failed {
                    out.line(format!(
                        "{} {}: {}",
                        paint(YELLOW, "Failed"),
                        r.path.display(),
                        r.reason
                    ));
                }
                for r in &report.skipped {
                    out.info(paint(
                        DIM,
                        format!("Kept {}: {}", r.path.display(), r.reason),
                    ));
                }
            }
            if !report.refused.is_empty() || !report.failed.is_empty() {
                let mut err = CliError::failure(format!(
                    "{} worktree(s) were not removed",
                    report.refused.len() + report.failed.len()
                ));
                if !report.refused.is_empty() {
                    err = err.hint(
                        "merge their branches first (`legio merge`), or add --force to delete their work",
                    );
                }
                return Err(err);
            }
            Ok(())
        }
    }
}
