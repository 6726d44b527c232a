//! `GitWorktrees` against real repositories.

mod common;

use common::*;
use legio_core::layout::Layout;
use legio_core::names::{AgentName, TaskId};
use legio_core::ports::git::{
    BranchDisposal, GitError, RemoveOptions, WorktreeSpec, Worktrees, agent_branch,
};
use legio_merge::GitWorktrees;

fn spec(f: &Fixture, agent: &str, task: &str) -> WorktreeSpec {
    WorktreeSpec::for_agent(
        &Layout::new(&f.root),
        &AgentName::new(agent).expect("valid agent name"),
        &TaskId::new(task).expect("valid task id"),
        "main",
    )
}

fn remove(branch: BranchDisposal) -> RemoveOptions {
    RemoveOptions {
        force_dirty: false,
        branch,
        merge_target: "main".into(),
    }
}

#[test]
fn creates_an_agent_worktree_on_its_own_branch_from_the_target() {
    let f = Fixture::new();
    f.git(&["checkout", "-q", "-b", "session"]);
    let wt = GitWorktrees::open(&f.root).unwrap();
    let s = spec(&f, "builder-1", "task-7");
    assert_eq!(s.branch, "legio/builder-1/task-7");
    assert!(s.path.ends_with(".legio/worktrees/builder-1"));
    let created = wt.create(&s).unwrap();
    assert_eq!(created.branch, "legio/builder-1/task-7");
    assert_eq!(created.head, f.rev("main"));
    assert_eq!(
        std::fs::read_to_string(s.path.join("README.md")).unwrap(),
        "# project\n"
    );
    assert_eq!(
        f.git_in(&s.path, &["branch", "--show-current"]).trim(),
        s.branch
    );

    let listed = wt.list().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].branch, "session", "the main checkout comes first");
    assert_eq!(listed[1].branch, s.branch);
    assert_eq!(listed[1].head, created.head);
    assert_eq!(wt.current_branch().unwrap().as_deref(), Some("session"));
    assert!(wt.branch_exists(&s.branch).unwrap());
}

#[test]
fn refuses_an_existing_branch_or_path_and_leaves_nothing_behind() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let s = spec(&f, "builder-1", "task-7");
    f.git(&["branch", &s.branch]);
    let err = wt.create(&s).unwrap_err();
    assert!(matches!(err, GitError::BranchExists(_)), "{err}");
    assert!(err.to_string().contains("legio worktree clean"));
    f.git(&["branch", "-D", &s.branch]);

    std::fs::create_dir_all(&s.path).unwrap();
    let err = wt.create(&s).unwrap_err();
    assert!(matches!(err, GitError::PathExists(_)), "{err}");
    assert!(
        !wt.branch_exists(&s.branch).unwrap(),
        "no branch left behind"
    );
    std::fs::remove_dir(&s.path).unwrap();

    let bad = WorktreeSpec {
        base: "no-such-base".into(),
        ..s.clone()
    };
    assert!(matches!(
        wt.create(&bad).unwrap_err(),
        GitError::NoSuchBranch(_)
    ));
    assert!(!s.path.exists());
    assert_eq!(wt.list().unwrap().len(), 1);
}

#[test]
fn reuses_a_branch_for_recovery_but_not_one_checked_out_elsewhere() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let s = spec(&f, "builder-1", "task-7");
    wt.create(&s).unwrap();
    std::fs::write(s.path.join("work.txt"), "done\n").unwrap();
    f.git_in(&s.path, &["add", "-A"]);
    f.git_in(&s.path, &["commit", "-q", "-m", "work"]);
    let tip = f.rev(&s.branch);

    let again = WorktreeSpec {
        path: f.root.join(".legio/worktrees/builder-1b"),
        reuse_branch: true,
        ..s.clone()
    };
    let err = wt.create(&again).unwrap_err();
    match &err {
        GitError::BranchCheckedOut { path, .. } => assert!(path.ends_with("builder-1")),
        other => panic!("unexpected {other}"),
    }
    // The dead agent's worktree goes; its branch (with its commits) stays and is reused.
    let options = RemoveOptions {
        force_dirty: false,
        branch: BranchDisposal::Keep,
        merge_target: "main".into(),
    };
    wt.remove(&s.path, &options).unwrap();
    let revived = wt
        .create(&WorktreeSpec {
            reuse_branch: true,
            ..s.clone()
        })
        .unwrap();
    assert_eq!(revived.head, tip);
    assert_eq!(
        std::fs::read_to_string(s.path.join("work.txt")).unwrap(),
        "done\n"
    );
}

#[test]
fn removal_refuses_a_dirty_worktree_and_keeps_unmerged_branches() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let s = spec(&f, "builder-1", "task-7");
    wt.create(&s).unwrap();
    std::fs::write(s.path.join("draft.txt"), "unsaved\n").unwrap();
    let err = wt
        .remove(&s.path, &remove(BranchDisposal::DeleteIfMerged))
        .unwrap_err();
    match &err {
        GitError::Dirty { files, .. } => assert_eq!(files, &vec!["draft.txt".to_owned()]),
        other => panic!("unexpected {other}"),
    }
    assert!(s.path.join("draft.txt").exists(), "nothing removed");
    assert_eq!(
        wt.dirty_files(&s.path).unwrap(),
        vec!["draft.txt".to_owned()]
    );

    f.git_in(&s.path, &["add", "-A"]);
    f.git_in(&s.path, &["commit", "-q", "-m", "draft"]);
    assert_eq!(
        wt.changed_files(&s.branch, "main").unwrap(),
        vec!["draft.txt".to_owned()]
    );
    assert!(!wt.is_merged(&s.branch, "main").unwrap());
    let r = wt
        .remove(&s.path, &remove(BranchDisposal::DeleteIfMerged))
        .unwrap();
    assert!(r.worktree_removed && !r.branch_deleted);
    assert!(
        r.branch_kept_reason
            .unwrap()
            .contains("not merged into main")
    );
    assert!(!s.path.exists());
    assert!(wt.branch_exists(&s.branch).unwrap());
    assert_eq!(wt.list().unwrap().len(), 1);
}

#[test]
fn removal_deletes_a_merged_branch_and_force_deletes_any() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let merged = spec(&f, "builder-1", "task-1");
    wt.create(&merged).unwrap();
    std::fs::write(merged.path.join("a.txt"), "a\n").unwrap();
    f.git_in(&merged.path, &["add", "-A"]);
    f.git_in(&merged.path, &["commit", "-q", "-m", "a"]);
    f.git(&["merge", "-q", "--no-ff", "-m", "merge", &merged.branch]);
    assert!(wt.is_merged(&merged.branch, "main").unwrap());
    let r = wt
        .remove(&merged.path, &remove(BranchDisposal::DeleteIfMerged))
        .unwrap();
    assert!(r.branch_deleted && r.branch_kept_reason.is_none());
    assert!(!wt.branch_exists(&merged.branch).unwrap());

    let forced = spec(&f, "builder-2", "task-2");
    wt.create(&forced).unwrap();
    std::fs::write(forced.path.join("b.txt"), "b\n").unwrap();
    let options = RemoveOptions {
        force_dirty: true,
        branch: BranchDisposal::Force,
        merge_target: "main".into(),
    };
    let r = wt.remove(&forced.path, &options).unwrap();
    assert!(r.worktree_removed && r.branch_deleted);
    assert!(!forced.path.exists());
}

#[test]
fn the_main_checkout_and_strangers_are_not_removable_worktrees() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let err = wt
        .remove(&f.root, &remove(BranchDisposal::Keep))
        .unwrap_err();
    assert!(matches!(err, GitError::NoSuchWorktree(_)), "{err}");
    assert!(f.root.join("README.md").exists());
    let outside = tempfile::tempdir().unwrap();
    assert!(matches!(
        GitWorktrees::open(outside.path()).unwrap_err(),
        GitError::NotARepository { .. }
    ));
}

#[test]
fn a_worktree_whose_directory_vanished_can_be_recreated() {
    let f = Fixture::new();
    let wt = GitWorktrees::open(&f.root).unwrap();
    let s = spec(&f, "builder-1", "task-7");
    wt.create(&s).unwrap();
    std::fs::remove_dir_all(&s.path).unwrap();
    let again = wt
        .create(&WorktreeSpec {
            reuse_branch: true,
            ..s.clone()
        })
        .unwrap();
    assert_eq!(
        again.branch,
        agent_branch(
            &AgentName::new("builder-1").unwrap(),
            &TaskId::new("task-7").unwrap()
        )
    );
    assert!(s.path.join("README.md").exists());
}
