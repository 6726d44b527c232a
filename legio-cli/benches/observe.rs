//! The observability commands as whole processes on a big project: 1,000,000 events, 100,000
//! messages, 1,000 agent sessions (each with a Claude Code transcript of about 50 responses).
//!
//! Run: `cargo bench -p legio-cli --bench observe` (prints medians; not a pass/fail test).
//! The project is generated once into `$LEGIO_BENCH_DIR` (default: `<workspace>/.cache/
//! observe-bench`) and reused by later runs; delete the directory to generate it again. Each
//! command runs in a child process of its own, so its peak-memory figure
//! (`getrusage(RUSAGE_CHILDREN)`) covers only that command. The clock is fixed at the end of the
//! generated history (`LEGIO_TEST_NOW`), so "the last five minutes" hold events.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // a benchmark: failing loudly is right

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use legio_core::domain::agent::{Run, RunStatus};
use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout, Timestamp};
use rusqlite::params;

const RUNS_PER_COMMAND: usize = 30;
const EVENTS: i64 = 1_000_000;
const MESSAGES: i64 = 100_000;
const AGENTS: i64 = 1_000;
const RESPONSES_PER_TRANSCRIPT: i64 = 50;
/// 2026-01-31T12:00:00Z; events are 100 ms apart from here.
const T0: i64 = 1_769_860_800_000;
/// Bumped whenever the generated project changes shape.
const FIXTURE_VERSION: &str = "observe-bench v1";
const TOOLS: [&str; 6] = ["Read", "Edit", "Bash", "Grep", "Glob", "Write"];

fn legio() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_legio"))
}

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

fn agent(i: i64) -> String {
    format!("agent-{i:04}")
}

fn run_id(i: i64) -> String {
    format!("run-{}", i % 10)
}

fn now() -> String {
    iso(T0 + EVENTS * 100)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let dir = fixture_dir();
    let root = dir.join("project");
    let home = dir.join("home");
    if std::fs::read_to_string(dir.join("VERSION")).ok().as_deref() == Some(FIXTURE_VERSION) {
        println!("reusing the project in {}", dir.display());
    } else {
        println!(
            "generating {EVENTS} events, {MESSAGES} messages, {AGENTS} sessions with transcripts in {} (once)...",
            dir.display()
        );
        let started = Instant::now();
        generate(&dir, &root, &home);
        println!("  done in {:.0} s", started.elapsed().as_secs_f64());
    }
    let cases: &[(&str, &[&str])] = &[
        ("legio --version (process baseline)", &["--version"]),
        ("legio status", &["status"]),
        ("legio status --json", &["status", "--json"]),
        ("legio errors", &["errors"]),
        (
            "legio errors --warnings --limit 500",
            &["errors", "--warnings", "--limit", "500"],
        ),
        (
            "legio trace <agent> --limit 50",
            &["trace", "agent-0500", "--limit", "50"],
        ),
        ("legio trace <agent>", &["trace", "agent-0500"]),
        (
            "legio trace <task> --limit 50",
            &["trace", "task-0500", "--limit", "50"],
        ),
        ("legio feed", &["feed"]),
        (
            "legio feed --since 1d --agent x2",
            &[
                "feed",
                "--since",
                "1d",
                "--agent",
                "agent-0001",
                "--agent",
                "agent-0002",
            ],
        ),
        ("legio replay (current run)", &["replay"]),
        ("legio inspect <agent>", &["inspect", "agent-0500"]),
        ("legio costs (newest 20 agents)", &["costs"]),
        ("legio costs --live", &["costs", "--live"]),
        (
            "legio costs --by-capability --last 100",
            &["costs", "--by-capability", "--last", "100"],
        ),
        ("legio costs --json", &["costs", "--json"]),
        ("legio run list", &["run", "list"]),
        ("legio metrics", &["metrics"]),
    ];
    println!(
        "\n{RUNS_PER_COMMAND} runs each; wall time per whole process and peak resident memory\n"
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "command", "median", "p90", "peak RSS"
    );
    for (label, command) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .arg("--child")
            .arg(&root)
            .arg(&home)
            .args(*command)
            .output()
            .unwrap();
        if !out.status.success() {
            println!(
                "{label:<44} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace().map(|v| v.parse::<f64>().unwrap());
        let (median, p90, rss_kb) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        println!(
            "{label:<44} {:>8.2}ms {:>8.2}ms {:>7.1}MB",
            median / 1000.0,
            p90 / 1000.0,
            rss_kb / 1024.0
        );
    }
    println!("\ntarget: each well under 100 ms (whole process)");
}

/// `$LEGIO_BENCH_DIR`, else `<workspace>/.cache/observe-bench`.
fn fixture_dir() -> PathBuf {
    // A benchmark may read its own switch from the environment.
    #[allow(clippy::disallowed_methods)]
    std::env::var_os("LEGIO_BENCH_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join(".cache/observe-bench")
        },
        PathBuf::from,
    )
}

/// Runs `legio ARGS` `RUNS_PER_COMMAND` times; prints `median_us p90_us peak_rss_kb`.
fn child(args: &[String]) {
    let (root, home, command) = (&args[0], &args[1], &args[2..]);
    let mut times = Vec::with_capacity(RUNS_PER_COMMAND);
    for _ in 0..RUNS_PER_COMMAND {
        let started = Instant::now();
        let status = Command::new(legio())
            .arg("-C")
            .arg(root)
            .args(command)
            .env_clear()
            .env("HOME", home)
            .env("NO_COLOR", "1")
            .env("LEGIO_TEST_NOW", now())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        times.push(started.elapsed().as_micros() as f64);
        assert!(
            status.status.success(),
            "legio {command:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    times.sort_by(f64::total_cmp);
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    println!(
        "{} {} {}",
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        usage.max_rss()
    );
}

fn generate(dir: &Path, root: &Path, home: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(root.join(".legio")).unwrap();
    assert!(
        Command::new("git")
            .args(["init", "-q"])
            .arg(root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap()
            .success()
    );
    let layout = Layout::new(root);
    let transcripts = write_transcripts(root, home);
    seed_sessions(&layout);
    seed_events(&layout, &transcripts);
    seed_mail(&layout);
    std::fs::write(layout.current_run(), run_id(9)).unwrap();
    std::fs::write(dir.join("VERSION"), FIXTURE_VERSION).unwrap();
}

fn worktree(root: &Path, i: i64) -> PathBuf {
    root.join(".legio/worktrees").join(agent(i))
}

fn capability(i: i64) -> Capability {
    [
        Capability::Builder,
        Capability::Builder,
        Capability::Scout,
        Capability::Reviewer,
        Capability::Lead,
    ][(i % 5) as usize]
}

fn seed_sessions(layout: &Layout) {
    let store = legio_store::SqliteSessionStore::open_in(layout).unwrap();
    for r in 0..10 {
        store
            .create_run(&Run {
                id: run_id(r),
                started_at: Timestamp::from_millis(T0 + r * 3_600_000),
                completed_at: None,
                agent_count: 100,
                coordinator_session_id: None,
                status: RunStatus::Active,
            })
            .unwrap();
    }
    for i in 0..AGENTS {
        let started = Timestamp::from_millis(T0 + i * 100);
        store
            .upsert(&AgentSession {
                id: format!("session-{i}"),
                agent_name: AgentName::new(agent(i)).unwrap(),
                capability: capability(i),
                worktree_path: worktree(layout.root(), i).display().to_string(),
                branch_name: format!("legio/{}/task-{i:04}", agent(i)),
                bead_id: format!("task-{i:04}"),
                tmux_session: format!("legio-bench-{}", agent(i)),
                state: if i % 3 == 0 {
                    AgentState::Completed
                } else {
                    AgentState::Working
                },
                pid: None,
                parent_agent: None,
                depth: 0,
                run_id: Some(run_id(i)),
                started_at: started,
                last_activity: started,
                escalation_level: 0,
                stalled_since: None,
                terminal_log_path: None,
                runtime: "claude".into(),
                file_scope: Vec::new(),
                spec_path: None,
            })
            .unwrap();
    }
}

/// One transcript per agent; returns their paths.
fn write_transcripts(root: &Path, home: &Path) -> Vec<PathBuf> {
    let models = [
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-6",
        "claude-haiku-4-5-20251001",
    ];
    (0..AGENTS)
        .map(|i| {
            let key: String = worktree(root, i)
                .display()
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let path = home
                .join(".claude/projects")
                .join(key)
                .join(format!("00000000-0000-4000-8000-{i:012}.jsonl"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let model = models[(i % 3) as usize];
            for r in 0..RESPONSES_PER_TRANSCRIPT {
                writeln!(f, r#"{{"type":"user","message":{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_{i}_{r}","content":"file contents of a medium length, as tools return them, repeated to make the line a realistic size for a transcript entry"}}]}}}}"#).unwrap();
                // Each response is written twice (two content blocks), as Claude Code does.
                for block in 0..2 {
                    writeln!(f, r#"{{"type":"assistant","requestId":"req_{i}_{r}","isSidechain":false,"message":{{"id":"msg_{i}_{r}","model":"{model}","role":"assistant","content":[{{"type":"text","text":"block {block}: working on the task, reading files and making edits"}}],"usage":{{"input_tokens":{},"output_tokens":{},"cache_read_input_tokens":{},"cache_creation_input_tokens":{},"cache_creation":{{"ephemeral_5m_input_tokens":{},"ephemeral_1h_input_tokens":{}}}}}}}}}"#,
                        10 + r, 100 + r * 3, 20_000 + r * 500, 600, 400, 200).unwrap();
                }
            }
            path
        })
        .collect()
}

fn seed_events(layout: &Layout, transcripts: &[PathBuf]) {
    drop(legio_store::SqliteEventStore::open_in(layout).unwrap());
    let mut conn = rusqlite::Connection::open(layout.events_db()).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO events (run_id, agent_name, session_id, event_type, tool_name,
                     tool_use_id, tool_args, tool_duration_ms, level, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .unwrap();
        for i in 0..EVENTS {
            let a = i % AGENTS;
            let session = format!("00000000-0000-4000-8000-{a:012}");
            let (kind, tool, data, level) = if i < AGENTS {
                let data = format!(
                    r#"{{"source":"startup","transcriptPath":"{}"}}"#,
                    transcripts[a as usize].display()
                );
                ("session_start", None, Some(data), "info")
            } else if i % 50 == 0 {
                (
                    "error",
                    None,
                    Some(r#"{"message":"cargo test failed"}"#.to_owned()),
                    "error",
                )
            } else if i % 97 == 0 {
                (
                    "tool_end",
                    Some(TOOLS[(i % 6) as usize]),
                    Some(r#"{"error":"Exit code 1"}"#.to_owned()),
                    "warn",
                )
            } else {
                let tool = TOOLS[(i % 6) as usize];
                let data = format!(
                    r#"{{"summary":"{}: src/module_{}.rs"}}"#,
                    tool.to_lowercase(),
                    i % 300
                );
                (
                    if i % 2 == 0 { "tool_start" } else { "tool_end" },
                    Some(tool),
                    Some(data),
                    "info",
                )
            };
            insert
                .execute(params![
                    run_id(a),
                    agent(a),
                    session,
                    kind,
                    tool,
                    tool.map(|_| format!("toolu_{i}")),
                    tool.map(|_| format!(r#"{{"file_path":"/work/src/module_{}.rs"}}"#, i % 300)),
                    (kind == "tool_start").then_some(i % 997),
                    level,
                    data,
                    iso(T0 + i * 100),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn seed_mail(layout: &Layout) {
    drop(legio_store::SqliteMailStore::open_in(layout).unwrap());
    let mut conn = rusqlite::Connection::open(layout.mail_db()).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (id, from_agent, to_agent, subject, body, type, audience,
                     priority, read, created_at)
                 VALUES (?1, ?2, ?3, 'subject', 'body', 'status', 'both', 'normal', ?4, ?5)",
            )
            .unwrap();
        for i in 0..MESSAGES {
            insert
                .execute(params![
                    format!("msg-{i:012}"),
                    agent((i + 1) % AGENTS),
                    agent(i % AGENTS),
                    i64::from(i < MESSAGES - 200),
                    iso(T0 + i * 1000),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}
