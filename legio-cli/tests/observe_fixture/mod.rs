//! A seeded legio project for the observability tests: agents, runs, events, mail, metrics,
//! tasks, groups, output logs and Claude Code transcripts, written through the real stores with
//! fixed timestamps, and the `legio` binary run against it with a fixed clock
//! (`LEGIO_TEST_NOW`), no colour and a private `HOME`.
//!
//! The story (all times 2026-01-31 UTC unless said): run `run-2026-01-31T11-00-00-000Z` is
//! current, with lead-1 (working on proj-a1), scout-1 (completed, proj-a1) and builder-1
//! (working on proj-b1, editing `src/app.rs`, one failed Bash call, one error). An older
//! completed run of 2026-01-30 had builder-0, now a zombie with two errors. Now is 12:00:00.

#![allow(dead_code)] // each test binary uses a part of it

use std::path::{Path, PathBuf};
use std::process::Command;

use legio_core::domain::agent::{AgentSession, AgentState, Capability, Run, RunStatus};
use legio_core::domain::event::{EventLevel, EventType, NewEvent};
use legio_core::domain::mail::{MailType, NewMail, Priority};
use legio_core::domain::merge::ResolutionTier;
use legio_core::domain::metrics::{SessionMetrics, TokenUsage};
use legio_core::domain::task::{NewTask, TaskPatch, TaskStatus};
use legio_core::ports::{EventStore, MailStore, MetricsStore, SessionStore, TaskStore};
use legio_core::{AgentName, Layout, TaskId, Timestamp};
use legio_store::{
    SqliteEventStore, SqliteMailStore, SqliteMetricsStore, SqliteSessionStore, SqliteTaskStore,
};

/// The fixed "now" of every command run.
pub const NOW: &str = "2026-01-31T12:00:00.000Z";
/// The current run.
pub const RUN_A: &str = "run-2026-01-31T11-00-00-000Z";
/// The older, completed run.
pub const RUN_B: &str = "run-2026-01-30T09-00-00-000Z";

/// A time on 2026-01-31 (UTC).
pub fn at(h: u32, m: u32, s: u32) -> Timestamp {
    Timestamp::parse(&format!("2026-01-31T{h:02}:{m:02}:{s:02}.000Z")).expect("a valid time")
}

/// A time on 2026-01-30 (UTC).
pub fn day_before(h: u32, m: u32, s: u32) -> Timestamp {
    Timestamp::parse(&format!("2026-01-30T{h:02}:{m:02}:{s:02}.000Z")).expect("a valid time")
}

/// What one `legio` run did.
#[derive(Debug)]
pub struct Output {
    /// The exit status code.
    pub code: i32,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl Output {
    /// stdout as JSON; fails the test otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// A legio project in a temporary directory, with its own `HOME`.
pub struct Fixture {
    dir: tempfile::TempDir,
    /// The repository root.
    pub root: PathBuf,
    /// The `HOME` the binary gets (Claude Code transcripts live under it).
    pub home: PathBuf,
}

impl Fixture {
    /// A git repository with an empty `.legio/`.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("legio-observe-")
            .tempdir()
            .expect("a temporary directory");
        let base = dir.path().canonicalize().expect("a canonical path");
        let root = base.join("project");
        let home = base.join("home");
        std::fs::create_dir_all(root.join(".legio")).expect("creating .legio");
        std::fs::create_dir_all(&home).expect("creating the home");
        let git = Command::new("git")
            .args(["init", "-q"])
            .arg(&root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("running git init");
        assert!(git.success(), "git init failed");
        Self { dir, root, home }
    }

    /// The project with the whole story seeded.
    pub fn seeded() -> Self {
        let fx = Self::empty();
        fx.seed();
        fx
    }

    /// The project's layout.
    pub fn layout(&self) -> Layout {
        Layout::new(&self.root)
    }

    /// Runs `legio -C <root> ARGS` with the fixed clock.
    pub fn legio(&self, args: &[&str]) -> Output {
        self.legio_with(args, &[])
    }

    /// Runs `legio -C <root> ARGS` with extra environment variables.
    pub fn legio_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("running legio");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The `legio` command, ready to run (hermetic environment, fixed clock, no colour).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_legio"));
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env("LEGIO_TEST_NOW", NOW)
            .arg("-C")
            .arg(&self.root)
            .args(args);
        cmd
    }

    /// Replaces this fixture's paths in `text` with `[ROOT]` and `[HOME]`, and the root's
    /// Claude Code project key (in transcript paths) with `[ROOT-KEY]`.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "[ROOT]")
            .replace(&self.home.display().to_string(), "[HOME]")
            .replace(&key(&self.root), "[ROOT-KEY]")
    }

    /// Where Claude Code keeps the transcript of `session` run in `cwd`, under this HOME.
    pub fn transcript_path(&self, cwd: &Path, session: &str) -> PathBuf {
        self.home
            .join(".claude/projects")
            .join(key(cwd))
            .join(format!("{session}.jsonl"))
    }

    fn seed(&self) {
        let layout = self.layout();
        self.seed_sessions(&layout);
        self.seed_events(&layout);
        Self::seed_mail(&layout);
        Self::seed_metrics(&layout);
        Self::seed_tasks(&layout);
        Self::seed_files(&layout);
        self.seed_transcripts();
    }

    /// Claude Code transcripts of builder-1 (Sonnet 4.5, a response written twice with a growing
    /// output count, 1-hour and 5-minute cache writes: $0.083115) and scout-1 (Haiku 4.5:
    /// $0.00315), with the bookkeeping lines a parser must skip.
    fn seed_transcripts(&self) {
        let assistant = |id: &str, req: &str, model: &str, usage: serde_json::Value| {
            serde_json::json!({
                "type": "assistant", "requestId": req, "isSidechain": false,
                "message": {"id": id, "model": model, "role": "assistant",
                            "content": [{"type": "text", "text": "working"}], "usage": usage},
            })
            .to_string()
        };
        let usage = |input: u64, output: u64, read: u64, w5m: u64, w1h: u64| {
            serde_json::json!({
                "input_tokens": input, "output_tokens": output, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": w5m + w1h,
                "cache_creation": {"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h},
            })
        };
        let sonnet = "claude-sonnet-4-5-20250929";
        let builder = [
            r#"{"type":"user","message":{"role":"user","content":"Implement the settings page"}}"#
                .to_owned(),
            assistant("msg_b1", "req_b1", sonnet, usage(1200, 5, 0, 0, 9000)),
            r#"{"type":"queue-operation","operation":"enqueue"}"#.to_owned(),
            assistant("msg_b1", "req_b1", sonnet, usage(1200, 340, 0, 0, 9000)),
            assistant("msg_b2", "req_b2", sonnet, usage(30, 800, 9000, 1500, 0)),
            r#"{"type":"cost-state","total":1}"#.to_owned(),
        ];
        let scout = [
            r#"{"type":"user","message":{"role":"user","content":"Scout"}}"#.to_owned(),
            assistant(
                "msg_s1",
                "req_s1",
                "claude-haiku-4-5-20251001",
                usage(500, 200, 4000, 1000, 0),
            ),
        ];
        for (agent, lines) in [("builder-1", &builder[..]), ("scout-1", &scout[..])] {
            let cwd = self.root.join(".legio/worktrees").join(agent);
            let path = self.transcript_path(&cwd, &format!("sess-{agent}"));
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("projects dir");
            std::fs::write(&path, lines.join("\n") + "\n").expect("a transcript");
        }
    }

    fn seed_sessions(&self, layout: &Layout) {
        let store = SqliteSessionStore::open_in(layout).expect("sessions.db");
        store
            .create_run(&Run {
                id: RUN_B.into(),
                started_at: day_before(9, 0, 0),
                completed_at: Some(day_before(10, 30, 0)),
                agent_count: 1,
                coordinator_session_id: None,
                status: RunStatus::Completed,
            })
            .expect("run B");
        store
            .create_run(&Run {
                id: RUN_A.into(),
                started_at: at(11, 0, 0),
                completed_at: None,
                agent_count: 3,
                coordinator_session_id: Some("session-coordinator".into()),
                status: RunStatus::Active,
            })
            .expect("run A");
        std::fs::write(layout.current_run(), RUN_A).expect("current-run.txt");
        let agents = [
            agent(
                self,
                "builder-0",
                Capability::Builder,
                "proj-old",
                AgentState::Zombie,
                None,
                RUN_B,
                day_before(9, 10, 0),
                day_before(10, 0, 0),
            ),
            agent(
                self,
                "lead-1",
                Capability::Lead,
                "proj-a1",
                AgentState::Working,
                None,
                RUN_A,
                at(11, 0, 0),
                at(11, 58, 0),
            ),
            agent(
                self,
                "scout-1",
                Capability::Scout,
                "proj-a1",
                AgentState::Completed,
                Some("lead-1"),
                RUN_A,
                at(11, 2, 0),
                at(11, 20, 0),
            ),
            agent(
                self,
                "builder-1",
                Capability::Builder,
                "proj-b1",
                AgentState::Working,
                Some("lead-1"),
                RUN_A,
                at(11, 5, 0),
                at(11, 59, 30),
            ),
        ];
        for a in &agents {
            store.upsert(a).expect("an agent row");
        }
    }

    fn seed_events(&self, layout: &Layout) {
        let store = SqliteEventStore::open_in(layout).expect("events.db");
        let builder_wt = self.root.join(".legio/worktrees/builder-1");
        let builder_transcript = self.transcript_path(&builder_wt, "sess-builder-1");
        let scout_transcript =
            self.transcript_path(&self.root.join(".legio/worktrees/scout-1"), "sess-scout-1");
        // Paths inside event data are fixed strings, so lines cut to a width stay the same
        // wherever the fixture lives.
        let file = "/work/app/src/app.rs";
        let e = |agent: &str, run: &str, ty: EventType, t: Timestamp| {
            let mut e = NewEvent::new(agent, ty, t);
            e.run_id = Some(run.to_owned());
            e
        };
        let tool = |agent: &str,
                    tool: &str,
                    args: serde_json::Value,
                    summary: &str,
                    t,
                    ms: Option<i64>| {
            let mut ev = e(agent, RUN_A, EventType::ToolStart, t);
            ev.session_id = Some(format!("sess-{agent}"));
            ev.tool_name = Some(tool.to_owned());
            ev.tool_args = Some(args.to_string());
            ev.tool_duration_ms = ms;
            ev.data = Some(serde_json::json!({ "summary": summary }).to_string());
            ev
        };
        let mut events = Vec::new();
        // builder-0, the day before (run B).
        let mut b0 = e(
            "builder-0",
            RUN_B,
            EventType::SessionStart,
            day_before(9, 11, 0),
        );
        b0.data = Some(r#"{"source":"startup"}"#.into());
        events.push(b0);
        for (t, msg) in [
            (day_before(9, 40, 0), "cargo test failed: 3 tests"),
            (day_before(9, 55, 0), "worktree has uncommitted changes"),
        ] {
            let mut ev = e("builder-0", RUN_B, EventType::Error, t);
            ev.level = EventLevel::Error;
            ev.data = Some(serde_json::json!({ "message": msg }).to_string());
            events.push(ev);
        }
        // lead-1 spawns scout-1 and builder-1 and mails.
        let mut s = e("lead-1", RUN_A, EventType::Spawn, at(11, 2, 0));
        s.data = Some(r#"{"agent":"scout-1","capability":"scout","task":"proj-a1"}"#.into());
        events.push(s);
        let mut s = e("lead-1", RUN_A, EventType::Spawn, at(11, 5, 0));
        s.data = Some(r#"{"agent":"builder-1","capability":"builder","task":"proj-b1"}"#.into());
        events.push(s);
        // scout-1: a short session, recorded with its transcript.
        let mut ss = e("scout-1", RUN_A, EventType::SessionStart, at(11, 2, 10));
        ss.session_id = Some("sess-scout-1".into());
        ss.data = Some(
            serde_json::json!({"source": "startup", "transcriptPath": scout_transcript.display().to_string()})
                .to_string(),
        );
        events.push(ss);
        events.push(tool(
            "scout-1",
            "Grep",
            serde_json::json!({"pattern": "fn main", "path": "src"}),
            "grep: \"fn main\" in src",
            at(11, 3, 0),
            Some(40),
        ));
        let mut done = e("scout-1", RUN_A, EventType::MailSent, at(11, 19, 0));
        done.data = Some(r#"{"to":"lead-1","subject":"Scouting done","type":"worker_done","priority":"normal","messageId":"msg-fixture0002"}"#.into());
        events.push(done);
        let mut st = e("scout-1", RUN_A, EventType::StateChange, at(11, 19, 0));
        st.data = Some(r#"{"to":"completed","reason":"worker_done"}"#.into());
        events.push(st);
        let mut end = e("scout-1", RUN_A, EventType::SessionEnd, at(11, 20, 0));
        end.data = Some(r#"{"reason":"other","completed":true}"#.into());
        events.push(end);
        // builder-1: works on src/app.rs.
        let mut bs = e("builder-1", RUN_A, EventType::SessionStart, at(11, 5, 10));
        bs.session_id = Some("sess-builder-1".into());
        bs.data = Some(
            serde_json::json!({"source": "startup", "transcriptPath": builder_transcript.display().to_string()})
                .to_string(),
        );
        events.push(bs);
        let mut p = e("builder-1", RUN_A, EventType::PromptSubmit, at(11, 5, 20));
        p.data = Some(r#"{"prompt":"Implement the settings page"}"#.into());
        events.push(p);
        events.push(tool(
            "builder-1",
            "Read",
            serde_json::json!({"file_path": file}),
            &format!("read: {file}"),
            at(11, 50, 0),
            Some(12),
        ));
        events.push(tool(
            "builder-1",
            "Edit",
            serde_json::json!({"file_path": file}),
            &format!("edit: {file}"),
            at(11, 52, 0),
            Some(85),
        ));
        events.push(tool(
            "builder-1",
            "Bash",
            serde_json::json!({"command": "cargo test", "description": "run the tests"}),
            "bash: cargo test",
            at(11, 55, 0),
            Some(4_200),
        ));
        let mut fail = e("builder-1", RUN_A, EventType::ToolEnd, at(11, 55, 4));
        fail.session_id = Some("sess-builder-1".into());
        fail.tool_name = Some("Bash".into());
        fail.tool_duration_ms = Some(4_200);
        fail.level = EventLevel::Warn;
        fail.data = Some(r#"{"error":"Exit code 101\ntest settings::saves ... FAILED"}"#.into());
        events.push(fail);
        let mut err = e("builder-1", RUN_A, EventType::Error, at(11, 56, 0));
        err.level = EventLevel::Error;
        err.data =
            Some(r#"{"message":"merge check failed","branch":"legio/builder-1/proj-b1"}"#.into());
        events.push(err);
        let mut mail = e("builder-1", RUN_A, EventType::MailReceived, at(11, 57, 0));
        mail.data =
            Some(r#"{"count":1,"messageIds":["msg-fixture0003"],"via":"PostToolUse"}"#.into());
        events.push(mail);
        events.push(tool(
            "builder-1",
            "Write",
            serde_json::json!({"file_path": file}),
            &format!("write: {file}"),
            at(11, 59, 30),
            None,
        ));
        // The orchestrator (no session row) sends mail.
        let mut o = e("orchestrator", RUN_A, EventType::MailSent, at(11, 58, 0));
        o.data = Some(r#"{"to":"builder-1","subject":"Use the new API","type":"status","priority":"high","messageId":"msg-fixture0003"}"#.into());
        events.push(o);
        for ev in &events {
            store.insert(ev).expect("an event");
        }
    }

    fn seed_mail(layout: &Layout) {
        let store = SqliteMailStore::open_in(layout).expect("mail.db");
        let mut m = NewMail::new(
            "lead-1",
            "scout-1",
            MailType::Dispatch,
            "Scout the codebase",
            "Find where settings live.",
        );
        m.id = Some("msg-fixture0001".into());
        store.send(&m, at(11, 2, 5)).expect("mail");
        let mut m = NewMail::new(
            "scout-1",
            "lead-1",
            MailType::WorkerDone,
            "Scouting done",
            "Settings live in src/app.rs.",
        );
        m.id = Some("msg-fixture0002".into());
        store.send(&m, at(11, 19, 0)).expect("mail");
        let mut m = NewMail::new(
            "orchestrator",
            "builder-1",
            MailType::Status,
            "Use the new API",
            "Prefer Settings::load.",
        );
        m.id = Some("msg-fixture0003".into());
        m.priority = Priority::High;
        store.send(&m, at(11, 58, 0)).expect("mail");
    }

    fn seed_metrics(layout: &Layout) {
        let store = SqliteMetricsStore::open_in(layout).expect("metrics.db");
        let row = |agent: &str,
                   task: &str,
                   cap: &str,
                   start: Timestamp,
                   end: Option<Timestamp>,
                   run: &str| SessionMetrics {
            agent_name: agent.into(),
            bead_id: task.into(),
            capability: cap.into(),
            started_at: start,
            completed_at: end,
            duration_ms: end.unwrap_or(at(12, 0, 0)).millis_since(start),
            exit_code: end.map(|_| 0),
            merge_result: None,
            parent_agent: Some("lead-1".into()),
            run_id: Some(run.into()),
            usage: TokenUsage {
                input_tokens: 1_200,
                output_tokens: 3_400,
                cache_read_tokens: 56_000,
                cache_creation_tokens: 7_800,
            },
            estimated_cost_usd: Some(0.1234),
            model_used: Some("claude-sonnet-4-5-20250929".into()),
        };
        let mut b0 = row(
            "builder-0",
            "proj-old",
            "builder",
            day_before(9, 10, 0),
            Some(day_before(10, 0, 0)),
            RUN_B,
        );
        b0.merge_result = Some(ResolutionTier::CleanMerge);
        b0.parent_agent = None;
        store.record_session(&b0).expect("metrics");
        store
            .record_session(&row(
                "scout-1",
                "proj-a1",
                "scout",
                at(11, 2, 0),
                Some(at(11, 20, 0)),
                RUN_A,
            ))
            .expect("metrics");
        store
            .record_session(&row(
                "builder-1",
                "proj-b1",
                "builder",
                at(11, 5, 0),
                None,
                RUN_A,
            ))
            .expect("metrics");
    }

    fn seed_tasks(layout: &Layout) {
        let store = SqliteTaskStore::open_in(layout).expect("tasks.db");
        for (id, title) in [
            ("proj-a1", "Map the settings code"),
            ("proj-b1", "Build the settings page"),
            ("proj-c1", "Document the settings"),
            ("proj-d1", "Old cleanup"),
        ] {
            store
                .create(
                    &NewTask {
                        id: Some(TaskId::new(id).expect("a task id")),
                        title: title.into(),
                        priority: 2,
                        task_type: "task".into(),
                        ..NewTask::default()
                    },
                    at(10, 0, 0),
                )
                .expect("a task");
        }
        let id = |s: &str| TaskId::new(s).expect("a task id");
        store
            .update(
                &id("proj-b1"),
                &TaskPatch {
                    status: Some(TaskStatus::InProgress),
                    ..TaskPatch::default()
                },
                at(11, 5, 0),
            )
            .expect("in progress");
        store
            .close(&id("proj-d1"), Some("done"), day_before(10, 0, 0))
            .expect("closed");
    }

    fn seed_files(layout: &Layout) {
        std::fs::write(
            layout.file("groups.json"),
            "[\n\t{\n\t\t\"id\": \"group-aaaa1111\",\n\t\t\"name\": \"Settings\",\n\t\t\"memberIssueIds\": [\n\t\t\t\"proj-a1\",\n\t\t\t\"proj-b1\",\n\t\t\t\"proj-c1\"\n\t\t],\n\t\t\"status\": \"active\",\n\t\t\"createdAt\": \"2026-01-31T10:30:00.000Z\",\n\t\t\"completedAt\": null\n\t},\n\t{\n\t\t\"id\": \"group-bbbb2222\",\n\t\t\"name\": \"Old work\",\n\t\t\"memberIssueIds\": [\n\t\t\t\"proj-d1\"\n\t\t],\n\t\t\"status\": \"completed\",\n\t\t\"createdAt\": \"2026-01-30T08:00:00.000Z\",\n\t\t\"completedAt\": \"2026-01-30T10:00:00.000Z\"\n\t}\n]\n",
        )
        .expect("groups.json");
        let logs = layout.file("logs");
        std::fs::create_dir_all(logs.join("builder-1")).expect("logs dir");
        std::fs::create_dir_all(logs.join("scout-1")).expect("logs dir");
        std::fs::write(
            logs.join("builder-1/terminal.log"),
            "\x1b[1m● Reading src/app.rs\x1b[0m\r\n\x1b[32m✓\x1b[0m Edited src/app.rs\r\nRunning cargo test 10%\r50%\r100%\r\ntest settings::saves ... \x1b[31mFAILED\x1b[0m\r\n> half a line being typed",
        )
        .expect("terminal.log");
        std::fs::write(
            logs.join("scout-1/output.log"),
            "{\"type\":\"system\",\"subtype\":\"init\"}\nScouting done: settings live in src/app.rs\n",
        )
        .expect("output.log");
        std::fs::write(
            layout.error_log(),
            "2026-01-31T11:56:30.000Z hook PostToolUse for builder-1: claiming mail: mail.db stayed locked by another process for 5000 ms\n",
        )
        .expect("legio-errors.log");
    }
}

/// Claude Code's project directory name for `cwd` (ASCII paths).
fn key(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn agent(
    fx: &Fixture,
    name: &str,
    capability: Capability,
    task: &str,
    state: AgentState,
    parent: Option<&str>,
    run: &str,
    started: Timestamp,
    last: Timestamp,
) -> AgentSession {
    let agent_name = AgentName::new(name).expect("an agent name");
    AgentSession {
        id: format!("session-{}-{name}", started.millis()),
        worktree_path: fx
            .root
            .join(".legio/worktrees")
            .join(name)
            .display()
            .to_string(),
        branch_name: format!("legio/{name}/{task}"),
        bead_id: task.into(),
        tmux_session: format!("legio-project-{name}"),
        state,
        pid: None,
        parent_agent: parent.map(|p| AgentName::new(p).expect("a parent name")),
        depth: u32::from(parent.is_some()),
        run_id: Some(run.into()),
        started_at: started,
        last_activity: last,
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "claude".into(),
        file_scope: Vec::new(),
        spec_path: None,
        agent_name,
        capability,
    }
}
