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
    let paths: Vec<&str> = status["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3);
    assert!(paths.is_sorted(), "worktrees by path: {paths:?}");
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

    // legio's own files in a worktree are not work; the agent's uncommitted notes are.
    // With --all, zombies count: b4 (nothing written) goes; b3 (uncommitted notes) does not.
    let (out, _) = f.fails(&["worktree", "clean", "--all"], &[], 1);
    assert!(
        out.contains("Removed") && out.contains("worktrees/b4"),
        "{out}"
    );
    assert!(
        out.contains("worktrees/b3: uncommitted changes: notes/"),
        "{out}"
    );
    assert!(!out.contains(".claude"), "{out}");
    let report = f.json(&["worktree", "clean", "--all", "--force"]);
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 2, "{report:#}");
    assert!(
        removed.contains(&"b2") && removed.contains(&"b3"),
        "{report:#}"
    );
    assert!(
        !f.branches().iter().any(|b| b.starts_with("legio/")),
        "{:?}",
        f.branches()
    );
    f
}

#[test]
fn hierarchy_limits_and_stop_order() {
    let f = Fleet::new(Backend::Headless);
    f.configure("  maxConcurrent: 4\n");
    f.ok(&["task", "create", "Stream", "--id", "t-1"]);
    f.json(&["sling", "t-1", "--name", "lead-1", "--capability", "lead"]);
    f.json(&["sling", "t-1", "--name", "b1"]);
    // An agent spawns as itself: its name is the default parent, and the hierarchy holds.
    let as_lead = [("LEGIO_AGENT_NAME", "lead-1")];
    let out = f.run(&["--json", "sling", "t-1", "--name", "b2"], &as_lead);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b2 = f.row("b2").unwrap();
    assert_eq!(b2.parent_agent.unwrap().as_str(), "lead-1");
    assert_eq!(b2.depth, 1);
    let (_, err) = f.fails(
        &["sling", "t-1", "--name", "x", "--capability", "lead"],
        &as_lead,
        1,
    );
    assert!(
        err.contains("a lead may spawn scout, builder, reviewer, merger but not a lead"),
        "{err}"
    );
    let (_, err) = f.fails(
        &["sling", "t-1", "--name", "x"],
        &[("LEGIO_AGENT_NAME", "b1")],
        1,
    );
    assert!(err.contains("a builder may not spawn agents"), "{err}");
    let (_, err) = f.fails(
        &[
            "sling", "t-1", "--name", "x", "--parent", "lead-1", "--depth", "2",
        ],
        &[],
        1,
    );
    assert!(err.contains("--depth 2 does not match"), "{err}");

    // Two slings at once cannot both take the last slot (maxConcurrent 4).
    let racers: Vec<_> = ["r1", "r2"]
        .iter()
        .map(|name| {
            let mut cmd = f.p.command(&["sling", "t-1", "--name", name]);
            cmd.env("TMUX_TMPDIR", &f.tmux_dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = racers
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let admitted = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(admitted, 1, "{outputs:?}");
    let refused = outputs.iter().find(|o| !o.status.success()).unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("max concurrent agents reached: 4/4")
    );
    assert_eq!(f.json(&["agents", "discover"]).as_array().unwrap().len(), 4);

    // The context an agent and the orchestrator get.
    let prime = f.ok(&["prime", "--agent", "b2"]);
    assert!(
        prime.contains("You are legio agent b2 (role: builder), depth 1, reporting to lead-1"),
        "{prime}"
    );
    let prime = f.ok(&["prime"]);
    assert!(
        prime.contains("# Legio Context") && prime.contains("- b2 (builder"),
        "{prime}"
    );

    // Deepest first.
    let stopped = f.json(&["stop"]);
    let order: Vec<&str> = stopped["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["agent"].as_str().unwrap())
        .collect();
    assert_eq!(order[0], "b2", "{order:?}");
    assert!(order.contains(&"lead-1"));
}

#[test]
fn up_and_down() {
    let f = Fleet::new(Backend::Tmux);
    std::fs::remove_file(f.p.root.join(".legio/config.yaml")).unwrap();
    let up = f.json(&["up", "--gateway"]);
    assert_eq!(up["initRan"], true, "{up:#}");
    assert_eq!(up["coordinatorStarted"], true, "{up:#}");
    assert_eq!(up["gatewayStarted"], true, "{up:#}");
    let again = f.json(&["up"]);
    assert_eq!(again["coordinatorAlreadyRunning"], true, "{again:#}");
    let status = f.json(&["coordinator", "status"]);
    assert_eq!(status["running"], true, "{status:#}");
    let down = f.json(&["down"]);
    assert_eq!(down["stopped"].as_array().unwrap().len(), 2, "{down:#}");
    assert_eq!(down["serverStopped"], true, "{down:#}");
    assert!(f.tmux_sockets().is_empty(), "{:?}", f.tmux_sockets());
    let status = f.json(&["coordinator", "status"]);
    assert_eq!(status["running"], false, "{status:#}");
    assert_eq!(
        status["state"], "zombie",
        "stopped, never completed: {status:#}"
    );
}
