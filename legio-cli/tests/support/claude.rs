//! The real Claude Code binary (see [`super::install`]) run hermetically against a
//! [`ScriptedApi`](super::scripted_api::ScriptedApi).
//!
//! - [`ClaudeHome`] is a throwaway `HOME` in which Claude Code has already been onboarded, has
//!   approved the test API key, accepts bypass-permissions mode without its dialog and trusts the
//!   folders it is told to; [`ClaudeHome::env`] is the whole environment a claude process gets
//!   (nothing of the caller's environment leaks in).
//! - [`Sandbox`] is a home plus a project folder whose `.claude/settings.local.json` hooks the
//!   test controls, with recording hooks, and runs `claude -p`, a headless stream-json claude
//!   ([`super::headless::HeadlessClaude`]) or an interactive claude in tmux
//!   ([`super::tmux::TmuxClaude`]).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::headless::HeadlessClaude;
use super::install::wait_with_timeout;
use super::scripted_api::ScriptedApi;
use super::tmux::TmuxClaude;

/// The API key the harness gives claude; its last 20 characters are pre-approved in `HOME`.
pub const TEST_API_KEY: &str = "test";
/// How long one `claude -p` run may take before the harness kills it.
pub const PRINT_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether this process runs as root (Claude Code then refuses
/// `--dangerously-skip-permissions` unless `IS_SANDBOX=1`).
pub fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective user.
    fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Claude Code's project folder name for a working directory: every character that is not an
/// ASCII letter or digit becomes `-` (`/tmp/a.b/c_d` -> `-tmp-a-b-c-d`).
pub fn project_dir_name(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A throwaway `HOME` prepared so that Claude Code starts straight into a session: onboarding
/// done, the test API key approved, bypass-permissions mode accepted, listed folders trusted.
pub struct ClaudeHome {
    path: PathBuf,
    trusted: Vec<PathBuf>,
}

impl ClaudeHome {
    /// Prepares `path` (created if missing) as a home.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let home = Self {
            path: path.into(),
            trusted: Vec::new(),
        };
        let settings_dir = home.path.join(".claude");
        fs::create_dir_all(&settings_dir).expect("creating the throwaway HOME");
        // User settings: accept --dangerously-skip-permissions without the interactive warning.
        write_json(
            &settings_dir.join("settings.json"),
            &json!({"skipDangerousModePermissionPrompt": true}),
        );
        home.write_state();
        home
    }

    /// The home folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks `folder` trusted (no "Quick safety check" dialog when claude starts there
    /// interactively; `-p` never asks). Trusting a repository's root also covers worktrees made
    /// inside it.
    pub fn trust(&mut self, folder: &Path) {
        self.trusted.push(folder.to_path_buf());
        self.write_state();
    }

    /// `~/.claude.json`, the client's own state file.
    fn write_state(&self) {
        let key_suffix: String = {
            let chars: Vec<char> = TEST_API_KEY.chars().collect();
            chars[chars.len().saturating_sub(20)..].iter().collect()
        };
        let projects: serde_json::Map<String, Value> = self
            .trusted
            .iter()
            .map(|p| {
                (
                    p.to_string_lossy().into_owned(),
                    json!({"hasTrustDialogAccepted": true}),
                )
            })
            .collect();
        write_json(
            &self.path.join(".claude.json"),
            &json!({
                "hasCompletedOnboarding": true,
                "theme": "dark",
                "customApiKeyResponses": {"approved": [key_suffix], "rejected": []},
                "projects": projects,
            }),
        );
    }

    /// The whole environment of a claude process talking to `server`: `HOME`, a fixed `PATH`,
    /// the base URL and key, the no-telemetry switches, and `IS_SANDBOX=1` when root.
    pub fn env(&self, server: &ScriptedApi) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_owned(), self.path.to_string_lossy().into_owned()),
            ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("TERM".to_owned(), "xterm-256color".to_owned()),
            ("ANTHROPIC_BASE_URL".to_owned(), server.base_url()),
            ("ANTHROPIC_API_KEY".to_owned(), TEST_API_KEY.to_owned()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_owned(),
                "1".to_owned(),
            ),
            ("DISABLE_TELEMETRY".to_owned(), "1".to_owned()),
            ("DISABLE_AUTOUPDATER".to_owned(), "1".to_owned()),
        ];
        if running_as_root() {
            env.push(("IS_SANDBOX".to_owned(), "1".to_owned()));
        }
        env
    }

    /// The environment for a `legio` command that starts claude agents: [`ClaudeHome::env`]
    /// with `dirs` (e.g. where `claude` is) put first on `PATH`, so legio finds `claude` when it
    /// starts an agent.
    pub fn agent_env(&self, server: &ScriptedApi, dirs: &[&Path]) -> Vec<(String, String)> {
        let mut env = self.env(server);
        for (key, value) in &mut env {
            if key == "PATH" {
                let mut path: Vec<String> = dirs
                    .iter()
                    .map(|d| d.to_string_lossy().into_owned())
                    .collect();
                path.push(value.clone());
                *value = path.join(":");
            }
        }
        env
    }

    /// Where claude writes the transcript of `session_id` run in `cwd`.
    pub fn transcript_path(&self, cwd: &Path, session_id: &str) -> PathBuf {
        self.path
            .join(".claude")
            .join("projects")
            .join(project_dir_name(cwd))
            .join(format!("{session_id}.jsonl"))
    }
}

fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Reads a JSONL file into values, failing the test on a line that is not JSON.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("{} line {}: not JSON ({e}): {l}", path.display(), i + 1)
            })
        })
        .collect()
}

/// One finished `claude -p` run.
#[derive(Debug)]
pub struct PrintRun {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl PrintRun {
    /// The `--output-format json` result object; fails the test, showing both streams, when
    /// the run failed or printed something else.
    pub fn result(&self) -> Value {
        assert!(
            self.status.success(),
            "claude -p failed ({}).\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "claude -p printed no JSON result ({e}).\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The events a hook can be registered for (the ones these tests use; claude knows more).
pub const HOOK_EVENTS: [&str; 7] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SessionEnd",
];

/// A temporary folder holding a [`ClaudeHome`], a trusted project folder with hooks, the hook
/// scripts and their recordings.
pub struct Sandbox {
    // Kept for its Drop (removes everything).
    _dir: tempfile::TempDir,
    bin: PathBuf,
    home: ClaudeHome,
    project: PathBuf,
    hooks_dir: PathBuf,
    /// `{EVENT: [{matcher, hooks: [...]}]}` as written to `.claude/settings.local.json`.
    hooks: serde_json::Map<String, Value>,
}

impl Sandbox {
    /// A fresh sandbox for `bin` whose project folder is trusted. Paths are canonical (claude
    /// reports canonical paths).
    pub fn new(bin: &Path) -> Self {
        Self::create(bin, true)
    }

    /// A fresh sandbox whose project folder is not trusted: interactive claude starts with the
    /// trust dialog.
    pub fn untrusted(bin: &Path) -> Self {
        Self::create(bin, false)
    }

    fn create(bin: &Path, trusted: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("legio-claude-")
            .tempdir()
            .expect("creating a temporary folder");
        let root = dir
            .path()
            .canonicalize()
            .expect("the temporary folder has a canonical path");
        let project = root.join("project");
        let hooks_dir = root.join("hooks");
        fs::create_dir_all(project.join(".claude")).expect("creating the project folder");
        fs::create_dir_all(&hooks_dir).expect("creating the hooks folder");
        let mut home = ClaudeHome::new(root.join("home"));
        if trusted {
            home.trust(&project);
        }
        let sandbox = Self {
            _dir: dir,
            bin: bin.to_path_buf(),
            home,
            project,
            hooks_dir,
            hooks: serde_json::Map::new(),
        };
        sandbox.write_settings();
        sandbox
    }

    /// The project folder (claude's working directory).
    pub fn project(&self) -> &Path {
        &self.project
    }

    /// The home.
    pub fn home(&self) -> &ClaudeHome {
        &self.home
    }

    /// The claude binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Registers a hook command line (a shell string, as claude runs it) for `event`, for tools
    /// matching `matcher` (a regex; "" for all).
    pub fn add_hook(&mut self, event: &str, matcher: &str, command: &str) {
        let groups = self
            .hooks
            .entry(event.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        groups
            .as_array_mut()
            .expect("hook groups are an array")
            .push(json!({
                "matcher": matcher,
                "hooks": [{"type": "command", "command": command, "timeout": 30}],
            }));
        self.write_settings();
    }

    /// Writes an executable `sh` script `name` with `body` into the hooks folder and registers
    /// it for `event` / `matcher`. The body gets the payload on stdin.
    pub fn add_script_hook(
        &mut self,
        event: &str,
        matcher: &str,
        name: &str,
        body: &str,
    ) -> PathBuf {
        let path = self.hooks_dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n"))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("making {} executable: {e}", path.display()));
        self.add_hook(event, matcher, &shell_quote(&path));
        path
    }

    /// Registers a hook for `event` that appends each payload it receives as one line to a
    /// recording read back by [`Sandbox::hook_payloads`].
    pub fn record_hook(&mut self, event: &str) {
        let log = self.recording(event);
        let body = format!("cat >> {log}\necho >> {log}", log = shell_quote(&log));
        self.add_script_hook(event, "", &format!("record-{event}.sh"), &body);
    }

    /// Registers [`Sandbox::record_hook`] for every event of [`HOOK_EVENTS`].
    pub fn record_all_hooks(&mut self) {
        for event in HOOK_EVENTS {
            self.record_hook(event);
        }
    }

    fn recording(&self, event: &str) -> PathBuf {
        self.hooks_dir.join(format!("{event}.jsonl"))
    }

    /// The payloads the recording hook of `event` received so far (empty if none).
    pub fn hook_payloads(&self, event: &str) -> Vec<Value> {
        let path = self.recording(event);
        if path.exists() {
            read_jsonl(&path)
        } else {
            Vec::new()
        }
    }

    /// Waits until the recording hook of `event` has received at least `count` payloads;
    /// returns them. Fails the test after `timeout`.
    pub fn wait_for_hook(&self, event: &str, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let payloads = self.hook_payloads(event);
            if payloads.len() >= count {
                return payloads;
            }
            assert!(
                Instant::now() < deadline,
                "waited {} s for {count} {event} hook payload(s), got {}",
                timeout.as_secs(),
                payloads.len()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn write_settings(&self) {
        write_json(
            &self.project.join(".claude").join("settings.local.json"),
            &json!({"hooks": self.hooks}),
        );
    }

    /// A `claude` command with the hermetic environment, run in the project folder, with
    /// `--dangerously-skip-permissions` first (the mode legio runs agents in).
    pub fn command(&self, server: &ScriptedApi) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .envs(self.home.env(server))
            .current_dir(&self.project)
            .arg("--dangerously-skip-permissions")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `claude -p PROMPT --output-format json` to completion (killed after
    /// [`PRINT_TIMEOUT`]).
    pub fn print(&self, server: &ScriptedApi, prompt: &str) -> PrintRun {
        let out_path = self.hooks_dir.join("claude.stdout");
        let err_path = self.hooks_dir.join("claude.stderr");
        let out = fs::File::create(&out_path).expect("creating the stdout file");
        let err = fs::File::create(&err_path).expect("creating the stderr file");
        let started = Instant::now();
        let child = self
            .command(server)
            .args(["--output-format", "json", "-p", prompt])
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin.display()));
        let status = wait_with_timeout(child, PRINT_TIMEOUT)
            .unwrap_or_else(|e| panic!("claude -p {prompt:?}: {e}"));
        PrintRun {
            status,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
            elapsed: started.elapsed(),
        }
    }

    /// Starts a headless claude steered with stream-json on stdin
    /// (`-p --input-format stream-json --output-format stream-json --verbose`).
    pub fn headless(&self, server: &ScriptedApi) -> HeadlessClaude {
        let child = self
            .command(server)
            .args([
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin.display()));
        HeadlessClaude::new(child)
    }

    /// Starts an interactive claude in a tmux session on a private socket in the sandbox, in
    /// the project folder.
    pub fn interactive(&self, server: &ScriptedApi) -> TmuxClaude {
        self.interactive_in(server, &self.project)
    }

    /// Starts an interactive claude in `cwd` (e.g. a worktree made inside the project).
    pub fn interactive_in(&self, server: &ScriptedApi, cwd: &Path) -> TmuxClaude {
        let argv = [
            self.bin.to_string_lossy().into_owned(),
            "--dangerously-skip-permissions".to_owned(),
        ];
        TmuxClaude::start(
            &self.hooks_dir.join("tmux.sock"),
            cwd,
            &self.home.env(server),
            &argv,
        )
    }

    /// Where a session's transcript is.
    pub fn transcript_path(&self, session_id: &str) -> PathBuf {
        self.home.transcript_path(&self.project, session_id)
    }
}

/// Single-quotes `path` for a shell command line.
pub fn shell_quote(path: &Path) -> String {
    let mut quoted = String::from("'");
    for c in path.to_string_lossy().chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}
