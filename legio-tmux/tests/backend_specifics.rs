//! What only one backend can get wrong: tmux's program and socket, headless records and FIFOs.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Backend, is_gone, lines_of, wait_for};
use legio_core::ports::{Multiplexer, MuxError};
use legio_tmux::{BaseEnv, HeadlessConfig, HeadlessMultiplexer, TmuxConfig, TmuxMultiplexer};

#[test]
fn tmux_missing_is_reported_with_the_install_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mux = TmuxMultiplexer::new(
        "t",
        dir.path(),
        TmuxConfig {
            program: "/nonexistent/bin/tmux".into(),
            ..TmuxConfig::default()
        },
    );
    let err = mux.list().unwrap_err();
    assert!(matches!(err, MuxError::NotInstalled { .. }), "{err}");
    assert!(err.to_string().contains("apt-get install"), "{err}");
    let b = Backend::headless(); // only for its spec helper
    let err = mux.create(&b.spec("legio-t-a", &["true"])).unwrap_err();
    assert!(matches!(err, MuxError::NotInstalled { .. }), "{err}");
}

#[test]
fn tmux_sessions_live_on_the_projects_own_socket() {
    let b = Backend::tmux();
    b.mux
        .create(&b.spec("legio-t-own", &["sleep", "300"]))
        .unwrap();
    // Another project (another root) has its own server and sees nothing of this one.
    let other_root = tempfile::tempdir().unwrap();
    let other = TmuxMultiplexer::new("t", other_root.path(), TmuxConfig::default());
    assert_ne!(
        other.socket_name(),
        legio_tmux::socket_name("t", b.dir.path())
    );
    assert!(other.list().unwrap().is_empty());
    // The session is on the socket legio names, for `tmux -L <socket> attach`.
    let out = std::process::Command::new("tmux")
        .args(["-L", &legio_tmux::socket_name("t", b.dir.path())])
        .args(["list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "legio-t-own");
    b.mux.kill("legio-t-own").unwrap();
}

#[test]
fn text_far_beyond_tmux_command_limit_arrives_whole() {
    for b in [Backend::tmux(), Backend::headless()] {
        let out = b.path("received.txt");
        let argv = b.line_reader(&out);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        b.mux.create(&b.spec("legio-t-long", &argv)).unwrap();
        assert!(wait_for(10, || b
            .mux
            .capture("legio-t-long", 20)
            .unwrap()
            .contains("reader-ready")));
        // 40,000 bytes: tmux refuses a single command over 16 KiB; multi-byte characters
        // straddle the chunk boundaries.
        let text: String = "é;-x ".repeat(6_667);
        assert!(text.len() > 40_000);
        b.mux.send_text("legio-t-long", &text).unwrap();
        assert!(
            wait_for(20, || !lines_of(&out).is_empty()),
            "{} received it",
            b.mux.kind()
        );
        assert_eq!(lines_of(&out), vec![text], "{}", b.mux.kind());
        b.mux.kill("legio-t-long").unwrap();
    }
}

fn headless_config() -> HeadlessConfig {
    HeadlessConfig {
        base_env: BaseEnv::Exactly(common::base_env()),
        kill_grace: Duration::from_millis(500),
        input_timeout: Duration::from_millis(500),
    }
}

#[test]
fn headless_sessions_are_visible_to_any_later_process() {
    let b = Backend::headless();
    let out = b.path("received.txt");
    let argv = b.line_reader(&out);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let created = b.mux.create(&b.spec("legio-t-shared", &argv)).unwrap();
    // A second multiplexer over the same directory stands for a later legio process.
    let later = HeadlessMultiplexer::new(b.path("state"), headless_config());
    let seen = later.get("legio-t-shared").unwrap().unwrap();
    assert_eq!((seen.pid, seen.running), (created.pid, true));
    later
        .send_text("legio-t-shared", "from a later process")
        .unwrap();
    assert!(wait_for(10, || lines_of(&out) == ["from a later process"]));
    later.kill("legio-t-shared").unwrap();
    assert!(wait_for(5, || is_gone(created.pid.unwrap())));
    assert_eq!(b.mux.get("legio-t-shared").unwrap(), None);
}

#[test]
fn headless_never_mistakes_a_recycled_pid_for_the_agent() {
    let b = Backend::headless();
    let created = b
        .mux
        .create(&b.spec("legio-t-reuse", &["sleep", "300"]))
        .unwrap();
    let pid = created.pid.unwrap();
    // Make the record describe "another process with the same pid", as after pid reuse.
    let record_path = b.path("state/legio-t-reuse.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    record["startTime"] = (record["startTime"].as_u64().unwrap() + 1).into();
    std::fs::write(&record_path, record.to_string()).unwrap();

    let seen = b.mux.get("legio-t-reuse").unwrap().unwrap();
    assert_eq!((seen.running, seen.pid), (false, None));
    assert!(matches!(
        b.mux.send_text("legio-t-reuse", "hi"),
        Err(MuxError::NotRunning(_))
    ));
    b.mux.kill("legio-t-reuse").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !is_gone(pid),
        "kill must not signal a process it cannot prove is the agent"
    );
    legio_tmux::proctree::terminate(pid, None, Duration::from_millis(500));
    assert!(wait_for(5, || is_gone(pid)));
}

#[test]
fn headless_unreadable_records_are_shown_and_removable() {
    let b = Backend::headless();
    std::fs::create_dir_all(b.path("state")).unwrap();
    std::fs::write(b.path("state/legio-t-bad.json"), "{ not json").unwrap();
    let listed = b.mux.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].running),
        ("legio-t-bad", false)
    );
    let err = b.mux.send_text("legio-t-bad", "hi").unwrap_err();
    assert!(err.to_string().contains("legio stop"), "{err}");
    b.mux.kill("legio-t-bad").unwrap();
    assert!(b.mux.list().unwrap().is_empty());
}

#[test]
fn headless_input_that_is_never_read_fails_loudly() {
    let b = Backend::headless();
    let mux = HeadlessMultiplexer::new(b.path("state"), headless_config());
    mux.create(&b.spec("legio-t-deaf", &["sleep", "300"]))
        .unwrap();
    // More than a pipe holds (64 KiB): the agent never reads, so this cannot all go in.
    let err = mux
        .send_text("legio-t-deaf", &"x".repeat(200_000))
        .unwrap_err();
    assert!(err.to_string().contains("not reading its input"), "{err}");
    mux.kill("legio-t-deaf").unwrap();
}

#[test]
fn headless_killing_names_outside_its_directory_touches_nothing() {
    let b = Backend::headless();
    let victim = b.path("victim.json");
    std::fs::write(&victim, "{}").unwrap();
    std::fs::create_dir_all(b.path("state")).unwrap();
    b.mux.kill("../victim").unwrap();
    assert!(victim.exists());
}
