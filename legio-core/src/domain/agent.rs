//! Agents: roles (capabilities), the state machine, sessions and runs.

use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::names::{AgentName, TaskId};
use crate::time::Timestamp;

string_enum! {
    /// An agent's role. The names are legio 0.1.0's `--capability` values.
    pub enum Capability ("capability") {
        /// Read-only explorer; writes specs through `legio spec write`.
        Scout => "scout",
        /// Leaf implementer in its own worktree.
        Builder => "builder",
        /// Read-only validator of a builder's branch.
        Reviewer => "reviewer",
        /// Owns a work stream; spawns scouts, builders, reviewers.
        Lead => "lead",
        /// Integrates branches.
        Merger => "merger",
        /// Persistent top-level orchestrator at the project root.
        Coordinator => "coordinator",
        /// Persistent per-batch lieutenant at the project root.
        Supervisor => "supervisor",
        /// Persistent fleet patrol at the project root.
        Monitor => "monitor",
        /// Persistent human-facing planning companion at the project root.
        Gateway => "gateway",
        /// Strategic analyst (read-only).
        Cto => "cto",
    }
}

impl Capability {
    /// Roles that run at the project root instead of in their own worktree.
    pub const fn works_at_root(self) -> bool {
        matches!(
            self,
            Self::Coordinator | Self::Supervisor | Self::Monitor | Self::Gateway
        )
    }

    /// Roles that live across many turns and may idle for long without being stalled.
    pub const fn is_persistent(self) -> bool {
        self.works_at_root()
    }

    /// Roles that must not modify files (the guard enforces it).
    pub const fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::Scout
                | Self::Reviewer
                | Self::Coordinator
                | Self::Supervisor
                | Self::Monitor
                | Self::Gateway
                | Self::Cto
        )
    }

    /// The roles this role may start with `legio sling` (empty: it may not spawn).
    pub const fn may_spawn(self) -> &'static [Capability] {
        match self {
            Self::Coordinator => &[Self::Lead, Self::Scout],
            Self::Supervisor | Self::Lead => {
                &[Self::Scout, Self::Builder, Self::Reviewer, Self::Merger]
            }
            _ => &[],
        }
    }

    /// The model legio 0.1.0's manifest gives this role.
    pub const fn default_model(self) -> &'static str {
        match self {
            Self::Scout => "haiku",
            Self::Coordinator | Self::Supervisor | Self::Gateway | Self::Cto => "opus",
            _ => "sonnet",
        }
    }
}

string_enum! {
    /// Where an agent is in its life. Transitions are compare-and-swap in the session store:
    /// `booting -> working <-> idle -> completed | zombie`.
    pub enum AgentState ("agent state") {
        /// Launched; no hook has reported yet.
        Booting => "booting",
        /// A turn is in progress.
        Working => "working",
        /// A turn ended (Stop hook); waiting for input. Not finished.
        Idle => "idle",
        /// The agent said it is done (worker_done mail or an explicit command).
        Completed => "completed",
        /// Its process is gone or it stopped making progress without finishing.
        Zombie => "zombie",
    }
}

impl AgentState {
    /// Booting, working or idle: the agent occupies a slot and may still act.
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Booting | Self::Working | Self::Idle)
    }

    /// Completed or zombie: nothing more will happen without a new spawn.
    pub const fn is_terminal(self) -> bool {
        !self.is_active()
    }
}

/// One agent, as recorded in `sessions.db` (table `sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSession {
    /// `session-<epoch ms>-<agent>`.
    pub id: String,
    /// Unique among rows.
    pub agent_name: AgentName,
    /// The role.
    pub capability: Capability,
    /// The agent's working directory (its worktree, or the project root for root roles).
    pub worktree_path: String,
    /// The agent's branch (the canonical branch for root roles).
    pub branch_name: String,
    /// The task it works on; empty for root roles without a task.
    pub bead_id: String,
    /// The multiplexer session name.
    pub tmux_session: String,
    /// Where it is in its life.
    pub state: AgentState,
    /// The pid of the agent's process (the pane's process in tmux).
    pub pid: Option<u32>,
    /// Who spawned it; `None` means the human orchestrator.
    pub parent_agent: Option<AgentName>,
    /// 0 for direct children of the orchestrator.
    pub depth: u32,
    /// The run it belongs to.
    pub run_id: Option<String>,
    /// When it was registered.
    pub started_at: Timestamp,
    /// The last hook activity (or the start).
    pub last_activity: Timestamp,
    /// Watchdog escalation stage: 0 none, 1 warned, 2 nudged, 3 triaged, 4 terminated.
    pub escalation_level: u32,
    /// When the watchdog first saw it stalled.
    pub stalled_since: Option<Timestamp>,
    /// The raw terminal log, when one is kept.
    pub terminal_log_path: Option<String>,
    /// The agent runtime that launched it (`claude`, `script`).
    pub runtime: String,
    /// The files it exclusively owns (`--files`); empty means unrestricted.
    pub file_scope: Vec<String>,
    /// Its spec file, if any.
    pub spec_path: Option<String>,
}

#[cfg(test)]
impl AgentSession {
    /// A working agent with nothing else known (no worktree, branch, task, pid or parent),
    /// for unit tests to adjust with struct update syntax.
    pub(crate) fn example(name: &str, capability: Capability) -> Self {
        Self {
            id: format!("session-1-{name}"),
            agent_name: AgentName::new(name).expect("a valid agent name in a test"),
            capability,
            worktree_path: String::new(),
            branch_name: String::new(),
            bead_id: String::new(),
            tmux_session: String::new(),
            state: AgentState::Working,
            pid: None,
            parent_agent: None,
            depth: 0,
            run_id: None,
            started_at: Timestamp::from_millis(0),
            last_activity: Timestamp::from_millis(0),
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "script".into(),
            file_scope: vec![],
            spec_path: None,
        }
    }
}

impl AgentSession {
    /// The task id, when the row has one that is valid.
    pub fn task(&self) -> Option<TaskId> {
        TaskId::new(self.bead_id.clone()).ok()
    }
}

string_enum! {
    /// A run's status.
    pub enum RunStatus ("run status") {
        /// Agents are still being added or working.
        Active => "active",
        /// Finished normally.
        Completed => "completed",
        /// Abandoned or failed.
        Failed => "failed",
    }
}

/// A run: one batch of agents started under one coordinator session (`sessions.db`, table `runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// `run-<file-safe ISO time>`.
    pub id: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it was completed or failed.
    pub completed_at: Option<Timestamp>,
    /// Agents registered under it.
    pub agent_count: u32,
    /// The coordinator's session id, if a coordinator started it.
    pub coordinator_session_id: Option<String>,
    /// Its status.
    pub status: RunStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_strings_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>().unwrap(), *c);
        }
        let err = "wizard".parse::<Capability>().unwrap_err();
        assert!(err.to_string().contains("scout, builder"), "{err}");
    }

    #[test]
    fn role_policy_matches_the_design() {
        assert!(Capability::Coordinator.works_at_root());
        assert!(!Capability::Builder.works_at_root());
        assert!(Capability::Gateway.is_read_only());
        assert!(Capability::Cto.is_read_only());
        assert!(!Capability::Lead.is_read_only());
        assert!(Capability::Lead.may_spawn().contains(&Capability::Builder));
        assert!(
            !Capability::Coordinator
                .may_spawn()
                .contains(&Capability::Builder)
        );
        assert!(Capability::Builder.may_spawn().is_empty());
    }

    #[test]
    fn active_and_terminal_states() {
        assert!(AgentState::Idle.is_active());
        assert!(AgentState::Zombie.is_terminal());
        assert!(AgentState::Completed.is_terminal());
    }
}
