//! What is recorded once a queue entry is finished: a `merge` event (tier, duration, outcome),
//! `merged` or `merge_failed` mail to the agent's parent (or the orchestrator), and the
//! `merge_result` of the agent's metrics row.
//!
//! The merge itself is already done (or undone) when this runs, so a failure here does not
//! undo it: each failed step is returned as a problem for the caller to show.

use std::fmt::Write as _;

use serde_json::json;

use crate::domain::event::{EventLevel, EventType, NewEvent};
use crate::domain::mail::{MailType, MergeFailedPayload, MergedPayload, NewMail, Priority};
use crate::domain::merge::{MergeEntry, MergeStatus};
use crate::names::AgentName;
use crate::ops::hook::ORCHESTRATOR;
use crate::ports::{EventStore, MailStore, MetricsStore, SessionStore, StoreResult};
use crate::time::Timestamp;

/// The stores written after a merge, and who merged.
pub struct Ledger<'a> {
    /// `sessions.db`: who the agent's parent is.
    pub sessions: &'a dyn SessionStore,
    /// `mail.db`.
    pub mail: &'a dyn MailStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// `metrics.db`.
    pub metrics: &'a dyn MetricsStore,
    /// Who ran the merge: the sender of the mail.
    pub merger: &'a str,
    /// The current run, for the event.
    pub run_id: Option<String>,
}

/// A finished queue entry, as the merge engine reported it.
#[derive(Debug, Clone, Copy)]
pub struct FinishedMerge<'a> {
    /// The entry, with its final status, tier and error.
    pub entry: &'a MergeEntry,
    /// The target branch.
    pub target: &'a str,
    /// How long the merge took.
    pub duration_ms: u64,
    /// The files that conflicted (resolved or not).
    pub conflict_files: &'a [String],
    /// The merge commit, when one was published.
    pub merge_commit: Option<&'a str>,
    /// The branch was already contained in the target.
    pub already_merged: bool,
    /// Tier 4: the task a new builder takes over, and its spec file.
    pub handed_off: Option<(&'a str, &'a str)>,
}

/// What was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Who got the `merged` / `merge_failed` mail.
    pub notified: Option<String>,
    /// Whether a metrics row got its `merge_result`.
    pub metrics_updated: bool,
    /// Steps that failed (the merge's outcome stands).
    pub problems: Vec<String>,
}

/// Records a finished entry: event, mail, metrics. Never fails; see [`Recorded::problems`].
pub fn record(ledger: &Ledger<'_>, merge: &FinishedMerge<'_>, now: Timestamp) -> Recorded {
    let mut out = Recorded::default();
    let entry = merge.entry;
    if let Err(e) = ledger.events.insert(&event(ledger, merge, now)) {
        out.problems.push(format!("recording the merge event: {e}"));
    }
    let to = match parent_of(ledger.sessions, &entry.agent_name) {
        Ok(to) => to,
        Err(e) => {
            out.problems.push(format!(
                "finding {}'s parent (the orchestrator is told instead): {e}",
                entry.agent_name
            ));
            ORCHESTRATOR.to_owned()
        }
    };
    match ledger.mail.send(&mail(ledger.merger, &to, merge), now) {
        Ok(_) => out.notified = Some(to),
        Err(e) => out
            .problems
            .push(format!("telling {to} about {}: {e}", entry.branch_name)),
    }
    if entry.status == MergeStatus::Merged {
        match set_merge_result(ledger.metrics, entry) {
            Ok(updated) => out.metrics_updated = updated,
            Err(e) => out.problems.push(format!(
                "recording the merge result in {}'s metrics: {e}",
                entry.agent_name
            )),
        }
    }
    out
}

/// The address told about `agent`'s merges: its parent, else the orchestrator.
fn parent_of(sessions: &dyn SessionStore, agent: &str) -> StoreResult<String> {
    let Ok(name) = AgentName::new(agent) else {
        return Ok(ORCHESTRATOR.to_owned());
    };
    Ok(sessions
        .get(&name)?
        .and_then(|s| s.parent_agent)
        .map_or_else(|| ORCHESTRATOR.to_owned(), |p| p.to_string()))
}

/// The `merge` event: agent, tier, duration and outcome (read back by [`super::stats`]).
pub fn event(ledger: &Ledger<'_>, merge: &FinishedMerge<'_>, now: Timestamp) -> NewEvent {
    let entry = merge.entry;
    let mut e = NewEvent::new(entry.agent_name.clone(), EventType::Merge, now);
    e.run_id.clone_from(&ledger.run_id);
    e.level = if entry.status == MergeStatus::Merged {
        EventLevel::Info
    } else {
        EventLevel::Warn
    };
    let mut data = json!({
        "entryId": entry.id,
        "branch": entry.branch_name,
        "beadId": entry.bead_id,
        "target": merge.target,
        "status": entry.status,
        "tier": entry.resolved_tier,
        "durationMs": merge.duration_ms,
        "conflictFiles": merge.conflict_files,
        "mergeCommit": merge.merge_commit,
        "alreadyMerged": merge.already_merged,
        "mergedBy": ledger.merger,
    });
    if let Some(err) = &entry.error_message {
        data["error"] = json!(err);
    }
    if let Some((task, spec)) = merge.handed_off {
        data["handedOff"] = json!({ "task": task, "spec": spec });
    }
    e.data = Some(data.to_string());
    e
}

/// The `merged` or `merge_failed` message about `merge`, from `merger` to `to`.
pub fn mail(merger: &str, to: &str, merge: &FinishedMerge<'_>) -> NewMail {
    let entry = merge.entry;
    let branch = &entry.branch_name;
    let target = merge.target;
    let tier = entry
        .resolved_tier
        .map_or_else(|| "no tier".to_owned(), |t| t.to_string());
    if entry.status == MergeStatus::Merged {
        let body = if merge.already_merged {
            format!("{branch} was already contained in {target}; nothing needed committing.")
        } else {
            let mut b = format!("{branch} was merged into {target} ({tier})");
            if let Some(c) = merge.merge_commit {
                let _ = write!(b, ", commit {}", short(c));
            }
            b.push('.');
            if !merge.conflict_files.is_empty() {
                let _ = write!(
                    b,
                    "\nResolved conflicts: {}.",
                    merge.conflict_files.join(", ")
                );
            }
            b
        };
        let mut m = NewMail::new(
            merger,
            to,
            MailType::Merged,
            format!("Merged: {branch}"),
            body,
        );
        m.payload = serde_json::to_string(&MergedPayload {
            branch: branch.clone(),
            bead_id: entry.bead_id.clone(),
            tier: entry
                .resolved_tier
                .unwrap_or(crate::domain::merge::ResolutionTier::CleanMerge),
        })
        .ok();
        return m;
    }
    let error = entry
        .error_message
        .clone()
        .unwrap_or_else(|| "no reason was recorded".to_owned());
    let mut body = format!(
        "{branch} was not merged into {target} ({}, last tier tried: {tier}); {target} is unchanged.\n{error}",
        entry.status
    );
    if !merge.conflict_files.is_empty() {
        let _ = write!(
            body,
            "\nConflicting files: {}.",
            merge.conflict_files.join(", ")
        );
    }
    if let Some((task, spec)) = merge.handed_off {
        let _ = write!(
            body,
            "\nThe work is handed to a new builder: task {task}, spec {spec}."
        );
    }
    let mut m = NewMail::new(
        merger,
        to,
        MailType::MergeFailed,
        format!("Merge failed: {branch}"),
        body,
    );
    m.priority = Priority::High;
    m.payload = serde_json::to_string(&MergeFailedPayload {
        branch: branch.clone(),
        bead_id: entry.bead_id.clone(),
        conflict_files: merge.conflict_files.to_vec(),
        error_message: error,
    })
    .ok();
    m
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Sets the `merge_result` of the agent's newest metrics row for the entry's task. Returns
/// whether a row changed (`false` when the agent has no metrics row for it yet).
fn set_merge_result(metrics: &dyn MetricsStore, entry: &MergeEntry) -> StoreResult<bool> {
    let Some(tier) = entry.resolved_tier else {
        return Ok(false);
    };
    let row = metrics
        .sessions_by_agent(&entry.agent_name)?
        .into_iter()
        .find(|m| m.bead_id == entry.bead_id);
    match row {
        Some(mut m) if m.merge_result != Some(tier) => {
            m.merge_result = Some(tier);
            metrics.record_session(&m)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
