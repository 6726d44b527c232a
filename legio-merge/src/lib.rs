//! legio-merge: everything in legio that touches git.
//!
//! - [`GitWorktrees`]: legio-core's `Worktrees` port on git2. Each agent gets branch
//!   `legio/<agent>/<task>` and a worktree at `.legio/worktrees/<agent>`.
//! - [`MergeRunner`]: the merge engine. It lands queued branches on a target branch under a
//!   lock per target, refuses a target checkout with uncommitted changes, claims queue entries
//!   atomically, merges **in memory** and resolves conflicts tier by tier (clean; mechanical
//!   resolution that keeps both sides; the agent runtime's answer, checked; reimagine, which
//!   returns a [`Handoff`] for the caller to sling), runs the quality gates on the result, and
//!   only then moves the target ref, with a compare-and-swap. A journal per target lets the
//!   next run undo whatever a killed run left half-done. [`MergeRunner::predict`] is the dry
//!   run. Each finished entry is reported to the caller ([`EntryReport`]); sending `merged` /
//!   `merge_failed` mail and recording events is the caller's job.
//! - [`QualityGates`]: the seam for the configured checks; [`CommandGates`] runs argv commands.
//! - [`testing::MemoryQueue`]: a strict in-memory queue for tests and benchmarks.
//!
//! Architecture invariants: no resolution drops a side of a conflict without saying so (tier
//! 2 keeps both sides or declines); the user's uncommitted changes are never reset, stashed or
//! overwritten; a merge is visible on the target only after its gates passed. This crate does
//! no terminal I/O and reads no environment variables, and runs no git binary. git2 runs no git
//! hooks and no LFS filters, so merges made here do not trigger them; `.gitattributes`
//! (`merge=union`) is read from the main checkout, as libgit2 does.

mod ai;
mod analysis;
mod checkout;
mod error;
mod gates;
mod journal;
mod lock;
mod mechanical;
mod repo;
mod report;
mod runner;
pub mod testing;
mod worktrees;

pub use error::MergeError;
pub use gates::{CommandGates, GateCommand, GateReport, GateResult, NoGates, QualityGates};
pub use journal::{Journal, JournalError, Phase};
pub use lock::{LockError, TargetLock};
pub use report::{
    ConflictKind, EntryReport, FileConflict, FileResolution, Handoff, Prediction, Recovery,
    Resolution, RunReport,
};
pub use runner::{MergeOptions, MergePorts, MergeRunner, commit_message};
pub use worktrees::GitWorktrees;
