//! The observability commands on a seeded project (`observe_fixture`): every command's human and
//! JSON output as insta snapshots, the rules behind them (newest kept, reads never write, flags
//! validated), and the write paths (group auto-close on `task close`, `run complete`).
//!
//! Update snapshots with `cargo insta review` (or `INSTA_UPDATE=always cargo test -p legio-cli
//! --test observe`).

mod observe_fixture;

use std::collections::BTreeMap;
use std::path::Path;

use observe_fixture::{Fixture, RUN_A, RUN_B};

/// Runs `legio ARGS` and snapshots the command line, exit code, stdout and stderr.
fn snap(fx: &Fixture, name: &str, args: &[&str]) {
    let out = fx.legio(args);
    let text = format!(
        "$ legio {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    insta::assert_snapshot!(name, fx.scrub(&text));
}

/// Snapshots the human output and the `--json` output of `args`, and checks the JSON parses.
fn snap_both(fx: &Fixture, name: &str, args: &[&str]) {
    snap(fx, name, args);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = fx.legio(&json_args);
    assert_eq!(out.code, 0, "{name} --json failed: {}", out.stderr);
    out.json();
    snap(fx, &format!("{name}_json"), &json_args);
}

/// Every file under `.legio/` with its size and modification time, except SQLite's `-shm`
/// files (the shared wal-index every reader maps and may rewrite; it holds no data).
fn state(root: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.join(".legio")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("listing .legio") {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("file metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else if !entry.path().to_string_lossy().ends_with("-shm") {
                files.insert(
                    entry.path().display().to_string(),
                    (meta.len(), meta.modified().expect("a modification time")),
                );
            }
        }
    }
    files
}

#[test]
fn inspect_shows_an_agent_in_depth() {
    let fx = Fixture::seeded();
    snap_both(&fx, "inspect_builder", &["inspect", "builder-1"]);
    snap(
        &fx,
        "inspect_scout_no_output",
        &["inspect", "scout-1", "--no-output", "--limit", "1"],
    );
    snap(&fx, "inspect_unknown", &["inspect", "nobody"]);
    snap(&fx, "inspect_bad_name", &["inspect", "../etc"]);
}

#[test]
fn trace_shows_the_newest_events_oldest_first() {
    let fx = Fixture::seeded();
    snap_both(&fx, "trace_builder", &["trace", "builder-1"]);
    snap(
        &fx,
        "trace_builder_limit",
        &["trace", "builder-1", "--limit", "3"],
    );
    snap(&fx, "trace_task", &["trace", "proj-a1"]);
    snap(
        &fx,
        "trace_window",
        &[
            "trace",
            "builder-1",
            "--since",
            "2026-01-31T11:52:00Z",
            "--until",
            "5m",
        ],
    );
    snap(&fx, "trace_nothing", &["trace", "nobody"]);
    snap(
        &fx,
        "trace_empty_window",
        &[
            "trace",
            "builder-1",
            "--since",
            "2026-01-31T11:52:00Z",
            "--until",
            "11m",
        ],
    );

    // The limit keeps the newest: the last three of builder-1's events, in time order.
    let out = fx
        .legio(&["trace", "builder-1", "--limit", "3", "--json"])
        .json();
    let times: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-01-31T11:56:00.000Z",
            "2026-01-31T11:57:00.000Z",
            "2026-01-31T11:59:30.000Z"
        ]
    );
}

#[test]
fn feed_prints_recent_events_of_the_chosen_agents_and_run() {
    let fx = Fixture::seeded();
    snap_both(&fx, "feed_default", &["feed"]);
    snap(&fx, "feed_hour", &["feed", "--since", "1h", "--limit", "5"]);
    snap(
        &fx,
        "feed_agents",
        &[
            "feed", "--since", "2h", "--agent", "lead-1", "--agent", "scout-1",
        ],
    );
    snap(&fx, "feed_run", &["feed", "--since", "2d", "--run", RUN_B]);
}

#[test]
fn replay_defaults_to_the_current_run() {
    let fx = Fixture::seeded();
    snap_both(&fx, "replay_current_run", &["replay"]);
    snap(&fx, "replay_run", &["replay", "--run", RUN_B]);
    snap(
        &fx,
        "replay_agent_limit",
        &["replay", "--agent", "builder-1", "--limit", "2"],
    );
    std::fs::remove_file(fx.layout().current_run()).unwrap();
    snap(&fx, "replay_no_run", &["replay"]);
}

#[test]
fn errors_are_newest_first_with_warnings_on_request() {
    let fx = Fixture::seeded();
    snap_both(&fx, "errors", &["errors"]);
    snap(&fx, "errors_warnings", &["errors", "--warnings"]);
    snap(
        &fx,
        "errors_agent",
        &["errors", "--agent", "builder-0", "--limit", "1"],
    );
    snap(&fx, "errors_run", &["errors", "--run", RUN_A]);
    snap(&fx, "errors_future", &["errors", "--since", "2026-02-01"]);
}

#[test]
fn logs_show_the_agents_output_as_plain_text() {
    let fx = Fixture::seeded();
    snap_both(&fx, "logs", &["logs"]);
    snap(
        &fx,
        "logs_agent",
        &["logs", "--agent", "builder-1", "--limit", "2"],
    );
}

#[test]
fn metrics_and_runs() {
    let fx = Fixture::seeded();
    snap_both(&fx, "metrics", &["metrics"]);
    snap(&fx, "metrics_last", &["metrics", "--last", "1"]);
    snap_both(&fx, "run_current", &["run"]);
    snap_both(&fx, "run_list", &["run", "list"]);
    snap_both(&fx, "run_show", &["run", "show", RUN_B]);
    snap(&fx, "run_show_unknown", &["run", "show", "run-nope"]);
}

#[test]
fn costs_come_from_the_agents_transcripts() {
    let fx = Fixture::seeded();
    snap_both(&fx, "costs", &["costs"]);
    snap(&fx, "costs_by_capability", &["costs", "--by-capability"]);
    snap(&fx, "costs_live", &["costs", "--live"]);
    snap(
        &fx,
        "costs_agent",
        &["costs", "--agent", "scout-1", "--json"],
    );
    snap(&fx, "costs_last", &["costs", "--last", "1"]);
    let transcript = fx.transcript_path(
        &fx.root.join(".legio/worktrees/builder-1"),
        "sess-builder-1",
    );
    let transcript = transcript.display().to_string();
    snap_both(
        &fx,
        "costs_transcript",
        &["costs", "--transcript", &transcript],
    );
    snap(
        &fx,
        "costs_transcript_missing",
        &["costs", "--transcript", "/nonexistent/x.jsonl"],
    );

    // The figures, worked out by hand from the list prices: Sonnet 4.5 $3 input, $15 output,
    // $6 1-hour write, $3.75 5-minute write, $0.30 read per million; Haiku 4.5 $1, $5, $1.25,
    // $0.10. The response written twice counts once, with its final output count.
    let out = fx.legio(&["costs", "--json"]).json();
    let agents = out["agents"].as_array().unwrap();
    let cost = |name: &str| {
        agents
            .iter()
            .find(|a| a["agentName"] == name)
            .map(|a| a["report"]["costUsd"].as_f64().unwrap())
            .unwrap()
    };
    assert!(
        (cost("builder-1") - 0.083_115).abs() < 1e-9,
        "{}",
        cost("builder-1")
    );
    assert!(
        (cost("scout-1") - 0.003_15).abs() < 1e-9,
        "{}",
        cost("scout-1")
    );
    assert!((out["totals"]["costUsd"].as_f64().unwrap() - 0.086_265).abs() < 1e-9);
    assert_eq!(out["totals"]["usage"]["outputTokens"], 340 + 800 + 200);

    // --live: only active agents (builder-1), with a burn rate over its 55 minutes.
    let live = fx.legio(&["costs", "--live", "--json"]).json();
    let names: Vec<&str> = live["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agentName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["builder-1"]);
    let rate = live["burnRate"]["costPerMin"].as_f64().unwrap();
    assert!((rate - 0.083_115 / 55.0).abs() < 1e-9, "{rate}");
}

#[test]
fn groups_are_read_without_being_changed() {
    let fx = Fixture::seeded();
    snap_both(&fx, "group_list", &["group", "list"]);
    snap_both(&fx, "group_status_active", &["group", "status"]);
    snap(
        &fx,
        "group_status_one",
        &["group", "status", "group-bbbb2222"],
    );
    snap(
        &fx,
        "group_status_unknown",
        &["group", "status", "group-zzzz9999"],
    );
}

#[test]
fn bad_flags_are_usage_errors_that_say_what_to_do() {
    let fx = Fixture::seeded();
    for (name, args) in [
        ("usage_limit_zero", &["feed", "--limit", "0"][..]),
        ("usage_since_word", &["errors", "--since", "yesterday"]),
        ("usage_interval_small", &["feed", "--interval", "50"]),
        (
            "usage_empty_window",
            &[
                "trace",
                "builder-1",
                "--since",
                "2026-02-01",
                "--until",
                "2026-01-01",
            ],
        ),
        ("usage_last_negative", &["metrics", "--last", "-3"]),
        ("usage_logs_level", &["logs", "--level", "error"]),
    ] {
        snap(&fx, name, args);
        assert_eq!(fx.legio(args).code, 2, "{args:?} is a usage error");
    }
}

#[test]
fn reads_never_change_the_project() {
    let fx = Fixture::seeded();
    // Settle SQLite's side files first (WAL checkpoints happen on close, not on reads).
    fx.legio(&["errors"]);
    let before = state(&fx.root);
    for args in [
        &["inspect", "builder-1"][..],
        &["trace", "builder-1"],
        &["trace", "proj-a1"],
        &["feed"],
        &["replay"],
        &["errors", "--warnings"],
        &["logs"],
        &["metrics"],
        &["run"],
        &["run", "list"],
        &["run", "show", RUN_A],
        &["group", "list"],
        &["group", "status"],
        &["costs"],
        &["costs", "--live", "--by-capability"],
    ] {
        let out = fx.legio(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
    assert_eq!(before, state(&fx.root), "a read changed .legio/");

    // On an empty project the reads create no database.
    let empty = Fixture::empty();
    for args in [
        &["feed"][..],
        &["errors"],
        &["trace", "x"],
        &["replay"],
        &["metrics"],
        &["run", "list"],
        &["group", "status"],
        &["logs"],
        &["costs"],
    ] {
        let out = empty.legio(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
    assert!(state(&empty.root).is_empty(), "{:?}", state(&empty.root));
}

#[test]
fn a_group_closes_itself_when_task_close_closes_its_last_task() {
    let fx = Fixture::seeded();
    let out = fx.legio(&["task", "close", "proj-a1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("completed"), "{}", out.stdout);
    // Two of three are closed: still active, and status did not close it either.
    let status = fx
        .legio(&["group", "status", "group-aaaa1111", "--json"])
        .json();
    assert_eq!(status["group"]["status"], "active");
    assert_eq!(status["completed"], 1);

    fx.legio(&["task", "close", "proj-c1"]);
    let out = fx.legio(&["task", "close", "proj-b1", "--reason", "shipped"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    snap_closing(&fx, &out);
    let status = fx
        .legio(&["group", "status", "group-aaaa1111", "--json"])
        .json();
    assert_eq!(status["group"]["status"], "completed");
    assert_eq!(status["group"]["completedAt"], observe_fixture::NOW);
    assert_eq!(status["completed"], 3);

    // The coordinator got exactly one status mail from system.
    let mail = fx
        .legio(&["mail", "list", "--to", "coordinator", "--json"])
        .json();
    let mail = mail.as_array().unwrap();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["from"], "system");
    assert_eq!(mail[0]["type"], "status");
    assert_eq!(mail[0]["subject"], "Group auto-closed: Settings");

    // Closing an already closed task again announces nothing more.
    fx.legio(&["task", "close", "proj-b1"]);
    let mail = fx
        .legio(&["mail", "list", "--to", "coordinator", "--json"])
        .json();
    assert_eq!(mail.as_array().unwrap().len(), 1);
}

fn snap_closing(fx: &Fixture, out: &observe_fixture::Output) {
    let text = format!(
        "$ legio task close proj-b1 --reason shipped\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
    let text = regex_free_msg_ids(&fx.scrub(&text));
    insta::assert_snapshot!("task_close_completes_group", text);
}

/// Replaces generated `msg-xxxxxxxxxxxx` ids with `msg-[ID]`.
fn regex_free_msg_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("msg-") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 4..];
        let n = tail.chars().take_while(char::is_ascii_alphanumeric).count();
        if n == 12 {
            out.push_str("msg-[ID]");
        } else {
            out.push_str(&rest[i..i + 4 + n]);
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

#[test]
fn group_changes_validate_tasks_and_keep_the_file_whole() {
    let fx = Fixture::seeded();
    let create = fx.legio(&["group", "create", "Docs", "proj-c1", "--json"]);
    assert_eq!(create.code, 0, "{}", create.stderr);
    let group = create.json();
    let id = group["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("group-") && id.len() == 14, "{id}");
    assert_eq!(group["memberIssueIds"], serde_json::json!(["proj-c1"]));

    // --skip-validation is a flag: it does not swallow the id after it.
    let add = fx.legio(&["group", "add", &id, "--skip-validation", "ext-1", "proj-a1"]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    assert!(
        add.stdout.contains("Added 2 tasks to \"Docs\""),
        "{}",
        add.stdout
    );
    assert!(
        add.stdout.contains("Members: proj-c1, ext-1, proj-a1"),
        "{}",
        add.stdout
    );

    for (args, code, says) in [
        (
            vec!["group", "add", id.as_str(), "proj-zz"],
            1,
            "task proj-zz does not exist",
        ),
        (
            vec!["group", "add", id.as_str(), "proj-a1"],
            1,
            "already in group",
        ),
        (
            vec!["group", "create", "Twice", "proj-a1", "proj-a1"],
            2,
            "more than once",
        ),
        (vec!["group", "create", " ", "proj-a1"], 2, "name is empty"),
        (
            vec!["group", "remove", id.as_str(), "proj-b1"],
            1,
            "is not in group",
        ),
        (
            vec![
                "group",
                "remove",
                id.as_str(),
                "proj-c1",
                "ext-1",
                "proj-a1",
            ],
            1,
            "cannot remove every task",
        ),
        (
            vec!["group", "add", "group-nope0000", "proj-a1"],
            1,
            "no task group group-nope0000",
        ),
    ] {
        let out = fx.legio(&args);
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let remove = fx.legio(&["group", "remove", &id, "ext-1"]);
    assert_eq!(remove.code, 0, "{}", remove.stderr);
    let list = fx.legio(&["group", "list", "--json"]).json();
    let groups = list.as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(
        groups[2]["memberIssueIds"],
        serde_json::json!(["proj-c1", "proj-a1"])
    );
    let text = std::fs::read_to_string(fx.layout().file("groups.json")).unwrap();
    assert!(
        text.starts_with("[\n\t{") && text.ends_with("}\n]\n"),
        "{text}"
    );

    // A damaged file is reported, not replaced by an empty list.
    std::fs::write(fx.layout().file("groups.json"), "[{").unwrap();
    let out = fx.legio(&["group", "create", "X", "proj-a1"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("groups.json is not a valid list"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(fx.layout().file("groups.json")).unwrap(),
        "[{"
    );
}

#[test]
fn concurrent_group_changes_are_all_kept() {
    let fx = Fixture::seeded();
    let children: Vec<_> = (0..8)
        .map(|i| {
            fx.command(&[
                "group",
                "create",
                &format!("G{i}"),
                "--skip-validation",
                &format!("ext-{i}"),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let list = fx.legio(&["group", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2 + 8, "{list}");
}

#[test]
fn run_complete_ends_the_current_run() {
    let fx = Fixture::seeded();
    let out = fx.legio(&["run", "complete"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("Completed run {RUN_A}\n"));
    assert!(!fx.layout().current_run().exists());
    let shown = fx.legio(&["run", "show", RUN_A, "--json"]).json();
    assert_eq!(shown["run"]["status"], "completed");
    assert_eq!(shown["run"]["completedAt"], observe_fixture::NOW);
    let again = fx.legio(&["run", "complete"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("no active run"), "{}", again.stderr);
    let current = fx.legio(&["run", "--json"]).json();
    assert_eq!(current["run"], serde_json::Value::Null);
}
