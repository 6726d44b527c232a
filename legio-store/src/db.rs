//! One database file: opening it, migrating it, running transactions, and turning SQLite's
//! errors into [`StoreError`]s that name the file.
//!
//! Every store holds one [`Db`]. Opening a file that is already at this binary's schema version
//! costs a few connection settings and one header read (no DDL, no write lock), because the
//! per-tool-call hook opens several databases in every process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use legio_core::ports::StoreError;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use crate::migrate::Schema;

/// The WAL size past which closing a store checkpoints the WAL into the database and empties it.
const WAL_CHECKPOINT_BYTES: u64 = 256 * 1024;

/// How long closing a store waits for other processes before leaving the checkpoint to a later
/// close.
const CHECKPOINT_PATIENCE: Duration = Duration::from_millis(50);

/// How a database file is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// How long to wait for another process's lock before failing with
    /// [`StoreError::Busy`]. Default: 5 seconds, as in legio 0.1.0.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Why an operation inside a store failed, before the file name is attached.
///
/// Store code returns this from closures run by [`Db::run`] and [`Db::atomic`] so that `?` works
/// on SQLite errors, on undecodable values and on domain errors alike; [`Db`] turns it into a
/// [`StoreError`] in one place.
#[derive(Debug)]
pub(crate) enum Failure {
    /// SQLite reported an error.
    Sql(rusqlite::Error),
    /// A stored value could not be decoded.
    BadValue {
        /// The column it came from.
        column: String,
        /// The value, rendered for the message.
        value: String,
    },
    /// A complete domain error (not found, conflict, invalid input).
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// An open database file.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
}

impl Db {
    /// Opens (creating it and its parent directory if missing) and migrates the file at `path`.
    pub(crate) fn open(
        path: &Path,
        schema: &Schema,
        options: &OpenOptions,
    ) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot create directory {}: {e}", parent.display()),
            })?;
        }
        // No SQLITE_OPEN_URI: a project path beginning with `file:` is still a path.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
        conn.busy_handler(Some(patient_waiter(options.busy_timeout)))
            .map_err(|e| open_error(path, &e))?;
        let db = Self {
            conn,
            path: path.to_path_buf(),
            busy_timeout: options.busy_timeout,
        };
        db.configure().map_err(|f| db.fail(f))?;
        let version = db.user_version().map_err(|f| db.fail(f))?;
        if version == schema.latest() {
            return Ok(db);
        }
        db.check_not_too_new(version, schema)?;
        db.migrate(schema)?;
        Ok(db)
    }

    /// The file this database lives in.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection outside an explicit transaction: for reads (one statement
    /// is one consistent snapshot) and for single-statement writes, which SQLite makes atomic.
    pub(crate) fn run<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        work(&self.conn).map_err(|f| self.fail(f))
    }

    /// Runs `work` inside `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken before the first
    /// read, so a read-modify-write cannot interleave with another process's. Any error rolls
    /// everything back.
    pub(crate) fn atomic<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let run = || -> Result<T, Failure> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|f| self.fail(f))
    }

    /// Attaches the file name to a failure, mapping SQLite's error codes onto [`StoreError`].
    pub(crate) fn fail(&self, failure: Failure) -> StoreError {
        match failure {
            Failure::Store(e) => e,
            Failure::BadValue { column, value } => StoreError::BadValue {
                path: self.path.clone(),
                column,
                value,
            },
            Failure::Sql(e) => self.sql_error(&e),
        }
    }

    /// The one place SQLite errors become store errors.
    fn sql_error(&self, e: &rusqlite::Error) -> StoreError {
        let path = self.path.clone();
        let reason = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
                path,
                waited_ms: u64::try_from(self.busy_timeout.as_millis()).unwrap_or(u64::MAX),
            },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt { path, reason }
            }
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
                StoreError::Open { path, reason }
            }
            Some(ErrorCode::ConstraintViolation) => {
                StoreError::Conflict(format!("{} refused the change: {reason}", path.display()))
            }
            _ => StoreError::Sql {
                path,
                message: reason,
            },
        }
    }

    fn configure(&self) -> Result<(), Failure> {
        // SQLite would checkpoint (two fsyncs) whenever the last connection closes, which for
        // short-lived hook processes is every close. `Db::drop` checkpoints only once the WAL
        // has grown past WAL_CHECKPOINT_BYTES instead (see there).
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    fn user_version(&self) -> Result<i64, Failure> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn check_not_too_new(&self, version: i64, schema: &Schema) -> Result<(), StoreError> {
        if version > schema.latest() {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known: schema.latest(),
            });
        }
        Ok(())
    }

    /// Switches to WAL and applies the missing migrations in one immediate transaction. Another
    /// process may have migrated the file meanwhile: the version is read again under the lock.
    fn migrate(&self, schema: &Schema) -> Result<(), StoreError> {
        self.enter_wal()?;
        self.atomic(|conn| {
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            self.check_not_too_new(version, schema)?;
            schema
                .apply(conn, version)
                .map_err(|(step, e)| self.migration_failure(step, &e))?;
            Ok(())
        })
    }

    /// Sets WAL journaling, retrying while other processes hold the file.
    ///
    /// Switching a new file to WAL reads its header and then upgrades to an exclusive lock;
    /// SQLite does not call the busy handler for such an upgrade (it could deadlock), so when
    /// several processes create the same file at once the loser gets `SQLITE_BUSY` at once.
    fn enter_wal(&self) -> Result<(), StoreError> {
        let began = Instant::now();
        let mut attempt = 0u64;
        loop {
            match self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            {
                Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(mode) => {
                    return Err(StoreError::Open {
                        path: self.path.clone(),
                        reason: format!(
                            "SQLite kept journal mode {mode:?} instead of WAL; legio needs a local file system that supports shared memory"
                        ),
                    });
                }
                Err(e)
                    if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                        && began.elapsed() < self.busy_timeout =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_micros(500 + (attempt * 7919) % 2000));
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
    }

    fn migration_failure(&self, step: &str, e: &rusqlite::Error) -> Failure {
        match self.sql_error(e) {
            kept @ (StoreError::Busy { .. } | StoreError::Corrupt { .. }) => Failure::Store(kept),
            _ => Failure::Store(StoreError::Sql {
                path: self.path.clone(),
                message: format!("migration \"{step}\" failed, nothing was changed: {e}"),
            }),
        }
    }
}

/// A busy handler that waits up to `timeout` for another process's lock, polling every few
/// milliseconds.
///
/// SQLite's own handler backs off to 100 ms naps; when many hook processes write at once, a
/// waiter that has been asleep that long keeps losing the lock to newer waiters and can time out
/// although the lock was free most of the time. Short naps with a little jitter keep waiting
/// roughly fair at a negligible CPU cost.
fn patient_waiter(timeout: Duration) -> impl FnMut(i32) -> bool + Send + 'static {
    let mut began = Instant::now();
    let seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    move |attempt| {
        if attempt == 0 {
            began = Instant::now();
        }
        if began.elapsed() >= timeout {
            return false;
        }
        let mix = seed ^ u64::from(attempt.unsigned_abs()).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        std::thread::sleep(Duration::from_micros(500 + (mix >> 32) % 2500));
        true
    }
}

impl Drop for Db {
    /// Checkpoints and empties the WAL once it has grown past [`WAL_CHECKPOINT_BYTES`].
    ///
    /// Why not on every close, as SQLite does by default: that costs two fsyncs in every hook
    /// process. Why not never: when every connection is short-lived, the next first connection
    /// rebuilds the WAL index from the WAL (about 1 ms per MB) without knowing what was already
    /// checkpointed, so SQLite's own automatic checkpoint never lets the WAL restart and it grows
    /// without bound. A `TRUNCATE` checkpoint past a small size keeps both costs small. Errors are
    /// ignored: the data is safe in the WAL and a later close checkpoints it.
    fn drop(&mut self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size > WAL_CHECKPOINT_BYTES && self.conn.busy_timeout(CHECKPOINT_PATIENCE).is_ok() {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

fn open_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
