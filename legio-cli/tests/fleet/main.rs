//! The fleet as a user drives it, through the real `legio` binary: `legio sling` in real git
//! repositories, agents in a real tmux server on a private socket (or headless processes),
//! played by `legio sim-agent`, which calls the hooks as Claude Code does.
//!
//! - `flow`: init, three builders, their hooks in the stores, status, nudge, stop, worktree
//!   clean; the same body on tmux and headless.
//! - `failpoints`: a failure injected after every step of sling leaves nothing behind.
//! - `snapshots`: the overlay and settings of every role; the user's own root settings survive
//!   a root agent's start and stop.
//! - `claude`: a `claude`-runtime agent in tmux whose first prompt reaches the (scripted) model.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "../support/mod.rs"]
mod support;

mod claude;
mod failpoints;
mod flow;
mod harness;
mod snapshots;
