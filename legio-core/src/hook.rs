//! The Claude Code hook protocol: the payload Claude Code writes on a hook's stdin, and the
//! output that reaches the model.
//!
//! Facts relied on (Claude Code 2.1.x, see `spec/4-claude-code-interface.md`): every payload is
//! one JSON object with `session_id`, `transcript_path`, `cwd`, `hook_event_name` and
//! event-specific fields, plus fields we do not know (accepted and ignored). A PreToolUse deny is
//! `hookSpecificOutput.permissionDecision = "deny"` with exit 0. Context for the model goes in
//! `hookSpecificOutput.additionalContext`; plain stdout of PostToolUse is **not** shown to the
//! model. A Stop hook keeps the agent going with `{"decision": "block", "reason": ...}`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The hook events legio handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// A session starts or resumes.
    SessionStart,
    /// A prompt is about to be processed.
    UserPromptSubmit,
    /// A tool is about to run; may be denied.
    PreToolUse,
    /// A tool succeeded.
    PostToolUse,
    /// A tool failed.
    PostToolUseFailure,
    /// A turn ended (not the session).
    Stop,
    /// The session ended.
    SessionEnd,
    /// Context is about to be compacted.
    PreCompact,
}

impl HookEvent {
    /// Every event, in the order they are documented.
    pub const ALL: [HookEvent; 8] = [
        Self::SessionStart,
        Self::UserPromptSubmit,
        Self::PreToolUse,
        Self::PostToolUse,
        Self::PostToolUseFailure,
        Self::Stop,
        Self::SessionEnd,
        Self::PreCompact,
    ];

    /// The name Claude Code uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SessionStart => "SessionStart",
            Self::UserPromptSubmit => "UserPromptSubmit",
            Self::PreToolUse => "PreToolUse",
            Self::PostToolUse => "PostToolUse",
            Self::PostToolUseFailure => "PostToolUseFailure",
            Self::Stop => "Stop",
            Self::SessionEnd => "SessionEnd",
            Self::PreCompact => "PreCompact",
        }
    }

    /// Whether `additionalContext` output of this event reaches the model.
    pub const fn accepts_context(self) -> bool {
        matches!(
            self,
            Self::SessionStart
                | Self::UserPromptSubmit
                | Self::PostToolUse
                | Self::PostToolUseFailure
        )
    }
}

impl fmt::Display for HookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name legio does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook event {0:?}; expected one of: SessionStart, UserPromptSubmit, PreToolUse, PostToolUse, PostToolUseFailure, Stop, SessionEnd, PreCompact"
)]
pub struct UnknownHookEvent(pub String);

impl FromStr for HookEvent {
    type Err = UnknownHookEvent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownHookEvent(s.to_owned()))
    }
}

/// The fields legio reads from a hook payload. Everything is optional: a payload from an older
/// or newer Claude Code still yields what it has.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HookPayload {
    /// Claude Code's session id.
    pub session_id: Option<String>,
    /// Where Claude Code writes the transcript.
    pub transcript_path: Option<String>,
    /// The session's working directory.
    pub cwd: Option<String>,
    /// The event name as Claude Code sent it.
    pub hook_event_name: Option<String>,
    /// Tool events: the tool.
    pub tool_name: Option<String>,
    /// Tool events: its input.
    pub tool_input: Option<Value>,
    /// Tool events: Claude Code's id of the call (pairs Pre and Post).
    pub tool_use_id: Option<String>,
    /// PostToolUse: the result.
    pub tool_response: Option<Value>,
    /// PostToolUseFailure: the error.
    pub error: Option<Value>,
    /// PostToolUse: how long the tool ran, when reported.
    pub duration_ms: Option<i64>,
    /// UserPromptSubmit: the prompt.
    pub prompt: Option<String>,
    /// SessionStart: startup, resume, clear, compact; UserPromptSubmit: origin.
    pub source: Option<String>,
    /// SessionEnd: why.
    pub reason: Option<String>,
    /// PreCompact: manual or auto.
    pub trigger: Option<String>,
    /// Stop: true when a Stop hook already kept the agent going once.
    pub stop_hook_active: Option<bool>,
    /// Stop: the last assistant text.
    pub last_assistant_message: Option<String>,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Nothing on stdin.
    #[error("the hook payload on stdin is empty")]
    Empty,
    /// Not JSON, or not an object.
    #[error("the hook payload is not a JSON object: {0}")]
    Invalid(String),
}

impl HookPayload {
    /// Parses the JSON object Claude Code writes on stdin.
    pub fn parse(input: &str) -> Result<Self, PayloadError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PayloadError::Empty);
        }
        let value: Value =
            serde_json::from_str(trimmed).map_err(|e| PayloadError::Invalid(e.to_string()))?;
        if !value.is_object() {
            return Err(PayloadError::Invalid("expected an object".into()));
        }
        Self::deserialize(value).map_err(|e| PayloadError::Invalid(e.to_string()))
    }

    /// The tool input, or an empty object.
    pub fn tool_input_or_empty(&self) -> Value {
        self.tool_input
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// What a hook prints on stdout (always with exit status 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutput {
    /// Print nothing.
    Silent,
    /// Deny a PreToolUse call; the reason goes back to the model.
    Deny {
        /// Why, and what to do instead.
        reason: String,
    },
    /// Add text to the model's context.
    Context {
        /// The event that produced it.
        event: HookEvent,
        /// The text.
        text: String,
    },
    /// Keep the agent going after a Stop, with `reason` as its next instruction.
    ContinueTurn {
        /// What the agent should do (e.g. read the mail that arrived).
        reason: String,
    },
}

impl HookOutput {
    /// The text to print, if any (one line of JSON, newline-terminated).
    pub fn render(&self) -> Option<String> {
        let value = match self {
            Self::Silent => return None,
            Self::Deny { reason } => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                }
            }),
            Self::Context { event, text } => json!({
                "hookSpecificOutput": {
                    "hookEventName": event.as_str(),
                    "additionalContext": text,
                }
            }),
            Self::ContinueTurn { reason } => json!({
                "decision": "block",
                "reason": reason,
            }),
        };
        Some(format!("{value}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRE: &str = include_str!("../tests/fixtures/hooks/hook-PreToolUse-Bash.json");
    const POST: &str = include_str!("../tests/fixtures/hooks/hook-PostToolUse-Bash.json");
    const STOP: &str = include_str!("../tests/fixtures/hooks/hook-Stop.json");

    #[test]
    fn parses_real_payloads_and_ignores_unknown_fields() {
        let p = HookPayload::parse(PRE).unwrap();
        assert_eq!(p.hook_event_name.as_deref(), Some("PreToolUse"));
        assert_eq!(p.tool_name.as_deref(), Some("Bash"));
        assert_eq!(p.tool_use_id.as_deref(), Some("toolu_01"));
        assert_eq!(
            p.tool_input.unwrap()["command"],
            Value::from("cargo test -p legio-core")
        );
        let p = HookPayload::parse(POST).unwrap();
        assert_eq!(p.duration_ms, Some(77));
        assert!(p.tool_response.is_some());
        let p = HookPayload::parse(STOP).unwrap();
        assert_eq!(p.stop_hook_active, Some(false));
        assert_eq!(p.last_assistant_message.as_deref(), Some("done"));
    }

    #[test]
    fn rejects_what_is_not_a_payload() {
        assert!(matches!(
            HookPayload::parse("  \n"),
            Err(PayloadError::Empty)
        ));
        assert!(matches!(
            HookPayload::parse("{not json"),
            Err(PayloadError::Invalid(_))
        ));
        assert!(matches!(
            HookPayload::parse("[1,2]"),
            Err(PayloadError::Invalid(_))
        ));
        // Wrong types for known fields are an error too: legio must not guess.
        assert!(HookPayload::parse(r#"{"tool_name": 5}"#).is_err());
    }

    #[test]
    fn event_names_parse_case_insensitively() {
        assert_eq!(
            "posttooluse".parse::<HookEvent>().unwrap(),
            HookEvent::PostToolUse
        );
        let err = "Notification".parse::<HookEvent>().unwrap_err();
        assert!(err.to_string().contains("PreCompact"));
    }

    #[test]
    fn outputs_follow_the_current_protocol() {
        insta::assert_snapshot!(
            HookOutput::Deny { reason: "no \"push\"".into() }.render().unwrap(),
            @r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"no \"push\""}}"#
        );
        insta::assert_snapshot!(
            HookOutput::Context { event: HookEvent::PostToolUse, text: "mail".into() }.render().unwrap(),
            @r#"{"hookSpecificOutput":{"additionalContext":"mail","hookEventName":"PostToolUse"}}"#
        );
        insta::assert_snapshot!(
            HookOutput::ContinueTurn { reason: "read mail".into() }.render().unwrap(),
            @r#"{"decision":"block","reason":"read mail"}"#
        );
        assert_eq!(HookOutput::Silent.render(), None);
    }
}
