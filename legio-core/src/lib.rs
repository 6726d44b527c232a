//! legio-core: the domain of legio, a fleet of coding agents working on one repository.
//!
//! It owns the domain types (agents and their state machine, runs, mail, events, metrics, merge
//! entries, tasks), validated names, timestamps and ids, the `.legio/` layout, the
//! configuration, and the **ports**: the traits every storage, process and OS boundary is
//! reached through. Pure logic (guards, health rules, mail formatting, cost estimation, fleet
//! operations) is written against those ports.
//!
//! Architecture invariant: this crate never spawns a process, never touches the terminal,
//! never reads the process environment and never opens a database. It reads and writes plain
//! files only where a function says so. Time, ids and environment arrive as values.

pub mod assets;
pub mod config;
pub mod costs;
pub mod domain;
pub mod guard;
pub mod hook;
pub mod ids;
pub mod layout;
pub mod mail;
pub mod manifest;
pub mod names;
pub mod ops;
pub mod overlay;
pub mod ports;
pub mod redact;
pub mod time;
pub mod toolfilter;

pub use domain::UnknownValue;
pub use domain::agent::{AgentSession, AgentState, Capability, Run, RunStatus};
pub use layout::Layout;
pub use names::{AgentName, NameError, TaskId};
pub use time::{Clock, SystemClock, Timestamp};
