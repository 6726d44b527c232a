//! The mail-driven flow: `worker_done` / `merge_ready` sent with `legio mail send` queue the
//! branch, `legio merge --all` lands it, the agent's parent hears about it.

use legio_core::domain::agent::Capability;
use legio_core::domain::event::EventType;
use legio_core::domain::merge::ResolutionTier;
use legio_core::domain::metrics::{SessionMetrics, TokenUsage};
use legio_core::ports::{EventQuery, EventStore, MetricsStore};
use legio_core::time::Timestamp;
use legio_store::{SqliteEventStore, SqliteMetricsStore};
use serde_json::Value;

use crate::project::{BR, Project, assert_queue_consistent};

fn send(
    p: &Project,
    from: &str,
    to: &str,
    mail_type: &str,
    payload: Option<&str>,
) -> crate::project::Run {
    let mut args = vec![
        "mail",
        "send",
        "--to",
        to,
        "--subject",
        "report",
        "--body",
        "done",
        "--type",
        mail_type,
        "--from",
        from,
    ];
    if let Some(pl) = payload {
        args.extend(["--payload", pl]);
    }
    p.legio(&args)
}

/// The messages to `to`, newest first.
fn inbox(p: &Project, to: &str) -> Vec<Value> {
    p.legio(&["mail", "list", "--to", to, "--json"])
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn payload(m: &Value) -> Value {
    serde_json::from_str(m["payload"].as_str().expect("a payload")).unwrap()
}

fn metrics_row(agent: &str, task: &str) -> SessionMetrics {
    SessionMetrics {
        agent_name: agent.into(),
        bead_id: task.into(),
        capability: "builder".into(),
        started_at: Timestamp::from_millis(1_000),
        completed_at: Some(Timestamp::from_millis(2_000)),
        duration_ms: 1_000,
        exit_code: Some(0),
        merge_result: None,
        parent_agent: None,
        run_id: None,
        usage: TokenUsage::default(),
        estimated_cost_usd: None,
        model_used: None,
    }
}

#[test]
fn worker_done_of_an_orchestrator_child_is_queued_merged_and_reported() {
    let p = Project::new("clean");
    p.add_agent("builder-1", Capability::Builder, None, BR);
    let metrics = SqliteMetricsStore::open_in(&p.layout()).unwrap();
    metrics
        .record_session(&metrics_row("builder-1", "t-1"))
        .unwrap();
    let run = send(&p, "builder-1", "orchestrator", "worker_done", None).expect(0);
    assert!(
        run.stdout
            .contains("Queued legio/builder-1/t-1 for merging"),
        "{}",
        run.stdout
    );
    let q = p.queue();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].agent_name.as_str(), q[0].bead_id.as_str()),
        ("builder-1", "t-1")
    );
    assert_eq!(
        q[0].files_modified,
        ["feature.txt", "lib.txt"],
        "files from git"
    );

    p.legio(&["merge", "--all"]).expect(0);
    assert_eq!(p.git(&["rev-parse", "main^2"]).trim(), p.rev(BR));
    let mail = inbox(&p, "orchestrator");
    let merged: Vec<&Value> = mail.iter().filter(|m| m["type"] == "merged").collect();
    assert_eq!(merged.len(), 1, "{mail:#?}");
    assert_eq!(
        payload(merged[0]),
        serde_json::json!({ "branch": BR, "beadId": "t-1", "tier": "clean-merge" })
    );
    let events = SqliteEventStore::open_in(&p.layout())
        .unwrap()
        .query(&EventQuery {
            event_type: Some(EventType::Merge),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].agent_name, "builder-1");
    let data: Value = serde_json::from_str(events[0].data.as_deref().unwrap()).unwrap();
    assert_eq!(
        (data["tier"].as_str(), data["status"].as_str()),
        (Some("clean-merge"), Some("merged"))
    );
    assert!(data["durationMs"].is_u64(), "{data}");
    let row = &metrics.sessions_by_agent("builder-1").unwrap()[0];
    assert_eq!(row.merge_result, Some(ResolutionTier::CleanMerge));
    assert_queue_consistent(&p, "main");
}

#[test]
fn a_leads_builder_waits_for_review_then_merge_ready_queues_it_once() {
    let p = Project::new("clean");
    p.add_agent("coordinator", Capability::Coordinator, None, "main");
    p.add_agent(
        "lead-1",
        Capability::Lead,
        Some("coordinator"),
        "legio/lead-1/t-0",
    );
    p.add_agent("builder-1", Capability::Builder, Some("lead-1"), BR);
    // As the agent sends it: its name from LEGIO_AGENT_NAME.
    let run = p
        .legio_as(
            "builder-1",
            &[
                "mail",
                "send",
                "--to",
                "lead-1",
                "--subject",
                "Worker done: t-1",
                "--body",
                "done",
                "--type",
                "worker_done",
            ],
        )
        .expect(0);
    assert!(
        run.stdout
            .contains("Not queued for merging: builder-1's parent lead-1 is a lead"),
        "{}",
        run.stdout
    );
    assert!(p.queue().is_empty());

    let ready = format!(r#"{{"branch":"{BR}","beadId":"t-1","agentName":"builder-1"}}"#);
    let run = send(&p, "lead-1", "coordinator", "merge_ready", Some(&ready)).expect(0);
    assert!(
        run.stdout.contains("Queued legio/builder-1/t-1"),
        "{}",
        run.stdout
    );
    let run = send(&p, "lead-1", "coordinator", "merge_ready", Some(&ready)).expect(0);
    assert!(run.stdout.contains("already queued"), "{}", run.stdout);
    let doc = p
        .legio(&[
            "mail",
            "send",
            "--to",
            "coordinator",
            "--subject",
            "s",
            "--body",
            "b",
            "--type",
            "merge_ready",
            "--from",
            "lead-1",
            "--payload",
            &ready,
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(doc["mergeQueue"]["already"], true, "{doc}");
    assert_eq!(
        p.queue().len(),
        1,
        "one entry however often it is announced"
    );

    p.legio(&["merge", "--all"]).expect(0);
    let to_lead = inbox(&p, "lead-1");
    assert!(
        to_lead.iter().any(|m| m["type"] == "merged"),
        "the builder's parent hears: {to_lead:#?}"
    );
    assert_queue_consistent(&p, "main");
}

#[test]
fn a_merge_ready_that_cannot_be_queued_is_refused_with_nothing_sent() {
    let p = Project::new("clean");
    p.add_agent("lead-1", Capability::Lead, None, "legio/lead-1/t-0");
    let run = send(
        &p,
        "lead-1",
        "orchestrator",
        "merge_ready",
        Some(r#"{"branch":"legio/nobody/t-9"}"#),
    )
    .expect(2);
    assert!(
        run.stderr.contains("nothing was sent") && run.stderr.contains("legio/nobody/t-9"),
        "{}",
        run.stderr
    );
    let run = send(
        &p,
        "lead-1",
        "orchestrator",
        "merge_ready",
        Some(r#"{"filesModified": 3}"#),
    )
    .expect(2);
    assert!(
        run.stderr.contains("payload cannot be read"),
        "{}",
        run.stderr
    );
    assert!(inbox(&p, "orchestrator").is_empty());
    assert!(p.queue().is_empty());
    // worker_done still goes out (it also says the agent finished), with the reason.
    let run = send(&p, "stranger", "orchestrator", "worker_done", None).expect(0);
    assert!(
        run.stdout.contains("Not queued for merging") && run.stdout.contains("names no branch"),
        "{}",
        run.stdout
    );
    assert_eq!(inbox(&p, "orchestrator").len(), 1);
}

#[test]
fn a_failed_merge_tells_the_parent_which_files_conflict() {
    let p = Project::new("modify-modify");
    p.add_agent("coordinator", Capability::Coordinator, None, "main");
    p.add_agent("builder-1", Capability::Builder, Some("coordinator"), BR);
    send(&p, "builder-1", "coordinator", "worker_done", None).expect(0);
    let run = p.legio(&["merge", "--all"]).expect(1);
    assert!(
        run.stdout
            .contains("Done: 0 merged, 1 failed out of 1 total."),
        "{}",
        run.stdout
    );
    let mail = inbox(&p, "coordinator");
    let failed = mail
        .iter()
        .find(|m| m["type"] == "merge_failed")
        .expect("merge_failed mail");
    assert_eq!(failed["priority"], "high");
    let pl = payload(failed);
    assert_eq!(pl["conflictFiles"], serde_json::json!(["config.txt"]));
    assert!(
        pl["errorMessage"].as_str().unwrap().contains("config.txt"),
        "{pl}"
    );
    assert_queue_consistent(&p, "main");
}
