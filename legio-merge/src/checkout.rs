//! The files of a checkout: bringing the target's checkout to a merge result, putting it back,
//! and scratch worktrees for running quality gates when the target is not checked out.
//!
//! Architecture invariant: nothing here overwrites or removes a change legio did not make.
//! [`update_to`] refuses when a file the merge adds is already present, and uses libgit2's safe
//! checkout (which refuses to overwrite uncommitted changes). [`restore`] puts back only paths
//! whose current content is exactly what the merge wrote, and leaves changes to paths the
//! merge did not touch alone; if a path the merge changed holds anything else, it refuses and
//! names the files, so an interrupted merge is never "recovered" over the user's edits.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{
    Commit, Delta, DiffOptions, ObjectType, Oid, Repository, Tree, WorktreeAddOptions,
    WorktreePruneOptions,
};

/// Why a checkout could not be changed.
#[derive(Debug)]
pub(crate) enum CheckoutError {
    /// Files the merge would write exist already (untracked or ignored).
    InTheWay(Vec<String>),
    /// Files changed by someone other than legio.
    Unexplained(Vec<String>),
    /// libgit2 failed.
    Git(git2::Error),
}

impl From<git2::Error> for CheckoutError {
    fn from(e: git2::Error) -> Self {
        CheckoutError::Git(e)
    }
}

fn to_path(raw: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(raw))
}

fn display(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn workdir(repo: &Repository) -> Result<PathBuf, git2::Error> {
    repo.workdir()
        .map(Path::to_path_buf)
        .ok_or_else(|| git2::Error::from_str("the repository has no working tree"))
}

/// Brings the checkout `wrepo` (HEAD at the tree `pre`) to the tree `merged`: files and index.
/// The branch ref is not moved.
pub(crate) fn update_to(
    wrepo: &Repository,
    pre: &Tree<'_>,
    merged: &Tree<'_>,
) -> Result<(), CheckoutError> {
    let root = workdir(wrepo)?;
    let diff = wrepo.diff_tree_to_tree(Some(pre), Some(merged), None)?;
    let in_the_way: Vec<String> = diff
        .deltas()
        .filter(|d| d.status() == Delta::Added)
        .filter_map(|d| d.new_file().path_bytes())
        .filter(|p| root.join(to_path(p)).symlink_metadata().is_ok())
        .map(display)
        .collect();
    if !in_the_way.is_empty() {
        return Err(CheckoutError::InTheWay(in_the_way));
    }
    wrepo.checkout_tree(merged.as_object(), Some(CheckoutBuilder::new().safe()))?;
    Ok(())
}

/// The blob id of whatever is at `raw` in the checkout now (`None` when nothing is), with the
/// repository's filters applied as git would when adding it.
fn hash_at(wrepo: &Repository, root: &Path, raw: &[u8]) -> Result<Option<Oid>, git2::Error> {
    let path = root.join(to_path(raw));
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(None);
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&path)
            .map_err(|e| git2::Error::from_str(&format!("{}: {e}", path.display())))?;
        return Oid::hash_object(ObjectType::Blob, target.as_os_str().as_bytes()).map(Some);
    }
    if meta.is_dir() {
        return Ok(None);
    }
    wrepo.blob_path(&path).map(Some)
}

fn id_in(tree: &Tree<'_>, raw: &[u8]) -> Option<Oid> {
    tree.get_path(to_path(raw)).ok().map(|e| e.id())
}

/// Puts the checkout `wrepo` back to the commit `pre` wherever it holds what the merge tree
/// `merged` has; refuses (changing nothing) if any other change is found. Returns the files
/// put back.
pub(crate) fn restore(
    wrepo: &Repository,
    pre: &Commit<'_>,
    merged: &Tree<'_>,
) -> Result<Vec<String>, CheckoutError> {
    let root = workdir(wrepo)?;
    let pre_tree = pre.tree()?;
    let mut index = wrepo.index()?;
    index.read(true)?;
    let mut ours: Vec<Vec<u8>> = Vec::new();
    let mut unexplained: Vec<String> = Vec::new();
    // A path that differs from the commit is the merge's doing if it holds the merge's version;
    // someone else's if the merge never changed that path (left alone); and unexplained if the
    // merge changed it and it now holds neither version.
    let mut judge = |raw: &[u8], now: Option<Oid>| {
        let merged_id = id_in(merged, raw);
        if now == merged_id {
            ours.push(raw.to_vec());
        } else if merged_id != id_in(&pre_tree, raw) {
            unexplained.push(display(raw));
        }
    };
    // The index, against the commit.
    let staged = wrepo.diff_tree_to_index(Some(&pre_tree), Some(&index), None)?;
    for d in staged.deltas() {
        let f = if d.status() == Delta::Deleted {
            d.old_file()
        } else {
            d.new_file()
        };
        let Some(raw) = f.path_bytes() else { continue };
        let now = (d.status() != Delta::Deleted).then(|| f.id());
        judge(raw, now);
    }
    // The files, against the commit.
    let mut opts = DiffOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let files = wrepo.diff_tree_to_workdir(Some(&pre_tree), Some(&mut opts))?;
    for d in files.deltas() {
        let f = if d.status() == Delta::Deleted {
            d.old_file()
        } else {
            d.new_file()
        };
        let Some(raw) = f.path_bytes() else { continue };
        let now = hash_at(wrepo, &root, raw)?;
        if d.status() == Delta::Untracked && (now.is_none() || now != id_in(merged, raw)) {
            // Not something the merge wrote: the user's own untracked file; leave it alone.
            continue;
        }
        judge(raw, now);
    }
    unexplained.sort();
    unexplained.dedup();
    if !unexplained.is_empty() {
        return Err(CheckoutError::Unexplained(unexplained));
    }
    let ours: Vec<Vec<u8>> = {
        let mut seen = HashSet::new();
        ours.into_iter()
            .filter(|p| seen.insert(p.clone()))
            .collect()
    };
    if ours.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<&Path> = ours.iter().map(|p| to_path(p)).collect();
    wrepo.reset_default(Some(pre.as_object()), paths.iter())?;
    let (in_pre, not_in_pre): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        ours.iter().partition(|p| id_in(&pre_tree, p).is_some());
    if !in_pre.is_empty() {
        let mut co = CheckoutBuilder::new();
        co.force().disable_pathspec_match(true);
        for p in &in_pre {
            co.path(to_path(p));
        }
        wrepo.checkout_tree(pre_tree.as_object(), Some(&mut co))?;
    }
    for p in &not_in_pre {
        let full = root.join(to_path(p));
        if full.symlink_metadata().is_ok() {
            std::fs::remove_file(&full).map_err(|e| {
                git2::Error::from_str(&format!("cannot remove {}: {e}", full.display()))
            })?;
        }
        remove_empty_parents(&root, &full);
    }
    Ok(ours.iter().map(|p| display(p)).collect())
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// The temporary branch a scratch worktree is created on before its HEAD is detached.
fn scratch_branch(name: &str) -> String {
    format!("legio-merge-scratch/{name}")
}

/// Creates a worktree named `name` at `path`, its HEAD detached at `commit`. A leftover of the
/// same name (from a crashed run) is removed first.
pub(crate) fn create_scratch(
    repo: &Repository,
    name: &str,
    path: &Path,
    commit: &Commit<'_>,
) -> Result<(), git2::Error> {
    remove_scratch(repo, name, path)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| git2::Error::from_str(&format!("{}: {e}", parent.display())))?;
    }
    // libgit2 adds worktrees on branches only: add on a temporary branch, then detach.
    let branch = repo.branch(&scratch_branch(name), commit, true)?;
    let mut opts = WorktreeAddOptions::new();
    opts.reference(Some(branch.get()));
    let added = repo.worktree(name, path, Some(&opts)).and_then(|wt| {
        let wrepo = Repository::open_from_worktree(&wt)?;
        wrepo.set_head_detached(commit.id())
    });
    let deleted = repo
        .find_branch(&scratch_branch(name), git2::BranchType::Local)
        .and_then(|mut b| b.delete());
    added.and(deleted)
}

/// Removes the scratch worktree `name` at `path`, and its temporary branch, if they exist.
pub(crate) fn remove_scratch(
    repo: &Repository,
    name: &str,
    path: &Path,
) -> Result<(), git2::Error> {
    if let Ok(wt) = repo.find_worktree(name) {
        wt.prune(Some(
            WorktreePruneOptions::new()
                .valid(true)
                .locked(true)
                .working_tree(true),
        ))?;
    }
    if path.exists() {
        std::fs::remove_dir_all(path).map_err(|e| {
            git2::Error::from_str(&format!("cannot remove {}: {e}", path.display()))
        })?;
    }
    if let Ok(mut b) = repo.find_branch(&scratch_branch(name), git2::BranchType::Local) {
        b.delete()?;
    }
    Ok(())
}
