//! `legio clean --all|--mail|--sessions|...`: removes legio's state (`legio_core::ops::clean`
//! has the rules), lists what it removed and what it refused and why, and exits with status 1
//! when something asked for was kept. `--dry-run` only lists.

use clap::Args;
use legio_core::SystemClock;
use legio_core::ops::clean::{self, CleanError, Cleaner, Item, Options, Report, Target};
use legio_core::ports::{EventStore, MergeQueue, SessionStore};
use legio_merge::GitWorktrees;
use legio_store::{SqliteEventStore, SqliteMergeQueue, SqliteSessionStore};
use legio_tmux::ProcfsProbe;

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, Printer, RED, paint};

use super::machine;

/// `legio clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Everything below except --events and --tasks, plus the merge queue, nudge state,
    /// pending nudges, busy markers and current-run.txt.
    #[arg(long)]
    pub all: bool,
    /// Wipe mail.db.
    #[arg(long)]
    pub mail: bool,
    /// Wipe sessions.db (agents and runs); stops agents still running (with --force).
    #[arg(long)]
    pub sessions: bool,
    /// Wipe metrics.db.
    #[arg(long)]
    pub metrics: bool,
    /// Wipe events.db (history; not part of --all).
    #[arg(long)]
    pub events: bool,
    /// Wipe tasks.db (the task tracker; not part of --all).
    #[arg(long)]
    pub tasks: bool,
    /// Wipe merge-queue.db.
    #[arg(long)]
    pub merge_queue: bool,
    /// Clear logs/.
    #[arg(long)]
    pub logs: bool,
    /// Remove agent worktrees (dirty ones are refused) and their branches when merged.
    #[arg(long)]
    pub worktrees: bool,
    /// Delete legio/* branches that are merged and not queued.
    #[arg(long)]
    pub branches: bool,
    /// Clear agents/ (identities, checkpoints).
    #[arg(long)]
    pub agents: bool,
    /// Clear specs/.
    #[arg(long)]
    pub specs: bool,
    /// Also remove dirty worktrees and unmerged or queued branches, and clean while agents or
    /// the watchdog run (stopping the agents whose worktree or record goes). Work is lost.
    #[arg(long)]
    pub force: bool,
    /// Only list what would be removed and refused.
    #[arg(long)]
    pub dry_run: bool,
}

impl CleanArgs {
    fn targets(&self) -> Vec<Target> {
        let mut targets = if self.all { Target::all() } else { Vec::new() };
        for (on, target) in [
            (self.mail, Target::Mail),
            (self.sessions, Target::Sessions),
            (self.metrics, Target::Metrics),
            (self.events, Target::Events),
            (self.tasks, Target::Tasks),
            (self.merge_queue, Target::MergeQueue),
            (self.logs, Target::Logs),
            (self.worktrees, Target::Worktrees),
            (self.branches, Target::Branches),
            (self.agents, Target::Agents),
            (self.specs, Target::Specs),
        ] {
            if on && !targets.contains(&target) {
                targets.push(target);
            }
        }
        targets
    }
}

/// Runs `legio clean`.
pub fn run(args: &CleanArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let targets = args.targets();
    if targets.is_empty() {
        return Err(CliError::usage("nothing to clean: name what to remove")
            .hint("targets: --all, --mail, --sessions, --metrics, --events, --tasks, --merge-queue, --logs, --worktrees, --branches, --agents, --specs")
            .hint("`legio clean --all --dry-run` lists what --all would remove"));
    }
    let layout = ctx.project()?;
    let config = load_config(&layout, out)?;
    let repo = GitWorktrees::open(layout.root())?;
    let mux = machine::multiplexer(&layout, &config);
    let options = Options {
        targets,
        force: args.force,
    };

    let (plan, mut report) = {
        // The stores are closed at the end of this block, before their files are removed.
        let sessions = machine::existing(&layout.sessions_db(), |p| SqliteSessionStore::open(p))
            .ok()
            .flatten();
        let events = machine::existing(&layout.events_db(), |p| SqliteEventStore::open(p))
            .ok()
            .flatten();
        let queue = machine::existing(&layout.merge_queue_db(), |p| SqliteMergeQueue::open(p))
            .ok()
            .flatten();
        let cleaner = Cleaner {
            layout: &layout,
            config: &config,
            worktrees: &repo,
            mux: mux.as_ref(),
            probe: &ProcfsProbe,
            clock: &SystemClock,
            sessions: sessions.as_ref().map(|s| s as &dyn SessionStore),
            events: events.as_ref().map(|e| e as &dyn EventStore),
            merge_queue: queue.as_ref().map(|q| q as &dyn MergeQueue),
        };
        clean::run(&cleaner, &options, args.dry_run).map_err(|e| refusal(&e))?
    };
    if !args.dry_run {
        clean::wipe(&layout, &plan, &mut report);
    }

    if out.json_mode() {
        out.json(&report)?;
    } else {
        print_human(&report, out);
    }
    if report.refused_any() && !report.dry_run {
        let n = report.refused.len();
        return Err(CliError::failure(format!(
            "clean kept {n} {} it was asked to remove (listed above)",
            if n == 1 { "thing" } else { "things" }
        ))
        .hint(
            "pass --force to remove them anyway: uncommitted changes and unmerged commits are lost",
        ));
    }
    Ok(())
}

fn refusal(e: &CleanError) -> CliError {
    let hint = match e {
        CleanError::Busy { .. } => {
            Some("stop the agents (and the watchdog) first, or pass --force to clean under them")
        }
        CleanError::Unknown(_) => Some("pass --force to clean anyway"),
        CleanError::Read { .. } => None,
    };
    let err = CliError::failure(e.to_string());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

fn print_human(report: &Report, out: &mut Printer) {
    if report.removed.is_empty() && report.refused.is_empty() {
        out.line("Nothing to clean.");
    }
    let line = |item: &Item| format!("{} {}: {}", item.kind, paint(BOLD, &item.name), item.detail);
    if !report.removed.is_empty() {
        out.line(if report.dry_run {
            "Would remove:"
        } else {
            "Removed:"
        });
        for item in &report.removed {
            out.line(format!("  {}", line(item)));
        }
    }
    if !report.refused.is_empty() {
        out.line(if report.dry_run {
            "Would refuse:"
        } else {
            "Refused:"
        });
        for item in &report.refused {
            out.line(format!("  {} {}", paint(RED, "✘"), line(item)));
        }
    }
    for note in &report.notes {
        out.line(format!("{} {note}", paint(DIM, "note:")));
    }
}
