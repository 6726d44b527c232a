//! The git port: worktrees and branches. `legio-merge` implements it with git2.
//!
//! An agent works on branch `legio/<agent>/<task>` in the worktree `.legio/worktrees/<agent>`;
//! [`WorktreeSpec::for_agent`] builds both from validated names, and [`parse_agent_branch`]
//! reads them back.

use std::path::{Path, PathBuf};

use crate::layout::Layout;
use crate::names::{AgentName, TaskId};

/// The prefix of every agent branch.
pub const AGENT_BRANCH_PREFIX: &str = "legio/";

/// The branch of `agent` working on `task`: `legio/<agent>/<task>`.
pub fn agent_branch(agent: &AgentName, task: &TaskId) -> String {
    format!("{AGENT_BRANCH_PREFIX}{agent}/{task}")
}

/// The agent and task named by a branch of the form `legio/<agent>/<task>`, if it is one.
pub fn parse_agent_branch(branch: &str) -> Option<(&str, &str)> {
    let rest = branch.strip_prefix(AGENT_BRANCH_PREFIX)?;
    let (agent, task) = rest.split_once('/')?;
    (!agent.is_empty() && !task.is_empty() && !task.contains('/')).then_some((agent, task))
}

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

impl WorktreeSpec {
    /// The worktree of `agent` working on `task`: branch `legio/<agent>/<task>` from `base`, at
    /// `.legio/worktrees/<agent>`, failing if the branch exists already.
    pub fn for_agent(layout: &Layout, agent: &AgentName, task: &TaskId, base: &str) -> Self {
        Self {
            path: layout.worktree(agent),
            branch: agent_branch(agent, task),
            base: base.to_owned(),
            reuse_branch: false,
        }
    }
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
    #[error("branch {branch} is already checked out at {}; remove that worktree first (`legio worktree clean`)", path.display())]
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
    #[error("{} already exists; remove it or pick another agent name", .0.display())]
    PathExists(PathBuf),
    /// The path is not a linked worktree of this repository (the main checkout is not one).
    #[error("{} is not a linked worktree of this repository; `legio worktree list` shows them", .0.display())]
    NoSuchWorktree(PathBuf),
    /// The working tree has uncommitted changes.
    #[error("{} has uncommitted changes: {}; commit or stash them, or force the removal", path.display(), files.join(", "))]
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
    /// Creates a worktree on a new branch from `spec.base` (or on the existing branch when
    /// `spec.reuse_branch`). On failure nothing it created is left behind.
    fn create(&self, spec: &WorktreeSpec) -> Result<Worktree, GitError>;

    /// Every worktree of the repository, the main one first.
    fn list(&self) -> Result<Vec<Worktree>, GitError>;

    /// Removes a linked worktree and disposes of its branch. A dirty worktree is refused
    /// (nothing removed) unless `force_dirty`; the branch is decided before anything is removed.
    fn remove(&self, path: &Path, options: &RemoveOptions) -> Result<Removal, GitError>;

    /// Whether `branch` is fully merged into `target`.
    fn is_merged(&self, branch: &str, target: &str) -> Result<bool, GitError>;

    /// Whether a local branch exists.
    fn branch_exists(&self, branch: &str) -> Result<bool, GitError>;

    /// The branch checked out in the main worktree (`None` when detached).
    fn current_branch(&self) -> Result<Option<String>, GitError>;

    /// Uncommitted changes in the working tree at `path`: tracked files changed (staged or
    /// not) and untracked files that are not ignored. Empty when clean.
    fn dirty_files(&self, path: &Path) -> Result<Vec<String>, GitError>;

    /// Files changed on `branch` since it forked from `base` (both paths of a rename), sorted.
    fn changed_files(&self, branch: &str, base: &str) -> Result<Vec<String>, GitError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_branches_round_trip() {
        let agent = AgentName::new("builder-1").unwrap();
        let task = TaskId::new("task.7").unwrap();
        let branch = agent_branch(&agent, &task);
        assert_eq!(branch, "legio/builder-1/task.7");
        assert_eq!(parse_agent_branch(&branch), Some(("builder-1", "task.7")));
        let spec = WorktreeSpec::for_agent(&Layout::new("/p"), &agent, &task, "main");
        assert_eq!(spec.path, Path::new("/p/.legio/worktrees/builder-1"));
        assert_eq!(spec.branch, branch);
        assert!(!spec.reuse_branch);
    }

    #[test]
    fn other_branches_name_no_agent() {
        for b in [
            "main",
            "legio/",
            "legio/a",
            "legio//t",
            "legio/a/",
            "legio/a/b/c",
            "feature/a/b",
        ] {
            assert_eq!(parse_agent_branch(b), None, "{b}");
        }
    }
}
