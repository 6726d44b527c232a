//! Fleet operations: the work behind legio's commands, written against the ports so that the
//! CLI only parses, wires real implementations and prints.
//!
//! - [`checkpoint`]: what a dead agent's replacement needs (`checkpoint.json`).
//! - [`cost_report`]: what each agent cost, from its Claude Code transcripts.
//! - [`groups`]: task groups (`groups.json`) that close themselves when their tasks are done.
//! - [`hook`]: one Claude Code hook event, handled in one process.
//! - [`logs`]: the agents' output logs and legio's error log, read and followed by offset.
//! - [`settings`]: the Claude Code settings deployed for an agent.
//! - [`views`]: the read-only views behind inspect, trace, feed, replay, errors, metrics.

pub mod checkpoint;
pub mod clean;
pub mod cost_report;
pub mod dashboard;
pub mod doctor;
pub mod groups;
pub mod hook;
pub mod logs;
pub mod merge_flow;
pub mod pidfile;
pub mod settings;
pub mod views;
