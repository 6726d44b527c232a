//! `legio doctor` through the binary, on real git repositories, real SQLite files and a real
//! tmux server on legio's private socket.
#![allow(clippy::unwrap_used)] // a test step that fails is a failed test

mod doctor_fixture;

use doctor_fixture::{DEAD_PID, Project};
use legio_core::domain::agent::{AgentState, Capability};
use serde_json::Value;

fn json(p: &Project, args: &[&str]) -> (i32, Value) {
    let (code, out, err) = p.run(args);
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, value)
}

fn check<'v>(report: &'v Value, name: &str) -> &'v Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[test]
fn a_healthy_project_passes_every_check() {
    let p = Project::new();
    let (code, out, err) = p.run(&["doctor"]);
    assert_eq!(code, 0, "{out}\n{err}");
    p.snapshots()
        .bind(|| insta::assert_snapshot!("doctor_healthy", out));
    let (code, report) = json(&p, &["doctor", "--json"]);
    assert_eq!(code, 0);
    let summary = &report["summary"];
    assert_eq!(summary["warn"], 0, "{report:#}");
    assert_eq!(summary["fail"], 0, "{report:#}");
    assert!(summary["pass"].as_u64().unwrap() >= 25, "{summary}");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "pass" && c["fixed"] == false)
    );
}

#[test]
fn categories_narrow_the_run_and_unknown_ones_are_usage_errors() {
    let p = Project::new();
    let (code, report) = json(&p, &["doctor", "--json", "--category", "locks"]);
    assert_eq!(code, 0);
    let cats: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert!(
        !cats.is_empty() && cats.iter().all(|c| *c == "locks"),
        "{cats:?}"
    );
    let (_, report) = json(&p, &["doctor", "--json", "--category", "consistency"]);
    assert_eq!(
        report["checks"][0]["category"], "orphans",
        "legio 0.1.0's name"
    );
    let (code, _, err) = p.run(&["doctor", "--category", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("possible values"), "{err}");
}

/// A project with one of each problem doctor knows how to find.
fn broken() -> Project {
    let p = Project::new();
    let l = p.layout();
    // A damaged database.
    for f in ["metrics.db-wal", "metrics.db-shm"] {
        let _ = std::fs::remove_file(l.file(f));
    }
    std::fs::write(
        l.metrics_db(),
        "this is not an SQLite database, only some text",
    )
    .unwrap();
    // A watchdog that died without removing its pid file.
    std::fs::write(l.watchdog_pid(), format!("{DEAD_PID}\n")).unwrap();
    // A worktree nobody owns, and one whose directory vanished.
    p.worktree("ghost", "t-9", true);
    let gone = p.worktree("vanished", "t-8", false);
    std::fs::remove_dir_all(gone).unwrap();
    // A session on legio's socket that no agent owns, and one that an agent owns.
    p.tmux_session("legio-project-ghost");
    p.agent("b1", Capability::Builder, AgentState::Working);
    p.tmux_session("legio-project-b1");
    std::fs::create_dir_all(p.root.join(".legio/worktrees/b1/.claude")).unwrap();
    // No .gitignore, and a config that does not parse.
    std::fs::remove_file(l.file(".gitignore")).unwrap();
    std::fs::write(l.config_local(), "agents:\n  maxConcurrent: [unclosed\n").unwrap();
    p
}

#[test]
fn a_broken_project_is_reported_and_fix_repairs_only_what_is_safe() {
    let p = broken();
    let l = p.layout();
    let (code, out, err) = p.run(&["doctor"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("doctor found"), "{err}");
    p.snapshots()
        .bind(|| insta::assert_snapshot!("doctor_broken", out));
    assert!(
        l.watchdog_pid().exists(),
        "doctor without --fix changes nothing"
    );
    assert_eq!(
        p.tmux_sessions(),
        ["legio-project-b1", "legio-project-ghost"]
    );

    let (code, report) = json(&p, &["doctor", "--fix", "--json"]);
    assert_eq!(code, 1, "failures remain: {report:#}");
    p.snapshots()
        .bind(|| insta::assert_json_snapshot!("doctor_broken_fix_json", report));
    for fixed in [
        "watchdog-pid",
        "orphan-sessions",
        "gitignore",
        "stale-worktrees",
    ] {
        assert_eq!(check(&report, fixed)["fixed"], true, "{fixed}: {report:#}");
    }
    for kept in ["metrics.db", "config", "orphan-worktrees", "agent-hooks"] {
        let c = check(&report, kept);
        assert_eq!(c["fixed"], false, "{kept}");
        assert_ne!(c["status"], "pass", "{kept}");
    }
    assert!(!l.watchdog_pid().exists());
    assert_eq!(
        p.tmux_sessions(),
        ["legio-project-b1"],
        "only the orphan was killed"
    );
    assert!(
        std::fs::read_to_string(l.file(".gitignore"))
            .unwrap()
            .contains("!config.yaml")
    );
    let worktrees = p.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("vanished"), "{worktrees}");
    assert!(
        worktrees.contains("ghost"),
        "the orphan worktree stays: {worktrees}"
    );
    assert!(
        p.legio_branches()
            .contains(&"legio/vanished/t-8".to_owned()),
        "a pruned worktree keeps its branch"
    );
    assert!(
        std::fs::read(l.metrics_db())
            .unwrap()
            .starts_with(b"this is not"),
        "a damaged database is never touched"
    );

    // What was fixed is now healthy; the rest is still reported.
    let (code, report) = json(&p, &["doctor", "--json"]);
    assert_eq!(code, 1);
    for healthy in [
        "watchdog-pid",
        "orphan-sessions",
        "gitignore",
        "stale-worktrees",
    ] {
        assert_eq!(check(&report, healthy)["status"], "pass", "{healthy}");
    }
}

#[test]
fn missing_databases_are_warnings_and_never_created() {
    let p = Project::new();
    let l = p.layout();
    for f in ["events.db", "events.db-wal", "events.db-shm"] {
        let _ = std::fs::remove_file(l.file(f));
    }
    let (code, report) = json(&p, &["doctor", "--json", "--category", "databases"]);
    assert_eq!(code, 0, "a warning is not a failure");
    let c = check(&report, "events.db");
    assert_eq!(c["status"], "warn");
    assert_eq!(c["details"][0], "run `legio init` to create it");
    assert!(!l.events_db().exists(), "doctor does not create it");
}

#[test]
fn a_running_agent_without_hooks_fails_and_a_live_watchdog_passes() {
    let p = Project::new();
    let wt = p.worktree("b2", "t-2", false);
    p.agent("b2", Capability::Builder, AgentState::Working);
    p.tmux_session("legio-project-b2");
    std::fs::write(
        p.layout().watchdog_pid(),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let (code, report) = json(&p, &["doctor", "--json"]);
    assert_eq!(code, 1);
    let hooks = check(&report, "agent-hooks");
    assert_eq!(hooks["status"], "fail");
    assert_eq!(
        hooks["details"][0],
        "b2: .legio/worktrees/b2/.claude/settings.local.json is missing"
    );
    assert_eq!(
        check(&report, "watchdog-pid")["message"],
        format!("the watchdog runs (pid {})", std::process::id())
    );
    assert_eq!(check(&report, "vanished-agents")["status"], "pass");
    assert_eq!(check(&report, "orphan-worktrees")["status"], "pass");

    let bin = assert_cmd::cargo::cargo_bin("legio");
    let hooks = legio_core::ops::settings::legio_hooks(&bin, None);
    let text = legio_core::ops::settings::install("s", "", &hooks).unwrap();
    std::fs::create_dir_all(wt.join(".claude")).unwrap();
    std::fs::write(wt.join(".claude/settings.local.json"), text).unwrap();
    let (code, report) = json(&p, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "agent-hooks")["status"], "pass");

    p.tmux(&["kill-session", "-t", "=legio-project-b2"]);
    let (_, report) = json(&p, &["doctor", "--json", "--category", "orphans"]);
    let v = check(&report, "vanished-agents");
    assert_eq!(v["status"], "warn");
    assert_eq!(
        v["details"][0],
        "b2 is working but its session legio-project-b2 is gone"
    );
}
