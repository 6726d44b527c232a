//! `metrics.db`: per-session totals (table `sessions`) and token snapshots (table
//! `token_snapshots`).
//!
//! legio 0.1.0 keyed sessions by (agent, task) and wrote them with `INSERT OR REPLACE`, so an
//! agent re-run on the same task erased the earlier session. Here a session is identified by
//! (agent, task, start): a re-run is a new row, a later record of the same session updates it.

use legio_core::domain::merge::ResolutionTier;
use legio_core::domain::metrics::{SessionMetrics, TokenSnapshot, TokenUsage};
use legio_core::ports::StoreResult;
use legio_core::ports::store::{MetricsStore, PurgeCriteria};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::db::Failure;
use crate::migrate::{Migration, Schema, keep, normalise_times, rebuild, table_exists};
use crate::row::{
    all, count, int, iso, limit, opt_int, opt_parsed, opt_real, opt_text, opt_time, text, time,
    to_i64,
};

macro_rules! session_columns {
    () => {
        "agent_name, bead_id, capability, started_at, completed_at, duration_ms, exit_code, \
         merge_result, parent_agent, run_id, input_tokens, output_tokens, cache_read_tokens, \
         cache_creation_tokens, estimated_cost_usd, model_used"
    };
}

const CREATE_SESSIONS: &str = "CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_name TEXT NOT NULL,
    bead_id TEXT NOT NULL,
    capability TEXT NOT NULL,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    merge_result TEXT,
    parent_agent TEXT,
    run_id TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd REAL,
    model_used TEXT,
    UNIQUE (agent_name, bead_id, started_at)
);";

const CREATE_SNAPSHOTS: &str = "CREATE TABLE IF NOT EXISTS token_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_name TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd REAL,
    model_used TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);";

const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS idx_metrics_started ON sessions(started_at);
    CREATE INDEX IF NOT EXISTS idx_metrics_agent ON sessions(agent_name, started_at);
    CREATE INDEX IF NOT EXISTS idx_metrics_run ON sessions(run_id, started_at);
    CREATE INDEX IF NOT EXISTS idx_snapshots_agent_time ON token_snapshots(agent_name, created_at);
    CREATE INDEX IF NOT EXISTS idx_snapshots_time ON token_snapshots(created_at);";

/// Version 1: legio 0.2's schema, adopting legio 0.1.0's tables: `sessions` is rebuilt with a
/// surrogate key and uniqueness on (agent, task, start), taking the token columns and `run_id`
/// from the old table when it had them.
fn v1(conn: &Connection) -> rusqlite::Result<()> {
    if table_exists(conn, "sessions")? {
        rebuild(
            conn,
            "sessions",
            CREATE_SESSIONS,
            &[
                keep("agent_name"),
                keep("bead_id"),
                keep("capability"),
                keep("started_at"),
                keep("completed_at"),
                keep("duration_ms").or("0"),
                keep("exit_code"),
                keep("merge_result"),
                keep("parent_agent"),
                keep("run_id"),
                keep("input_tokens").or("0"),
                keep("output_tokens").or("0"),
                keep("cache_read_tokens").or("0"),
                keep("cache_creation_tokens").or("0"),
                keep("estimated_cost_usd"),
                keep("model_used"),
            ],
        )?;
        normalise_times(conn, "sessions", &["started_at", "completed_at"])?;
    } else {
        conn.execute_batch(CREATE_SESSIONS)?;
    }
    conn.execute_batch(CREATE_SNAPSHOTS)?;
    normalise_times(conn, "token_snapshots", &["created_at"])?;
    conn.execute_batch(INDEXES)
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "adopt legio 0.1.0's metrics (one row per agent session)",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`MetricsStore`] on `metrics.db`.
    SqliteMetricsStore, SCHEMA, metrics_db
}

fn usage(row: &Row<'_>) -> Result<TokenUsage, Failure> {
    Ok(TokenUsage {
        input_tokens: count(row, "input_tokens")?,
        output_tokens: count(row, "output_tokens")?,
        cache_read_tokens: count(row, "cache_read_tokens")?,
        cache_creation_tokens: count(row, "cache_creation_tokens")?,
    })
}

fn decode_session(row: &Row<'_>) -> Result<SessionMetrics, Failure> {
    Ok(SessionMetrics {
        agent_name: text(row, "agent_name")?,
        bead_id: text(row, "bead_id")?,
        capability: text(row, "capability")?,
        started_at: time(row, "started_at")?,
        completed_at: opt_time(row, "completed_at")?,
        duration_ms: int(row, "duration_ms")?,
        exit_code: opt_int(row, "exit_code")?,
        merge_result: opt_parsed(row, "merge_result")?,
        parent_agent: opt_text(row, "parent_agent")?,
        run_id: opt_text(row, "run_id")?,
        usage: usage(row)?,
        estimated_cost_usd: opt_real(row, "estimated_cost_usd")?,
        model_used: opt_text(row, "model_used")?,
    })
}

fn decode_snapshot(row: &Row<'_>) -> Result<TokenSnapshot, Failure> {
    Ok(TokenSnapshot {
        agent_name: text(row, "agent_name")?,
        usage: usage(row)?,
        estimated_cost_usd: opt_real(row, "estimated_cost_usd")?,
        model_used: opt_text(row, "model_used")?,
        created_at: time(row, "created_at")?,
    })
}

/// Deletes the rows of `table` matching `criteria`, whose age is read from `time_column`.
fn purge_table(
    conn: &Connection,
    table: &str,
    time_column: &str,
    criteria: &PurgeCriteria,
) -> Result<u64, Failure> {
    let mut terms = Vec::new();
    let mut values = Vec::new();
    if !criteria.all {
        if let Some(t) = criteria.older_than {
            terms.push(format!("{time_column} < ?"));
            values.push(Value::Text(iso(t)));
        }
        if let Some(agent) = &criteria.agent {
            terms.push("agent_name = ?".to_owned());
            values.push(Value::Text(agent.clone()));
        }
    }
    let sql = if terms.is_empty() {
        format!("DELETE FROM {table}")
    } else {
        format!("DELETE FROM {table} WHERE {}", terms.join(" AND "))
    };
    Ok(conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(values))? as u64)
}

impl MetricsStore for SqliteMetricsStore {
    fn record_session(&self, m: &SessionMetrics) -> StoreResult<()> {
        self.db.run(|conn| {
            conn.prepare_cached(concat!(
                "INSERT INTO sessions (",
                session_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (agent_name, bead_id, started_at) DO UPDATE SET
                     capability = excluded.capability, completed_at = excluded.completed_at,
                     duration_ms = excluded.duration_ms, exit_code = excluded.exit_code,
                     merge_result = excluded.merge_result, parent_agent = excluded.parent_agent,
                     run_id = excluded.run_id, input_tokens = excluded.input_tokens,
                     output_tokens = excluded.output_tokens,
                     cache_read_tokens = excluded.cache_read_tokens,
                     cache_creation_tokens = excluded.cache_creation_tokens,
                     estimated_cost_usd = excluded.estimated_cost_usd,
                     model_used = excluded.model_used"
            ))?
            .execute(params![
                m.agent_name,
                m.bead_id,
                m.capability,
                iso(m.started_at),
                m.completed_at.map(iso),
                m.duration_ms,
                m.exit_code,
                m.merge_result.map(ResolutionTier::as_str),
                m.parent_agent,
                m.run_id,
                to_i64(m.usage.input_tokens),
                to_i64(m.usage.output_tokens),
                to_i64(m.usage.cache_read_tokens),
                to_i64(m.usage.cache_creation_tokens),
                m.estimated_cost_usd,
                m.model_used,
            ])?;
            Ok(())
        })
    }

    fn recent_sessions(&self, max: u32) -> StoreResult<Vec<SessionMetrics>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions ORDER BY started_at DESC, id DESC LIMIT ?1"
                ),
                [limit(Some(max))],
                decode_session,
            )
        })
    }

    fn sessions_by_agent(&self, agent: &str) -> StoreResult<Vec<SessionMetrics>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE agent_name = ?1 ORDER BY started_at DESC, id DESC"
                ),
                [agent],
                decode_session,
            )
        })
    }

    fn sessions_by_run(&self, run_id: &str) -> StoreResult<Vec<SessionMetrics>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE run_id = ?1 ORDER BY started_at DESC, id DESC"
                ),
                [run_id],
                decode_session,
            )
        })
    }

    fn record_snapshot(&self, s: &TokenSnapshot) -> StoreResult<()> {
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO token_snapshots (agent_name, input_tokens, output_tokens,
                     cache_read_tokens, cache_creation_tokens, estimated_cost_usd, model_used,
                     created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                s.agent_name,
                to_i64(s.usage.input_tokens),
                to_i64(s.usage.output_tokens),
                to_i64(s.usage.cache_read_tokens),
                to_i64(s.usage.cache_creation_tokens),
                s.estimated_cost_usd,
                s.model_used,
                iso(s.created_at),
            ])?;
            Ok(())
        })
    }

    fn latest_snapshots(&self) -> StoreResult<Vec<TokenSnapshot>> {
        self.db.run(|conn| {
            all(
                conn,
                "SELECT agent_name, input_tokens, output_tokens, cache_read_tokens,
                        cache_creation_tokens, estimated_cost_usd, model_used, created_at
                 FROM (SELECT *, row_number() OVER (
                           PARTITION BY agent_name ORDER BY created_at DESC, id DESC) AS newest
                       FROM token_snapshots)
                 WHERE newest = 1
                 ORDER BY agent_name",
                [],
                decode_snapshot,
            )
        })
    }

    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64> {
        if !criteria.all && criteria.older_than.is_none() && criteria.agent.is_none() {
            return Ok(0);
        }
        self.db.atomic(|conn| {
            let sessions = purge_table(conn, "sessions", "started_at", criteria)?;
            let snapshots = purge_table(conn, "token_snapshots", "created_at", criteria)?;
            Ok(sessions + snapshots)
        })
    }
}
