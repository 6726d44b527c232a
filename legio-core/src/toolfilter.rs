//! The tool-argument filter: what legio keeps of a tool call's input, and its one-line summary.
//!
//! A hook payload's `tool_input` can hold whole files (`Write.content`, `Edit.new_string`) and
//! secrets. [`filter_tool_args`] keeps only the fields that identify the call, per tool, and
//! **redacts** them ([`crate::redact`]) before anything is stored: legio 0.1.0 stored full
//! Bash commands verbatim. Fields are copied when present (a `null` is kept, a missing field
//! stays missing); summaries treat any non-string value as empty.
//!
//! | tool | kept | summary |
//! |---|---|---|
//! | Bash | command, description | `bash: <command>`, cut at 80 characters + `...` |
//! | Read | file_path, offset, limit | `read: <path>` + ` (lines o-(o+l))` / ` (from line o)` / ` (first l lines)` |
//! | Write | file_path | `write: <path>` |
//! | Edit | file_path | `edit: <path>` |
//! | MultiEdit | file_path | `multiedit: <path> (<n> edits)` |
//! | NotebookEdit | notebook_path, cell_id, cell_type, edit_mode | `notebook: <path>` + ` (<mode> cell <id>)` |
//! | Glob | pattern, path | `glob: <pattern>` + ` in <path>` |
//! | Grep | pattern, path, glob, output_mode | `grep: "<pattern>"` + ` in <path>` |
//! | WebFetch | url | `fetch: <url>` |
//! | WebSearch | query | `search: <query>` |
//! | Task | description, subagent_type | `task: <description>` + ` (<subagent_type>)` |
//! | Agent | description, subagent_type, name, model | `agent: <description>` + ` (<subagent_type>)` |
//! | anything else | nothing | the tool name |
//!
//! Beyond legio 0.1.0: control characters (newlines, escape sequences) in a summary become
//! spaces, so a summary is always one safe line for a terminal, and summaries other than Bash
//! are cut at 200 characters.

use serde_json::{Map, Value};

use crate::redact::redact_json;

/// Bash summaries keep this many characters of the command.
pub const BASH_SUMMARY_CHARS: usize = 80;

/// Other summaries keep this many characters.
pub const SUMMARY_CHARS: usize = 200;

/// What legio stores of one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredArgs {
    /// The identifying fields, secrets redacted.
    pub args: Map<String, Value>,
    /// One line for people.
    pub summary: String,
}

impl FilteredArgs {
    /// The arguments as compact JSON text (the `events.tool_args` column).
    pub fn args_json(&self) -> String {
        serde_json::to_string(&self.args).expect("a map of JSON values always serializes")
    }
}

/// Keeps the identifying fields of a call to `tool` with `input`, redacted, and summarises it.
pub fn filter_tool_args(tool: &str, input: &Value) -> FilteredArgs {
    let keep: &[&str] = match tool {
        "Bash" => &["command", "description"],
        "Read" => &["file_path", "offset", "limit"],
        "Write" | "Edit" | "MultiEdit" => &["file_path"],
        "NotebookEdit" => &["notebook_path", "cell_id", "cell_type", "edit_mode"],
        "Glob" => &["pattern", "path"],
        "Grep" => &["pattern", "path", "glob", "output_mode"],
        "WebFetch" => &["url"],
        "WebSearch" => &["query"],
        "Task" => &["description", "subagent_type"],
        "Agent" => &["description", "subagent_type", "name", "model"],
        _ => &[],
    };
    let mut args = Map::new();
    if let Value::Object(fields) = input {
        for &key in keep {
            if let Some(value) = fields.get(key) {
                args.insert(key.to_owned(), value.clone());
            }
        }
    }
    args.values_mut().for_each(redact_json);
    let summary = summarize(tool, &args, input);
    FilteredArgs { args, summary }
}

fn summarize(tool: &str, args: &Map<String, Value>, input: &Value) -> String {
    let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or("");
    let with = |base: String, key: &str, fmt: &dyn Fn(&str) -> String| {
        let value = text(key);
        if value.is_empty() {
            base
        } else {
            base + &fmt(value)
        }
    };
    let summary = match tool {
        "Bash" => {
            return one_line(&format!(
                "bash: {}",
                cut(text("command"), BASH_SUMMARY_CHARS)
            ));
        }
        "Read" => {
            let number = |key: &str| args.get(key).and_then(Value::as_f64);
            let range = match (number("offset"), number("limit")) {
                (Some(o), Some(l)) => format!(" (lines {}-{})", js_number(o), js_number(o + l)),
                (Some(o), None) => format!(" (from line {})", js_number(o)),
                (None, Some(l)) => format!(" (first {} lines)", js_number(l)),
                (None, None) => String::new(),
            };
            format!("read: {}{range}", text("file_path"))
        }
        "Write" => format!("write: {}", text("file_path")),
        "Edit" => format!("edit: {}", text("file_path")),
        "MultiEdit" => {
            let edits = input
                .get("edits")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let plural = if edits == 1 { "" } else { "s" };
            format!("multiedit: {} ({edits} edit{plural})", text("file_path"))
        }
        "NotebookEdit" => {
            let detail = match (text("edit_mode"), text("cell_id")) {
                ("", "") => String::new(),
                (mode, "") => format!(" ({mode})"),
                ("", cell) => format!(" (cell {cell})"),
                (mode, cell) => format!(" ({mode} cell {cell})"),
            };
            format!("notebook: {}{detail}", text("notebook_path"))
        }
        "Glob" => with(format!("glob: {}", text("pattern")), "path", &|p| {
            format!(" in {p}")
        }),
        "Grep" => with(format!("grep: \"{}\"", text("pattern")), "path", &|p| {
            format!(" in {p}")
        }),
        "WebFetch" => format!("fetch: {}", text("url")),
        "WebSearch" => format!("search: {}", text("query")),
        "Task" => with(
            format!("task: {}", text("description")),
            "subagent_type",
            &|t| format!(" ({t})"),
        ),
        "Agent" => with(
            format!("agent: {}", text("description")),
            "subagent_type",
            &|t| format!(" ({t})"),
        ),
        _ => tool.to_owned(),
    };
    one_line(&cut(&summary, SUMMARY_CHARS))
}

/// The first `max` characters of `text`, with `...` when something was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Control characters become spaces, so the summary is one line that cannot drive a terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A number as JavaScript prints it: integers without a fraction.
fn js_number(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kept(tool: &str, input: &Value) -> Value {
        Value::Object(filter_tool_args(tool, input).args)
    }

    #[test]
    fn keeps_identifying_fields_and_drops_the_rest() {
        let cases = [
            (
                "Bash",
                json!({"command": "ls", "description": "list", "timeout": 5, "run_in_background": true, "dangerouslyDisableSandbox": true}),
                json!({"command": "ls", "description": "list"}),
            ),
            (
                "Write",
                json!({"file_path": "/a", "content": "big"}),
                json!({"file_path": "/a"}),
            ),
            (
                "Edit",
                json!({"file_path": "/a", "old_string": "x", "new_string": "y", "replace_all": true}),
                json!({"file_path": "/a"}),
            ),
            (
                "MultiEdit",
                json!({"file_path": "/a", "edits": [{"old_string": "x", "new_string": "y"}]}),
                json!({"file_path": "/a"}),
            ),
            (
                "NotebookEdit",
                json!({"notebook_path": "/n.ipynb", "cell_id": "c1", "new_source": "print()", "cell_type": "code", "edit_mode": "insert"}),
                json!({"notebook_path": "/n.ipynb", "cell_id": "c1", "cell_type": "code", "edit_mode": "insert"}),
            ),
            (
                "WebFetch",
                json!({"url": "https://x.io", "prompt": "summarise"}),
                json!({"url": "https://x.io"}),
            ),
            (
                "WebSearch",
                json!({"query": "rust", "allowed_domains": ["a"], "blocked_domains": ["b"]}),
                json!({"query": "rust"}),
            ),
            (
                "Task",
                json!({"description": "d", "subagent_type": "general-purpose", "prompt": "long"}),
                json!({"description": "d", "subagent_type": "general-purpose"}),
            ),
            (
                "Agent",
                json!({"description": "d", "prompt": "long", "subagent_type": "Explore", "name": "scout", "model": "haiku", "run_in_background": true}),
                json!({"description": "d", "subagent_type": "Explore", "name": "scout", "model": "haiku"}),
            ),
            ("TodoWrite", json!({"todos": [{"content": "x"}]}), json!({})),
            (
                "mcp__github__create_issue",
                json!({"title": "t"}),
                json!({}),
            ),
            (
                "Read",
                json!({"file_path": null, "offset": 3}),
                json!({"file_path": null, "offset": 3}),
            ),
            ("Bash", json!({"command": 42}), json!({"command": 42})),
            ("Bash", json!("not an object"), json!({})),
        ];
        for (tool, input, want) in cases {
            assert_eq!(kept(tool, &input), want, "{tool} {input}");
        }
    }

    #[test]
    fn secrets_are_redacted_before_they_are_kept() {
        let filtered = filter_tool_args(
            "Bash",
            &json!({"command": "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123 gh pr create", "description": "open PR"}),
        );
        assert_eq!(
            filtered.args_json(),
            r#"{"command":"GITHUB_TOKEN=[REDACTED] gh pr create","description":"open PR"}"#
        );
        assert_eq!(
            filtered.summary,
            "bash: GITHUB_TOKEN=[REDACTED] gh pr create"
        );
        let fetch = filter_tool_args("WebFetch", &json!({"url": "https://u:pw@x.io/?token=abc"}));
        assert_eq!(
            fetch.summary,
            "fetch: https://u:[REDACTED]@x.io/?token=[REDACTED]"
        );
    }

    #[test]
    fn bash_summaries_are_cut_after_80_characters() {
        let exactly = "x".repeat(80);
        let longer = "é".repeat(81);
        assert_eq!(
            filter_tool_args("Bash", &json!({"command": exactly})).summary,
            format!("bash: {exactly}")
        );
        assert_eq!(
            filter_tool_args("Bash", &json!({"command": longer})).summary,
            format!("bash: {}...", "é".repeat(80))
        );
    }

    #[test]
    fn summaries() {
        let cases = [
            ("Bash", json!({"command": "cargo test -p legio-core"})),
            ("Bash", json!({})),
            ("Bash", json!({"command": 42})),
            (
                "Bash",
                json!({"command": "printf 'a\\n'\necho \u{1b}[31mred"}),
            ),
            ("Read", json!({"file_path": "/src/lib.rs"})),
            (
                "Read",
                json!({"file_path": "/src/lib.rs", "offset": 10, "limit": 20}),
            ),
            ("Read", json!({"file_path": "/src/lib.rs", "offset": 10})),
            ("Read", json!({"file_path": "/src/lib.rs", "limit": 20})),
            ("Read", json!({"file_path": null})),
            (
                "Write",
                json!({"file_path": "/src/new.rs", "content": "fn main() {}"}),
            ),
            (
                "Edit",
                json!({"file_path": "/src/lib.rs", "old_string": "a", "new_string": "b"}),
            ),
            (
                "MultiEdit",
                json!({"file_path": "/src/lib.rs", "edits": [{}, {}, {}]}),
            ),
            (
                "MultiEdit",
                json!({"file_path": "/src/lib.rs", "edits": [{}]}),
            ),
            (
                "NotebookEdit",
                json!({"notebook_path": "/nb.ipynb", "cell_id": "c7", "edit_mode": "delete"}),
            ),
            (
                "NotebookEdit",
                json!({"notebook_path": "/nb.ipynb", "new_source": "x"}),
            ),
            ("Glob", json!({"pattern": "**/*.rs"})),
            ("Glob", json!({"pattern": "**/*.rs", "path": "/src"})),
            (
                "Grep",
                json!({"pattern": "fn main", "path": "/src", "output_mode": "content"}),
            ),
            ("Grep", json!({"pattern": "TODO", "path": ""})),
            (
                "WebFetch",
                json!({"url": "https://docs.rs/serde", "prompt": "p"}),
            ),
            ("WebSearch", json!({"query": "tmux send-keys literal"})),
            (
                "Task",
                json!({"description": "Find the config loader", "subagent_type": "Explore"}),
            ),
            ("Task", json!({"description": "Plain task"})),
            (
                "Agent",
                json!({"description": "Review the diff", "subagent_type": "code-reviewer"}),
            ),
            ("TodoWrite", json!({"todos": []})),
            ("mcp__github__create_issue", json!({"title": "t"})),
            ("Grep", json!({"pattern": "x".repeat(250)})),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(tool, input)| format!("{tool:<13} {}", filter_tool_args(tool, input).summary))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }
}
