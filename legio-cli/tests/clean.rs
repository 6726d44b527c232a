//! `legio clean` through the binary, on real git repositories, real SQLite files and a real
//! tmux server on legio's private socket.
#![allow(clippy::unwrap_used)] // a test step that fails is a failed test

mod doctor_fixture;

use doctor_fixture::Project;
use legio_core::domain::agent::{AgentState, Capability};
use legio_core::ports::SessionStore;
use serde_json::Value;

fn json(p: &Project, args: &[&str]) -> (i32, Value, String) {
    let (code, out, err) = p.run(args);
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, value, err)
}

#[test]
fn without_a_target_it_is_a_usage_error_listing_them() {
    let p = Project::new();
    let (code, out, err) = p.run(&["clean"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    insta::assert_snapshot!("clean_no_target", err);
}

/// Worktrees and branches in every situation clean distinguishes.
fn git_fleet(p: &Project) {
    p.worktree("done", "t-1", false); // merged (at main), clean
    p.worktree("unmerged", "t-2", true); // holds a commit main lacks
    let dirty = p.worktree("dirty", "t-3", false);
    std::fs::write(dirty.join("notes.txt"), "uncommitted\n").unwrap();
    p.git(&["branch", "legio/old/t-4"]); // merged, no worktree
    p.git(&["branch", "legio/lost/t-5", "main"]);
    p.git(&["checkout", "-q", "legio/lost/t-5"]);
    p.write("lost.txt", "work\n");
    p.git(&["add", "-A"]);
    p.git(&["commit", "-q", "-m", "lost work"]);
    p.git(&["checkout", "-q", "main"]);
}

#[test]
fn clean_refuses_unmerged_branches_and_dirty_worktrees_until_forced() {
    let p = Project::new();
    git_fleet(&p);
    let (code, out, err) = p.run(&["clean", "--worktrees", "--branches"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("pass --force"), "{err}");
    p.snapshots()
        .bind(|| insta::assert_snapshot!("clean_refusals", out));
    assert_eq!(
        p.legio_branches(),
        ["legio/dirty/t-3", "legio/lost/t-5", "legio/unmerged/t-2"],
        "merged branches went, unmerged ones and the dirty worktree's stayed"
    );
    let listed = p.git(&["worktree", "list", "--porcelain"]);
    assert!(listed.contains("worktrees/dirty"), "{listed}");
    assert!(!listed.contains("worktrees/done") && !listed.contains("worktrees/unmerged"));
    assert!(p.root.join(".legio/worktrees/dirty/notes.txt").exists());

    let (code, report, err) = json(
        &p,
        &["clean", "--worktrees", "--branches", "--force", "--json"],
    );
    assert_eq!(code, 0, "{report:#}\n{err}");
    p.snapshots()
        .bind(|| insta::assert_json_snapshot!("clean_forced_json", report));
    assert!(p.legio_branches().is_empty());
    assert!(!p.root.join(".legio/worktrees/dirty").exists());
}

#[test]
fn a_dry_run_lists_and_changes_nothing() {
    let p = Project::new();
    git_fleet(&p);
    let before = (p.legio_branches(), p.git(&["worktree", "list"]));
    let (code, report, _) = json(&p, &["clean", "--all", "--dry-run", "--json"]);
    assert_eq!(code, 0, "a dry run answers, it does not fail: {report:#}");
    assert_eq!(report["dryRun"], true);
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&".legio/mail.db"), "{removed:?}");
    assert!(
        !removed.contains(&".legio/events.db"),
        "--all keeps the history"
    );
    assert_eq!(before, (p.legio_branches(), p.git(&["worktree", "list"])));
    assert!(p.layout().mail_db().exists());
}

#[test]
fn wiping_state_under_a_running_agent_is_refused_whole_unless_forced() {
    let p = Project::new();
    let l = p.layout();
    p.agent("b1", Capability::Builder, AgentState::Working);
    p.tmux_session("legio-project-b1");
    std::fs::create_dir_all(l.file("specs")).unwrap();
    std::fs::write(l.file("specs/t-1.md"), "spec").unwrap();

    let (code, out, err) = p.run(&["clean", "--mail", "--specs"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("refusing to wipe legio's state while agent b1 runs; nothing was changed"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(l.mail_db().exists() && l.file("specs/t-1.md").exists());

    // --force wipes mail under the agent, but does not stop it for that.
    let (code, report, _) = json(&p, &["clean", "--mail", "--force", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(!l.mail_db().exists());
    assert_eq!(p.tmux_sessions(), ["legio-project-b1"]);

    // Forgetting the agent's record stops it first.
    p.tmux_session("legio-project-leftover");
    let (code, report, _) = json(&p, &["clean", "--sessions", "--force", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    let removed = report["removed"].as_array().unwrap();
    assert_eq!(removed[0]["kind"], "agent");
    assert_eq!(removed[0]["name"], "b1");
    assert_eq!(removed[0]["detail"], "killed its session legio-project-b1");
    assert!(
        p.tmux_sessions().is_empty(),
        "the leftover session went too"
    );
    for f in ["sessions.db", "sessions.db-wal", "sessions.db-shm"] {
        assert!(!l.file(f).exists(), "{f}");
    }
}

#[test]
fn a_live_watchdog_blocks_wipes_and_force_says_it_keeps_running() {
    let p = Project::new();
    let l = p.layout();
    std::fs::write(l.watchdog_pid(), format!("{}\n", std::process::id())).unwrap();
    let (code, _, err) = p.run(&["clean", "--metrics"]);
    assert_eq!(code, 1);
    assert!(err.contains("the watchdog runs (pid"), "{err}");
    let (code, report, _) = json(&p, &["clean", "--metrics", "--force", "--json"]);
    assert_eq!(code, 0);
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("keeps running"),
        "{report:#}"
    );
    assert!(!l.metrics_db().exists());
}

#[test]
fn clean_all_on_a_seeded_project_lists_what_it_removed() {
    let p = Project::new();
    let l = p.layout();
    p.worktree("done", "t-1", false);
    p.agent("done", Capability::Builder, AgentState::Completed);
    p.tmux_session("legio-project-done");
    for (path, text) in [
        ("logs/done/session.log", "log"),
        ("agents/done/checkpoint.json", "{}"),
        ("specs/t-1.md", "spec"),
        ("current-run.txt", "run-1"),
        ("pending-nudges/done.json", "{}"),
    ] {
        let file = l.file(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let (code, out, err) = p.run(&["clean", "--all"]);
    assert_eq!(code, 0, "{out}\n{err}");
    p.snapshots()
        .bind(|| insta::assert_snapshot!("clean_all", out));
    for gone in [
        "mail.db",
        "sessions.db",
        "metrics.db",
        "merge-queue.db",
        "current-run.txt",
    ] {
        assert!(!l.file(gone).exists(), "{gone}");
    }
    for kept in ["events.db", "tasks.db", "config.yaml", "logs", "specs"] {
        assert!(l.file(kept).exists(), "{kept} stays");
    }
    assert!(p.tmux_sessions().is_empty());
    assert!(p.legio_branches().is_empty());

    let (code, out, _) = p.run(&["clean", "--all"]);
    assert_eq!(code, 0, "twice is fine");
    assert_eq!(out.trim(), "Nothing to clean.");
}

#[test]
fn a_queued_branch_is_kept_and_a_stopped_agent_is_marked_zombie() {
    let p = Project::new();
    p.worktree("b3", "t-3", false);
    p.git(&["branch", "legio/q/t-7"]);
    {
        use legio_core::domain::merge::NewMergeEntry;
        use legio_core::ports::MergeQueue;
        let q = legio_store::SqliteMergeQueue::open_in(&p.layout()).unwrap();
        q.enqueue(&NewMergeEntry {
            branch_name: "legio/q/t-7".into(),
            bead_id: "t-7".into(),
            agent_name: "q".into(),
            files_modified: Vec::new(),
            enqueued_at: legio_core::Timestamp::from_millis(doctor_fixture::T0),
        })
        .unwrap();
    }
    p.agent("b3", Capability::Builder, AgentState::Working);
    p.tmux_session("legio-project-b3");
    let (code, report, _) = json(&p, &["clean", "--worktrees", "--branches", "--json"]);
    assert_eq!(code, 1);
    let refused: Vec<(String, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (
                ".legio/worktrees/b3".to_owned(),
                "agent b3 is working in it; stop it first or pass --force".to_owned()
            ),
            (
                "legio/b3/t-3".to_owned(),
                "it is checked out in .legio/worktrees/b3; clean that worktree first".to_owned()
            ),
            (
                "legio/q/t-7".to_owned(),
                "it waits in the merge queue; merge it (`legio merge`) or pass --force".to_owned()
            ),
        ]
    );
    assert_eq!(
        p.tmux_sessions(),
        ["legio-project-b3"],
        "a running agent is left alone"
    );

    let (code, _, _) = json(&p, &["clean", "--worktrees", "--force", "--json"]);
    assert_eq!(code, 0);
    let row = legio_store::SqliteSessionStore::open_in(&p.layout())
        .unwrap()
        .get(&legio_core::AgentName::new("b3").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.state, AgentState::Zombie);
    assert!(p.tmux_sessions().is_empty());
}
