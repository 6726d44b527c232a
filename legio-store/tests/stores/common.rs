//! Builders shared by the store tests. Every test works on real database files in its own
//! temporary directory.

use legio_core::domain::agent::{AgentSession, AgentState, Capability};
use legio_core::names::AgentName;
use legio_core::time::Timestamp;
use tempfile::TempDir;

/// 2026-01-31T12:00:00.000Z.
pub const T0: i64 = 1_769_860_800_000;

/// `T0 + ms`.
pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + ms)
}

pub fn tmp() -> TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

pub fn name(s: &str) -> AgentName {
    AgentName::new(s).expect("a valid agent name")
}

/// A builder agent named `agent` started at `at(started)`.
pub fn agent(agent: &str, started: i64) -> AgentSession {
    AgentSession {
        id: format!("session-{}-{agent}", T0 + started),
        agent_name: name(agent),
        capability: Capability::Builder,
        worktree_path: format!("/p/.legio/worktrees/{agent}"),
        branch_name: format!("legio/{agent}/t-1"),
        bead_id: "t-1".into(),
        tmux_session: format!("legio-p-{agent}"),
        state: AgentState::Booting,
        pid: None,
        parent_agent: None,
        depth: 0,
        run_id: None,
        started_at: at(started),
        last_activity: at(started),
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "claude".into(),
        file_scope: Vec::new(),
        spec_path: None,
    }
}

/// Runs SQL directly on a database file, as another program (or legio 0.1.0) would.
pub fn raw(path: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("open the file directly");
    conn.execute_batch(sql).expect("raw SQL runs");
}

/// One value read directly from a database file.
pub fn raw_value<T: rusqlite::types::FromSql>(path: &std::path::Path, sql: &str) -> T {
    let conn = rusqlite::Connection::open(path).expect("open the file directly");
    conn.query_row(sql, [], |r| r.get(0))
        .expect("raw query returns a row")
}
