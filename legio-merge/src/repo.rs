//! Small git facts shared by the worktree manager and the merge engine, read with git2 and plain
//! file reads: which checkouts exist and what each has checked out, tracked changes in a working
//! tree, branch tips, and the binary-content test.

use std::path::{Path, PathBuf};

use git2::{BranchType, ErrorCode, Oid, Repository, StatusOptions};

/// What a checkout's `HEAD` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Head {
    /// A local branch (short name), possibly unborn.
    Branch(String),
    /// A detached commit.
    Detached(Oid),
    /// Anything else (a symbolic ref outside `refs/heads/`, an unreadable file).
    Other,
}

/// One checkout of the repository: the main working tree or a linked worktree.
#[derive(Debug, Clone)]
pub(crate) struct Checkout {
    /// The working tree directory.
    pub path: PathBuf,
    /// The linked worktree's name (`None` for the main working tree).
    pub name: Option<String>,
    /// What it has checked out.
    pub head: Head,
}

impl Checkout {
    /// The branch checked out here, if any.
    pub fn branch(&self) -> Option<&str> {
        match &self.head {
            Head::Branch(b) => Some(b),
            _ => None,
        }
    }
}

/// Reads a `HEAD` file: `ref: refs/heads/<b>` or a hex commit id.
pub(crate) fn read_head_file(path: &Path) -> Head {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Head::Other;
    };
    let text = text.trim();
    if let Some(target) = text.strip_prefix("ref:") {
        return match target.trim().strip_prefix("refs/heads/") {
            Some(branch) => Head::Branch(branch.to_owned()),
            None => Head::Other,
        };
    }
    Oid::from_str(text).map_or(Head::Other, Head::Detached)
}

/// The main working tree of the repository (`None` for a bare repository).
pub(crate) fn main_workdir(repo: &Repository) -> Option<PathBuf> {
    let common = repo.commondir();
    let common = common
        .canonicalize()
        .unwrap_or_else(|_| common.to_path_buf());
    if common.file_name().is_some_and(|n| n == ".git") {
        common.parent().map(Path::to_path_buf)
    } else {
        None
    }
}

/// Every checkout, the main working tree first, from the `HEAD` files under the common git
/// directory (no repository is opened per worktree).
pub(crate) fn checkouts(repo: &Repository) -> Result<Vec<Checkout>, git2::Error> {
    let common = repo.commondir().to_path_buf();
    let mut out = Vec::new();
    if let Some(main) = main_workdir(repo) {
        out.push(Checkout {
            path: main,
            name: None,
            head: read_head_file(&common.join("HEAD")),
        });
    }
    let names = repo.worktrees()?;
    for name in &names {
        let Some(name) = name? else { continue };
        let wt = repo.find_worktree(name)?;
        out.push(Checkout {
            path: wt.path().to_path_buf(),
            name: Some(name.to_owned()),
            head: read_head_file(&common.join("worktrees").join(name).join("HEAD")),
        });
    }
    Ok(out)
}

/// The checkout that has `branch` checked out, if one does.
pub(crate) fn checkout_of_branch(
    repo: &Repository,
    branch: &str,
) -> Result<Option<Checkout>, git2::Error> {
    Ok(checkouts(repo)?
        .into_iter()
        .find(|c| c.branch() == Some(branch)))
}

/// The tip of a local branch; `None` when there is no such branch.
pub(crate) fn branch_tip(repo: &Repository, branch: &str) -> Result<Option<Oid>, git2::Error> {
    match repo.find_branch(branch, BranchType::Local) {
        Ok(b) => Ok(Some(b.get().peel_to_commit()?.id())),
        Err(e) if e.code() == ErrorCode::NotFound || e.code() == ErrorCode::InvalidSpec => Ok(None),
        Err(e) => Err(e),
    }
}

/// `refs/heads/<branch>`.
pub(crate) fn branch_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

/// Paths with uncommitted changes in the working tree `repo` is opened on. Tracked changes
/// (staged or not) always count; untracked files that are not ignored count when
/// `include_untracked`. Sorted, without duplicates.
pub(crate) fn changed_paths(
    repo: &Repository,
    include_untracked: bool,
) -> Result<Vec<String>, git2::Error> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(include_untracked)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    let mut files: Vec<String> = statuses
        .iter()
        .filter(|e| !e.status().is_ignored())
        .map(|e| String::from_utf8_lossy(e.path_bytes()).into_owned())
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Files changed on `branch` since it forked from `base` (both paths of a rename), sorted.
/// A missing branch is an error naming it.
pub(crate) fn changed_files(
    repo: &Repository,
    branch: &str,
    base: &str,
) -> Result<Vec<String>, git2::Error> {
    let tip = |b: &str| {
        branch_tip(repo, b)?
            .ok_or_else(|| git2::Error::from_str(&format!("branch {b} does not exist")))
    };
    let (b, t) = (tip(branch)?, tip(base)?);
    let fork = repo.merge_base(b, t)?;
    let old = repo.find_commit(fork)?.tree()?;
    let new = repo.find_commit(b)?.tree()?;
    let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    diff.find_similar(Some(git2::DiffFindOptions::new().renames(true)))?;
    // Both sides of each delta: a rename names its old and its new path.
    let mut files: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Whether content is binary by git's rule: a NUL byte in the first 8000 bytes.
pub(crate) fn is_binary(content: &[u8]) -> bool {
    content.iter().take(8000).any(|&b| b == 0)
}

/// Whether two paths name the same place (canonical forms when they exist).
pub(crate) fn same_path(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_head_files_of_every_shape() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("HEAD");
        std::fs::write(&p, "ref: refs/heads/legio/a/t-1\n").unwrap();
        assert_eq!(read_head_file(&p), Head::Branch("legio/a/t-1".into()));
        let id = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(&p, format!("{id}\n")).unwrap();
        assert_eq!(
            read_head_file(&p),
            Head::Detached(Oid::from_str(id).unwrap())
        );
        std::fs::write(&p, "ref: refs/remotes/origin/main\n").unwrap();
        assert_eq!(read_head_file(&p), Head::Other);
        assert_eq!(read_head_file(&tmp.path().join("missing")), Head::Other);
    }

    #[test]
    fn binary_means_a_nul_byte_early_on() {
        assert!(is_binary(b"ab\0cd"));
        assert!(!is_binary("plain text\n".as_bytes()));
        let mut late = vec![b'a'; 9000];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
