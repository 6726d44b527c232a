//! Runs every row of `guard_cases.tsv` through the guard and reports every mismatch.
//!
//! Row format (tab-separated; `#` starts a comment line):
//!
//! ```text
//! expect  role[scope]  tool  input  [reason must contain]
//! ```
//!
//! - `expect`: `allow` or `deny`.
//! - `role`: a capability; `builder[src/auth/,Cargo.toml]` adds a `--files` scope.
//! - `tool`: `Bash` (input is the command) or any other tool (input is its JSON `tool_input`).
//! - `input`: `\n`, `\t` and `\\` stand for a newline, a tab and a backslash.
//! - the optional last column must appear (case-insensitively) in a deny reason.
//!
//! Every agent is `<role>-1`; worktrees are `/repo/.legio/worktrees/<agent>` (none for roles at
//! the root), the project is `/repo`, home is `/home/dev`, scratch is `/tmp`. Two symlinks
//! exist in the builder's worktree: `escape -> /etc` and `docs-link -> docs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use legio_core::Capability;
use legio_core::guard::{Decision, GuardPolicy, Links, decide_with};

struct MapLinks(HashMap<PathBuf, PathBuf>);

impl Links for MapLinks {
    fn read_link(&self, path: &Path) -> Option<PathBuf> {
        self.0.get(path).cloned()
    }
}

fn links() -> MapLinks {
    let wt = "/repo/.legio/worktrees/builder-1";
    MapLinks(
        [
            (format!("{wt}/escape"), "/etc".to_owned()),
            (format!("{wt}/docs-link"), "docs".to_owned()),
        ]
        .into_iter()
        .map(|(a, b)| (PathBuf::from(a), PathBuf::from(b)))
        .collect(),
    )
}

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

fn policy(role_cell: &str) -> GuardPolicy {
    let (role, scope) = match role_cell.split_once('[') {
        Some((role, rest)) => (role, rest.trim_end_matches(']')),
        None => (role_cell, ""),
    };
    let capability: Capability = role.parse().expect("role column holds a capability");
    let agent = format!("{role}-1");
    let worktree = (!capability.works_at_root())
        .then(|| PathBuf::from(format!("/repo/.legio/worktrees/{agent}")));
    GuardPolicy::new(capability)
        .with_agent(agent.parse().ok())
        .with_worktree(worktree)
        .with_files(scope.split(',').map(str::to_owned).collect())
        .with_project_root(Some("/repo".into()))
        .with_home(Some("/home/dev".into()))
}

#[test]
fn every_case_in_the_corpus_holds() {
    let text = include_str!("guard_cases.tsv");
    let links = links();
    let mut mismatches = Vec::new();
    let (mut rows, mut denies, mut allows) = (0, 0, 0);
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        let [expect, role, tool, input, rest @ ..] = cells.as_slice() else {
            panic!("line {line_no}: expected at least 4 tab-separated columns: {line:?}");
        };
        let input = unescape(input);
        let tool_input = if *tool == "Bash" {
            serde_json::json!({ "command": input })
        } else {
            serde_json::from_str(&input)
                .unwrap_or_else(|e| panic!("line {line_no}: tool input is not JSON ({e})"))
        };
        rows += 1;
        let decision = decide_with(&policy(role), &links, tool, &tool_input);
        match (*expect, &decision) {
            ("allow", Decision::Allow) => allows += 1,
            ("deny", Decision::Deny { reason }) => {
                denies += 1;
                if let Some(needle) = rest.first().filter(|s| !s.is_empty())
                    && !reason.to_lowercase().contains(&needle.to_lowercase())
                {
                    mismatches.push(format!(
                            "line {line_no}: {role} {tool} {input:?}: denied, but the reason lacks {needle:?}: {reason}"
                        ));
                }
            }
            ("allow", Decision::Deny { reason }) => mismatches.push(format!(
                "line {line_no}: {role} {tool} {input:?}: expected allow, got deny: {reason}"
            )),
            ("deny", Decision::Allow) => mismatches.push(format!(
                "line {line_no}: {role} {tool} {input:?}: expected deny, got allow"
            )),
            (other, _) => panic!("line {line_no}: unknown expectation {other:?}"),
        }
    }
    println!("{rows} cases: {allows} allowed and {denies} denied as expected");
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(
        rows >= 250,
        "the corpus should hold at least 250 cases, has {rows}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {rows} cases do not hold (see MISMATCH lines above)",
        mismatches.len()
    );
}
