//! `legio nudge <agent> [message]`: type a short message into an agent's session and check
//! that it got there.
//!
//! - Refused for an agent that is completed or zombie (there is nothing to wake), with why.
//! - Debounced per agent: a second nudge within [`DEBOUNCE`] is not sent, unless forced
//!   (`--force`, or urgent priority). The last nudge's time is kept in
//!   `.legio/nudge-state/<agent>`, read and written under a lock file so two nudges at once
//!   cannot both pass; a nudge that fails does not count.
//! - Verified with [`launch::send_and_verify`]: confirmed when the agent's prompt hook runs,
//!   else "submitted" when the text left the input box (a busy Claude Code queues it until its
//!   turn ends) or was written to a headless agent's input; a text still sitting in the input
//!   box gets Enter again but is never typed twice; anything else is reported as not
//!   delivered, with the reason.
//! - Every nudge, delivered, refused by the debounce or failed, is recorded as a `custom`
//!   event of type `nudge`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::domain::agent::AgentState;
use crate::domain::event::{EventLevel, EventType, NewEvent};
use crate::layout::Layout;
use crate::names::AgentName;
use crate::ops::checkpoint::write_atomic;
use crate::ops::launch::{self, Delivered, DeliveryOptions, Target};
use crate::ops::lock::FileLock;
use crate::ports::{AgentRuntime, EventStore, Multiplexer, SessionStore, StoreError};
use crate::time::{Clock, Timestamp};

/// Two nudges of one agent closer than this are one too many (unless forced).
pub const DEBOUNCE: Duration = Duration::from_secs(5);

/// The message of a nudge without one.
pub const DEFAULT_MESSAGE: &str = "Check your mail inbox for new messages.";

/// What a nudge acts through.
pub struct NudgeContext<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// Where the agent runs.
    pub mux: &'a dyn Multiplexer,
}

impl std::fmt::Debug for NudgeContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NudgeContext")
            .field("root", &self.layout.root())
            .finish_non_exhaustive()
    }
}

/// A nudge to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NudgeRequest {
    /// Who is nudged.
    pub agent: AgentName,
    /// What to say ([`DEFAULT_MESSAGE`] when `None`).
    pub message: Option<String>,
    /// Who nudges (`orchestrator` or an agent).
    pub from: String,
    /// Ignore the debounce.
    pub force: bool,
}

/// What a nudge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NudgeOutcome {
    /// The agent.
    pub agent_name: String,
    /// The text reached the agent and was submitted.
    pub delivered: bool,
    /// The agent's prompt hook confirmed it read the text.
    pub confirmed: bool,
    /// It was not sent because the agent was nudged moments ago.
    pub debounced: bool,
    /// What happened, in words.
    pub reason: String,
}

/// Why a nudge could not even be tried.
#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    /// No such agent.
    #[error("no agent named {0} (see `legio status`)")]
    NoSuchAgent(String),
    /// The agent finished or died.
    #[error("{agent} is {state}: {why}")]
    Terminal {
        /// The agent.
        agent: String,
        /// Its state.
        state: AgentState,
        /// Why that means no nudge.
        why: &'static str,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn state_file(layout: &Layout, agent: &AgentName) -> PathBuf {
    layout.file("nudge-state").join(agent.as_str())
}

fn last_nudge(path: &std::path::Path) -> Option<i64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
}

/// Claims the agent's nudge slot at `now`: `Err(age)` when it was nudged less than
/// [`DEBOUNCE`] ago, else the previous record (to put back if this nudge fails).
fn claim_slot(
    layout: &Layout,
    agent: &AgentName,
    now: Timestamp,
    force: bool,
) -> Result<Result<Option<i64>, i64>, std::io::Error> {
    let path = state_file(layout, agent);
    let _guard = FileLock::acquire(&path.with_extension("lock"), Duration::from_secs(5))?;
    let previous = last_nudge(&path);
    if let Some(last) = previous {
        let age = now.millis() - last;
        if !force && (0..i64::try_from(DEBOUNCE.as_millis()).unwrap_or(i64::MAX)).contains(&age) {
            return Ok(Err(age));
        }
    }
    write_atomic(&path, &now.millis().to_string())?;
    Ok(Ok(previous))
}

/// Gives a failed nudge's slot back, unless a later nudge took it meanwhile.
fn release_slot(layout: &Layout, agent: &AgentName, ours: Timestamp, previous: Option<i64>) {
    let path = state_file(layout, agent);
    let Ok(_guard) = FileLock::acquire(&path.with_extension("lock"), Duration::from_secs(5)) else {
        return;
    };
    if last_nudge(&path) == Some(ours.millis()) {
        let _ = match previous {
            Some(ms) => write_atomic(&path, &ms.to_string()),
            None => std::fs::remove_file(&path),
        };
    }
}

/// Nudges an agent (see the module docs). `runtime` is the agent's runtime; `headless` says
/// its session has no terminal.
pub fn nudge(
    ctx: &NudgeContext<'_>,
    runtime: &dyn AgentRuntime,
    headless: bool,
    request: &NudgeRequest,
    options: &DeliveryOptions,
) -> Result<NudgeOutcome, NudgeError> {
    let agent = &request.agent;
    let row = ctx
        .sessions
        .get(agent)?
        .ok_or_else(|| NudgeError::NoSuchAgent(agent.to_string()))?;
    match row.state {
        AgentState::Completed => {
            return Err(NudgeError::Terminal {
                agent: agent.to_string(),
                state: row.state,
                why: "it reported its work done; send mail instead if it must do more, or sling a new agent",
            });
        }
        AgentState::Zombie => {
            return Err(NudgeError::Terminal {
                agent: agent.to_string(),
                state: row.state,
                why: "it was stopped or died; nothing reads its session (the watchdog recovers dead agents)",
            });
        }
        _ => {}
    }
    let message = request.message.as_deref().unwrap_or(DEFAULT_MESSAGE);
    let text = launch::one_line(&format!("[NUDGE from {}] {message}", request.from));
    let now = ctx.clock.now();
    let mut outcome = NudgeOutcome {
        agent_name: agent.to_string(),
        delivered: false,
        confirmed: false,
        debounced: false,
        reason: String::new(),
    };
    match claim_slot(ctx.layout, agent, now, request.force) {
        Ok(Err(age)) => {
            outcome.debounced = true;
            outcome.reason = format!(
                "not sent: {agent} was nudged {age} ms ago (nudges closer than {} s are merged); use --force to send anyway",
                DEBOUNCE.as_secs()
            );
        }
        Ok(Ok(previous)) => {
            let seen = || launch::prompt_seen(ctx.events, agent.as_str(), now);
            let target = Target {
                mux: ctx.mux,
                runtime,
                session: &row.tmux_session,
                headless,
                prompt_seen: &seen,
            };
            match launch::send_and_verify(&target, &text, false, options) {
                Ok(Delivered::Confirmed) => {
                    outcome.delivered = true;
                    outcome.confirmed = true;
                    outcome.reason = format!("{agent} received it (its prompt hook ran)");
                }
                Ok(Delivered::Submitted) => {
                    outcome.delivered = true;
                    outcome.reason = if headless {
                        format!("written to {agent}'s input; it reads it when it next reads input")
                    } else {
                        format!(
                            "typed and submitted; {agent} has not started reading it yet (a busy agent reads it when its turn ends)"
                        )
                    };
                }
                Err(e) => {
                    release_slot(ctx.layout, agent, now, previous);
                    outcome.reason = e.0;
                }
            }
        }
        Err(e) => {
            outcome.reason = format!("cannot record the nudge ({e}); it was not sent");
        }
    }
    let mut event = NewEvent::new(agent.as_str(), EventType::Custom, ctx.clock.now());
    event.run_id.clone_from(&row.run_id);
    event.level = if outcome.delivered || outcome.debounced {
        EventLevel::Info
    } else {
        EventLevel::Warn
    };
    event.data = Some(
        json!({
            "type": "nudge",
            "to": agent,
            "from": request.from,
            "message": message,
            "delivered": outcome.delivered,
            "confirmed": outcome.confirmed,
            "debounced": outcome.debounced,
            "reason": outcome.reason,
        })
        .to_string(),
    );
    // The outcome is reported to the caller either way; a lost event only loses history.
    let _ = ctx.events.insert(&event);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debounce_window_holds_unless_forced_and_a_failure_gives_it_back() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let agent = AgentName::new("b1").unwrap();
        let t0 = Timestamp::from_millis(1_000_000);
        assert_eq!(claim_slot(&layout, &agent, t0, false).unwrap(), Ok(None));
        let soon = t0.plus_millis(1_000);
        assert_eq!(
            claim_slot(&layout, &agent, soon, false).unwrap(),
            Err(1_000)
        );
        assert_eq!(
            claim_slot(&layout, &agent, soon, true).unwrap(),
            Ok(Some(t0.millis()))
        );
        // The forced nudge failed: the record goes back to t0.
        release_slot(&layout, &agent, soon, Some(t0.millis()));
        assert_eq!(last_nudge(&state_file(&layout, &agent)), Some(t0.millis()));
        let later = t0.plus_millis(6_000);
        assert!(claim_slot(&layout, &agent, later, false).unwrap().is_ok());
    }
}
