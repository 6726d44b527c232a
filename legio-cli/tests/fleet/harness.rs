//! A project with a fleet: the real `legio` binary, real git, a real tmux server on a socket in
//! the test's own directory (`TMUX_TMPDIR`), or headless processes; agents are `legio
//! sim-agent` following JSON plans, run by the `script` runtime.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use legio_core::domain::event::StoredEvent;
use legio_core::ports::{EventQuery, EventStore, SessionStore};
use legio_core::{AgentName, AgentSession, AgentState, Layout};
use serde_json::Value;

use crate::support::project::{Project, git, legio_bin};

/// Where agents run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A private tmux server.
    Tmux,
    /// Detached processes (`runtime.headless: true`).
    Headless,
}

/// How long an agent may take to reach a state on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A plan where the agent does its work, commits it and reports `worker_done`.
pub fn worker_plan() -> Value {
    serde_json::json!({"steps": [
        {"write": {"path": "src/${AGENT}.txt", "content": "work of ${AGENT}\n"}},
        {"run": "test -f src/${AGENT}.txt"},
        {"commit": "${AGENT}: the work"},
        {"mail": {"type": "worker_done", "subject": "Worker done: ${TASK}", "body": "Quality gates passed."}}
    ], "then": "wait"})
}

/// A plan where the agent writes a file and then waits for prompts (idle), never completing.
pub fn idle_plan() -> Value {
    serde_json::json!({"steps": [
        {"write": {"path": "notes/${AGENT}.md", "content": "thinking\n"}}
    ], "then": "wait"})
}

/// A fleet test project.
pub struct Fleet {
    /// The repository.
    pub p: Project,
    /// `TMUX_TMPDIR` of every legio call (and so of the tmux server).
    pub tmux_dir: PathBuf,
    /// Agents' plans (`<agent>.json`, `default.json`).
    pub plans: PathBuf,
    /// The backend.
    pub backend: Backend,
}

impl Fleet {
    /// `legio init` in a fresh repository, agents as sim-agents on `backend`.
    pub fn new(backend: Backend) -> Self {
        let p = Project::new();
        let base = p
            .root
            .parent()
            .expect("the repo has a parent")
            .to_path_buf();
        let tmux_dir = base.join("t");
        let plans = base.join("plans");
        std::fs::create_dir_all(&tmux_dir).unwrap();
        std::fs::create_dir_all(&plans).unwrap();
        let fleet = Self {
            p,
            tmux_dir,
            plans,
            backend,
        };
        fleet.plan("default", &idle_plan());
        fleet.configure("");
        fleet
    }

    /// Writes `.legio/config.local.yaml`: the sim-agent runtime, no stagger, a boot timeout
    /// for a loaded machine, the backend, and `agents` lines (indented YAML under `agents:`).
    pub fn configure(&self, agents: &str) {
        let text = format!(
            "runtime:\n  default: script\n  headless: {}\n  script:\n    command: [{:?}, \"sim-agent\", \"--plan-dir\", {:?}]\nagents:\n  staggerDelayMs: 0\n{agents}watchdog:\n  bootTimeoutMs: 60000\n",
            self.backend == Backend::Headless,
            legio_bin().display().to_string(),
            self.plans.display().to_string(),
        );
        std::fs::write(self.p.root.join(".legio/config.local.yaml"), text).unwrap();
    }

    /// Gives `agent` (or `default`) a plan.
    pub fn plan(&self, agent: &str, plan: &Value) {
        std::fs::write(
            self.plans.join(format!("{agent}.json")),
            serde_json::to_string_pretty(plan).unwrap(),
        )
        .unwrap();
    }

    /// Runs legio with the fleet's environment plus `env`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let dir = self.tmux_dir.display().to_string();
        let mut all = vec![("TMUX_TMPDIR", dir.as_str())];
        all.extend_from_slice(env);
        self.p.run(args, &all, None)
    }

    /// Runs legio, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, &[]);
        assert!(
            out.status.success(),
            "legio {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs legio with `--json`, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// Runs legio, asserts it exited with `code`, returns (stdout, stderr).
    pub fn fails(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> (String, String) {
        let out = self.run(args, env);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "legio {args:?}: expected exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// `legio status --json`.
    pub fn status(&self) -> Value {
        self.json(&["status"])
    }

    fn layout(&self) -> Layout {
        Layout::new(&self.p.root)
    }

    /// The agent's session row.
    pub fn row(&self, agent: &str) -> Option<AgentSession> {
        legio_store::SqliteSessionStore::open_in(&self.layout())
            .unwrap()
            .get(&AgentName::new(agent).unwrap())
            .unwrap()
    }

    /// Waits until the agent is in `state`; fails the test with the status after [`PATIENCE`].
    pub fn wait_state(&self, agent: &str, state: AgentState) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.row(agent).map(|r| r.state);
            if now == Some(state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{agent} is {now:?}, not {state}, after {} s\n{}",
                PATIENCE.as_secs(),
                self.ok(&["status"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every event of `agent`, oldest first.
    pub fn events(&self, agent: &str) -> Vec<StoredEvent> {
        legio_store::SqliteEventStore::open_in(&self.layout())
            .unwrap()
            .query(&EventQuery {
                agents: vec![agent.to_owned()],
                oldest_first: true,
                ..EventQuery::default()
            })
            .unwrap()
    }

    /// Waits until `agent` has recorded an event of `event_type`.
    pub fn wait_event(&self, agent: &str, event_type: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.event_types(agent).iter().any(|t| t == event_type) {
            assert!(
                Instant::now() < deadline,
                "{agent} recorded no {event_type} within {} s: {:?}",
                PATIENCE.as_secs(),
                self.event_types(agent)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The event types of `agent`, oldest first.
    pub fn event_types(&self, agent: &str) -> Vec<String> {
        self.events(agent)
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    /// Local branches.
    pub fn branches(&self) -> Vec<String> {
        git(&self.p.root, &["branch", "--format=%(refname:short)"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The names of the multiplexer sessions `legio status` sees.
    pub fn session_names(&self) -> Vec<String> {
        self.status()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The tmux server sockets that exist in the test's `TMUX_TMPDIR`.
    pub fn tmux_sockets(&self) -> Vec<PathBuf> {
        let Ok(dirs) = std::fs::read_dir(&self.tmux_dir) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter_map(|d| std::fs::read_dir(d.path()).ok())
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    }
}

impl Drop for Fleet {
    /// Ends every agent and the tmux server, so no process outlives the test.
    fn drop(&mut self) {
        let _ = self.run(&["stop", "--all"], &[]);
        for socket in self.tmux_sockets() {
            let _ = std::process::Command::new("tmux")
                .arg("-S")
                .arg(&socket)
                .arg("kill-server")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
