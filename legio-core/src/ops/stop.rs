//! `legio stop`: end agents' sessions and process trees, deepest first.
//!
//! An agent stopped before it reported completion becomes `zombie`, with a `state_change`
//! event saying it was stopped: never `completed`, which would be a silent success. A
//! completed agent keeps its state; its session (Claude Code stays open after `worker_done`)
//! is still ended. A root agent's claim on the shared root settings is released. Worktrees and
//! branches are left for `legio worktree clean`.

use serde::Serialize;
use serde_json::json;

use crate::domain::agent::{AgentSession, AgentState, Capability};
use crate::domain::event::{EventLevel, EventType, NewEvent};
use crate::layout::Layout;
use crate::names::AgentName;
use crate::ops::root_hooks;
use crate::ports::{EventStore, Multiplexer, SessionStore, StoreError};
use crate::time::Clock;

/// What stopping acts through.
pub struct StopContext<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// Where agents run.
    pub mux: &'a dyn Multiplexer,
}

impl std::fmt::Debug for StopContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopContext")
            .field("root", &self.layout.root())
            .finish_non_exhaustive()
    }
}

/// Which agents to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopScope {
    /// One agent, whatever its role or state.
    Agent(AgentName),
    /// Every agent working in a worktree that is active or still has a session (root agents
    /// have their own `stop`).
    Workers,
    /// Every agent, root agents included.
    All,
}

/// What happened to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    /// The agent.
    pub agent: String,
    /// Its role.
    pub capability: Capability,
    /// Its session name.
    pub session: String,
    /// Whether its session existed and was ended.
    pub session_ended: bool,
    /// Its state before.
    pub state_before: AgentState,
    /// Its state after.
    pub state_after: AgentState,
    /// What went wrong (the rest was still done).
    pub problems: Vec<String>,
}

/// Why stopping could not start.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// No such agent.
    #[error("no agent named {0} (see `legio status`)")]
    NoSuchAgent(String),
    /// The sessions could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The names of every session, in one call.
fn live_sessions(ctx: &StopContext<'_>) -> Result<Vec<String>, String> {
    ctx.mux
        .list()
        .map(|l| l.into_iter().map(|s| s.name).collect())
        .map_err(|e| format!("cannot list sessions: {e}"))
}

/// The agents `scope` selects, deepest first (ties keep their start order).
fn select(
    ctx: &StopContext<'_>,
    scope: &StopScope,
    live: &[String],
) -> Result<Vec<AgentSession>, StopError> {
    if let StopScope::Agent(agent) = scope {
        let row = ctx
            .sessions
            .get(agent)?
            .ok_or_else(|| StopError::NoSuchAgent(agent.to_string()))?;
        return Ok(vec![row]);
    }
    let mut rows: Vec<AgentSession> = ctx
        .sessions
        .list()?
        .into_iter()
        .filter(|s| *scope == StopScope::All || !s.capability.works_at_root())
        .filter(|s| s.state.is_active() || live.contains(&s.tmux_session))
        .collect();
    rows.sort_by_key(|s| std::cmp::Reverse(s.depth));
    Ok(rows)
}

/// Stops the agents `scope` selects; `reason` goes into their events.
pub fn stop(
    ctx: &StopContext<'_>,
    scope: &StopScope,
    reason: &str,
) -> Result<Vec<Stopped>, StopError> {
    let live = live_sessions(ctx);
    let rows = select(ctx, scope, live.as_deref().unwrap_or_default())?;
    Ok(rows
        .iter()
        .map(|row| stop_row(ctx, row, &live, reason))
        .collect())
}

/// Ends one agent's session, marks it zombie unless it completed, and releases a root agent's
/// settings claim.
pub fn stop_one(ctx: &StopContext<'_>, row: &AgentSession, reason: &str) -> Stopped {
    stop_row(ctx, row, &live_sessions(ctx), reason)
}

fn stop_row(
    ctx: &StopContext<'_>,
    row: &AgentSession,
    live: &Result<Vec<String>, String>,
    reason: &str,
) -> Stopped {
    let mut problems = Vec::new();
    // Without a listing, try anyway: ending a session that does not exist is not an error.
    let existed = match live {
        Ok(names) => names.contains(&row.tmux_session),
        Err(e) => {
            problems.push(e.clone());
            true
        }
    };
    // Marked before its session ends, so a watchdog ticking meanwhile finds a zombie whose
    // process still runs (left alone), never an active agent whose session vanished (a death
    // it would recover from).
    let mut state_after = row.state;
    if row.state.is_active() {
        let active = [AgentState::Booting, AgentState::Working, AgentState::Idle];
        match ctx
            .sessions
            .transition(&row.agent_name, &active, AgentState::Zombie)
        {
            Ok(true) => {
                state_after = AgentState::Zombie;
                let mut e = NewEvent::new(
                    row.agent_name.as_str(),
                    EventType::StateChange,
                    ctx.clock.now(),
                );
                e.run_id.clone_from(&row.run_id);
                e.level = EventLevel::Warn;
                e.data = Some(
                    json!({
                        "from": row.state,
                        "to": "zombie",
                        "reason": reason,
                        "stopped": true,
                    })
                    .to_string(),
                );
                if let Err(err) = ctx.events.insert(&e) {
                    problems.push(format!("the stop event was not recorded: {err}"));
                }
            }
            // It changed meanwhile (e.g. sent worker_done): read what it is now.
            Ok(false) => {
                state_after = ctx
                    .sessions
                    .get(&row.agent_name)
                    .ok()
                    .flatten()
                    .map_or(row.state, |s| s.state);
            }
            Err(e) => problems.push(format!("cannot mark it zombie: {e}")),
        }
    }
    let mut ended = false;
    if existed {
        match ctx.mux.kill(&row.tmux_session) {
            Ok(()) => ended = true,
            Err(e) => problems.push(format!("cannot end session {}: {e}", row.tmux_session)),
        }
    }
    if row.capability.works_at_root()
        && let Err(e) = root_hooks::release(ctx.layout, row.agent_name.as_str(), false)
    {
        problems.push(format!(
            "its hooks in the root settings were not released: {e}"
        ));
    }
    Stopped {
        agent: row.agent_name.to_string(),
        capability: row.capability,
        session: row.tmux_session.clone(),
        session_ended: ended,
        state_before: row.state,
        state_after,
        problems,
    }
}
