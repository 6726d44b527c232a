//! Handling a dead agent, exactly once: the compare-and-swap into `zombie` decides which tick
//! acts; that tick ends the session, tries recovery and tells the parent. A zombie is never
//! handled again (the health rules bury it).

use legio_core::domain::agent::{AgentSession, AgentState};
use legio_core::domain::event::{EventLevel, EventType};
use legio_core::domain::mail::{MailType, NewMail, Priority, WorkerDiedPayload};
use legio_core::ops::checkpoint;
use serde_json::json;

use crate::act::{Act, WATCHDOG, parent_address};
use crate::escalation::{Escalation, level};
use crate::health::DeathCause;
use crate::recovery::{RecoveryOutcome, RespawnError, RespawnRequest, attempts, recovery_prompt};
use crate::report::{Action, SessionEnd};

impl Act<'_, '_> {
    /// Marks `row`'s agent zombie if this tick wins the compare-and-swap, then ends its
    /// session, tries to recover it and mails its parent.
    pub(crate) fn handle_death(&mut self, row: &AgentSession, cause: &DeathCause) {
        let agent = &row.agent_name;
        self.handled.insert(agent.clone());
        let stall_driven = matches!(
            cause,
            DeathCause::Stalled { .. }
                | DeathCause::TriageRetry { .. }
                | DeathCause::TriageTerminate { .. }
        );
        // A stall verdict rests on the row's last activity: if the agent moved since the tick
        // read it, it is not stalled. Process deaths rest on observation and hold in any
        // active state; a boot timeout holds only while it still boots.
        let from: &[AgentState] = if stall_driven {
            if !self.unmoved(row) {
                return;
            }
            &[AgentState::Working]
        } else if matches!(cause, DeathCause::BootTimeout { .. }) {
            &[AgentState::Booting]
        } else {
            &[AgentState::Booting, AgentState::Working, AgentState::Idle]
        };
        match self
            .ports
            .sessions
            .transition(agent, from, AgentState::Zombie)
        {
            Ok(true) => {}
            // Its state changed under us (it completed, or another tick handled it).
            Ok(false) => return,
            Err(e) => {
                self.problem(agent, "marking it zombie", e);
                return;
            }
        }
        self.event(
            row,
            EventType::StateChange,
            EventLevel::Error,
            &json!({
                "from": row.state.as_str(),
                "to": AgentState::Zombie.as_str(),
                "cause": cause.code(),
                "reason": cause.to_string(),
                "by": WATCHDOG,
            }),
        );
        if stall_driven {
            let since = Escalation::of(row).since.unwrap_or(self.now);
            if let Err(e) =
                self.ports
                    .sessions
                    .set_escalation(agent, level::TERMINATED, Some(since))
            {
                self.problem(agent, "recording its termination", e);
            }
        }
        let session = if cause.needs_kill() {
            match self.ports.mux.kill(&row.tmux_session) {
                Ok(()) => SessionEnd::Ended,
                Err(e) => {
                    self.problem(agent, "ending its session", &e);
                    SessionEnd::Failed(e.to_string())
                }
            }
        } else {
            SessionEnd::AlreadyGone
        };
        self.actions.push(Action::Died {
            agent: agent.clone(),
            cause: cause.clone(),
            session: session.clone(),
        });
        let outcome = match &session {
            SessionEnd::Failed(e) => RecoveryOutcome::NotRecoverable {
                reason: format!(
                    "its session could not be ended ({e}), so no second copy is started beside it"
                ),
                attempts: attempts::load(self.ports.layout, agent).unwrap_or(0),
            },
            SessionEnd::Ended | SessionEnd::AlreadyGone => self.recover(row, cause),
        };
        self.tell_parent_of_death(row, cause, &outcome);
        self.actions.push(Action::Recovery {
            agent: agent.clone(),
            outcome,
        });
    }

    fn recover(&mut self, row: &AgentSession, cause: &DeathCause) -> RecoveryOutcome {
        let agent = &row.agent_name;
        let layout = self.ports.layout;
        let done = match attempts::load(layout, agent) {
            Ok(n) => n,
            Err(e) => {
                return RecoveryOutcome::NotRecoverable {
                    reason: e.to_string(),
                    attempts: 0,
                };
            }
        };
        let not = |reason: String| RecoveryOutcome::NotRecoverable {
            reason,
            attempts: done,
        };
        let max = self.policy.max_recovery_attempts;
        if !cause.is_recoverable() {
            return not("triage judged that a restart would not help".into());
        }
        if max == 0 {
            return not("automatic recovery is off (watchdog.maxRecoveryAttempts is 0)".into());
        }
        if done >= max {
            return not(format!("recovery attempts exhausted ({done}/{max})"));
        }
        let Some(respawner) = self.ports.respawner else {
            return not("this watchdog cannot restart agents (no respawner)".into());
        };
        let checkpoint = match checkpoint::load(layout, agent) {
            Ok(Some(c)) => c,
            Ok(None) => {
                return not(
                    "it left no checkpoint (it never finished a turn), so there is nothing to resume from"
                        .into(),
                );
            }
            Err(e) => return not(e.to_string()),
        };
        let attempt = done + 1;
        if let Err(e) = attempts::store(layout, agent, attempt) {
            return not(format!("{e}; an uncounted restart could repeat forever"));
        }
        self.custom(
            row,
            "recovery_attempt",
            EventLevel::Info,
            json!({ "attempt": attempt, "maxAttempts": max, "cause": cause.code() }),
        );
        let request = RespawnRequest {
            session: row,
            checkpoint: &checkpoint,
            cause,
            attempt,
            max_attempts: max,
            prompt: recovery_prompt(row, &checkpoint, cause),
        };
        let failed = |error: String| RecoveryOutcome::Failed {
            attempt,
            max_attempts: max,
            error,
        };
        let outcome = match respawner.respawn(&request) {
            Err(RespawnError::Refused(reason)) => {
                if let Err(e) = attempts::store(layout, agent, done) {
                    self.problem(agent, "putting back its recovery count", e);
                }
                self.custom(
                    row,
                    "recovery_refused",
                    EventLevel::Warn,
                    json!({ "attempt": attempt, "reason": reason }),
                );
                return not(reason);
            }
            Err(RespawnError::Failed(error)) => failed(error),
            // Trust, but verify: the respawned agent must be registered and active.
            Ok(()) => match self.ports.sessions.get(agent) {
                Ok(Some(r)) if r.state.is_active() => RecoveryOutcome::Recovered {
                    attempt,
                    max_attempts: max,
                },
                Ok(other) => failed(format!(
                    "the respawn reported success but the agent is {}",
                    other.map_or_else(
                        || "not registered".to_owned(),
                        |r| format!("{} in sessions.db", r.state)
                    )
                )),
                Err(e) => failed(format!("cannot check the restarted agent: {e}")),
            },
        };
        match &outcome {
            RecoveryOutcome::Recovered { .. } => self.custom(
                row,
                "recovery_success",
                EventLevel::Info,
                json!({ "attempt": attempt }),
            ),
            RecoveryOutcome::Failed { error, .. } => self.custom(
                row,
                "recovery_failed",
                EventLevel::Error,
                json!({ "attempt": attempt, "error": error }),
            ),
            RecoveryOutcome::NotRecoverable { .. } => {}
        }
        outcome
    }

    fn tell_parent_of_death(
        &mut self,
        row: &AgentSession,
        cause: &DeathCause,
        outcome: &RecoveryOutcome,
    ) {
        let agent = &row.agent_name;
        let to = parent_address(row).to_owned();
        let subject = match outcome {
            RecoveryOutcome::Recovered {
                attempt,
                max_attempts,
            } => format!("{agent} died and was restarted (attempt {attempt}/{max_attempts})"),
            RecoveryOutcome::Failed { .. } => format!("{agent} died; restarting it failed"),
            RecoveryOutcome::NotRecoverable { .. } => {
                format!("{agent} died and was not restarted")
            }
        };
        let task = if row.bead_id.is_empty() {
            String::new()
        } else {
            format!(", task {}", row.bead_id)
        };
        let advice = match outcome {
            RecoveryOutcome::Recovered { .. } => {
                "It runs again from its checkpoint and will report to you as before.".to_owned()
            }
            RecoveryOutcome::Failed { .. } | RecoveryOutcome::NotRecoverable { .. } => format!(
                "Its committed work is kept. Restart it where it was (`legio watch --recover {agent}`), start the task again with a new agent (legio sling), or clean up (legio worktree clean)."
            ),
        };
        let body = format!(
            "{agent} ({}{task}) is dead: {cause}.\nWhat the watchdog did: {outcome}.\nIts work is on branch {} in {}.\n{advice}",
            row.capability, row.branch_name, row.worktree_path
        );
        let payload = WorkerDiedPayload {
            agent_name: agent.to_string(),
            bead_id: row.bead_id.clone(),
            reason: cause.to_string(),
            action: outcome.action().to_owned(),
            attempts: outcome.attempts(),
        };
        let mut mail = NewMail::new(WATCHDOG, to.clone(), MailType::WorkerDied, subject, body);
        mail.priority = Priority::High;
        mail.payload = serde_json::to_string(&payload).ok();
        let id = self.send_mail(row, &mail);
        self.custom(
            row,
            "worker_died",
            EventLevel::Info,
            json!({ "to": to, "action": outcome.action(), "mailId": id }),
        );
    }
}
