//! Query and hot-path timings on large databases: 1,000,000 events and 100,000 messages.
//!
//! Not a test (nothing is asserted): run `cargo bench -p legio-store --bench queries` and read
//! the medians. The databases are built once per run in a temporary directory (bulk-loaded in
//! one transaction each), then every operation is timed over many repetitions.

use std::time::{Duration, Instant};

use legio_core::domain::event::{EventLevel, EventType, NewEvent};
use legio_core::ports::store::{EventQuery, EventStore, MailStore};
use legio_core::time::Timestamp;
use legio_store::{SqliteEventStore, SqliteMailStore};
use rusqlite::params;

const EVENTS: i64 = 1_000_000;
const MESSAGES: i64 = 100_000;
const AGENTS: i64 = 20;
const RUNS: i64 = 50;
const T0: i64 = 1_769_860_800_000;
const TOOLS: [&str; 6] = ["Read", "Edit", "Bash", "Grep", "Glob", "Write"];

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

fn load_events(path: &std::path::Path) {
    drop(SqliteEventStore::open(path).expect("create events.db"));
    let mut conn = rusqlite::Connection::open(path).expect("open events.db");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO events (run_id, agent_name, session_id, event_type, tool_name,
                     tool_use_id, tool_args, tool_duration_ms, level, data, created_at)
                 VALUES (?1, ?2, 's', ?3, ?4, ?5, '{}', ?6, ?7, NULL, ?8)",
            )
            .expect("prepare");
        for i in 0..EVENTS {
            let agent = format!("agent-{}", i % AGENTS);
            let run = format!("run-{}", i / (EVENTS / RUNS));
            let is_start = i % 2 == 0;
            let level = if i % 50 == 0 { "error" } else { "info" };
            insert
                .execute(params![
                    run,
                    agent,
                    if is_start { "tool_start" } else { "tool_end" },
                    TOOLS[(i / 2 % 6) as usize],
                    format!("toolu_{}", i / 2),
                    is_start.then_some(i % 997),
                    level,
                    iso(T0 + i * 100),
                ])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

fn load_mail(path: &std::path::Path) {
    drop(SqliteMailStore::open(path).expect("create mail.db"));
    let mut conn = rusqlite::Connection::open(path).expect("open mail.db");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (id, from_agent, to_agent, subject, body, type, audience,
                     priority, read, created_at)
                 VALUES (?1, ?2, ?3, 'subject', 'body', 'status', 'both', 'normal', ?4, ?5)",
            )
            .expect("prepare");
        for i in 0..MESSAGES {
            insert
                .execute(params![
                    format!("msg-{i:012}"),
                    format!("agent-{}", (i + 1) % AGENTS),
                    format!("agent-{}", i % AGENTS),
                    i64::from(i < MESSAGES - 200),
                    iso(T0 + i * 1000),
                ])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

fn time(name: &str, reps: u32, mut op: impl FnMut()) {
    let mut samples: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            op();
            t.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    let worst = samples[samples.len() - 1];
    println!("{name:<48} median {median:>10.1?}   max {worst:>10.1?}");
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let events_db = dir.path().join("events.db");
    let mail_db = dir.path().join("mail.db");
    let loading = Instant::now();
    load_events(&events_db);
    load_mail(&mail_db);
    println!(
        "loaded {EVENTS} events and {MESSAGES} messages in {:.1?}\n",
        loading.elapsed()
    );

    time("open events.db (up to date)", 200, || {
        drop(SqliteEventStore::open(&events_db).expect("open"));
    });
    time("open mail.db (up to date)", 200, || {
        drop(SqliteMailStore::open(&mail_db).expect("open"));
    });

    let events = SqliteEventStore::open(&events_db).expect("open");
    let page = |q: EventQuery| EventQuery {
        limit: Some(50),
        ..q
    };
    time("events: one agent, newest 50", 200, || {
        let q = page(EventQuery {
            agents: vec!["agent-7".into()],
            ..Default::default()
        });
        assert_eq!(events.query(&q).expect("query").len(), 50);
    });
    time("events: one run, newest 50", 200, || {
        let q = page(EventQuery {
            run_id: Some("run-13".into()),
            ..Default::default()
        });
        assert_eq!(events.query(&q).expect("query").len(), 50);
    });
    time("events: timeline since 1 h ago, newest 50", 200, || {
        let since = Timestamp::from_millis(T0 + EVENTS * 100 - 3_600_000);
        let q = page(EventQuery {
            since: Some(since),
            ..Default::default()
        });
        assert_eq!(events.query(&q).expect("query").len(), 50);
    });
    time("events: errors, newest 50", 200, || {
        let q = page(EventQuery {
            level: Some(EventLevel::Error),
            ..Default::default()
        });
        assert_eq!(events.query(&q).expect("query").len(), 50);
    });
    time("events: tool stats of one agent", 20, || {
        assert!(
            !events
                .tool_stats(Some("agent-8"), None)
                .expect("stats")
                .is_empty()
        );
    });
    time("events: tool stats of one agent, last hour", 200, || {
        let since = Timestamp::from_millis(T0 + EVENTS * 100 - 3_600_000);
        assert!(
            !events
                .tool_stats(Some("agent-8"), Some(since))
                .expect("stats")
                .is_empty()
        );
    });
    let mut started = 0i64;
    time("events: insert a tool_start", 500, || {
        started += 1;
        let mut e = NewEvent::new(
            "agent-3",
            EventType::ToolStart,
            Timestamp::from_millis(T0 + EVENTS * 100 + started),
        );
        e.tool_name = Some("Read".into());
        e.tool_use_id = Some(format!("bench_{started}"));
        events.insert(&e).expect("insert");
    });
    let mut finished = 0i64;
    time("events: finish_tool by tool_use_id", 500, || {
        finished += 1;
        let at = Timestamp::from_millis(T0 + EVENTS * 100 + finished + 5);
        let use_id = format!("bench_{finished}");
        assert!(
            events
                .finish_tool("agent-3", Some(&use_id), "Read", at)
                .expect("finish")
                .is_some()
        );
    });

    let mail = SqliteMailStore::open(&mail_db).expect("open");
    time("mail: unread count of one agent", 200, || {
        assert_eq!(mail.count_unread("agent-7").expect("count"), 10);
    });
    time("mail: claim with an empty inbox (hook path)", 500, || {
        assert!(mail.claim_unread("nobody", None).expect("claim").is_empty());
    });

    drop((events, mail));
    let mut turns = 0i64;
    time(
        "hook-like: open events.db, insert, close (last)",
        200,
        || {
            turns += 1;
            let events = SqliteEventStore::open(&events_db).expect("open");
            let e = NewEvent::new(
                "agent-3",
                EventType::TurnEnd,
                Timestamp::from_millis(T0 + EVENTS * 100 + 10_000 + turns),
            );
            events.insert(&e).expect("insert");
        },
    );
}
