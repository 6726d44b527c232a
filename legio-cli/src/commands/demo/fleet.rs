//! Watching the fleet work: one progress line per agent that starts or changes state and per
//! branch queued or merged, the watchdog's own lines, the kill of the victim once it has
//! committed part of its work, and its restart by the watchdog. Reads `sessions.db` and the
//! merge queue only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use legio_core::domain::merge::{MergeEntry, MergeStatus};
use legio_core::ports::{MergeQueue, SessionStore};
use legio_core::{AgentSession, AgentState};

use super::procs::{Runner, Watchdog};
use super::scratch::{self, Assignment};
use super::summary::Recovery;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// How often the demo looks at the stores.
const POLL: Duration = Duration::from_millis(100);

/// Where the victim is in its life.
#[derive(Debug)]
enum Victim {
    /// Working towards its first commit.
    Working,
    /// Killed at `at`.
    Killed { at: Instant, pid: u32 },
    /// Restarted.
    Restarted(Recovery),
}

/// What the watch saw.
pub struct Watched {
    /// The victim's recovery, once it was killed.
    pub recovery: Option<Recovery>,
    /// Why the fleet did not finish, if it did not.
    pub unfinished: Option<String>,
}

/// Everything the watch needs.
pub struct Watch<'a> {
    /// Runs git and legio.
    pub runner: &'a Runner,
    /// The sessions.
    pub sessions: &'a dyn SessionStore,
    /// The merge queue.
    pub queue: &'a dyn MergeQueue,
    /// The watchdog's output.
    pub watchdog: &'a mut Watchdog,
    /// The builders' jobs.
    pub jobs: &'a [Assignment],
    /// Where the plans live.
    pub plans: &'a std::path::Path,
    /// When the demo started (progress lines show the time since).
    pub started: Instant,
    /// The latest moment to give up.
    pub deadline: Instant,
}

impl Watch<'_> {
    /// Follows the fleet until the coordinator has merged (it is idle with nothing left in the
    /// queue), the deadline passes, or a signal comes.
    pub fn run(&mut self, out: &mut Printer) -> CliResult<Watched> {
        let victim_job = self.jobs.iter().find(|a| a.victim);
        let mut victim = Victim::Working;
        let mut seen: BTreeMap<String, (AgentState, Option<u32>)> = BTreeMap::new();
        let mut queued: BTreeMap<i64, MergeStatus> = BTreeMap::new();
        loop {
            self.runner.interrupt.check()?;
            for line in self.watchdog.lines.try_iter() {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with("Press Ctrl") {
                    out.progress(format!("{} watchdog: {line}", self.clock()));
                }
            }
            if let Some(status) = self.watchdog.exited() {
                return Err(CliError::failure(format!(
                    "the watchdog (legio watch) exited while the fleet worked ({status})"
                )));
            }
            let rows = self.sessions.list()?;
            for row in &rows {
                self.report(row, &mut seen, out);
            }
            if let Some(job) = victim_job {
                victim = self.handle_victim(job, &rows, victim, out)?;
            }
            let entries = self.queue.list(None)?;
            for entry in &entries {
                self.report_merge(entry, &mut queued, out);
            }
            if merged(&rows, &entries, self.jobs.len()) {
                return Ok(Watched {
                    recovery: recovery(victim, victim_job),
                    unfinished: None,
                });
            }
            if Instant::now() >= self.deadline {
                return Ok(Watched {
                    recovery: recovery(victim, victim_job),
                    unfinished: Some(unfinished(&rows)),
                });
            }
            self.runner.interrupt.nap(POLL)?;
        }
    }

    fn clock(&self) -> String {
        format!("[{:>5.1}s]", self.started.elapsed().as_secs_f64())
    }

    /// One line when an agent appears, changes state or gets a new process.
    fn report(
        &self,
        row: &AgentSession,
        seen: &mut BTreeMap<String, (AgentState, Option<u32>)>,
        out: &mut Printer,
    ) {
        let name = row.agent_name.as_str();
        let now = (row.state, row.pid);
        let line = match seen.get(name) {
            None => Some(format!(
                "{name} ({}{}) started{}",
                row.capability,
                row.parent_agent
                    .as_ref()
                    .map(|p| format!(", by {p}"))
                    .unwrap_or_default(),
                if row.bead_id.is_empty() {
                    String::new()
                } else {
                    format!(" on {} in {}", row.bead_id, row.branch_name)
                },
            )),
            Some((state, pid)) if pid.is_some() && row.pid.is_some() && *pid != row.pid => {
                Some(format!(
                    "{name} runs again as pid {} ({state} -> {})",
                    row.pid.unwrap_or_default(),
                    row.state
                ))
            }
            Some((state, _)) if *state != row.state => {
                Some(format!("{name}: {state} -> {}", row.state))
            }
            Some(_) => None,
        };
        if let Some(line) = line {
            out.progress(format!("{} {line}", self.clock()));
        }
        seen.insert(name.to_owned(), now);
    }

    /// Kills the victim once its first commit is on its branch and its turn has ended (after
    /// swapping its plan for the resume plan), then waits for the watchdog to restart it.
    fn handle_victim(
        &self,
        job: &Assignment,
        rows: &[AgentSession],
        victim: Victim,
        out: &mut Printer,
    ) -> CliResult<Victim> {
        let row = rows.iter().find(|r| r.agent_name.as_str() == job.agent);
        match (victim, row) {
            // Idle: its turn ended, so its checkpoint is written.
            (Victim::Working, Some(row)) if row.state == AgentState::Idle => {
                let Some(pid) = row.pid else {
                    return Ok(Victim::Working);
                };
                let range = format!("main..{}", job.branch());
                let ahead = self
                    .runner
                    .git(&["rev-list", "--count", &range])
                    .unwrap_or_default();
                if ahead.is_empty() || ahead == "0" {
                    return Ok(Victim::Working);
                }
                let plan = serde_json::to_string_pretty(&scratch::resume_plan(job))?;
                std::fs::write(self.plans.join(format!("{}.json", job.agent)), plan)?;
                kill(pid)?;
                out.progress(format!(
                    "{} killed {} (pid {pid}) part-way: its function committed, its test not yet written",
                    self.clock(),
                    job.agent
                ));
                Ok(Victim::Killed {
                    at: Instant::now(),
                    pid,
                })
            }
            (Victim::Killed { at, pid }, Some(row))
                if row.pid.is_some_and(|p| p != pid) && row.state.is_active() =>
            {
                let range = format!("main..{}", job.branch());
                let kept = self
                    .runner
                    .git(&["rev-list", "--count", &range])
                    .is_ok_and(|n| n != "0");
                Ok(Victim::Restarted(Recovery {
                    agent: job.agent.clone(),
                    killed_pid: pid,
                    new_pid: row.pid,
                    recovered: true,
                    recovered_after_ms: Some(at.elapsed().as_millis() as u64),
                    earlier_work_kept: kept,
                }))
            }
            (v, _) => Ok(v),
        }
    }

    /// One line when a branch is queued and when its merge ends.
    fn report_merge(
        &self,
        entry: &MergeEntry,
        queued: &mut BTreeMap<i64, MergeStatus>,
        out: &mut Printer,
    ) {
        let before = queued.insert(entry.id, entry.status);
        if before == Some(entry.status) {
            return;
        }
        let branch = &entry.branch_name;
        let line = match entry.status {
            MergeStatus::Pending if before.is_none() => format!("merge queue: {branch} queued"),
            MergeStatus::Merged => format!(
                "merged {branch} ({})",
                entry
                    .resolved_tier
                    .map_or_else(|| "no tier".to_owned(), |t| t.to_string())
            ),
            MergeStatus::Conflict | MergeStatus::Failed => format!(
                "{branch} did not merge ({}): {}",
                entry.status,
                entry.error_message.as_deref().unwrap_or_default()
            ),
            MergeStatus::Pending | MergeStatus::Merging => return,
        };
        out.progress(format!("{} {line}", self.clock()));
    }
}

/// Whether the coordinator has finished its plan (it merged) and the queue is settled.
fn merged(rows: &[AgentSession], entries: &[MergeEntry], builders: usize) -> bool {
    let coordinator_idle = rows
        .iter()
        .any(|r| r.agent_name.as_str() == "coordinator" && r.state == AgentState::Idle);
    let settled = entries
        .iter()
        .all(|e| !matches!(e.status, MergeStatus::Pending | MergeStatus::Merging));
    coordinator_idle && settled && entries.len() >= builders
}

fn recovery(victim: Victim, job: Option<&Assignment>) -> Option<Recovery> {
    match victim {
        Victim::Working => None,
        Victim::Killed { pid, .. } => Some(Recovery {
            agent: job.map(|j| j.agent.clone()).unwrap_or_default(),
            killed_pid: pid,
            new_pid: None,
            recovered: false,
            recovered_after_ms: None,
            earlier_work_kept: false,
        }),
        Victim::Restarted(r) => Some(r),
    }
}

/// Who had not finished when the time ran out.
fn unfinished(rows: &[AgentSession]) -> String {
    let waiting: Vec<String> = rows
        .iter()
        .filter(|r| r.state != AgentState::Completed)
        .map(|r| format!("{} {}", r.agent_name, r.state))
        .collect();
    format!(
        "the fleet did not finish in time; not completed: {}",
        if waiting.is_empty() {
            "none (the merge did not settle)".to_owned()
        } else {
            waiting.join(", ")
        }
    )
}

/// Kills an agent's process at once (SIGKILL), as a crash would: through a pidfd after
/// checking it is still the process the session recorded where `/proc` exists, directly
/// elsewhere.
fn kill(pid: u32) -> CliResult {
    use rustix::process::{Pid, Signal, kill_process};
    let delivered = match legio_tmux::proctree::stat(pid) {
        Some(target) => legio_tmux::proctree::signal_if_same(target, Signal::KILL),
        None => Pid::from_raw(pid as i32).is_some_and(|p| kill_process(p, Signal::KILL).is_ok()),
    };
    if delivered {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "cannot kill pid {pid}: it is not running"
        )))
    }
}
