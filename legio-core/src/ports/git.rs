//! The git port: worktrees and branches. `legio-merge` implements it with git2.

use std::path::{Path, PathBuf};

/// A worktree to create: branch `legio/<agent>/<task>` from `base`, at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeSpec {
    /// Where the worktree goes (`<root>/.legio/worktrees/<agent>`).
    pub path: PathBuf,
    /// The new branch.
    pub branch: String,
    /// What it starts from (the merge target).
    pub base: String,
    /// Reuse an existing branch of that name instead of failing (recovery).
    pub reuse_branch: bool,
}

/// A worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch (empty when detached).
    pub branch: String,
    /// Its HEAD commit (hex).
    pub head: String,
}

/// What to do with a worktree's branch on removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchDisposal {
    /// Keep it.
    Keep,
    /// Delete it only if it is merged into the given target; otherwise keep it and say so.
    DeleteIfMerged,
    /// Delete it regardless.
    Force,
}

/// How to remove a worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveOptions {
    /// Remove even with uncommitted changes.
    pub force_dirty: bool,
    /// What to do with its branch.
    pub branch: BranchDisposal,
    /// The branch that "merged" is checked against.
    pub merge_target: String,
}

/// What removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The worktree directory was removed.
    pub worktree_removed: bool,
    /// The branch was deleted.
    pub branch_deleted: bool,
    /// Why the branch was kept, if it was.
    pub branch_kept_reason: Option<String>,
}

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Not inside a git repository.
    #[error("{} is not inside a git repository; run `git init` first", path.display())]
    NotARepository {
        /// Where legio looked.
        path: PathBuf,
    },
    /// The branch is checked out in another worktree.
    #[error("branch {branch} is already checked out at {}", path.display())]
    BranchCheckedOut {
        /// The branch.
        branch: String,
        /// Where.
        path: PathBuf,
    },
    /// The branch exists already.
    #[error(
        "branch {0} already exists; remove it (`legio worktree clean`) or pick another agent name"
    )]
    BranchExists(String),
    /// No such branch.
    #[error("branch {0} does not exist")]
    NoSuchBranch(String),
    /// The path exists already.
    #[error("{} already exists", .0.display())]
    PathExists(PathBuf),
    /// The working tree has uncommitted changes.
    #[error("{} has uncommitted changes: {}", path.display(), files.join(", "))]
    Dirty {
        /// The tree.
        path: PathBuf,
        /// The changed files.
        files: Vec<String>,
    },
    /// Anything else git reported.
    #[error("git {operation} failed: {message}")]
    Failed {
        /// What was being done.
        operation: String,
        /// What git said.
        message: String,
    },
}

/// Worktrees and branches of the project repository.
pub trait Worktrees {
    /// Creates a worktree on a new branch.
    fn create(&self, spec: &WorktreeSpec) -> Result<Worktree, GitError>;

    /// Every worktree of the repository, the main one first.
    fn list(&self) -> Result<Vec<Worktree>, GitError>;

    /// Removes a worktree and disposes of its branch.
    fn remove(&self, path: &Path, options: &RemoveOptions) -> Result<Removal, GitError>;

    /// Whether `branch` is fully merged into `target`.
    fn is_merged(&self, branch: &str, target: &str) -> Result<bool, GitError>;

    /// Whether a local branch exists.
    fn branch_exists(&self, branch: &str) -> Result<bool, GitError>;

    /// The branch checked out in the main worktree (`None` when detached).
    fn current_branch(&self) -> Result<Option<String>, GitError>;

    /// Uncommitted changes (paths) in the working tree at `path`; empty when clean.
    fn dirty_files(&self, path: &Path) -> Result<Vec<String>, GitError>;

    /// Files changed on `branch` since it forked from `base`.
    fn changed_files(&self, branch: &str, base: &str) -> Result<Vec<String>, GitError>;
}
