//! `legio merge --branch NAME | --all | --stats [--into BRANCH] [--dry-run] [--wait SECS]`,
//! and the merge-queue hook of `legio mail send` (`merge_ready` / `worker_done`).
//!
//! The target (`--into`, else `.legio/session-branch.txt`, else `project.canonicalBranch`) is
//! printed before anything happens. A crashed merge is recovered first and reported. Each
//! finished entry is printed as it finishes and recorded (event, mail to the agent's parent,
//! metrics) by `legio_core::ops::merge_flow`. Exit status 1 when any entry did not merge.
//!
//! Modules: `show` prints, `mail_hook` is the queue's hook in `legio mail send`.
//!
//! Decisions: quality gates (`qualityGates.*`, when `merge.runQualityGates`) are the user's own
//! shell command lines and run as `sh -c <line>` (one argv element, nothing interpolated), so
//! `a && b` and `FOO=1 cmd` mean what they mean in the user's shell. `--dry-run` changes
//! nothing (no recovery, no queueing) and exits 1 when a branch could not be merged by any
//! enabled tier. Tier 3 asks the merger role's runtime (`runtime.*`) through its one-shot
//! prompt.

mod mail_hook;
mod show;

use std::time::Duration;

use clap::Args;
use legio_core::Layout;
use legio_core::config::{Config, RuntimeKind};
use legio_core::domain::agent::Capability;
use legio_core::domain::event::EventType;
use legio_core::domain::merge::MergeStatus;
use legio_core::ops::merge_flow::handoff::{self, Brief};
use legio_core::ops::merge_flow::ledger::{self, FinishedMerge, Ledger};
use legio_core::ops::merge_flow::{MergeTarget, merge_target, stats};
use legio_core::ports::{AgentRuntime, EventQuery};
use legio_core::time::Clock;
use legio_merge::{
    CommandGates, EntryReport, GateCommand, MergeError, MergeOptions, MergePorts, MergeRunner,
    NoGates, Phase, Prediction, QualityGates,
};
use legio_tmux::{ClaudeRuntime, ScriptRuntime};
use serde_json::{Value, json};

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, Printer, YELLOW, paint};
use crate::stores;

pub use mail_hook::{mail_enqueue, mail_intake};

/// Each quality gate's time limit during a merge.
const GATE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// `legio merge`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["branch", "all", "stats"])))]
pub struct MergeArgs {
    /// Merge this branch, queueing it first if it is not queued.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// Merge every pending queue entry, oldest first.
    #[arg(long)]
    pub all: bool,
    /// Show merge outcomes by tier (counts, mean duration) and the queue.
    #[arg(long, conflicts_with_all = ["dry_run", "into"])]
    pub stats: bool,
    /// The branch to merge into (default: .legio/session-branch.txt, else project.canonicalBranch).
    #[arg(long, value_name = "BRANCH")]
    pub into: Option<String>,
    /// Predict each merge (clean, or the conflicting files and the tier needed); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for another `legio merge` into the same target, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub wait: u64,
}

/// Runs `legio merge`.
pub fn run(args: &MergeArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    if args.stats {
        return show_stats(&layout, out);
    }
    let config = load_config(&layout, out)?;
    let target = merge_target(
        &layout,
        &config.project.canonical_branch,
        args.into.as_deref(),
    );
    let failpoint = failpoint(ctx)?;
    let target_line = format!(
        "Merge target: {} (from {})",
        paint(BOLD, &target.branch),
        target.source.describe()
    );
    if out.json_mode() {
        out.progress(target_line);
    } else {
        out.line(target_line);
    }
    let queue = stores::merge_queue(&layout)?;
    let gates = quality_gates(&config);
    let resolver = merge_resolver(&config);
    let ports = MergePorts {
        queue: &*queue,
        resolver: resolver.as_deref(),
        gates: &*gates,
        clock: &ctx.clock,
    };
    let options = MergeOptions {
        ai_resolve: config.merge.ai_resolve_enabled,
        reimagine: config.merge.reimagine_enabled,
        ai_timeout: config.merge.ai_resolve_timeout,
        lock_timeout: Duration::from_secs(args.wait),
    };
    let pause = |phase: Phase| pause_at(failpoint, phase);
    let runner = MergeRunner::open(layout.root(), ports, options)
        .map_err(merge_error)?
        .on_phase(&pause);
    if args.dry_run {
        return dry_run(&runner, args.branch.as_deref(), &target, out);
    }
    merge(&runner, args, &layout, &config, &target, ctx, out)
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

/// The configured quality gates as `sh -c <line>` commands, when `merge.runQualityGates`.
fn quality_gates(config: &Config) -> Box<dyn QualityGates> {
    if !config.merge.run_quality_gates {
        return Box::new(NoGates);
    }
    let commands: Vec<GateCommand> = config
        .quality_gates
        .enabled()
        .into_iter()
        .map(|(label, line)| GateCommand {
            name: label.to_ascii_lowercase(),
            argv: vec!["sh".into(), "-c".into(), line.to_owned()],
        })
        .collect();
    Box::new(CommandGates {
        commands,
        timeout: GATE_TIMEOUT,
    })
}

/// Tier 3's agent runtime: the one `runtime.*` gives the merger role (Claude Code, or the
/// script runtime's one-shot command), asked through its one-shot prompt. `None` when
/// `merge.aiResolveEnabled` is off.
fn merge_resolver(config: &Config) -> Option<Box<dyn AgentRuntime>> {
    if !config.merge.ai_resolve_enabled {
        return None;
    }
    Some(match config.runtime.for_role(Capability::Merger) {
        RuntimeKind::Claude => Box::new(ClaudeRuntime::default()),
        RuntimeKind::Script => Box::new(ScriptRuntime::new(config.runtime.script.command.clone())),
    })
}

/// `LEGIO_FAILPOINT=merge:<phase>`: the phase at which to pause (test-only).
fn failpoint(ctx: &Ctx<'_>) -> CliResult<Option<Phase>> {
    let Some(spec) = ctx.env.failpoint.as_deref() else {
        return Ok(None);
    };
    let Some(name) = spec.strip_prefix("merge:") else {
        return Ok(None);
    };
    serde_json::from_value(Value::String(name.to_owned()))
        .map(Some)
        .map_err(|_| {
            CliError::usage(format!("LEGIO_FAILPOINT names no merge phase: {spec:?}"))
                .hint("phases: claimed, committed, checking-out, gates-passed, published, finished")
        })
}

/// Pauses for good at the failpoint's phase, saying so on stderr, until the process is killed.
fn pause_at(failpoint: Option<Phase>, phase: Phase) {
    if failpoint != Some(phase) {
        return;
    }
    let name = serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    eprintln!(
        "legio: failpoint merge:{name} reached (pid {}); paused until killed",
        std::process::id()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A merge engine error as the user sees it.
#[allow(clippy::needless_pass_by_value)] // by value so that it reads `.map_err(merge_error)`
fn merge_error(e: MergeError) -> CliError {
    let hint = match &e {
        MergeError::Lock(_) => Some("run it again later, or wait longer with --wait SECONDS"),
        MergeError::NoSuchTarget(_) => Some("`git branch` lists the local branches"),
        MergeError::DirtyTarget { .. } => Some("nothing was merged and the queue is unchanged"),
        MergeError::Queue { .. } | MergeError::Journal(_) => {
            Some("nothing was published to the target; run legio merge again")
        }
        _ => None,
    };
    let err = CliError::failure(e.to_string());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

fn merge(
    runner: &MergeRunner<'_>,
    args: &MergeArgs,
    layout: &Layout,
    config: &Config,
    target: &MergeTarget,
    ctx: &Ctx<'_>,
    out: &mut Printer,
) -> CliResult {
    let t = target.branch.as_str();
    let mut recovered = runner.recover(t).map_err(merge_error)?;
    for r in &recovered {
        show::recovery(r, t, out);
    }
    let merger = super::mail::acting_agent(None, ctx)?;
    let sessions = stores::sessions(layout)?;
    let mail = stores::mail(layout)?;
    let events = stores::events(layout)?;
    let metrics = stores::metrics(layout)?;
    let mut books = Books {
        ledger: Ledger {
            sessions: &*sessions,
            mail: &*mail,
            events: &*events,
            metrics: &*metrics,
            merger: &merger,
            run_id: layout.read_current_run(),
        },
        layout,
        config,
        clock: &ctx.clock,
        results: Vec::new(),
    };
    let mut on_entry = |report: &EntryReport| books.finish(report, out);
    let run = match &args.branch {
        Some(branch) => runner.merge_branch(t, branch, &mut on_entry),
        None => runner.merge_all(t, &mut on_entry),
    }
    .map_err(merge_error)?;
    for r in &run.recovered {
        show::recovery(r, t, out);
    }
    recovered.extend(run.recovered.iter().cloned());
    let (total, succeeded) = (run.entries.len(), run.merged_count());
    let failed = total - succeeded;
    if out.json_mode() {
        out.json(&json!({
            "target": target,
            "recovered": recovered,
            "results": books.results,
            "count": total,
            "successCount": succeeded,
            "failCount": failed,
        }))?;
    } else if total == 0 {
        out.line("No pending branches to merge.");
    } else {
        out.line(format!(
            "Done: {succeeded} merged, {failed} failed out of {total} total."
        ));
    }
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} of {total} branch(es) did not merge into {t}; {t} holds only the merges that succeeded"
        ))
        .hint(format!(
            "each entry's error says why; fix the branch (merge {t} into it), then `legio merge --branch <branch>`"
        )));
    }
    Ok(())
}

/// What is done with each finished entry: the tier-4 hand-off, the ledger, the printout.
struct Books<'a> {
    ledger: Ledger<'a>,
    layout: &'a Layout,
    config: &'a Config,
    clock: &'a dyn Clock,
    results: Vec<Value>,
}

impl Books<'_> {
    fn finish(&mut self, report: &EntryReport, out: &mut Printer) {
        let now = self.clock.now();
        let mut problems = Vec::new();
        // Tier 4: the abandoned branch's task becomes a new task with the old diff as its
        // spec. Seam: once `legio sling` is an operation on main, a builder is slung onto it
        // here; until then `show::handoff` prints the command that starts it.
        let handed = report.handoff.as_ref().and_then(|h| {
            let brief = Brief {
                branch: &h.branch,
                agent: &h.agent,
                task: &h.task,
                target: &h.target,
                target_commit: &h.target_commit,
                files: &h.files,
                conflict_files: &h.conflict_files,
                diff: &h.diff,
            };
            let handed = stores::tasks(self.layout, &self.config.project.name)
                .map_err(|e| e.message)
                .and_then(|tasks| {
                    handoff::hand_off(&*tasks, self.layout, &brief, now).map_err(|e| e.to_string())
                });
            handed
                .inspect_err(|e| problems.push(format!("handing the task to a new builder: {e}")))
                .ok()
        });
        let spec = handed.as_ref().map(|h| h.spec.display().to_string());
        let finished = FinishedMerge {
            entry: &report.entry,
            target: &report.entry.target_branch.clone().unwrap_or_default(),
            duration_ms: report.duration_ms,
            conflict_files: &report.conflict_files,
            merge_commit: report.merge_commit.as_deref(),
            already_merged: report.already_merged,
            handed_off: handed
                .as_ref()
                .zip(spec.as_deref())
                .map(|(h, s)| (h.task.as_str(), s)),
        };
        let recorded = ledger::record(&self.ledger, &finished, now);
        problems.extend(recorded.problems.iter().cloned());
        if out.json_mode() {
            let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
            v["notified"] = json!(recorded.notified);
            v["handedOff"] = json!(handed);
            v["problems"] = json!(problems);
            self.results.push(v);
        } else {
            show::entry(report, out);
            if let Some(h) = &handed {
                show::handoff(h, report, out);
            }
            if let Some(to) = &recorded.notified {
                out.info(paint(DIM, format!("    told {to}")));
            }
        }
        for p in problems {
            out.warn(format!("{}: {p}", report.entry.branch_name));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------------

fn dry_run(
    runner: &MergeRunner<'_>,
    branch: Option<&str>,
    target: &MergeTarget,
    out: &mut Printer,
) -> CliResult {
    let t = target.branch.as_str();
    let interrupted = runner.interrupted(t).map_err(merge_error)?;
    let predictions = match branch {
        Some(b) => vec![runner.predict(t, b).map_err(merge_error)?],
        None => runner.predict_pending(t).map_err(merge_error)?,
    };
    let blocked: Vec<&Prediction> = predictions
        .iter()
        .filter(|p| p.error.is_some() || p.tier.is_none())
        .collect();
    if out.json_mode() {
        out.json(&json!({
            "target": target,
            "interrupted": interrupted,
            "predictions": predictions,
        }))?;
    } else {
        out.line(paint(
            DIM,
            format!("Dry run, each branch on its own against {t} as it is now: nothing is merged, queued or changed."),
        ));
        if let Some(j) = &interrupted {
            out.line(paint(
                YELLOW,
                format!(
                    "An interrupted merge of {} into {t} was left behind; the next legio merge undoes it first.",
                    j.branch
                ),
            ));
        }
        if predictions.is_empty() {
            out.line("No pending branches to merge.");
        }
        for p in &predictions {
            show::prediction(p, out);
        }
    }
    if blocked.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = blocked.iter().map(|p| p.branch.as_str()).collect();
    Err(CliError::failure(format!(
        "{} of {} branch(es) would not merge into {t}: {}",
        blocked.len(),
        predictions.len(),
        names.join(", ")
    )))
}

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

fn show_stats(layout: &Layout, out: &mut Printer) -> CliResult {
    let events = stores::events(layout)?.query(&EventQuery {
        event_type: Some(EventType::Merge),
        oldest_first: true,
        ..EventQuery::default()
    })?;
    let stats = stats::tally(&events);
    let queue = stores::merge_queue(layout)?.list(None)?;
    let count = |s: MergeStatus| queue.iter().filter(|e| e.status == s).count();
    let by_status: Vec<(MergeStatus, usize)> =
        MergeStatus::ALL.iter().map(|s| (*s, count(*s))).collect();
    if out.json_mode() {
        let queue: serde_json::Map<String, Value> = by_status
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        return out.json(
            &json!({ "byTier": stats.by_tier, "unreadable": stats.unreadable, "queue": queue }),
        );
    }
    show::stats(&stats, &by_status, out);
    Ok(())
}
