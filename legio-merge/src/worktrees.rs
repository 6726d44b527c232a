//! [`GitWorktrees`]: legio-core's `Worktrees` port on git2.
//!
//! Agents get a linked worktree each, on their own branch. Creation fails cleanly (a branch it
//! made is deleted again when the worktree cannot be added); removal refuses a dirty worktree
//! and decides the branch's fate before it removes anything, so an unmerged branch is never
//! deleted by accident.

use std::path::Path;

use git2::{BranchType, Repository, WorktreeAddOptions, WorktreePruneOptions};
use legio_core::ports::git::{
    BranchDisposal, GitError, Removal, RemoveOptions, Worktree, WorktreeSpec, Worktrees,
};

use crate::repo::{self, Checkout, Head};

/// The project repository's worktrees and branches.
pub struct GitWorktrees {
    repo: Repository,
}

impl std::fmt::Debug for GitWorktrees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitWorktrees")
            .field("git_dir", &self.repo.commondir())
            .finish()
    }
}

fn failed(operation: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let operation = operation.into();
    move |e| GitError::Failed {
        operation,
        message: e.message().to_owned(),
    }
}

impl GitWorktrees {
    /// Opens the repository whose working tree (main or linked) contains `root`.
    pub fn open(root: &Path) -> Result<Self, GitError> {
        let repo = Repository::discover(root).map_err(|_| GitError::NotARepository {
            path: root.to_path_buf(),
        })?;
        Ok(Self { repo })
    }

    /// The underlying repository handle.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    fn checkouts(&self) -> Result<Vec<Checkout>, GitError> {
        repo::checkouts(&self.repo).map_err(failed("worktree list"))
    }

    fn tip(&self, branch: &str) -> Result<git2::Oid, GitError> {
        repo::branch_tip(&self.repo, branch)
            .map_err(failed(format!("rev-parse {branch}")))?
            .ok_or_else(|| GitError::NoSuchBranch(branch.to_owned()))
    }

    fn to_worktree(&self, c: &Checkout) -> Worktree {
        let (branch, head) = match &c.head {
            Head::Branch(b) => {
                let head = repo::branch_tip(&self.repo, b)
                    .ok()
                    .flatten()
                    .map(|id| id.to_string())
                    .unwrap_or_default();
                (b.clone(), head)
            }
            Head::Detached(id) => (String::new(), id.to_string()),
            Head::Other => (String::new(), String::new()),
        };
        Worktree {
            path: c.path.clone(),
            branch,
            head,
        }
    }

    fn add_worktree(&self, spec: &WorktreeSpec) -> Result<Worktree, GitError> {
        let name = spec
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| GitError::Failed {
                operation: "worktree add".into(),
                message: format!("{} has no usable directory name", spec.path.display()),
            })?;
        if let Ok(old) = self.repo.find_worktree(name) {
            if old.validate().is_ok() {
                return Err(GitError::Failed {
                    operation: "worktree add".into(),
                    message: format!(
                        "a worktree named {name} already exists at {}; remove it first",
                        old.path().display()
                    ),
                });
            }
            self.prune_stale(name)?;
        }
        if let Some(parent) = spec.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GitError::Failed {
                operation: "worktree add".into(),
                message: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        let reference = self
            .repo
            .find_reference(&repo::branch_ref(&spec.branch))
            .map_err(failed(format!("worktree add {}", spec.path.display())))?;
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(&reference));
        self.repo
            .worktree(name, &spec.path, Some(&opts))
            .map_err(failed(format!("worktree add {}", spec.path.display())))?;
        Ok(Worktree {
            path: spec.path.clone(),
            branch: spec.branch.clone(),
            head: self.tip(&spec.branch)?.to_string(),
        })
    }

    /// Forgets the worktree `name`, whose directory is gone, so its name and branch are free.
    fn prune_stale(&self, name: &str) -> Result<(), GitError> {
        let wt = self
            .repo
            .find_worktree(name)
            .map_err(failed(format!("worktree prune {name}")))?;
        wt.prune(Some(WorktreePruneOptions::new().valid(false)))
            .map_err(failed(format!("worktree prune {name}")))
    }

    fn delete_branch(&self, branch: &str) -> Result<(), git2::Error> {
        self.repo.find_branch(branch, BranchType::Local)?.delete()
    }
}

impl Worktrees for GitWorktrees {
    fn create(&self, spec: &WorktreeSpec) -> Result<Worktree, GitError> {
        if !git2::Reference::is_valid_name(&repo::branch_ref(&spec.branch)) {
            return Err(GitError::Failed {
                operation: "branch".into(),
                message: format!("{:?} is not a valid branch name", spec.branch),
            });
        }
        if spec.path.symlink_metadata().is_ok() {
            return Err(GitError::PathExists(spec.path.clone()));
        }
        let created_branch = if self.branch_exists(&spec.branch)? {
            if !spec.reuse_branch {
                return Err(GitError::BranchExists(spec.branch.clone()));
            }
            if let Some(c) = repo::checkout_of_branch(&self.repo, &spec.branch)
                .map_err(failed("worktree list"))?
            {
                match &c.name {
                    // A worktree whose directory is gone (a dead agent's): forget it.
                    Some(name) if !c.path.exists() => self.prune_stale(name)?,
                    _ => {
                        return Err(GitError::BranchCheckedOut {
                            branch: spec.branch.clone(),
                            path: c.path,
                        });
                    }
                }
            }
            false
        } else {
            let base = self
                .repo
                .revparse_single(&spec.base)
                .and_then(|o| o.peel_to_commit())
                .map_err(|_| GitError::NoSuchBranch(spec.base.clone()))?;
            self.repo
                .branch(&spec.branch, &base, false)
                .map_err(failed(format!("branch {} {}", spec.branch, spec.base)))?;
            true
        };
        self.add_worktree(spec).inspect_err(|_| {
            // Leave nothing behind: the branch this call made, and any partial directory.
            if created_branch {
                let _ = self.delete_branch(&spec.branch);
            }
            if spec.path.exists() {
                let _ = std::fs::remove_dir_all(&spec.path);
            }
        })
    }

    fn list(&self) -> Result<Vec<Worktree>, GitError> {
        Ok(self
            .checkouts()?
            .iter()
            .map(|c| self.to_worktree(c))
            .collect())
    }

    fn remove(&self, path: &Path, options: &RemoveOptions) -> Result<Removal, GitError> {
        let checkout = self
            .checkouts()?
            .into_iter()
            .find(|c| c.name.is_some() && repo::same_path(&c.path, path))
            .ok_or_else(|| GitError::NoSuchWorktree(path.to_path_buf()))?;
        let name = checkout.name.clone().unwrap_or_default();
        let present = checkout.path.exists();
        if present && !options.force_dirty {
            let files = self.dirty_files(&checkout.path)?;
            if !files.is_empty() {
                return Err(GitError::Dirty {
                    path: checkout.path,
                    files,
                });
            }
        }
        // Decide the branch's fate before anything is removed.
        let branch = checkout.branch().unwrap_or_default().to_owned();
        let mut kept_reason = None;
        let delete = match (branch.is_empty(), options.branch) {
            (true, _) | (false, BranchDisposal::Keep) => false,
            (false, BranchDisposal::Force) => true,
            (false, BranchDisposal::DeleteIfMerged) => {
                let merged = self.is_merged(&branch, &options.merge_target)?;
                if !merged {
                    kept_reason = Some(format!(
                        "branch {branch} has commits not merged into {}; merge it (`legio merge --branch {branch}`) or force its deletion",
                        options.merge_target
                    ));
                }
                merged
            }
        };
        let wt = self
            .repo
            .find_worktree(&name)
            .map_err(failed(format!("worktree remove {}", path.display())))?;
        wt.prune(Some(
            WorktreePruneOptions::new()
                .valid(true)
                .locked(false)
                .working_tree(true),
        ))
        .map_err(failed(format!("worktree remove {}", path.display())))?;
        if present && checkout.path.exists() {
            std::fs::remove_dir_all(&checkout.path).map_err(|e| GitError::Failed {
                operation: format!("worktree remove {}", path.display()),
                message: e.to_string(),
            })?;
        }
        let mut branch_deleted = false;
        if delete {
            match self.delete_branch(&branch) {
                Ok(()) => branch_deleted = true,
                Err(e) => {
                    kept_reason = Some(format!(
                        "branch {branch} could not be deleted: {}",
                        e.message()
                    ));
                }
            }
        }
        Ok(Removal {
            worktree_removed: true,
            branch_deleted,
            branch_kept_reason: if branch.is_empty() { None } else { kept_reason },
        })
    }

    fn is_merged(&self, branch: &str, target: &str) -> Result<bool, GitError> {
        let b = self.tip(branch)?;
        let t = self.tip(target)?;
        Ok(b == t
            || self.repo.graph_descendant_of(t, b).map_err(failed(format!(
                "merge-base --is-ancestor {branch} {target}"
            )))?)
    }

    fn branch_exists(&self, branch: &str) -> Result<bool, GitError> {
        Ok(repo::branch_tip(&self.repo, branch)
            .map_err(failed(format!("rev-parse {branch}")))?
            .is_some())
    }

    fn current_branch(&self) -> Result<Option<String>, GitError> {
        Ok(self
            .checkouts()?
            .first()
            .and_then(|c| c.branch().map(str::to_owned)))
    }

    fn dirty_files(&self, path: &Path) -> Result<Vec<String>, GitError> {
        let repo = Repository::open(path).map_err(|_| GitError::NotARepository {
            path: path.to_path_buf(),
        })?;
        repo::changed_paths(&repo, true).map_err(failed(format!("status in {}", path.display())))
    }

    fn changed_files(&self, branch: &str, base: &str) -> Result<Vec<String>, GitError> {
        self.tip(branch)?;
        self.tip(base)?;
        repo::changed_files(&self.repo, branch, base)
            .map_err(failed(format!("diff {base}...{branch}")))
    }
}
