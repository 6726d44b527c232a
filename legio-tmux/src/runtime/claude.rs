//! [`ClaudeRuntime`]: Claude Code, interactive in a terminal or headless with stream-json.
//!
//! Launch (verified against claude 2.1.332):
//! - `claude --model M --dangerously-skip-permissions --settings '{"skipDangerousModePermissionPrompt":true}'`
//!   (inline JSON: no settings file to write or leak; the key skips the bypass-mode dialog),
//!   plus `--append-system-prompt-file <.legio/agents/<agent>/system-prompt.md>` for the role
//!   definition (a file, because tmux refuses commands over 16 KiB and argv shows in `ps`),
//!   plus `-- <first prompt>`: Claude Code starts its interactive session with that prompt
//!   already submitted, so nothing has to be typed into a TUI that may not be ready. A first
//!   prompt over 4 KiB is typed in instead ([`LaunchPlan::prompt_in_argv`] says which).
//! - Headless: `-p --input-format stream-json --output-format stream-json --verbose` with the
//!   same flags; prompts are JSON lines on stdin ([`AgentRuntime::headless_line`]).
//! - Claude Code's nesting markers ([`NESTING_MARKERS`]) are removed, or a Claude started
//!   from inside another Claude session refuses to run.
//! - As root, Claude Code refuses `--dangerously-skip-permissions` unless `IS_SANDBOX=1`:
//!   legio refuses first with the reason and the two ways out, and passes `IS_SANDBOX=1`
//!   explicitly when it is set, so the agent does not depend on what the tmux server inherited.
//!
//! Readiness is read from the real TUI (see [`ClaudeRuntime::readiness`]), not from "some box
//! character is on screen", which legio 0.1.0 used and which the trust dialog also shows.
//!
//! One-shot: `claude -p --output-format json --no-session-persistence --setting-sources user
//! --tools ""` with the prompt on stdin: no tools (a question, not a task), no project or local
//! settings (so legio's own hooks never fire for a triage question), no transcript left
//! behind. The answer is the `result` of a `{"type":"result","subtype":"success",
//! "is_error":false}` object, anything else is refused.

use std::path::{Path, PathBuf};

use legio_core::Layout;
use legio_core::ports::{
    AgentRuntime, LaunchContext, LaunchPlan, OneShot, Readiness, RuntimeError,
};

use super::{Once, excerpt, run_once};

/// Environment variables Claude Code sets in its sessions; a `claude` that finds them thinks
/// it is nested inside another session.
pub const NESTING_MARKERS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

const SETTINGS: &str = r#"{"skipDangerousModePermissionPrompt":true}"#;
const INSTALL_HINT: &str = "install Claude Code (`npm install -g @anthropic-ai/claude-code`) \
                            or choose another runtime (runtime.default in .legio/config.yaml)";
/// First prompts up to this size go on the command line; longer ones are typed in.
const MAX_PROMPT_IN_ARGV: usize = 4096;

/// Claude Code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeRuntime {
    program: String,
}

impl Default for ClaudeRuntime {
    fn default() -> Self {
        Self::new("claude")
    }
}

impl ClaudeRuntime {
    /// Runs `program` (a name looked up on PATH, or a path).
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// A program given as a path must exist; a bare name is found on PATH when it runs.
    fn check_installed(&self) -> Result<(), RuntimeError> {
        if self.program.contains('/') && !Path::new(&self.program).is_file() {
            return Err(RuntimeError::NotInstalled {
                program: self.program.clone(),
                hint: INSTALL_HINT.into(),
            });
        }
        Ok(())
    }

    /// What a capture of the interactive TUI says. Ready is the prompt box: a line starting
    /// with `❯` with a rule of `─` directly above it and another below within the box, and no
    /// dialog on screen. A dialog (its footer reads "Enter to confirm") is [`Readiness::Blocked`]
    /// with what it asks and how to avoid it: typing the first prompt into it would answer it.
    pub fn readiness(screen: &str) -> Readiness {
        if screen.contains("Enter to confirm") {
            return Readiness::Blocked(describe_dialog(screen));
        }
        let lines: Vec<&str> = screen.lines().map(str::trim).collect();
        let is_rule = |l: &str| l.chars().count() >= 10 && l.chars().all(|c| c == '─');
        let prompt_box = lines.iter().enumerate().any(|(i, line)| {
            line.starts_with('❯')
                && i > 0
                && is_rule(lines[i - 1])
                && lines[i + 1..].iter().take(20).any(|l| is_rule(l))
        });
        if prompt_box {
            Readiness::Ready
        } else {
            Readiness::Starting
        }
    }
}

/// Says which Claude Code dialog is on screen and what to do about it.
fn describe_dialog(screen: &str) -> String {
    if screen.contains("trust this folder") {
        "Claude Code asks whether to trust this folder; run `claude` once in the project root \
         and choose \"Yes, I trust this folder\" (agents' worktrees live under it)"
            .into()
    } else if screen.contains("Detected a custom API key") {
        "Claude Code asks whether to use ANTHROPIC_API_KEY; run `claude` once and answer Yes, \
         or log in instead of setting the key"
            .into()
    } else if screen.contains("Bypass Permissions mode") {
        "Claude Code asks to confirm bypass-permissions mode; the launch settings should skip \
         this (skipDangerousModePermissionPrompt), so check for a managed setting overriding it"
            .into()
    } else {
        let first = screen
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.chars().all(|c| c == '─'))
            .unwrap_or("(unreadable)");
        format!("Claude Code shows a dialog that needs an answer: {first}")
    }
}

/// Reads the `--output-format json` answer strictly; the error says what was wrong.
fn parse_result(stdout: &[u8]) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| {
        format!(
            "expected one JSON result object, got {e}: {}",
            excerpt(stdout, 300)
        )
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {}", excerpt(stdout, 300)))?;
    let field = |key: &str| object.get(key);
    if field("type").and_then(|v| v.as_str()) != Some("result") {
        return Err(format!(
            "expected \"type\":\"result\", got {}",
            field("type").map_or_else(|| "no type".to_owned(), ToString::to_string)
        ));
    }
    let result = field("result").and_then(|v| v.as_str());
    match field("is_error").and_then(serde_json::Value::as_bool) {
        Some(false) => {}
        Some(true) => {
            return Err(format!(
                "Claude Code reported an error ({}): {}",
                field("subtype").map_or_else(|| "no subtype".to_owned(), ToString::to_string),
                result.unwrap_or("no message")
            ));
        }
        None => return Err("\"is_error\" is missing or not a boolean".into()),
    }
    if field("subtype").and_then(|v| v.as_str()) != Some("success") {
        return Err(format!(
            "expected \"subtype\":\"success\", got {}",
            field("subtype").map_or_else(|| "none".to_owned(), ToString::to_string)
        ));
    }
    match result {
        Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
        Some(_) => Err("the answer is empty".into()),
        None => Err("\"result\" is missing or not a string".into()),
    }
}

/// Writes the role definition where `--append-system-prompt-file` will read it, atomically.
fn write_system_prompt(ctx: &LaunchContext, text: &str) -> Result<PathBuf, RuntimeError> {
    let dir = Layout::new(&ctx.root).agent_dir(&ctx.agent);
    let path = dir.join("system-prompt.md");
    let tmp = dir.join(format!("system-prompt.md.tmp{}", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RuntimeError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(&path)(e)
    })?;
    Ok(path)
}

impl AgentRuntime for ClaudeRuntime {
    fn name(&self) -> &'static str {
        "claude"
    }

    fn launch_plan(
        &self,
        ctx: &LaunchContext,
        first_prompt: &str,
    ) -> Result<LaunchPlan, RuntimeError> {
        if ctx.running_as_root && !ctx.sandboxed {
            return Err(RuntimeError::Refused(
                "Claude Code refuses --dangerously-skip-permissions when run as root; inside a \
                 sandbox or container set IS_SANDBOX=1, otherwise run legio as a normal user"
                    .into(),
            ));
        }
        self.check_installed()?;
        let mut argv = vec![self.program.clone()];
        if ctx.headless {
            argv.extend(
                [
                    "-p",
                    "--input-format",
                    "stream-json",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                ]
                .map(String::from),
            );
        }
        if !ctx.model.is_empty() {
            argv.extend(["--model".to_owned(), ctx.model.clone()]);
        }
        argv.extend(["--dangerously-skip-permissions", "--settings", SETTINGS].map(String::from));
        if let Some(text) = &ctx.system_prompt {
            let path = write_system_prompt(ctx, text)?;
            argv.push("--append-system-prompt-file".into());
            argv.push(path.to_string_lossy().into_owned());
        }
        let prompt_in_argv =
            !ctx.headless && !first_prompt.is_empty() && first_prompt.len() <= MAX_PROMPT_IN_ARGV;
        if prompt_in_argv {
            argv.push("--".into());
            argv.push(first_prompt.to_owned());
        }
        let mut env = ctx.env.clone();
        if ctx.running_as_root && !env.iter().any(|(k, _)| k == "IS_SANDBOX") {
            env.push(("IS_SANDBOX".into(), "1".into()));
        }
        Ok(LaunchPlan {
            argv,
            env,
            env_remove: NESTING_MARKERS.iter().map(|&s| s.to_owned()).collect(),
            cwd: ctx.cwd.clone(),
            prompt_in_argv,
        })
    }

    fn readiness(&self, screen: &str) -> Readiness {
        Self::readiness(screen)
    }

    fn headless_line(&self, text: &str) -> String {
        serde_json::json!({
            "type": "user",
            "message": {"role": "user", "content": [{"type": "text", "text": text}]},
            "parent_tool_use_id": null,
            "session_id": "",
        })
        .to_string()
    }

    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError> {
        self.check_installed()?;
        let mut argv: Vec<String> = [
            self.program.as_str(),
            "-p",
            "--output-format",
            "json",
            "--no-session-persistence",
            "--setting-sources",
            "user",
            "--tools",
            "",
        ]
        .map(String::from)
        .to_vec();
        if let Some(model) = &request.model {
            argv.extend(["--model".to_owned(), model.clone()]);
        }
        let done = run_once(Once {
            argv: &argv,
            cwd: &request.cwd,
            env_remove: NESTING_MARKERS,
            stdin: request.prompt.as_bytes(),
            timeout: request.timeout,
            install_hint: INSTALL_HINT,
        })?;
        parse_result(&done.stdout).map_err(|problem| RuntimeError::BadOutput {
            program: self.program.clone(),
            problem: if done.stderr.is_empty() {
                problem
            } else {
                format!("{problem} (stderr: {})", excerpt(&done.stderr, 300))
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_result_shape() {
        // Trimmed from claude 2.1.332's actual output.
        let out = br#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,
            "result":"VERDICT: extend","session_id":"0c60","total_cost_usd":0.000002,
            "permission_denials":[],"usage":{"input_tokens":5}}"#;
        assert_eq!(parse_result(out).unwrap(), "VERDICT: extend");
    }

    #[test]
    fn refuses_every_other_shape_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "expected one JSON result object"),
            (b"retry", "expected one JSON result object"),
            (b"[1]", "expected a JSON object"),
            (br#"{"type":"assistant"}"#, "\"type\":\"result\""),
            (
                br#"{"type":"result","subtype":"error_max_turns","is_error":true,"result":"stopped"}"#,
                "reported an error (\"error_max_turns\"): stopped",
            ),
            (br#"{"type":"result","subtype":"success","result":"x"}"#, "is_error"),
            (
                br#"{"type":"result","subtype":"other","is_error":false,"result":"x"}"#,
                "\"subtype\":\"success\"",
            ),
            (
                br#"{"type":"result","subtype":"success","is_error":false,"result":"  "}"#,
                "empty",
            ),
            (
                br#"{"type":"result","subtype":"success","is_error":false,"result":3}"#,
                "not a string",
            ),
            (
                b"{\"type\":\"result\"}\n{\"type\":\"result\"}",
                "expected one JSON result object",
            ),
        ];
        for (input, needle) in cases {
            let problem = parse_result(input).expect_err(needle);
            assert!(
                problem.contains(needle),
                "{problem:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn headless_lines_are_stream_json_user_messages() {
        let line = ClaudeRuntime::default().headless_line("say \"hi\"\nnow");
        assert!(!line.contains('\n'), "one line: {line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "user");
        assert_eq!(v["message"]["content"][0]["text"], "say \"hi\"\nnow");
    }
}
