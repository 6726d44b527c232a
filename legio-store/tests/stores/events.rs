use legio_core::domain::event::{EventLevel, EventType, NewEvent, StoredEvent};
use legio_core::ports::store::{EventQuery, EventStore, PurgeCriteria};
use legio_store::SqliteEventStore;

use crate::common::{at, tmp};

fn store(dir: &tempfile::TempDir) -> SqliteEventStore {
    SqliteEventStore::open(dir.path().join("events.db")).expect("open events.db")
}

fn start(agent: &str, tool: &str, use_id: Option<&str>, ms: i64) -> NewEvent {
    NewEvent {
        tool_name: Some(tool.into()),
        tool_use_id: use_id.map(Into::into),
        ..NewEvent::new(agent, EventType::ToolStart, at(ms))
    }
}

fn ids(list: &[StoredEvent]) -> Vec<i64> {
    list.iter().map(|e| e.id).collect()
}

#[test]
fn insert_returns_increasing_ids_and_round_trips() {
    let dir = tmp();
    let s = store(&dir);
    let e = NewEvent {
        run_id: Some("run-1".into()),
        session_id: Some("sess".into()),
        tool_name: Some("Bash".into()),
        tool_use_id: Some("toolu_1".into()),
        tool_args: Some(r#"{"command":"ls"}"#.into()),
        tool_duration_ms: Some(12),
        level: EventLevel::Warn,
        data: Some(r#"{"summary":"bash: ls"}"#.into()),
        ..NewEvent::new("builder-1", EventType::ToolEnd, at(7))
    };
    let first = s.insert(&e).unwrap();
    let second = s
        .insert(&NewEvent::new("b", EventType::Spawn, at(8)))
        .unwrap();
    assert!(second > first);
    let got = s
        .query(&EventQuery {
            agents: vec!["builder-1".into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        got,
        [StoredEvent {
            id: first,
            run_id: e.run_id,
            agent_name: "builder-1".into(),
            session_id: e.session_id,
            event_type: "tool_end".into(),
            tool_name: e.tool_name,
            tool_args: e.tool_args,
            tool_duration_ms: Some(12),
            level: EventLevel::Warn,
            data: e.data,
            created_at: at(7),
        }]
    );
}

#[test]
fn parallel_calls_of_one_tool_pair_by_tool_use_id() {
    let dir = tmp();
    let s = store(&dir);
    let a = s.insert(&start("b1", "Read", Some("toolu_a"), 0)).unwrap();
    let b = s.insert(&start("b1", "Read", Some("toolu_b"), 10)).unwrap();
    // The older call ends first: LIFO pairing by tool name would pick b.
    assert_eq!(
        s.finish_tool("b1", Some("toolu_a"), "Read", at(100))
            .unwrap(),
        Some((a, 100))
    );
    assert_eq!(
        s.finish_tool("b1", Some("toolu_b"), "Read", at(130))
            .unwrap(),
        Some((b, 120))
    );
    assert_eq!(
        s.finish_tool("b1", Some("toolu_a"), "Read", at(200))
            .unwrap(),
        None,
        "already finished"
    );
    assert_eq!(
        s.finish_tool("b2", Some("toolu_b"), "Read", at(200))
            .unwrap(),
        None,
        "other agent"
    );
    let rows = s
        .query(&EventQuery {
            oldest_first: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        rows.iter().map(|e| e.tool_duration_ms).collect::<Vec<_>>(),
        [Some(100), Some(120)]
    );
}

#[test]
fn without_an_id_the_newest_unfinished_start_of_the_tool_is_paired() {
    let dir = tmp();
    let s = store(&dir);
    let old = s.insert(&start("b1", "Bash", None, 0)).unwrap();
    let new = s.insert(&start("b1", "Bash", None, 10)).unwrap();
    s.insert(&start("b1", "Bash", Some("toolu_x"), 20)).unwrap();
    s.insert(&start("b1", "Read", None, 30)).unwrap();
    s.insert(&start("b2", "Bash", None, 40)).unwrap();
    assert_eq!(
        s.finish_tool("b1", None, "Bash", at(50)).unwrap(),
        Some((new, 40))
    );
    assert_eq!(
        s.finish_tool("b1", None, "Bash", at(50)).unwrap(),
        Some((old, 50))
    );
    // The start carrying an id is only ever paired by that id.
    assert_eq!(s.finish_tool("b1", None, "Bash", at(50)).unwrap(), None);
    assert_eq!(s.finish_tool("nobody", None, "Bash", at(50)).unwrap(), None);
}

#[test]
fn a_clock_going_backwards_gives_zero_not_a_negative_duration() {
    let dir = tmp();
    let s = store(&dir);
    let id = s.insert(&start("b1", "Edit", Some("t"), 100)).unwrap();
    assert_eq!(
        s.finish_tool("b1", Some("t"), "Edit", at(40)).unwrap(),
        Some((id, 0))
    );
}

#[test]
fn queries_filter_order_and_limit() {
    let dir = tmp();
    let s = store(&dir);
    let e = |agent: &str, t: EventType, level: EventLevel, run: Option<&str>, ms: i64| {
        s.insert(&NewEvent {
            level,
            run_id: run.map(Into::into),
            ..NewEvent::new(agent, t, at(ms))
        })
        .unwrap()
    };
    let e1 = e("a", EventType::Spawn, EventLevel::Info, Some("r1"), 0);
    let e2 = e("b", EventType::Error, EventLevel::Error, Some("r1"), 10);
    let e3 = e("a", EventType::ToolStart, EventLevel::Debug, None, 20);
    let e4 = e("c", EventType::Error, EventLevel::Error, Some("r2"), 20); // same instant as e3
    let e5 = e("a", EventType::Custom, EventLevel::Warn, Some("r1"), 30);
    let q = |q: EventQuery| ids(&s.query(&q).unwrap());

    assert_eq!(q(EventQuery::default()), [e5, e4, e3, e2, e1]);
    assert_eq!(
        q(EventQuery {
            oldest_first: true,
            ..Default::default()
        }),
        [e1, e2, e3, e4, e5]
    );
    assert_eq!(
        q(EventQuery {
            limit: Some(2),
            ..Default::default()
        }),
        [e5, e4],
        "the newest are kept"
    );
    assert_eq!(
        q(EventQuery {
            limit: Some(2),
            oldest_first: true,
            ..Default::default()
        }),
        [e1, e2]
    );
    assert_eq!(
        q(EventQuery {
            agents: vec!["a".into()],
            ..Default::default()
        }),
        [e5, e3, e1]
    );
    assert_eq!(
        q(EventQuery {
            agents: vec!["b".into(), "c".into()],
            ..Default::default()
        }),
        [e4, e2]
    );
    assert_eq!(
        q(EventQuery {
            run_id: Some("r1".into()),
            ..Default::default()
        }),
        [e5, e2, e1]
    );
    assert_eq!(
        q(EventQuery {
            event_type: Some(EventType::Error),
            ..Default::default()
        }),
        [e4, e2]
    );
    assert_eq!(
        q(EventQuery {
            level: Some(EventLevel::Error),
            ..Default::default()
        }),
        [e4, e2]
    );
    assert_eq!(
        q(EventQuery {
            since: Some(at(10)),
            until: Some(at(20)),
            ..Default::default()
        }),
        [e4, e3, e2],
        "bounds are inclusive to the millisecond"
    );
    assert_eq!(
        q(EventQuery {
            after_id: Some(e3),
            oldest_first: true,
            ..Default::default()
        }),
        [e4, e5]
    );
    assert_eq!(
        q(EventQuery {
            agents: vec!["a".into()],
            run_id: Some("r1".into()),
            level: Some(EventLevel::Warn),
            ..Default::default()
        }),
        [e5]
    );
    assert!(
        q(EventQuery {
            agents: vec!["zed".into()],
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn tool_stats_count_starts_and_average_known_durations() {
    let dir = tmp();
    let s = store(&dir);
    for (agent, tool, ms) in [
        ("a", "Read", 0),
        ("a", "Read", 1),
        ("a", "Read", 2),
        ("a", "Bash", 3),
        ("b", "Bash", 4),
        ("b", "Bash", 5),
    ] {
        s.insert(&start(agent, tool, Some(&format!("{agent}{ms}")), ms))
            .unwrap();
    }
    s.finish_tool("a", Some("a0"), "Read", at(100)).unwrap(); // 100 ms
    s.finish_tool("a", Some("a1"), "Read", at(301)).unwrap(); // 300 ms
    s.insert(&NewEvent {
        tool_name: Some("Read".into()),
        ..NewEvent::new("a", EventType::ToolEnd, at(9))
    })
    .unwrap();

    let all = s.tool_stats(None, None).unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|t| (t.tool_name.as_str(), t.count))
        .collect();
    assert_eq!(
        summary,
        [("Bash", 3), ("Read", 3)],
        "by count, then name; tool_end rows not counted"
    );
    let a = s.tool_stats(Some("a"), None).unwrap();
    assert_eq!(a[0].tool_name, "Read");
    assert_eq!(a[0].count, 3);
    assert!(
        (a[0].avg_duration_ms - 200.0).abs() < f64::EPSILON,
        "unknown durations are ignored"
    );
    assert_eq!(a[0].max_duration_ms, 300);
    assert_eq!(
        (
            a[1].tool_name.as_str(),
            a[1].avg_duration_ms,
            a[1].max_duration_ms
        ),
        ("Bash", 0.0, 0)
    );
    let recent = s.tool_stats(Some("b"), Some(at(5))).unwrap();
    assert_eq!(recent.iter().map(|t| t.count).collect::<Vec<_>>(), [1]);
}

#[test]
fn purge_by_age_and_agent() {
    let dir = tmp();
    let s = store(&dir);
    for (agent, ms) in [("a", 0), ("b", 1), ("a", 100), ("b", 101)] {
        s.insert(&NewEvent::new(agent, EventType::Custom, at(ms)))
            .unwrap();
    }
    assert_eq!(s.purge(&PurgeCriteria::default()).unwrap(), 0);
    assert_eq!(
        s.purge(&PurgeCriteria {
            older_than: Some(at(50)),
            agent: Some("a".into()),
            all: false
        })
        .unwrap(),
        1
    );
    assert_eq!(
        s.purge(&PurgeCriteria {
            agent: Some("b".into()),
            ..Default::default()
        })
        .unwrap(),
        2
    );
    let left = s.query(&EventQuery::default()).unwrap();
    assert_eq!(
        (left.len(), left[0].agent_name.as_str(), left[0].created_at),
        (1, "a", at(100))
    );
    assert_eq!(
        s.purge(&PurgeCriteria {
            all: true,
            ..Default::default()
        })
        .unwrap(),
        1
    );
}
