//! legio-store: the SQLite implementations of legio-core's store ports.
//!
//! One database file per concern under `.legio/`, with legio 0.1.0's table and column names:
//!
//! | file | tables | type |
//! |---|---|---|
//! | `sessions.db` | `sessions`, `runs` | [`SqliteSessionStore`] |
//! | `mail.db` | `messages` | [`SqliteMailStore`] |
//! | `events.db` | `events` | [`SqliteEventStore`] |
//! | `metrics.db` | `sessions`, `token_snapshots` | [`SqliteMetricsStore`] |
//! | `merge-queue.db` | `merge_queue` | [`SqliteMergeQueue`] |
//! | `tasks.db` | `tasks`, `dependencies` | [`SqliteTaskStore`] |
//!
//! Opening a file creates it (and `.legio/`) if missing, sets WAL journaling, `synchronous =
//! NORMAL` and a busy timeout, and applies the numbered migrations recorded in `PRAGMA
//! user_version` in one transaction; legio 0.1.0's files (version 0, tables present) are
//! adopted with every row kept. An up-to-date file opens without any DDL. Timestamps are stored
//! as fixed-width UTC `YYYY-MM-DDTHH:MM:SS.sssZ`, so they compare as strings.
//!
//! [`inspect`] looks at a file without creating, migrating or changing it (`legio doctor`):
//! its schema version against the one this binary writes ([`DbFile::schema_version`]), its
//! journal mode and `PRAGMA integrity_check`.
//!
//! Open only the stores a command needs (`SqliteMailStore::open_in(&layout)`), or all of them
//! with [`Stores::open_all`]. Each store holds one connection: it is `Send`, not `Sync`; open
//! one per thread. Closing a store does not checkpoint the WAL (two fsyncs per hook process)
//! unless the WAL has grown past 256 KiB, which keeps both closes and the next open cheap.
//!
//! Tests: `cargo test -p legio-store` (real files in temporary directories, including a
//! multi-process race harness, `tests/multiprocess.rs`). Timings on 1,000,000 events and
//! 100,000 messages: `cargo bench -p legio-store --bench queries`.
//!
//! Architecture invariant: nothing here knows about the terminal, tmux, git or the agents'
//! processes, and nothing reads the environment. Every read-modify-write is one statement or one
//! `BEGIN IMMEDIATE` transaction, so concurrent hook processes cannot double-deliver mail,
//! exceed a spawn limit or claim a merge twice. Errors name the file and never panic.

mod db;
mod events;
mod inspect;
mod mail;
mod merge_queue;
mod metrics;
mod migrate;
mod row;
mod sessions;
mod tasks;

/// Defines a store type holding one [`db::Db`] (plus any extra fields with their defaults),
/// with its constructors.
macro_rules! store_type {
    (
        $(#[$doc:meta])* $name:ident, $schema:expr, $layout_file:ident
        $(, $field:ident : $ty:ty = $default:expr)* $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            db: $crate::db::Db,
            $($field: $ty,)*
        }

        impl $name {
            /// Opens the database file at `path`, creating and migrating it as needed.
            pub fn open(
                path: impl AsRef<std::path::Path>,
            ) -> legio_core::ports::StoreResult<Self> {
                Self::open_with(path, &$crate::OpenOptions::default())
            }

            /// Opens the database file at `path` with `options`.
            pub fn open_with(
                path: impl AsRef<std::path::Path>,
                options: &$crate::OpenOptions,
            ) -> legio_core::ports::StoreResult<Self> {
                Ok(Self {
                    db: $crate::db::Db::open(path.as_ref(), &$schema, options)?,
                    $($field: $default,)*
                })
            }

            /// Opens the project's file under `.legio/`.
            pub fn open_in(layout: &legio_core::Layout) -> legio_core::ports::StoreResult<Self> {
                Self::open(layout.$layout_file())
            }

            /// The database file.
            pub fn path(&self) -> &std::path::Path {
                self.db.path()
            }
        }
    };
}
pub(crate) use store_type;

pub use db::OpenOptions;
pub use events::SqliteEventStore;
pub use inspect::{DbFile, Inspection, inspect};
pub use mail::SqliteMailStore;
pub use merge_queue::SqliteMergeQueue;
pub use metrics::SqliteMetricsStore;
pub use sessions::SqliteSessionStore;
pub use tasks::SqliteTaskStore;

use legio_core::Layout;
use legio_core::ports::StoreResult;

/// Every store of a project, for commands that need most of them.
#[derive(Debug)]
pub struct Stores {
    /// `sessions.db`.
    pub sessions: SqliteSessionStore,
    /// `mail.db`.
    pub mail: SqliteMailStore,
    /// `events.db`.
    pub events: SqliteEventStore,
    /// `metrics.db`.
    pub metrics: SqliteMetricsStore,
    /// `merge-queue.db`.
    pub merge_queue: SqliteMergeQueue,
    /// `tasks.db`.
    pub tasks: SqliteTaskStore,
}

impl Stores {
    /// Opens (creating and migrating) every database of the project.
    pub fn open_all(layout: &Layout) -> StoreResult<Self> {
        Self::open_all_with(layout, &OpenOptions::default())
    }

    /// Opens every database of the project with `options`.
    pub fn open_all_with(layout: &Layout, options: &OpenOptions) -> StoreResult<Self> {
        Ok(Self {
            sessions: SqliteSessionStore::open_with(layout.sessions_db(), options)?,
            mail: SqliteMailStore::open_with(layout.mail_db(), options)?,
            events: SqliteEventStore::open_with(layout.events_db(), options)?,
            metrics: SqliteMetricsStore::open_with(layout.metrics_db(), options)?,
            merge_queue: SqliteMergeQueue::open_with(layout.merge_queue_db(), options)?,
            tasks: SqliteTaskStore::open_with(layout.tasks_db(), options)?,
        })
    }
}
