//! The in-memory merge: what merging a branch into a target would give, before anything is
//! written where the user can see it.
//!
//! [`analyse`] runs libgit2's merge of the two commits into an index held in memory and sorts
//! its conflicts by kind; [`mechanical`] tries tier 2 on every conflicted file, without writing
//! anything; [`build_tree`] turns the merged index plus chosen resolutions into a tree object.
//! The working tree and the refs are never touched here.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::{AttrCheckFlags, Index, IndexEntry, Oid, Repository};

use crate::mechanical::{self, Sides, Unresolvable};
use crate::report::{ConflictKind, Resolution};

/// One conflicted file of the merged index.
#[derive(Debug)]
pub(crate) struct Conflict {
    /// The path (the first side that has one).
    pub path: String,
    /// The kind.
    pub kind: ConflictKind,
    /// The three index entries.
    pub base: Option<IndexEntry>,
    /// The target's.
    pub ours: Option<IndexEntry>,
    /// The branch's.
    pub theirs: Option<IndexEntry>,
}

/// A copy of an index entry (git2's type is not `Clone`).
fn copy_entry(e: &IndexEntry) -> IndexEntry {
    IndexEntry {
        ctime: e.ctime,
        mtime: e.mtime,
        dev: e.dev,
        ino: e.ino,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        file_size: e.file_size,
        id: e.id,
        flags: e.flags,
        flags_extended: e.flags_extended,
        path: e.path.clone(),
    }
}

impl Clone for Conflict {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            kind: self.kind,
            base: self.base.as_ref().map(copy_entry),
            ours: self.ours.as_ref().map(copy_entry),
            theirs: self.theirs.as_ref().map(copy_entry),
        }
    }
}

impl Conflict {
    /// The raw path of the conflict as git stores it.
    fn raw_path(&self) -> &[u8] {
        [&self.ours, &self.theirs, &self.base]
            .into_iter()
            .flatten()
            .map(|e| e.path.as_slice())
            .next()
            .unwrap_or_default()
    }

    /// Whether the agent runtime could be asked to write this file (text on both sides).
    pub fn ai_eligible(&self) -> bool {
        matches!(self.kind, ConflictKind::Content | ConflictKind::AddAdd)
    }
}

/// A resolved file's content and mode.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The content.
    pub content: Vec<u8>,
    /// The file mode.
    pub mode: u32,
    /// How.
    pub how: Resolution,
}

/// The merge of `theirs` into `ours`, held in memory.
pub(crate) struct Analysis {
    /// The merged index (with conflict entries).
    pub index: Index,
    /// Its conflicts.
    pub conflicts: Vec<Conflict>,
    /// Files both sides changed that the `merge=union` driver merged.
    pub union_files: Vec<String>,
}

fn to_path(raw: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(raw))
}

fn display(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

const MODE_FILE: u32 = 0o100_644;
const MODE_EXEC: u32 = 0o100_755;

fn classify(repo: &Repository, c: &git2::IndexConflict) -> Result<ConflictKind, git2::Error> {
    let (Some(ours), Some(theirs)) = (&c.our, &c.their) else {
        return Ok(match (&c.ancestor, &c.our, &c.their) {
            (Some(_), Some(_), None) | (Some(_), None, Some(_)) => ConflictKind::DeleteModify,
            _ => ConflictKind::Rename,
        });
    };
    if ours.path != theirs.path {
        return Ok(ConflictKind::Rename);
    }
    let regular = |m: u32| m == MODE_FILE || m == MODE_EXEC;
    if !regular(ours.mode) || !regular(theirs.mode) {
        return Ok(ConflictKind::Other);
    }
    if mechanical_is_binary(repo, ours.id)? || mechanical_is_binary(repo, theirs.id)? {
        return Ok(ConflictKind::Binary);
    }
    Ok(if c.ancestor.is_some() {
        ConflictKind::Content
    } else {
        ConflictKind::AddAdd
    })
}

fn mechanical_is_binary(repo: &Repository, id: Oid) -> Result<bool, git2::Error> {
    Ok(crate::repo::is_binary(repo.find_blob(id)?.content()))
}

/// Paths changed on both sides since `base`, differently.
fn changed_on_both_sides(
    repo: &Repository,
    base: Oid,
    ours: Oid,
    theirs: Oid,
) -> Result<Vec<Vec<u8>>, git2::Error> {
    let tree = |id: Oid| repo.find_commit(id).and_then(|c| c.tree());
    let (b, o, t) = (tree(base)?, tree(ours)?, tree(theirs)?);
    let paths = |new: &git2::Tree<'_>| -> Result<HashSet<Vec<u8>>, git2::Error> {
        let diff = repo.diff_tree_to_tree(Some(&b), Some(new), None)?;
        Ok(diff
            .deltas()
            .filter_map(|d| d.new_file().path_bytes().map(<[u8]>::to_vec))
            .collect())
    };
    let ours_changed = paths(&o)?;
    let id_in = |tree: &git2::Tree<'_>, p: &[u8]| tree.get_path(to_path(p)).ok().map(|e| e.id());
    let mut both: Vec<Vec<u8>> = paths(&t)?
        .into_iter()
        .filter(|p| ours_changed.contains(p) && id_in(&o, p) != id_in(&t, p))
        .collect();
    both.sort();
    Ok(both)
}

/// Merges `theirs` into `ours` in memory.
pub(crate) fn analyse(repo: &Repository, ours: Oid, theirs: Oid) -> Result<Analysis, git2::Error> {
    let our_commit = repo.find_commit(ours)?;
    let their_commit = repo.find_commit(theirs)?;
    let index = repo.merge_commits(&our_commit, &their_commit, None)?;
    let mut conflicts = Vec::new();
    if index.has_conflicts() {
        for c in index.conflicts()? {
            let c = c?;
            let mut conflict = Conflict {
                path: String::new(),
                kind: classify(repo, &c)?,
                base: c.ancestor,
                ours: c.our,
                theirs: c.their,
            };
            conflict.path = display(conflict.raw_path());
            conflicts.push(conflict);
        }
    }
    // Files both sides changed that merged cleanly only because `merge=union` said so.
    let mut union_files = Vec::new();
    if let Ok(base) = repo.merge_base(ours, theirs) {
        for raw in changed_on_both_sides(repo, base, ours, theirs)? {
            if index.get_path(to_path(&raw), 0).is_none() {
                continue;
            }
            let attr = repo.get_attr(to_path(&raw), "merge", AttrCheckFlags::FILE_THEN_INDEX)?;
            if attr == Some("union") {
                union_files.push(display(&raw));
            }
        }
    }
    Ok(Analysis {
        index,
        conflicts,
        union_files,
    })
}

fn blob(repo: &Repository, entry: Option<&IndexEntry>) -> Result<Vec<u8>, git2::Error> {
    match entry {
        Some(e) => Ok(repo.find_blob(e.id)?.content().to_vec()),
        None => Ok(Vec::new()),
    }
}

/// The three versions of a conflicted file's content (missing sides are empty).
pub(crate) struct Versions {
    base: Vec<u8>,
    ours: Vec<u8>,
    theirs: Vec<u8>,
}

impl Versions {
    /// Reads them from the object database.
    pub fn of(repo: &Repository, c: &Conflict) -> Result<Self, git2::Error> {
        Ok(Self {
            base: blob(repo, c.base.as_ref())?,
            ours: blob(repo, c.ours.as_ref())?,
            theirs: blob(repo, c.theirs.as_ref())?,
        })
    }

    /// Borrowed, for the resolvers.
    pub fn sides(&self) -> Sides<'_> {
        Sides {
            base: &self.base,
            ours: &self.ours,
            theirs: &self.theirs,
        }
    }
}

/// The mode a resolution keeps: the one side that changed it, or the common one.
pub(crate) fn merged_mode(c: &Conflict) -> Result<u32, Unresolvable> {
    let ours = c.ours.as_ref().map_or(MODE_FILE, |e| e.mode);
    let theirs = c.theirs.as_ref().map_or(MODE_FILE, |e| e.mode);
    let base = c.base.as_ref().map(|e| e.mode);
    match (ours == theirs, base) {
        (true, _) => Ok(ours),
        (false, Some(b)) if b == ours => Ok(theirs),
        (false, Some(b)) if b == theirs => Ok(ours),
        _ => Err(Unresolvable(
            "the two sides set different file modes".into(),
        )),
    }
}

/// Tier 2 for one conflicted file, without writing anything.
pub(crate) fn mechanical(repo: &Repository, c: &Conflict) -> Result<Resolved, Unresolvable> {
    let why = match c.kind {
        ConflictKind::Content | ConflictKind::AddAdd => None,
        ConflictKind::DeleteModify => Some("one side deleted the file and the other changed it"),
        ConflictKind::Rename => Some("the file was renamed in ways that clash"),
        ConflictKind::Binary => Some("binary content changed on both sides"),
        ConflictKind::Other => Some("not a regular file on both sides"),
    };
    if let Some(why) = why {
        return Err(Unresolvable(why.into()));
    }
    let mode = merged_mode(c)?;
    let versions = Versions::of(repo, c)
        .map_err(|e| Unresolvable(format!("cannot read its versions: {}", e.message())))?;
    let sides = versions.sides();
    let is_jsonl = Path::new(&c.path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    let (content, how) = if is_jsonl {
        (mechanical::jsonl_union(sides)?, Resolution::JsonlUnion)
    } else {
        (mechanical::keep_both(sides)?, Resolution::KeepBoth)
    };
    Ok(Resolved { content, mode, how })
}

/// Writes the resolutions into the merged index and returns the resulting tree. Every
/// conflict must have a resolution.
pub(crate) fn build_tree(
    repo: &Repository,
    analysis: &mut Analysis,
    resolved: &[(Conflict, Resolved)],
) -> Result<Oid, git2::Error> {
    for (c, r) in resolved {
        let raw = c.raw_path().to_vec();
        let id = repo.blob(&r.content)?;
        let template = c.ours.as_ref().or(c.theirs.as_ref()).or(c.base.as_ref());
        let Some(mut entry) = template.map(copy_entry) else {
            continue;
        };
        analysis.index.conflict_remove(to_path(&raw))?;
        entry.id = id;
        entry.mode = r.mode;
        entry.file_size = u32::try_from(r.content.len()).unwrap_or(u32::MAX);
        entry.path.clone_from(&raw);
        // Stage 0, and the path length in the low twelve bits.
        entry.flags = u16::try_from(raw.len().min(0xfff)).unwrap_or(0xfff);
        entry.flags_extended = 0;
        analysis.index.add(&entry)?;
    }
    if analysis.index.has_conflicts() {
        return Err(git2::Error::from_str(
            "conflicts remain after resolution (this is a legio bug)",
        ));
    }
    analysis.index.write_tree_to(repo)
}
