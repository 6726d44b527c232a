//! legio-watchdog: keeps the fleet alive.
//!
//! - [`health`]: the pure health rules ("observable state wins"): which agents are fine,
//!   finished, dead, stalled, idle without reporting, or need a look.
//! - [`escalation`]: the pure escalation ladders (warn, nudge, triage, terminate for a stalled
//!   agent; nudge, then tell the parent, for an idle one).
//! - [`triage`]: Tier 1, a one-shot question to the agent runtime with a strict verdict.
//! - [`recovery`]: restarting dead agents in their existing worktree ([`Respawner`]), with a
//!   bounded, persisted number of attempts.
//! - [`Watchdog::tick`]: one pass over the fleet with one multiplexer listing and one batch of
//!   pid checks, acting on each verdict; compare-and-swap state transitions only, and each dead
//!   agent handled once.
//! - [`daemon`]: one daemon per project (a lock on `.legio/watchdog.pid`) and the tick loop.
//!
//! Tests: `cargo test -p legio-watchdog` (fakes of the multiplexer, probe, runtime and
//! respawner; the real SQLite stores). Benchmark: `cargo bench -p legio-watchdog --bench tick`.
//!
//! Architecture invariant: the tick is written against legio-core's ports; it never calls tmux,
//! git or SQLite directly and never prints. It only acts on sessions the multiplexer lists,
//! which are the sessions legio created on its own socket.

mod act;
pub mod daemon;
mod death;
mod error;
pub mod escalation;
pub mod health;
mod ladder;
mod policy;
pub mod recovery;
mod report;
mod tick;
pub mod triage;

#[cfg(test)]
extern crate self as legio_watchdog;
#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;

pub use act::WATCHDOG;
pub use error::WatchdogError;
pub use health::{DeathCause, Verdict};
pub use policy::{MAX_IDLE_NUDGES, Policy};
pub use recovery::{RecoveryOutcome, RespawnError, RespawnRequest, Respawner};
pub use report::{Action, SessionEnd, TickReport};
pub use tick::{Ports, Watchdog};
