//! What users read: merge commit messages and the errors that stop a run.

use std::path::PathBuf;
use std::time::Duration;

use legio_core::domain::merge::{MergeEntry, MergeStatus, ResolutionTier};
use legio_core::time::Timestamp;
use legio_merge::{FileResolution, LockError, MergeError, Resolution, commit_message};

#[test]
fn a_merge_commit_message_names_agent_task_tier_and_resolutions() {
    let entry = MergeEntry {
        id: 3,
        branch_name: "legio/builder-1/task-7".into(),
        bead_id: "task-7".into(),
        agent_name: "builder-1".into(),
        files_modified: vec![],
        enqueued_at: Timestamp::from_millis(0),
        status: MergeStatus::Merging,
        resolved_tier: None,
        target_branch: Some("main".into()),
        pre_merge_commit: None,
        error_message: None,
    };
    let resolutions = [
        FileResolution {
            path: "src/lib.rs".into(),
            how: Resolution::KeepBoth,
        },
        FileResolution {
            path: ".mulch/expertise.jsonl".into(),
            how: Resolution::JsonlUnion,
        },
    ];
    insta::assert_snapshot!(
        commit_message(&entry, "main", ResolutionTier::AutoResolve, &resolutions),
        @r"
    Merge legio/builder-1/task-7 into main

    Agent: builder-1
    Task: task-7
    Tier: auto-resolve
    Resolved:
      src/lib.rs (both sides kept)
      .mulch/expertise.jsonl (JSONL union)
    "
    );
}

#[test]
fn errors_that_stop_a_run_say_what_to_do() {
    let dirty = MergeError::DirtyTarget {
        target: "main".into(),
        checkout: PathBuf::from("/work/project"),
        files: vec!["README.md".into(), "src/lib.rs".into()],
    };
    insta::assert_snapshot!(dirty, @"/work/project has uncommitted changes to tracked files (README.md, src/lib.rs), and it has main checked out; commit or stash them first (legio never resets or stashes your work)");
    let busy = MergeError::Lock(LockError::Busy {
        target: "main".into(),
        holder: Some(4242),
        waited: Duration::from_secs(30),
    });
    insta::assert_snapshot!(busy, @"another legio merge (pid 4242) is merging into main; waited 30000 ms for it. Wait for it to finish, or check that process");
    let blocked = MergeError::RecoveryBlocked {
        branch: "legio/builder-1/task-7".into(),
        target: "main".into(),
        checkout: PathBuf::from("/work/project"),
        files: vec!["shared.txt".into()],
    };
    insta::assert_snapshot!(blocked, @"cannot undo the interrupted merge of legio/builder-1/task-7 into main: in /work/project these files changed after the merge began: shared.txt. Stash or commit them elsewhere (`git stash`), then run legio merge again");
    insta::assert_snapshot!(
        MergeError::NoSuchTarget("mian".into()),
        @"the merge target mian is not a local branch; create it, or name another with --into"
    );
}
