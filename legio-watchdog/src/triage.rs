//! Tier 1 triage: ask the agent runtime, in one one-shot prompt, what to do with a stalled
//! agent, and read a strict structured verdict.
//!
//! The prompt shows the agent's recent events and the end of its terminal and asks for exactly
//! one JSON object `{"verdict": "retry" | "extend" | "terminate", "reason": "..."}`. Anything
//! else is a bad answer, never guessed at (legio 0.1.0 matched substrings, so "unrecoverable"
//! read as "retry"). When the runtime is missing, fails, times out or answers badly, the
//! verdict falls back to `extend`: the ladder has then already passed its triage stage, so the
//! fallback delays termination once and never repeats.

use std::fmt::{self, Write as _};
use std::path::Path;
use std::time::Duration;

use legio_core::domain::agent::AgentSession;
use legio_core::domain::event::StoredEvent;
use legio_core::ports::{AgentRuntime, OneShot, RuntimeError};
use legio_core::time::{Timestamp, format_duration_ms};
use serde::Deserialize;

/// Events shown to the triage.
pub const EVENTS_SHOWN: u32 = 20;
/// Terminal lines shown to the triage.
pub const SCREEN_LINES: usize = 40;
/// The longest reason kept from an answer.
const MAX_REASON_CHARS: usize = 500;

/// What triage says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriageVerdict {
    /// Stuck but recoverable: end it and restart it from its checkpoint.
    Retry,
    /// Busy with legitimate long work: give it more time.
    Extend,
    /// Failed beyond what a restart fixes: end it, do not restart it.
    Terminate,
}

impl TriageVerdict {
    /// `retry`, `extend` or `terminate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Extend => "extend",
            Self::Terminate => "terminate",
        }
    }
}

/// A triage result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    /// What to do.
    pub verdict: TriageVerdict,
    /// Why (the model's reason, or why the fallback was used).
    pub reason: String,
    /// Whether this is the fallback because triage itself failed.
    pub fallback: bool,
}

impl fmt::Display for Triage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fallback {
            write!(f, "{} (fallback: {})", self.verdict.as_str(), self.reason)
        } else {
            write!(f, "{}: {}", self.verdict.as_str(), self.reason)
        }
    }
}

/// Why triage produced no verdict.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// No runtime was configured for triage.
    #[error("no agent runtime is available for triage")]
    NoRuntime,
    /// The runtime failed or timed out.
    #[error("the triage call failed: {0}")]
    Runtime(#[from] RuntimeError),
    /// The answer was not exactly one verdict object.
    #[error("the triage answer is not a verdict ({problem}); it began: {excerpt:?}")]
    BadAnswer {
        /// What is wrong with it.
        problem: String,
        /// Its beginning.
        excerpt: String,
    },
}

/// What the triage is shown about a stalled agent.
#[derive(Debug, Clone, Copy)]
pub struct TriageInput<'a> {
    /// The agent's row.
    pub session: &'a AgentSession,
    /// Now.
    pub now: Timestamp,
    /// Its recent events, newest first (as the event store returns them).
    pub events: &'a [StoredEvent],
    /// The end of its terminal, or why it could not be read.
    pub screen: Result<&'a str, &'a str>,
}

/// The one-shot prompt for `input`.
pub fn prompt(input: &TriageInput<'_>) -> String {
    let s = input.session;
    let inactive = format_duration_ms(input.now.millis_since(s.last_activity).max(0));
    let mut p = String::with_capacity(4096);
    p.push_str(
        "You are triaging a coding agent that has stopped making progress. Decide what its \
         watchdog should do.\n\n",
    );
    let _ = writeln!(
        p,
        "Agent: {} (role {}), task {}, branch {}",
        s.agent_name,
        s.capability,
        if s.bead_id.is_empty() {
            "none"
        } else {
            &s.bead_id
        },
        s.branch_name
    );
    let _ = writeln!(
        p,
        "State: {}; last activity {} ({inactive} ago)\n",
        s.state, s.last_activity
    );
    p.push_str("Its recent events, oldest first:\n");
    if input.events.is_empty() {
        p.push_str("(none recorded)\n");
    }
    for e in input.events.iter().rev() {
        let _ = write!(p, "{} {} {}", e.created_at, e.level, e.event_type);
        if let Some(tool) = &e.tool_name {
            let _ = write!(p, " {tool}");
        }
        if let Some(data) = &e.data {
            let _ = write!(p, " {}", truncate(data, 200));
        }
        p.push('\n');
    }
    let _ = writeln!(p, "\nThe end of its terminal (last {SCREEN_LINES} lines):");
    match input.screen {
        Ok(screen) => {
            p.push_str("<<<<<<<< terminal\n");
            p.push_str(screen.trim_end());
            p.push_str("\n>>>>>>>> end of terminal\n");
        }
        Err(why) => {
            let _ = writeln!(p, "(unavailable: {why})");
        }
    }
    p.push_str(
        "\nAnswer with exactly one JSON object and nothing else:\n\
         {\"verdict\": \"retry\" | \"extend\" | \"terminate\", \"reason\": \"<one sentence>\"}\n\
         - \"extend\": it is doing legitimate long-running work (a long build or test run); give it more time.\n\
         - \"retry\": it is stuck (a hung command, a loop, a question nobody will answer) but its task can continue from its checkpoint in a fresh session.\n\
         - \"terminate\": it failed in a way a restart will not fix (it gave up, the task cannot be done as specified).\n",
    );
    p
}

/// Reads an answer: exactly one JSON object with a known `verdict` and a non-empty `reason`,
/// optionally inside one Markdown code fence, and nothing else.
pub fn parse(answer: &str) -> Result<(TriageVerdict, String), TriageError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Answer {
        verdict: TriageVerdict,
        reason: String,
    }
    let bad = |problem: String| TriageError::BadAnswer {
        problem,
        excerpt: truncate(answer.trim(), 120),
    };
    let text = strip_fence(answer.trim());
    let parsed: Answer = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let reason = parsed.reason.trim();
    if reason.is_empty() {
        return Err(bad("the reason is empty".into()));
    }
    Ok((parsed.verdict, truncate(reason, MAX_REASON_CHARS)))
}

fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    match rest.strip_suffix("```") {
        Some(body) if rest.starts_with('\n') => body.trim(),
        _ => text,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Asks `runtime` and reads its verdict.
pub fn ask(
    runtime: Option<&dyn AgentRuntime>,
    prompt: String,
    cwd: &Path,
    timeout: Duration,
) -> Result<(TriageVerdict, String), TriageError> {
    let runtime = runtime.ok_or(TriageError::NoRuntime)?;
    let answer = runtime.one_shot(&OneShot {
        prompt,
        cwd: cwd.to_path_buf(),
        model: None,
        timeout,
    })?;
    parse(&answer)
}

/// Runs triage and never fails: a failure becomes the `extend` fallback, saying why.
pub fn triage(
    runtime: Option<&dyn AgentRuntime>,
    input: &TriageInput<'_>,
    cwd: &Path,
    timeout: Duration,
) -> Triage {
    match ask(runtime, prompt(input), cwd, timeout) {
        Ok((verdict, reason)) => Triage {
            verdict,
            reason,
            fallback: false,
        },
        Err(e) => Triage {
            verdict: TriageVerdict::Extend,
            reason: format!("{e}; giving it more time once"),
            fallback: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use legio_core::{AgentState, Capability};

    use super::*;
    use crate::fakes::{MIN, at, session};

    #[test]
    fn reads_exactly_one_verdict_object() {
        let ok = [
            (
                r#"{"verdict":"retry","reason":"hung on a prompt"}"#,
                TriageVerdict::Retry,
            ),
            (
                "  {\"verdict\": \"extend\", \"reason\": \"long cargo build\"}\n",
                TriageVerdict::Extend,
            ),
            (
                "```json\n{\"verdict\":\"terminate\",\"reason\":\"gave up\"}\n```",
                TriageVerdict::Terminate,
            ),
            (
                "```\n{\"verdict\":\"retry\",\"reason\":\"loop\"}\n```",
                TriageVerdict::Retry,
            ),
        ];
        for (answer, want) in ok {
            let (verdict, reason) = parse(answer).unwrap_or_else(|e| panic!("{answer}: {e}"));
            assert_eq!(verdict, want, "{answer}");
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn rejects_anything_that_is_not_exactly_a_verdict() {
        let bad = [
            "",
            "retry",
            "unrecoverable",
            "The agent is unrecoverable, terminate it.",
            r#"Sure! {"verdict":"retry","reason":"x"}"#,
            r#"{"verdict":"retry","reason":"x"} thanks"#,
            r#"{"verdict":"Retry","reason":"x"}"#,
            r#"{"verdict":"restart","reason":"x"}"#,
            r#"{"verdict":"retry"}"#,
            r#"{"verdict":"retry","reason":"   "}"#,
            r#"{"verdict":"retry","reason":"x","confidence":0.9}"#,
            r#"[{"verdict":"retry","reason":"x"}]"#,
            "```json{\"verdict\":\"retry\",\"reason\":\"x\"}```",
        ];
        for answer in bad {
            let err = parse(answer).expect_err(answer);
            assert!(err.to_string().contains("not a verdict"), "{answer}: {err}");
        }
    }

    #[test]
    fn long_reasons_are_cut() {
        let answer = format!(r#"{{"verdict":"extend","reason":"{}"}}"#, "é".repeat(900));
        let (_, reason) = parse(&answer).unwrap();
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn the_prompt_shows_the_agent_its_events_oldest_first_and_its_terminal() {
        let s = session("builder-1", Capability::Builder, AgentState::Working);
        let event = |id: i64, ty: &str, tool: Option<&str>| StoredEvent {
            id,
            run_id: None,
            agent_name: "builder-1".into(),
            session_id: None,
            event_type: ty.into(),
            tool_name: tool.map(Into::into),
            tool_args: None,
            tool_duration_ms: None,
            level: legio_core::domain::event::EventLevel::Info,
            data: Some(r#"{"summary":"cargo test"}"#.into()),
            created_at: at(id * 1000),
        };
        let events = [
            event(2, "tool_start", Some("Bash")),
            event(1, "turn_end", None),
        ];
        let input = TriageInput {
            session: &s,
            now: at(5 * MIN),
            events: &events,
            screen: Ok("running 3 tests\n"),
        };
        let p = prompt(&input);
        assert!(
            p.contains("Agent: builder-1 (role builder), task t-1"),
            "{p}"
        );
        assert!(p.contains("(5m 0s ago)"), "{p}");
        let first = p.find("turn_end").unwrap();
        let second = p.find("tool_start Bash").unwrap();
        assert!(first < second, "events must be oldest first:\n{p}");
        assert!(
            p.contains("<<<<<<<< terminal\nrunning 3 tests\n>>>>>>>>"),
            "{p}"
        );
        for word in [
            "\"retry\"",
            "\"extend\"",
            "\"terminate\"",
            "exactly one JSON object",
        ] {
            assert!(p.contains(word), "{word} missing:\n{p}");
        }
        let unreadable = TriageInput {
            screen: Err("no such session"),
            events: &[],
            ..input
        };
        let p = prompt(&unreadable);
        assert!(p.contains("(unavailable: no such session)"), "{p}");
        assert!(p.contains("(none recorded)"), "{p}");
    }
}
