//! legio-store: the SQLite implementations of legio-core's store ports.
//!
//! One database file per concern under `.legio/` (sessions, mail, events, metrics, merge queue,
//! tasks), with legio 0.1.0's table and column names, WAL journaling, a busy timeout, and
//! numbered migrations tracked in `PRAGMA user_version`.
//!
//! Architecture invariant: nothing here knows about the terminal, tmux, git or the agents'
//! processes; every read-modify-write is one transaction.
