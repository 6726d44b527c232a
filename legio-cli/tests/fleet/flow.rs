//! Three builders, start to finish, on both backends.

use legio_core::AgentState;
use serde_json::Value;

use crate::harness::{Backend, Fleet, idle_plan, worker_plan};
use crate::support::project::{git, legio_bin};

#[test]
fn three_builders_in_tmux() {
    three_builders(Backend::Tmux);
}

#[test]
fn three_builders_headless() {
    let fleet = three_builders(Backend::Headless);
    assert!(
        fleet.tmux_sockets().is_empty(),
        "the headless fleet never started a tmux server: {:?}",
        fleet.tmux_sockets()
    );
}

fn agent<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the status: {status:#}"))
}

fn three_builders(backend: Backend) -> Fleet {
    let f = Fleet::new(backend);
    f.plan("b1", &worker_plan());
    f.plan("b2", &worker_plan());
    f.plan("b3", &idle_plan());
    f.ok(&["task", "create", "Build the parser", "--id", "t-1"]);

    // Each gets its worktree, branch, session, overlay and settings.
    for name in ["b1", "b2", "b3"] {
        let out = f.json(&["sling", "t-1", "--name", name]);
        assert_eq!(out["agentName"], name);
        assert_eq!(out["branch"], format!("legio/{name}/t-1"));
        assert_eq!(
            out["multiplexer"],
            if backend == Backend::Tmux {
                "tmux"
            } else {
                "headless"
            }
        );
        let wt = f.p.root.join(".legio/worktrees").join(name);
        assert_eq!(out["worktree"], wt.display().to_string());
        let overlay = std::fs::read_to_string(wt.join(".claude/CLAUDE.md")).unwrap();
        assert!(
            overlay.contains(&format!("**Agent name:** {name}")),
            "{overlay}"
        );
        let settings = std::fs::read_to_string(wt.join(".claude/settings.local.json")).unwrap();
        let hook = format!("{} hook PreToolUse", legio_bin().display());
        assert!(settings.contains(&hook), "{settings}");
        assert!(f.branches().contains(&format!("legio/{name}/t-1")));
    }
    let sessions = f.session_names();
    for name in ["b1", "b2", "b3"] {
        assert!(
            sessions.contains(&format!("legio-repo-{name}")),
            "{sessions:?}"
        );
    }

    // Their hook calls land in the stores; worker_done completes two of them.
    f.wait_state("b1", AgentState::Completed);
    f.wait_state("b2", AgentState::Completed);
    f.wait_state("b3", AgentState::Idle);
    for name in ["b1", "b2", "b3"] {
        // A turn ends after its last tool call: the worker_done mail completes the agent first.
        f.wait_event(name, "turn_end");
        let types = f.event_types(name);
        for expected in [
            "spawn",
            "session_start",
            "prompt_submit",
            "tool_start",
            "tool_end",
            "turn_end",
        ] {
            assert!(
                types.iter().any(|t| t == expected),
                "{name}: no {expected} in {types:?}"
            );
        }
    }
    let log = git(&f.p.root, &["log", "--format=%s", "legio/b1/t-1"]);
    assert!(log.starts_with("b1: the work"), "{log}");
    let inbox = f.json(&["mail", "list", "--to", "orchestrator"]);
    let done: Vec<&Value> = inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "worker_done")
        .collect();
    assert_eq!(done.len(), 2, "{inbox:#}");
    let task = f.json(&["task", "show", "t-1"]);
    assert_eq!(task["status"], "in_progress");

    // `legio status` shows them, and reading it changes nothing.
    let before = f.row("b3").unwrap();
    let status = f.status();
    assert_eq!(agent(&status, "b1")["state"], "completed");
    assert_eq!(agent(&status, "b3")["state"], "idle");
    assert_eq!(agent(&status, "b3")["sessionState"], "running");
    assert_eq!(agent(&status, "b3")["runtime"], "script");
    assert_eq!(status["worktrees"].as_array().unwrap().len(), 3);
    assert_eq!(status["unreadMail"]["orchestrator"], 2);
    assert_eq!(f.row("b3").unwrap(), before, "status only reads");
    let text = f.ok(&["status"]);
    assert!(text.contains("b3") && text.contains("idle"), "{text}");

    // Nudge reaches the idle agent (its prompt hook confirms), is debounced when repeated,
    // and is refused for an agent that completed.
    let nudged = f.json(&["nudge", "b3", "look", "at", "the", "tests"]);
    assert_eq!(nudged["delivered"], true, "{nudged}");
    assert_eq!(nudged["confirmed"], true, "{nudged}");
    let prompts: Vec<String> = f
        .events("b3")
        .into_iter()
        .filter(|e| e.event_type == "prompt_submit")
        .filter_map(|e| e.data)
        .collect();
    assert!(
        prompts
            .iter()
            .any(|d| d.contains("[NUDGE from orchestrator] look at the tests")),
        "{prompts:?}"
    );
    let again = f.json(&["nudge", "b3"]);
    assert_eq!(
        (again["delivered"].clone(), again["debounced"].clone()),
        (false.into(), true.into())
    );
    let forced = f.json(&["nudge", "b3", "--force", "now"]);
    assert_eq!(forced["delivered"], true, "{forced}");
    let (_, err) = f.fails(&["nudge", "b1"], &[], 1);
    assert!(err.contains("b1 is completed"), "{err}");

    // It says so when it cannot: an agent whose process died.
    f.plan(
        "b4",
        &serde_json::json!({"steps": [{"sleep_ms": 1500}, {"exit": 3}]}),
    );
    f.json(&["sling", "t-1", "--name", "b4"]);
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    while agent(&f.status(), "b4")["sessionState"] == "running" {
        assert!(std::time::Instant::now() < deadline, "b4 never exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_, err) = f.fails(&["nudge", "b4"], &[], 1);
    assert!(err.contains("did not reach b4"), "{err}");
    assert!(err.contains("exited"), "{err}");

    // Stop ends them, deepest first; the unfinished ones become zombie, never completed.
    let stopped = f.json(&["stop"]);
    let names: Vec<&str> = stopped["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["agent"].as_str().unwrap())
        .collect();
    for name in ["b1", "b2", "b3", "b4"] {
        assert!(names.contains(&name), "{stopped:#}");
    }
    assert!(f.session_names().is_empty(), "{:?}", f.session_names());
    assert_eq!(f.row("b1").unwrap().state, AgentState::Completed);
    assert_eq!(f.row("b3").unwrap().state, AgentState::Zombie);
    let stop_event = f
        .events("b3")
        .into_iter()
        .rfind(|e| e.event_type == "state_change")
        .unwrap();
    assert!(stop_event.data.unwrap().contains("\"stopped\":true"));

    // Clean removes what is merged and refuses what is not.
    git(&f.p.root, &["merge", "-q", "--no-edit", "legio/b1/t-1"]);
    let (out, err) = f.fails(&["worktree", "clean"], &[], 1);
    assert!(
        out.contains("Removed") && out.contains("worktrees/b1"),
        "{out}"
    );
    assert!(
        out.contains("Refused") && out.contains("legio/b2/t-1 is not merged"),
        "{out}"
    );
    assert!(err.contains("add --force"), "{err}");
    assert!(!f.p.root.join(".legio/worktrees/b1").exists());
    assert!(f.p.root.join(".legio/worktrees/b2").exists());
    assert!(
        f.p.root.join(".legio/worktrees/b3").exists(),
        "zombies need --all"
    );
    let branches = f.branches();
    assert!(
        !branches.contains(&"legio/b1/t-1".to_owned()),
        "{branches:?}"
    );
    assert!(
        branches.contains(&"legio/b2/t-1".to_owned()),
        "{branches:?}"
    );
    f
}
