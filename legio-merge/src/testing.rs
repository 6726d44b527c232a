//! [`MemoryQueue`]: an in-memory `MergeQueue`, stricter than the SQLite one, for tests and for
//! timing the engine without a database.
//!
//! It refuses what a correct engine never does: claiming with an empty target or pre-merge
//! commit, finishing or releasing an entry that is not `merging`, finishing with a
//! non-terminal status, marking an entry merged without a tier. Every claim, finish and
//! release is kept in a history, so tests can check that nothing was merged twice.

use std::sync::Mutex;

use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::ports::store::{MergeQueue, StoreError, StoreResult};

/// One state change of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// `pending -> merging`.
    Claimed(i64),
    /// `merging -> status`.
    Finished(i64, MergeStatus),
    /// `merging -> pending`.
    Released(i64),
}

#[derive(Debug, Default)]
struct State {
    entries: Vec<MergeEntry>,
    history: Vec<QueueEvent>,
}

/// A strict in-memory merge queue. Shareable between threads.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
}

fn conflict(msg: String) -> StoreError {
    StoreError::Conflict(msg)
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue holding `entries` (ids are kept).
    pub fn from_entries(entries: Vec<MergeEntry>) -> Self {
        Self {
            state: Mutex::new(State {
                entries,
                history: Vec::new(),
            }),
        }
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<MergeEntry> {
        self.lock().entries.clone()
    }

    /// Every claim, finish and release so far, in order.
    pub fn history(&self) -> Vec<QueueEvent> {
        self.lock().history.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every change is one push or
        // one field update), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn entry_mut(state: &mut State, id: i64) -> StoreResult<&mut MergeEntry> {
    state
        .entries
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| StoreError::NotFound {
            what: "queue entry",
            key: id.to_string(),
        })
}

impl MergeQueue for MemoryQueue {
    fn enqueue(&self, entry: &NewMergeEntry) -> StoreResult<MergeEntry> {
        let mut s = self.lock();
        if let Some(active) = s.entries.iter().find(|e| {
            e.branch_name == entry.branch_name
                && matches!(e.status, MergeStatus::Pending | MergeStatus::Merging)
        }) {
            return Ok(active.clone());
        }
        let id = s.entries.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        let e = MergeEntry {
            id,
            branch_name: entry.branch_name.clone(),
            bead_id: entry.bead_id.clone(),
            agent_name: entry.agent_name.clone(),
            files_modified: entry.files_modified.clone(),
            enqueued_at: entry.enqueued_at,
            status: MergeStatus::Pending,
            resolved_tier: None,
            target_branch: None,
            pre_merge_commit: None,
            error_message: None,
        };
        s.entries.push(e.clone());
        Ok(e)
    }

    fn claim_next(
        &self,
        branch: Option<&str>,
        target: &str,
        pre_merge_commit: &str,
    ) -> StoreResult<Option<MergeEntry>> {
        if target.is_empty() || pre_merge_commit.is_empty() {
            return Err(conflict(
                "a claim needs a target and a pre-merge commit".into(),
            ));
        }
        let mut s = self.lock();
        let Some(e) = s.entries.iter_mut().find(|e| {
            e.status == MergeStatus::Pending && branch.is_none_or(|b| b == e.branch_name)
        }) else {
            return Ok(None);
        };
        e.status = MergeStatus::Merging;
        e.target_branch = Some(target.to_owned());
        e.pre_merge_commit = Some(pre_merge_commit.to_owned());
        let claimed = e.clone();
        s.history.push(QueueEvent::Claimed(claimed.id));
        Ok(Some(claimed))
    }

    fn finish(
        &self,
        id: i64,
        status: MergeStatus,
        tier: Option<ResolutionTier>,
        error_message: Option<&str>,
    ) -> StoreResult<()> {
        if !matches!(
            status,
            MergeStatus::Merged | MergeStatus::Conflict | MergeStatus::Failed
        ) {
            return Err(conflict(format!("cannot finish an entry as {status}")));
        }
        if status == MergeStatus::Merged && tier.is_none() {
            return Err(conflict(format!("entry {id} merged without a tier")));
        }
        let mut s = self.lock();
        let e = entry_mut(&mut s, id)?;
        if e.status != MergeStatus::Merging {
            return Err(conflict(format!(
                "entry {id} is {}, not merging; it cannot be finished",
                e.status
            )));
        }
        e.status = status;
        e.resolved_tier = tier;
        e.error_message = error_message.map(str::to_owned);
        s.history.push(QueueEvent::Finished(id, status));
        Ok(())
    }

    fn release(&self, id: i64) -> StoreResult<()> {
        let mut s = self.lock();
        let e = entry_mut(&mut s, id)?;
        if e.status != MergeStatus::Merging {
            return Err(conflict(format!(
                "entry {id} is {}, not merging; it cannot be released",
                e.status
            )));
        }
        e.status = MergeStatus::Pending;
        s.history.push(QueueEvent::Released(id));
        Ok(())
    }

    fn list(&self, status: Option<MergeStatus>) -> StoreResult<Vec<MergeEntry>> {
        Ok(self
            .lock()
            .entries
            .iter()
            .filter(|e| status.is_none_or(|s| s == e.status))
            .cloned()
            .collect())
    }

    fn active_for_branch(&self, branch: &str) -> StoreResult<Option<MergeEntry>> {
        Ok(self
            .lock()
            .entries
            .iter()
            .find(|e| {
                e.branch_name == branch
                    && matches!(e.status, MergeStatus::Pending | MergeStatus::Merging)
            })
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use legio_core::time::Timestamp;

    fn new(branch: &str) -> NewMergeEntry {
        NewMergeEntry {
            branch_name: branch.into(),
            bead_id: "t".into(),
            agent_name: "a".into(),
            files_modified: vec![],
            enqueued_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn refuses_what_a_correct_engine_never_does() {
        let q = MemoryQueue::new();
        let a = q.enqueue(&new("a")).unwrap();
        assert_eq!(q.enqueue(&new("a")).unwrap().id, a.id, "no double queueing");
        assert!(
            q.finish(
                a.id,
                MergeStatus::Merged,
                Some(ResolutionTier::CleanMerge),
                None
            )
            .is_err()
        );
        assert!(q.release(a.id).is_err());
        assert!(q.claim_next(None, "", "x").is_err());
        let c = q.claim_next(None, "main", "abc").unwrap().unwrap();
        assert_eq!(c.status, MergeStatus::Merging);
        assert_eq!(
            q.claim_next(None, "main", "abc").unwrap(),
            None,
            "no double claim"
        );
        assert!(q.finish(a.id, MergeStatus::Pending, None, None).is_err());
        assert!(q.finish(a.id, MergeStatus::Merged, None, None).is_err());
        q.finish(
            a.id,
            MergeStatus::Merged,
            Some(ResolutionTier::CleanMerge),
            None,
        )
        .unwrap();
        assert!(q.finish(a.id, MergeStatus::Failed, None, None).is_err());
        assert!(q.finish(99, MergeStatus::Failed, None, None).is_err());
        assert_eq!(
            q.history(),
            vec![
                QueueEvent::Claimed(a.id),
                QueueEvent::Finished(a.id, MergeStatus::Merged)
            ]
        );
    }
}
