use legio_core::domain::agent::{AgentState, Capability, Run, RunStatus};
use legio_core::ports::StoreError;
use legio_core::ports::store::{Admission, AdmissionDenied, AdmissionLimits, SessionStore};
use legio_store::SqliteSessionStore;

use crate::common::{agent, at, name, tmp};

const ROOMY: AdmissionLimits = AdmissionLimits {
    max_concurrent: 25,
    max_agents_per_lead: 5,
    max_depth: 2,
};

fn store(dir: &tempfile::TempDir) -> SqliteSessionStore {
    SqliteSessionStore::open(dir.path().join(".legio/sessions.db")).expect("open sessions.db")
}

fn admit(s: &SqliteSessionStore, session: &legio_core::AgentSession) {
    assert_eq!(
        s.register(session, &ROOMY).expect("register"),
        Admission::Admitted
    );
}

fn names(list: &[legio_core::AgentSession]) -> Vec<&str> {
    list.iter().map(|s| s.agent_name.as_str()).collect()
}

#[test]
fn register_inserts_booting_and_round_trips_every_field() {
    let dir = tmp();
    let s = store(&dir);
    let mut a = agent("builder-1", 0);
    a.state = AgentState::Working; // register forces booting
    a.pid = Some(4242);
    a.parent_agent = Some(name("lead-1"));
    a.depth = 1;
    a.run_id = Some("run-1".into());
    a.escalation_level = 0;
    a.terminal_log_path = Some("/p/.legio/logs/builder-1/terminal.log".into());
    a.runtime = "script".into();
    a.file_scope = vec!["src/a.rs".into(), "src/b c.rs".into()];
    a.spec_path = Some("/p/.legio/specs/t-1.md".into());
    admit(&s, &a);
    let got = s.get(&a.agent_name).unwrap().unwrap();
    assert_eq!(got.state, AgentState::Booting);
    assert_eq!(
        got,
        legio_core::AgentSession {
            state: AgentState::Booting,
            ..a
        }
    );
    assert_eq!(s.get(&name("nobody")).unwrap(), None);
}

#[test]
fn an_active_name_is_refused_and_a_finished_one_is_replaced() {
    let dir = tmp();
    let s = store(&dir);
    admit(&s, &agent("b1", 0));
    assert!(
        s.transition(&name("b1"), &[AgentState::Booting], AgentState::Idle)
            .unwrap()
    );
    let again = agent("b1", 10);
    assert_eq!(
        s.register(&again, &ROOMY).unwrap(),
        Admission::Denied(AdmissionDenied::NameInUse {
            name: "b1".into(),
            state: AgentState::Idle
        })
    );
    assert_eq!(s.get(&name("b1")).unwrap().unwrap().started_at, at(0));

    s.transition(&name("b1"), &[AgentState::Idle], AgentState::Completed)
        .unwrap();
    admit(&s, &again);
    let row = s.get(&name("b1")).unwrap().unwrap();
    assert_eq!((row.id, row.state), (again.id, AgentState::Booting));
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn max_concurrent_counts_idle_but_not_finished_agents() {
    let dir = tmp();
    let s = store(&dir);
    let limits = AdmissionLimits {
        max_concurrent: 2,
        ..ROOMY
    };
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        s.upsert(&agent(n, i as i64)).unwrap();
    }
    s.transition(&name("a"), &[AgentState::Booting], AgentState::Idle)
        .unwrap();
    s.transition(&name("c"), &[AgentState::Booting], AgentState::Zombie)
        .unwrap();
    // a (idle) and b (booting) are active: the limit of 2 is reached.
    assert_eq!(
        s.register(&agent("d", 5), &limits).unwrap(),
        Admission::Denied(AdmissionDenied::MaxConcurrent { active: 2, max: 2 })
    );
    assert_eq!(s.get(&name("d")).unwrap(), None, "a denial writes nothing");
    s.transition(&name("b"), &[AgentState::Booting], AgentState::Completed)
        .unwrap();
    assert_eq!(
        s.register(&agent("d", 5), &limits).unwrap(),
        Admission::Admitted
    );
}

#[test]
fn depth_parent_and_lead_limits_are_enforced() {
    let dir = tmp();
    let s = store(&dir);
    let mut deep = agent("deep", 0);
    deep.depth = 3;
    assert_eq!(
        s.register(&deep, &ROOMY).unwrap(),
        Admission::Denied(AdmissionDenied::MaxDepth { depth: 3, max: 2 })
    );

    let limits = AdmissionLimits {
        max_agents_per_lead: 2,
        ..ROOMY
    };
    let child = |n: &str, parent: &str| {
        let mut c = agent(n, 1);
        c.parent_agent = Some(name(parent));
        c.depth = 1;
        c
    };
    assert_eq!(
        s.register(&child("c1", "lead-a"), &limits).unwrap(),
        Admission::Admitted
    );
    assert_eq!(
        s.register(&child("c2", "lead-a"), &limits).unwrap(),
        Admission::Admitted
    );
    assert_eq!(
        s.register(&child("c3", "lead-b"), &limits).unwrap(),
        Admission::Admitted
    );
    assert_eq!(
        s.register(&child("c4", "lead-a"), &limits).unwrap(),
        Admission::Denied(AdmissionDenied::MaxPerLead {
            parent: "lead-a".into(),
            active: 2,
            max: 2
        })
    );
    s.transition(&name("c1"), &[AgentState::Booting], AgentState::Zombie)
        .unwrap();
    assert_eq!(
        s.register(&child("c4", "lead-a"), &limits).unwrap(),
        Admission::Admitted
    );

    let lead = |n: &str, task: &str| {
        let mut l = agent(n, 2);
        l.capability = Capability::Lead;
        l.bead_id = task.into();
        l
    };
    admit(&s, &lead("lead-1", "t-9"));
    assert_eq!(
        s.register(&lead("lead-2", "t-9"), &ROOMY).unwrap(),
        Admission::Denied(AdmissionDenied::DuplicateLead {
            existing: "lead-1".into(),
            task: "t-9".into()
        })
    );
    let mut builder_same_task = agent("b-9", 3);
    builder_same_task.bead_id = "t-9".into();
    admit(&s, &builder_same_task);
    admit(&s, &lead("lead-3", "t-10"));
    s.transition(&name("lead-1"), &[AgentState::Booting], AgentState::Zombie)
        .unwrap();
    admit(&s, &lead("lead-2", "t-9"));
}

#[test]
fn session_ids_stay_unique() {
    let dir = tmp();
    let s = store(&dir);
    admit(&s, &agent("a", 0));
    let mut clash = agent("b", 0);
    clash.id = agent("a", 0).id;
    assert!(
        matches!(s.register(&clash, &ROOMY), Err(StoreError::Conflict(m)) if m.contains("session id"))
    );
    assert!(matches!(s.upsert(&clash), Err(StoreError::Conflict(_))));
    assert_eq!(s.get(&name("b")).unwrap(), None);
}

#[test]
fn upsert_inserts_then_replaces_by_name_and_remove_deletes() {
    let dir = tmp();
    let s = store(&dir);
    let mut a = agent("a", 0);
    s.upsert(&a).unwrap();
    a.id = "session-2-a".into();
    a.state = AgentState::Zombie;
    a.pid = Some(7);
    s.upsert(&a).unwrap();
    assert_eq!(s.list().unwrap(), vec![a.clone()]);
    assert!(s.remove(&a.agent_name).unwrap());
    assert!(!s.remove(&a.agent_name).unwrap());
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn lists_are_oldest_first_and_active_means_booting_working_idle() {
    let dir = tmp();
    let s = store(&dir);
    for (n, started) in [("late", 30), ("early", 10), ("mid", 20), ("tie", 20)] {
        s.upsert(&agent(n, started)).unwrap();
    }
    assert_eq!(names(&s.list().unwrap()), ["early", "mid", "tie", "late"]);
    s.transition(&name("early"), &[AgentState::Booting], AgentState::Working)
        .unwrap();
    s.transition(&name("mid"), &[AgentState::Booting], AgentState::Idle)
        .unwrap();
    s.transition(&name("tie"), &[AgentState::Booting], AgentState::Completed)
        .unwrap();
    s.transition(&name("late"), &[AgentState::Booting], AgentState::Zombie)
        .unwrap();
    assert_eq!(names(&s.list_active().unwrap()), ["early", "mid"]);
}

#[test]
fn transition_is_compare_and_swap() {
    let dir = tmp();
    let s = store(&dir);
    s.upsert(&agent("a", 0)).unwrap();
    let a = name("a");
    assert!(
        !s.transition(
            &a,
            &[AgentState::Working, AgentState::Idle],
            AgentState::Completed
        )
        .unwrap()
    );
    assert_eq!(s.get(&a).unwrap().unwrap().state, AgentState::Booting);
    assert!(
        s.transition(
            &a,
            &[AgentState::Idle, AgentState::Booting],
            AgentState::Working
        )
        .unwrap()
    );
    assert_eq!(s.get(&a).unwrap().unwrap().state, AgentState::Working);
    assert!(!s.transition(&a, &[], AgentState::Idle).unwrap());
    assert!(
        !s.transition(&name("ghost"), &[AgentState::Booting], AgentState::Idle)
            .unwrap()
    );
}

#[test]
fn activity_wakes_booting_and_idle_agents_but_not_finished_ones() {
    let dir = tmp();
    let s = store(&dir);
    let cases = [
        ("booting", AgentState::Booting, AgentState::Working),
        ("idle", AgentState::Idle, AgentState::Working),
        ("working", AgentState::Working, AgentState::Working),
        ("completed", AgentState::Completed, AgentState::Completed),
        ("zombie", AgentState::Zombie, AgentState::Zombie),
    ];
    for (n, before, after) in cases {
        let mut a = agent(n, 0);
        a.state = before;
        a.escalation_level = 2;
        a.stalled_since = Some(at(50));
        s.upsert(&a).unwrap();
        assert_eq!(
            s.record_activity(&name(n), at(100)).unwrap(),
            Some(after),
            "{n}"
        );
        let row = s.get(&name(n)).unwrap().unwrap();
        assert_eq!(
            (
                row.state,
                row.last_activity,
                row.escalation_level,
                row.stalled_since
            ),
            (after, at(100), 0, None),
            "{n}"
        );
    }
    // A hook that recorded an older instant (racing another) does not move time backwards.
    assert_eq!(
        s.record_activity(&name("idle"), at(40)).unwrap(),
        Some(AgentState::Working)
    );
    assert_eq!(
        s.get(&name("idle")).unwrap().unwrap().last_activity,
        at(100)
    );
    assert_eq!(s.record_activity(&name("ghost"), at(1)).unwrap(), None);
}

#[test]
fn escalation_and_pid_are_set_and_unknown_agents_are_reported() {
    let dir = tmp();
    let s = store(&dir);
    s.upsert(&agent("a", 0)).unwrap();
    s.set_escalation(&name("a"), 3, Some(at(9))).unwrap();
    s.set_pid(&name("a"), Some(99)).unwrap();
    let row = s.get(&name("a")).unwrap().unwrap();
    assert_eq!(
        (row.escalation_level, row.stalled_since, row.pid),
        (3, Some(at(9)), Some(99))
    );
    s.set_escalation(&name("a"), 0, None).unwrap();
    s.set_pid(&name("a"), None).unwrap();
    let row = s.get(&name("a")).unwrap().unwrap();
    assert_eq!(
        (row.escalation_level, row.stalled_since, row.pid),
        (0, None, None)
    );
    assert!(matches!(
        s.set_escalation(&name("ghost"), 1, None),
        Err(StoreError::NotFound { what: "agent", key }) if key == "ghost"
    ));
    assert!(matches!(
        s.set_pid(&name("ghost"), Some(1)),
        Err(StoreError::NotFound { .. })
    ));
}

fn run(id: &str, started: i64, status: RunStatus) -> Run {
    Run {
        id: id.into(),
        started_at: at(started),
        completed_at: None,
        agent_count: 0,
        coordinator_session_id: None,
        status,
    }
}

#[test]
fn runs_are_created_listed_counted_and_finished() {
    let dir = tmp();
    let s = store(&dir);
    let mut r1 = run("run-1", 0, RunStatus::Active);
    r1.coordinator_session_id = Some("session-1-coordinator".into());
    r1.agent_count = 2;
    s.create_run(&r1).unwrap();
    assert_eq!(s.get_run("run-1").unwrap(), Some(r1.clone()));
    assert!(matches!(s.create_run(&r1), Err(StoreError::Conflict(m)) if m.contains("run-1")));
    s.create_run(&run("run-2", 20, RunStatus::Active)).unwrap();
    s.create_run(&run("run-3", 10, RunStatus::Failed)).unwrap();

    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_runs(None, None).unwrap()),
        ["run-2", "run-3", "run-1"]
    );
    assert_eq!(ids(s.list_runs(None, Some(2)).unwrap()), ["run-2", "run-3"]);
    assert_eq!(
        ids(s.list_runs(Some(RunStatus::Active), None).unwrap()),
        ["run-2", "run-1"]
    );

    s.increment_run_agents("run-1").unwrap();
    assert_eq!(s.get_run("run-1").unwrap().unwrap().agent_count, 3);
    assert!(matches!(
        s.increment_run_agents("run-x"),
        Err(StoreError::NotFound { what: "run", .. })
    ));

    assert!(s.finish_run("run-1", RunStatus::Completed, at(99)).unwrap());
    assert!(!s.finish_run("run-1", RunStatus::Failed, at(100)).unwrap());
    let done = s.get_run("run-1").unwrap().unwrap();
    assert_eq!(
        (done.status, done.completed_at),
        (RunStatus::Completed, Some(at(99)))
    );
    assert!(matches!(
        s.finish_run("run-x", RunStatus::Failed, at(1)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.finish_run("run-2", RunStatus::Active, at(1)),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.get_run("run-2").unwrap().unwrap().status,
        RunStatus::Active
    );
}

#[test]
fn data_survives_reopening() {
    let dir = tmp();
    store(&dir).upsert(&agent("a", 0)).unwrap();
    let again = store(&dir);
    assert_eq!(names(&again.list().unwrap()), ["a"]);
}

#[test]
fn upserting_the_same_session_again_updates_it() {
    let dir = tmp();
    let s = store(&dir);
    let mut a = agent("a", 0);
    s.upsert(&a).unwrap();
    a.pid = Some(1234);
    a.state = AgentState::Working;
    s.upsert(&a).unwrap();
    assert_eq!(s.list().unwrap(), vec![a]);
}
