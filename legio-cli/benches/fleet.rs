//! Fleet timings through the release binary, medians printed as a table:
//!
//! - `legio sling` up to the first prompt delivered and checked, in tmux and headless, with an
//!   agent that does nothing but read its input (`cat`), so the agent's own start-up is not
//!   measured. The check for a script is "its process still runs 200 ms after the prompt"
//!   (`DeliveryOptions::settle`), which is part of the figure; an agent whose prompt hook runs
//!   is confirmed sooner, as the `sim-agent` row shows (that row includes the sim-agent's own
//!   start-up and its SessionStart and UserPromptSubmit hooks).
//! - `legio status` (text and `--json`) with 100 agents, 100 worktrees and 100 tmux sessions.
//!
//! Run: `cargo bench -p legio-cli --bench fleet` (tmux and git must be installed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: any failure aborts it

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout, Timestamp};

const LEGIO: &str = env!("CARGO_BIN_EXE_legio");
const SLINGS: usize = 12;
const STATUS_RUNS: usize = 25;
const AGENTS: usize = 100;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

struct Bench {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tmux_dir: PathBuf,
}

impl Bench {
    fn new(agent: &[&str], headless: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("repo");
        let tmux_dir = dir.path().join("t");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&tmux_dir).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Bench"]);
        git(&root, &["config", "user.email", "bench@example.com"]);
        std::fs::write(root.join("README.md"), "bench\n").unwrap();
        git(&root, &["add", "."]);
        git(&root, &["commit", "-q", "-m", "init"]);
        let b = Self {
            _dir: dir,
            root,
            tmux_dir,
        };
        b.legio(&["init"]);
        let command: Vec<String> = agent.iter().map(|a| format!("{a:?}")).collect();
        std::fs::write(
            b.root.join(".legio/config.local.yaml"),
            format!(
                "runtime:\n  default: script\n  headless: {headless}\n  script:\n    command: [{}]\nagents:\n  staggerDelayMs: 0\n  maxConcurrent: 500\n",
                command.join(", ")
            ),
        )
        .unwrap();
        b.legio(&["task", "create", "Bench", "--id", "t-1"]);
        b
    }

    fn legio(&self, args: &[&str]) -> Duration {
        let started = Instant::now();
        let out = Command::new(LEGIO)
            .args(args)
            .current_dir(&self.root)
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "legio {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = Command::new(LEGIO)
            .args(["stop", "--all"])
            .current_dir(&self.root)
            .env("TMUX_TMPDIR", &self.tmux_dir)
            .output();
        if let Ok(dirs) = std::fs::read_dir(&self.tmux_dir) {
            for socket in dirs
                .flatten()
                .filter_map(|d| std::fs::read_dir(d.path()).ok())
                .flatten()
                .flatten()
            {
                let _ = Command::new("tmux")
                    .arg("-S")
                    .arg(socket.path())
                    .arg("kill-server")
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn sling_times(agent: &[&str], headless: bool) -> Duration {
    let b = Bench::new(agent, headless);
    let samples = (0..SLINGS)
        .map(|i| b.legio(&["sling", "t-1", "--name", &format!("a{i}")]))
        .collect();
    median(samples)
}

fn status_times() -> (Duration, Duration) {
    let b = Bench::new(&["sleep", "600"], false);
    let layout = Layout::new(&b.root);
    let sessions = legio_store::SqliteSessionStore::open_in(&layout).unwrap();
    let now = Timestamp::from_millis(1_769_860_800_000);
    for i in 0..AGENTS {
        let name = format!("agent-{i:03}");
        let wt = b.root.join(".legio/worktrees").join(&name);
        git(
            &b.root,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("legio/{name}/t-1"),
                wt.to_str().unwrap(),
                "main",
            ],
        );
        sessions
            .upsert(&AgentSession {
                id: format!("session-{i}-{name}"),
                agent_name: AgentName::new(name.clone()).unwrap(),
                capability: Capability::Builder,
                worktree_path: wt.display().to_string(),
                branch_name: format!("legio/{name}/t-1"),
                bead_id: "t-1".into(),
                tmux_session: format!("legio-repo-{name}"),
                state: AgentState::Working,
                pid: None,
                parent_agent: None,
                depth: 0,
                run_id: None,
                started_at: now.plus_millis(i as i64),
                last_activity: now.plus_millis(i as i64),
                escalation_level: 0,
                stalled_since: None,
                terminal_log_path: None,
                runtime: "script".into(),
                file_scope: vec![],
                spec_path: None,
            })
            .unwrap();
    }
    // 100 live tmux sessions on the project's own server (status lists them in one call).
    let socket = legio_tmux::socket_name("repo", &b.root);
    for i in 0..AGENTS {
        let ok = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-s"])
            .arg(format!("legio-repo-agent-{i:03}"))
            .args(["sleep", "600"])
            .env("TMUX_TMPDIR", &b.tmux_dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session");
    }
    let text = median((0..STATUS_RUNS).map(|_| b.legio(&["status"])).collect());
    let json = median(
        (0..STATUS_RUNS)
            .map(|_| b.legio(&["--json", "status"]))
            .collect(),
    );
    (text, json)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "legio fleet benchmark (load average: {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let tmux = sling_times(&["cat"], false);
    let headless = sling_times(&["cat"], true);
    let plan = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(plan.path(), "{}").unwrap();
    let plan_path = plan.path().display().to_string();
    let sim = sling_times(&[LEGIO, "sim-agent", "--plan", &plan_path], false);
    let (text, json) = status_times();
    println!("{:<58} {:>10}", "measurement", "median");
    for (what, t) in [
        (
            format!("sling to first prompt delivered, tmux ({SLINGS} runs)"),
            tmux,
        ),
        (
            format!("sling to first prompt delivered, headless ({SLINGS} runs)"),
            headless,
        ),
        (
            format!("sling to prompt hook confirmed, tmux sim-agent ({SLINGS} runs)"),
            sim,
        ),
        (
            format!("legio status, {AGENTS} agents ({STATUS_RUNS} runs)"),
            text,
        ),
        (
            format!("legio status --json, {AGENTS} agents ({STATUS_RUNS} runs)"),
            json,
        ),
    ] {
        println!("{what:<58} {:>10}", ms(t));
    }
}
