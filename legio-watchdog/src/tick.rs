//! [`Watchdog::tick`]: one pass over the whole fleet.
//!
//! A tick reads every agent row, lists the multiplexer's sessions **once**, probes the recorded
//! pids **in one batch**, evaluates each agent ([`health::evaluate`]) and acts on the verdicts;
//! then it pushes pressing mail to idle agents with **one** mail query. Its cost in calls to the
//! outside world does not grow with the fleet; only actions add calls.
//!
//! Single flight: `tick` takes `&mut self`, so one watchdog never runs two ticks at once, and
//! `legio watch` holds a lock so one daemon runs per project and sleeps a full interval after
//! each tick (ticks never overlap or pile up behind a slow recovery).
//!
//! The watchdog keeps a small memory between ticks (what it already reported or nudged), keyed
//! by agent and pruned to the agents still listed, so it stays flat however long it runs.

use std::collections::{HashMap, HashSet};

use legio_core::domain::agent::{AgentSession, AgentState};
use legio_core::domain::event::EventLevel;
use legio_core::domain::mail::{MailMessage, Priority};
use legio_core::layout::Layout;
use legio_core::names::AgentName;
use legio_core::ports::{
    AgentRuntime, EventStore, MailFilter, MailStore, Multiplexer, MuxSession, ProcessProbe,
    SessionStore,
};
use legio_core::time::Clock;
use serde_json::json;

use crate::act::Act;
use crate::error::WatchdogError;
use crate::escalation::IdleHistory;
use crate::health::{self, Observation, Presence, Verdict};
use crate::policy::Policy;
use crate::recovery::{Respawner, attempts};
use crate::report::{Action, TickReport};

/// Everything the watchdog reads and acts through.
pub struct Ports<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `mail.db`.
    pub mail: &'a dyn MailStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// Where the agents run (it lists only sessions legio created, on its own socket).
    pub mux: &'a dyn Multiplexer,
    /// Process liveness.
    pub probe: &'a dyn ProcessProbe,
    /// The runtime asked for triage; `None` makes triage fall back to `extend`.
    pub triage: Option<&'a dyn AgentRuntime>,
    /// Restarts dead agents; `None` disables recovery (parents are still told).
    pub respawner: Option<&'a dyn Respawner>,
}

/// The watchdog: a policy and its memory between ticks.
#[derive(Debug)]
pub struct Watchdog {
    policy: Policy,
    memory: Memory,
}

/// What the watchdog remembers between ticks so that it reports and nudges once.
#[derive(Debug, Default)]
struct Memory {
    /// Idle nudges and parent notices per agent.
    idle: HashMap<AgentName, IdleHistory>,
    /// Zombies whose running process was reported.
    investigating: HashSet<AgentName>,
    /// Completed agents whose recovery count was reset.
    finished: HashSet<AgentName>,
    /// Per idle agent, the pressing unread mail it was nudged about.
    mail_pushed: HashMap<AgentName, Vec<String>>,
}

impl Memory {
    /// Forgets agents that are no longer listed, or no longer in the state an entry is about.
    fn prune(&mut self, rows: &[AgentSession]) {
        let state: HashMap<&AgentName, AgentState> =
            rows.iter().map(|r| (&r.agent_name, r.state)).collect();
        let is = |name: &AgentName, wanted: fn(AgentState) -> bool| {
            state.get(name).is_some_and(|s| wanted(*s))
        };
        self.idle.retain(|n, _| is(n, AgentState::is_active));
        self.investigating
            .retain(|n| is(n, |s| s == AgentState::Zombie));
        self.finished
            .retain(|n| is(n, |s| s == AgentState::Completed));
        self.mail_pushed
            .retain(|n, _| is(n, |s| s == AgentState::Idle));
    }

    /// How many entries it holds (it must not grow with the number of ticks).
    fn len(&self) -> usize {
        self.idle.len() + self.investigating.len() + self.finished.len() + self.mail_pushed.len()
    }
}

impl Watchdog {
    /// A watchdog with `policy` and no memory.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            memory: Memory::default(),
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How many per-agent entries its memory holds; bounded by the number of agents listed,
    /// whatever the number of ticks.
    pub fn remembered(&self) -> usize {
        self.memory.len()
    }

    /// One pass over the fleet.
    pub fn tick(&mut self, ports: &Ports<'_>) -> Result<TickReport, WatchdogError> {
        let now = ports.clock.now();
        let rows = ports.sessions.list().map_err(WatchdogError::ListAgents)?;
        self.memory.prune(&rows);
        let observed = self.observe(ports, &rows)?;
        let mut act = Act::new(ports, &self.policy, now);
        for (row, seen) in rows.iter().zip(&observed) {
            match health::evaluate(row, seen, now, &self.policy) {
                Verdict::Healthy | Verdict::Buried => {}
                Verdict::Finished => {
                    if self.memory.finished.insert(row.agent_name.clone())
                        && let Err(e) = attempts::reset(ports.layout, &row.agent_name)
                    {
                        act.problem(&row.agent_name, "resetting its recovery count", e);
                    }
                }
                Verdict::Investigate => {
                    if self.memory.investigating.insert(row.agent_name.clone()) {
                        act.custom(
                            row,
                            "investigate",
                            EventLevel::Warn,
                            json!({ "reason": "recorded as zombie but its process runs; not killed" }),
                        );
                        act.actions.push(Action::Investigate {
                            agent: row.agent_name.clone(),
                        });
                    }
                }
                Verdict::ClearEscalation => act.clear_escalation(row),
                Verdict::Dead(cause) => act.handle_death(row, &cause),
                Verdict::Stall { step, inactive_ms } => act.stall(row, step, inactive_ms),
                Verdict::Idle { step, idle_ms } => {
                    let history = self.memory.idle.entry(row.agent_name.clone()).or_default();
                    act.idle(row, step, idle_ms, history);
                }
            }
        }
        push_pressing_mail(&mut self.memory.mail_pushed, &mut act, &rows, &observed);
        Ok(act.finish(rows.len()))
    }

    /// One multiplexer listing and one batch of pid checks for the whole fleet.
    fn observe(
        &self,
        ports: &Ports<'_>,
        rows: &[AgentSession],
    ) -> Result<Vec<Observation>, WatchdogError> {
        let listed: Vec<MuxSession> = if rows.iter().any(|r| r.state != AgentState::Completed) {
            ports.mux.list().map_err(WatchdogError::ListSessions)?
        } else {
            Vec::new()
        };
        let by_name: HashMap<&str, &MuxSession> =
            listed.iter().map(|s| (s.name.as_str(), s)).collect();
        let presence: Vec<Presence> = rows
            .iter()
            .map(|r| match by_name.get(r.tmux_session.as_str()) {
                None => Presence::Gone,
                Some(s) if s.running => Presence::Running,
                Some(s) => Presence::Exited {
                    exit_code: s.exit_code,
                },
            })
            .collect();
        // Only active agents whose session runs need their pid checked.
        let mut pids = Vec::new();
        let slot: Vec<Option<usize>> = rows
            .iter()
            .zip(&presence)
            .map(|(r, p)| match (r.state.is_active(), p, r.pid) {
                (true, Presence::Running, Some(pid)) => {
                    pids.push(pid);
                    Some(pids.len() - 1)
                }
                _ => None,
            })
            .collect();
        let alive = if pids.is_empty() {
            Vec::new()
        } else {
            ports.probe.alive_many(&pids)
        };
        let parents: HashSet<&str> = rows
            .iter()
            .filter(|r| r.state.is_active())
            .filter_map(|r| r.parent_agent.as_ref().map(AgentName::as_str))
            .collect();
        Ok(rows
            .iter()
            .zip(presence)
            .zip(slot)
            .map(|((r, presence), slot)| Observation {
                presence,
                // A probe that answered fewer pids than asked leaves the rest unknown.
                pid_alive: slot.and_then(|i| alive.get(i).copied()),
                has_active_children: parents.contains(r.agent_name.as_str()),
                idle_history: self
                    .memory
                    .idle
                    .get(&r.agent_name)
                    .copied()
                    .unwrap_or_default(),
            })
            .collect())
    }
}

/// Nudges idle agents that have unread urgent or high-priority mail they were not yet nudged
/// about (`pushed` remembers which), so that the prompt hook delivers it. One mail query, and
/// only when some agent is idle.
fn push_pressing_mail(
    pushed: &mut HashMap<AgentName, Vec<String>>,
    act: &mut Act<'_, '_>,
    rows: &[AgentSession],
    observed: &[Observation],
) {
    let idle: Vec<&AgentSession> = rows
        .iter()
        .zip(observed)
        .filter(|(r, o)| {
            r.state == AgentState::Idle
                && o.presence == Presence::Running
                && !act.handled.contains(&r.agent_name)
        })
        .map(|(r, _)| r)
        .collect();
    if idle.is_empty() {
        return;
    }
    let filter = MailFilter {
        unread: Some(true),
        ..MailFilter::default()
    };
    let unread = match act.ports.mail.list(&filter) {
        Ok(m) => m,
        Err(e) => {
            act.problems
                .push(format!("reading unread mail to push to idle agents: {e}"));
            return;
        }
    };
    // Newest first, as the store lists them.
    let mut pressing: HashMap<&str, Vec<&MailMessage>> = HashMap::new();
    for m in unread.iter().filter(|m| m.priority.is_pressing()) {
        pressing.entry(m.to.as_str()).or_default().push(m);
    }
    for row in idle {
        let Some(messages) = pressing.get(row.agent_name.as_str()) else {
            pushed.remove(&row.agent_name);
            continue;
        };
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let known = pushed.get(&row.agent_name);
        if ids.iter().all(|id| known.is_some_and(|k| k.contains(id))) {
            continue;
        }
        let newest = messages[0];
        let label = if messages.iter().any(|m| m.priority == Priority::Urgent) {
            "urgent"
        } else {
            "high-priority"
        };
        let text = format!(
            "[legio] You have {} unread {label} message{}, the newest from {}: \"{}\". Read and act on them now.",
            messages.len(),
            if messages.len() == 1 { "" } else { "s" },
            newest.from,
            newest.subject
        );
        let delivered = act.type_into(row, &text);
        act.custom(
            row,
            "mail_nudge",
            EventLevel::Info,
            json!({ "messageIds": ids, "delivered": delivered }),
        );
        act.actions.push(Action::MailPushed {
            agent: row.agent_name.clone(),
            messages: ids.len(),
            delivered,
        });
        // Not delivered: try again next tick (if the session is broken, the health rules
        // will find it dead first).
        if delivered {
            pushed.insert(row.agent_name.clone(), ids);
        }
    }
}
