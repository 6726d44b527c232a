//! legio-watchdog: keeps the fleet alive. Pure health rules ("observable state wins"),
//! compare-and-swap state transitions, the daemon tick (one multiplexer listing and one batch
//! of pid checks per tick), progressive escalation (warn, nudge, triage, terminate), triage
//! through the agent runtime, and recovery of dead agents into their existing worktree.
//!
//! Architecture invariant: the tick is generic over legio-core's ports; it never calls tmux,
//! git or SQLite directly, so every rule is testable with a fake clock, multiplexer and probe.
