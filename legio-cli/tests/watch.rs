//! `legio watch` against real parts: the `legio` binary, SQLite files, and a tmux server on the
//! project's private socket. Only the agent is simulated (`cat` in a tmux session, which echoes
//! what the watchdog types into it).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use legio_core::domain::mail::{MailType, WorkerDiedPayload};
use legio_core::ports::{MailFilter, MailStore, Multiplexer, SessionSpec, SessionStore};
use legio_core::time::{Clock, SystemClock};
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout};
use legio_store::{SqliteMailStore, SqliteSessionStore};
use legio_tmux::{TmuxConfig, TmuxMultiplexer};
use support::project::Project;

/// Starts `legio watch` in the foreground, as a child.
fn watch(p: &Project, args: &[&str]) -> Child {
    let mut all = vec!["watch"];
    all.extend_from_slice(args);
    p.command(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn layout(p: &Project) -> Layout {
    Layout::new(&p.root)
}

fn watch_status(p: &Project) -> serde_json::Value {
    serde_json::from_str(&p.ok(&["watch", "--status", "--json"])).unwrap()
}

fn wait_running(p: &Project, want: bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = watch_status(p);
        if s["running"] == want {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "watchdog never became running={want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The project's tmux server, as legio addresses it.
fn tmux(p: &Project) -> TmuxMultiplexer {
    let config = legio_core::config::load(&layout(p)).unwrap().config;
    TmuxMultiplexer::new(&config.project.name, &p.root, TmuxConfig::default())
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "legio watch did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn the_interval_is_validated_instead_of_turning_into_a_tick_storm() {
    let p = Project::new();
    for bad in ["abc", "0", "50", "-1", "1e3"] {
        let err = p.fails(&["watch", &format!("--interval={bad}")], 2);
        assert!(err.contains("from 100 to 86400000"), "{bad}: {err}");
    }
    assert_eq!(watch_status(&p)["running"], false);
}

#[test]
fn one_daemon_per_project_with_status_and_stop() {
    let p = Project::new();
    let mut first = watch(&p, &["--interval", "200"]);
    let status = wait_running(&p, true);
    assert_eq!(status["pid"], first.id());

    // A second daemon is refused and says which pid runs.
    let err = p.fails(&["watch", "--interval", "200"], 1);
    assert!(
        err.contains(&format!(
            "a watchdog already runs for this project (pid {})",
            first.id()
        )),
        "{err}"
    );
    assert!(err.contains("legio watch --stop"), "{err}");

    let stop = p.ok(&["watch", "--stop"]);
    assert_eq!(
        stop.trim(),
        format!("Watchdog stopped (PID: {})", first.id())
    );
    assert!(wait_exit(&mut first).success());
    let mut out = String::new();
    std::io::Read::read_to_string(first.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(out.contains("Watchdog running (interval: 200ms"), "{out}");
    assert!(out.trim_end().ends_with("Watchdog stopped."), "{out}");
    assert_eq!(watch_status(&p)["running"], false);
    assert_eq!(
        std::fs::read_to_string(layout(&p).watchdog_pid()).unwrap(),
        "",
        "the pid file is emptied on a clean stop"
    );
    assert_eq!(p.ok(&["watch", "--stop"]).trim(), "Watchdog is not running");
}

#[test]
fn sigint_and_sigterm_stop_the_daemon_cleanly() {
    let p = Project::new();
    for sig in ["-INT", "-TERM"] {
        let mut child = watch(&p, &["--interval", "100"]);
        wait_running(&p, true);
        signal(child.id(), sig);
        assert!(wait_exit(&mut child).success(), "{sig}");
        assert_eq!(watch_status(&p)["running"], false, "{sig}");
    }
}

#[test]
fn background_start_then_stop() {
    let p = Project::new();
    let stdout = p.ok(&["watch", "--background", "--interval", "150"]);
    assert!(
        stdout.contains("Watchdog started in background (PID: "),
        "{stdout}"
    );
    assert!(stdout.contains("interval: 150ms"), "{stdout}");
    let status = watch_status(&p);
    assert_eq!(status["running"], true);
    assert!(
        p.fails(&["watch", "--background"], 1)
            .contains("already runs")
    );
    let stopped: serde_json::Value =
        serde_json::from_str(&p.ok(&["watch", "--stop", "--json"])).unwrap();
    assert_eq!(stopped["stopped"], true);
    assert_eq!(stopped["pid"], status["pid"]);
    assert_eq!(watch_status(&p)["running"], false);
    let log = std::fs::read_to_string(layout(&p).file("logs").join("watchdog.log")).unwrap();
    assert!(log.contains("Watchdog stopped."), "{log}");
}

/// A tmux session on the project's socket running `cat`, registered as a working builder of
/// `lead-1`.
fn agent(p: &Project, mux: &TmuxMultiplexer, name: &str) -> AgentSession {
    let session_name = format!("legio-test-{name}");
    let created = mux
        .create(&SessionSpec {
            name: session_name.clone(),
            cwd: p.root.clone(),
            argv: vec!["cat".into()],
            env: vec![],
            env_remove: vec![],
            log_path: None,
        })
        .unwrap();
    let now = SystemClock.now();
    let row = AgentSession {
        id: format!("session-{}-{name}", now.millis()),
        agent_name: AgentName::new(name).unwrap(),
        capability: Capability::Builder,
        worktree_path: p
            .root
            .join(".legio/worktrees")
            .join(name)
            .display()
            .to_string(),
        branch_name: format!("legio/{name}/t-1"),
        bead_id: "t-1".into(),
        tmux_session: session_name,
        state: AgentState::Working,
        pid: created.pid,
        parent_agent: Some(AgentName::new("lead-1").unwrap()),
        depth: 1,
        run_id: None,
        started_at: now,
        last_activity: now,
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "script".into(),
        file_scope: vec![],
        spec_path: None,
    };
    SqliteSessionStore::open_in(&layout(p))
        .unwrap()
        .upsert(&row)
        .unwrap();
    row
}

struct Server(TmuxMultiplexer);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill_server();
    }
}

fn row(p: &Project, name: &str) -> AgentSession {
    SqliteSessionStore::open_in(&layout(p))
        .unwrap()
        .get(&AgentName::new(name).unwrap())
        .unwrap()
        .unwrap()
}

fn once(p: &Project) -> String {
    p.ok(&["watch", "--once"])
}

#[test]
fn a_killed_agent_is_marked_zombie_in_one_tick_and_its_parent_is_mailed() {
    let p = Project::new();
    let server = Server(tmux(&p));
    let b1 = agent(&p, &server.0, "b1");
    assert_eq!(once(&p), "", "a healthy agent needs nothing");

    signal(b1.pid.unwrap(), "-KILL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .0
        .get(&b1.tmux_session)
        .unwrap()
        .is_some_and(|s| s.running)
    {
        assert!(
            Instant::now() < deadline,
            "the pane never showed its process dead"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = once(&p);
    assert!(lines.contains("b1: dead, its process exited"), "{lines}");
    assert!(lines.contains("marked zombie; session ended"), "{lines}");
    assert!(lines.contains("b1: not restarted"), "{lines}");
    assert_eq!(row(&p, "b1").state, AgentState::Zombie);
    assert!(server.0.get(&b1.tmux_session).unwrap().is_none());

    let mail = SqliteMailStore::open_in(&layout(&p))
        .unwrap()
        .list(&MailFilter {
            to: Some("lead-1".into()),
            ..MailFilter::default()
        })
        .unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].mail_type, MailType::WorkerDied);
    let payload: WorkerDiedPayload =
        serde_json::from_str(mail[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(payload.agent_name, "b1");
    assert_eq!(payload.action, "not_recoverable");

    // Handled once: the next ticks leave the zombie alone.
    assert_eq!(once(&p), "");
    assert_eq!(once(&p), "");
}

#[test]
fn an_agent_that_stops_making_progress_is_warned_nudged_then_terminated() {
    let p = Project::new();
    let server = Server(tmux(&p));
    let b2 = agent(&p, &server.0, "b2");
    let sessions = SqliteSessionStore::open_in(&layout(&p)).unwrap();
    let now = SystemClock.now();
    let edit = |f: &dyn Fn(&mut AgentSession)| {
        let mut r = row(&p, "b2");
        f(&mut r);
        sessions.upsert(&r).unwrap();
    };
    // No activity for 61 s: warned.
    edit(&|r| r.last_activity = now.plus_millis(-61_000));
    let lines = once(&p);
    assert!(
        lines.contains("b2: no activity for 1m 1s; warned"),
        "{lines}"
    );
    assert_eq!(row(&p, "b2").escalation_level, 1);

    // One nudge interval later: nudged, and the text reaches its terminal.
    edit(&|r| r.stalled_since = Some(now.plus_millis(-60_500)));
    let lines = once(&p);
    assert!(lines.contains("nudged (sent)"), "{lines}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let screen = server.0.capture(&b2.tmux_session, 20).unwrap();
        if screen.contains("[legio watchdog] No activity from you") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the nudge never appeared:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Three intervals after the stall began and past the zombie threshold: terminated.
    edit(&|r| {
        r.stalled_since = Some(now.plus_millis(-181_000));
        r.last_activity = now.plus_millis(-601_000);
    });
    let lines = once(&p);
    assert!(lines.contains("b2: dead, it made no progress"), "{lines}");
    let r = row(&p, "b2");
    assert_eq!(r.state, AgentState::Zombie);
    assert_eq!(r.escalation_level, 4);
    assert!(
        server.0.get(&b2.tmux_session).unwrap().is_none(),
        "its session was ended"
    );
}
