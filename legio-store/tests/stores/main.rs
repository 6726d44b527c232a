//! The SQLite stores against real temporary database files.

mod common;
mod errors;
mod events;
mod files;
mod legacy;
mod mail;
mod merge_queue;
mod metrics;
mod sessions;
mod tasks;
