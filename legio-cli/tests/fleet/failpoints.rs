//! A failure injected right after each step of `legio sling` (`LEGIO_FAILPOINT=sling:<step>`,
//! a test-only seam) leaves nothing behind: no session row, worktree, branch, multiplexer
//! session, settings, dispatch mail, task change, run, log or state directory.

use legio_core::ops::spawn::Step;
use legio_core::ports::SessionStore;
use legio_core::{AgentState, Layout};

use crate::harness::{Backend, Fleet, worker_plan};
use crate::support::project::git;

/// Asserts that nothing of agent `name` exists.
fn nothing_left(f: &Fleet, name: &str, step: &str) {
    let ctx = format!("after a failure at {step}");
    assert!(f.row(name).is_none(), "{ctx}: a session row is left");
    let wt = f.p.root.join(".legio/worktrees").join(name);
    assert!(!wt.exists(), "{ctx}: {} is left", wt.display());
    assert!(
        !f.branches()
            .iter()
            .any(|b| b.starts_with(&format!("legio/{name}/"))),
        "{ctx}: a branch is left: {:?}",
        f.branches()
    );
    assert!(
        f.session_names().is_empty(),
        "{ctx}: sessions left: {:?}",
        f.session_names()
    );
    let headless = f.p.root.join(".legio/headless");
    // The backend's own lock file may stay; nothing named after the agent's session may.
    let records: Vec<_> = std::fs::read_dir(&headless)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(name))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        records.is_empty(),
        "{ctx}: headless records left: {records:?}"
    );
    let mail = f.json(&["mail", "list", "--to", name]);
    assert_eq!(
        mail.as_array().unwrap().len(),
        0,
        "{ctx}: mail left: {mail:#}"
    );
    let task = f.json(&["task", "show", "t-1"]);
    assert_eq!(task["status"], "open", "{ctx}: {task:#}");
    assert!(task["assignee"].is_null(), "{ctx}: {task:#}");
    let runs = legio_store::SqliteSessionStore::open_in(&Layout::new(&f.p.root))
        .unwrap()
        .list_runs(None, None)
        .unwrap();
    assert!(runs.is_empty(), "{ctx}: runs left: {runs:?}");
    assert!(
        !f.p.root.join(".legio/current-run.txt").exists(),
        "{ctx}: current-run.txt left"
    );
    for dir in ["logs", "agents"] {
        let d = f.p.root.join(".legio").join(dir).join(name);
        assert!(!d.exists(), "{ctx}: {} is left", d.display());
    }
    assert!(
        !f.event_types(name).iter().any(|t| t == "spawn"),
        "{ctx}: a spawn event was recorded"
    );
}

fn every_step_leaves_nothing_behind(backend: Backend) {
    let f = Fleet::new(backend);
    f.plan("default", &worker_plan());
    f.ok(&["task", "create", "Build", "--id", "t-1"]);
    for step in Step::ALL {
        let name = format!("fp-{step}");
        let failpoint = format!("sling:{step}");
        let (_, err) = f.fails(
            &["sling", "t-1", "--name", &name],
            &[("LEGIO_FAILPOINT", &failpoint)],
            1,
        );
        assert!(err.contains(&format!("failed at step {step}")), "{err}");
        assert!(
            err.contains("everything it had created was removed again"),
            "{err}"
        );
        nothing_left(&f, &name, step.as_str());
        let failure = f
            .events(&name)
            .into_iter()
            .find(|e| e.event_type == "error");
        let data = failure.and_then(|e| e.data).unwrap_or_default();
        assert!(
            data.contains("spawn_failed") && data.contains(step.as_str()),
            "{data}"
        );
    }

    // Nothing blocks the name afterwards.
    let name = format!("fp-{}", Step::ALL[Step::ALL.len() - 1]);
    f.json(&["sling", "t-1", "--name", &name]);
    f.wait_state(&name, AgentState::Completed);
}

#[test]
fn every_step_of_sling_rolls_back_in_tmux() {
    every_step_leaves_nothing_behind(Backend::Tmux);
}

#[test]
fn every_step_of_sling_rolls_back_headless() {
    every_step_leaves_nothing_behind(Backend::Headless);
}

#[test]
fn a_failed_respawn_puts_the_finished_agent_back() {
    let f = Fleet::new(Backend::Tmux);
    f.plan("default", &worker_plan());
    f.ok(&["task", "create", "Build", "--id", "t-1"]);
    f.json(&["sling", "t-1", "--name", "b1"]);
    f.wait_state("b1", AgentState::Completed);
    f.ok(&["stop", "b1"]); // the positional name is `--agent`
    let finished = f.row("b1").unwrap();
    git(&f.p.root, &["merge", "-q", "--no-edit", "legio/b1/t-1"]);
    f.ok(&["worktree", "clean"]);

    // The name is free again; a second b1 fails while starting: the first one's row returns.
    let (_, err) = f.fails(
        &["sling", "t-1", "--name", "b1"],
        &[("LEGIO_FAILPOINT", "sling:prompt")],
        1,
    );
    assert!(err.contains("failed at step prompt"), "{err}");
    assert_eq!(f.row("b1").unwrap(), finished);
    assert!(f.session_names().is_empty());
}

#[test]
fn refusals_come_before_anything_is_created() {
    let f = Fleet::new(Backend::Tmux);
    f.ok(&["task", "create", "Build", "--id", "t-1"]);
    f.ok(&["task", "create", "Done already", "--id", "t-2"]);
    f.ok(&["task", "close", "t-2"]);
    let cases: &[(&[&str], &str)] = &[
        (&["sling", "t-9", "--name", "x1"], "task t-9 not found"),
        (&["sling", "t-2", "--name", "x1"], "task t-2 is closed"),
        (
            &["sling", "t-1", "--name", "x1", "--spec", "nope.md"],
            "spec file",
        ),
        (
            &["sling", "t-1", "--name", "x1", "--parent", "ghost"],
            "parent agent ghost not found",
        ),
        (
            &["sling", "t-1", "--name", "x1", "--files", "../etc/passwd"],
            "not a path inside the worktree",
        ),
        (
            &[
                "sling",
                "t-1",
                "--name",
                "x1",
                "--capability",
                "coordinator",
            ],
            "legio coordinator start",
        ),
        (
            &["sling", "t-1", "--name", "x1", "--model", "gpt-5"],
            "is not a model legio knows",
        ),
        (
            &["sling", "t-1", "--name", "x1", "--depth", "3"],
            "depth limit exceeded",
        ),
    ];
    for (args, expected) in cases {
        let (_, err) = f.fails(args, &[], 1);
        assert!(err.contains(expected), "{args:?}: {err}");
        nothing_left_quick(&f, "x1");
    }
    // Claude Code refuses to skip permissions as root: legio says so before starting anything.
    if crate::support::claude::running_as_root() {
        let (_, err) = f.fails(
            &["sling", "t-1", "--name", "x1", "--runtime", "claude"],
            &[],
            1,
        );
        assert!(
            err.contains("as root") && err.contains("IS_SANDBOX=1"),
            "{err}"
        );
        nothing_left_quick(&f, "x1");
    }
    // Names are validated before they become paths, branches or session names.
    let (_, err) = f.fails(&["sling", "t-1", "--name", "../x"], &[], 2);
    assert!(err.contains("invalid agent name"), "{err}");

    // A spec is found at the project root even when sling runs in a subdirectory.
    f.ok(&["spec", "write", "t-1", "--body", "# Build it"]);
    std::fs::create_dir_all(f.p.root.join("sub")).unwrap();
    let out = f.run(
        &[
            "-C",
            "sub",
            "--json",
            "sling",
            "t-1",
            "--name",
            "x2",
            "--spec",
            ".legio/specs/t-1.md",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = f.row("x2").unwrap();
    assert_eq!(
        row.spec_path.as_deref(),
        Some(f.p.root.join(".legio/specs/t-1.md").to_str().unwrap())
    );
}

fn nothing_left_quick(f: &Fleet, name: &str) {
    assert!(f.row(name).is_none());
    assert!(!f.p.root.join(".legio/worktrees").join(name).exists());
    assert!(f.session_names().is_empty());
}
