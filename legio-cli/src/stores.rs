//! Opening the real (SQLite) stores. Commands open exactly the stores they need.

use legio_core::Layout;
use legio_core::ports::{EventStore, MailStore, MergeQueue, MetricsStore, SessionStore, TaskStore};
use legio_store::{
    SqliteEventStore, SqliteMailStore, SqliteMergeQueue, SqliteMetricsStore, SqliteSessionStore,
    SqliteTaskStore,
};

use crate::error::CliResult;

/// `sessions.db`.
pub fn sessions(layout: &Layout) -> CliResult<Box<dyn SessionStore>> {
    Ok(Box::new(SqliteSessionStore::open_in(layout)?))
}

/// `mail.db`.
pub fn mail(layout: &Layout) -> CliResult<Box<dyn MailStore>> {
    Ok(Box::new(SqliteMailStore::open_in(layout)?))
}

/// `events.db`.
pub fn events(layout: &Layout) -> CliResult<Box<dyn EventStore>> {
    Ok(Box::new(SqliteEventStore::open_in(layout)?))
}

/// `metrics.db`.
pub fn metrics(layout: &Layout) -> CliResult<Box<dyn MetricsStore>> {
    Ok(Box::new(SqliteMetricsStore::open_in(layout)?))
}

/// `merge-queue.db`.
pub fn merge_queue(layout: &Layout) -> CliResult<Box<dyn MergeQueue>> {
    Ok(Box::new(SqliteMergeQueue::open_in(layout)?))
}

/// `tasks.db`; generated ids start with `prefix` (the project's name, when it makes a valid id).
pub fn tasks(layout: &Layout, prefix: &str) -> CliResult<Box<dyn TaskStore>> {
    let store = SqliteTaskStore::open_in(layout)?;
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    if prefix.is_empty() || legio_core::TaskId::new(format!("{prefix}-a1b2c3")).is_err() {
        return Ok(Box::new(store));
    }
    Ok(Box::new(store.with_id_prefix(&prefix)?))
}
