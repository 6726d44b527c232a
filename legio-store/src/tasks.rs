//! `tasks.db`: the built-in task tracker (tables `tasks` and `dependencies`), so legio needs no
//! external issue tracker. Shaped like bd: ids `<prefix>-xxxxxx`, statuses open / in_progress /
//! blocked / closed, priorities 0 (highest) to 4, a type, a parent, dependencies between tasks,
//! an assignee and a close reason.
//!
//! References are checked by the store (parent and dependencies must exist, dependencies must
//! not form a cycle) inside the transaction that writes them.

use legio_core::domain::task::{NewTask, Task, TaskPatch, TaskStatus};
use legio_core::ids::task_id;
use legio_core::names::TaskId;
use legio_core::ports::store::{TaskFilter, TaskStore};
use legio_core::ports::{StoreError, StoreResult};
use legio_core::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::db::Failure;
use crate::migrate::{Migration, Schema};
use crate::row::{
    all, count, first, iso, json_list, limit, opt_parsed, opt_text, opt_time, parsed, text, time,
};

/// Highest (least urgent) priority, as in bd.
const MAX_PRIORITY: u8 = 4;

/// How many generated ids are tried before giving up on a (vanishingly unlikely) collision.
const ID_ATTEMPTS: usize = 8;

macro_rules! select_tasks {
    () => {
        "SELECT t.id AS id, t.title AS title, t.description AS description, t.status AS status,
                t.priority AS priority, t.type AS type, t.parent AS parent,
                t.assignee AS assignee, t.close_reason AS close_reason,
                t.created_at AS created_at, t.updated_at AS updated_at, t.closed_at AS closed_at,
                (SELECT json_group_array(depends_on) FROM (
                    SELECT d.depends_on FROM dependencies AS d
                    WHERE d.task_id = t.id ORDER BY d.depends_on)) AS depends_on
         FROM tasks AS t"
    };
}

fn v1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS tasks (
             id TEXT PRIMARY KEY,
             title TEXT NOT NULL,
             description TEXT NOT NULL DEFAULT '',
             status TEXT NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'in_progress', 'blocked', 'closed')),
             priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
             type TEXT NOT NULL DEFAULT 'task',
             parent TEXT,
             assignee TEXT,
             close_reason TEXT,
             created_at TEXT NOT NULL,
             updated_at TEXT NOT NULL,
             closed_at TEXT
         );
         CREATE TABLE IF NOT EXISTS dependencies (
             task_id TEXT NOT NULL,
             depends_on TEXT NOT NULL,
             PRIMARY KEY (task_id, depends_on),
             CHECK (task_id <> depends_on)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS idx_dependencies_target ON dependencies(depends_on);
         CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status, priority, created_at);
         CREATE INDEX IF NOT EXISTS idx_tasks_parent ON tasks(parent);
         CREATE INDEX IF NOT EXISTS idx_tasks_assignee ON tasks(assignee);",
    )
}

pub(crate) const SCHEMA: Schema = Schema {
    migrations: &[Migration {
        summary: "create the task tracker",
        apply: v1,
    }],
};

crate::store_type! {
    /// [`TaskStore`] on `tasks.db`. Generated ids are `<prefix>-` and 6 characters of
    /// `[a-z0-9]`; the prefix is `task` unless set with [`SqliteTaskStore::with_id_prefix`].
    SqliteTaskStore, SCHEMA, tasks_db,
    id_prefix: String = "task".to_owned()
}

impl SqliteTaskStore {
    /// Uses `prefix` for generated ids (bd uses the project name). `Invalid` if ids with that
    /// prefix would not be valid task ids.
    pub fn with_id_prefix(mut self, prefix: &str) -> StoreResult<Self> {
        TaskId::new(format!("{prefix}-a1b2c3")).map_err(|e| {
            StoreError::Invalid(format!(
                "task id prefix {prefix:?} cannot be used: {}",
                e.problem
            ))
        })?;
        prefix.clone_into(&mut self.id_prefix);
        Ok(self)
    }
}

fn decode(row: &Row<'_>) -> Result<Task, Failure> {
    Ok(Task {
        id: parsed(row, "id")?,
        title: text(row, "title")?,
        description: text(row, "description")?,
        status: parsed(row, "status")?,
        priority: count(row, "priority")?,
        task_type: text(row, "type")?,
        parent: opt_parsed(row, "parent")?,
        depends_on: json_list(row, "depends_on")?,
        assignee: opt_text(row, "assignee")?,
        close_reason: opt_text(row, "close_reason")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        closed_at: opt_time(row, "closed_at")?,
    })
}

fn invalid(message: String) -> Failure {
    Failure::Store(StoreError::Invalid(message))
}

fn check_title(title: &str) -> Result<(), Failure> {
    if title.trim().is_empty() {
        return Err(invalid("a task needs a title that is not blank".into()));
    }
    Ok(())
}

fn check_priority(priority: u8) -> Result<(), Failure> {
    if priority > MAX_PRIORITY {
        return Err(invalid(format!(
            "priority {priority} is out of range; use 0 (highest) to {MAX_PRIORITY} (lowest)"
        )));
    }
    Ok(())
}

fn get(conn: &Connection, id: &TaskId) -> Result<Option<Task>, Failure> {
    first(
        conn,
        concat!(select_tasks!(), " WHERE t.id = ?1"),
        [id.as_str()],
        decode,
    )
}

fn require(conn: &Connection, id: &TaskId, what: &'static str) -> Result<Task, Failure> {
    get(conn, id)?.ok_or_else(|| {
        Failure::Store(StoreError::NotFound {
            what,
            key: id.to_string(),
        })
    })
}

fn exists(conn: &Connection, id: &TaskId) -> Result<bool, Failure> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?1)")?
        .query_row([id.as_str()], |r| r.get(0))?)
}

/// Whether `from` already depends, directly or not, on `to`.
fn reaches(conn: &Connection, from: &TaskId, to: &TaskId) -> Result<bool, Failure> {
    Ok(conn
        .prepare_cached(
            "WITH RECURSIVE reach(id) AS (
                 SELECT ?1
                 UNION
                 SELECT d.depends_on FROM dependencies AS d JOIN reach AS r ON d.task_id = r.id)
             SELECT EXISTS (SELECT 1 FROM reach WHERE id = ?2)",
        )?
        .query_row([from.as_str(), to.as_str()], |r| r.get(0))?)
}

/// Records that `task` depends on `dependency`, refusing unknown tasks and cycles.
fn add_dependency(conn: &Connection, task: &TaskId, dependency: &TaskId) -> Result<(), Failure> {
    if task == dependency {
        return Err(Failure::Store(StoreError::Conflict(format!(
            "task {task} cannot depend on itself"
        ))));
    }
    if !exists(conn, dependency)? {
        return Err(Failure::Store(StoreError::NotFound {
            what: "dependency task",
            key: dependency.to_string(),
        }));
    }
    if reaches(conn, dependency, task)? {
        return Err(Failure::Store(StoreError::Conflict(format!(
            "task {task} cannot depend on {dependency}: {dependency} already depends on {task}, which would make a cycle"
        ))));
    }
    conn.prepare_cached(
        "INSERT INTO dependencies (task_id, depends_on) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute([task.as_str(), dependency.as_str()])?;
    Ok(())
}

/// The SELECT of [`TaskStore::list`] for `filter`.
fn list_query(filter: &TaskFilter) -> (String, Vec<Value>) {
    let mut terms: Vec<String> = Vec::new();
    let mut values = Vec::new();
    if filter.statuses.is_empty() {
        if !filter.include_closed {
            terms.push("t.status <> 'closed'".into());
        }
    } else {
        // Literals from a closed enum, so the status index applies.
        let listed: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        terms.push(format!("t.status IN ({})", listed.join(", ")));
    }
    if let Some(assignee) = &filter.assignee {
        terms.push("t.assignee = ?".into());
        values.push(Value::Text(assignee.clone()));
    }
    if let Some(parent) = &filter.parent {
        terms.push("t.parent = ?".into());
        values.push(Value::Text(parent.to_string()));
    }
    let filter_sql = if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    };
    values.push(Value::Integer(limit(filter.limit)));
    (
        format!(
            concat!(
                select_tasks!(),
                "{} ORDER BY t.priority, t.created_at, t.rowid LIMIT ?"
            ),
            filter_sql
        ),
        values,
    )
}

/// Inserts `task` as `id`; false if the id is taken.
fn insert(conn: &Connection, id: &TaskId, task: &NewTask, at: Timestamp) -> Result<bool, Failure> {
    let task_type = if task.task_type.trim().is_empty() {
        "task"
    } else {
        task.task_type.as_str()
    };
    let inserted = conn
        .prepare_cached(
            "INSERT INTO tasks (id, title, description, status, priority, type, parent,
                                assignee, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            id.as_str(),
            task.title.trim(),
            task.description,
            task.priority,
            task_type,
            task.parent.as_ref().map(TaskId::as_str),
            task.assignee,
            iso(at),
        ])?;
    Ok(inserted == 1)
}

impl SqliteTaskStore {
    fn insert_with_generated_id(
        &self,
        conn: &Connection,
        task: &NewTask,
        at: Timestamp,
    ) -> Result<TaskId, Failure> {
        for _ in 0..ID_ATTEMPTS {
            let id = TaskId::new(task_id(&self.id_prefix))
                .expect("the prefix was validated when it was set");
            if insert(conn, &id, task, at)? {
                return Ok(id);
            }
        }
        Err(Failure::Store(StoreError::Conflict(format!(
            "could not generate an unused task id with prefix {:?}; pass an id",
            self.id_prefix
        ))))
    }
}

impl TaskStore for SqliteTaskStore {
    fn create(&self, task: &NewTask, at: Timestamp) -> StoreResult<Task> {
        self.db.atomic(|conn| {
            check_title(&task.title)?;
            check_priority(task.priority)?;
            if let Some(parent) = &task.parent {
                require(conn, parent, "parent task")?;
            }
            let id = if let Some(id) = &task.id {
                if !insert(conn, id, task, at)? {
                    return Err(Failure::Store(StoreError::Conflict(format!(
                        "task {id} already exists; choose another id"
                    ))));
                }
                id.clone()
            } else {
                self.insert_with_generated_id(conn, task, at)?
            };
            for dependency in &task.depends_on {
                add_dependency(conn, &id, dependency)?;
            }
            require(conn, &id, "task")
        })
    }

    fn get(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        self.db.run(|conn| get(conn, id))
    }

    fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>> {
        let (sql, values) = list_query(filter);
        self.db
            .run(|conn| all(conn, &sql, params_from_iter(values), decode))
    }

    fn ready(&self, max: Option<u32>) -> StoreResult<Vec<Task>> {
        self.db.run(|conn| {
            all(
                conn,
                concat!(
                    select_tasks!(),
                    " WHERE t.status = 'open' AND NOT EXISTS (
                         SELECT 1 FROM dependencies AS d JOIN tasks AS b ON b.id = d.depends_on
                         WHERE d.task_id = t.id AND b.status <> 'closed')
                     ORDER BY t.priority, t.created_at, t.rowid LIMIT ?1"
                ),
                [limit(max)],
                decode,
            )
        })
    }

    fn update(&self, id: &TaskId, patch: &TaskPatch, at: Timestamp) -> StoreResult<Task> {
        self.db.atomic(|conn| {
            let current = require(conn, id, "task")?;
            if let Some(title) = &patch.title {
                check_title(title)?;
            }
            if let Some(priority) = patch.priority {
                check_priority(priority)?;
            }
            if patch.status == Some(TaskStatus::Closed) {
                return Err(invalid(format!(
                    "close task {id} with `close` (it records when and why), not with an update"
                )));
            }
            let status = patch.status.unwrap_or(current.status);
            let reopened = current.status == TaskStatus::Closed && status != TaskStatus::Closed;
            let (close_reason, closed_at) = if reopened {
                (None, None)
            } else {
                (current.close_reason.clone(), current.closed_at)
            };
            let assignee = match &patch.assignee {
                Some(change) => change.clone(),
                None => current.assignee.clone(),
            };
            conn.prepare_cached(
                "UPDATE tasks SET title = ?2, description = ?3, status = ?4, priority = ?5,
                     assignee = ?6, close_reason = ?7, closed_at = ?8, updated_at = ?9
                 WHERE id = ?1",
            )?
            .execute(params![
                id.as_str(),
                patch
                    .title
                    .as_deref()
                    .map_or(current.title.as_str(), str::trim),
                patch.description.as_ref().unwrap_or(&current.description),
                status.as_str(),
                patch.priority.unwrap_or(current.priority),
                assignee,
                close_reason,
                closed_at.map(iso),
                iso(at),
            ])?;
            for dependency in &patch.remove_depends_on {
                conn.prepare_cached(
                    "DELETE FROM dependencies WHERE task_id = ?1 AND depends_on = ?2",
                )?
                .execute([id.as_str(), dependency.as_str()])?;
            }
            for dependency in &patch.add_depends_on {
                add_dependency(conn, id, dependency)?;
            }
            require(conn, id, "task")
        })
    }

    fn close(&self, id: &TaskId, reason: Option<&str>, at: Timestamp) -> StoreResult<Task> {
        self.db.atomic(|conn| {
            let current = require(conn, id, "task")?;
            if current.status == TaskStatus::Closed {
                return Ok(current);
            }
            conn.prepare_cached(
                "UPDATE tasks SET status = 'closed', close_reason = ?2, closed_at = ?3,
                     updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), reason, iso(at)])?;
            require(conn, id, "task")
        })
    }
}
