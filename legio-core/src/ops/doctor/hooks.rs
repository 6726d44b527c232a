//! `hooks`: whether Claude Code calls legio. The project root's `.claude/settings.local.json`
//! (the human's own session and the root-level agents) should hook every event legio handles,
//! and every active agent working in a worktree needs its own settings there. A hook whose
//! legio binary no longer exists fails on every tool call, silently from the model's side.

use std::path::Path;

use serde_json::Value;

use crate::hook::HookEvent;
use crate::ops::settings::{installed_events, is_legio_command};

use super::{Category, Check, Doctor, count};

const CAT: Category = Category::Hooks;

/// `<dir>/.claude/settings.local.json`.
pub fn settings_file(dir: &Path) -> std::path::PathBuf {
    dir.join(".claude").join("settings.local.json")
}

pub(super) fn check(d: &Doctor<'_>, out: &mut Vec<Check>) {
    out.push(root(d));
    if let Some(store) = d.sessions {
        out.push(agents(d, store));
    }
}

fn root(d: &Doctor<'_>) -> Check {
    let path = settings_file(d.layout.root());
    let rel = d.rel(&path);
    let not_installed = || {
        Check::warn(
            CAT,
            "root-hooks",
            format!("legio's hooks are not installed in {rel}"),
        )
        .details([
            "your own Claude Code session gets no mail injection and no guard; run `legio hooks install`",
        ])
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return not_installed(),
        Err(e) => return Check::fail(CAT, "root-hooks", format!("cannot read {rel}: {e}")),
    };
    if let Err(e) = serde_json::from_str::<Value>(&text) {
        return Check::fail(
            CAT,
            "root-hooks",
            format!("{rel} is not valid JSON ({e}): Claude Code ignores it"),
        );
    }
    let events = installed_events(&text);
    if events.is_empty() {
        return not_installed();
    }
    let missing_bins = missing_binaries(&text);
    if !missing_bins.is_empty() {
        return Check::fail(
            CAT,
            "root-hooks",
            format!("{rel} calls a legio binary that does not exist: every hook fails"),
        )
        .details(missing_bins)
        .details(["reinstall them with `legio hooks install`"]);
    }
    let missing: Vec<&str> = HookEvent::ALL
        .iter()
        .map(|e| e.as_str())
        .filter(|e| !events.iter().any(|x| x == e))
        .collect();
    if missing.is_empty() {
        Check::pass(
            CAT,
            "root-hooks",
            format!("{rel} hooks all {} events", HookEvent::ALL.len()),
        )
    } else {
        Check::warn(
            CAT,
            "root-hooks",
            format!(
                "{rel} hooks {} of {} events; missing: {}",
                HookEvent::ALL.len() - missing.len(),
                HookEvent::ALL.len(),
                missing.join(", ")
            ),
        )
        .details(["reinstall them with `legio hooks install`"])
    }
}

fn agents(d: &Doctor<'_>, store: &dyn crate::ports::SessionStore) -> Check {
    let rows = match store.list_active() {
        Ok(rows) => rows,
        Err(e) => return Check::warn(CAT, "agent-hooks", format!("cannot read the agents: {e}")),
    };
    let in_worktrees: Vec<_> = rows
        .iter()
        .filter(|r| !r.capability.works_at_root())
        .collect();
    let mut problems = Vec::new();
    for r in &in_worktrees {
        let path = settings_file(Path::new(&r.worktree_path));
        match std::fs::read_to_string(&path) {
            Ok(text) if !installed_events(&text).is_empty() => {
                problems.extend(
                    missing_binaries(&text)
                        .into_iter()
                        .map(|m| format!("{}: {m}", r.agent_name)),
                );
            }
            Ok(_) => problems.push(format!(
                "{}: {} has no legio hooks",
                r.agent_name,
                d.rel(&path)
            )),
            Err(_) => problems.push(format!("{}: {} is missing", r.agent_name, d.rel(&path))),
        }
    }
    if in_worktrees.is_empty() {
        Check::pass(CAT, "agent-hooks", "no active agent works in a worktree")
    } else if problems.is_empty() {
        Check::pass(
            CAT,
            "agent-hooks",
            format!(
                "{} legio's hooks",
                count(
                    in_worktrees.len(),
                    "active agent in a worktree has",
                    "active agents in worktrees have"
                )
            ),
        )
    } else {
        Check::fail(
            CAT,
            "agent-hooks",
            format!(
                "{}: their tool calls are not guarded or logged and they get no mail",
                count(
                    problems.len(),
                    "agent lacks working hooks",
                    "agents lack working hooks"
                )
            ),
        )
        .details(problems)
    }
}

/// The legio binaries named by hook commands (their first word, when it is a path) that do
/// not exist, as messages.
fn missing_binaries(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut missing: Vec<String> = value
        .get("hooks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|events| events.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|group| group.get("hooks").and_then(Value::as_array))
        .flatten()
        .filter_map(|h| h.get("command").and_then(Value::as_str))
        .filter(|c| is_legio_command(c))
        .filter_map(first_word)
        .filter(|bin| bin.contains('/') && !Path::new(bin).is_file())
        .map(|bin| format!("{bin} does not exist"))
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// The first word of a POSIX shell command, with single quotes (and `'\''`) undone.
fn first_word(command: &str) -> Option<String> {
    let command = command.trim_start();
    let mut word = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in command.chars() {
        match c {
            c if escaped => {
                word.push(c);
                escaped = false;
            }
            '\'' => quoted = !quoted,
            '\\' if !quoted => escaped = true,
            c if c.is_whitespace() && !quoted => break,
            c => word.push(c),
        }
    }
    (!word.is_empty()).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::settings::{legio_hooks, shell_quote};

    #[test]
    fn the_first_word_undoes_shell_quoting() {
        for bin in ["/usr/bin/legio", "/My Tools/it's/legio"] {
            let cmd = format!("{} hook Stop", shell_quote(bin));
            assert_eq!(first_word(&cmd).as_deref(), Some(bin), "{cmd}");
        }
        assert_eq!(first_word("   "), None);
    }

    #[test]
    fn names_hook_binaries_that_are_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let present = tmp.path().join("legio");
        std::fs::write(&present, "").unwrap();
        let ok = serde_json::json!({ "hooks": legio_hooks(&present, None) }).to_string();
        assert!(missing_binaries(&ok).is_empty());
        let gone = Path::new("/nowhere/legio");
        let bad = serde_json::json!({ "hooks": legio_hooks(gone, None) }).to_string();
        assert_eq!(missing_binaries(&bad), ["/nowhere/legio does not exist"]);
    }
}
