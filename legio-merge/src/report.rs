//! What the engine reports: per entry (for `merged` / `merge_failed` mail, events and
//! `legio merge --stats`), per run, per prediction, and the hand-off of a reimagined task.

use legio_core::domain::merge::{MergeEntry, MergeStatus, ResolutionTier};
use serde::Serialize;

/// How one conflicted file was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Both sides only added lines at the same place; both kept, the target's first.
    KeepBoth,
    /// A JSON Lines file merged as a set of records.
    JsonlUnion,
    /// A file marked `merge=union` in `.gitattributes`, merged by git's union driver.
    UnionAttribute,
    /// Written by the agent runtime and accepted by the answer checks (and the gates).
    Ai,
}

/// A file and how it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileResolution {
    /// The path.
    pub path: String,
    /// How.
    pub how: Resolution,
}

/// What kind of conflict a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Both sides changed the same text.
    Content,
    /// Both sides created the file with different content.
    AddAdd,
    /// One side deleted the file, the other changed it.
    DeleteModify,
    /// The file was renamed on one or both sides in ways that clash.
    Rename,
    /// Binary content changed on both sides.
    Binary,
    /// Anything else (symlinks, submodules, file modes).
    Other,
}

/// One conflicted file of a merge, as predicted or met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileConflict {
    /// The path.
    pub path: String,
    /// The kind.
    pub kind: ConflictKind,
    /// The lowest tier that can resolve it (`None`: none enabled can).
    pub tier: Option<ResolutionTier>,
    /// Why the mechanical tier cannot, when it cannot.
    pub reason: Option<String>,
}

/// A dry run's forecast for one branch. Nothing was changed to make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// The branch.
    pub branch: String,
    /// The target.
    pub target: String,
    /// The queue entry, when the branch is queued.
    pub entry_id: Option<i64>,
    /// Files the branch changes since it forked from the target.
    pub changed_files: Vec<String>,
    /// The branch is already contained in the target.
    pub already_merged: bool,
    /// The files that would conflict.
    pub conflicts: Vec<FileConflict>,
    /// Files changed on both sides that `merge=union` would resolve.
    pub union_files: Vec<String>,
    /// The tier that would be needed (`None`: no enabled tier can merge it).
    pub tier: Option<ResolutionTier>,
    /// Why the branch cannot be predicted (it does not exist, ...).
    pub error: Option<String>,
}

/// What a new builder needs to redo a branch that could not be merged (tier 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Handoff {
    /// The abandoned branch.
    pub branch: String,
    /// Its agent.
    pub agent: String,
    /// Its task.
    pub task: String,
    /// The target to branch from.
    pub target: String,
    /// The target's commit the new branch should start from.
    pub target_commit: String,
    /// The files the old branch changed.
    pub files: Vec<String>,
    /// The files that conflicted.
    pub conflict_files: Vec<String>,
    /// The old branch's changes as a unified diff from where it forked: the new builder's spec.
    pub diff: String,
}

/// The outcome of one queue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReport {
    /// The entry as the queue now holds it (status, tier and error set).
    pub entry: MergeEntry,
    /// The tier that merged it, or the highest tier tried.
    pub tier: Option<ResolutionTier>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The files that conflicted.
    pub conflict_files: Vec<String>,
    /// How conflicted files were resolved.
    pub resolutions: Vec<FileResolution>,
    /// The merge commit, when one was published.
    pub merge_commit: Option<String>,
    /// The branch was already contained in the target; nothing was committed.
    pub already_merged: bool,
    /// Why it did not merge.
    pub error: Option<String>,
    /// For a reimagined entry: what the new builder needs.
    pub handoff: Option<Handoff>,
}

impl EntryReport {
    /// Where the entry ended: merged, conflict or failed.
    pub fn status(&self) -> MergeStatus {
        self.entry.status
    }
}

/// An interrupted merge that was undone before this run went on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// The queue entry, put back to pending.
    pub entry_id: i64,
    /// Its branch.
    pub branch: String,
    /// The target commit restored.
    pub restored_commit: String,
    /// Whether the target ref had to be moved back.
    pub ref_restored: bool,
    /// Files of the target's checkout put back to the restored commit.
    pub files_restored: Vec<String>,
}

/// One `legio merge` run into one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The target branch.
    pub target: String,
    /// Interrupted merges undone first.
    pub recovered: Vec<Recovery>,
    /// Every entry processed, in order.
    pub entries: Vec<EntryReport>,
}

impl RunReport {
    /// How many entries merged.
    pub fn merged_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.status() == MergeStatus::Merged)
            .count()
    }

    /// How many did not.
    pub fn failed_count(&self) -> usize {
        self.entries.len() - self.merged_count()
    }
}
