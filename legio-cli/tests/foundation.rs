//! The foundation as a user meets it: `legio init`, config errors, `legio task`, `legio mail`
//! and `legio hook`, run as the real binary on real repositories and databases.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;

use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentSession, AgentState, Capability, Layout, Timestamp};
use serde_json::Value;
use support::project::Project;

const PRE_BASH: &str =
    include_str!("../../legio-core/tests/fixtures/hooks/hook-PreToolUse-Bash.json");
const POST_BASH: &str =
    include_str!("../../legio-core/tests/fixtures/hooks/hook-PostToolUse-Bash.json");
const STOP: &str = include_str!("../../legio-core/tests/fixtures/hooks/hook-Stop.json");

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Registers an agent row the way sling would (state `booting`).
fn register(p: &Project, name: &str, role: Capability, parent: Option<&str>) {
    let store = legio_store::SqliteSessionStore::open_in(&Layout::new(&p.root)).unwrap();
    let now = Timestamp::from_millis(1_700_000_000_000);
    let agent = AgentName::new(name).unwrap();
    store
        .upsert(&AgentSession {
            id: format!("session-1-{name}"),
            agent_name: agent.clone(),
            capability: role,
            worktree_path: p
                .root
                .join(".legio/worktrees")
                .join(name)
                .display()
                .to_string(),
            branch_name: format!("legio/{name}/t-1"),
            bead_id: "t-1".into(),
            tmux_session: format!("legio-repo-{name}"),
            state: AgentState::Booting,
            pid: None,
            parent_agent: parent.map(|p| AgentName::new(p).unwrap()),
            depth: 1,
            run_id: Some("run-1".into()),
            started_at: now,
            last_activity: now,
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "script".into(),
            file_scope: vec![],
            spec_path: None,
        })
        .unwrap();
}

fn state_of(p: &Project, name: &str) -> AgentState {
    let store = legio_store::SqliteSessionStore::open_in(&Layout::new(&p.root)).unwrap();
    store
        .get(&AgentName::new(name).unwrap())
        .unwrap()
        .unwrap()
        .state
}

#[test]
fn init_outside_a_repository_says_what_to_do() {
    let p = Project::bare();
    let out = p
        .command(&["init"])
        .current_dir(p.outside())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not inside a git repository"), "{err}");
    assert!(err.contains("hint: run `git init`"), "{err}");
}

#[test]
fn init_creates_the_layout_and_is_idempotent() {
    let p = Project::bare();
    let first = p.ok(&["init"]);
    insta::assert_snapshot!(p.redact_paths(&first));
    for f in [
        "config.yaml",
        "agent-manifest.json",
        "hooks.json",
        ".gitignore",
        "agent-defs/builder.md",
        "agent-defs/gateway.md",
        "sessions.db",
        "mail.db",
        "events.db",
        "metrics.db",
        "merge-queue.db",
        "tasks.db",
    ] {
        assert!(p.root.join(".legio").join(f).exists(), "{f} missing");
    }
    let hooks = json(&std::fs::read_to_string(p.root.join(".legio/hooks.json")).unwrap());
    let cmd = hooks["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert!(
        cmd.starts_with('/') && cmd.ends_with("hook PostToolUse --default-agent orchestrator"),
        "{cmd}"
    );

    // A user edit survives a second init; --force keeps a backup.
    let config = p.root.join(".legio/config.yaml");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("maxConcurrent: 25", "maxConcurrent: 7");
    std::fs::write(&config, &edited).unwrap();
    let second = p.ok(&["init"]);
    assert!(second.contains("already set up"), "{second}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    p.ok(&["init", "--force"]);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("maxConcurrent: 25")
    );
    assert_eq!(
        std::fs::read_to_string(p.root.join(".legio/config.yaml.bak")).unwrap(),
        edited
    );

    let js = json(&p.ok(&["--json", "init"]));
    assert_eq!(js["alreadyInitialized"], true);
    assert_eq!(js["canonicalBranch"], "main");
}

#[test]
fn commands_outside_an_initialised_project_point_to_init() {
    let p = Project::bare();
    let err = p.fails(&["task", "list"], 1);
    assert!(err.contains("not a legio project"), "{err}");
    assert!(err.contains("legio init"), "{err}");
}

#[test]
fn config_errors_name_the_file_line_and_key() {
    let p = Project::new();
    let config = p.root.join(".legio/config.yaml");
    std::fs::write(&config, "agents:\n  maxConcurrent: [oops\n").unwrap();
    let err = p.fails(&["task", "list"], 1);
    insta::assert_snapshot!("syntax_error", p.redact_paths(&err));
    std::fs::write(&config, "agents:\n  maxConcurrent: -1\n").unwrap();
    let err = p.fails(&["task", "list"], 1);
    insta::assert_snapshot!("invalid_value", p.redact_paths(&err));
    std::fs::write(&config, "agents:\n  maxConcurrnt: 3\n").unwrap();
    let out = p.run(&["task", "list"], &[], None);
    assert!(out.status.success());
    insta::assert_snapshot!(
        "unknown_key_warning",
        p.redact_paths(&String::from_utf8_lossy(&out.stderr))
    );
}

#[test]
fn a_config_written_by_legio_0_1_0_loads() {
    let p = Project::new();
    std::fs::write(
        p.root.join(".legio/config.yaml"),
        "# Legio configuration\n# See: https://github.com/legio/legio\n\nproject:\n  name: \"repo\"\n  root: \"/somewhere/else\"\n  canonicalBranch: \"main\"\nagents:\n  manifestPath: \".legio/agent-manifest.json\"\n  baseDir: \".legio/agent-defs\"\n  maxConcurrent: 25\n  staggerDelayMs: 2000\n  maxDepth: 2\n  maxAgentsPerLead: 5\nworktrees:\n  baseDir: \".legio/worktrees\"\nbeads:\n  enabled: true\nmulch:\n  enabled: true\n  domains: []\n  primeFormat: \"markdown\"\n  domainMap:\nmerge:\n  aiResolveEnabled: true\n  reimagineEnabled: false\nwatchdog:\n  tier0Enabled: true\n  tier0IntervalMs: 30000\n  tier1Enabled: false\n  tier2Enabled: false\n  zombieThresholdMs: 600000\n  nudgeIntervalMs: 60000\nmodels:\nlogging:\n  verbose: false\n  redactSecrets: true\nqualityGates:\n  test: \"npm test\"\n  lint: \"npm run lint\"\n  typecheck: \"npm run typecheck\"\n",
    )
    .unwrap();
    let out = p.run(&["task", "list"], &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tasks_move_through_their_life() {
    let p = Project::new();
    let a = json(&p.ok(&[
        "--json", "task", "create", "Parser", "-d", "Write it", "-p", "1",
    ]));
    let a_id = a["id"].as_str().unwrap().to_owned();
    assert!(a_id.starts_with("repo-"), "{a_id}");
    let b = json(&p.ok(&["--json", "task", "create", "Tests", "--depends-on", &a_id]));
    let b_id = b["id"].as_str().unwrap().to_owned();

    let ready = json(&p.ok(&["--json", "task", "ready"]));
    let ids: Vec<&str> = ready
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a_id.as_str()], "the dependent task is not ready yet");

    p.ok(&[
        "task",
        "update",
        &a_id,
        "--status",
        "in-progress",
        "--assignee",
        "b1",
    ]);
    let shown = json(&p.ok(&["--json", "task", "show", &a_id]));
    assert_eq!(shown["status"], "in_progress");
    assert_eq!(shown["assignee"], "b1");
    p.ok(&["task", "close", &a_id, "--reason", "done"]);
    let ready = json(&p.ok(&["--json", "task", "ready"]));
    assert_eq!(ready[0]["id"], b_id.as_str());
    let all = json(&p.ok(&["--json", "task", "list", "--all"]));
    assert_eq!(all.as_array().unwrap().len(), 2);
    let open = json(&p.ok(&["--json", "task", "list"]));
    assert_eq!(open.as_array().unwrap().len(), 1);

    // Errors: unknown id, invalid id, closing through update, bad priority.
    assert!(
        p.fails(&["task", "show", "repo-zzzzzz"], 1)
            .contains("not found")
    );
    assert!(
        p.fails(&["task", "show", "../x"], 2)
            .contains("invalid task id")
    );
    // With --json a failure is also one JSON document on stdout, beside the text on stderr.
    let out = p.run(&["--json", "task", "show", "repo-zzzzzz"], &[], None);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        doc["error"].as_str().unwrap().contains("not found"),
        "{doc}"
    );
    assert_eq!(doc["exitCode"], 1);
    assert!(
        doc["hints"][0]
            .as_str()
            .unwrap()
            .contains("legio task list"),
        "{doc}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    assert!(
        p.fails(&["task", "update", &b_id, "--status", "closed"], 2)
            .contains("legio task close")
    );
    p.fails(&["task", "create", "X", "-p", "9"], 2);
    assert!(
        p.fails(&["task", "create", "X", "--depends-on", "nope"], 1)
            .contains("nope")
    );
}

#[test]
fn mail_is_sent_listed_replied_and_purged() {
    let p = Project::new();
    register(&p, "b1", Capability::Builder, Some("lead-1"));
    register(&p, "b2", Capability::Builder, Some("lead-1"));
    register(&p, "lead-1", Capability::Lead, None);

    let sent = json(&p.ok(&[
        "--json",
        "mail",
        "send",
        "--to",
        "b1",
        "--subject",
        "Spec",
        "--body",
        "Read it",
        "--priority",
        "high",
    ]));
    let id = sent["id"].as_str().unwrap().to_owned();
    let group = json(&p.ok(&[
        "--json",
        "mail",
        "send",
        "--to",
        "@builders",
        "--subject",
        "All",
        "--body",
        "Hi",
        "--from",
        "lead-1",
    ]));
    assert_eq!(group["recipientCount"], 2);

    let unread = json(&p.ok(&["--json", "mail", "list", "--to", "b1", "--unread"]));
    assert_eq!(unread.as_array().unwrap().len(), 2);
    assert_eq!(unread[0]["subject"], "All", "newest first");

    let reply = json(&p.ok(&[
        "--json", "mail", "reply", &id, "--body", "On it", "--from", "b1",
    ]));
    let thread_reply = json(&p.ok(&["--json", "mail", "list", "--to", "orchestrator"]));
    assert_eq!(thread_reply[0]["id"], reply["id"]);
    assert_eq!(thread_reply[0]["subject"], "Re: Spec");
    assert_eq!(thread_reply[0]["threadId"], id.as_str());

    let checked = p.run(&["mail", "check", "--agent", "b1", "--inject"], &[], None);
    let text = String::from_utf8_lossy(&checked.stdout).into_owned();
    insta::assert_snapshot!("inject", support::project::redact_ids(&text));
    let again = p.ok(&["mail", "check", "--agent", "b1"]);
    assert_eq!(again.trim(), "No new messages.");
    assert!(p.ok(&["mail", "read", &id]).contains("already read"));

    // Bad input is a usage error that names the accepted values.
    let err = p.fails(
        &[
            "mail",
            "send",
            "--to",
            "b1",
            "--subject",
            "s",
            "--body",
            "b",
            "--type",
            "memo",
        ],
        2,
    );
    assert!(err.contains("worker_done"), "{err}");
    let err = p.fails(
        &[
            "mail",
            "send",
            "--to",
            "b1",
            "--subject",
            "s",
            "--body",
            "b",
            "--payload",
            "{x",
        ],
        2,
    );
    assert!(err.contains("--payload"), "{err}");
    let err = p.fails(
        &[
            "mail",
            "send",
            "--to",
            "@wizards",
            "--subject",
            "s",
            "--body",
            "b",
        ],
        1,
    );
    assert!(err.contains("@builders"), "{err}");
    let err = p.fails(
        &[
            "mail",
            "send",
            "--to",
            "a/b",
            "--subject",
            "s",
            "--body",
            "b",
        ],
        2,
    );
    assert!(err.contains("path separator"), "{err}");
    assert!(
        p.fails(&["mail", "read", "msg-nope"], 1)
            .contains("not found")
    );

    let purged = json(&p.ok(&["--json", "mail", "purge", "--agent", "b2"]));
    assert_eq!(purged["purged"], 1);
    p.fails(&["mail", "purge"], 2);
}

#[test]
fn worker_done_completes_the_sender() {
    let p = Project::new();
    register(&p, "b1", Capability::Builder, Some("lead-1"));
    p.run(
        &[
            "mail",
            "send",
            "--to",
            "lead-1",
            "--subject",
            "done",
            "--body",
            "ok",
            "--type",
            "worker_done",
            "--payload",
            r#"{"beadId":"t-1","branch":"legio/b1/t-1","exitCode":0,"filesModified":[]}"#,
        ],
        &[("LEGIO_AGENT_NAME", "b1")],
        None,
    );
    assert_eq!(state_of(&p, "b1"), AgentState::Completed);
}

#[test]
fn mail_check_debounce_skips_a_recent_check() {
    let p = Project::new();
    p.ok(&[
        "mail",
        "send",
        "--to",
        "b1",
        "--subject",
        "one",
        "--body",
        "x",
    ]);
    let first = p.ok(&[
        "--json",
        "mail",
        "check",
        "--agent",
        "b1",
        "--debounce",
        "60000",
    ]);
    assert_eq!(json(&first).as_array().unwrap().len(), 1);
    p.ok(&[
        "mail",
        "send",
        "--to",
        "b1",
        "--subject",
        "two",
        "--body",
        "x",
    ]);
    let skipped = p.ok(&[
        "--json",
        "mail",
        "check",
        "--agent",
        "b1",
        "--debounce",
        "60000",
    ]);
    assert_eq!(skipped, "", "a check within the window does nothing");
    let unread = json(&p.ok(&["--json", "mail", "list", "--to", "b1", "--unread"]));
    assert_eq!(
        unread.as_array().unwrap().len(),
        1,
        "nothing was consumed by the skipped check"
    );
}

#[test]
fn hooks_record_events_and_deliver_mail_exactly_once_through_context() {
    let p = Project::new();
    register(&p, "b1", Capability::Builder, Some("lead-1"));
    let start = p.hook(
        "SessionStart",
        "b1",
        &[],
        r#"{"session_id":"s1","source":"startup","cwd":"/x"}"#,
    );
    let ctx = json(&start);
    let text = ctx["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(text.contains("legio agent b1 (role: builder)"), "{text}");
    assert!(text.contains(".claude/CLAUDE.md"), "{text}");
    assert_eq!(state_of(&p, "b1"), AgentState::Working);

    assert_eq!(
        p.hook("PreToolUse", "b1", &[], PRE_BASH),
        "",
        "allowed tool calls print nothing"
    );
    p.ok(&[
        "mail",
        "send",
        "--to",
        "b1",
        "--subject",
        "Stop",
        "--body",
        "Use the new API",
        "--priority",
        "urgent",
    ]);
    let post = json(&p.hook("PostToolUse", "b1", &[], POST_BASH));
    assert_eq!(post["hookSpecificOutput"]["hookEventName"], "PostToolUse");
    let injected = post["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(
        injected.contains("Use the new API") && injected.contains("PRIORITY: URGENT"),
        "{injected}"
    );
    assert_eq!(
        p.hook("PostToolUse", "b1", &[], POST_BASH),
        "",
        "delivered once"
    );
    let unread = json(&p.ok(&["--json", "mail", "list", "--to", "b1", "--unread"]));
    assert!(
        unread.as_array().unwrap().is_empty(),
        "marked read when injected"
    );

    // A turn end makes the agent idle, not completed; mail that arrives by then keeps it going.
    assert_eq!(p.hook("Stop", "b1", &[], STOP), "");
    assert_eq!(state_of(&p, "b1"), AgentState::Idle);
    p.ok(&[
        "mail",
        "send",
        "--to",
        "b1",
        "--subject",
        "More",
        "--body",
        "One more thing",
    ]);
    let stop = json(&p.hook("Stop", "b1", &[], STOP));
    assert_eq!(stop["decision"], "block");
    assert!(stop["reason"].as_str().unwrap().contains("One more thing"));
    assert_eq!(
        state_of(&p, "b1"),
        AgentState::Working,
        "a Stop that keeps the turn going does not idle the agent"
    );
    let cp =
        json(&std::fs::read_to_string(p.root.join(".legio/agents/b1/checkpoint.json")).unwrap());
    assert_eq!(cp["beadId"], "t-1");
    assert_eq!(cp["progressSummary"], "done");

    let events = legio_store::SqliteEventStore::open_in(&Layout::new(&p.root)).unwrap();
    let all =
        legio_core::ports::EventStore::query(&events, &legio_core::ports::EventQuery::default())
            .unwrap();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in &all {
        *kinds.entry(e.event_type.clone()).or_default() += 1;
        if e.agent_name == "b1" {
            assert_eq!(
                e.run_id.as_deref(),
                Some("run-1"),
                "hook events carry the run id"
            );
        }
    }
    assert_eq!(kinds.get("tool_start"), Some(&1));
    assert_eq!(kinds.get("tool_end"), Some(&2));
    // The second Stop handed over mail and kept the turn going: not a turn end.
    assert_eq!(kinds.get("turn_end"), Some(&1));
    assert_eq!(kinds.get("mail_received"), Some(&2));
    let start_row = all.iter().find(|e| e.event_type == "tool_start").unwrap();
    assert!(
        start_row.tool_duration_ms.is_some(),
        "the start was paired with its end"
    );
    assert!(
        start_row
            .tool_args
            .as_deref()
            .unwrap()
            .contains("cargo test")
    );
}

#[test]
fn hook_failures_never_block_the_agent() {
    let p = Project::new();
    // Unparsable payload: exit 0, nothing printed, a line in legio's error log.
    let out = p.run(
        &["hook", "PostToolUse"],
        &[("LEGIO_AGENT_NAME", "b1")],
        Some("{not json"),
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let log = std::fs::read_to_string(p.root.join(".legio/legio-errors.log")).unwrap();
    assert!(
        log.contains("hook PostToolUse for b1: unreadable payload"),
        "{log}"
    );
    // No agent name: the human's own session; nothing happens.
    let out = p.run(&["hook", "PreToolUse"], &[], Some(PRE_BASH));
    assert!(out.status.success() && out.stdout.is_empty());
    // Not a legio project: silent.
    let bare = Project::bare();
    let out = bare.run(
        &["hook", "PostToolUse"],
        &[("LEGIO_AGENT_NAME", "b1")],
        Some(POST_BASH),
    );
    assert!(out.status.success() && out.stdout.is_empty());
    // An unknown event is a usage error.
    let out = p.run(
        &["hook", "Notification"],
        &[("LEGIO_AGENT_NAME", "b1")],
        Some("{}"),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_guard_fails_closed_when_legio_cannot_tell_who_is_calling() {
    let p = Project::new();
    let deny = json(&p.hook("PreToolUse", "ghost", &[], PRE_BASH));
    assert_eq!(deny["hookSpecificOutput"]["permissionDecision"], "deny");
    let garbled = json(&p.hook(
        "PreToolUse",
        "ghost",
        &[("LEGIO_CAPABILITY", "builder")],
        "{garbled",
    ));
    assert_eq!(garbled["hookSpecificOutput"]["permissionDecision"], "deny");
    // With a known role the call goes through to the guard's rules.
    assert_eq!(
        p.hook(
            "PreToolUse",
            "ghost",
            &[("LEGIO_CAPABILITY", "builder")],
            PRE_BASH
        ),
        ""
    );
}

#[test]
fn concurrent_senders_and_hook_checkers_deliver_each_message_exactly_once() {
    const SENDERS: usize = 8;
    const PER_SENDER: usize = 25;
    let p = std::sync::Arc::new(Project::new());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkers: Vec<_> = (0..3)
        .map(|_| {
            let p = p.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                loop {
                    let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                    let out = p.hook("PostToolUse", "inbox", &[], POST_BASH);
                    if !out.is_empty() {
                        let ctx = json(&out)["hookSpecificOutput"]["additionalContext"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                        seen.extend(
                            ctx.lines()
                                .filter_map(|l| l.strip_prefix("Subject: "))
                                .map(str::to_owned),
                        );
                    }
                    if done {
                        return seen;
                    }
                }
            })
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let p = p.clone();
            std::thread::spawn(move || {
                for i in 0..PER_SENDER {
                    let out = p.run(
                        &[
                            "mail",
                            "send",
                            "--to",
                            "inbox",
                            "--subject",
                            &format!("m-{s}-{i}"),
                            "--body",
                            "x",
                        ],
                        &[],
                        None,
                    );
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut delivered: Vec<String> = checkers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    // Whatever the checkers did not claim is still unread.
    let rest = p.ok(&["--json", "mail", "check", "--agent", "inbox"]);
    delivered.extend(
        json(&rest)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_owned()),
    );
    let total = delivered.len();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), total, "no message was delivered twice");
    assert_eq!(total, SENDERS * PER_SENDER, "every message was delivered");
    let log = std::fs::read_to_string(p.root.join(".legio/legio-errors.log")).unwrap_or_default();
    assert!(log.is_empty(), "no store error surfaced: {log}");
}
