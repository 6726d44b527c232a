//! The guard through the whole process: every row of the guard corpus
//! (`legio-core/tests/guard_cases.tsv`) fed to `legio hook PreToolUse` as a real payload, for an
//! agent registered with that row's role and scope. Deny rows must print Claude Code's deny
//! output; allow rows must print nothing. Also `legio guard`, the same decision for a role
//! given on the command line.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout, Timestamp};
use serde_json::{Value, json};
use support::project::Project;

const CASES: &str = include_str!("../../legio-core/tests/guard_cases.tsv");

fn unescape(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            other => {
                out.push('\\');
                out.extend(other);
            }
        }
    }
    out
}

/// A home directory outside the scratch area (`/tmp`), like a real one; it need not exist.
const HOME: &str = "/home/legio-guard-test";

/// The corpus is written for a project at `/repo` and a home at `/home/dev`.
fn relocate(text: &str, p: &Project) -> String {
    text.replace("/repo", &p.root.display().to_string())
        .replace("/home/dev", HOME)
}

fn register(p: &Project, store: &dyn SessionStore, role: Capability, scope: &[String]) {
    let name = format!("{role}-1");
    let worktree = if role.works_at_root() {
        p.root.clone()
    } else {
        p.root.join(".legio/worktrees").join(&name)
    };
    let now = Timestamp::from_millis(1_700_000_000_000);
    store
        .upsert(&AgentSession {
            id: format!("session-1-{name}"),
            agent_name: AgentName::new(name.clone()).unwrap(),
            capability: role,
            worktree_path: worktree.display().to_string(),
            branch_name: format!("legio/{name}/t-1"),
            bead_id: "t-1".into(),
            tmux_session: format!("legio-repo-{name}"),
            state: AgentState::Working,
            pid: None,
            parent_agent: None,
            depth: 1,
            run_id: None,
            started_at: now,
            last_activity: now,
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "script".into(),
            file_scope: scope.to_vec(),
            spec_path: None,
        })
        .unwrap();
}

fn prepare_worktrees(p: &Project) {
    for role in Capability::ALL {
        let wt = p.root.join(".legio/worktrees").join(format!("{role}-1"));
        std::fs::create_dir_all(wt.join("docs")).unwrap();
        std::fs::create_dir_all(wt.join("src")).unwrap();
    }
    let wt = p.root.join(".legio/worktrees/builder-1");
    std::os::unix::fs::symlink("/etc", wt.join("escape")).unwrap();
    std::os::unix::fs::symlink("docs", wt.join("docs-link")).unwrap();
}

fn payload(p: &Project, role: Capability, tool: &str, input: &str) -> String {
    let name = format!("{role}-1");
    let cwd = if role.works_at_root() {
        p.root.clone()
    } else {
        p.root.join(".legio/worktrees").join(&name)
    };
    let tool_input: Value = if tool == "Bash" {
        json!({ "command": input, "description": "x" })
    } else {
        serde_json::from_str(input).unwrap_or_else(|_| Value::String(input.to_owned()))
    };
    json!({
        "session_id": "s-1",
        "transcript_path": "/dev/null",
        "cwd": cwd,
        "permission_mode": "bypassPermissions",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_use_id": "toolu_01",
    })
    .to_string()
}

#[test]
fn every_corpus_row_holds_through_legio_hook_pre_tool_use() {
    let p = Project::new();
    prepare_worktrees(&p);
    let store = legio_store::SqliteSessionStore::open_in(&Layout::new(&p.root)).unwrap();
    let mut mismatches = Vec::new();
    let mut rows = 0;
    for line in CASES.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (expect, role_cell, tool, input) = (cols[0], cols[1], cols[2], unescape(cols[3]));
        let (role, scope) = match role_cell.split_once('[') {
            Some((r, rest)) => (r, rest.trim_end_matches(']')),
            None => (role_cell, ""),
        };
        let role: Capability = role.parse().unwrap();
        let scope: Vec<String> = scope
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        register(&p, &store, role, &scope);
        let input = relocate(&input, &p);
        let out = p.hook(
            "PreToolUse",
            &format!("{role}-1"),
            &[("HOME", HOME)],
            &payload(&p, role, tool, &input),
        );
        let denied = !out.trim().is_empty();
        if denied {
            let v: Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(
                v["hookSpecificOutput"]["permissionDecision"], "deny",
                "{out}"
            );
        }
        rows += 1;
        if denied != (expect == "deny") {
            mismatches.push(format!(
                "{expect} {role_cell} {tool} {input:?} -> {}",
                out.trim()
            ));
        }
    }
    assert!(rows >= 600, "the corpus has {rows} rows");
    assert!(
        mismatches.is_empty(),
        "{} of {rows} rows differ through the hook:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn legio_guard_prints_the_hook_decision_for_a_role() {
    let p = Project::new();
    let push = payload(
        &p,
        Capability::Builder,
        "Bash",
        "git status; git push origin main",
    );
    let out = p.run(
        &[
            "guard",
            "--capability",
            "builder",
            "--worktree",
            &p.root.display().to_string(),
        ],
        &[],
        Some(&push),
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("denied:"));

    let fine = payload(&p, Capability::Builder, "Bash", "cargo test");
    let wt = p.root.join(".legio/worktrees/builder-1");
    std::fs::create_dir_all(&wt).unwrap();
    let out = p.run(
        &[
            "guard",
            "--capability",
            "builder",
            "--worktree",
            &wt.display().to_string(),
        ],
        &[],
        Some(&fine),
    );
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "allowed");

    let scout_write = payload(
        &p,
        Capability::Scout,
        "Write",
        r#"{"file_path":"/tmp/x","content":"y"}"#,
    );
    let out = p.run(&["guard", "--capability", "scout"], &[], Some(&scout_write));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");

    let garbage = p.run(&["guard", "--capability", "builder"], &[], Some("not json"));
    let v: Value = serde_json::from_slice(&garbage.stdout).unwrap();
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    let bad_role = p.run(&["guard", "--capability", "wizard"], &[], Some(&fine));
    assert_eq!(bad_role.status.code(), Some(2));
}
