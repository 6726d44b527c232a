//! The resolution tiers against real repositories: what lands on the target, what is kept,
//! and what is refused.

mod common;

use std::time::Duration;

use common::*;
use legio_core::domain::merge::{MergeStatus, ResolutionTier};
use legio_core::ports::runtime::RuntimeError;
use legio_core::ports::store::MergeQueue;
use legio_merge::testing::MemoryQueue;
use legio_merge::{
    CommandGates, ConflictKind, GateCommand, MergeError, MergeOptions, MergeRunner, NoGates,
    Resolution,
};

const BR: &str = "legio/builder-1/task-7";

#[test]
fn a_clean_merge_is_a_merge_commit_naming_agent_and_task() {
    let f = Fixture::new();
    f.branch(BR, "main", &[("feature.txt", Some("new feature\n"))]);
    f.on_main(&[("main.txt", Some("main work\n"))]);
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(&q, &c), mechanical_only()).unwrap();
    let mut seen = Vec::new();
    let report = runner
        .merge_branch("main", BR, &mut |e| seen.push(e.entry.id))
        .unwrap();

    assert_eq!(report.entries.len(), 1);
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Merged, "{e:?}");
    assert_eq!(e.tier, Some(ResolutionTier::CleanMerge));
    assert_eq!(
        seen,
        vec![e.entry.id],
        "the caller saw the entry as it finished"
    );
    let tip = f.rev("main");
    assert_eq!(e.merge_commit.as_deref(), Some(tip.as_str()));
    assert_eq!(f.parents("main"), vec![pre, f.rev(BR)]);
    let msg = f.message("main");
    assert!(
        msg.contains("Agent: builder-1") && msg.contains("Task: task-7"),
        "{msg}"
    );
    // The checked-out target now shows the merge, with nothing left uncommitted.
    assert_eq!(f.read("feature.txt").as_deref(), Some("new feature\n"));
    assert_eq!(f.status(), "");
    // Queued on the way, with agent, task and files taken from the branch.
    let entry = &q.entries()[0];
    assert_eq!(entry.agent_name, "builder-1");
    assert_eq!(entry.bead_id, "task-7");
    assert_eq!(entry.files_modified, vec!["feature.txt".to_owned()]);
    assert_eq!(entry.status, MergeStatus::Merged);
    assert_eq!(entry.target_branch.as_deref(), Some("main"));
    assert_queue_consistent(&q);
}

#[test]
fn a_branch_already_in_the_target_merges_without_a_commit() {
    let f = Fixture::new();
    f.branch(BR, "main", &[("a.txt", Some("a\n"))]);
    f.git(&["merge", "-q", "--no-ff", "-m", "by hand", BR]);
    let before = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    assert!(report.entries[0].already_merged);
    assert_eq!(report.entries[0].status(), MergeStatus::Merged);
    assert_eq!(f.rev("main"), before);
}

#[test]
fn both_sides_adding_the_same_new_file_keeps_both_target_first() {
    let f = Fixture::new();
    f.branch(
        BR,
        "main",
        &[("notes.txt", Some("branch note 1\nbranch note 2\n"))],
    );
    f.on_main(&[("notes.txt", Some("main note\n"))]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.tier, Some(ResolutionTier::AutoResolve), "{e:?}");
    assert_eq!(e.conflict_files, vec!["notes.txt".to_owned()]);
    assert_eq!(e.resolutions[0].how, Resolution::KeepBoth);
    let merged = f.show("main", "notes.txt").unwrap();
    assert_eq!(merged, "main note\nbranch note 1\nbranch note 2\n");
    assert_eq!(f.read("notes.txt").unwrap(), merged);
    assert!(f.message("main").contains("notes.txt (both sides kept)"));
    assert_eq!(f.status(), "");
    assert_queue_consistent(&q);
}

#[test]
fn additions_at_the_same_place_of_a_modified_file_keep_both() {
    let f = Fixture::new();
    let base = "fn a() {}\n\nfn z() {}\n";
    f.on_main(&[("lib.rs", Some(base))]);
    let ours = "fn a() {}\n\nfn from_main() {}\n\nfn z() {}\n";
    let theirs = "fn a() {}\n\nfn from_branch() {}\n\nfn z() {}\n";
    f.branch(BR, "main", &[("lib.rs", Some(theirs))]);
    f.on_main(&[("lib.rs", Some(ours))]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    assert_eq!(report.entries[0].tier, Some(ResolutionTier::AutoResolve));
    let merged = f.show("main", "lib.rs").unwrap();
    assert_keeps_lines(&merged, ours, "target");
    assert_keeps_lines(&merged, theirs, "branch");
    assert!(merged.find("from_main").unwrap() < merged.find("from_branch").unwrap());
}

#[test]
fn changing_the_same_line_on_both_sides_is_a_conflict_that_changes_nothing() {
    let f = Fixture::new();
    f.on_main(&[
        ("config.txt", Some("port = 1\nhost = a\n")),
        ("other.txt", Some("x\n")),
    ]);
    // Two conflicted files: one tier 2 could resolve (other.txt, both added lines), one it
    // cannot. Nothing may be half-applied.
    f.branch(
        BR,
        "main",
        &[
            ("config.txt", Some("port = 2\nhost = a\n")),
            ("other.txt", Some("x\nbranch\n")),
        ],
    );
    f.on_main(&[
        ("config.txt", Some("port = 3\nhost = a\n")),
        ("other.txt", Some("x\nmain\n")),
    ]);
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Conflict, "{e:?}");
    assert_eq!(e.tier, Some(ResolutionTier::AutoResolve));
    assert_eq!(
        e.conflict_files,
        vec!["config.txt".to_owned(), "other.txt".to_owned()]
    );
    let err = e.error.as_deref().unwrap();
    assert!(
        err.contains("config.txt") && err.contains("aiResolveEnabled"),
        "{err}"
    );
    assert_eq!(f.rev("main"), pre, "the target did not move");
    assert_eq!(
        f.read("other.txt").unwrap(),
        "x\nmain\n",
        "nothing half-applied"
    );
    assert_eq!(f.status(), "");
    assert_eq!(q.entries()[0].error_message.as_deref(), Some(err));
    assert_queue_consistent(&q);
}

#[test]
fn delete_against_modify_is_never_resolved_mechanically() {
    let f = Fixture::new();
    f.on_main(&[("old.txt", Some("keep me\n"))]);
    f.branch(BR, "main", &[("old.txt", Some("keep me\nand this\n"))]);
    f.on_main(&[("old.txt", None)]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(&q, &c), mechanical_only()).unwrap();
    let p = runner.predict("main", BR).unwrap();
    assert_eq!(p.conflicts[0].kind, ConflictKind::DeleteModify);
    assert_eq!(p.tier, None);
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    assert_eq!(report.entries[0].status(), MergeStatus::Conflict);
    assert_eq!(f.show("main", "old.txt"), None);
    assert_eq!(f.show(BR, "old.txt").unwrap(), "keep me\nand this\n");
}

#[test]
fn a_rename_on_one_side_carries_the_other_sides_edit() {
    let f = Fixture::new();
    let text = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n";
    f.on_main(&[("src/old_name.rs", Some(text))]);
    f.git(&["checkout", "-q", "-b", BR]);
    f.git(&["mv", "src/old_name.rs", "src/new_name.rs"]);
    f.commit_all("rename");
    f.git(&["checkout", "-q", "main"]);
    f.on_main(&[(
        "src/old_name.rs",
        Some("line 1\nline 2 edited on main\nline 3\nline 4\nline 5\nline 6\n"),
    )]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    assert_eq!(report.entries[0].tier, Some(ResolutionTier::CleanMerge));
    assert_eq!(f.show("main", "src/old_name.rs"), None);
    let moved = f.show("main", "src/new_name.rs").unwrap();
    assert!(moved.contains("line 2 edited on main"), "{moved}");
    assert_eq!(f.status(), "");
}

#[test]
fn renaming_one_file_two_ways_is_a_rename_conflict() {
    let f = Fixture::new();
    f.on_main(&[("a.txt", Some("alpha\nbeta\ngamma\n"))]);
    f.git(&["checkout", "-q", "-b", BR]);
    f.git(&["mv", "a.txt", "b.txt"]);
    f.commit_all("rename to b");
    f.git(&["checkout", "-q", "main"]);
    f.git(&["mv", "a.txt", "c.txt"]);
    f.commit_all("rename to c");
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Conflict);
    assert!(e.error.as_deref().unwrap().contains("renamed"), "{e:?}");
    assert_eq!(f.rev("main"), pre);
}

#[test]
fn binary_files_changed_on_both_sides_conflict() {
    let f = Fixture::new();
    f.write_bytes("logo.png", b"\x89PNG\0\0base");
    f.commit_all("logo");
    f.git(&["checkout", "-q", "-b", BR]);
    f.write_bytes("logo.png", b"\x89PNG\0\0branch");
    f.commit_all("branch logo");
    f.git(&["checkout", "-q", "main"]);
    f.write_bytes("logo.png", b"\x89PNG\0\0main");
    f.commit_all("main logo");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    // Even with tier 3 on, a binary file is not sent to the agent runtime.
    let ai = ScriptedRuntime::answering(vec![Ok("anything".into())]);
    let runner = MergeRunner::open(
        &f.root,
        ports_with(&q, &c, Some(&ai), &NoGates),
        MergeOptions::default(),
    )
    .unwrap();
    assert_eq!(
        runner.predict("main", BR).unwrap().conflicts[0].kind,
        ConflictKind::Binary
    );
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    assert_eq!(report.entries[0].status(), MergeStatus::Conflict);
    assert_eq!(ai.calls(), 0);
    assert_eq!(
        std::fs::read(f.root.join("logo.png")).unwrap(),
        b"\x89PNG\0\0main"
    );
}

#[test]
fn jsonl_files_merge_as_a_deduplicated_union() {
    let f = Fixture::new();
    let base = "{\"id\":\"a\",\"n\":1}\n";
    f.on_main(&[(".mulch/expertise.jsonl", Some(base))]);
    let theirs = "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":2}\n{\"id\":\"shared\"}\n";
    f.branch(BR, "main", &[(".mulch/expertise.jsonl", Some(theirs))]);
    let ours = "{\"id\":\"a\",\"n\":1}\n{\"id\":\"c\",\"n\":3}\n{\"id\": \"shared\"}\n";
    f.on_main(&[(".mulch/expertise.jsonl", Some(ours))]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.tier, Some(ResolutionTier::AutoResolve), "{e:?}");
    assert_eq!(e.resolutions[0].how, Resolution::JsonlUnion);
    let merged = f.show("main", ".mulch/expertise.jsonl").unwrap();
    assert_eq!(
        merged,
        "{\"id\":\"a\",\"n\":1}\n{\"id\":\"c\",\"n\":3}\n{\"id\": \"shared\"}\n{\"id\":\"b\",\"n\":2}\n"
    );
}

#[test]
fn files_marked_merge_union_are_merged_and_reported_as_tier_2() {
    let f = Fixture::new();
    f.on_main(&[
        (".gitattributes", Some("*.log merge=union\n")),
        ("changes.log", Some("v1\n")),
    ]);
    f.branch(BR, "main", &[("changes.log", Some("v1\nbranch entry\n"))]);
    f.on_main(&[("changes.log", Some("v1\nmain entry\n"))]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.tier, Some(ResolutionTier::AutoResolve), "{e:?}");
    assert_eq!(e.resolutions[0].how, Resolution::UnionAttribute);
    assert_eq!(
        f.show("main", "changes.log").unwrap(),
        "v1\nmain entry\nbranch entry\n"
    );
}

#[test]
fn a_dirty_target_checkout_is_refused_with_its_files_and_left_alone() {
    let f = Fixture::new();
    f.branch(BR, "main", &[("feature.txt", Some("f\n"))]);
    f.write("README.md", "# my unsaved edit\n");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(&q, &c), mechanical_only()).unwrap();
    let err = runner.merge_all("main", &mut |_| {}).unwrap_err();
    match &err {
        MergeError::DirtyTarget { files, .. } => assert_eq!(files, &vec!["README.md".to_owned()]),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("commit or stash"), "{err}");
    assert_eq!(f.read("README.md").unwrap(), "# my unsaved edit\n");
    assert_eq!(q.entries()[0].status, MergeStatus::Pending, "not claimed");
    assert!(q.history().is_empty());
}

#[test]
fn an_untracked_file_in_the_way_fails_the_entry_and_survives() {
    let f = Fixture::new();
    f.branch(BR, "main", &[("new.txt", Some("from branch\n"))]);
    f.write("new.txt", "my untracked draft\n");
    f.write("scratch.txt", "unrelated untracked\n");
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let report = merge_all(&f, &q);
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Failed);
    assert!(e.error.as_deref().unwrap().contains("new.txt"), "{e:?}");
    assert_eq!(f.rev("main"), pre);
    assert_eq!(f.read("new.txt").unwrap(), "my untracked draft\n");
    assert_eq!(f.read("scratch.txt").unwrap(), "unrelated untracked\n");
}

#[test]
fn failing_gates_undo_the_merge_and_keep_their_output() {
    let f = Fixture::new();
    f.branch(BR, "main", &[("feature.txt", Some("f\n"))]);
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let gates = CommandGates {
        commands: vec![
            GateCommand {
                name: "sees-merge".into(),
                argv: vec!["test".into(), "-f".into(), "feature.txt".into()],
            },
            GateCommand {
                name: "test".into(),
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo 3 tests failed; exit 1".into(),
                ],
            },
        ],
        timeout: Duration::from_secs(30),
    };
    let runner =
        MergeRunner::open(&f.root, ports_with(&q, &c, None, &gates), mechanical_only()).unwrap();
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Failed);
    assert_eq!(e.merge_commit, None);
    let err = e.error.as_deref().unwrap();
    assert!(
        err.contains("quality gate test failed") && err.contains("3 tests failed"),
        "{err}"
    );
    assert_eq!(f.rev("main"), pre, "the target never moved");
    assert_eq!(f.read("feature.txt"), None, "the checkout is back");
    assert_eq!(f.status(), "");
    assert_queue_consistent(&q);
}

#[test]
fn gates_run_in_a_scratch_worktree_when_the_target_is_not_checked_out() {
    let f = Fixture::new();
    f.git(&["branch", "release"]);
    f.branch(BR, "release", &[("feature.txt", Some("f\n"))]);
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let gates = CommandGates {
        commands: vec![GateCommand {
            name: "sees-merge".into(),
            argv: vec!["test".into(), "-f".into(), "feature.txt".into()],
        }],
        timeout: Duration::from_secs(30),
    };
    let runner =
        MergeRunner::open(&f.root, ports_with(&q, &c, None, &gates), mechanical_only()).unwrap();
    let report = runner.merge_all("release", &mut |_| {}).unwrap();
    assert_eq!(
        report.entries[0].status(),
        MergeStatus::Merged,
        "{report:?}"
    );
    assert_eq!(f.show("release", "feature.txt").unwrap(), "f\n");
    assert_eq!(f.read("feature.txt"), None, "main's checkout untouched");
    let worktrees = f.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    assert!(!f.git(&["branch", "--list"]).contains("scratch"));
}

fn conflicting_fixture() -> (Fixture, &'static str, &'static str) {
    let f = Fixture::new();
    f.on_main(&[("greet.rs", Some("The greeting\nfn hello() { \"hi\" }\n"))]);
    let theirs = "The greeting\nfn hello() { \"hello\" }\n";
    let ours = "The greeting\nfn hello() { \"hey\" }\n";
    f.branch(BR, "main", &[("greet.rs", Some(theirs))]);
    f.on_main(&[("greet.rs", Some(ours))]);
    (f, ours, theirs)
}

#[test]
fn tier_3_accepts_a_checked_answer_even_one_that_starts_with_the() {
    let (f, _, _) = conflicting_fixture();
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let answer = "The greeting\nfn hello() { \"hey, hello\" }";
    let ai = ScriptedRuntime::answering(vec![Ok(answer.into())]);
    let runner = MergeRunner::open(
        &f.root,
        ports_with(&q, &c, Some(&ai), &NoGates),
        MergeOptions::default(),
    )
    .unwrap();
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Merged, "{e:?}");
    assert_eq!(e.tier, Some(ResolutionTier::AiResolve));
    assert_eq!(e.resolutions[0].how, Resolution::Ai);
    assert_eq!(f.show("main", "greet.rs").unwrap(), format!("{answer}\n"));
    let prompt = &ai.prompts.lock().unwrap()[0];
    assert!(prompt.contains("`greet.rs`") && prompt.contains("agent builder-1"));
    assert!(prompt.contains("<<<<<<< main") && prompt.contains(">>>>>>> legio/builder-1/task-7"));
}

#[test]
fn tier_3_rejects_prose_and_timeouts_and_then_changes_nothing() {
    let answers: [fn() -> Result<String, RuntimeError>; 3] = [
        || Ok("Here is the merged file:\nThe greeting\nfn hello() { \"hey\" }\n".to_owned()),
        || Ok("```\nThe greeting\n```\n".to_owned()),
        || {
            Err(RuntimeError::Timeout {
                program: "claude".into(),
                timeout: Duration::from_secs(300),
            })
        },
    ];
    for answer in answers {
        let (f, _, _) = conflicting_fixture();
        let pre = f.rev("main");
        let q = MemoryQueue::new();
        q.enqueue(&new_entry(BR)).unwrap();
        let c = clock();
        let ai = ScriptedRuntime::answering(vec![answer()]);
        let runner = MergeRunner::open(
            &f.root,
            ports_with(&q, &c, Some(&ai), &NoGates),
            MergeOptions::default(),
        )
        .unwrap();
        let report = runner.merge_all("main", &mut |_| {}).unwrap();
        let e = &report.entries[0];
        assert_eq!(e.status(), MergeStatus::Conflict, "{:?}: {e:?}", answer());
        assert_eq!(e.tier, Some(ResolutionTier::AiResolve));
        assert!(e.error.as_deref().unwrap().contains("greet.rs"), "{e:?}");
        assert_eq!(f.rev("main"), pre);
        assert_eq!(f.status(), "");
    }
}

#[test]
fn tier_3_off_means_the_runtime_is_never_asked() {
    let (f, _, _) = conflicting_fixture();
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let ai = ScriptedRuntime::answering(vec![]);
    let runner = MergeRunner::open(
        &f.root,
        ports_with(&q, &c, Some(&ai), &NoGates),
        mechanical_only(),
    )
    .unwrap();
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    assert_eq!(report.entries[0].status(), MergeStatus::Conflict);
    assert_eq!(ai.calls(), 0);
}

#[test]
fn tier_3_answers_must_pass_the_gates() {
    let (f, _, _) = conflicting_fixture();
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let ai = ScriptedRuntime::answering(vec![Ok("The greeting\nfn hello() { \"hey\" \n".into())]);
    let gates = CommandGates {
        commands: vec![GateCommand {
            name: "compiles".into(),
            argv: vec!["grep".into(), "-q".into(), "\" }".into(), "greet.rs".into()],
        }],
        timeout: Duration::from_secs(30),
    };
    let runner = MergeRunner::open(
        &f.root,
        ports_with(&q, &c, Some(&ai), &gates),
        MergeOptions::default(),
    )
    .unwrap();
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Failed, "{e:?}");
    assert_eq!(e.tier, Some(ResolutionTier::AiResolve));
    assert_eq!(f.rev("main"), pre);
    assert_eq!(f.status(), "");
}

#[test]
fn tier_4_hands_the_task_over_with_the_branch_diff_and_changes_nothing() {
    let (f, _, theirs) = conflicting_fixture();
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry(BR)).unwrap();
    let c = clock();
    let options = MergeOptions {
        ai_resolve: false,
        reimagine: true,
        ..MergeOptions::default()
    };
    let runner = MergeRunner::open(&f.root, ports(&q, &c), options).unwrap();
    assert_eq!(
        runner.predict("main", BR).unwrap().tier,
        Some(ResolutionTier::Reimagine)
    );
    let report = runner.merge_all("main", &mut |_| {}).unwrap();
    let e = &report.entries[0];
    assert_eq!(e.status(), MergeStatus::Conflict);
    assert_eq!(e.tier, Some(ResolutionTier::Reimagine));
    let handoff = e.handoff.as_ref().expect("a hand-off");
    assert_eq!(
        (handoff.agent.as_str(), handoff.task.as_str()),
        ("builder-1", "task-7")
    );
    assert_eq!(handoff.target_commit, pre);
    assert_eq!(handoff.conflict_files, vec!["greet.rs".to_owned()]);
    let wanted = format!("+{}", theirs.lines().nth(1).unwrap());
    assert!(handoff.diff.contains(&wanted), "{}", handoff.diff);
    assert_eq!(f.rev("main"), pre);
    assert_eq!(
        q.entries()[0].resolved_tier,
        Some(ResolutionTier::Reimagine)
    );
}

#[test]
fn a_dry_run_predicts_without_touching_anything() {
    let f = Fixture::new();
    f.on_main(&[("shared.txt", Some("x\n")), ("one.txt", Some("1\n"))]);
    f.branch("legio/a/clean", "main", &[("a.txt", Some("a\n"))]);
    f.branch(
        "legio/b/both-add",
        "main",
        &[("shared.txt", Some("x\nb\n"))],
    );
    f.branch("legio/c/hard", "main", &[("one.txt", Some("c\n"))]);
    f.on_main(&[
        ("shared.txt", Some("x\nmain\n")),
        ("one.txt", Some("main\n")),
    ]);
    let pre = f.rev("main");
    let q = MemoryQueue::new();
    q.enqueue(&new_entry("legio/a/clean")).unwrap();
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(&q, &c), mechanical_only()).unwrap();
    let clean = runner.predict("main", "legio/a/clean").unwrap();
    assert_eq!(clean.tier, Some(ResolutionTier::CleanMerge));
    assert_eq!(clean.changed_files, vec!["a.txt".to_owned()]);
    assert_eq!(clean.entry_id, Some(1));
    let auto = runner.predict("main", "legio/b/both-add").unwrap();
    assert_eq!(auto.tier, Some(ResolutionTier::AutoResolve));
    assert_eq!(auto.conflicts[0].path, "shared.txt");
    assert_eq!(auto.entry_id, None, "a dry run does not queue");
    let hard = runner.predict("main", "legio/c/hard").unwrap();
    assert_eq!(hard.tier, None);
    assert!(hard.conflicts[0].reason.is_some());
    let missing = runner.predict("main", "legio/x/nope").unwrap();
    assert!(missing.error.unwrap().contains("does not exist"));
    assert_eq!(runner.predict_pending("main").unwrap().len(), 1);

    assert_eq!(f.rev("main"), pre);
    assert_eq!(f.status(), "");
    assert_eq!(q.entries().len(), 1);
    assert!(q.history().is_empty());
}

#[test]
fn merge_branch_refuses_an_unknown_branch_without_queueing_it() {
    let f = Fixture::new();
    let q = MemoryQueue::new();
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(&q, &c), mechanical_only()).unwrap();
    let err = runner
        .merge_branch("main", "legio/ghost/t", &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, MergeError::NoSuchBranch(_)), "{err}");
    let err = runner.merge_all("nope", &mut |_| {}).unwrap_err();
    assert!(matches!(err, MergeError::NoSuchTarget(_)), "{err}");
    assert!(q.entries().is_empty());
}
