//! The merge queue's life outside git: which branch a merge lands on, the mail that puts
//! branches in the queue, what is recorded once a merge is finished, and the tier-4 hand-off.
//!
//! - [`merge_target`]: `--into`, else `.legio/session-branch.txt`, else
//!   `project.canonicalBranch`, with where it came from (printed before a merge begins).
//! - [`intake`]: the producers. `merge_ready` mail always queues its branch; `worker_done`
//!   queues the sender's branch unless a lead reviews it first (the lead then sends
//!   `merge_ready`). Queueing is idempotent per active branch (the queue keeps one pending or
//!   merging entry per branch).
//! - [`ledger`]: after each finished entry, the agent's parent (or the orchestrator) gets
//!   `merged` / `merge_failed` mail, `events.db` gets a `merge` event with the tier and the
//!   duration, and the agent's metrics row gets its `merge_result`.
//! - [`stats`]: outcomes by tier, from those events (`legio merge --stats`).
//! - [`handoff`]: tier 4. The abandoned branch's task becomes a new task whose spec is the old
//!   diff, for a new builder on a fresh branch from the target.
//!
//! Merging itself (locks, tiers, recovery) is `legio-merge`'s; this module never touches git
//! except through the [`Worktrees`](crate::ports::Worktrees) port.

pub mod handoff;
pub mod intake;
pub mod ledger;
pub mod stats;

use crate::layout::Layout;

/// Where the merge target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetSource {
    /// `--into`.
    Flag,
    /// `.legio/session-branch.txt` (the branch the orchestrator last primed on).
    SessionBranch,
    /// `project.canonicalBranch`.
    Canonical,
}

impl TargetSource {
    /// How the source is named to users.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Flag => "--into",
            Self::SessionBranch => ".legio/session-branch.txt",
            Self::Canonical => "project.canonicalBranch",
        }
    }
}

/// The branch merges land on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeTarget {
    /// The branch.
    pub branch: String,
    /// Where it came from.
    pub source: TargetSource,
}

/// The merge target: `into` when given, else the trimmed first line of
/// `.legio/session-branch.txt` when it names a branch, else `canonical`. Reads that one file.
pub fn merge_target(layout: &Layout, canonical: &str, into: Option<&str>) -> MergeTarget {
    if let Some(b) = into {
        return MergeTarget {
            branch: b.to_owned(),
            source: TargetSource::Flag,
        };
    }
    let recorded = std::fs::read_to_string(layout.session_branch())
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.trim().to_owned()))
        .filter(|b| !b.is_empty());
    match recorded {
        Some(branch) => MergeTarget {
            branch,
            source: TargetSource::SessionBranch,
        },
        None => MergeTarget {
            branch: canonical.to_owned(),
            source: TargetSource::Canonical,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_session_branch_then_the_canonical_branch() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        std::fs::create_dir_all(layout.legio_dir()).unwrap();
        let t = merge_target(&layout, "main", None);
        assert_eq!(
            (t.branch.as_str(), t.source),
            ("main", TargetSource::Canonical)
        );
        std::fs::write(layout.session_branch(), "  \n").unwrap();
        assert_eq!(
            merge_target(&layout, "main", None).source,
            TargetSource::Canonical
        );
        std::fs::write(layout.session_branch(), " release/2 \n").unwrap();
        let t = merge_target(&layout, "main", None);
        assert_eq!(
            (t.branch.as_str(), t.source),
            ("release/2", TargetSource::SessionBranch)
        );
        let t = merge_target(&layout, "main", Some("dev"));
        assert_eq!((t.branch.as_str(), t.source), ("dev", TargetSource::Flag));
    }
}
