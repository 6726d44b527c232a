//! `events.db`: the observability log (table `events`).
//!
//! Written on every hook event, read by `legio feed`, `trace`, `errors` and the dashboards. The
//! indexes are shaped after those reads: newest-first pages per agent, per run, of errors and of
//! the whole timeline, and per-agent tool statistics, each answered from an index without a
//! sort. Tool starts and ends are paired by Claude Code's `tool_use_id`.

use legio_core::domain::event::{NewEvent, StoredEvent, ToolStats};
use legio_core::ports::StoreResult;
use legio_core::ports::store::{EventQuery, EventStore, PurgeCriteria};
use legio_core::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::db::Failure;
use crate::migrate::{Migration, Schema, add_column, normalise_times, table_exists};
use crate::row::{all, count, int, iso, limit, opt_int, opt_text, parsed, text, time};

macro_rules! event_columns {
    () => {
        "id, run_id, agent_name, session_id, event_type, tool_name, tool_args, tool_duration_ms, \
         level, data, created_at"
    };
}

const CREATE_EVENTS: &str = "CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    agent_name TEXT NOT NULL,
    session_id TEXT,
    event_type TEXT NOT NULL,
    tool_name TEXT,
    tool_args TEXT,
    tool_duration_ms INTEGER,
    level TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'warn', 'error')),
    data TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    tool_use_id TEXT
);";

// Each index ends (implicitly) in the rowid, so `ORDER BY created_at, id` reads it in order.
const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS idx_events_agent_time ON events(agent_name, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_run_time ON events(run_id, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_type_time ON events(event_type, created_at);
    CREATE INDEX IF NOT EXISTS idx_events_time ON events(created_at);
    CREATE INDEX IF NOT EXISTS idx_events_errors ON events(created_at) WHERE level = 'error';
    CREATE INDEX IF NOT EXISTS idx_events_tool_stats
        ON events(agent_name, tool_name, created_at, tool_duration_ms)
        WHERE event_type = 'tool_start';
    CREATE INDEX IF NOT EXISTS idx_events_tool_use ON events(tool_use_id)
        WHERE tool_use_id IS NOT NULL;";

/// Version 1: legio 0.2's schema, adopting legio 0.1.0's `events`: adds `tool_use_id`, rewrites
/// SQLite's zone-less `created_at` values as ISO-Z, and replaces the tool and error indexes
/// with ones the queries can read in order.
fn v1(conn: &Connection) -> rusqlite::Result<()> {
    if table_exists(conn, "events")? {
        add_column(conn, "events", "tool_use_id", "TEXT")?;
        conn.execute_batch(
            "DROP INDEX IF EXISTS idx_events_tool_agent;
             DROP INDEX IF EXISTS idx_events_level_error;",
        )?;
        normalise_times(conn, "events", &["created_at"])?;
    } else {
        conn.execute_batch(CREATE_EVENTS)?;
    }
    conn.execute_batch(INDEXES)
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "adopt legio 0.1.0's events (tool_use_id, ISO-Z times)",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`EventStore`] on `events.db`.
    SqliteEventStore, SCHEMA, events_db
}

fn decode(row: &Row<'_>) -> Result<StoredEvent, Failure> {
    Ok(StoredEvent {
        id: int(row, "id")?,
        run_id: opt_text(row, "run_id")?,
        agent_name: text(row, "agent_name")?,
        session_id: opt_text(row, "session_id")?,
        event_type: text(row, "event_type")?,
        tool_name: opt_text(row, "tool_name")?,
        tool_args: opt_text(row, "tool_args")?,
        tool_duration_ms: opt_int(row, "tool_duration_ms")?,
        level: parsed(row, "level")?,
        data: opt_text(row, "data")?,
        created_at: time(row, "created_at")?,
    })
}

fn decode_stats(row: &Row<'_>) -> Result<ToolStats, Failure> {
    Ok(ToolStats {
        tool_name: text(row, "tool_name")?,
        count: count(row, "n")?,
        avg_duration_ms: row.get("avg_ms")?,
        max_duration_ms: int(row, "max_ms")?,
    })
}

/// The SELECT of [`EventStore::query`] for `q`.
pub(crate) fn query_sql(q: &EventQuery) -> (String, Vec<Value>) {
    let mut terms: Vec<String> = Vec::new();
    let mut values = Vec::new();
    match q.agents.as_slice() {
        [] => {}
        [one] => {
            terms.push("agent_name = ?".into());
            values.push(Value::Text(one.clone()));
        }
        many => {
            terms.push(format!(
                "agent_name IN ({})",
                vec!["?"; many.len()].join(", ")
            ));
            values.extend(many.iter().cloned().map(Value::Text));
        }
    }
    if let Some(run) = &q.run_id {
        terms.push("run_id = ?".into());
        values.push(Value::Text(run.clone()));
    }
    if let Some(t) = q.event_type {
        // With agents named, the agent index must lead: an agent's events are few, while the
        // type index would have the planner walk every event of that type (all agents) in
        // time order looking for this agent's (`+` keeps the type term off any index).
        terms.push(if q.agents.is_empty() {
            "event_type = ?".into()
        } else {
            "+event_type = ?".into()
        });
        values.push(Value::Text(t.as_str().to_owned()));
    }
    if let Some(level) = q.level {
        // A literal (from a closed enum), so the planner can use the partial error index.
        terms.push(format!("level = '{}'", level.as_str()));
    }
    if let Some(since) = q.since {
        terms.push("created_at >= ?".into());
        values.push(Value::Text(iso(since)));
    }
    if let Some(until) = q.until {
        terms.push("created_at <= ?".into());
        values.push(Value::Text(iso(until)));
    }
    if let Some(after) = q.after_id {
        terms.push("id > ?".into());
        values.push(Value::Integer(after));
    }
    let filter = if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    };
    let order = if q.oldest_first { "ASC" } else { "DESC" };
    values.push(Value::Integer(limit(q.limit)));
    let sql = format!(
        concat!(
            "SELECT ",
            event_columns!(),
            " FROM events{} ORDER BY created_at {}, id {} LIMIT ?"
        ),
        filter, order, order
    );
    (sql, values)
}

/// The SELECT of [`EventStore::tool_stats`].
pub(crate) fn tool_stats_sql(
    agent: Option<&str>,
    since: Option<Timestamp>,
) -> (String, Vec<Value>) {
    let mut sql = String::from(
        "SELECT tool_name, count(*) AS n, coalesce(avg(tool_duration_ms), 0.0) AS avg_ms,
                coalesce(max(tool_duration_ms), 0) AS max_ms
         FROM events WHERE event_type = 'tool_start' AND tool_name IS NOT NULL",
    );
    let mut values = Vec::new();
    if let Some(agent) = agent {
        sql.push_str(" AND agent_name = ?");
        values.push(Value::Text(agent.to_owned()));
    }
    if let Some(since) = since {
        sql.push_str(" AND created_at >= ?");
        values.push(Value::Text(iso(since)));
    }
    sql.push_str(" GROUP BY tool_name ORDER BY n DESC, tool_name");
    (sql, values)
}

impl EventStore for SqliteEventStore {
    fn insert(&self, e: &NewEvent) -> StoreResult<i64> {
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO events (run_id, agent_name, session_id, event_type, tool_name,
                                     tool_use_id, tool_args, tool_duration_ms, level, data,
                                     created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                e.run_id,
                e.agent_name,
                e.session_id,
                e.event_type.as_str(),
                e.tool_name,
                e.tool_use_id,
                e.tool_args,
                e.tool_duration_ms,
                e.level.as_str(),
                e.data,
                iso(e.created_at),
            ])?;
            Ok(conn.last_insert_rowid())
        })
    }

    fn finish_tool(
        &self,
        agent: &str,
        tool_use_id: Option<&str>,
        tool_name: &str,
        at: Timestamp,
    ) -> StoreResult<Option<(i64, i64)>> {
        self.db.atomic(|conn| {
            let start: Option<(i64, String)> = match tool_use_id {
                Some(use_id) => conn
                    .prepare_cached(
                        "SELECT id, created_at FROM events
                         WHERE tool_use_id = ?1 AND agent_name = ?2
                           AND event_type = 'tool_start' AND tool_duration_ms IS NULL
                         ORDER BY id DESC LIMIT 1",
                    )?
                    .query_row(params![use_id, agent], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
                None => conn
                    .prepare_cached(
                        "SELECT id, created_at FROM events
                         WHERE agent_name = ?1 AND tool_name = ?2
                           AND event_type = 'tool_start' AND tool_duration_ms IS NULL
                           AND tool_use_id IS NULL
                         ORDER BY created_at DESC, id DESC LIMIT 1",
                    )?
                    .query_row(params![agent, tool_name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
            };
            let Some((id, created_at)) = start else {
                return Ok(None);
            };
            let started = Timestamp::parse(&created_at).map_err(|_| Failure::BadValue {
                column: "created_at".into(),
                value: created_at,
            })?;
            let duration = at.millis_since(started).max(0);
            conn.prepare_cached("UPDATE events SET tool_duration_ms = ?2 WHERE id = ?1")?
                .execute(params![id, duration])?;
            Ok(Some((id, duration)))
        })
    }

    fn query(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
        let (sql, values) = query_sql(q);
        self.db
            .run(|conn| all(conn, &sql, params_from_iter(values), decode))
    }

    fn tool_stats(
        &self,
        agent: Option<&str>,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<ToolStats>> {
        let (sql, values) = tool_stats_sql(agent, since);
        self.db
            .run(|conn| all(conn, &sql, params_from_iter(values), decode_stats))
    }

    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64> {
        let mut terms = Vec::new();
        let mut values = Vec::new();
        if !criteria.all {
            if let Some(t) = criteria.older_than {
                terms.push("created_at < ?");
                values.push(Value::Text(iso(t)));
            }
            if let Some(agent) = &criteria.agent {
                terms.push("agent_name = ?");
                values.push(Value::Text(agent.clone()));
            }
            if terms.is_empty() {
                return Ok(0);
            }
        }
        let sql = if terms.is_empty() {
            "DELETE FROM events".to_owned()
        } else {
            format!("DELETE FROM events WHERE {}", terms.join(" AND "))
        };
        self.db.run(|conn| {
            let n = conn
                .prepare_cached(&sql)?
                .execute(params_from_iter(values))?;
            Ok(n as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use legio_core::domain::event::{EventLevel, EventType};

    use super::*;

    fn plan(store: &SqliteEventStore, (sql, values): (String, Vec<Value>)) -> String {
        store
            .db
            .run(|conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map(params_from_iter(values), |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?.join("\n"))
            })
            .unwrap()
    }

    fn assert_reads_index(plan: &str, index: &str) {
        assert!(plan.contains(index), "expected {index} in:\n{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "expected no sort in:\n{plan}"
        );
        assert!(
            !plan
                .lines()
                .any(|l| l.starts_with("SCAN events") && !l.contains("INDEX")),
            "expected no table scan in:\n{plan}"
        );
    }

    #[test]
    fn hot_queries_read_an_index_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteEventStore::open(tmp.path().join("events.db")).unwrap();
        let page = |q: EventQuery| EventQuery {
            limit: Some(50),
            ..q
        };
        let by_agent = plan(
            &store,
            query_sql(&page(EventQuery {
                agents: vec!["builder-1".into()],
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&by_agent, "idx_events_agent_time");
        // One agent's tool calls (inspect): its own events, not every tool call of the fleet.
        let agent_tools = plan(
            &store,
            query_sql(&page(EventQuery {
                agents: vec!["builder-1".into()],
                event_type: Some(EventType::ToolStart),
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&agent_tools, "idx_events_agent_time");
        let by_run = plan(
            &store,
            query_sql(&page(EventQuery {
                run_id: Some("run-1".into()),
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&by_run, "idx_events_run_time");
        let timeline = plan(
            &store,
            query_sql(&page(EventQuery {
                since: Some(Timestamp::from_millis(0)),
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&timeline, "idx_events_time");
        let errors = plan(
            &store,
            query_sql(&page(EventQuery {
                level: Some(EventLevel::Error),
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&errors, "idx_events_errors");
        let by_type = plan(
            &store,
            query_sql(&page(EventQuery {
                event_type: Some(EventType::Spawn),
                ..EventQuery::default()
            })),
        );
        assert_reads_index(&by_type, "idx_events_type_time");
        let stats = plan(&store, tool_stats_sql(Some("builder-1"), None));
        assert!(
            stats.contains("COVERING INDEX idx_events_tool_stats"),
            "expected a covering index in:\n{stats}"
        );
        assert!(!stats.contains("TEMP B-TREE FOR GROUP BY"), "{stats}");
    }
}
