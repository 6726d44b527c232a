//! [`Act`]: one tick's means of acting on agents: events, mail, typing into sessions and
//! guarded escalation writes, each failure collected as a problem instead of stopping the tick.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fmt::Display;

use legio_core::domain::agent::AgentSession;
use legio_core::domain::event::{EventLevel, EventType, NewEvent};
use legio_core::domain::mail::NewMail;
use legio_core::names::AgentName;
use legio_core::ops::hook::ORCHESTRATOR;
use legio_core::time::Timestamp;
use serde_json::{Value, json};

use crate::policy::Policy;
use crate::report::{Action, TickReport};
use crate::tick::Ports;

/// The sender of the watchdog's mail and the author of its events.
pub const WATCHDOG: &str = "watchdog";

/// One tick in progress.
pub(crate) struct Act<'p, 'a> {
    pub(crate) ports: &'p Ports<'a>,
    pub(crate) policy: &'p Policy,
    /// The tick's time (every decision of the tick uses it).
    pub(crate) now: Timestamp,
    current_run: OnceCell<Option<String>>,
    pub(crate) actions: Vec<Action>,
    pub(crate) problems: Vec<String>,
    /// Agents that died or had text typed into their session this tick: nothing more is done
    /// to them until the next tick.
    pub(crate) handled: HashSet<AgentName>,
}

impl<'p, 'a> Act<'p, 'a> {
    pub(crate) fn new(ports: &'p Ports<'a>, policy: &'p Policy, now: Timestamp) -> Self {
        Self {
            ports,
            policy,
            now,
            current_run: OnceCell::new(),
            actions: Vec::new(),
            problems: Vec::new(),
            handled: HashSet::new(),
        }
    }

    pub(crate) fn finish(self, agents: usize) -> TickReport {
        TickReport {
            at: self.now,
            agents,
            actions: self.actions,
            problems: self.problems,
        }
    }

    pub(crate) fn problem(&mut self, agent: &AgentName, doing: &str, error: impl Display) {
        self.problems.push(format!("{agent}: {doing}: {error}"));
    }

    fn run_id(&mut self, row: &AgentSession) -> Option<String> {
        if row.run_id.is_some() {
            return row.run_id.clone();
        }
        let layout = self.ports.layout;
        self.current_run
            .get_or_init(|| layout.read_current_run())
            .clone()
    }

    /// Records an event about `row`'s agent.
    pub(crate) fn event(
        &mut self,
        row: &AgentSession,
        event_type: EventType,
        level: EventLevel,
        data: &Value,
    ) {
        let mut e = NewEvent::new(row.agent_name.as_str(), event_type, self.now);
        e.run_id = self.run_id(row);
        e.level = level;
        e.data = Some(data.to_string());
        if let Err(err) = self.ports.events.insert(&e) {
            self.problem(&row.agent_name, "recording an event", err);
        }
    }

    /// Records a `custom` event whose data is `{"type": kind, ...fields}`.
    pub(crate) fn custom(
        &mut self,
        row: &AgentSession,
        kind: &str,
        level: EventLevel,
        fields: Value,
    ) {
        let mut data = json!({ "type": kind, "by": WATCHDOG });
        if let (Some(d), Value::Object(extra)) = (data.as_object_mut(), fields) {
            d.extend(extra);
        }
        self.event(row, EventType::Custom, level, &data);
    }

    /// Sends mail; returns its id.
    pub(crate) fn send_mail(&mut self, row: &AgentSession, mail: &NewMail) -> Option<String> {
        match self.ports.mail.send(mail, self.now) {
            Ok(m) => Some(m.id),
            Err(e) => {
                self.problem(
                    &row.agent_name,
                    &format!("mailing {} ({})", mail.to, mail.subject),
                    e,
                );
                None
            }
        }
    }

    /// Types `text` into the agent's session; returns whether it was sent.
    pub(crate) fn type_into(&mut self, row: &AgentSession, text: &str) -> bool {
        self.handled.insert(row.agent_name.clone());
        match self.ports.mux.send_text(&row.tmux_session, text) {
            Ok(()) => true,
            Err(e) => {
                self.problem(&row.agent_name, "typing into its session", e);
                false
            }
        }
    }

    /// Whether the agent's row still shows the state and last activity it had when the tick
    /// read it (so a decision taken on that reading still holds).
    pub(crate) fn unmoved(&mut self, row: &AgentSession) -> bool {
        match self.ports.sessions.get(&row.agent_name) {
            Ok(Some(now)) => now.state == row.state && now.last_activity == row.last_activity,
            Ok(None) => false,
            Err(e) => {
                self.problem(&row.agent_name, "re-reading its row", e);
                false
            }
        }
    }

    /// Records an escalation stage, unless the agent moved since the tick read it (then its
    /// hook cleared the escalation and the stage is no longer due). Returns whether it was
    /// recorded.
    pub(crate) fn escalate(&mut self, row: &AgentSession, level: u32, since: Timestamp) -> bool {
        if !self.unmoved(row) {
            return false;
        }
        match self
            .ports
            .sessions
            .set_escalation(&row.agent_name, level, Some(since))
        {
            Ok(()) => true,
            Err(e) => {
                self.problem(&row.agent_name, "recording its escalation", e);
                false
            }
        }
    }

    /// Clears a stale escalation record.
    pub(crate) fn clear_escalation(&mut self, row: &AgentSession) {
        if let Err(e) = self.ports.sessions.set_escalation(&row.agent_name, 0, None) {
            self.problem(&row.agent_name, "clearing its escalation", e);
        }
    }
}

/// Who hears about an agent: its parent, or the human orchestrator.
pub(crate) fn parent_address(row: &AgentSession) -> &str {
    row.parent_agent
        .as_ref()
        .map_or(ORCHESTRATOR, AgentName::as_str)
}
