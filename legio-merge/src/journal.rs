//! The merge journal: `.legio/merge/<target>.journal`, one small JSON file per target.
//!
//! It is written (atomically: temporary file, fsync, rename) once the merge commit exists,
//! before anything outside the object database changes, again if a scratch worktree is made,
//! and removed once the queue entry is finished. A journal found while holding the target's
//! lock therefore belongs to a merger that died, and says what it may have changed: the target
//! ref (from `pre_merge_commit` to `merge_commit`), the files of the target's checkout, a
//! scratch worktree. Before the merge commit exists nothing is journaled: only the queue claim
//! was made, and the claim itself (target and pre-merge commit) is enough to undo it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How far a merge got: the steps of a merge, in order, each reached before the change it
/// names. Recovery does not depend on it (it compares the ref and the files with the commits
/// the journal names); it is there for people reading a journal and as the test seam's stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The queue entry is claimed; nothing else changed.
    Claimed,
    /// The merge commit exists as an object; no ref or file changed.
    Committed,
    /// The target's checkout (or a scratch worktree) is being brought to the merge commit.
    CheckingOut,
    /// The quality gates passed; the target ref is about to move.
    GatesPassed,
    /// The target ref points at the merge commit.
    Published,
    /// The queue entry is finished; only the journal itself is left to remove.
    Finished,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Claimed,
        Phase::Committed,
        Phase::CheckingOut,
        Phase::GatesPassed,
        Phase::Published,
        Phase::Finished,
    ];
}

/// What a merge in progress may have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// The merging process.
    pub pid: u32,
    /// The claimed queue entry.
    pub entry_id: i64,
    /// The branch being merged.
    pub branch: String,
    /// The target branch.
    pub target: String,
    /// The target's commit before the merge.
    pub pre_merge_commit: String,
    /// The merge commit, once written.
    pub merge_commit: Option<String>,
    /// The target's checkout, when its files are being updated in place.
    pub checkout: Option<PathBuf>,
    /// A scratch worktree made to run the quality gates in, when the target is not checked out.
    pub scratch: Option<PathBuf>,
    /// The last step reached when the journal was written.
    pub phase: Phase,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("cannot {doing} the merge journal {}: {source}", path.display())]
    Io {
        /// "read", "write", "remove".
        doing: &'static str,
        /// The journal file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a journal legio can read.
    #[error("the merge journal {} is unreadable ({reason}); if no merge is running, check the target branch and the queue by hand, then delete the file", path.display())]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// A file name for a branch: `/` and `%` are percent-encoded so that every branch maps to one
/// flat, distinct name.
pub fn file_stem(branch: &str) -> String {
    let mut out = String::with_capacity(branch.len());
    for c in branch.chars() {
        match c {
            '/' => out.push_str("%2F"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Reads the journal at `path`, if there is one.
pub fn read(path: &Path) -> Result<Option<Journal>, JournalError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JournalError::Io {
                doing: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Replaces the journal at `path` atomically and durably.
pub fn write(path: &Path, journal: &Journal) -> Result<(), JournalError> {
    let io = |source| JournalError::Io {
        doing: "write",
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("journal.tmp");
    let text = serde_json::to_string_pretty(journal).map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the journal at `path` (absent is fine).
pub fn remove(path: &Path) -> Result<(), JournalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(JournalError::Io {
            doing: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_flat_and_distinct() {
        assert_eq!(file_stem("main"), "main");
        assert_eq!(file_stem("legio/session/x"), "legio%2Fsession%2Fx");
        assert_ne!(file_stem("a/b"), file_stem("a%2Fb"));
    }

    #[test]
    fn round_trips_and_reports_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("merge/main.journal");
        assert_eq!(read(&path).unwrap(), None);
        let j = Journal {
            pid: 7,
            entry_id: 3,
            branch: "legio/a/t".into(),
            target: "main".into(),
            pre_merge_commit: "abc".into(),
            merge_commit: None,
            checkout: Some(tmp.path().to_path_buf()),
            scratch: None,
            phase: Phase::Committed,
        };
        write(&path, &j).unwrap();
        assert_eq!(read(&path).unwrap(), Some(j));
        std::fs::write(&path, "{not json").unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.to_string().contains("unreadable"), "{err}");
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert_eq!(read(&path).unwrap(), None);
    }
}
