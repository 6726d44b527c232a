//! `mail.db`: messages between agents (table `messages`).
//!
//! Delivery is exactly-once: [`MailStore::claim_unread`] marks and returns messages in a single
//! `UPDATE ... RETURNING`, so two hooks checking the same inbox at once never both deliver a
//! message.

use legio_core::domain::mail::{Audience, MailMessage, NewMail};
use legio_core::ids::message_id;
use legio_core::ports::store::{MailFilter, MailStore, PurgeCriteria};
use legio_core::ports::{StoreError, StoreResult};
use legio_core::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::db::Failure;
use crate::migrate::{Carry, Migration, Schema, keep, normalise_times, rebuild, table_exists};
use crate::row::{all, first, int, iso, limit, opt_text, parsed, text, time};

macro_rules! message_columns {
    () => {
        "id, from_agent, to_agent, subject, body, type, audience, priority, thread_id, payload, \
         read, created_at"
    };
}

const CREATE_MESSAGES: &str = "CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    from_agent TEXT NOT NULL,
    to_agent TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'status' CHECK (type IN ('status', 'question', 'result', 'error',
        'worker_done', 'merge_ready', 'merged', 'merge_failed', 'escalation', 'health_check',
        'dispatch', 'assign', 'worker_died')),
    audience TEXT NOT NULL DEFAULT 'agent' CHECK (audience IN ('human', 'agent', 'both')),
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    thread_id TEXT,
    payload TEXT,
    read INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);";

// idx_inbox serves unread counts (covering), claims and peeks in time order; the others serve
// listings newest first and purges by age.
const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS idx_inbox ON messages(to_agent, read, created_at);
    CREATE INDEX IF NOT EXISTS idx_thread ON messages(thread_id);
    CREATE INDEX IF NOT EXISTS idx_messages_from ON messages(from_agent, created_at);
    CREATE INDEX IF NOT EXISTS idx_messages_created ON messages(created_at);";

/// Version 1: legio 0.2's schema, adopting legio 0.1.0's `messages` whatever its vintage (with
/// or without CHECKs, `payload`, `audience`). The type CHECK gains `worker_died`, which needs a
/// rebuild; values the old table allowed but legio does not know become `status` / `normal`, as
/// legio 0.1.0's own rebuild did.
fn v1(conn: &Connection) -> rusqlite::Result<()> {
    if table_exists(conn, "messages")? {
        let carry: [Carry; 12] = [
            keep("id"),
            keep("from_agent"),
            keep("to_agent"),
            keep("subject"),
            keep("body"),
            keep("type")
                .via(
                    "CASE WHEN type IN ('status', 'question', 'result', 'error', 'worker_done', \
                     'merge_ready', 'merged', 'merge_failed', 'escalation', 'health_check', \
                     'dispatch', 'assign', 'worker_died') THEN type ELSE 'status' END",
                )
                .or("'status'"),
            keep("audience")
                .via("CASE WHEN audience IN ('human', 'agent', 'both') THEN audience ELSE 'agent' END")
                .or("'agent'"),
            keep("priority")
                .via(
                    "CASE WHEN priority IN ('low', 'normal', 'high', 'urgent') THEN priority \
                     ELSE 'normal' END",
                )
                .or("'normal'"),
            keep("thread_id"),
            keep("payload"),
            keep("read").via("CASE WHEN read THEN 1 ELSE 0 END").or("0"),
            keep("created_at").or("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"),
        ];
        rebuild(conn, "messages", CREATE_MESSAGES, &carry)?;
        normalise_times(conn, "messages", &["created_at"])?;
    } else {
        conn.execute_batch(CREATE_MESSAGES)?;
    }
    conn.execute_batch(INDEXES)
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "adopt legio 0.1.0's messages (type worker_died)",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`MailStore`] on `mail.db`.
    SqliteMailStore, SCHEMA, mail_db
}

fn decode(row: &Row<'_>) -> Result<MailMessage, Failure> {
    Ok(MailMessage {
        id: text(row, "id")?,
        from: text(row, "from_agent")?,
        to: text(row, "to_agent")?,
        subject: text(row, "subject")?,
        body: text(row, "body")?,
        priority: parsed(row, "priority")?,
        mail_type: parsed(row, "type")?,
        audience: parsed(row, "audience")?,
        thread_id: opt_text(row, "thread_id")?,
        payload: opt_text(row, "payload")?,
        read: int(row, "read")? != 0,
        created_at: time(row, "created_at")?,
    })
}

/// The WHERE clause and parameters of a purge (`None`: nothing to purge).
fn purge_predicate(criteria: &PurgeCriteria) -> Option<(String, Vec<Value>)> {
    if criteria.all {
        return Some(("1".into(), Vec::new()));
    }
    let mut terms = Vec::new();
    let mut values = Vec::new();
    if let Some(t) = criteria.older_than {
        terms.push("created_at < ?".to_owned());
        values.push(Value::Text(iso(t)));
    }
    if let Some(agent) = &criteria.agent {
        terms.push("(from_agent = ? OR to_agent = ?)".to_owned());
        values.push(Value::Text(agent.clone()));
        values.push(Value::Text(agent.clone()));
    }
    (!terms.is_empty()).then(|| (terms.join(" AND "), values))
}

/// The SELECT of [`MailStore::list`] for `filter`.
fn list_query(filter: &MailFilter) -> (String, Vec<Value>) {
    let mut terms = Vec::new();
    let mut values = Vec::new();
    if let Some(from) = &filter.from {
        terms.push("from_agent = ?");
        values.push(Value::Text(from.clone()));
    }
    if let Some(to) = &filter.to {
        terms.push("to_agent = ?");
        values.push(Value::Text(to.clone()));
    }
    if let Some(unread) = filter.unread {
        terms.push(if unread { "read = 0" } else { "read = 1" });
    }
    if let Some(audience) = filter.audience {
        terms.push("audience = ?");
        values.push(Value::Text(audience.as_str().to_owned()));
    }
    let filter_sql = if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    };
    values.push(Value::Integer(limit(filter.limit)));
    let sql = format!(
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages{} ORDER BY created_at DESC, rowid DESC LIMIT ?"
        ),
        filter_sql
    );
    (sql, values)
}

impl MailStore for SqliteMailStore {
    fn send(&self, mail: &NewMail, at: Timestamp) -> StoreResult<MailMessage> {
        let id = match mail.id.as_deref() {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => message_id(),
        };
        let message = MailMessage {
            id,
            from: mail.from.clone(),
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            body: mail.body.clone(),
            priority: mail.priority,
            mail_type: mail.mail_type,
            audience: mail.effective_audience(),
            thread_id: mail.thread_id.clone(),
            payload: mail.payload.clone(),
            read: false,
            created_at: at,
        };
        self.db.run(|conn| {
            let inserted = conn
                .prepare_cached(concat!(
                    "INSERT INTO messages (",
                    message_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)"
                ))?
                .execute(params![
                    message.id,
                    message.from,
                    message.to,
                    message.subject,
                    message.body,
                    message.mail_type.as_str(),
                    message.audience.as_str(),
                    message.priority.as_str(),
                    message.thread_id,
                    message.payload,
                    iso(at),
                ]);
            match inserted {
                Err(e)
                    if e.sqlite_error().is_some_and(|s| {
                        s.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    }) =>
                {
                    Err(Failure::Store(StoreError::Conflict(format!(
                        "a message with id \"{}\" already exists; choose another id or let legio generate one",
                        message.id
                    ))))
                }
                other => other.map(drop).map_err(Failure::from),
            }
        })?;
        Ok(message)
    }

    fn claim_unread(
        &self,
        agent: &str,
        audience: Option<Audience>,
    ) -> StoreResult<Vec<MailMessage>> {
        let audience = audience.map(Audience::as_str);
        self.db.run(|conn| {
            // Most hook calls find nothing: look first without taking the write lock.
            let any: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM messages
                     WHERE to_agent = ?1 AND read = 0
                       AND (?2 IS NULL OR audience = ?2))",
                )?
                .query_row(params![agent, audience], |r| r.get(0))?;
            if !any {
                return Ok(Vec::new());
            }
            let mut claimed: Vec<(i64, MailMessage)> = {
                let mut stmt = conn.prepare_cached(concat!(
                    "UPDATE messages SET read = 1
                     WHERE to_agent = ?1 AND read = 0
                       AND (?2 IS NULL OR audience = ?2)
                     RETURNING rowid, ",
                    message_columns!()
                ))?;
                let mut rows = stmt.query(params![agent, audience])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push((int(row, "rowid")?, decode(row)?));
                }
                out
            };
            // RETURNING has no order of its own: oldest first, ties in insertion order.
            claimed.sort_by(|(ra, a), (rb, b)| a.created_at.cmp(&b.created_at).then(ra.cmp(rb)));
            Ok(claimed.into_iter().map(|(_, m)| m).collect())
        })
    }

    fn peek_unread(&self, agent: &str) -> StoreResult<Vec<MailMessage>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM messages WHERE to_agent = ?1 AND read = 0 ORDER BY created_at, rowid"
                ),
                [agent],
                decode,
            )
        })
    }

    fn count_unread(&self, agent: &str) -> StoreResult<u64> {
        self.db.run(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM messages WHERE to_agent = ?1 AND read = 0")?
                .query_row([agent], |r| r.get(0))?;
            Ok(n.unsigned_abs())
        })
    }

    fn list(&self, filter: &MailFilter) -> StoreResult<Vec<MailMessage>> {
        let (sql, values) = list_query(filter);
        self.db
            .run(|conn| all(conn, &sql, params_from_iter(values), decode))
    }

    fn get(&self, id: &str) -> StoreResult<Option<MailMessage>> {
        self.db.run(|conn| {
            first(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM messages WHERE id = ?1"
                ),
                [id],
                decode,
            )
        })
    }

    fn thread(&self, thread_id: &str) -> StoreResult<Vec<MailMessage>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM messages WHERE id = ?1 OR thread_id = ?1 ORDER BY created_at, rowid"
                ),
                [thread_id],
                decode,
            )
        })
    }

    fn mark_read(&self, id: &str) -> StoreResult<bool> {
        self.db.run(|conn| {
            let changed = conn
                .prepare_cached("UPDATE messages SET read = 1 WHERE id = ?1 AND read = 0")?
                .execute([id])?;
            if changed > 0 {
                return Ok(false);
            }
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)")?
                .query_row([id], |r| r.get(0))?;
            if exists {
                Ok(true)
            } else {
                Err(Failure::Store(StoreError::NotFound {
                    what: "message",
                    key: id.to_owned(),
                }))
            }
        })
    }

    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64> {
        let Some((predicate, values)) = purge_predicate(criteria) else {
            return Ok(0);
        };
        self.db.run(|conn| {
            let n = conn
                .prepare_cached(&format!("DELETE FROM messages WHERE {predicate}"))?
                .execute(params_from_iter(values))?;
            Ok(n as u64)
        })
    }

    fn delete(&self, id: &str) -> StoreResult<bool> {
        self.db.run(|conn| {
            let n = conn
                .prepare_cached("DELETE FROM messages WHERE id = ?1")?
                .execute([id])?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpenOptions;

    fn plan(store: &SqliteMailStore, sql: &str, values: Vec<Value>) -> String {
        store
            .db
            .run(|conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map(params_from_iter(values), |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?.join("\n"))
            })
            .unwrap()
    }

    #[test]
    fn inbox_queries_use_indexes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteMailStore::open_with(tmp.path().join("mail.db"), &OpenOptions::default())
            .unwrap();
        let count = plan(
            &store,
            "SELECT count(*) FROM messages WHERE to_agent = ?1 AND read = 0",
            vec![Value::Text("a".into())],
        );
        assert!(count.contains("COVERING INDEX idx_inbox"), "{count}");
        let peek = plan(
            &store,
            "SELECT * FROM messages WHERE to_agent = ?1 AND read = 0 ORDER BY created_at, rowid",
            vec![Value::Text("a".into())],
        );
        assert!(peek.contains("idx_inbox"), "{peek}");
        assert!(!peek.contains("TEMP B-TREE"), "{peek}");
        let (sql, values) = list_query(&MailFilter {
            limit: Some(50),
            ..MailFilter::default()
        });
        let newest = plan(&store, &sql, values);
        assert!(newest.contains("idx_messages_created"), "{newest}");
        assert!(!newest.contains("TEMP B-TREE"), "{newest}");
        let (sql, values) = list_query(&MailFilter {
            from: Some("a".into()),
            limit: Some(50),
            ..MailFilter::default()
        });
        let from = plan(&store, &sql, values);
        assert!(from.contains("idx_messages_from"), "{from}");
        assert!(!from.contains("TEMP B-TREE"), "{from}");
    }
}
