//! The merge queue (`merge-queue.db`, table `merge_queue`) and resolution tiers.

use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::time::Timestamp;

string_enum! {
    /// How a branch was (or would be) merged, in escalating order.
    pub enum ResolutionTier ("resolution tier") {
        /// No conflicts.
        CleanMerge => "clean-merge",
        /// Mechanical resolution that keeps both sides.
        AutoResolve => "auto-resolve",
        /// Resolved by the agent runtime, checked by the quality gates.
        AiResolve => "ai-resolve",
        /// Abandoned and handed to a new builder on a fresh branch.
        Reimagine => "reimagine",
    }
}

string_enum! {
    /// A queue entry's status: `pending -> merging -> merged | conflict | failed`.
    pub enum MergeStatus ("merge status") {
        /// Waiting.
        Pending => "pending",
        /// Claimed by a `legio merge` process.
        Merging => "merging",
        /// Landed on the target.
        Merged => "merged",
        /// Could not be resolved by any enabled tier.
        Conflict => "conflict",
        /// Something else failed (quality gates, git errors).
        Failed => "failed",
    }
}

/// A queue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeEntry {
    /// Row id; defines first-in-first-out order.
    pub id: i64,
    /// The branch to merge.
    pub branch_name: String,
    /// The task.
    pub bead_id: String,
    /// The agent that did the work.
    pub agent_name: String,
    /// Files the branch changes.
    pub files_modified: Vec<String>,
    /// When it was queued.
    pub enqueued_at: Timestamp,
    /// Where it is.
    pub status: MergeStatus,
    /// How it was merged, once it was.
    pub resolved_tier: Option<ResolutionTier>,
    /// The target branch it was claimed for, once claimed.
    pub target_branch: Option<String>,
    /// The target's commit before the merge began, for crash recovery.
    pub pre_merge_commit: Option<String>,
    /// Why it failed, if it did.
    pub error_message: Option<String>,
}

/// A branch to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMergeEntry {
    /// The branch.
    pub branch_name: String,
    /// The task.
    pub bead_id: String,
    /// The agent.
    pub agent_name: String,
    /// Files the branch changes.
    pub files_modified: Vec<String>,
    /// When.
    pub enqueued_at: Timestamp,
}
