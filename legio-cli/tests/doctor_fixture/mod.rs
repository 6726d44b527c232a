//! Fixture projects for the `doctor`, `clean` and `dashboard` tests: a real git repository
//! set up with `legio init`, a hermetic environment (own HOME, own tmux socket directory,
//! fake `claude`, `bd` and `mulch` on PATH so that dependencies pass), real SQLite files
//! seeded through legio-store, and a real tmux server on legio's private socket, killed when
//! the project is dropped.
#![allow(dead_code)] // each test binary uses a part of it
#![allow(clippy::unwrap_used)] // a fixture step that fails is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use legio_core::domain::agent::{AgentSession, AgentState, Capability};
use legio_core::ports::SessionStore;
use legio_core::{AgentName, Layout, Timestamp};

/// 2026-01-31T12:00:00.000Z.
pub const T0: i64 = 1_769_860_800_000;

/// A pid that is never alive (above the largest pid Linux allows).
pub const DEAD_PID: u32 = 4_194_400;

/// A project made for one test.
pub struct Project {
    _tmp: tempfile::TempDir,
    /// The main checkout (canonical).
    pub root: PathBuf,
    home: PathBuf,
    tmux_dir: PathBuf,
    bin: PathBuf,
}

impl Project {
    /// `git init -b main`, one commit, `legio init`, legio's hooks in the root settings.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("project");
        let home = base.join("home");
        let tmux_dir = base.join("tmux");
        let bin = base.join("bin");
        for d in [&root, &home, &tmux_dir, &bin] {
            std::fs::create_dir_all(d).unwrap();
        }
        for (tool, version) in [
            ("claude", "2.1.332 (Claude Code)"),
            ("bd", "bd version 0.9.0"),
            ("mulch", "mulch 1.2.0"),
        ] {
            let path = bin.join(tool);
            std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let p = Self {
            _tmp: tmp,
            root,
            home,
            tmux_dir,
            bin,
        };
        p.git(&["init", "-q", "-b", "main"]);
        p.git(&["config", "user.name", "Legio Test"]);
        p.git(&["config", "user.email", "test@legio.invalid"]);
        p.write("README.md", "# project\n");
        p.git(&["add", "-A"]);
        p.git(&["commit", "-q", "-m", "initial"]);
        p.legio_ok(&["init"]);
        p.install_root_hooks();
        p
    }

    /// The project's layout.
    pub fn layout(&self) -> Layout {
        Layout::new(&self.root)
    }

    fn env(&self, cmd: &mut Command) {
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display());
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2026-01-31T12:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-31T12:00:00Z")
            .env("NO_COLOR", "1")
            .current_dir(&self.root)
            .stdin(Stdio::null());
    }

    /// `program` in the project's hermetic environment, not yet run.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.env(&mut cmd);
        cmd
    }

    /// A directory for the test's own files.
    pub fn scratch(&self) -> PathBuf {
        self.tmux_dir.clone()
    }

    /// `legio ARGS` in the project, not yet run.
    pub fn legio(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("legio"));
        self.env(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// Runs `legio ARGS`; returns (status code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.legio(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `legio ARGS` and fails the test unless it succeeded.
    pub fn legio_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "legio {args:?} failed:\n{out}\n{err}");
        out
    }

    /// Runs git in `dir`; fails the test on error.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        let out = cmd.current_dir(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs git in the main checkout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// Writes a file of the main checkout.
    pub fn write(&self, path: &str, text: &str) {
        let p = self.root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The local branches starting with `legio/`.
    pub fn legio_branches(&self) -> Vec<String> {
        self.git(&[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/legio/",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// Adds the worktree `.legio/worktrees/<agent>` on a new branch `legio/<agent>/<task>`
    /// from main; with `commit`, a file committed on the branch (so it is not merged).
    pub fn worktree(&self, agent: &str, task: &str, commit: bool) -> PathBuf {
        let path = self.root.join(".legio/worktrees").join(agent);
        let branch = format!("legio/{agent}/{task}");
        self.git(&[
            "worktree",
            "add",
            "-q",
            "-b",
            &branch,
            path.to_str().unwrap(),
            "main",
        ]);
        if commit {
            std::fs::write(path.join(format!("{agent}.txt")), "work\n").unwrap();
            self.git_in(&path, &["add", "-A"]);
            self.git_in(&path, &["commit", "-q", "-m", &format!("{agent} works")]);
        }
        path
    }

    /// legio's tmux socket name for this project.
    pub fn socket(&self) -> String {
        legio_tmux::socket_name("project", &self.root)
    }

    /// Runs tmux on legio's socket; returns whether it succeeded and its stdout.
    pub fn tmux(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new("tmux");
        self.env(&mut cmd);
        let out: Output = cmd
            .arg("-u")
            .arg("-L")
            .arg(self.socket())
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Starts a session named `name` on legio's socket running a long sleep.
    pub fn tmux_session(&self, name: &str) {
        let (ok, _) = self.tmux(&["new-session", "-d", "-s", name, "sleep", "600"]);
        assert!(ok, "tmux new-session {name} failed");
    }

    /// The session names on legio's socket.
    pub fn tmux_sessions(&self) -> Vec<String> {
        let (_, out) = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// Registers an agent row in `sessions.db`.
    pub fn agent(&self, name: &str, role: Capability, state: AgentState) -> AgentSession {
        let worktree = self.root.join(".legio/worktrees").join(name);
        let row = AgentSession {
            id: format!("session-{T0}-{name}"),
            agent_name: AgentName::new(name).unwrap(),
            capability: role,
            worktree_path: worktree.display().to_string(),
            branch_name: format!("legio/{name}/t-1"),
            bead_id: "t-1".into(),
            tmux_session: format!("legio-project-{name}"),
            state,
            pid: None,
            parent_agent: None,
            depth: 0,
            run_id: Some("run-1".into()),
            started_at: Timestamp::from_millis(T0),
            last_activity: Timestamp::from_millis(T0),
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "claude".into(),
            file_scope: Vec::new(),
            spec_path: None,
        };
        legio_store::SqliteSessionStore::open_in(&self.layout())
            .unwrap()
            .upsert(&row)
            .unwrap();
        row
    }

    /// insta settings that replace the project's paths, the socket name and tool versions.
    pub fn snapshots(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in self.filters() {
            settings.add_filter(&pattern, replacement);
        }
        settings
    }

    fn filters(&self) -> Vec<(String, String)> {
        vec![
            (
                regex_escape(&self.root.display().to_string()),
                "[ROOT]".into(),
            ),
            (
                regex_escape(&assert_cmd::cargo::cargo_bin("legio").display().to_string()),
                "[LEGIO]".into(),
            ),
            (
                r"git version [0-9][^\s\x22]*".into(),
                "git version [VERSION]".into(),
            ),
            (r"tmux [0-9][^\s\x22]*".into(), "tmux [VERSION]".into()),
            (regex_escape(&self.socket()), "[SOCKET]".into()),
        ]
    }

    fn install_root_hooks(&self) {
        let bin = assert_cmd::cargo::cargo_bin("legio");
        let hooks = legio_core::ops::settings::legio_hooks(&bin, Some("orchestrator"));
        let text = legio_core::ops::settings::install("settings.local.json", "", &hooks).unwrap();
        self.write(".claude/settings.local.json", &text);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `text` with regex metacharacters escaped.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
