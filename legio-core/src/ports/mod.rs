//! The ports: traits at every process, OS and storage boundary.
//!
//! legio-core's logic is written against these; `legio-store`, `legio-tmux` and `legio-merge`
//! implement them, and tests use fakes that reject what the real thing would.

pub mod git;
pub mod mux;
pub mod runtime;
pub mod store;
pub mod system;

pub use git::{
    BranchDisposal, GitError, Removal, RemoveOptions, Worktree, WorktreeSpec, Worktrees,
};
pub use mux::{Multiplexer, MuxError, MuxSession, SessionSpec};
pub use runtime::{AgentRuntime, LaunchContext, LaunchPlan, OneShot, Readiness, RuntimeError};
pub use store::{
    Admission, AdmissionDenied, AdmissionLimits, EventQuery, EventStore, MailFilter, MailStore,
    MergeQueue, MetricsStore, PurgeCriteria, SessionStore, StoreError, StoreResult, TaskFilter,
    TaskStore,
};
pub use system::ProcessProbe;
