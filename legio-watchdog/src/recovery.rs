//! Recovery of dead agents: the [`Respawner`] port, the persisted attempt counter and the
//! first prompt of a recovered agent.
//!
//! A dead agent with a checkpoint is started again **in its existing worktree, on its existing
//! branch**, so the work it committed is kept (legio 0.1.0 re-ran `sling`, which tried to create
//! both anew and failed). Attempts are counted in `.legio/agents/<agent>/recovery-count` (legio
//! 0.1.0's file: a decimal number), written before each attempt so a crash mid-respawn still
//! counts (and put back when the respawner refuses before changing anything), and deleted when
//! the watchdog sees the agent completed or when a new agent of the same name is spawned
//! (`spawn::forget_previous_life`), so a name used again starts afresh.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use legio_core::domain::agent::AgentSession;
use legio_core::layout::Layout;
use legio_core::names::AgentName;
use legio_core::ops::checkpoint::Checkpoint;

use crate::health::DeathCause;

/// Starts a dead agent again. The CLI implements it with its sling machinery.
pub trait Respawner {
    /// Starts `request.session`'s agent again in its existing worktree and on its existing
    /// branch (never new ones), with the same role, task, parent, depth and file scope, and
    /// `request.prompt` as its first prompt; registers it as `booting` with a fresh start time
    /// and its new pid. Returns once its session runs. [`RespawnError::Refused`] means nothing
    /// was changed and the attempt does not count.
    fn respawn(&self, request: &RespawnRequest<'_>) -> Result<(), RespawnError>;
}

/// What a [`Respawner`] is asked to do.
#[derive(Debug, Clone)]
pub struct RespawnRequest<'a> {
    /// The dead agent's row (worktree, branch, role, task, parent, depth, scope, runtime).
    pub session: &'a AgentSession,
    /// Its last checkpoint.
    pub checkpoint: &'a Checkpoint,
    /// Why it died.
    pub cause: &'a DeathCause,
    /// This attempt's number (1-based).
    pub attempt: u32,
    /// The configured limit.
    pub max_attempts: u32,
    /// Its first prompt (see [`recovery_prompt`]).
    pub prompt: String,
}

/// Why a respawn did not happen, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespawnError {
    /// Refused before anything was changed (its worktree is gone, its role cannot be restarted
    /// this way, a limit is reached): not counted as an attempt.
    #[error("{0}")]
    Refused(String),
    /// Attempted and failed; what the attempt had changed was undone.
    #[error("{0}")]
    Failed(String),
}

/// What recovery of a dead agent came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// It runs again and is monitored as a new booting agent.
    Recovered {
        /// This attempt's number.
        attempt: u32,
        /// The limit.
        max_attempts: u32,
    },
    /// A respawn was attempted and failed.
    Failed {
        /// This attempt's number.
        attempt: u32,
        /// The limit.
        max_attempts: u32,
        /// What went wrong.
        error: String,
    },
    /// No respawn was attempted.
    NotRecoverable {
        /// Why not.
        reason: String,
        /// Attempts made before.
        attempts: u32,
    },
}

impl RecoveryOutcome {
    /// The `worker_died` payload's `action`.
    pub const fn action(&self) -> &'static str {
        match self {
            Self::Recovered { .. } => "recovered",
            Self::Failed { .. } => "recovery_failed",
            Self::NotRecoverable { .. } => "not_recoverable",
        }
    }

    /// Attempts made so far, this one included.
    pub const fn attempts(&self) -> u32 {
        match self {
            Self::Recovered { attempt, .. } | Self::Failed { attempt, .. } => *attempt,
            Self::NotRecoverable { attempts, .. } => *attempts,
        }
    }
}

impl fmt::Display for RecoveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recovered {
                attempt,
                max_attempts,
            } => write!(
                f,
                "restarted from its checkpoint in its worktree (attempt {attempt}/{max_attempts})"
            ),
            Self::Failed {
                attempt,
                max_attempts,
                error,
            } => write!(
                f,
                "restart failed (attempt {attempt}/{max_attempts}): {error}"
            ),
            Self::NotRecoverable { reason, .. } => write!(f, "not restarted: {reason}"),
        }
    }
}

/// Why the attempt counter could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AttemptsError {
    /// I/O.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// read / write / delete.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file holds something other than a number.
    #[error("{} holds {content:?}, not a number; delete it to reset the count", path.display())]
    Garbled {
        /// The file.
        path: PathBuf,
        /// What it holds.
        content: String,
    },
}

/// The attempt counter of one agent.
pub mod attempts {
    use super::{AgentName, AttemptsError, Layout, PathBuf};

    /// `.legio/agents/<agent>/recovery-count`.
    pub fn path(layout: &Layout, agent: &AgentName) -> PathBuf {
        layout.recovery_count(agent)
    }

    /// Attempts recorded so far (0 when there is no file).
    pub fn load(layout: &Layout, agent: &AgentName) -> Result<u32, AttemptsError> {
        let path = path(layout, agent);
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|_| AttemptsError::Garbled {
                path,
                content: text.chars().take(40).collect(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(AttemptsError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Records `count` attempts (atomically).
    pub fn store(layout: &Layout, agent: &AgentName, count: u32) -> Result<(), AttemptsError> {
        let path = path(layout, agent);
        legio_core::ops::checkpoint::write_atomic(&path, &count.to_string()).map_err(|source| {
            AttemptsError::Io {
                action: "write",
                path,
                source,
            }
        })
    }

    /// Forgets the attempts (the agent completed). No file is fine.
    pub fn reset(layout: &Layout, agent: &AgentName) -> Result<(), AttemptsError> {
        let path = path(layout, agent);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(AttemptsError::Io {
                action: "delete",
                path,
                source,
            }),
        }
    }
}

/// The first prompt of a recovered agent: who it is, why it was restarted, where its work is
/// and what it last reported.
pub fn recovery_prompt(
    session: &AgentSession,
    checkpoint: &Checkpoint,
    cause: &DeathCause,
) -> String {
    prompt(
        session,
        Some(checkpoint),
        &format!("restarted by the legio watchdog because your previous session died ({cause})"),
    )
}

/// The first prompt of a dead agent restarted by hand (`legio watch --recover`); its
/// checkpoint, when it left one, says what it last reported.
pub fn restart_prompt(session: &AgentSession, checkpoint: Option<&Checkpoint>) -> String {
    prompt(
        session,
        checkpoint,
        "restarted after your previous session ended before your work was done",
    )
}

fn prompt(session: &AgentSession, checkpoint: Option<&Checkpoint>, why: &str) -> String {
    let at_root = session.capability.works_at_root();
    let mut p = format!("You are {}, {why}. ", session.agent_name);
    if at_root {
        let _ = write!(
            p,
            "You work at the project root {} as before; your mail and the fleet's state (`legio status`) tell you what happened meanwhile.",
            session.worktree_path
        );
    } else {
        let _ = write!(
            p,
            "You are in your existing worktree {worktree} on your branch {branch}: everything you \
             committed is there, and uncommitted changes may be too; check `git status` and `git log` \
             before continuing.",
            worktree = session.worktree_path,
            branch = session.branch_name,
        );
    }
    if !session.bead_id.is_empty() {
        let _ = write!(p, " Your task is still {}.", session.bead_id);
    }
    if let Some(checkpoint) = checkpoint {
        let summary = checkpoint.progress_summary.trim();
        if !summary.is_empty() {
            let _ = write!(
                p,
                "\n\nYour last progress report, at {}:\n{summary}",
                checkpoint.timestamp
            );
        }
        let pending = checkpoint.pending_work.trim();
        if !pending.is_empty() {
            let _ = write!(p, "\n\nWork you said remained:\n{pending}");
        }
        if !checkpoint.files_modified.is_empty() {
            let _ = write!(
                p,
                "\n\nFiles you had modified: {}",
                checkpoint.files_modified.join(", ")
            );
        }
    }
    p.push_str(if at_root {
        "\n\nContinue from where you left off, following your instructions."
    } else {
        "\n\nContinue the task from where you left off, following your instructions in .claude/CLAUDE.md, \
         and report to your parent as usual when you are done."
    });
    p
}

#[cfg(test)]
mod tests {
    use legio_core::time::Timestamp;
    use legio_core::{AgentState, Capability};

    use super::*;
    use crate::fakes::session;

    #[test]
    fn the_counter_round_trips_resets_and_reports_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let agent = AgentName::new("b1").unwrap();
        assert_eq!(attempts::load(&layout, &agent).unwrap(), 0);
        attempts::store(&layout, &agent, 2).unwrap();
        assert_eq!(
            std::fs::read_to_string(attempts::path(&layout, &agent)).unwrap(),
            "2",
            "legio 0.1.0's format: a bare decimal"
        );
        assert_eq!(attempts::load(&layout, &agent).unwrap(), 2);
        attempts::reset(&layout, &agent).unwrap();
        attempts::reset(&layout, &agent).unwrap();
        assert_eq!(attempts::load(&layout, &agent).unwrap(), 0);
        std::fs::write(attempts::path(&layout, &agent), "two\n").unwrap();
        let err = attempts::load(&layout, &agent).unwrap_err();
        assert!(err.to_string().contains("delete it to reset"), "{err}");
    }

    #[test]
    fn the_recovery_prompt_says_where_the_work_is_and_what_was_done() {
        let s = session("builder-1", Capability::Builder, AgentState::Zombie);
        let cp = Checkpoint {
            agent_name: "builder-1".into(),
            bead_id: "t-1".into(),
            session_id: "s".into(),
            timestamp: Timestamp::from_millis(0),
            progress_summary: "Parser done, tests next".into(),
            files_modified: vec!["src/parse.rs".into()],
            current_branch: "legio/builder-1/t-1".into(),
            pending_work: "write tests".into(),
            mulch_domains: vec![],
        };
        let p = recovery_prompt(&s, &cp, &DeathCause::ProcessExited { exit_code: None });
        for part in [
            "restarted by the legio watchdog because your previous session died (its process exited)",
            "/p/.legio/worktrees/builder-1 on your branch legio/builder-1/t-1",
            "Your task is still t-1.",
            "Parser done, tests next",
            "write tests",
            "src/parse.rs",
        ] {
            assert!(p.contains(part), "missing {part:?} in:\n{p}");
        }
    }

    #[test]
    fn a_restart_by_hand_without_a_checkpoint_still_says_where_the_work_is() {
        let s = session("builder-1", Capability::Builder, AgentState::Zombie);
        let p = restart_prompt(&s, None);
        assert!(
            p.starts_with("You are builder-1, restarted after your previous session ended"),
            "{p}"
        );
        assert!(p.contains("/p/.legio/worktrees/builder-1"), "{p}");
        assert!(!p.contains("progress report"), "{p}");
        assert!(!p.contains("watchdog"), "{p}");
    }

    #[test]
    fn a_root_agent_is_told_it_works_at_the_root() {
        let mut s = session("coordinator", Capability::Coordinator, AgentState::Zombie);
        s.worktree_path = "/p".into();
        s.bead_id = String::new();
        let cp = Checkpoint {
            agent_name: "coordinator".into(),
            bead_id: String::new(),
            session_id: "s".into(),
            timestamp: Timestamp::from_millis(0),
            progress_summary: "Two builders slung".into(),
            files_modified: vec![],
            current_branch: "main".into(),
            pending_work: String::new(),
            mulch_domains: vec![],
        };
        let p = recovery_prompt(&s, &cp, &DeathCause::SessionGone);
        assert!(
            p.contains("You work at the project root /p as before"),
            "{p}"
        );
        assert!(p.contains("Two builders slung"), "{p}");
        assert!(!p.contains("worktree"), "{p}");
        assert!(!p.contains("CLAUDE.md"), "{p}");
        assert!(!p.contains("Your task is still"), "{p}");
    }
}
