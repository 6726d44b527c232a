use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::ports::StoreError;
use legio_core::ports::store::MergeQueue;
use legio_store::SqliteMergeQueue;

use crate::common::{at, raw, tmp};

fn queue(dir: &tempfile::TempDir) -> SqliteMergeQueue {
    SqliteMergeQueue::open(dir.path().join("merge-queue.db")).expect("open merge-queue.db")
}

fn entry(branch: &str, ms: i64) -> NewMergeEntry {
    NewMergeEntry {
        branch_name: branch.into(),
        bead_id: "t-1".into(),
        agent_name: "builder-1".into(),
        files_modified: vec!["src/a.rs".into(), "src/b.rs".into()],
        enqueued_at: at(ms),
    }
}

fn branches(list: &[MergeEntry]) -> Vec<&str> {
    list.iter().map(|e| e.branch_name.as_str()).collect()
}

#[test]
fn enqueue_returns_the_pending_entry_and_never_queues_a_branch_twice() {
    let dir = tmp();
    let q = queue(&dir);
    let first = q.enqueue(&entry("legio/b1/t-1", 0)).unwrap();
    assert_eq!(
        first,
        MergeEntry {
            id: first.id,
            branch_name: "legio/b1/t-1".into(),
            bead_id: "t-1".into(),
            agent_name: "builder-1".into(),
            files_modified: vec!["src/a.rs".into(), "src/b.rs".into()],
            enqueued_at: at(0),
            status: MergeStatus::Pending,
            resolved_tier: None,
            target_branch: None,
            pre_merge_commit: None,
            error_message: None,
        }
    );
    assert_eq!(q.enqueue(&entry("legio/b1/t-1", 5)).unwrap(), first);
    q.claim_next(None, "main", "abc123").unwrap().unwrap();
    assert_eq!(
        q.enqueue(&entry("legio/b1/t-1", 6)).unwrap().id,
        first.id,
        "merging counts too"
    );
    q.finish(
        first.id,
        MergeStatus::Merged,
        Some(ResolutionTier::CleanMerge),
        None,
    )
    .unwrap();
    let again = q.enqueue(&entry("legio/b1/t-1", 7)).unwrap();
    assert!(again.id > first.id);
    assert_eq!(q.list(None).unwrap().len(), 2);
}

#[test]
fn claims_are_fifo_record_the_target_and_can_pick_a_branch() {
    let dir = tmp();
    let q = queue(&dir);
    q.enqueue(&entry("b1", 0)).unwrap();
    q.enqueue(&entry("b2", 1)).unwrap();
    q.enqueue(&entry("b3", 2)).unwrap();
    let c = q.claim_next(Some("b3"), "main", "c0ffee").unwrap().unwrap();
    assert_eq!(
        (
            c.branch_name.as_str(),
            c.status,
            c.target_branch.as_deref(),
            c.pre_merge_commit.as_deref()
        ),
        ("b3", MergeStatus::Merging, Some("main"), Some("c0ffee"))
    );
    assert_eq!(
        q.claim_next(None, "main", "x")
            .unwrap()
            .unwrap()
            .branch_name,
        "b1"
    );
    assert_eq!(
        q.claim_next(None, "main", "x")
            .unwrap()
            .unwrap()
            .branch_name,
        "b2"
    );
    assert_eq!(q.claim_next(None, "main", "x").unwrap(), None);
    assert_eq!(q.claim_next(Some("b9"), "main", "x").unwrap(), None);
    assert_eq!(
        branches(&q.list(Some(MergeStatus::Merging)).unwrap()),
        ["b1", "b2", "b3"]
    );
    assert_eq!(
        q.active_for_branch("b2").unwrap().unwrap().status,
        MergeStatus::Merging
    );
}

#[test]
fn finish_and_release_apply_only_to_merging_entries() {
    let dir = tmp();
    let q = queue(&dir);
    let a = q.enqueue(&entry("a", 0)).unwrap();
    let b = q.enqueue(&entry("b", 1)).unwrap();
    assert!(matches!(
        q.finish(a.id, MergeStatus::Merged, None, None),
        Err(StoreError::Conflict(m)) if m.contains("pending")
    ));
    assert!(matches!(q.release(a.id), Err(StoreError::Conflict(_))));
    assert!(matches!(q.release(999), Err(StoreError::NotFound { .. })));
    assert!(matches!(
        q.finish(999, MergeStatus::Failed, None, None),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        q.finish(a.id, MergeStatus::Pending, None, None),
        Err(StoreError::Invalid(_))
    ));

    let claimed = q.claim_next(None, "main", "abc").unwrap().unwrap();
    assert_eq!(claimed.id, a.id);
    q.release(a.id).unwrap();
    let back = q.active_for_branch("a").unwrap().unwrap();
    assert_eq!(
        (back.status, back.target_branch, back.pre_merge_commit),
        (MergeStatus::Pending, None, None)
    );
    assert_eq!(
        q.claim_next(None, "main", "abc").unwrap().unwrap().id,
        a.id,
        "a released entry keeps its place"
    );

    q.finish(
        a.id,
        MergeStatus::Conflict,
        None,
        Some("src/a.rs still conflicts"),
    )
    .unwrap();
    let done = &q.list(Some(MergeStatus::Conflict)).unwrap()[0];
    assert_eq!(
        done.error_message.as_deref(),
        Some("src/a.rs still conflicts")
    );
    assert_eq!(q.active_for_branch("a").unwrap(), None);
    assert_eq!(branches(&q.list(None).unwrap()), ["a", "b"]);
    assert_eq!(q.list(Some(MergeStatus::Pending)).unwrap(), [b]);
}

#[test]
fn unreadable_file_lists_are_reported_not_guessed() {
    let dir = tmp();
    let q = queue(&dir);
    q.enqueue(&entry("a", 0)).unwrap();
    raw(
        &dir.path().join("merge-queue.db"),
        "UPDATE merge_queue SET files_modified = 'src/a.rs'",
    );
    let err = q.list(None).unwrap_err();
    assert!(
        matches!(&err, StoreError::BadValue { column, value, .. } if column == "files_modified" && value == "src/a.rs"),
        "{err}"
    );
    assert!(err.to_string().contains("merge-queue.db"), "{err}");
}
