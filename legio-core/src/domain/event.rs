//! Observability events (`events.db`, table `events`).

use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::time::Timestamp;

string_enum! {
    /// What happened.
    pub enum EventType ("event type") {
        /// A tool call started (PreToolUse).
        ToolStart => "tool_start",
        /// A tool call ended (PostToolUse / PostToolUseFailure).
        ToolEnd => "tool_end",
        /// A Claude Code session started (SessionStart).
        SessionStart => "session_start",
        /// A Claude Code session ended (SessionEnd).
        SessionEnd => "session_end",
        /// A turn ended (Stop).
        TurnEnd => "turn_end",
        /// The user (or legio) submitted a prompt (UserPromptSubmit).
        PromptSubmit => "prompt_submit",
        /// Context is about to be compacted (PreCompact).
        Compact => "compact",
        /// Mail was sent.
        MailSent => "mail_sent",
        /// Mail was delivered into an agent's context.
        MailReceived => "mail_received",
        /// An agent was spawned.
        Spawn => "spawn",
        /// A guard denied a tool call.
        GuardDeny => "guard_deny",
        /// An agent changed state.
        StateChange => "state_change",
        /// A merge finished (data has the tier and duration).
        Merge => "merge",
        /// Something failed.
        Error => "error",
        /// Anything else (watchdog actions, nudges); `data.type` says what.
        Custom => "custom",
    }
}

string_enum! {
    /// Severity.
    pub enum EventLevel ("level") {
        /// Verbose detail.
        Debug => "debug",
        /// Normal.
        Info => "info",
        /// Worth a look.
        Warn => "warn",
        /// Something failed.
        Error => "error",
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// Monotonic row id.
    pub id: i64,
    /// The run the agent belonged to.
    pub run_id: Option<String>,
    /// The agent (or `orchestrator`, `watchdog`, ...).
    pub agent_name: String,
    /// The Claude Code session id, when known.
    pub session_id: Option<String>,
    /// What happened. Stored as text: rows written by other tools may hold other values.
    pub event_type: String,
    /// The tool, for tool events.
    pub tool_name: Option<String>,
    /// Filtered, secret-redacted tool arguments (JSON text).
    pub tool_args: Option<String>,
    /// The tool call's duration, filled in when it ends.
    pub tool_duration_ms: Option<i64>,
    /// Severity.
    pub level: EventLevel,
    /// Extra data (JSON text).
    pub data: Option<String>,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The run.
    pub run_id: Option<String>,
    /// The agent.
    pub agent_name: String,
    /// The Claude Code session.
    pub session_id: Option<String>,
    /// What happened.
    pub event_type: EventType,
    /// The tool.
    pub tool_name: Option<String>,
    /// Claude Code's id of the tool call, used to pair start and end.
    pub tool_use_id: Option<String>,
    /// Filtered tool arguments (JSON text).
    pub tool_args: Option<String>,
    /// A known duration.
    pub tool_duration_ms: Option<i64>,
    /// Severity.
    pub level: EventLevel,
    /// Extra data (JSON text).
    pub data: Option<String>,
    /// When it happened.
    pub created_at: Timestamp,
}

impl NewEvent {
    /// An info-level event of `event_type` for `agent` at `at`, with nothing else set.
    pub fn new(agent: impl Into<String>, event_type: EventType, at: Timestamp) -> Self {
        Self {
            run_id: None,
            agent_name: agent.into(),
            session_id: None,
            event_type,
            tool_name: None,
            tool_use_id: None,
            tool_args: None,
            tool_duration_ms: None,
            level: EventLevel::Info,
            data: None,
            created_at: at,
        }
    }
}

/// Per-tool usage figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolStats {
    /// The tool.
    pub tool_name: String,
    /// Calls started.
    pub count: u64,
    /// Mean duration over calls with a known duration (0 when none).
    pub avg_duration_ms: f64,
    /// Longest known duration (0 when none).
    pub max_duration_ms: i64,
}
