//! The per-tool-call hot path: `legio hook PreToolUse` and `legio hook PostToolUse` as whole
//! processes, on a project holding 10,000 messages and 100,000 events, against the baseline of
//! `sqlite3 :memory: 'select 1'` measured in the same run.
//!
//! Run: `cargo bench -p legio-cli --bench hook` (prints a table; not a pass/fail test).
//! Each measurement runs in its own child process so that its peak-memory figure
//! (`getrusage(RUSAGE_CHILDREN)`) covers only the commands it ran. Beside wall time it reports
//! the CPU time (user + system) each process used: on a shared, loaded machine wall time mostly
//! measures the wait for a free core, while CPU time measures the process itself.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // a benchmark: failing loudly is right

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use legio_core::domain::event::{EventType, NewEvent};
use legio_core::domain::mail::{MailType, NewMail};
use legio_core::ports::{EventStore, MailStore, SessionStore};
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout, Timestamp};

const ITERATIONS: usize = 200;
const PRE: &str = include_str!("../../legio-core/tests/fixtures/hooks/hook-PreToolUse-Bash.json");
const POST: &str = include_str!("../../legio-core/tests/fixtures/hooks/hook-PostToolUse-Bash.json");

fn legio() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_legio"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    println!("seeding a project with 10,000 messages and 100,000 events...");
    seed(&root);
    let root_s = root.display().to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "sqlite3 :memory: 'select 1' (baseline)",
            vec!["baseline".into()],
        ),
        ("legio --version", vec!["version".into()]),
        (
            "legio hook PreToolUse (Bash)",
            vec!["hook".into(), root_s.clone(), "PreToolUse".into()],
        ),
        (
            "legio hook PostToolUse (Bash)",
            vec!["hook".into(), root_s.clone(), "PostToolUse".into()],
        ),
    ];
    println!(
        "{ITERATIONS} runs each; per process: wall time, CPU time (user + system), peak memory\n"
    );
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "command", "median", "p90", "CPU med", "peak RSS", "vs base"
    );
    let mut baseline = None;
    for (label, child_args) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .arg("--child")
            .args(&child_args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            println!(
                "{label:<42} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        let mut parts = text.split_whitespace().map(|v| v.parse::<f64>().unwrap());
        let (median, p90, cpu, rss_kb) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let base = *baseline.get_or_insert(median);
        println!(
            "{label:<42} {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>7.1}MB {:>8.1}x",
            median / 1000.0,
            p90 / 1000.0,
            cpu / 1000.0,
            rss_kb / 1024.0,
            median / base
        );
    }
    println!(
        "\ntargets: each hook event < 5 ms median and < 15 MB peak (legio 0.1.0: ~400 ms, ~97 MB);\n\
         on a loaded machine compare CPU time and the ratio to the baseline"
    );
}

/// CPU time (user + system) used so far by this process's finished children, in µs.
fn children_cpu_us() -> f64 {
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
    us(usage.user_time()) + us(usage.system_time())
}

/// Runs one command `ITERATIONS` times; prints `median_us p90_us cpu_median_us peak_rss_kb`.
fn child(args: &[String]) {
    let mut times = Vec::with_capacity(ITERATIONS);
    let mut cpu = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let cpu_before = children_cpu_us();
        let started = Instant::now();
        match args[0].as_str() {
            "baseline" => run(Command::new("sqlite3").args([":memory:", "select 1"]), None),
            "version" => run(Command::new(legio()).arg("--version"), None),
            "hook" => {
                let root = Path::new(&args[1]);
                let payload = if args[2] == "PreToolUse" { PRE } else { POST };
                run(
                    Command::new(legio())
                        .args(["hook", &args[2]])
                        .current_dir(root)
                        .env("LEGIO_AGENT_NAME", "builder-1")
                        .env("LEGIO_ROOT", root),
                    Some(payload),
                );
            }
            other => panic!("unknown case {other}"),
        }
        times.push(started.elapsed().as_micros() as f64);
        cpu.push(children_cpu_us() - cpu_before);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    println!(
        "{} {} {} {}",
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        cpu[cpu.len() / 2],
        usage.max_rss()
    );
}

fn run(cmd: &mut Command, stdin: Option<&str>) {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
}

fn seed(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let git = |args: &[&str]| {
        assert!(
            Command::new("git")
                .args(args)
                .current_dir(root)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap()
                .status
                .success()
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&[
        "-c",
        "user.name=b",
        "-c",
        "user.email=b@b",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
    ]);
    assert!(
        Command::new(legio())
            .arg("init")
            .current_dir(root)
            .output()
            .unwrap()
            .status
            .success()
    );
    let layout = Layout::new(root);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let sessions = legio_store::SqliteSessionStore::open_in(&layout).unwrap();
    let agent = AgentName::new("builder-1").unwrap();
    sessions
        .upsert(&AgentSession {
            id: "session-1-builder-1".into(),
            agent_name: agent,
            capability: Capability::Builder,
            worktree_path: "/home/dev/project/.legio/worktrees/builder-1".into(),
            branch_name: "legio/builder-1/t-1".into(),
            bead_id: "t-1".into(),
            tmux_session: "legio-repo-builder-1".into(),
            state: AgentState::Working,
            pid: None,
            parent_agent: None,
            depth: 0,
            run_id: Some("run-1".into()),
            started_at: now,
            last_activity: now,
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "claude".into(),
            file_scope: vec![],
            spec_path: None,
        })
        .unwrap();
    let mail = legio_store::SqliteMailStore::open_in(&layout).unwrap();
    for i in 0..10_000 {
        let to = if i % 10 == 0 {
            "builder-1"
        } else {
            "someone-else"
        };
        mail.send(
            &NewMail::new("lead-1", to, MailType::Status, format!("m{i}"), "body"),
            now,
        )
        .unwrap();
    }
    mail.claim_unread("builder-1", None).unwrap();
    let events = legio_store::SqliteEventStore::open_in(&layout).unwrap();
    for i in 0..100_000_i64 {
        let mut e = NewEvent::new(
            if i % 4 == 0 { "builder-1" } else { "other" },
            EventType::ToolStart,
            now.plus_millis(i),
        );
        e.tool_name = Some("Bash".into());
        e.tool_args = Some(r#"{"command":"cargo test"}"#.into());
        events.insert(&e).unwrap();
    }
}
