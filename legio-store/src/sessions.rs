//! `sessions.db`: agents (table `sessions`) and runs (table `runs`).
//!
//! Registration checks the admission limits and inserts in one immediate transaction, so
//! concurrent `legio sling` processes can never exceed a limit; state changes are
//! compare-and-swap `UPDATE`s.

use legio_core::domain::agent::{AgentSession, AgentState, Capability, Run, RunStatus};
use legio_core::names::AgentName;
use legio_core::ports::store::{Admission, AdmissionDenied, AdmissionLimits, SessionStore};
use legio_core::ports::{StoreError, StoreResult};
use legio_core::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::Failure;
use crate::migrate::{Migration, Schema, keep, normalise_times, rebuild, table_exists};
use crate::row::{
    all, count, first, iso, json_list, json_text, limit, opt_count, opt_parsed, opt_text, opt_time,
    parsed, text, time,
};

/// The SQL predicate for agents that occupy a slot ([`AgentState::is_active`]).
macro_rules! active {
    () => {
        "state IN ('booting', 'working', 'idle')"
    };
}

macro_rules! session_columns {
    () => {
        "id, agent_name, capability, worktree_path, branch_name, bead_id, tmux_session, state, \
         pid, parent_agent, depth, run_id, started_at, last_activity, escalation_level, \
         stalled_since, terminal_log_path, runtime, file_scope, spec_path"
    };
}

const CREATE_SESSIONS: &str = "CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    agent_name TEXT NOT NULL UNIQUE,
    capability TEXT NOT NULL,
    worktree_path TEXT NOT NULL,
    branch_name TEXT NOT NULL,
    bead_id TEXT NOT NULL,
    tmux_session TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'booting'
        CHECK (state IN ('booting', 'working', 'idle', 'completed', 'zombie')),
    pid INTEGER,
    parent_agent TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    run_id TEXT,
    started_at TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    stalled_since TEXT,
    terminal_log_path TEXT,
    runtime TEXT NOT NULL DEFAULT 'claude',
    file_scope TEXT NOT NULL DEFAULT '[]',
    spec_path TEXT
);";

const SESSION_INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS idx_sessions_state ON sessions(state);
    CREATE INDEX IF NOT EXISTS idx_sessions_run ON sessions(run_id);
    CREATE INDEX IF NOT EXISTS idx_sessions_parent ON sessions(parent_agent);";

const CREATE_RUNS: &str = "
    CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        completed_at TEXT,
        agent_count INTEGER NOT NULL DEFAULT 0,
        coordinator_session_id TEXT,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'failed'))
    );
    CREATE INDEX IF NOT EXISTS idx_runs_status ON runs(status);";

/// Version 1: legio 0.2's schema, adopting legio 0.1.0's tables. The `state` CHECK gains `idle`
/// (a rebuild: SQLite cannot alter a CHECK) and sessions gain `runtime`, `file_scope` and
/// `spec_path`.
fn v1(conn: &Connection) -> rusqlite::Result<()> {
    if table_exists(conn, "sessions")? {
        rebuild(
            conn,
            "sessions",
            CREATE_SESSIONS,
            &[
                keep("id"),
                keep("agent_name"),
                keep("capability"),
                keep("worktree_path"),
                keep("branch_name"),
                keep("bead_id"),
                keep("tmux_session"),
                keep("state"),
                keep("pid"),
                keep("parent_agent"),
                keep("depth").or("0"),
                keep("run_id"),
                keep("started_at"),
                keep("last_activity"),
                keep("escalation_level").or("0"),
                keep("stalled_since"),
                keep("terminal_log_path"),
            ],
        )?;
        normalise_times(
            conn,
            "sessions",
            &["started_at", "last_activity", "stalled_since"],
        )?;
    } else {
        conn.execute_batch(CREATE_SESSIONS)?;
    }
    conn.execute_batch(SESSION_INDEXES)?;
    conn.execute_batch(CREATE_RUNS)?;
    normalise_times(conn, "runs", &["started_at", "completed_at"])
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "adopt legio 0.1.0's sessions and runs (state idle, runtime, file scope, spec)",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`SessionStore`] on `sessions.db`.
    SqliteSessionStore, SCHEMA, sessions_db
}

fn decode_session(row: &Row<'_>) -> Result<AgentSession, Failure> {
    Ok(AgentSession {
        id: text(row, "id")?,
        agent_name: parsed(row, "agent_name")?,
        capability: parsed(row, "capability")?,
        worktree_path: text(row, "worktree_path")?,
        branch_name: text(row, "branch_name")?,
        bead_id: text(row, "bead_id")?,
        tmux_session: text(row, "tmux_session")?,
        state: parsed(row, "state")?,
        pid: opt_count(row, "pid")?,
        parent_agent: opt_parsed(row, "parent_agent")?,
        depth: count(row, "depth")?,
        run_id: opt_text(row, "run_id")?,
        started_at: time(row, "started_at")?,
        last_activity: time(row, "last_activity")?,
        escalation_level: count(row, "escalation_level")?,
        stalled_since: opt_time(row, "stalled_since")?,
        terminal_log_path: opt_text(row, "terminal_log_path")?,
        runtime: text(row, "runtime")?,
        file_scope: json_list(row, "file_scope")?,
        spec_path: opt_text(row, "spec_path")?,
    })
}

fn decode_run(row: &Row<'_>) -> Result<Run, Failure> {
    Ok(Run {
        id: text(row, "id")?,
        started_at: time(row, "started_at")?,
        completed_at: opt_time(row, "completed_at")?,
        agent_count: count(row, "agent_count")?,
        coordinator_session_id: opt_text(row, "coordinator_session_id")?,
        status: parsed(row, "status")?,
    })
}

/// Inserts `s` with the given state, or (`upsert`) replaces the row of its agent name.
fn write_session(
    conn: &Connection,
    s: &AgentSession,
    state: AgentState,
    upsert: bool,
) -> Result<(), Failure> {
    let sql = if upsert {
        concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20)
             ON CONFLICT (agent_name) DO UPDATE SET id = excluded.id,
                 capability = excluded.capability, worktree_path = excluded.worktree_path,
                 branch_name = excluded.branch_name, bead_id = excluded.bead_id,
                 tmux_session = excluded.tmux_session, state = excluded.state, pid = excluded.pid,
                 parent_agent = excluded.parent_agent, depth = excluded.depth,
                 run_id = excluded.run_id, started_at = excluded.started_at,
                 last_activity = excluded.last_activity,
                 escalation_level = excluded.escalation_level,
                 stalled_since = excluded.stalled_since,
                 terminal_log_path = excluded.terminal_log_path, runtime = excluded.runtime,
                 file_scope = excluded.file_scope, spec_path = excluded.spec_path"
        )
    } else {
        concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20)"
        )
    };
    let written = conn.prepare_cached(sql)?.execute(params![
        s.id,
        s.agent_name.as_str(),
        s.capability.as_str(),
        s.worktree_path,
        s.branch_name,
        s.bead_id,
        s.tmux_session,
        state.as_str(),
        s.pid,
        s.parent_agent.as_ref().map(AgentName::as_str),
        s.depth,
        s.run_id,
        iso(s.started_at),
        iso(s.last_activity),
        s.escalation_level,
        s.stalled_since.map(iso),
        s.terminal_log_path,
        s.runtime,
        json_text(&s.file_scope),
        s.spec_path,
    ]);
    match written {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "session id \"{}\" already belongs to another agent; sessions need unique ids",
            s.id
        ))
        .into()),
        other => other.map(drop).map_err(Failure::from),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error().is_some_and(|err| {
        err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    })
}

/// The admission checks of [`SessionStore::register`], run under the write lock.
fn admission(
    conn: &Connection,
    s: &AgentSession,
    limits: &AdmissionLimits,
) -> Result<Option<AdmissionDenied>, Failure> {
    let existing: Option<String> = conn
        .prepare_cached("SELECT state FROM sessions WHERE agent_name = ?1")?
        .query_row([s.agent_name.as_str()], |r| r.get(0))
        .optional()?;
    if let Some(state) = existing {
        let state: AgentState = state.parse().map_err(|_| Failure::BadValue {
            column: "state".into(),
            value: state,
        })?;
        if state.is_active() {
            return Ok(Some(AdmissionDenied::NameInUse {
                name: s.agent_name.to_string(),
                state,
            }));
        }
    }
    if s.depth > limits.max_depth {
        return Ok(Some(AdmissionDenied::MaxDepth {
            depth: s.depth,
            max: limits.max_depth,
        }));
    }
    let active: u32 = conn
        .prepare_cached(concat!("SELECT count(*) FROM sessions WHERE ", active!()))?
        .query_row([], |r| r.get(0))?;
    if active >= limits.max_concurrent {
        return Ok(Some(AdmissionDenied::MaxConcurrent {
            active,
            max: limits.max_concurrent,
        }));
    }
    if let Some(parent) = &s.parent_agent {
        let children: u32 = conn
            .prepare_cached(concat!(
                "SELECT count(*) FROM sessions WHERE parent_agent = ?1 AND ",
                active!()
            ))?
            .query_row([parent.as_str()], |r| r.get(0))?;
        if children >= limits.max_agents_per_lead {
            return Ok(Some(AdmissionDenied::MaxPerLead {
                parent: parent.to_string(),
                active: children,
                max: limits.max_agents_per_lead,
            }));
        }
    }
    if s.capability == Capability::Lead && !s.bead_id.is_empty() {
        let lead: Option<String> = conn
            .prepare_cached(concat!(
                "SELECT agent_name FROM sessions WHERE capability = 'lead' AND bead_id = ?1 AND ",
                active!(),
                " ORDER BY started_at, rowid LIMIT 1"
            ))?
            .query_row([&s.bead_id], |r| r.get(0))
            .optional()?;
        if let Some(existing) = lead {
            return Ok(Some(AdmissionDenied::DuplicateLead {
                existing,
                task: s.bead_id.clone(),
            }));
        }
    }
    Ok(None)
}

fn not_found_agent(agent: &AgentName) -> Failure {
    Failure::Store(StoreError::NotFound {
        what: "agent",
        key: agent.to_string(),
    })
}

fn not_found_run(id: &str) -> Failure {
    Failure::Store(StoreError::NotFound {
        what: "run",
        key: id.to_owned(),
    })
}

impl SessionStore for SqliteSessionStore {
    fn register(&self, session: &AgentSession, limits: &AdmissionLimits) -> StoreResult<Admission> {
        self.db.atomic(|conn| {
            if let Some(denied) = admission(conn, session, limits)? {
                return Ok(Admission::Denied(denied));
            }
            conn.prepare_cached("DELETE FROM sessions WHERE agent_name = ?1")?
                .execute([session.agent_name.as_str()])?;
            write_session(conn, session, AgentState::Booting, false)?;
            Ok(Admission::Admitted)
        })
    }

    fn upsert(&self, session: &AgentSession) -> StoreResult<()> {
        self.db
            .run(|conn| write_session(conn, session, session.state, true))
    }

    fn remove(&self, agent: &AgentName) -> StoreResult<bool> {
        self.db.run(|conn| {
            let n = conn
                .prepare_cached("DELETE FROM sessions WHERE agent_name = ?1")?
                .execute([agent.as_str()])?;
            Ok(n > 0)
        })
    }

    fn get(&self, agent: &AgentName) -> StoreResult<Option<AgentSession>> {
        self.db.run(|conn| {
            first(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE agent_name = ?1"
                ),
                [agent.as_str()],
                decode_session,
            )
        })
    }

    fn list(&self) -> StoreResult<Vec<AgentSession>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions ORDER BY started_at, rowid"
                ),
                [],
                decode_session,
            )
        })
    }

    fn list_active(&self) -> StoreResult<Vec<AgentSession>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE ",
                    active!(),
                    " ORDER BY started_at, rowid"
                ),
                [],
                decode_session,
            )
        })
    }

    fn transition(
        &self,
        agent: &AgentName,
        from: &[AgentState],
        to: AgentState,
    ) -> StoreResult<bool> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        self.db.run(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE sessions SET state = ?3
                     WHERE agent_name = ?1 AND state IN (SELECT value FROM json_each(?2))",
                )?
                .execute(params![agent.as_str(), json_text(&from), to.as_str()])?;
            Ok(n > 0)
        })
    }

    fn record_activity(&self, agent: &AgentName, at: Timestamp) -> StoreResult<Option<AgentState>> {
        self.db.run(|conn| {
            let state: Option<String> = conn
                .prepare_cached(
                    "UPDATE sessions SET
                         last_activity = max(last_activity, ?2),
                         escalation_level = 0,
                         stalled_since = NULL,
                         state = CASE WHEN state IN ('booting', 'idle') THEN 'working' ELSE state END
                     WHERE agent_name = ?1
                     RETURNING state",
                )?
                .query_row(params![agent.as_str(), iso(at)], |r| r.get(0))
                .optional()?;
            state
                .map(|s| {
                    s.parse().map_err(|_| Failure::BadValue {
                        column: "state".into(),
                        value: s,
                    })
                })
                .transpose()
        })
    }

    fn set_escalation(
        &self,
        agent: &AgentName,
        level: u32,
        stalled_since: Option<Timestamp>,
    ) -> StoreResult<()> {
        self.db.run(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE sessions SET escalation_level = ?2, stalled_since = ?3
                     WHERE agent_name = ?1",
                )?
                .execute(params![agent.as_str(), level, stalled_since.map(iso)])?;
            if n == 0 {
                return Err(not_found_agent(agent));
            }
            Ok(())
        })
    }

    fn set_pid(&self, agent: &AgentName, pid: Option<u32>) -> StoreResult<()> {
        self.db.run(|conn| {
            let n = conn
                .prepare_cached("UPDATE sessions SET pid = ?2 WHERE agent_name = ?1")?
                .execute(params![agent.as_str(), pid])?;
            if n == 0 {
                return Err(not_found_agent(agent));
            }
            Ok(())
        })
    }

    fn create_run(&self, run: &Run) -> StoreResult<()> {
        self.db.run(|conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO runs (id, started_at, completed_at, agent_count,
                                       coordinator_session_id, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    run.id,
                    iso(run.started_at),
                    run.completed_at.map(iso),
                    run.agent_count,
                    run.coordinator_session_id,
                    run.status.as_str(),
                ]);
            match inserted {
                Err(e) if is_unique_violation(&e) => Err(Failure::Store(StoreError::Conflict(
                    format!("run \"{}\" already exists", run.id),
                ))),
                other => other.map(drop).map_err(Failure::from),
            }
        })
    }

    fn get_run(&self, id: &str) -> StoreResult<Option<Run>> {
        self.db.run(|conn| {
            first(
                conn,
                "SELECT id, started_at, completed_at, agent_count, coordinator_session_id, status
                 FROM runs WHERE id = ?1",
                [id],
                decode_run,
            )
        })
    }

    fn list_runs(&self, status: Option<RunStatus>, max: Option<u32>) -> StoreResult<Vec<Run>> {
        self.db.run(|conn| {
            all(
                conn,
                "SELECT id, started_at, completed_at, agent_count, coordinator_session_id, status
                 FROM runs WHERE (?1 IS NULL OR status = ?1)
                 ORDER BY started_at DESC, rowid DESC LIMIT ?2",
                params![status.map(RunStatus::as_str), limit(max)],
                decode_run,
            )
        })
    }

    fn increment_run_agents(&self, id: &str) -> StoreResult<()> {
        self.db.run(|conn| {
            let n = conn
                .prepare_cached("UPDATE runs SET agent_count = agent_count + 1 WHERE id = ?1")?
                .execute([id])?;
            if n == 0 {
                return Err(not_found_run(id));
            }
            Ok(())
        })
    }

    fn finish_run(&self, id: &str, status: RunStatus, at: Timestamp) -> StoreResult<bool> {
        if status == RunStatus::Active {
            return Err(StoreError::Invalid(format!(
                "cannot finish run \"{id}\" as active; finish it as completed or failed"
            )));
        }
        self.db.atomic(|conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE runs SET status = ?2, completed_at = ?3
                     WHERE id = ?1 AND status = 'active'",
                )?
                .execute(params![id, status.as_str(), iso(at)])?;
            if n > 0 {
                return Ok(true);
            }
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)")?
                .query_row([id], |r| r.get(0))?;
            if exists {
                Ok(false)
            } else {
                Err(not_found_run(id))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_active_predicate_matches_the_domain() {
        let conn = Connection::open_in_memory().unwrap();
        for s in AgentState::ALL {
            let sql = concat!("SELECT ", active!(), " FROM (SELECT ?1 AS state)");
            let active: bool = conn.query_row(sql, [s.as_str()], |r| r.get(0)).unwrap();
            assert_eq!(active, s.is_active(), "{s}");
        }
    }
}
