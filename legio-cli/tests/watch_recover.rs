//! `legio watch` restarting dead agents, against real parts: the `legio` binary, real git
//! worktrees, SQLite files, a tmux server on a private socket (or headless processes). Agents
//! are `legio sim-agent`s run by the `script` runtime, slung with `legio sling`, calling the
//! hooks as Claude Code does.
//!
//! - a killed builder is restarted by one tick in its worktree and on its branch, its commits
//!   kept, its parent mailed (tmux and headless), on the backend it ran on; a killed
//!   coordinator is restarted at the project root; a killed real Claude Code agent (against
//!   the scripted Messages API) is restarted and its recovery prompt reaches the model;
//! - a builder that stops making progress is warned, nudged, terminated and restarted from its
//!   checkpoint, as short thresholds in `config.local.yaml` say;
//! - a failed restart is rolled back to the dead row, and `legio watch --recover` restarts the
//!   agent by hand; a refused restart (its worktree is gone) is not counted; an agent that keeps dying is given up after `watchdog.maxRecoveryAttempts`
//!   restarts, with mail to its parent each time;
//! - a watchdog running in the background never takes an agent that sling is still launching,
//!   or one `legio stop` is ending, for dead (it would restart it).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "support/mod.rs"]
mod support;

#[path = "fleet/harness.rs"]
#[allow(dead_code)] // the fleet tests use the rest of the harness
mod harness;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::{Backend, Fleet, PATIENCE, idle_plan};
use legio_core::domain::mail::{MailMessage, MailType, WorkerDiedPayload};
use legio_core::ports::{MailFilter, MailStore};
use legio_core::{AgentSession, AgentState, Layout};
use legio_store::SqliteMailStore;
use serde_json::json;
use support::project::git;

/// A fleet with a task per agent and an idle lead, `lead-1`, on task `t-lead`.
fn fleet_with_lead(backend: Backend, watchdog: &str) -> Fleet {
    let f = Fleet::new(backend);
    // The harness's configuration ends with the `watchdog:` map: more keys go under it.
    let config = f.p.root.join(".legio/config.local.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(watchdog);
    std::fs::write(&config, text).unwrap();
    for task in ["t-lead", "t-1", "t-2", "t-3"] {
        f.ok(&["task", "create", &format!("Work on {task}"), "--id", task]);
    }
    f.json(&[
        "sling",
        "t-lead",
        "--capability",
        "lead",
        "--name",
        "lead-1",
    ]);
    f.wait_state("lead-1", AgentState::Idle);
    f
}

/// A plan that writes `file`, commits it as `message` and waits for prompts.
fn commit_plan(file: &str, content: &str, message: &str) -> serde_json::Value {
    json!({"steps": [
        {"append": {"path": file, "content": content}},
        {"commit": message}
    ], "then": "wait"})
}

fn sling_builder(f: &Fleet, task: &str, name: &str) -> AgentSession {
    f.json(&["sling", task, "--name", name, "--parent", "lead-1"]);
    f.row(name).unwrap()
}

fn once(f: &Fleet, env: &[(&str, &str)]) -> String {
    let out = f.run(&["watch", "--once"], env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "legio watch --once failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits until the agent's session shows its process ended (or the session is gone).
fn wait_exited(f: &Fleet, agent: &str) {
    let session = f.row(agent).unwrap().tmux_session;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = f.status();
        let listed = status["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == session.as_str());
        if listed.is_none_or(|s| s["running"] == false) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{agent}'s process never ended: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The `worker_died` mail `lead-1` received, oldest first.
fn deaths_reported(f: &Fleet) -> Vec<(MailMessage, WorkerDiedPayload)> {
    let mut mail = SqliteMailStore::open_in(&Layout::new(&f.p.root))
        .unwrap()
        .list(&MailFilter {
            to: Some("lead-1".into()),
            ..MailFilter::default()
        })
        .unwrap();
    mail.reverse();
    mail.into_iter()
        .filter(|m| m.mail_type == MailType::WorkerDied)
        .map(|m| {
            let payload = serde_json::from_str(m.payload.as_deref().unwrap()).unwrap();
            (m, payload)
        })
        .collect()
}

fn log(worktree: &str) -> String {
    git(&PathBuf::from(worktree), &["log", "--format=%s"])
}

fn recovery_count(f: &Fleet, agent: &str) -> String {
    std::fs::read_to_string(
        f.p.root
            .join(".legio/agents")
            .join(agent)
            .join("recovery-count"),
    )
    .unwrap_or_default()
}

/// Waits until `text` appears in the agent's branch history.
fn wait_commit(worktree: &str, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !log(worktree).contains(text) {
        assert!(
            Instant::now() < deadline,
            "no commit {text:?}: {}",
            log(worktree)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_builder_is_restarted_in_its_worktree_in_tmux() {
    killed_builder_is_restarted(Backend::Tmux);
}

#[test]
fn a_killed_builder_is_restarted_in_its_worktree_headless() {
    killed_builder_is_restarted(Backend::Headless);
}

fn killed_builder_is_restarted(backend: Backend) {
    let f = fleet_with_lead(backend, "");
    f.plan(
        "b1",
        &commit_plan("src/b1.txt", "first\n", "b1: first part"),
    );
    let before = sling_builder(&f, "t-1", "b1");
    // Its turn ended (so it left a checkpoint) after it committed.
    f.wait_state("b1", AgentState::Idle);
    assert!(log(&before.worktree_path).contains("b1: first part"));
    let first_head = git(
        &PathBuf::from(&before.worktree_path),
        &["rev-parse", "HEAD"],
    );

    // The restarted agent goes on with a second part.
    f.plan(
        "b1",
        &commit_plan("src/b1.txt", "second\n", "b1: second part"),
    );
    kill(before.pid.unwrap());
    wait_exited(&f, "b1");

    let lines = once(&f, &[]);
    assert!(lines.contains("b1: dead, its process exited"), "{lines}");
    assert!(
        lines.contains("b1: restarted from its checkpoint in its worktree (attempt 1/2)"),
        "{lines}"
    );
    let after = f.row("b1").unwrap();
    assert!(after.state.is_active(), "{after:?}");
    assert!(after.pid.is_some() && after.pid != before.pid, "{after:?}");
    assert_ne!(after.id, before.id, "a fresh session");
    assert!(after.started_at > before.started_at);
    for (same, what) in [
        (after.worktree_path == before.worktree_path, "worktree"),
        (after.branch_name == before.branch_name, "branch"),
        (after.bead_id == before.bead_id, "task"),
        (after.parent_agent == before.parent_agent, "parent"),
        (after.depth == before.depth, "depth"),
        (after.capability == before.capability, "role"),
        (after.runtime == before.runtime, "runtime"),
        (after.tmux_session == before.tmux_session, "session name"),
    ] {
        assert!(same, "its {what} changed: {before:?} -> {after:?}");
    }

    // It works on top of what it committed before it died, in the same worktree.
    wait_commit(&after.worktree_path, "b1: second part");
    let parent = git(
        &PathBuf::from(&after.worktree_path),
        &["rev-parse", "HEAD~1"],
    );
    assert_eq!(
        parent, first_head,
        "the first commit is kept under the new one"
    );
    assert_eq!(
        std::fs::read_to_string(PathBuf::from(&after.worktree_path).join("src/b1.txt")).unwrap(),
        "first\nsecond\n"
    );
    // Registered as booting, then moved on by its own hooks.
    f.wait_state("b1", AgentState::Idle);
    let restarted = f
        .events("b1")
        .into_iter()
        .filter(|e| e.created_at >= after.started_at)
        .collect::<Vec<_>>();
    let types: Vec<&str> = restarted.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types.first(), Some(&"session_start"), "{types:?}");
    assert!(types.contains(&"turn_end"), "{types:?}");
    let prompt = restarted
        .iter()
        .find(|e| e.event_type == "prompt_submit")
        .and_then(|e| e.data.clone())
        .unwrap_or_default();
    assert!(
        prompt.contains("You are b1, restarted by the legio watchdog"),
        "its first prompt is the recovery prompt: {prompt}"
    );

    let deaths = deaths_reported(&f);
    assert_eq!(deaths.len(), 1, "{deaths:?}");
    let (mail, payload) = &deaths[0];
    assert_eq!(mail.subject, "b1 died and was restarted (attempt 1/2)");
    assert_eq!(
        (
            payload.action.as_str(),
            payload.attempts,
            payload.bead_id.as_str()
        ),
        ("recovered", 1, "t-1")
    );
    assert_eq!(recovery_count(&f, "b1"), "1");

    // The restarted agent is watched like any other: nothing more happens to it.
    let lines = once(&f, &[]);
    assert!(!lines.contains("b1"), "{lines}");
}

#[test]
fn a_running_watchdog_leaves_agents_being_slung_or_stopped_alone() {
    let f = Fleet::new(Backend::Tmux);
    f.ok(&["task", "create", "Work", "--id", "t-1"]);
    let started = f.ok(&["watch", "--background", "--interval", "100"]);
    assert!(
        started.contains("Watchdog started in background"),
        "{started}"
    );
    // Each sling registers its agent before its session exists; each stop ends a session.
    for name in ["b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"] {
        f.json(&["sling", "t-1", "--name", name]);
    }
    for name in ["b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"] {
        f.wait_state(name, AgentState::Idle);
    }
    for name in ["b1", "b2", "b3", "b4"] {
        f.ok(&["stop", "--agent", name]);
    }
    std::thread::sleep(Duration::from_millis(300));
    f.ok(&["watch", "--stop"]);

    let log = std::fs::read_to_string(f.p.root.join(".legio/logs/watchdog.log")).unwrap();
    assert!(!log.contains("dead"), "{log}");
    assert!(!log.contains("restart"), "{log}");
    // What the watchdog did to them, besides noting a stopping agent's process still running.
    let by_watchdog = |agent: &str| {
        f.events(agent)
            .into_iter()
            .filter(|e| {
                e.data.as_deref().is_some_and(|d| {
                    d.contains("\"by\":\"watchdog\"") && !d.contains("\"type\":\"investigate\"")
                })
            })
            .count()
    };
    for (i, name) in ["b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(by_watchdog(name), 0, "{name}: {:?}", f.event_types(name));
        let want = if i < 4 {
            AgentState::Zombie
        } else {
            AgentState::Idle
        };
        assert_eq!(f.row(name).unwrap().state, want, "{name}");
    }
}

#[test]
fn a_killed_coordinator_is_restarted_at_the_project_root() {
    let f = Fleet::new(Backend::Tmux);
    f.json(&["coordinator", "start"]);
    f.wait_state("coordinator", AgentState::Idle);
    let before = f.row("coordinator").unwrap();
    kill(before.pid.unwrap());
    wait_exited(&f, "coordinator");

    let lines = once(&f, &[]);
    assert!(
        lines.contains("coordinator: restarted from its checkpoint in its worktree (attempt 1/2)"),
        "{lines}"
    );
    let after = f.row("coordinator").unwrap();
    assert!(after.pid.is_some() && after.pid != before.pid, "{after:?}");
    assert_eq!(after.worktree_path, f.p.root.display().to_string());
    assert_eq!(after.capability, before.capability);
    f.wait_state("coordinator", AgentState::Idle);
    let prompt = f
        .events("coordinator")
        .into_iter()
        .filter(|e| e.event_type == "prompt_submit" && e.created_at >= after.started_at)
        .find_map(|e| e.data)
        .unwrap_or_default();
    assert!(
        prompt.contains("You work at the project root"),
        "its first prompt is the recovery prompt: {prompt}"
    );
    // Its claim on the shared root settings holds: its hooks keep running there.
    let claims = std::fs::read_to_string(f.p.root.join(".legio/root-hooks.json")).unwrap();
    assert!(claims.contains("\"coordinator\""), "{claims}");
    let settings = std::fs::read_to_string(f.p.root.join(".claude/settings.local.json")).unwrap();
    assert!(settings.contains("hook PreToolUse"), "{settings}");
    // The human hears of it.
    let mail = SqliteMailStore::open_in(&Layout::new(&f.p.root))
        .unwrap()
        .list(&MailFilter {
            to: Some("orchestrator".into()),
            ..MailFilter::default()
        })
        .unwrap();
    assert!(
        mail.iter().any(|m| m.mail_type == MailType::WorkerDied
            && m.subject == "coordinator died and was restarted (attempt 1/2)"),
        "{mail:#?}"
    );
}

/// `field` of each of the agent's `spawn` events, oldest first.
fn spawned_with(f: &Fleet, agent: &str, field: &str) -> Vec<String> {
    f.events(agent)
        .into_iter()
        .filter(|e| e.event_type == "spawn")
        .map(|e| {
            let data: serde_json::Value = serde_json::from_str(&e.data.unwrap()).unwrap();
            data[field].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn an_agent_is_restarted_on_the_backend_and_with_the_model_it_ran() {
    let f = fleet_with_lead(Backend::Tmux, "");
    f.plan("b6", &commit_plan("src/b6.txt", "x\n", "b6: work"));
    f.json(&[
        "sling",
        "t-1",
        "--name",
        "b6",
        "--parent",
        "lead-1",
        "--headless",
        "--model",
        "opus",
    ]);
    f.wait_state("b6", AgentState::Idle);
    kill(f.row("b6").unwrap().pid.unwrap());
    wait_exited(&f, "b6");
    let lines = once(&f, &[]);
    assert!(
        lines.contains("b6: restarted from its checkpoint in its worktree (attempt 1/2)"),
        "{lines}"
    );
    assert_eq!(
        spawned_with(&f, "b6", "multiplexer"),
        ["headless", "headless"]
    );
    assert_eq!(spawned_with(&f, "lead-1", "multiplexer"), ["tmux"]);
    // The --model it was slung with, not the role's configured one.
    assert_eq!(spawned_with(&f, "b6", "model"), ["opus", "opus"]);
    assert_ne!(spawned_with(&f, "lead-1", "model"), ["opus"]);
    f.wait_state("b6", AgentState::Idle);
}

#[test]
fn a_stalled_builder_is_warned_nudged_terminated_and_restarted() {
    let f = fleet_with_lead(
        Backend::Tmux,
        "  nudgeIntervalMs: 300\n  zombieThresholdMs: 900\n",
    );
    // A first turn that commits and ends (a checkpoint), then, prompted again, a hang.
    f.plan(
        "b2",
        &json!({"steps": [
            {"append": {"path": "src/b2.txt", "content": "done before the hang\n"}},
            {"commit": "b2: before the hang"},
            "wait_prompt",
            {"sleep_ms": 120_000}
        ], "then": "wait"}),
    );
    let before = sling_builder(&f, "t-2", "b2");
    f.wait_state("b2", AgentState::Idle);
    f.plan("b2", &idle_plan());
    let nudged = f.json(&["nudge", "b2", "go", "on"]);
    assert_eq!(nudged["delivered"], true, "{nudged}");
    f.wait_state("b2", AgentState::Working);

    // Ticks until the watchdog gives up on it; each stage at least one interval apart.
    let mut seen = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !seen.iter().any(|l: &String| l.contains("b2: dead")) {
        assert!(Instant::now() < deadline, "never terminated: {seen:#?}");
        std::thread::sleep(Duration::from_millis(150));
        seen.extend(
            once(&f, &[])
                .lines()
                .filter(|l| l.contains("b2"))
                .map(str::to_owned),
        );
    }
    let at = |needle: &str| {
        seen.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {seen:#?}"))
    };
    let (warned, nudge, dead) = (at("warned"), at("nudged (sent)"), at("b2: dead"));
    assert!(warned < nudge && nudge < dead, "{seen:#?}");
    assert!(seen[dead].contains("it made no progress"), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("b2: restarted from its checkpoint in its worktree (attempt 1/2)")),
        "{seen:#?}"
    );
    // The hung process was ended; a new one runs in the same worktree.
    let after = f.row("b2").unwrap();
    assert_ne!(after.pid, before.pid);
    assert_eq!(after.worktree_path, before.worktree_path);
    assert_eq!(
        after.escalation_level, 0,
        "the new session starts unescalated"
    );
    assert!(log(&after.worktree_path).contains("b2: before the hang"));
    f.wait_state("b2", AgentState::Idle);
    let (mail, payload) = deaths_reported(&f).pop().unwrap();
    assert_eq!(payload.action, "recovered");
    assert!(mail.body.contains("it made no progress"), "{}", mail.body);
}

#[test]
fn a_failed_restart_is_undone_and_an_agent_that_keeps_dying_is_given_up() {
    let f = fleet_with_lead(Backend::Tmux, "  maxRecoveryAttempts: 2\n");

    // A restart that fails after its session started leaves the dead agent as it was.
    f.plan("b4", &commit_plan("src/b4.txt", "kept\n", "b4: kept"));
    let b4 = sling_builder(&f, "t-1", "b4");
    f.wait_state("b4", AgentState::Idle);
    let settings_path = PathBuf::from(&b4.worktree_path).join(".claude/settings.local.json");
    let settings = std::fs::read_to_string(&settings_path).unwrap();
    kill(b4.pid.unwrap());
    wait_exited(&f, "b4");
    let lines = once(&f, &[("LEGIO_FAILPOINT", "respawn:prompt")]);
    assert!(
        lines.contains("b4: restart failed (attempt 1/2): starting b4 failed at step prompt"),
        "{lines}"
    );
    let dead = f.row("b4").unwrap();
    assert_eq!(dead.state, AgentState::Zombie);
    assert_eq!(
        (dead.id.as_str(), dead.pid, dead.started_at),
        (b4.id.as_str(), b4.pid, b4.started_at),
        "the dead row is back"
    );
    assert!(
        !f.session_names().contains(&b4.tmux_session),
        "the restarted session was ended: {:?}",
        f.session_names()
    );
    assert_eq!(std::fs::read_to_string(&settings_path).unwrap(), settings);
    assert!(log(&b4.worktree_path).contains("b4: kept"));
    let (_, payload) = deaths_reported(&f).pop().unwrap();
    assert_eq!(
        (payload.agent_name.as_str(), payload.action.as_str()),
        ("b4", "recovery_failed")
    );
    // A zombie is handled once: the next tick leaves it alone.
    assert!(!once(&f, &[]).contains("b4"));

    // Its parent was told how to restart it by hand; that works and resets the count.
    let (mail, _) = deaths_reported(&f).pop().unwrap();
    assert!(
        mail.body.contains("`legio watch --recover b4`"),
        "{}",
        mail.body
    );
    let restarted = f.ok(&["watch", "--recover", "b4"]);
    assert!(
        restarted.starts_with(&format!(
            "Restarted b4 in {} on legio/b4/t-1 (tmux session {}, pid ",
            b4.worktree_path, b4.tmux_session
        )),
        "{restarted}"
    );
    let again = f.row("b4").unwrap();
    assert!(again.state.is_active() && again.pid != b4.pid, "{again:?}");
    assert_eq!(recovery_count(&f, "b4"), "");
    f.wait_state("b4", AgentState::Idle);
    assert!(
        f.events("b4")
            .iter()
            .any(|e| e.event_type == "prompt_submit"
                && e.data
                    .as_deref()
                    .is_some_and(|d| d.contains("restarted after your previous session ended"))),
        "{:?}",
        f.event_types("b4")
    );
    let (_, err) = f.fails(&["watch", "--recover", "b4"], &[], 1);
    assert!(
        err.contains("b4 is idle; only a dead (zombie) agent is restarted"),
        "{err}"
    );
    let (_, err) = f.fails(&["watch", "--recover", "nobody"], &[], 1);
    assert!(err.contains("no agent named nobody is registered"), "{err}");

    // A restart refused before anything changes (its worktree is gone) is not an attempt.
    f.plan("b5", &commit_plan("src/b5.txt", "x\n", "b5: work"));
    let b5 = sling_builder(&f, "t-2", "b5");
    f.wait_state("b5", AgentState::Idle);
    kill(b5.pid.unwrap());
    wait_exited(&f, "b5");
    git(
        &f.p.root,
        &["worktree", "remove", "--force", &b5.worktree_path],
    );
    let lines = once(&f, &[]);
    assert!(
        lines.contains(&format!(
            "b5: not restarted: b5's worktree {} no longer exists",
            b5.worktree_path
        )),
        "{lines}"
    );
    assert!(
        lines.contains("its committed work is on branch legio/b5/t-2"),
        "{lines}"
    );
    assert_eq!(f.row("b5").unwrap().state, AgentState::Zombie);
    assert_eq!(recovery_count(&f, "b5"), "0", "a refusal is not an attempt");
    let (_, payload) = deaths_reported(&f).pop().unwrap();
    assert_eq!(
        (payload.agent_name.as_str(), payload.action.as_str()),
        ("b5", "not_recoverable")
    );

    // An agent that exits after every turn is restarted twice, then given up.
    f.plan(
        "b3",
        &json!({"steps": [
            {"append": {"path": "src/b3.txt", "content": "x\n"}},
            {"commit": "b3: work"}
        ], "then": "exit"}),
    );
    sling_builder(&f, "t-3", "b3");
    for attempt in 1..=2 {
        wait_exited(&f, "b3");
        let lines = once(&f, &[]);
        assert!(
            lines.contains(&format!(
                "b3: restarted from its checkpoint in its worktree (attempt {attempt}/2)"
            )),
            "{lines}"
        );
        assert_eq!(recovery_count(&f, "b3"), attempt.to_string());
    }
    wait_exited(&f, "b3");
    let lines = once(&f, &[]);
    assert!(
        lines.contains("b3: not restarted: recovery attempts exhausted (2/2)"),
        "{lines}"
    );
    assert_eq!(f.row("b3").unwrap().state, AgentState::Zombie);
    let b3: Vec<(String, u32)> = deaths_reported(&f)
        .into_iter()
        .filter(|(_, p)| p.agent_name == "b3")
        .map(|(_, p)| (p.action, p.attempts))
        .collect();
    assert_eq!(
        b3,
        [
            ("recovered".to_owned(), 1),
            ("recovered".to_owned(), 2),
            ("not_recoverable".to_owned(), 2)
        ]
    );
    assert!(
        !once(&f, &[]).contains("b3"),
        "given up once, not every tick"
    );

    // The name used again, for a new agent: it starts with no restarts counted.
    f.ok(&["worktree", "clean", "--all", "--force"]);
    sling_builder(&f, "t-3", "b3");
    assert_eq!(
        recovery_count(&f, "b3"),
        "",
        "the earlier b3's restarts are forgotten"
    );
    wait_exited(&f, "b3");
    let lines = once(&f, &[]);
    assert!(
        lines.contains("b3: restarted from its checkpoint in its worktree (attempt 1/2)"),
        "{lines}"
    );
}

#[test]
fn a_killed_claude_agent_is_restarted_and_its_recovery_prompt_reaches_the_model() {
    use support::claude::ClaudeHome;
    use support::install::claude_bin;
    use support::scripted_api::{ScriptedApi, Turn};

    let Some(claude) = claude_bin() else { return };
    let server = ScriptedApi::start([Turn::text("On it."), Turn::text("Resuming.")]);
    let f = Fleet::new(Backend::Tmux);
    let mut home = ClaudeHome::new(f.p.home());
    home.trust(&f.p.root);
    // Claude Code's environment: the throwaway HOME's answers, the scripted API, and `claude`
    // on the agent's PATH; `legio watch` passes it on to the restarted agent as sling does.
    let env = home.agent_env(&server, &[claude.parent().unwrap()]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    f.ok(&["task", "create", "Say hello", "--id", "t-1"]);
    let out = f.run(
        &["sling", "t-1", "--name", "c1", "--runtime", "claude"],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its first turn ended: a checkpoint to resume from.
    f.wait_state("c1", AgentState::Idle);
    let before = f.row("c1").unwrap();
    kill(before.pid.unwrap());
    wait_exited(&f, "c1");

    let lines = once(&f, &env);
    assert!(
        lines.contains("c1: restarted from its checkpoint in its worktree (attempt 1/2)"),
        "{lines}"
    );
    let after = f.row("c1").unwrap();
    assert_eq!(after.runtime, "claude");
    assert_ne!(after.pid, before.pid);
    // Restarted only once its own prompt hook confirmed the recovery prompt; the model gets it.
    let reached = server.wait_until(PATIENCE, |requests| {
        requests
            .iter()
            .any(|r| r.conversation_contains("You are c1, restarted by the legio watchdog"))
    });
    assert!(reached, "the recovery prompt never reached the model");
    f.wait_state("c1", AgentState::Idle);
    assert_eq!(server.exhausted(), 0);
}
