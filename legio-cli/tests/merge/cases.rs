//! One branch at a time through `legio merge --branch`: each kind of conflict, the target's
//! resolution, the dirty-tree refusal, gates, tier 4 and the dry run.

use serde_json::Value;

use crate::project::{BR, Project, assert_no_line_lost, assert_queue_consistent, assert_untouched};

/// Merges `BR` into main with `--json`; returns (exit status, the entry's JSON result).
fn merge_branch(p: &Project) -> (i32, Value) {
    let run = p.legio(&["merge", "--branch", BR, "--json"]);
    let doc = run.json();
    assert_eq!(doc["count"], 1, "{doc}");
    (run.code, doc["results"][0].clone())
}

/// A case that must merge at `tier`, keeping every line both sides added (outside `exempt`).
fn merges_at(case: &str, tier: &str, exempt: &[&str]) -> (Project, Value) {
    let p = Project::new(case);
    let (pre, tip) = (p.rev("main"), p.rev(BR));
    let (code, r) = merge_branch(&p);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["entry"]["status"], "merged", "{r:#}");
    assert_eq!(r["tier"], tier, "{r:#}");
    let merged = p.rev("main");
    assert_eq!(r["mergeCommit"], merged.as_str());
    assert_eq!(p.git(&["rev-parse", "main^1"]).trim(), pre);
    assert_eq!(p.git(&["rev-parse", "main^2"]).trim(), tip);
    assert_no_line_lost(&p, &pre, &tip, &merged, exempt);
    assert_eq!(p.tracked_changes(), "", "the checkout matches the merge");
    assert_queue_consistent(&p, "main");
    (p, r)
}

/// A case no enabled tier can merge: exit 1, nothing changed, the reason given.
fn refused(case: &str, why: &str) -> (Project, Value) {
    let p = Project::new(case);
    let (pre, tip) = (p.rev("main"), p.rev(BR));
    let (code, r) = merge_branch(&p);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["entry"]["status"], "conflict", "{r:#}");
    let error = r["error"].as_str().expect("an error");
    assert!(error.contains(why), "{error}");
    assert_untouched(&p, "main", &pre);
    assert_eq!(p.rev(BR), tip, "the branch is untouched");
    assert_queue_consistent(&p, "main");
    (p, r)
}

#[test]
fn a_clean_merge_is_a_merge_commit_naming_agent_and_task() {
    let (p, r) = merges_at("clean", "clean-merge", &[]);
    let message = p.git(&["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with(&format!("Merge {BR} into main")),
        "{message}"
    );
    assert!(
        message.contains("Agent: builder-1") && message.contains("Task: t-1"),
        "{message}"
    );
    assert_eq!(p.text("main", "feature.txt").unwrap(), "a feature\n");
    assert_eq!(r["entry"]["agentName"], "builder-1");
    assert_eq!(r["entry"]["beadId"], "t-1");
    assert_eq!(
        r["entry"]["filesModified"],
        serde_json::json!(["feature.txt", "lib.txt"])
    );
    let entries = p.queue();
    assert_eq!(entries.len(), 1, "queued once, by --branch");
    assert_eq!(
        entries[0].resolved_tier,
        Some(legio_core::domain::merge::ResolutionTier::CleanMerge)
    );
}

#[test]
fn add_add_keeps_both_sides_target_first() {
    let (p, r) = merges_at("add-add", "auto-resolve", &[]);
    assert_eq!(
        p.text("main", "notes.txt").unwrap(),
        "main note\nbranch note 1\nbranch note 2\n"
    );
    assert_eq!(r["resolutions"][0]["how"], "keep-both");
}

#[test]
fn additions_at_one_place_of_a_modified_file_keep_both() {
    let (p, _) = merges_at("modify-add", "auto-resolve", &[]);
    let lib = p.text("main", "lib.rs").unwrap();
    assert!(
        lib.find("from_main").unwrap() < lib.find("from_branch").unwrap(),
        "{lib}"
    );
}

#[test]
fn modify_modify_of_one_line_is_refused_and_changes_nothing() {
    let (p, r) = refused("modify-modify", "config.txt");
    assert_eq!(r["conflictFiles"], serde_json::json!(["config.txt"]));
    assert_eq!(
        p.text("main", "config.txt").unwrap(),
        "port = 3\nhost = a\n"
    );
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("aiResolveEnabled"), "{error}");
}

#[test]
fn delete_modify_is_refused_and_changes_nothing() {
    let (p, _) = refused("delete-modify", "old.txt");
    assert_eq!(p.show("main", "old.txt"), None);
}

#[test]
fn a_rename_carries_the_other_sides_edit() {
    let (p, _) = merges_at("rename", "clean-merge", &[]);
    assert_eq!(p.show("main", "src/old_name.rs"), None);
    let moved = p.text("main", "src/new_name.rs").unwrap();
    assert!(moved.contains("line 2 edited on main"), "{moved}");
}

#[test]
fn renaming_one_file_two_ways_is_refused() {
    refused("rename-rename", "renamed");
}

#[test]
fn binary_changes_on_both_sides_are_refused() {
    let (p, _) = refused("binary", "logo.png");
    assert_eq!(p.show("main", "logo.png").unwrap(), b"\x89PNG\0\0main");
    assert_eq!(
        std::fs::read(p.root.join("logo.png")).unwrap(),
        b"\x89PNG\0\0main"
    );
}

#[test]
fn jsonl_files_merge_as_a_union_of_records() {
    let (p, r) = merges_at("jsonl", "auto-resolve", &[]);
    assert_eq!(r["resolutions"][0]["how"], "jsonl-union");
    assert_eq!(
        p.text("main", ".mulch/expertise.jsonl").unwrap(),
        "{\"id\":\"a\",\"n\":1}\n{\"id\":\"c\",\"n\":3}\n{\"id\":\"b\",\"n\":2}\n"
    );
}

#[test]
fn merge_union_files_keep_both_entries() {
    let (p, r) = merges_at("union", "auto-resolve", &[]);
    assert_eq!(r["resolutions"][0]["how"], "union-attribute");
    assert_eq!(
        p.text("main", "changes.log").unwrap(),
        "v1\nmain entry\nbranch entry\n"
    );
}

#[test]
fn a_dirty_checkout_is_refused_with_its_files_and_nothing_changes() {
    let p = Project::new("clean");
    p.enqueue(BR);
    let pre = p.rev("main");
    std::fs::write(p.root.join("lib.txt"), "my uncommitted edit\n").unwrap();
    let run = p.legio(&["merge", "--all"]).expect(1);
    assert!(run.stderr.contains("uncommitted changes"), "{}", run.stderr);
    assert!(run.stderr.contains("lib.txt"), "{}", run.stderr);
    assert_eq!(p.rev("main"), pre);
    assert_eq!(
        std::fs::read_to_string(p.root.join("lib.txt")).unwrap(),
        "my uncommitted edit\n",
        "the user's edit survives"
    );
    let q = p.queue();
    assert_eq!(q[0].status.as_str(), "pending", "the entry waits: {q:?}");
    assert_queue_consistent(&p, "main");
}

#[test]
fn the_target_is_printed_first_and_follows_into_then_session_branch() {
    let p = Project::new("clean");
    p.git(&["branch", "release", "main~1"]);
    p.git(&["branch", "dev", "main~1"]);
    std::fs::write(p.layout().session_branch(), "release\n").unwrap();
    let run = p.legio(&["merge", "--branch", BR]).expect(0);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        "Merge target: release (from .legio/session-branch.txt)"
    );
    // release is not checked out: the ref moves, the checkout (main) does not.
    assert_eq!(p.git(&["rev-parse", "release^2"]).trim(), p.rev(BR));
    assert_eq!(p.tracked_changes(), "");
    let run = p
        .legio(&["merge", "--branch", BR, "--into", "dev"])
        .expect(0);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        "Merge target: dev (from --into)"
    );
    assert_eq!(p.git(&["rev-parse", "dev^2"]).trim(), p.rev(BR));
    std::fs::remove_file(p.layout().session_branch()).unwrap();
    let run = p.legio(&["merge", "--all", "--dry-run"]).expect(0);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        "Merge target: main (from project.canonicalBranch)"
    );
}

#[test]
fn an_unknown_branch_or_target_is_an_error_that_queues_nothing() {
    let p = Project::new("clean");
    let run = p
        .legio(&["merge", "--branch", "legio/nobody/t-9"])
        .expect(1);
    assert!(
        run.stderr.contains("legio/nobody/t-9 does not exist"),
        "{}",
        run.stderr
    );
    let run = p
        .legio(&["merge", "--branch", BR, "--into", "nowhere"])
        .expect(1);
    assert!(
        run.stderr.contains("nowhere is not a local branch"),
        "{}",
        run.stderr
    );
    assert!(p.queue().is_empty());
    let run = p.legio(&["merge"]).expect(2);
    assert!(run.stderr.contains("--branch"), "{}", run.stderr);
}

#[test]
fn a_dry_run_predicts_each_branch_and_changes_nothing() {
    let p = Project::new("modify-modify");
    p.git(&["branch", "legio/builder-2/t-2", "main"]);
    p.git(&["checkout", "-q", "-b", "legio/builder-3/t-3", "main"]);
    std::fs::write(p.root.join("new.txt"), "new\n").unwrap();
    p.git(&["add", "new.txt"]);
    p.git(&["commit", "-q", "-m", "new file"]);
    p.git(&["checkout", "-q", "main"]);
    for b in [BR, "legio/builder-2/t-2", "legio/builder-3/t-3"] {
        p.enqueue(b);
    }
    let before = p.queue();
    let pre = p.rev("main");
    let run = p
        .legio(&["merge", "--all", "--dry-run", "--json"])
        .expect(1);
    let doc = run.json();
    let preds = doc["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[0]["conflicts"][0]["path"], "config.txt");
    assert_eq!(preds[0]["tier"], Value::Null, "no enabled tier: {doc:#}");
    assert_eq!(preds[1]["alreadyMerged"], true);
    assert_eq!(preds[2]["tier"], "clean-merge");
    assert!(
        run.stderr.contains("1 of 3 branch(es) would not merge"),
        "{}",
        run.stderr
    );
    assert_untouched(&p, "main", &pre);
    assert_eq!(p.queue(), before, "the queue is unchanged");
    assert!(!p.layout().file("merge/main.journal").exists());
    // A branch that is not queued is predicted and still not queued.
    let run = p
        .legio(&["merge", "--branch", "legio/builder-3/t-3", "--dry-run"])
        .expect(0);
    assert!(run.stdout.contains("clean (clean-merge)"), "{}", run.stdout);
    assert_eq!(p.queue(), before);
}

#[test]
fn failing_quality_gates_undo_the_merge_and_passing_ones_let_it_land() {
    let p = Project::new("clean");
    p.local_config("merge:\n  runQualityGates: true\nqualityGates:\n  test: \"test -f feature.txt && grep -q four lib.txt && echo gates saw the merge\"\n  lint: \"echo lint broke >&2; exit 3\"\n");
    let pre = p.rev("main");
    let run = p.legio(&["merge", "--branch", BR]).expect(1);
    assert!(
        run.stdout.contains("quality gate lint failed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("lint broke"), "{}", run.stdout);
    assert_untouched(&p, "main", &pre);
    assert!(
        !p.root.join("feature.txt").exists(),
        "the checkout was put back"
    );
    assert_eq!(p.queue()[0].status.as_str(), "failed");
    p.local_config("merge:\n  runQualityGates: true\nqualityGates:\n  test: \"test -f feature.txt && grep -q four lib.txt\"\n  lint: \"\"\n");
    p.legio(&["merge", "--branch", BR]).expect(0);
    assert_eq!(p.git(&["rev-parse", "main^2"]).trim(), p.rev(BR));
    assert_queue_consistent(&p, "main");
}

#[test]
fn reimagine_hands_the_task_to_a_new_builder_and_changes_nothing() {
    let p = Project::new("modify-modify");
    p.local_config("merge:\n  aiResolveEnabled: false\n  reimagineEnabled: true\n");
    let pre = p.rev("main");
    let run = p.legio(&["merge", "--branch", BR, "--json"]).expect(1);
    let r = &run.json()["results"][0];
    assert_eq!(r["tier"], "reimagine", "{r:#}");
    let task = r["handedOff"]["task"].as_str().expect("a task").to_owned();
    assert!(task.starts_with("t-1-redo-"), "{task}");
    let spec =
        std::fs::read_to_string(p.layout().file("specs").join(format!("{task}.md"))).unwrap();
    assert!(
        spec.contains("+port = 2"),
        "the old diff is the spec:\n{spec}"
    );
    let shown = p.legio(&["task", "show", &task, "--json"]).expect(0).json();
    assert!(
        shown["title"]
            .as_str()
            .unwrap()
            .contains("Redo t-1 on main"),
        "{shown}"
    );
    let mail = p
        .legio(&["mail", "list", "--to", "orchestrator", "--json"])
        .expect(0)
        .json();
    assert_eq!(mail[0]["type"], "merge_failed");
    assert!(
        mail[0]["body"].as_str().unwrap().contains(&task),
        "{mail:#}"
    );
    assert_untouched(&p, "main", &pre);
}

#[test]
fn stats_show_outcomes_by_tier_and_the_queue() {
    let p = Project::new("add-add");
    p.legio(&["merge", "--branch", BR]).expect(0);
    p.git(&["checkout", "-q", "-b", "legio/builder-2/t-2", "main~1"]);
    std::fs::write(p.root.join("x.txt"), "x\n").unwrap();
    p.git(&["add", "x.txt"]);
    p.git(&["commit", "-q", "-m", "x"]);
    p.git(&["checkout", "-q", "main"]);
    p.legio(&["merge", "--branch", "legio/builder-2/t-2"])
        .expect(0);
    let doc = p.legio(&["merge", "--stats", "--json"]).expect(0).json();
    let tiers: Vec<&str> = doc["byTier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tier"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["clean-merge", "auto-resolve"], "{doc:#}");
    assert_eq!(doc["byTier"][0]["merged"], 1);
    assert!(doc["byTier"][1]["meanDurationMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(doc["queue"]["merged"], 2);
    let text = p.legio(&["merge", "--stats"]).expect(0).stdout;
    assert!(
        text.contains("auto-resolve") && text.contains("Queue: 0 pending"),
        "{text}"
    );
}

/// Tier 3 through the script runtime: the merger's one-shot command reads the prompt on stdin
/// (kept in .legio/prompt.txt for the test) and answers with `answer`.
fn scripted_resolver(p: &Project, answer: &str) {
    p.local_config(&format!(
        "runtime:\n  capabilities:\n    merger: script\n  script:\n    command:\n      - sh\n      - -c\n      - cat > .legio/prompt.txt; printf '{answer}'\n"
    ));
}

#[test]
fn tier_3_asks_the_merger_runtime_and_lands_a_checked_answer() {
    let p = Project::new("modify-modify");
    scripted_resolver(&p, "port = 3\\nhost = a\\n");
    let (pre, tip) = (p.rev("main"), p.rev(BR));
    let (code, r) = merge_branch(&p);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["tier"], "ai-resolve", "{r:#}");
    assert_eq!(r["resolutions"][0]["how"], "ai");
    assert_eq!(
        p.text("main", "config.txt").unwrap(),
        "port = 3\nhost = a\n"
    );
    let prompt = std::fs::read_to_string(p.layout().file("prompt.txt")).unwrap();
    assert!(
        prompt.contains("port = 2") && prompt.contains("port = 3"),
        "{prompt}"
    );
    // The AI tier resolved config.txt explicitly; every other line is kept.
    assert_no_line_lost(&p, &pre, &tip, &p.rev("main"), &["config.txt"]);
    assert_queue_consistent(&p, "main");
}

#[test]
fn tier_3_prose_is_rejected_and_changes_nothing() {
    let p = Project::new("modify-modify");
    scripted_resolver(&p, "I cannot resolve this conflict without more context.");
    let pre = p.rev("main");
    let (code, r) = merge_branch(&p);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["tier"], "ai-resolve");
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("rejected"), "{error}");
    assert_untouched(&p, "main", &pre);
    assert_queue_consistent(&p, "main");
}
