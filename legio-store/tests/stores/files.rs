//! File-level behaviour: creation, cheap opens, a bounded WAL.

use legio_core::Layout;
use legio_core::domain::event::{EventType, NewEvent};
use legio_core::ports::store::{EventQuery, EventStore};
use legio_store::{SqliteEventStore, SqliteMailStore, Stores};

use crate::common::{at, raw_value, tmp};

#[test]
fn opening_an_up_to_date_file_runs_no_ddl() {
    let dir = tmp();
    let layout = Layout::new(dir.path());
    drop(Stores::open_all(&layout).unwrap());
    let files = [
        layout.sessions_db(),
        layout.mail_db(),
        layout.events_db(),
        layout.metrics_db(),
        layout.merge_queue_db(),
        layout.tasks_db(),
    ];
    let before: Vec<i64> = files
        .iter()
        .map(|f| raw_value(f, "PRAGMA schema_version"))
        .collect();
    drop(Stores::open_all(&layout).unwrap());
    let after: Vec<i64> = files
        .iter()
        .map(|f| raw_value(f, "PRAGMA schema_version"))
        .collect();
    assert_eq!(before, after);
    for f in &files {
        assert_eq!(
            raw_value::<i64>(f, "PRAGMA user_version"),
            1,
            "{}",
            f.display()
        );
        assert_eq!(
            raw_value::<String>(f, "PRAGMA journal_mode"),
            "wal",
            "{}",
            f.display()
        );
    }
}

#[test]
fn missing_directories_are_created() {
    let dir = tmp();
    let layout = Layout::new(dir.path().join("fresh-project"));
    let mail = SqliteMailStore::open_in(&layout).unwrap();
    assert_eq!(mail.path(), layout.mail_db());
    assert!(layout.mail_db().is_file());
}

#[test]
fn the_wal_stays_bounded_when_every_process_opens_writes_and_closes() {
    let dir = tmp();
    let path = dir.path().join("events.db");
    for i in 0..300 {
        let events = SqliteEventStore::open(&path).expect("open events.db");
        let mut e = NewEvent::new("b1", EventType::ToolStart, at(i));
        e.tool_name = Some("Read".into());
        events.insert(&e).expect("insert");
    }
    let wal = dir.path().join("events.db-wal");
    let wal_size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert!(wal_size < 1 << 20, "the WAL grew to {wal_size} bytes");
    let events = SqliteEventStore::open(&path).expect("open events.db");
    assert_eq!(
        events.query(&EventQuery::default()).expect("query").len(),
        300
    );
}
