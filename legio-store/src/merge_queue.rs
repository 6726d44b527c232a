//! `merge-queue.db`: the FIFO merge queue (table `merge_queue`).
//!
//! An entry moves `pending -> merging -> merged | conflict | failed`. Claiming is one
//! `UPDATE ... RETURNING` (two mergers never get the same entry) and records the target and its
//! commit before the merge, so a crash mid-merge can be recovered. A partial unique index keeps
//! at most one pending or merging entry per branch.

use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::ports::store::MergeQueue;
use legio_core::ports::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::Failure;
use crate::migrate::{Migration, Schema, add_column, normalise_times, table_exists};
use crate::row::{
    all, first, int, iso, json_list, json_text, opt_parsed, opt_text, parsed, text, time,
};

macro_rules! entry_columns {
    () => {
        "id, branch_name, bead_id, agent_name, files_modified, enqueued_at, status, \
         resolved_tier, target_branch, pre_merge_commit, error_message"
    };
}

const CREATE_QUEUE: &str = "CREATE TABLE merge_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    branch_name TEXT NOT NULL,
    bead_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    files_modified TEXT NOT NULL DEFAULT '[]',
    enqueued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'merging', 'merged', 'conflict', 'failed')),
    resolved_tier TEXT CHECK (resolved_tier IS NULL
        OR resolved_tier IN ('clean-merge', 'auto-resolve', 'ai-resolve', 'reimagine')),
    target_branch TEXT,
    pre_merge_commit TEXT,
    error_message TEXT
);";

const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS idx_merge_queue_status ON merge_queue(status);
    CREATE INDEX IF NOT EXISTS idx_merge_queue_branch ON merge_queue(branch_name);
    CREATE UNIQUE INDEX IF NOT EXISTS idx_merge_queue_active_branch ON merge_queue(branch_name)
        WHERE status IN ('pending', 'merging');";

/// legio 0.1.0 allowed a branch to be queued several times. Before the one-active-entry-per-
/// branch index can exist, every active entry but one per branch (a merging one, else the
/// oldest) is marked failed, with a message saying which entry was kept. No row is deleted.
const SUPERSEDE_DUPLICATES: &str = "
    UPDATE merge_queue AS m
    SET status = 'failed',
        error_message = 'queued more than once under legio 0.1.0; entry ' || (
            SELECT k.id FROM merge_queue AS k
            WHERE k.branch_name = m.branch_name AND k.status IN ('pending', 'merging')
            ORDER BY k.status = 'merging' DESC, k.id LIMIT 1) || ' of this branch was kept'
    WHERE m.status IN ('pending', 'merging')
      AND m.id != (
            SELECT k.id FROM merge_queue AS k
            WHERE k.branch_name = m.branch_name AND k.status IN ('pending', 'merging')
            ORDER BY k.status = 'merging' DESC, k.id LIMIT 1);";

/// Version 1: legio 0.2's schema, adopting legio 0.1.0's `merge_queue`: adds the claim columns
/// (`target_branch`, `pre_merge_commit`) and `error_message`, and the one-active-entry-per-branch
/// index.
fn v1(conn: &Connection) -> rusqlite::Result<()> {
    if table_exists(conn, "merge_queue")? {
        add_column(conn, "merge_queue", "target_branch", "TEXT")?;
        add_column(conn, "merge_queue", "pre_merge_commit", "TEXT")?;
        add_column(conn, "merge_queue", "error_message", "TEXT")?;
        normalise_times(conn, "merge_queue", &["enqueued_at"])?;
        conn.execute_batch(SUPERSEDE_DUPLICATES)?;
    } else {
        conn.execute_batch(CREATE_QUEUE)?;
    }
    conn.execute_batch(INDEXES)
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "adopt legio 0.1.0's merge queue (claims, one active entry per branch)",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`MergeQueue`] on `merge-queue.db`.
    SqliteMergeQueue, SCHEMA, merge_queue_db
}

fn decode(row: &Row<'_>) -> Result<MergeEntry, Failure> {
    Ok(MergeEntry {
        id: int(row, "id")?,
        branch_name: text(row, "branch_name")?,
        bead_id: text(row, "bead_id")?,
        agent_name: text(row, "agent_name")?,
        files_modified: json_list(row, "files_modified")?,
        enqueued_at: time(row, "enqueued_at")?,
        status: parsed(row, "status")?,
        resolved_tier: opt_parsed(row, "resolved_tier")?,
        target_branch: opt_text(row, "target_branch")?,
        pre_merge_commit: opt_text(row, "pre_merge_commit")?,
        error_message: opt_text(row, "error_message")?,
    })
}

fn active_for_branch(conn: &Connection, branch: &str) -> Result<Option<MergeEntry>, Failure> {
    first(
        conn,
        concat!(
            "SELECT ",
            entry_columns!(),
            " FROM merge_queue WHERE branch_name = ?1 AND status IN ('pending', 'merging')"
        ),
        [branch],
        decode,
    )
}

/// Why a `merging`-only change did not apply to entry `id`: it does not exist, or it is not
/// merging.
fn not_merging(conn: &Connection, id: i64, doing: &str) -> Failure {
    let status: rusqlite::Result<Option<String>> = conn
        .prepare_cached("SELECT status FROM merge_queue WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional());
    match status {
        Err(e) => Failure::Sql(e),
        Ok(None) => Failure::Store(StoreError::NotFound {
            what: "merge queue entry",
            key: id.to_string(),
        }),
        Ok(Some(status)) => Failure::Store(StoreError::Conflict(format!(
            "cannot {doing} merge queue entry {id}: it is {status}, not merging"
        ))),
    }
}

impl MergeQueue for SqliteMergeQueue {
    fn enqueue(&self, entry: &NewMergeEntry) -> StoreResult<MergeEntry> {
        self.db.atomic(|conn| {
            if let Some(active) = active_for_branch(conn, &entry.branch_name)? {
                return Ok(active);
            }
            let inserted = first(
                conn,
                concat!(
                    "INSERT INTO merge_queue (branch_name, bead_id, agent_name, files_modified,
                                              enqueued_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING ",
                    entry_columns!()
                ),
                params![
                    entry.branch_name,
                    entry.bead_id,
                    entry.agent_name,
                    json_text(&entry.files_modified),
                    iso(entry.enqueued_at),
                ],
                decode,
            )?;
            inserted.ok_or_else(|| Failure::Sql(rusqlite::Error::QueryReturnedNoRows))
        })
    }

    fn claim_next(
        &self,
        branch: Option<&str>,
        target: &str,
        pre_merge_commit: &str,
    ) -> StoreResult<Option<MergeEntry>> {
        self.db.run(|conn| {
            first(
                conn,
                concat!(
                    "UPDATE merge_queue SET status = 'merging', target_branch = ?2,
                         pre_merge_commit = ?3, error_message = NULL
                     WHERE id = (SELECT id FROM merge_queue
                                 WHERE status = 'pending' AND (?1 IS NULL OR branch_name = ?1)
                                 ORDER BY id LIMIT 1)
                     RETURNING ",
                    entry_columns!()
                ),
                params![branch, target, pre_merge_commit],
                decode,
            )
        })
    }

    fn finish(
        &self,
        id: i64,
        status: MergeStatus,
        tier: Option<ResolutionTier>,
        error_message: Option<&str>,
    ) -> StoreResult<()> {
        if matches!(status, MergeStatus::Pending | MergeStatus::Merging) {
            return Err(StoreError::Invalid(format!(
                "cannot finish merge queue entry {id} as {status}; finish it as merged, conflict or failed"
            )));
        }
        self.db.atomic(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE merge_queue SET status = ?2, resolved_tier = ?3, error_message = ?4
                     WHERE id = ?1 AND status = 'merging'",
                )?
                .execute(params![
                    id,
                    status.as_str(),
                    tier.map(ResolutionTier::as_str),
                    error_message
                ])?;
            if n == 0 {
                return Err(not_merging(conn, id, "finish"));
            }
            Ok(())
        })
    }

    fn release(&self, id: i64) -> StoreResult<()> {
        self.db.atomic(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE merge_queue SET status = 'pending', target_branch = NULL,
                         pre_merge_commit = NULL
                     WHERE id = ?1 AND status = 'merging'",
                )?
                .execute([id])?;
            if n == 0 {
                return Err(not_merging(conn, id, "release"));
            }
            Ok(())
        })
    }

    fn list(&self, status: Option<MergeStatus>) -> StoreResult<Vec<MergeEntry>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM merge_queue WHERE (?1 IS NULL OR status = ?1) ORDER BY id"
                ),
                [status.map(MergeStatus::as_str)],
                decode,
            )
        })
    }

    fn active_for_branch(&self, branch: &str) -> StoreResult<Option<MergeEntry>> {
        self.db.run(|conn| active_for_branch(conn, branch))
    }
}
