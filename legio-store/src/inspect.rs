//! Looking at a database file without creating, migrating or changing it (`legio doctor`):
//! its schema version against the one this binary writes, its journal mode, and what
//! `PRAGMA integrity_check` says.

use std::path::Path;
use std::time::Duration;

use legio_core::ports::{StoreError, StoreResult};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags};

/// The database files of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbFile {
    /// `sessions.db`.
    Sessions,
    /// `mail.db`.
    Mail,
    /// `events.db`.
    Events,
    /// `metrics.db`.
    Metrics,
    /// `merge-queue.db`.
    MergeQueue,
    /// `tasks.db`.
    Tasks,
}

impl DbFile {
    /// Every database file.
    pub const ALL: [DbFile; 6] = [
        DbFile::Sessions,
        DbFile::Mail,
        DbFile::Events,
        DbFile::Metrics,
        DbFile::MergeQueue,
        DbFile::Tasks,
    ];

    /// Its file name under `.legio/`.
    pub const fn file_name(self) -> &'static str {
        match self {
            DbFile::Sessions => "sessions.db",
            DbFile::Mail => "mail.db",
            DbFile::Events => "events.db",
            DbFile::Metrics => "metrics.db",
            DbFile::MergeQueue => "merge-queue.db",
            DbFile::Tasks => "tasks.db",
        }
    }

    /// The file whose name is `name`, if it is one of legio's.
    pub fn from_file_name(name: &str) -> Option<DbFile> {
        DbFile::ALL.into_iter().find(|f| f.file_name() == name)
    }

    /// The schema version (`PRAGMA user_version`) this binary writes.
    pub const fn schema_version(self) -> i64 {
        match self {
            DbFile::Sessions => crate::sessions::SCHEMA.latest(),
            DbFile::Mail => crate::mail::SCHEMA.latest(),
            DbFile::Events => crate::events::SCHEMA.latest(),
            DbFile::Metrics => crate::metrics::SCHEMA.latest(),
            DbFile::MergeQueue => crate::merge_queue::SCHEMA.latest(),
            DbFile::Tasks => crate::tasks::SCHEMA.latest(),
        }
    }
}

/// What a database file looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Its `PRAGMA user_version`.
    pub schema_version: i64,
    /// The version this binary writes.
    pub known_version: i64,
    /// Its journal mode, lower case (`wal`, `delete`, ...).
    pub journal_mode: String,
    /// What `PRAGMA integrity_check` reported (at most 10 lines); empty when healthy.
    pub problems: Vec<String>,
}

/// Inspects the database file at `path` holding `file`, read-only. `Ok(None)` when there is
/// no file. A file that is not a database, or is damaged beyond opening, is
/// [`StoreError::Corrupt`].
pub fn inspect(path: &Path, file: DbFile) -> StoreResult<Option<Inspection>> {
    if !path.exists() {
        return Ok(None);
    }
    let sql = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path: path.to_path_buf(),
            waited_ms: 2000,
        },
        _ => StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(sql)?;
    conn.busy_timeout(Duration::from_secs(2)).map_err(sql)?;
    let schema_version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    let journal_mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .map_err(sql)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check(10)").map_err(sql)?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let problems = if lines.len() == 1 && lines[0] == "ok" {
        Vec::new()
    } else {
        lines
    };
    Ok(Some(Inspection {
        schema_version,
        known_version: file.schema_version(),
        journal_mode: journal_mode.to_ascii_lowercase(),
        problems,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteMailStore;

    #[test]
    fn a_healthy_file_is_described_and_left_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("mail.db");
        assert_eq!(inspect(&path, DbFile::Mail).unwrap(), None);
        assert!(!path.exists(), "inspecting never creates the file");
        drop(SqliteMailStore::open(&path).unwrap());
        let before = std::fs::read(&path).unwrap();
        let seen = inspect(&path, DbFile::Mail).unwrap().unwrap();
        assert_eq!(
            seen,
            Inspection {
                schema_version: DbFile::Mail.schema_version(),
                known_version: DbFile::Mail.schema_version(),
                journal_mode: "wal".into(),
                problems: Vec::new(),
            }
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // Without its WAL and shared-memory files (a database copied after a checkpoint).
        Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(tmp.path().join(format!("mail.db{suffix}")));
        }
        assert_eq!(inspect(&path, DbFile::Mail).unwrap().unwrap(), seen);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn garbage_is_reported_as_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sessions.db");
        std::fs::write(
            &path,
            "this is not a database, just text that is long enough",
        )
        .unwrap();
        let err = inspect(&path, DbFile::Sessions).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(
            DbFile::from_file_name("sessions.db"),
            Some(DbFile::Sessions)
        );
        assert_eq!(DbFile::from_file_name("x.db"), None);
    }
}
