//! Claude Code settings files: legio's hook entries, and installing them into a
//! `.claude/settings.local.json` without disturbing anything else in it.
//!
//! Every hook calls `legio hook <Event>` by the absolute path of the legio binary (Claude Code
//! may run hooks with a PATH that lacks `~/.cargo/bin`). No agent name is baked in: an agent's
//! hooks read `$LEGIO_AGENT_NAME`; the settings at the project root add
//! `--default-agent orchestrator`, so the human's own session acts as the orchestrator while a
//! root-level agent (coordinator, monitor, ...) sharing the same file still acts as itself.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::hook::HookEvent;

/// A settings file that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not JSON.
    #[error("{path} is not valid JSON ({reason}); fix or move it, legio will not overwrite it")]
    Invalid {
        /// The file.
        path: String,
        /// The parse error.
        reason: String,
    },
    /// JSON, but not the expected shape.
    #[error("{path}: {reason}; fix it by hand, legio will not overwrite it")]
    Shape {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Quotes `text` for a POSIX shell (single quotes; embedded `'` as `'\''`).
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The shell command of one legio hook.
pub fn hook_command(legio_bin: &Path, event: HookEvent, default_agent: Option<&str>) -> String {
    let mut cmd = format!(
        "{} hook {}",
        shell_quote(&legio_bin.display().to_string()),
        event.as_str()
    );
    if let Some(agent) = default_agent {
        cmd.push_str(" --default-agent ");
        cmd.push_str(&shell_quote(agent));
    }
    cmd
}

/// legio's `hooks` object: one entry per event, calling `legio hook <Event>`.
pub fn legio_hooks(legio_bin: &Path, default_agent: Option<&str>) -> Value {
    let mut hooks = Map::new();
    for event in HookEvent::ALL {
        hooks.insert(
            event.as_str().to_owned(),
            json!([{
                "matcher": "",
                "hooks": [{ "type": "command", "command": hook_command(legio_bin, event, default_agent) }]
            }]),
        );
    }
    Value::Object(hooks)
}

/// Whether a hook command is legio's (ours, or legio 0.1.0's shell snippets).
pub fn is_legio_command(command: &str) -> bool {
    let ours = command.contains(" hook ")
        && command
            .split_whitespace()
            .next()
            .is_some_and(|bin| bin.trim_matches('\'').ends_with("legio"));
    ours || command.contains("LEGIO_AGENT_NAME") || command.contains("legio ")
}

fn parse(path: &str, text: &str) -> Result<Map<String, Value>, SettingsError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SettingsError::Shape {
            path: path.to_owned(),
            reason: "the top level is not a JSON object".into(),
        }),
        Err(e) => Err(SettingsError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn render(map: &Map<String, Value>) -> String {
    let mut text = serde_json::to_string_pretty(map).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// Removes legio's hook commands from a `hooks` object, dropping emptied groups and events.
fn strip_legio(hooks: &mut Map<String, Value>) {
    for groups in hooks.values_mut() {
        let Some(list) = groups.as_array_mut() else {
            continue;
        };
        for group in list.iter_mut() {
            if let Some(inner) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                inner.retain(|h| {
                    !h.get("command")
                        .and_then(Value::as_str)
                        .is_some_and(is_legio_command)
                });
            }
        }
        list.retain(|group| {
            group
                .get("hooks")
                .and_then(Value::as_array)
                .is_none_or(|inner| !inner.is_empty())
        });
    }
    hooks.retain(|_, groups| groups.as_array().is_none_or(|l| !l.is_empty()));
}

fn hooks_of<'m>(
    path: &str,
    map: &'m mut Map<String, Value>,
) -> Result<&'m mut Map<String, Value>, SettingsError> {
    map.entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| SettingsError::Shape {
            path: path.to_owned(),
            reason: "\"hooks\" is not a JSON object".into(),
        })
}

/// Adds legio's hooks to the settings text `existing` (empty when the file is new), replacing
/// earlier legio entries and keeping every other key and hook.
pub fn install(path: &str, existing: &str, legio: &Value) -> Result<String, SettingsError> {
    let mut map = parse(path, existing)?;
    let hooks = hooks_of(path, &mut map)?;
    strip_legio(hooks);
    if let Some(ours) = legio.as_object() {
        for (event, groups) in ours {
            let slot = hooks
                .entry(event.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(list) = slot.as_array_mut() else {
                return Err(SettingsError::Shape {
                    path: path.to_owned(),
                    reason: format!("\"hooks.{event}\" is not a JSON array"),
                });
            };
            list.extend(groups.as_array().cloned().unwrap_or_default());
        }
    }
    Ok(render(&map))
}

/// Removes legio's hooks from the settings text. Returns `None` when nothing else is left (the
/// file can be deleted).
pub fn uninstall(path: &str, existing: &str) -> Result<Option<String>, SettingsError> {
    let mut map = parse(path, existing)?;
    if map.contains_key("hooks") {
        let hooks = hooks_of(path, &mut map)?;
        strip_legio(hooks);
        if hooks.is_empty() {
            map.remove("hooks");
        }
    }
    Ok((!map.is_empty()).then(|| render(&map)))
}

/// The events for which the settings text has a legio hook.
pub fn installed_events(existing: &str) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(existing) else {
        return Vec::new();
    };
    let Some(Value::Object(hooks)) = map.get("hooks") else {
        return Vec::new();
    };
    hooks
        .iter()
        .filter(|(_, groups)| {
            groups.as_array().is_some_and(|l| {
                l.iter().any(|g| {
                    g.get("hooks")
                        .and_then(Value::as_array)
                        .is_some_and(|inner| {
                            inner.iter().any(|h| {
                                h.get("command")
                                    .and_then(Value::as_str)
                                    .is_some_and(is_legio_command)
                            })
                        })
                })
            })
        })
        .map(|(event, _)| event.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: &str = "/home/dev/.cargo/bin/legio";

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("/usr/bin/legio"), "/usr/bin/legio");
        assert_eq!(shell_quote("/My Tools/legio"), "'/My Tools/legio'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn agent_and_root_hooks_call_legio_by_absolute_path() {
        let agent = legio_hooks(Path::new(BIN), None);
        assert_eq!(
            agent["PostToolUse"][0]["hooks"][0]["command"],
            "/home/dev/.cargo/bin/legio hook PostToolUse"
        );
        assert_eq!(agent.as_object().unwrap().len(), 8);
        let root = legio_hooks(Path::new("/opt/my tools/legio"), Some("orchestrator"));
        assert_eq!(
            root["Stop"][0]["hooks"][0]["command"],
            "'/opt/my tools/legio' hook Stop --default-agent orchestrator"
        );
    }

    #[test]
    fn install_keeps_the_users_settings_and_uninstall_restores_them() {
        let user = r#"{
  "permissions": {"allow": ["Bash(npm test)"]},
  "env": {"FOO": "1"},
  "hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "prettier --write"}]}]}
}"#;
        let legio = legio_hooks(Path::new(BIN), Some("orchestrator"));
        let installed = install("s.json", user, &legio).unwrap();
        let v: Value = serde_json::from_str(&installed).unwrap();
        assert_eq!(v["permissions"]["allow"][0], "Bash(npm test)");
        assert_eq!(v["env"]["FOO"], "1");
        let post = v["hooks"]["PostToolUse"].as_array().unwrap();
        assert_eq!(post.len(), 2, "user hook kept, legio hook added");
        assert_eq!(post[0]["hooks"][0]["command"], "prettier --write");
        assert_eq!(installed_events(&installed).len(), 8);
        // Installing twice does not duplicate.
        let twice = install("s.json", &installed, &legio).unwrap();
        assert_eq!(twice, installed);
        let removed = uninstall("s.json", &installed).unwrap().unwrap();
        let back: Value = serde_json::from_str(&removed).unwrap();
        let original: Value = serde_json::from_str(user).unwrap();
        assert_eq!(back, original);
        assert!(installed_events(&removed).is_empty());
    }

    #[test]
    fn uninstall_of_a_legio_only_file_empties_it() {
        let legio = legio_hooks(Path::new(BIN), None);
        let text = install("s.json", "", &legio).unwrap();
        assert_eq!(uninstall("s.json", &text).unwrap(), None);
    }

    #[test]
    fn legacy_legio_entries_are_replaced() {
        let old = r#"{"hooks": {"Stop": [{"matcher": "", "hooks": [
            {"type": "command", "command": "[ -z \"$LEGIO_AGENT_NAME\" ] && exit 0; legio log session-end --agent b1 --stdin"},
            {"type": "command", "command": "mulch learn"}]}]}}"#;
        let text = install("s.json", old, &legio_hooks(Path::new(BIN), None)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let stop = v["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop[0]["hooks"].as_array().unwrap().len(), 1);
        assert_eq!(stop[0]["hooks"][0]["command"], "mulch learn");
        assert_eq!(stop[1]["hooks"][0]["command"], format!("{BIN} hook Stop"));
    }

    #[test]
    fn broken_files_are_refused_not_overwritten() {
        let legio = legio_hooks(Path::new(BIN), None);
        let err = install("s.json", "{oops", &legio).unwrap_err();
        assert!(err.to_string().contains("will not overwrite"), "{err}");
        assert!(install("s.json", "[1]", &legio).is_err());
        assert!(install("s.json", r#"{"hooks": 3}"#, &legio).is_err());
    }
}
