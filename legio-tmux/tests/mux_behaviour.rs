//! The promises of the `Multiplexer` port, checked against both real backends with the same
//! test bodies: a real tmux server on a private socket, and real detached processes.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, is_gone, lines_of, wait_for};
use legio_core::ports::{MuxError, ProcessProbe};
use legio_tmux::ProcfsProbe;

/// Runs every listed test body against tmux and against headless.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod tmux {
            $(#[test] fn $name() { super::$name(&super::Backend::tmux()) })*
        }
        mod headless {
            $(#[test] fn $name() { super::$name(&super::Backend::headless()) })*
        }
    };
}

on_both_backends!(
    create_list_get_and_kill,
    tricky_texts_arrive_intact,
    capture_shows_the_latest_output,
    kill_ends_the_whole_process_tree,
    missing_sessions_are_reported,
    an_exited_process_stays_listed_as_not_running,
    environment_and_directory_are_controlled,
    argv_is_executed_without_interpretation,
    output_is_kept_in_the_log,
    bad_specs_leave_nothing_behind,
    names_match_exactly_never_by_prefix,
);

fn create_list_get_and_kill(b: &Backend) {
    let mux = &b.mux;
    assert!(
        mux.list().unwrap().is_empty(),
        "a fresh backend has no sessions"
    );
    let first = mux.create(&b.spec("legio-t-a", &["sleep", "300"])).unwrap();
    let second = mux.create(&b.spec("legio-t-b", &["sleep", "300"])).unwrap();
    assert!(first.running && second.running);
    let (pa, pb) = (first.pid.unwrap(), second.pid.unwrap());
    assert_ne!(pa, pb);
    assert_eq!(ProcfsProbe.alive_many(&[pa, pb]), vec![true, true]);

    let listed = mux.list().unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{listed:?}");
    assert!(names.contains(&"legio-t-a") && names.contains(&"legio-t-b"));
    let a = mux.get("legio-t-a").unwrap().expect("listed");
    assert_eq!((a.pid, a.running, a.exit_code), (Some(pa), true, None));

    mux.kill("legio-t-a").unwrap();
    assert!(
        wait_for(5, || is_gone(pa)),
        "the process of a killed session is gone"
    );
    assert_eq!(mux.get("legio-t-a").unwrap(), None);
    let left: Vec<String> = mux.list().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(left, vec!["legio-t-b".to_owned()]);
    mux.kill("legio-t-a")
        .expect("killing a killed session is fine");
    mux.kill("legio-t-b").unwrap();
    assert!(mux.list().unwrap().is_empty());
    assert!(wait_for(5, || is_gone(pb)));
}

fn tricky_texts_arrive_intact(b: &Backend) {
    let out = b.path("received.txt");
    let marker = b.path("format-injection");
    let argv = b.line_reader(&out);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    b.mux.create(&b.spec("legio-t-reader", &argv)).unwrap();
    assert!(
        wait_for(10, || b
            .mux
            .capture("legio-t-reader", 20)
            .unwrap()
            .contains("reader-ready")),
        "the reader starts"
    );
    let long: String = (0..5000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let texts: Vec<(String, String)> = vec![
        (
            "-x starts with a dash".into(),
            "-x starts with a dash".into(),
        ),
        (
            "ends with a semicolon;".into(),
            "ends with a semicolon;".into(),
        ),
        ("--".into(), "--".into()),
        ("a\\;".into(), "a\\;".into()),
        ("two\nlines\tand a tab".into(), "two lines and a tab".into()),
        (
            "esc\u{1b}[2J stays text".into(),
            "esc [2J stays text".into(),
        ),
        (
            format!(
                "#{{session_name}} #(touch {}) $(id) `id` 'q' \"dq\" ~",
                marker.display()
            ),
            format!(
                "#{{session_name}} #(touch {}) $(id) `id` 'q' \"dq\" ~",
                marker.display()
            ),
        ),
        ("naïve ✓ 日本語".into(), "naïve ✓ 日本語".into()),
        (long.clone(), long),
    ];
    for (i, (text, _)) in texts.iter().enumerate() {
        b.mux.send_text("legio-t-reader", text).unwrap();
        assert!(
            wait_for(10, || lines_of(&out).len() > i),
            "text {i} ({} bytes) arrives",
            text.len()
        );
    }
    let received = lines_of(&out);
    for (i, (_, want)) in texts.iter().enumerate() {
        assert_eq!(&received[i], want, "text {i}");
    }
    assert_eq!(received.len(), texts.len(), "each text is exactly one line");
    assert!(!marker.exists(), "tmux must not run #(...) from typed text");
    b.mux.kill("legio-t-reader").unwrap();
}

fn capture_shows_the_latest_output(b: &Backend) {
    b.mux
        .create(&b.spec(
            "legio-t-cap",
            &[
                "sh",
                "-c",
                "for i in $(seq 1 100); do echo line-$i; done; sleep 300",
            ],
        ))
        .unwrap();
    assert!(
        wait_for(10, || b
            .mux
            .capture("legio-t-cap", 5)
            .unwrap()
            .contains("line-100")),
        "capture shows the output"
    );
    let tail = b.mux.capture("legio-t-cap", 5).unwrap();
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(
        lines,
        vec!["line-96", "line-97", "line-98", "line-99", "line-100"],
        "the last 5 lines"
    );
    assert_eq!(b.mux.capture("legio-t-cap", 0).unwrap(), "");
    b.mux.kill("legio-t-cap").unwrap();
}

fn kill_ends_the_whole_process_tree(b: &Backend) {
    let pids = b.path("pids");
    // Two children, a grandchild, a double-forked stray (its parent exits at once), and one
    // that ignores TERM and so needs KILL.
    let script = format!(
        "sleep 301 & echo $! >> {p}\n\
         sh -c 'sleep 302 & echo $! >> {p}; wait' & echo $! >> {p}\n\
         (sleep 303 & echo $! >> {p})\n\
         sh -c 'trap \"\" TERM; echo $$ >> {p}; while :; do sleep 1; done' &\n\
         echo ready >> {p}.done\n\
         wait\n",
        p = pids.display()
    );
    let session = b
        .mux
        .create(&b.spec("legio-t-tree", &["sh", "-c", &script]))
        .unwrap();
    let root = session.pid.unwrap();
    assert!(wait_for(10, || b.path("pids.done").exists()
        && lines_of(&pids).len() == 5));
    let tree: Vec<u32> = lines_of(&pids).iter().map(|l| l.parse().unwrap()).collect();
    assert!(tree.iter().all(|&p| !is_gone(p)), "all started: {tree:?}");

    b.mux.kill("legio-t-tree").unwrap();
    for pid in tree.iter().chain([&root]) {
        assert!(
            wait_for(5, || is_gone(*pid)),
            "process {pid} survived the kill"
        );
    }
    assert_eq!(b.mux.get("legio-t-tree").unwrap(), None);
}

fn missing_sessions_are_reported(b: &Backend) {
    let mux = &b.mux;
    assert!(matches!(
        mux.send_text("legio-t-nope", "hi"),
        Err(MuxError::NoSuchSession(n)) if n == "legio-t-nope"
    ));
    assert!(matches!(
        mux.capture("legio-t-nope", 10),
        Err(MuxError::NoSuchSession(_))
    ));
    assert_eq!(mux.get("legio-t-nope").unwrap(), None);
    mux.kill("legio-t-nope")
        .expect("killing a missing session is fine");
    // The same with a server or state directory that exists.
    mux.create(&b.spec("legio-t-other", &["sleep", "300"]))
        .unwrap();
    assert!(matches!(
        mux.send_text("legio-t-nope", "hi"),
        Err(MuxError::NoSuchSession(_))
    ));
    mux.kill("legio-t-nope").unwrap();
    mux.kill("legio-t-other").unwrap();
}

fn an_exited_process_stays_listed_as_not_running(b: &Backend) {
    let mux = &b.mux;
    // The pause lets tmux 3.3a read "bye" before the exit: with an instant exit it sometimes
    // marks the pane dead with the last output unread (a tmux race; the log keeps it).
    let spec = b.spec("legio-t-exit", &["sh", "-c", "echo bye; sleep 0.2; exit 7"]);
    mux.create(&spec).unwrap();
    assert!(
        wait_for(10, || mux
            .get("legio-t-exit")
            .unwrap()
            .is_some_and(|s| !s.running)),
        "the exit is seen: {:?}",
        mux.get("legio-t-exit")
    );
    // The code follows as soon as the backend has reaped the process. tmux 3.3a under load
    // sometimes leaves an exited pane process unreaped (a zombie, seen with /proc) until its
    // next SIGCHLD: the pane is dead but its status unknown, which the port allows.
    let code_seen = wait_for(3, || {
        mux.get("legio-t-exit")
            .unwrap()
            .is_some_and(|s| s.exit_code.is_some())
    });
    let listed = mux.list().unwrap();
    let gone = listed.iter().find(|s| s.name == "legio-t-exit").unwrap();
    assert_eq!((gone.running, gone.pid), (false, None));
    if code_seen || mux.kind() == "headless" {
        assert_eq!(gone.exit_code, Some(7));
    } else {
        assert_eq!(
            gone.exit_code, None,
            "an unknown code is None, never a guess"
        );
    }
    assert!(matches!(
        mux.send_text("legio-t-exit", "anyone?"),
        Err(MuxError::NotRunning(_))
    ));
    // A whole screen: tmux may print its "Pane is dead" note at the bottom row.
    let last_words = mux.capture("legio-t-exit", 60).unwrap();
    assert!(last_words.contains("bye"), "{last_words:?}");
    assert!(matches!(
        mux.create(&spec),
        Err(MuxError::AlreadyExists(n)) if n == "legio-t-exit"
    ));
    mux.kill("legio-t-exit").unwrap();
    assert_eq!(mux.get("legio-t-exit").unwrap(), None);
    mux.create(&spec)
        .expect("the name is free again after kill");
    mux.kill("legio-t-exit").unwrap();
}

fn environment_and_directory_are_controlled(b: &Backend) {
    let out = b.path("env.txt");
    let dir = b.path("dir with spaces #{session_name} #(touch pwned)");
    std::fs::create_dir(&dir).unwrap();
    let mut spec = b.spec(
        "legio-t-env",
        &[
            "sh",
            "-c",
            "pwd > \"$0\"; env >> \"$0\"; sleep 300",
            out.to_str().unwrap(),
        ],
    );
    spec.cwd.clone_from(&dir);
    spec.env = vec![
        ("LEGIO_AGENT_NAME".into(), "builder-1".into()),
        ("TRICKY".into(), "a b; $(id) #{session_name};".into()),
        // tmux gives a new session the creating client's PATH, whatever `-e` says.
        ("PATH".into(), "/legio-test-bin:/usr/bin:/bin".into()),
    ];
    spec.env_remove = vec!["CLAUDECODE".into()];
    b.mux.create(&spec).unwrap();
    assert!(wait_for(10, || lines_of(&out).len() > 3));
    let lines = lines_of(&out);
    assert_eq!(lines[0], dir.display().to_string(), "the working directory");
    assert!(!dir.join("pwned").exists() && !b.path("pwned").exists());
    let has = |want: &str| lines.iter().any(|l| l == want);
    assert!(has("LEGIO_AGENT_NAME=builder-1"), "{lines:?}");
    assert!(has("TRICKY=a b; $(id) #{session_name};"), "{lines:?}");
    assert!(has("PATH=/legio-test-bin:/usr/bin:/bin"), "{lines:?}");
    assert!(
        has("LEGIO_TEST_BASE=inherited"),
        "the base environment: {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("CLAUDECODE=")),
        "removed variables stay removed: {lines:?}"
    );
    b.mux.kill("legio-t-env").unwrap();
}

fn argv_is_executed_without_interpretation(b: &Backend) {
    let out = b.path("args.txt");
    let out_arg = out.display().to_string();
    let words = [
        "$HOME",
        "a b",
        "semi;",
        "#{session_name}",
        "-",
        "--",
        "`id`",
    ];
    let mut argv = vec![
        "sh",
        "-c",
        "out=$1; shift; printf '%s\\n' \"$@\" > \"$out\"; sleep 300",
        "sh",
        &out_arg,
    ];
    argv.extend(words);
    b.mux.create(&b.spec("legio-t-argv", &argv)).unwrap();
    assert!(wait_for(10, || lines_of(&out).len() == words.len()));
    assert_eq!(lines_of(&out), words);
    b.mux.kill("legio-t-argv").unwrap();

    // A one-word argv whose program path has a space and a `;` is still just a program.
    let prog_dir = b.path("my tools;");
    std::fs::create_dir(&prog_dir).unwrap();
    let prog = prog_dir.join("agent");
    let ran = b.path("ran.txt");
    std::fs::write(
        &prog,
        format!("#!/bin/sh\necho ran > '{}'\nsleep 300\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.mux
        .create(&b.spec("legio-t-one", &[prog.to_str().unwrap()]))
        .unwrap();
    assert!(wait_for(10, || lines_of(&ran) == ["ran"]));
    b.mux.kill("legio-t-one").unwrap();
}

fn output_is_kept_in_the_log(b: &Backend) {
    let log = b.path("logs/agent-1/terminal log #{x}.log");
    let mut spec = b.spec(
        "legio-t-log",
        &["sh", "-c", "echo to-stdout; echo to-stderr >&2; sleep 300"],
    );
    spec.log_path = Some(log.clone());
    b.mux.create(&spec).unwrap();
    assert!(
        wait_for(10, || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("to-stdout") && text.contains("to-stderr")
        }),
        "both streams reach {}",
        log.display()
    );
    b.mux.kill("legio-t-log").unwrap();
}

fn bad_specs_leave_nothing_behind(b: &Backend) {
    let mut spec = b.spec("legio-t-bad", &["sleep", "300"]);
    spec.cwd = b.path("missing-dir");
    let err = b.mux.create(&spec).unwrap_err();
    assert!(
        matches!(&err, MuxError::InvalidSpec { problem, .. } if problem.contains("does not exist")),
        "{err}"
    );
    let mut spec = b.spec("bad name", &["sleep", "300"]);
    assert!(matches!(
        b.mux.create(&spec),
        Err(MuxError::InvalidSpec { .. })
    ));
    spec.name = "legio-t-empty".into();
    spec.argv.clear();
    assert!(matches!(
        b.mux.create(&spec),
        Err(MuxError::InvalidSpec { .. })
    ));
    assert!(b.mux.list().unwrap().is_empty(), "nothing was created");
}

fn names_match_exactly_never_by_prefix(b: &Backend) {
    b.mux
        .create(&b.spec("legio-t-builder-10", &["sleep", "300"]))
        .unwrap();
    // tmux would take "legio-t-builder-1" as a prefix of "legio-t-builder-10" without care.
    assert!(matches!(
        b.mux.send_text("legio-t-builder-1", "hi"),
        Err(MuxError::NoSuchSession(_))
    ));
    assert_eq!(b.mux.get("legio-t-builder-1").unwrap(), None);
    b.mux.kill("legio-t-builder-1").unwrap();
    assert!(b.mux.get("legio-t-builder-10").unwrap().unwrap().running);
    b.mux.kill("legio-t-builder-10").unwrap();
}
