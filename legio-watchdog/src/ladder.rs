//! Taking escalation steps: warn, nudge, triage and terminate a stalled working agent; nudge an
//! idle agent that has not reported, then tell its parent.
//!
//! Each step first records its stage (guarded: not if the agent moved since the tick read it),
//! then acts, so a failed nudge is reported and never repeated every tick.

use legio_core::domain::agent::AgentSession;
use legio_core::domain::event::EventLevel;
use legio_core::domain::mail::{MailType, NewMail, Priority};
use legio_core::ports::EventQuery;
use legio_core::time::format_duration_ms;
use serde_json::json;

use crate::act::{Act, WATCHDOG, parent_address};
use crate::escalation::{Escalation, IdleHistory, IdleStep, StallStep, level};
use crate::health::DeathCause;
use crate::report::Action;
use crate::triage::{self, EVENTS_SHOWN, SCREEN_LINES, TriageInput, TriageVerdict};

impl Act<'_, '_> {
    /// Takes `step` for a working agent inactive for `inactive_ms`.
    pub(crate) fn stall(&mut self, row: &AgentSession, step: StallStep, inactive_ms: i64) {
        let since = Escalation::of(row).since.unwrap_or(self.now);
        match step {
            StallStep::Warn => {
                if !self.escalate(row, level::WARNED, self.now) {
                    return;
                }
                self.custom(
                    row,
                    "stalled",
                    EventLevel::Warn,
                    json!({ "stage": step.as_str(), "inactiveMs": inactive_ms }),
                );
                self.actions.push(Action::Stalled {
                    agent: row.agent_name.clone(),
                    step,
                    inactive_ms,
                    delivered: None,
                });
            }
            StallStep::Nudge => {
                if !self.escalate(row, level::NUDGED, since) {
                    return;
                }
                let quiet = format_duration_ms(inactive_ms);
                let delivered = self.nudge(
                    row,
                    format!("Watchdog: no activity from you for {quiet}"),
                    format!(
                        "legio has seen no tool activity from you for {quiet}. If you are blocked, \
                         tell {} what blocks you (legio mail send); otherwise carry on with your task. \
                         If nothing happens, the watchdog will end your session.",
                        parent_address(row)
                    ),
                    &format!(
                        "[legio watchdog] No activity from you for {quiet}. Read your mail, then carry on or report what blocks you."
                    ),
                );
                self.custom(
                    row,
                    "stalled",
                    EventLevel::Warn,
                    json!({ "stage": step.as_str(), "inactiveMs": inactive_ms, "delivered": delivered }),
                );
                self.actions.push(Action::Stalled {
                    agent: row.agent_name.clone(),
                    step,
                    inactive_ms,
                    delivered: Some(delivered),
                });
            }
            StallStep::Triage => self.triage(row, inactive_ms),
            StallStep::Terminate => self.handle_death(row, &DeathCause::Stalled { inactive_ms }),
        }
    }

    fn triage(&mut self, row: &AgentSession, inactive_ms: i64) {
        let query = EventQuery {
            agents: vec![row.agent_name.to_string()],
            limit: Some(EVENTS_SHOWN),
            ..EventQuery::default()
        };
        let events = self.ports.events.query(&query).unwrap_or_else(|e| {
            self.problem(&row.agent_name, "reading its events for triage", e);
            Vec::new()
        });
        let screen = self
            .ports
            .mux
            .capture(&row.tmux_session, SCREEN_LINES)
            .map_err(|e| e.to_string());
        let input = TriageInput {
            session: row,
            now: self.now,
            events: &events,
            screen: screen.as_deref().map_err(String::as_str),
        };
        let result = triage::triage(
            self.ports.triage,
            &input,
            self.ports.layout.root(),
            self.policy.triage_timeout,
        );
        self.custom(
            row,
            "triage",
            EventLevel::Warn,
            json!({
                "verdict": result.verdict.as_str(),
                "reason": result.reason,
                "fallback": result.fallback,
                "inactiveMs": inactive_ms,
            }),
        );
        self.actions.push(Action::Triaged {
            agent: row.agent_name.clone(),
            triage: result.clone(),
        });
        match result.verdict {
            // More time: the ladder's clock restarts now with triage done, so the next step is
            // termination, three intervals on. A fallback therefore extends once, never again.
            TriageVerdict::Extend => {
                let after = self.ports.clock.now();
                self.escalate(row, level::ESCALATED, after);
            }
            TriageVerdict::Retry => self.handle_death(
                row,
                &DeathCause::TriageRetry {
                    reason: result.reason,
                },
            ),
            TriageVerdict::Terminate => self.handle_death(
                row,
                &DeathCause::TriageTerminate {
                    reason: result.reason,
                },
            ),
        }
    }

    /// Takes `step` for an idle agent that has not reported; `history` is this watchdog's
    /// memory of it.
    pub(crate) fn idle(
        &mut self,
        row: &AgentSession,
        step: IdleStep,
        idle_ms: i64,
        history: &mut IdleHistory,
    ) {
        let quiet = format_duration_ms(idle_ms);
        let to = parent_address(row).to_owned();
        match step {
            IdleStep::Nudge => {
                if !self.escalate(row, step.level(), self.now) {
                    return;
                }
                history.nudges += 1;
                let delivered = self.nudge(
                    row,
                    format!("Watchdog: you stopped {quiet} ago without reporting"),
                    format!(
                        "Your last turn ended {quiet} ago and you have not reported to {to}. If your \
                         task is finished, send your worker_done report as your instructions say; \
                         if you are waiting for an answer, say so to {to}; otherwise continue working."
                    ),
                    &format!(
                        "[legio watchdog] You stopped {quiet} ago without reporting. Continue your task, or report to {to} if it is done."
                    ),
                );
                self.custom(
                    row,
                    "idle_nudge",
                    EventLevel::Info,
                    json!({ "idleMs": idle_ms, "delivered": delivered, "nudge": history.nudges }),
                );
                self.actions.push(Action::IdleNudged {
                    agent: row.agent_name.clone(),
                    idle_ms,
                    delivered,
                });
            }
            IdleStep::TellParent => {
                let since = Escalation::of(row).since.unwrap_or(self.now);
                if !self.escalate(row, step.level(), since) {
                    return;
                }
                history.parent_told = true;
                let mut mail = NewMail::new(
                    WATCHDOG,
                    to.clone(),
                    MailType::Escalation,
                    format!("{} is idle and has not reported", row.agent_name),
                    format!(
                        "{} ({}) has been idle for {quiet} without reporting, after {} nudge(s) from \
                         the watchdog. Its session is alive. Check on it (legio inspect {}), answer \
                         it if it waits for you, or stop it (legio stop --agent {}).",
                        row.agent_name,
                        row.capability,
                        history.nudges,
                        row.agent_name,
                        row.agent_name
                    ),
                );
                mail.priority = Priority::High;
                let id = self.send_mail(row, &mail);
                self.custom(
                    row,
                    "idle_escalation",
                    EventLevel::Warn,
                    json!({ "idleMs": idle_ms, "to": to, "mailId": id }),
                );
                self.actions.push(Action::ParentTold {
                    agent: row.agent_name.clone(),
                    parent: to,
                    idle_ms,
                });
            }
        }
    }

    /// Mails the agent (so its hooks inject the details) and types a short prompt into its
    /// session to make it read them. Returns whether the text was sent.
    fn nudge(&mut self, row: &AgentSession, subject: String, body: String, text: &str) -> bool {
        let mail = NewMail::new(
            WATCHDOG,
            row.agent_name.as_str(),
            MailType::HealthCheck,
            subject,
            body,
        );
        self.send_mail(row, &mail);
        self.type_into(row, text)
    }
}
