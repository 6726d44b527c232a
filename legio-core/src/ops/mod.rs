//! Fleet operations: the work behind legio's commands, written against the ports so that the
//! CLI only parses, wires real implementations and prints.
//!
//! | module | job |
//! |---|---|
//! | [`sling`] | put an agent on a task in its own worktree and session |
//! | [`root_agent`] | start, stop and inspect the agents working at the project root |
//! | [`respawn`] | start a dead agent again in its existing worktree, on its existing branch |
//! | [`spawn`] | what they share: steps, undo, the failpoint seam, errors |
//! | [`launch`] | an agent's environment, its process, text delivered and verified |
//! | [`stop`] | end agents, deepest first |
//! | [`nudge`] | type a message into an agent's session, verified and debounced |
//! | [`prime`] | the context text for an agent or the orchestrator |
//! | [`status`] | one read-only snapshot of the fleet |
//! | [`worktree`] | list agent worktrees and clean finished ones |
//! | [`spec`] | write a task's spec file |
//! | [`hook`] | one Claude Code hook event |
//! | [`settings`], [`root_hooks`] | legio's hooks in Claude Code settings files |
//! | [`merge_flow`] | the merge queue's producers and the mail a merge sends |
//! | [`views`] | the read-only views behind inspect, trace, feed, replay, errors, metrics |
//! | [`logs`] | the agents' output logs and legio's error log, read and followed by offset |
//! | [`cost_report`] | what each agent cost, from its Claude Code transcripts |
//! | [`groups`] | task groups (`groups.json`) that close themselves when their tasks are done |
//! | [`dashboard`] | the data behind the dashboard screen |
//! | [`doctor`], [`clean`] | health checks with safe repairs; removing legio's state safely |
//! | [`checkpoint`], [`lock`], [`pidfile`], [`undo`] | small helpers: checkpoints, lock files, pid files, compensations |

pub mod checkpoint;
pub mod clean;
pub mod cost_report;
pub mod dashboard;
pub mod doctor;
pub mod groups;
pub mod hook;
pub mod launch;
pub mod lock;
pub mod logs;
pub mod merge_flow;
pub mod nudge;
pub mod pidfile;
pub mod prime;
pub mod respawn;
pub mod root_agent;
pub mod root_hooks;
pub mod settings;
pub mod sling;
pub mod spawn;
pub mod spec;
pub mod status;
pub mod stop;
pub mod undo;
pub mod views;
pub mod worktree;
