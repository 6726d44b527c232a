use legio_core::domain::merge::ResolutionTier;
use legio_core::domain::metrics::{SessionMetrics, TokenSnapshot, TokenUsage};
use legio_core::ports::store::{MetricsStore, PurgeCriteria};
use legio_store::SqliteMetricsStore;

use crate::common::{at, tmp};

fn store(dir: &tempfile::TempDir) -> SqliteMetricsStore {
    SqliteMetricsStore::open(dir.path().join("metrics.db")).expect("open metrics.db")
}

fn session(agent: &str, bead: &str, started: i64) -> SessionMetrics {
    SessionMetrics {
        agent_name: agent.into(),
        bead_id: bead.into(),
        capability: "builder".into(),
        started_at: at(started),
        completed_at: None,
        duration_ms: 0,
        exit_code: None,
        merge_result: None,
        parent_agent: None,
        run_id: None,
        usage: TokenUsage::default(),
        estimated_cost_usd: None,
        model_used: None,
    }
}

fn snapshot(agent: &str, input: u64, ms: i64) -> TokenSnapshot {
    TokenSnapshot {
        agent_name: agent.into(),
        usage: TokenUsage {
            input_tokens: input,
            ..TokenUsage::default()
        },
        estimated_cost_usd: Some(0.5),
        model_used: Some("claude-sonnet-4-5".into()),
        created_at: at(ms),
    }
}

#[test]
fn a_rerun_on_the_same_task_is_a_new_session_and_a_rerecord_updates() {
    let dir = tmp();
    let s = store(&dir);
    let mut first = session("b1", "t-1", 0);
    s.record_session(&first).unwrap();
    first.completed_at = Some(at(500));
    first.duration_ms = 500;
    first.exit_code = Some(0);
    first.merge_result = Some(ResolutionTier::AutoResolve);
    first.parent_agent = Some("lead-1".into());
    first.run_id = Some("run-1".into());
    first.usage = TokenUsage {
        input_tokens: 10,
        output_tokens: 20,
        cache_read_tokens: 30,
        cache_creation_tokens: 40,
    };
    first.estimated_cost_usd = Some(1.25);
    first.model_used = Some("claude-opus-4-6".into());
    s.record_session(&first).unwrap();
    let second = session("b1", "t-1", 1000);
    s.record_session(&second).unwrap();

    assert_eq!(
        s.sessions_by_agent("b1").unwrap(),
        [second.clone(), first.clone()]
    );
    assert_eq!(s.sessions_by_run("run-1").unwrap(), [first.clone()]);
    assert!(s.sessions_by_run("run-2").unwrap().is_empty());
}

#[test]
fn recent_sessions_are_newest_first_within_the_limit() {
    let dir = tmp();
    let s = store(&dir);
    for (agent, started) in [("a", 10), ("b", 30), ("c", 20)] {
        s.record_session(&session(agent, "t", started)).unwrap();
    }
    let agents =
        |list: Vec<SessionMetrics>| list.into_iter().map(|m| m.agent_name).collect::<Vec<_>>();
    assert_eq!(agents(s.recent_sessions(10).unwrap()), ["b", "c", "a"]);
    assert_eq!(agents(s.recent_sessions(2).unwrap()), ["b", "c"]);
    assert!(s.recent_sessions(0).unwrap().is_empty());
}

#[test]
fn latest_snapshots_give_exactly_one_per_agent() {
    let dir = tmp();
    let s = store(&dir);
    s.record_snapshot(&snapshot("a", 1, 0)).unwrap();
    s.record_snapshot(&snapshot("a", 2, 10)).unwrap();
    s.record_snapshot(&snapshot("a", 3, 10)).unwrap(); // same instant: the later record wins
    s.record_snapshot(&snapshot("b", 7, 5)).unwrap();
    let latest = s.latest_snapshots().unwrap();
    assert_eq!(latest, [snapshot("a", 3, 10), snapshot("b", 7, 5)]);
    assert!(store(&tmp()).latest_snapshots().unwrap().is_empty());
}

#[test]
fn purge_removes_sessions_and_snapshots_together() {
    let dir = tmp();
    let s = store(&dir);
    s.record_session(&session("a", "t", 0)).unwrap();
    s.record_session(&session("a", "t", 100)).unwrap();
    s.record_session(&session("b", "t", 0)).unwrap();
    s.record_snapshot(&snapshot("a", 1, 0)).unwrap();
    s.record_snapshot(&snapshot("b", 1, 0)).unwrap();
    assert_eq!(s.purge(&PurgeCriteria::default()).unwrap(), 0);
    let old_a = PurgeCriteria {
        older_than: Some(at(50)),
        agent: Some("a".into()),
        all: false,
    };
    assert_eq!(s.purge(&old_a).unwrap(), 2, "one session and one snapshot");
    assert_eq!(s.sessions_by_agent("a").unwrap().len(), 1);
    assert_eq!(
        s.purge(&PurgeCriteria {
            agent: Some("b".into()),
            ..Default::default()
        })
        .unwrap(),
        2
    );
    assert_eq!(
        s.purge(&PurgeCriteria {
            all: true,
            ..Default::default()
        })
        .unwrap(),
        1
    );
    assert!(s.recent_sessions(10).unwrap().is_empty());
    assert!(s.latest_snapshots().unwrap().is_empty());
}
