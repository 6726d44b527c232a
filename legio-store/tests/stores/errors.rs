//! Damaged, locked, too-new and unreadable databases give errors that name the file.

use std::path::Path;
use std::time::{Duration, Instant};

use legio_core::domain::mail::{MailType, NewMail};
use legio_core::ports::StoreError;
use legio_core::ports::store::{AdmissionLimits, MailStore, SessionStore};
use legio_store::{
    OpenOptions, SqliteEventStore, SqliteMailStore, SqliteMergeQueue, SqliteMetricsStore,
    SqliteSessionStore, SqliteTaskStore,
};

use crate::common::{agent, at, name, raw, raw_value, tmp};

/// Opens `path` with every store type, returning each result's error (if any).
fn open_each(path: &Path) -> Vec<Result<(), StoreError>> {
    vec![
        SqliteSessionStore::open(path).map(drop),
        SqliteMailStore::open(path).map(drop),
        SqliteEventStore::open(path).map(drop),
        SqliteMetricsStore::open(path).map(drop),
        SqliteMergeQueue::open(path).map(drop),
        SqliteTaskStore::open(path).map(drop),
    ]
}

fn assert_corrupt(result: Result<(), StoreError>, path: &Path) {
    let err = result.expect_err("a damaged file must not open");
    assert!(
        matches!(&err, StoreError::Corrupt { path: p, .. } if p == path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn random_bytes_and_text_files_are_reported_as_damaged() {
    let dir = tmp();
    let noise = dir.path().join("noise.db");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&noise, &bytes).unwrap();
    let text = dir.path().join("text.db");
    std::fs::write(&text, "this is not a database\n".repeat(300)).unwrap();
    for path in [&noise, &text] {
        for result in open_each(path) {
            assert_corrupt(result, path);
        }
    }
    assert_eq!(
        std::fs::read(&noise).unwrap(),
        bytes,
        "the damaged file is left as it was"
    );
}

#[test]
fn a_truncated_database_is_reported_as_damaged() {
    let dir = tmp();
    let path = dir.path().join("mail.db");
    {
        let s = SqliteMailStore::open(&path).unwrap();
        for i in 0..400 {
            let body = format!("message body {i} {}", "x".repeat(200));
            s.send(&NewMail::new("a", "b", MailType::Status, "s", body), at(i))
                .unwrap();
        }
    }
    raw(&path, "PRAGMA wal_checkpoint(TRUNCATE);");
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 3).unwrap();
    drop(file);
    let outcome = SqliteMailStore::open(&path).and_then(|s| {
        s.list(&legio_core::ports::store::MailFilter::default())
            .map(drop)
    });
    assert_corrupt(outcome, &path);
}

#[test]
fn a_newer_schema_is_refused_without_touching_the_file() {
    let dir = tmp();
    let path = dir.path().join("sessions.db");
    drop(SqliteSessionStore::open(&path).unwrap());
    raw(&path, "PRAGMA user_version = 7;");
    let err = SqliteSessionStore::open(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::TooNew {
                found: 7,
                known: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade legio"), "{err}");
    assert_eq!(raw_value::<i64>(&path, "PRAGMA user_version"), 7);
}

#[test]
fn a_lock_held_past_the_busy_timeout_is_a_busy_error_and_reads_still_work() {
    let dir = tmp();
    let path = dir.path().join("mail.db");
    let options = OpenOptions {
        busy_timeout: Duration::from_millis(150),
    };
    let s = SqliteMailStore::open_with(&path, &options).unwrap();
    s.send(&NewMail::new("a", "b", MailType::Status, "s", "b"), at(0))
        .unwrap();

    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    // Opening an up-to-date file needs no write lock, and WAL readers are not blocked.
    let second = SqliteMailStore::open_with(&path, &options).unwrap();
    assert_eq!(second.count_unread("b").unwrap(), 1);
    let started = Instant::now();
    let err = second.claim_unread("b", None).unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "it waited for the lock first"
    );
    assert!(
        matches!(&err, StoreError::Busy { waited_ms: 150, path: p } if *p == path),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );

    let sessions_path = dir.path().join("sessions.db");
    let sessions = SqliteSessionStore::open_with(&sessions_path, &options).unwrap();
    let session_holder = rusqlite::Connection::open(&sessions_path).unwrap();
    session_holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let limits = AdmissionLimits {
        max_concurrent: 5,
        max_agents_per_lead: 5,
        max_depth: 2,
    };
    assert!(matches!(
        sessions.register(&agent("a", 0), &limits),
        Err(StoreError::Busy { .. })
    ));
    session_holder.execute_batch("ROLLBACK;").unwrap();
    assert!(
        sessions.get(&name("a")).unwrap().is_none(),
        "the refused write left nothing"
    );

    holder.execute_batch("ROLLBACK;").unwrap();
    assert_eq!(
        second.claim_unread("b", None).unwrap().len(),
        1,
        "nothing was lost"
    );
}

#[test]
fn unreadable_stored_values_name_the_column_and_value() {
    let dir = tmp();
    let path = dir.path().join("sessions.db");
    let s = SqliteSessionStore::open(&path).unwrap();
    s.upsert(&agent("a", 0)).unwrap();
    raw(&path, "UPDATE sessions SET last_activity = 'last tuesday'");
    let err = s.get(&name("a")).unwrap_err();
    assert!(
        matches!(&err, StoreError::BadValue { column, value, .. } if column == "last_activity" && value == "last tuesday"),
        "{err:?}"
    );
    assert!(err.to_string().contains("sessions.db"), "{err}");
    raw(
        &path,
        "UPDATE sessions SET last_activity = '2026-01-31T12:00:00.000Z', pid = 'abc'",
    );
    assert!(matches!(s.list(), Err(StoreError::BadValue { column, .. }) if column == "pid"));
}

#[test]
fn files_that_cannot_be_opened_say_why() {
    let dir = tmp();
    let as_dir = dir.path().join("dir.db");
    std::fs::create_dir(&as_dir).unwrap();
    let err = SqliteMailStore::open(&as_dir).unwrap_err();
    assert!(
        matches!(&err, StoreError::Open { path, .. } if *path == as_dir),
        "{err:?}"
    );

    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let inside = blocker.join("mail.db");
    let err = SqliteMailStore::open(&inside).unwrap_err();
    assert!(
        matches!(&err, StoreError::Open { reason, .. } if reason.contains("cannot create directory")),
        "{err:?}"
    );
}
