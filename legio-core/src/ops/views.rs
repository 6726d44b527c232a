//! Read-only views of the fleet behind `legio inspect`, `trace`, `feed`, `replay`, `errors`,
//! `metrics` and `run`: which events each shows, what a trace target names, what inspecting an
//! agent gathers, and the metrics summary.
//!
//! Two rules hold everywhere (legio 0.1.0 broke both):
//! - a limit keeps the **newest** rows: event queries here are newest first, and a view that
//!   prints in time order reverses the kept rows afterwards ([`chronological`]);
//! - nothing here writes: these functions take the stores and only query them.
//!
//! `--follow` continues from an event id ([`Follow`]), never from a time window, so a burst of
//! events is never cut and history is never printed twice.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::domain::agent::AgentSession;
use crate::domain::event::{EventLevel, EventType, StoredEvent, ToolStats};
use crate::domain::metrics::SessionMetrics;
use crate::names::AgentName;
use crate::ports::{EventQuery, EventStore, SessionStore, StoreResult};
use crate::time::Timestamp;

/// How far back `legio feed` looks by default.
pub const FEED_WINDOW_MS: i64 = 5 * 60 * 1000;
/// How far back `legio replay` looks by default when there is no current run.
pub const REPLAY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A time span; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// At or after.
    pub since: Option<Timestamp>,
    /// At or before.
    pub until: Option<Timestamp>,
}

/// `events` (newest first, as queried) in time order, oldest first.
pub fn chronological(mut events: Vec<StoredEvent>) -> Vec<StoredEvent> {
    events.reverse();
    events
}

// ---------------------------------------------------------------------------------------------
// Which events
// ---------------------------------------------------------------------------------------------

/// Who `legio trace <target>` follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TraceTarget {
    /// One agent (with or without a session row: `orchestrator` has none).
    Agent {
        /// The agent.
        agent: String,
    },
    /// A task: every agent recorded as working on it.
    Task {
        /// The task.
        task: String,
        /// Its agents, oldest first.
        agents: Vec<String>,
    },
}

impl TraceTarget {
    /// The agents whose events make the trace.
    pub fn agents(&self) -> Vec<String> {
        match self {
            Self::Agent { agent } => vec![agent.clone()],
            Self::Task { agents, .. } => agents.clone(),
        }
    }
}

/// What `target` names: an agent with a session row; else a task some agent worked on; else an
/// agent by that name (events may exist without a session row).
pub fn trace_target(target: &str, sessions: &[AgentSession]) -> TraceTarget {
    if sessions.iter().any(|s| s.agent_name.as_str() == target) {
        return TraceTarget::Agent {
            agent: target.to_owned(),
        };
    }
    let agents: Vec<String> = sessions
        .iter()
        .filter(|s| s.bead_id == target)
        .map(|s| s.agent_name.to_string())
        .collect();
    if agents.is_empty() {
        TraceTarget::Agent {
            agent: target.to_owned(),
        }
    } else {
        TraceTarget::Task {
            task: target.to_owned(),
            agents,
        }
    }
}

/// The events of a trace: the newest `limit` of `agents` in `window`.
pub fn trace_query(agents: Vec<String>, window: Window, limit: u32) -> EventQuery {
    EventQuery {
        agents,
        since: window.since,
        until: window.until,
        limit: Some(limit),
        ..EventQuery::default()
    }
}

/// The filters `legio feed` and `replay` share: agents (any of) and a run; both apply when
/// both are given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Any of these agents (empty: all).
    pub agents: Vec<String>,
    /// This run.
    pub run_id: Option<String>,
}

/// The initial batch of `legio feed`: the newest `limit` events of `scope` since `since`
/// (default: the last five minutes).
pub fn feed_query(
    scope: &Scope,
    since: Option<Timestamp>,
    limit: u32,
    now: Timestamp,
) -> EventQuery {
    EventQuery {
        agents: scope.agents.clone(),
        run_id: scope.run_id.clone(),
        since: Some(since.unwrap_or_else(|| now.plus_millis(-FEED_WINDOW_MS))),
        limit: Some(limit),
        ..EventQuery::default()
    }
}

/// What `legio replay` replays when no run or agent was named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ReplaySource {
    /// The run or agents given on the command line.
    Given,
    /// The current run (`.legio/current-run.txt`).
    CurrentRun {
        /// Its id.
        run_id: String,
    },
    /// No run: the last 24 hours (or the given window).
    Window,
}

/// The events of `legio replay`: the newest `limit` of `scope` in `window`. Without a run or
/// agents it replays the current run, and without one the last 24 hours.
pub fn replay_query(
    scope: &Scope,
    window: Window,
    limit: u32,
    current_run: Option<String>,
    now: Timestamp,
) -> (EventQuery, ReplaySource) {
    let mut q = EventQuery {
        agents: scope.agents.clone(),
        run_id: scope.run_id.clone(),
        since: window.since,
        until: window.until,
        limit: Some(limit),
        ..EventQuery::default()
    };
    if scope.run_id.is_some() || !scope.agents.is_empty() {
        return (q, ReplaySource::Given);
    }
    if let Some(run_id) = current_run {
        q.run_id = Some(run_id.clone());
        return (q, ReplaySource::CurrentRun { run_id });
    }
    if q.since.is_none() {
        q.since = Some(now.plus_millis(-REPLAY_WINDOW_MS));
    }
    (q, ReplaySource::Window)
}

/// The events of `legio errors`: the newest `limit` of `scope` in `window` at level `error`
/// (and `warn` when `warnings`), newest first.
pub fn errors(
    events: &dyn EventStore,
    scope: &Scope,
    window: Window,
    limit: u32,
    warnings: bool,
) -> StoreResult<Vec<StoredEvent>> {
    let query = |level| EventQuery {
        agents: scope.agents.clone(),
        run_id: scope.run_id.clone(),
        level: Some(level),
        since: window.since,
        until: window.until,
        limit: Some(limit),
        ..EventQuery::default()
    };
    let mut found = events.query(&query(EventLevel::Error))?;
    if warnings {
        found.extend(events.query(&query(EventLevel::Warn))?);
        found.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        found.truncate(limit as usize);
    }
    Ok(found)
}

/// A `--follow` in progress: continues from an event id, so every event recorded after it
/// started is printed exactly once, however many arrive at once and whatever time they carry.
///
/// Start it **before** reading the first batch, then hand it the batch with [`Follow::shown`]:
/// an event recorded between the two is then printed by the batch or by the first poll, never
/// by both and never by neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    scope: Scope,
    cursor: i64,
    shown: BTreeSet<i64>,
}

impl Follow {
    /// Starts following `scope` from the highest event id recorded so far.
    pub fn start(events: &dyn EventStore, scope: Scope) -> StoreResult<Self> {
        let newest = events.query(&EventQuery {
            limit: Some(1),
            ..EventQuery::default()
        })?;
        let mut cursor = newest.first().map_or(0, |e| e.id);
        // Rows recorded out of time order (hooks racing within a millisecond) have higher ids
        // than the newest by time: take them into the cursor too.
        let later = events.query(&EventQuery {
            after_id: Some(cursor),
            ..EventQuery::default()
        })?;
        cursor = later.iter().map(|e| e.id).fold(cursor, i64::max);
        Ok(Self::from_id(scope, cursor))
    }

    /// Follows `scope` from event id `cursor` (0: from the very first event).
    pub fn from_id(scope: Scope, cursor: i64) -> Self {
        Self {
            scope,
            cursor,
            shown: BTreeSet::new(),
        }
    }

    /// Notes events already printed (the first batch), so a poll does not print them again.
    pub fn shown(&mut self, events: &[StoredEvent]) {
        self.shown
            .extend(events.iter().map(|e| e.id).filter(|id| *id > self.cursor));
    }

    /// Every event of the scope recorded since the last poll, in time order. No limit: a burst
    /// is returned whole.
    pub fn poll(&mut self, events: &dyn EventStore) -> StoreResult<Vec<StoredEvent>> {
        let mut found = events.query(&EventQuery {
            agents: self.scope.agents.clone(),
            run_id: self.scope.run_id.clone(),
            after_id: Some(self.cursor),
            oldest_first: true,
            ..EventQuery::default()
        })?;
        self.cursor = found.iter().map(|e| e.id).fold(self.cursor, i64::max);
        found.retain(|e| !self.shown.remove(&e.id));
        // Ids at or below the cursor can never come back.
        let cursor = self.cursor;
        self.shown.retain(|id| *id > cursor);
        Ok(found)
    }
}

// ---------------------------------------------------------------------------------------------
// Inspecting one agent
// ---------------------------------------------------------------------------------------------

/// Tools whose `file_path` says which file an agent works on.
const FILE_TOOLS: [&str; 5] = ["Edit", "MultiEdit", "Write", "Read", "NotebookEdit"];
/// How many recent tool calls are searched for the current file.
const CURRENT_FILE_SCAN: u32 = 200;

/// One tool call, as `legio inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    /// The tool.
    pub tool_name: String,
    /// What it was called with, in one line.
    pub args: String,
    /// How long it took; `None` while it runs (or when its end was never recorded).
    pub duration_ms: Option<i64>,
    /// When it started.
    pub timestamp: Timestamp,
}

/// Everything `legio inspect` shows about one agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// The agent's session row.
    pub session: AgentSession,
    /// Milliseconds since its last recorded activity.
    pub time_since_last_activity: i64,
    /// The newest tool calls, newest first.
    pub recent_tool_calls: Vec<ToolCall>,
    /// The file its newest file tool call named.
    pub current_file: Option<String>,
    /// Its tool use, most used first.
    pub tool_stats: Vec<ToolStats>,
}

/// Inspects `agent`: `None` when it has no session row. `events` is `None` when there is no
/// event database yet. `limit` bounds the recent tool calls.
pub fn inspect(
    sessions: &dyn SessionStore,
    events: Option<&dyn EventStore>,
    agent: &AgentName,
    limit: u32,
    now: Timestamp,
) -> StoreResult<Option<Inspection>> {
    let Some(session) = sessions.get(agent)? else {
        return Ok(None);
    };
    let (recent, current_file, tool_stats) = match events {
        None => (Vec::new(), None, Vec::new()),
        Some(events) => {
            let starts = events.query(&EventQuery {
                agents: vec![agent.to_string()],
                event_type: Some(EventType::ToolStart),
                limit: Some(limit.max(CURRENT_FILE_SCAN)),
                ..EventQuery::default()
            })?;
            let current_file = starts.iter().find_map(file_of);
            let recent = starts.iter().take(limit as usize).map(tool_call).collect();
            (
                recent,
                current_file,
                events.tool_stats(Some(agent.as_str()), None)?,
            )
        }
    };
    Ok(Some(Inspection {
        time_since_last_activity: now.millis_since(session.last_activity).max(0),
        session,
        recent_tool_calls: recent,
        current_file,
        tool_stats,
    }))
}

fn json_object(text: Option<&str>) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(text?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The file a file tool call named.
fn file_of(e: &StoredEvent) -> Option<String> {
    let tool = e.tool_name.as_deref()?;
    if !FILE_TOOLS.contains(&tool) {
        return None;
    }
    let args = json_object(e.tool_args.as_deref())?;
    ["file_path", "notebook_path", "path"]
        .iter()
        .find_map(|k| args.get(*k).and_then(Value::as_str))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

fn tool_call(e: &StoredEvent) -> ToolCall {
    ToolCall {
        tool_name: e.tool_name.clone().unwrap_or_else(|| "unknown".into()),
        args: call_summary(e),
        duration_ms: e.tool_duration_ms,
        timestamp: e.created_at,
    }
}

/// The one-line summary the hook stored (`data.summary`), else `key=value` pairs of the stored
/// arguments (each value cut at 40 characters, the whole at 100).
fn call_summary(e: &StoredEvent) -> String {
    if let Some(summary) = json_object(e.data.as_deref())
        .as_ref()
        .and_then(|d| d.get("summary"))
        .and_then(Value::as_str)
    {
        return shorten(summary, 100);
    }
    let Some(args) = e.tool_args.as_deref() else {
        return String::new();
    };
    let Some(map) = json_object(Some(args)) else {
        return shorten(args, 100);
    };
    let pairs: Vec<String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{k}={}", shorten(&value_text(v), 40)))
        .collect();
    shorten(&pairs.join(", "), 100)
}

/// A JSON value as shown in a `key=value` pair: strings raw, anything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `text` cut to at most `max` characters, ending in `...` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut t: String = text.chars().take(max.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// Figures of one capability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityFigures {
    /// The capability.
    pub capability: String,
    /// Sessions recorded.
    pub sessions: usize,
    /// Mean duration of its completed sessions (0 when none).
    pub avg_duration_ms: i64,
}

/// What `legio metrics` reports over a set of recorded sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    /// Sessions recorded.
    pub total_sessions: usize,
    /// Sessions with an end.
    pub completed_sessions: usize,
    /// Mean duration of completed sessions (0 when none).
    pub avg_duration_ms: i64,
    /// Per capability, by name.
    pub by_capability: Vec<CapabilityFigures>,
    /// How many completed sessions' branches were merged by each tier, by tier name.
    pub merge_tiers: BTreeMap<String, usize>,
}

/// Summarises `sessions`.
pub fn metrics_summary(sessions: &[SessionMetrics]) -> MetricsSummary {
    let completed: Vec<&SessionMetrics> = sessions
        .iter()
        .filter(|s| s.completed_at.is_some())
        .collect();
    let mean = |rows: &[&SessionMetrics]| {
        if rows.is_empty() {
            0
        } else {
            rows.iter().map(|s| s.duration_ms).sum::<i64>() / rows.len() as i64
        }
    };
    let mut caps: BTreeMap<&str, (usize, Vec<&SessionMetrics>)> = BTreeMap::new();
    for s in sessions {
        let entry = caps.entry(s.capability.as_str()).or_default();
        entry.0 += 1;
        if s.completed_at.is_some() {
            entry.1.push(s);
        }
    }
    let mut merge_tiers = BTreeMap::new();
    for s in &completed {
        if let Some(tier) = s.merge_result {
            *merge_tiers.entry(tier.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    MetricsSummary {
        total_sessions: sessions.len(),
        completed_sessions: completed.len(),
        avg_duration_ms: mean(&completed),
        by_capability: caps
            .into_iter()
            .map(|(capability, (n, done))| CapabilityFigures {
                capability: capability.to_owned(),
                sessions: n,
                avg_duration_ms: mean(&done),
            })
            .collect(),
        merge_tiers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, tool: &str, args: Option<&str>, data: Option<&str>) -> StoredEvent {
        StoredEvent {
            id,
            run_id: None,
            agent_name: "b1".into(),
            session_id: None,
            event_type: "tool_start".into(),
            tool_name: Some(tool.into()),
            tool_args: args.map(str::to_owned),
            tool_duration_ms: None,
            level: EventLevel::Info,
            data: data.map(str::to_owned),
            created_at: Timestamp::from_millis(id),
        }
    }

    fn session(name: &str, task: &str) -> AgentSession {
        AgentSession {
            bead_id: task.into(),
            ..AgentSession::example(name, crate::domain::agent::Capability::Builder)
        }
    }

    #[test]
    fn the_current_file_comes_from_file_tools_only() {
        let bash = event(3, "Bash", Some(r#"{"file_path":"/x"}"#), None);
        let write = event(2, "Write", Some(r#"{"file_path":"/src/a.rs"}"#), None);
        let nb = event(
            1,
            "NotebookEdit",
            Some(r#"{"notebook_path":"/n.ipynb"}"#),
            None,
        );
        assert_eq!(file_of(&bash), None);
        assert_eq!(file_of(&write).as_deref(), Some("/src/a.rs"));
        assert_eq!(file_of(&nb).as_deref(), Some("/n.ipynb"));
        assert_eq!(file_of(&event(4, "Edit", Some("not json"), None)), None);
    }

    #[test]
    fn a_call_is_summarised_from_the_hook_summary_else_from_its_arguments() {
        let e = event(
            1,
            "Edit",
            Some(r#"{"file_path":"/a"}"#),
            Some(r#"{"summary":"edit: /a"}"#),
        );
        assert_eq!(call_summary(&e), "edit: /a");
        let long = "x".repeat(60);
        let e = event(
            1,
            "Grep",
            Some(&format!(r#"{{"pattern":"{long}","n":3,"z":null}}"#)),
            None,
        );
        assert_eq!(
            call_summary(&e),
            format!("n=3, pattern={}...", "x".repeat(37))
        );
        assert_eq!(
            call_summary(&event(1, "Bash", Some("raw text"), None)),
            "raw text"
        );
    }

    #[test]
    fn a_trace_target_is_an_agent_first_then_a_task() {
        let sessions = vec![session("builder-1", "proj-abc")];
        assert_eq!(
            trace_target("builder-1", &sessions),
            TraceTarget::Agent {
                agent: "builder-1".into()
            }
        );
        assert_eq!(
            trace_target("proj-abc", &sessions),
            TraceTarget::Task {
                task: "proj-abc".into(),
                agents: vec!["builder-1".into()]
            }
        );
        assert_eq!(
            trace_target("orchestrator", &sessions).agents(),
            vec!["orchestrator".to_owned()]
        );
    }

    #[test]
    fn replay_falls_back_to_the_current_run_then_to_the_last_day() {
        let now = Timestamp::from_millis(REPLAY_WINDOW_MS * 3);
        let none = Scope::default();
        let (q, src) = replay_query(&none, Window::default(), 10, Some("run-1".into()), now);
        assert_eq!(q.run_id.as_deref(), Some("run-1"));
        assert_eq!(q.since, None);
        assert!(matches!(src, ReplaySource::CurrentRun { .. }));
        let (q, src) = replay_query(&none, Window::default(), 10, None, now);
        assert_eq!(q.since, Some(Timestamp::from_millis(REPLAY_WINDOW_MS * 2)));
        assert_eq!(src, ReplaySource::Window);
        let given = Scope {
            agents: vec!["a".into()],
            run_id: None,
        };
        let (q, src) = replay_query(&given, Window::default(), 10, Some("run-1".into()), now);
        assert_eq!((q.run_id, q.since, src), (None, None, ReplaySource::Given));
    }

    #[test]
    fn shorten_counts_characters_not_bytes() {
        assert_eq!(shorten("ééééé", 5), "ééééé");
        assert_eq!(shorten("éééééé", 5), "éé...");
    }
}
