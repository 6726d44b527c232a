//! What one tick did: the actions taken, in order, and the problems that did not stop it.
//! Each [`Action`] displays as one progress line (`legio watch` prints them).

use std::fmt;

use legio_core::names::AgentName;
use legio_core::time::{Timestamp, format_duration_ms};

use crate::escalation::StallStep;
use crate::health::DeathCause;
use crate::recovery::RecoveryOutcome;
use crate::triage::Triage;

/// How the session of a dead agent was dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// Nothing to end: the session was already gone.
    AlreadyGone,
    /// The session and its process tree were ended.
    Ended,
    /// Ending it failed; it may still run (the agent is then not restarted).
    Failed(String),
}

/// One thing the watchdog did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An active agent was found dead and marked zombie (this tick won the compare-and-swap).
    Died {
        /// The agent.
        agent: AgentName,
        /// Why it is dead.
        cause: DeathCause,
        /// What happened to its session.
        session: SessionEnd,
    },
    /// What recovery of a dead agent came to (its parent was mailed either way).
    Recovery {
        /// The agent.
        agent: AgentName,
        /// The outcome.
        outcome: RecoveryOutcome,
    },
    /// A working agent without progress moved up the ladder (warn or nudge).
    Stalled {
        /// The agent.
        agent: AgentName,
        /// The step taken.
        step: StallStep,
        /// How long it has been inactive.
        inactive_ms: i64,
        /// For a nudge: whether the text reached its session.
        delivered: Option<bool>,
    },
    /// Triage of a stalled agent answered (or fell back).
    Triaged {
        /// The agent.
        agent: AgentName,
        /// The verdict.
        triage: Triage,
    },
    /// An idle agent that had not reported was nudged to continue or report.
    IdleNudged {
        /// The agent.
        agent: AgentName,
        /// How long it had been idle.
        idle_ms: i64,
        /// Whether the text reached its session.
        delivered: bool,
    },
    /// The parent of an idle agent that does not report was told.
    ParentTold {
        /// The agent.
        agent: AgentName,
        /// Who was told.
        parent: String,
        /// How long it had been idle.
        idle_ms: i64,
    },
    /// An idle agent was nudged so that its unread urgent or high-priority mail reaches it.
    MailPushed {
        /// The agent.
        agent: AgentName,
        /// How many pressing messages wait.
        messages: usize,
        /// Whether the text reached its session.
        delivered: bool,
    },
    /// A zombie's process runs: someone should look (reported once; never killed).
    Investigate {
        /// The agent.
        agent: AgentName,
    },
}

impl Action {
    /// The agent the action concerns.
    pub fn agent(&self) -> &AgentName {
        match self {
            Self::Died { agent, .. }
            | Self::Recovery { agent, .. }
            | Self::Stalled { agent, .. }
            | Self::Triaged { agent, .. }
            | Self::IdleNudged { agent, .. }
            | Self::ParentTold { agent, .. }
            | Self::MailPushed { agent, .. }
            | Self::Investigate { agent } => agent,
        }
    }
}

fn delivery(delivered: bool) -> &'static str {
    if delivered { "sent" } else { "NOT delivered" }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Died {
                agent,
                cause,
                session,
            } => {
                write!(f, "{agent}: dead, {cause}; marked zombie")?;
                match session {
                    SessionEnd::AlreadyGone => Ok(()),
                    SessionEnd::Ended => f.write_str("; session ended"),
                    SessionEnd::Failed(e) => write!(f, "; could not end its session: {e}"),
                }
            }
            Self::Recovery { agent, outcome } => write!(f, "{agent}: {outcome}"),
            Self::Stalled {
                agent,
                step,
                inactive_ms,
                delivered,
            } => {
                write!(
                    f,
                    "{agent}: no activity for {}; {}",
                    format_duration_ms(*inactive_ms),
                    match step {
                        StallStep::Warn => "warned",
                        StallStep::Nudge => "nudged",
                        StallStep::Triage => "triaging",
                        StallStep::Terminate => "terminating",
                    }
                )?;
                match delivered {
                    Some(d) => write!(f, " ({})", delivery(*d)),
                    None => Ok(()),
                }
            }
            Self::Triaged { agent, triage } => write!(f, "{agent}: triage: {triage}"),
            Self::IdleNudged {
                agent,
                idle_ms,
                delivered,
            } => write!(
                f,
                "{agent}: idle for {} without reporting; nudged to continue or report ({})",
                format_duration_ms(*idle_ms),
                delivery(*delivered)
            ),
            Self::ParentTold {
                agent,
                parent,
                idle_ms,
            } => write!(
                f,
                "{agent}: idle for {} without reporting; told {parent}",
                format_duration_ms(*idle_ms)
            ),
            Self::MailPushed {
                agent,
                messages,
                delivered,
            } => write!(
                f,
                "{agent}: idle with {messages} pressing unread message{}; nudged to read ({})",
                if *messages == 1 { "" } else { "s" },
                delivery(*delivered)
            ),
            Self::Investigate { agent } => write!(
                f,
                "{agent}: recorded as zombie but its process runs; investigate (not killed)"
            ),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// When it ran.
    pub at: Timestamp,
    /// Agents examined (every row of `sessions.db`).
    pub agents: usize,
    /// What was done, in order.
    pub actions: Vec<Action>,
    /// Failures that did not stop the tick (a store write, an event, a mail), each saying what
    /// was being done.
    pub problems: Vec<String>,
}
