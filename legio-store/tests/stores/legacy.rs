//! Databases written by legio 0.1.0 (`user_version` 0, its exact DDL) are adopted with every
//! row kept.

use std::path::Path;

use legio_core::domain::agent::{AgentState, RunStatus};
use legio_core::domain::event::{EventType, NewEvent};
use legio_core::domain::mail::{Audience, MailType, NewMail, Priority};
use legio_core::domain::merge::{MergeStatus, NewMergeEntry};
use legio_core::domain::metrics::SessionMetrics;
use legio_core::ports::store::{
    EventQuery, EventStore, MailFilter, MailStore, MergeQueue, MetricsStore, SessionStore,
};
use legio_core::time::Timestamp;
use legio_store::{
    SqliteEventStore, SqliteMailStore, SqliteMergeQueue, SqliteMetricsStore, SqliteSessionStore,
};

use crate::common::{at, name, raw, raw_value, tmp};

const SESSIONS_DDL: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS sessions (
      id TEXT PRIMARY KEY,
      agent_name TEXT NOT NULL UNIQUE,
      capability TEXT NOT NULL,
      worktree_path TEXT NOT NULL,
      branch_name TEXT NOT NULL,
      bead_id TEXT NOT NULL,
      tmux_session TEXT NOT NULL,
      state TEXT NOT NULL DEFAULT 'booting'
        CHECK(state IN ('booting','working','completed','zombie')),
      pid INTEGER,
      parent_agent TEXT,
      depth INTEGER NOT NULL DEFAULT 0,
      run_id TEXT,
      started_at TEXT NOT NULL,
      last_activity TEXT NOT NULL,
      escalation_level INTEGER NOT NULL DEFAULT 0,
      stalled_since TEXT
    );
    CREATE INDEX IF NOT EXISTS idx_sessions_state ON sessions(state);
    CREATE INDEX IF NOT EXISTS idx_sessions_run ON sessions(run_id);
    CREATE TABLE IF NOT EXISTS runs (
      id TEXT PRIMARY KEY,
      started_at TEXT NOT NULL,
      completed_at TEXT,
      agent_count INTEGER NOT NULL DEFAULT 0,
      coordinator_session_id TEXT,
      status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('active','completed','failed'))
    );
    CREATE INDEX IF NOT EXISTS idx_runs_status ON runs(status);";

const SESSION_ROWS: &str = "
    INSERT INTO sessions (id, agent_name, capability, worktree_path, branch_name, bead_id,
        tmux_session, state, pid, parent_agent, depth, run_id, started_at, last_activity,
        escalation_level, stalled_since)
    VALUES
      ('session-1-lead-1', 'lead-1', 'lead', '/p/.legio/worktrees/lead-1', 'legio/lead-1/t-1',
       't-1', 'legio-p-lead-1', 'working', 100, NULL, 0, 'run-2026-01-31T12-00-00-000Z',
       '2026-01-31T12:00:00.000Z', '2026-01-31T12:05:00.000Z', 0, NULL),
      ('session-2-b1', 'b1', 'builder', '/p/.legio/worktrees/b1', 'legio/b1/t-2', 't-2',
       'legio-p-b1', 'booting', NULL, 'lead-1', 1, 'run-2026-01-31T12-00-00-000Z',
       '2026-01-31T12:01:00.000Z', '2026-01-31T12:01:00.000Z', 2, '2026-01-31T12:03:00.000Z'),
      ('session-3-b2', 'b2', 'builder', '/p/.legio/worktrees/b2', 'legio/b2/t-3', '',
       'legio-p-b2', 'completed', 300, 'lead-1', 1, NULL,
       '2026-01-31T12:02:00.000Z', '2026-01-31T12:04:00.000Z', 0, NULL),
      ('session-4-s1', 's1', 'scout', '/p/with space/s1', 'legio/s1/t-4', 't-4',
       'legio-p-s1', 'zombie', 400, NULL, 0, NULL,
       '2026-01-31T12:03:00.000Z', '2026-01-31T12:03:30.000Z', 4, '2026-01-31T12:03:10.000Z');
    INSERT INTO runs VALUES
      ('run-2026-01-31T12-00-00-000Z', '2026-01-31T12:00:00.000Z', NULL, 2, NULL, 'active'),
      ('run-old', '2026-01-30T09:00:00.000Z', '2026-01-30T10:00:00.000Z', 5, 'sess-c', 'completed');";

fn user_version(path: &Path) -> i64 {
    raw_value(path, "PRAGMA user_version")
}

#[test]
fn sessions_db_keeps_every_agent_and_run_and_learns_idle() {
    for with_log_column in [false, true] {
        let dir = tmp();
        let path = dir.path().join("sessions.db");
        raw(&path, SESSIONS_DDL);
        if with_log_column {
            raw(
                &path,
                "ALTER TABLE sessions ADD COLUMN terminal_log_path TEXT;",
            );
        }
        raw(&path, SESSION_ROWS);
        if with_log_column {
            raw(
                &path,
                "UPDATE sessions SET terminal_log_path = '/p/.legio/logs/b1/terminal.log' WHERE agent_name = 'b1'",
            );
        }

        let s = SqliteSessionStore::open(&path).unwrap();
        assert_eq!(user_version(&path), 1);
        let all = s.list().unwrap();
        let summary: Vec<_> = all
            .iter()
            .map(|a| (a.agent_name.as_str(), a.state))
            .collect();
        assert_eq!(
            summary,
            [
                ("lead-1", AgentState::Working),
                ("b1", AgentState::Booting),
                ("b2", AgentState::Completed),
                ("s1", AgentState::Zombie)
            ]
        );
        let b1 = s.get(&name("b1")).unwrap().unwrap();
        assert_eq!(b1.parent_agent, Some(name("lead-1")));
        assert_eq!((b1.depth, b1.escalation_level), (1, 2));
        assert_eq!(
            b1.stalled_since,
            Some(Timestamp::parse("2026-01-31T12:03:00Z").unwrap())
        );
        assert_eq!(
            (
                b1.runtime.as_str(),
                b1.file_scope.len(),
                b1.spec_path.as_ref()
            ),
            ("claude", 0, None)
        );
        assert_eq!(
            b1.terminal_log_path.as_deref(),
            with_log_column.then_some("/p/.legio/logs/b1/terminal.log")
        );
        assert_eq!(s.get(&name("b2")).unwrap().unwrap().bead_id, "");
        assert_eq!(
            s.get(&name("s1")).unwrap().unwrap().worktree_path,
            "/p/with space/s1"
        );

        // The rebuilt CHECK accepts idle.
        assert!(
            s.transition(&name("lead-1"), &[AgentState::Working], AgentState::Idle)
                .unwrap()
        );
        assert_eq!(
            s.get(&name("lead-1")).unwrap().unwrap().state,
            AgentState::Idle
        );

        let runs = s.list_runs(None, None).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].agent_count, runs[0].status),
            (2, RunStatus::Active)
        );
        assert_eq!(
            (runs[1].coordinator_session_id.as_deref(), runs[1].status),
            (Some("sess-c"), RunStatus::Completed)
        );

        // Opening again changes nothing.
        let schema: i64 = raw_value(&path, "PRAGMA schema_version");
        drop(SqliteSessionStore::open(&path).unwrap());
        assert_eq!(raw_value::<i64>(&path, "PRAGMA schema_version"), schema);
    }
}

const MAIL_CHECKED: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS messages (
      id TEXT PRIMARY KEY,
      from_agent TEXT NOT NULL,
      to_agent TEXT NOT NULL,
      subject TEXT NOT NULL,
      body TEXT NOT NULL,
      type TEXT NOT NULL DEFAULT 'status' CHECK(type IN ('status','question','result','error',
        'worker_done','merge_ready','merged','merge_failed','escalation','health_check',
        'dispatch','assign')),
      audience TEXT NOT NULL DEFAULT 'agent' CHECK(audience IN ('human','agent','both')),
      priority TEXT NOT NULL DEFAULT 'normal' CHECK(priority IN ('low','normal','high','urgent')),
      thread_id TEXT,
      payload TEXT,
      read INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE INDEX IF NOT EXISTS idx_inbox ON messages(to_agent, read);
    CREATE INDEX IF NOT EXISTS idx_thread ON messages(thread_id);
    INSERT INTO messages VALUES
      ('msg-aaaaaaaaaaaa', 'lead-1', 'b1', 'dispatch: t-2', 'go', 'dispatch', 'agent', 'normal',
       NULL, '{\"taskId\":\"t-2\"}', 1, '2026-01-31T12:00:00.000Z'),
      ('msg-bbbbbbbbbbbb', 'b1', 'lead-1', 'question', 'which file?', 'question', 'both', 'high',
       NULL, NULL, 0, '2026-01-31T12:01:00.000Z'),
      ('msg-cccccccccccc', 'lead-1', 'b1', 'Re: question', 'a.rs', 'question', 'both', 'high',
       'msg-bbbbbbbbbbbb', NULL, 0, '2026-01-31T12:02:00.000Z');";

/// The oldest `messages` shape: no CHECKs, no payload, no audience, `datetime('now')` times.
const MAIL_ANCIENT: &str = "
    CREATE TABLE messages (
      id TEXT PRIMARY KEY,
      from_agent TEXT NOT NULL,
      to_agent TEXT NOT NULL,
      subject TEXT NOT NULL,
      body TEXT NOT NULL,
      type TEXT NOT NULL DEFAULT 'status',
      priority TEXT NOT NULL DEFAULT 'normal',
      thread_id TEXT,
      read INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE INDEX idx_inbox ON messages(to_agent, read);
    INSERT INTO messages VALUES
      ('m1', 'a', 'b', 'old', 'x', 'status', 'normal', NULL, 0, '2026-01-30 09:00:00'),
      ('m2', 'a', 'b', 'odd', 'y', 'chat', 'critical', NULL, 1, '2026-01-30 10:00:00');";

#[test]
fn mail_db_of_any_vintage_keeps_its_messages_and_accepts_worker_died() {
    let dir = tmp();
    let path = dir.path().join("mail.db");
    raw(&path, MAIL_CHECKED);
    let s = SqliteMailStore::open(&path).unwrap();
    let all = s.list(&MailFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    let dispatch = s.get("msg-aaaaaaaaaaaa").unwrap().unwrap();
    assert_eq!(
        (
            dispatch.mail_type,
            dispatch.read,
            dispatch.payload.as_deref()
        ),
        (MailType::Dispatch, true, Some(r#"{"taskId":"t-2"}"#))
    );
    assert_eq!(s.thread("msg-bbbbbbbbbbbb").unwrap().len(), 2);
    let unread = s.claim_unread("lead-1", Some(Audience::Both)).unwrap();
    assert_eq!((unread.len(), unread[0].priority), (1, Priority::High));
    let died = NewMail::new("watchdog", "lead-1", MailType::WorkerDied, "b1 died", "");
    s.send(&died, at(0)).unwrap();
    assert_eq!(user_version(&path), 1);

    let dir = tmp();
    let path = dir.path().join("mail.db");
    raw(&path, MAIL_ANCIENT);
    let s = SqliteMailStore::open(&path).unwrap();
    let m1 = s.get("m1").unwrap().unwrap();
    assert_eq!(
        (m1.audience, m1.payload, m1.read),
        (Audience::Agent, None, false)
    );
    assert_eq!(
        m1.created_at,
        Timestamp::parse("2026-01-30T09:00:00Z").unwrap()
    );
    let m2 = s.get("m2").unwrap().unwrap();
    assert_eq!(
        (m2.mail_type, m2.priority, m2.read),
        (MailType::Status, Priority::Normal, true)
    );
    assert_eq!(
        raw_value::<String>(&path, "SELECT created_at FROM messages WHERE id = 'm2'"),
        "2026-01-30T10:00:00.000Z",
        "stored times are rewritten to the one sortable form"
    );
}

const EVENTS_DDL: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      run_id TEXT,
      agent_name TEXT NOT NULL,
      session_id TEXT,
      event_type TEXT NOT NULL,
      tool_name TEXT,
      tool_args TEXT,
      tool_duration_ms INTEGER,
      level TEXT NOT NULL DEFAULT 'info' CHECK(level IN ('debug','info','warn','error')),
      data TEXT,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f','now'))
    );
    CREATE INDEX IF NOT EXISTS idx_events_agent_time ON events(agent_name, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_run_time ON events(run_id, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_type_time ON events(event_type, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_tool_agent ON events(tool_name, agent_name);
    CREATE INDEX IF NOT EXISTS idx_events_level_error ON events(level) WHERE level = 'error';
    INSERT INTO events (agent_name, session_id, event_type, tool_name, tool_args, level, data,
                        created_at)
    VALUES
      ('b1', 's', 'tool_start', 'Bash', '{\"command\":\"ls\"}', 'info', '{\"summary\":\"bash: ls\"}',
       '2026-01-31T12:00:00.000'),
      ('b1', 's', 'tool_end', 'Bash', '{\"command\":\"ls\"}', 'info', NULL, '2026-01-31T12:00:01.500'),
      ('b1', 's', 'error', NULL, NULL, 'error', '{\"message\":\"boom\"}', '2026-01-31T12:00:02.000'),
      ('watchdog', NULL, 'custom', NULL, NULL, 'info', '{\"type\":\"nudge\"}', '2026-01-31T12:00:03.000');";

#[test]
fn events_db_keeps_rows_reads_zone_less_times_as_utc_and_pairs_by_id_afterwards() {
    let dir = tmp();
    let path = dir.path().join("events.db");
    raw(&path, EVENTS_DDL);
    let s = SqliteEventStore::open(&path).unwrap();
    let all = s.query(&EventQuery::default()).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all[3].created_at,
        Timestamp::parse("2026-01-31T12:00:00Z").unwrap()
    );
    // A row at exactly the `since` millisecond is included (0.1.0 lost it to string order).
    let since = Timestamp::parse("2026-01-31T12:00:02.000Z").unwrap();
    let recent = s
        .query(&EventQuery {
            since: Some(since),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(recent.len(), 2);
    let errors = s
        .query(&EventQuery {
            level: Some(legio_core::domain::event::EventLevel::Error),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(errors[0].data.as_deref(), Some(r#"{"message":"boom"}"#));

    // The legacy start (no tool_use_id) pairs by tool name, with the duration computed in UTC.
    let end = Timestamp::parse("2026-01-31T12:00:01.500Z").unwrap();
    assert_eq!(
        s.finish_tool("b1", None, "Bash", end).unwrap(),
        Some((all[3].id, 1500))
    );
    let mut start = NewEvent::new("b1", EventType::ToolStart, end);
    start.tool_name = Some("Read".into());
    start.tool_use_id = Some("toolu_1".into());
    let id = s.insert(&start).unwrap();
    assert_eq!(
        s.finish_tool("b1", Some("toolu_1"), "Read", end.plus_millis(7))
            .unwrap(),
        Some((id, 7))
    );
    assert_eq!(user_version(&path), 1);
}

const METRICS_DDL: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS sessions (
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
      PRIMARY KEY (agent_name, bead_id)
    );
    CREATE TABLE IF NOT EXISTS token_snapshots (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      agent_name TEXT NOT NULL,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      cache_read_tokens INTEGER NOT NULL DEFAULT 0,
      cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
      estimated_cost_usd REAL,
      model_used TEXT,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f','now'))
    );
    CREATE INDEX IF NOT EXISTS idx_snapshots_agent_time ON token_snapshots(agent_name, created_at);
    INSERT INTO sessions VALUES
      ('b1', 't-1', 'builder', '2026-01-31T12:00:00.000Z', '2026-01-31T12:10:00.000Z', 600000, 0,
       'clean-merge', 'lead-1', 'run-1', 100, 200, 300, 400, 1.5, 'claude-sonnet-4-5');
    INSERT INTO token_snapshots (agent_name, input_tokens, model_used, created_at)
    VALUES ('b1', 50, 'claude-sonnet-4-5', '2026-01-31T12:05:00.000Z');";

/// metrics.db from before the token columns and `run_id` existed.
const METRICS_ANCIENT: &str = "
    CREATE TABLE sessions (
      agent_name TEXT NOT NULL,
      bead_id TEXT NOT NULL,
      capability TEXT NOT NULL,
      started_at TEXT NOT NULL,
      completed_at TEXT,
      duration_ms INTEGER NOT NULL DEFAULT 0,
      exit_code INTEGER,
      merge_result TEXT,
      parent_agent TEXT,
      PRIMARY KEY (agent_name, bead_id)
    );
    INSERT INTO sessions VALUES
      ('b1', 't-1', 'builder', '2026-01-31T12:00:00.000Z', NULL, 0, NULL, NULL, NULL);";

fn rerun(started: Timestamp) -> SessionMetrics {
    SessionMetrics {
        agent_name: "b1".into(),
        bead_id: "t-1".into(),
        capability: "builder".into(),
        started_at: started,
        completed_at: None,
        duration_ms: 0,
        exit_code: None,
        merge_result: None,
        parent_agent: None,
        run_id: None,
        usage: legio_core::domain::metrics::TokenUsage::default(),
        estimated_cost_usd: None,
        model_used: None,
    }
}

#[test]
fn metrics_db_keeps_sessions_and_no_longer_overwrites_a_rerun() {
    let dir = tmp();
    let path = dir.path().join("metrics.db");
    raw(&path, METRICS_DDL);
    let s = SqliteMetricsStore::open(&path).unwrap();
    let kept = s.sessions_by_agent("b1").unwrap();
    assert_eq!(kept.len(), 1);
    let old = &kept[0];
    assert_eq!(
        (
            old.duration_ms,
            old.usage.cache_creation_tokens,
            old.estimated_cost_usd,
            old.run_id.as_deref()
        ),
        (600_000, 400, Some(1.5), Some("run-1"))
    );
    assert_eq!(s.latest_snapshots().unwrap()[0].usage.input_tokens, 50);
    s.record_session(&rerun(Timestamp::parse("2026-02-01T08:00:00Z").unwrap()))
        .unwrap();
    assert_eq!(
        s.sessions_by_agent("b1").unwrap().len(),
        2,
        "the earlier session survives"
    );

    let dir = tmp();
    let path = dir.path().join("metrics.db");
    raw(&path, METRICS_ANCIENT);
    let s = SqliteMetricsStore::open(&path).unwrap();
    let only = s.recent_sessions(10).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(
        (only[0].usage.input_tokens, only[0].run_id.as_ref()),
        (0, None)
    );
    s.record_snapshot(&legio_core::domain::metrics::TokenSnapshot {
        agent_name: "b1".into(),
        usage: legio_core::domain::metrics::TokenUsage::default(),
        estimated_cost_usd: None,
        model_used: None,
        created_at: at(0),
    })
    .unwrap();
}

const MERGE_QUEUE_DDL: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS merge_queue (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      branch_name TEXT NOT NULL,
      bead_id TEXT NOT NULL,
      agent_name TEXT NOT NULL,
      files_modified TEXT NOT NULL DEFAULT '[]',
      enqueued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f','now')),
      status TEXT NOT NULL DEFAULT 'pending'
        CHECK(status IN ('pending','merging','merged','conflict','failed')),
      resolved_tier TEXT
        CHECK(resolved_tier IS NULL OR resolved_tier IN ('clean-merge','auto-resolve','ai-resolve','reimagine'))
    );
    CREATE INDEX IF NOT EXISTS idx_merge_queue_status ON merge_queue(status);
    CREATE INDEX IF NOT EXISTS idx_merge_queue_branch ON merge_queue(branch_name);
    INSERT INTO merge_queue (branch_name, bead_id, agent_name, files_modified, enqueued_at, status,
                             resolved_tier)
    VALUES
      ('legio/b1/t-1', 't-1', 'b1', '[\"a.rs\"]', '2026-01-31T12:00:00.000Z', 'merged', 'clean-merge'),
      ('legio/b2/t-2', 't-2', 'b2', '[\"b.rs\"]', '2026-01-31T12:01:00.000Z', 'pending', NULL),
      ('legio/b2/t-2', 't-2', 'b2', '[\"b.rs\",\"c.rs\"]', '2026-01-31T12:02:00.000Z', 'pending', NULL),
      ('legio/b3/t-3', 't-3', 'b3', '[]', '2026-01-31T12:03:00.000Z', 'pending', NULL);";

#[test]
fn merge_queue_db_keeps_every_entry_and_leaves_one_active_per_branch() {
    let dir = tmp();
    let path = dir.path().join("merge-queue.db");
    raw(&path, MERGE_QUEUE_DDL);
    let q = SqliteMergeQueue::open(&path).unwrap();
    let all = q.list(None).unwrap();
    let summary: Vec<_> = all.iter().map(|e| (e.id, e.status)).collect();
    assert_eq!(
        summary,
        [
            (1, MergeStatus::Merged),
            (2, MergeStatus::Pending),
            (3, MergeStatus::Failed),
            (4, MergeStatus::Pending)
        ]
    );
    assert!(
        all[2].error_message.as_deref().unwrap().contains("entry 2"),
        "{:?}",
        all[2].error_message
    );
    assert_eq!(all[2].files_modified, ["b.rs", "c.rs"]);
    let again = q
        .enqueue(&NewMergeEntry {
            branch_name: "legio/b2/t-2".into(),
            bead_id: "t-2".into(),
            agent_name: "b2".into(),
            files_modified: Vec::new(),
            enqueued_at: at(0),
        })
        .unwrap();
    assert_eq!(again.id, 2);
    assert_eq!(q.claim_next(None, "main", "abc").unwrap().unwrap().id, 2);
    assert_eq!(user_version(&path), 1);
}

#[test]
fn a_migration_that_cannot_complete_changes_nothing() {
    let dir = tmp();
    let path = dir.path().join("sessions.db");
    // A hand-made table without the state CHECK, holding a state legio has never had.
    raw(
        &path,
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL UNIQUE,
             capability TEXT NOT NULL, worktree_path TEXT NOT NULL, branch_name TEXT NOT NULL,
             bead_id TEXT NOT NULL, tmux_session TEXT NOT NULL, state TEXT NOT NULL,
             started_at TEXT NOT NULL, last_activity TEXT NOT NULL);
         INSERT INTO sessions VALUES ('s1', 'a', 'builder', '/w', 'b', 't', 'x', 'running',
             '2026-01-31 12:00:00', '2026-01-31 12:00:00');",
    );
    let schema_before: i64 = raw_value(&path, "PRAGMA schema_version");
    let err = SqliteSessionStore::open(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("sessions.db") && message.contains("nothing was changed"),
        "{message}"
    );
    assert!(message.contains("CHECK constraint failed"), "{message}");
    assert_eq!(user_version(&path), 0);
    assert_eq!(
        raw_value::<i64>(&path, "PRAGMA schema_version"),
        schema_before
    );
    assert_eq!(
        raw_value::<String>(&path, "SELECT state FROM sessions"),
        "running"
    );
    assert_eq!(
        raw_value::<String>(&path, "SELECT started_at FROM sessions"),
        "2026-01-31 12:00:00"
    );
}
