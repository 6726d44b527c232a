//! The merge engine's error: what stopped a merge run, with what to do about it.
//!
//! Problems of one queue entry (a conflict no tier could resolve, failing quality gates, a
//! branch that vanished) are not errors: they are recorded on the entry and reported in its
//! [`EntryReport`](crate::EntryReport), and the run goes on. A `MergeError` means the run could
//! not safely continue.

use std::path::PathBuf;

use legio_core::ports::StoreError;

use crate::journal::{JournalError, Phase};
use crate::lock::LockError;

/// Why a merge run stopped.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A git operation failed.
    #[error("git failed while {doing}: {message}")]
    Git {
        /// What was being done.
        doing: String,
        /// What libgit2 said.
        message: String,
    },
    /// The merge queue failed.
    #[error("the merge queue failed while {doing}: {source}")]
    Queue {
        /// What was being done.
        doing: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The target's lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The target branch does not exist.
    #[error("the merge target {0} is not a local branch; create it, or name another with --into")]
    NoSuchTarget(String),
    /// The branch to merge does not exist.
    #[error("branch {0} does not exist; `git branch --list 'legio/*'` lists agent branches")]
    NoSuchBranch(String),
    /// The checkout of the target has uncommitted changes.
    #[error("{} has uncommitted changes to tracked files ({}), and it has {target} checked out; commit or stash them first (legio never resets or stashes your work)", checkout.display(), files.join(", "))]
    DirtyTarget {
        /// The target branch.
        target: String,
        /// Its checkout.
        checkout: PathBuf,
        /// The changed files.
        files: Vec<String>,
    },
    /// The branch is claimed by a merge into another target.
    #[error(
        "branch {branch} is being merged into {target} by another legio merge; wait for it to finish"
    )]
    ClaimedElsewhere {
        /// The branch.
        branch: String,
        /// The other merge's target.
        target: String,
    },
    /// Someone moved the target branch while legio was merging into it.
    #[error(
        "{target} moved to {found} while legio was merging into it (expected {expected}); nothing was published. Run legio merge again"
    )]
    TargetMoved {
        /// The target branch.
        target: String,
        /// Where legio expected it.
        expected: String,
        /// Where it was.
        found: String,
    },
    /// An interrupted merge cannot be undone without touching changes legio did not make.
    #[error("cannot undo the interrupted merge of {branch} into {target}: in {} these files changed after the merge began: {}. Stash or commit them elsewhere (`git stash`), then run legio merge again", checkout.display(), files.join(", "))]
    RecoveryBlocked {
        /// The branch that was being merged.
        branch: String,
        /// The target branch.
        target: String,
        /// The target's checkout.
        checkout: PathBuf,
        /// The files legio cannot account for.
        files: Vec<String>,
    },
    /// A file operation failed.
    #[error("I/O error while {doing}: {source}")]
    Io {
        /// What was being done.
        doing: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Test seam: the engine stopped dead at this phase, as if killed.
    #[doc(hidden)]
    #[error("simulated crash at phase {0:?}")]
    SimulatedCrash(Phase),
}

impl MergeError {
    /// Whether the run must stop (as opposed to recording the failure on the entry at hand
    /// and going on with the next one).
    pub(crate) fn stops_the_run(&self) -> bool {
        !matches!(self, MergeError::Git { .. } | MergeError::Io { .. })
    }
}

/// Maps a git2 error, naming what was being done.
pub(crate) fn git(doing: impl Into<String>) -> impl FnOnce(git2::Error) -> MergeError {
    let doing = doing.into();
    move |e| MergeError::Git {
        doing,
        message: e.message().to_owned(),
    }
}

/// Maps a queue error, naming what was being done.
pub(crate) fn queue(doing: impl Into<String>) -> impl FnOnce(StoreError) -> MergeError {
    let doing = doing.into();
    move |source| MergeError::Queue { doing, source }
}
