//! Many branches, two mergers at once, and mergers killed with SIGKILL mid-way.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use crate::project::{BR, Project, assert_no_line_lost, assert_queue_consistent};

fn branches(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("legio/builder-{i}/t-{i}"))
        .collect()
}

/// Asserts every builder's work of `many` landed on main exactly once.
#[track_caller]
fn assert_all_landed(p: &Project, n: usize) {
    let shared = p.text("main", "shared.txt").unwrap();
    for i in 1..=n {
        assert_eq!(
            p.text("main", &format!("work-{i}.txt")).as_deref(),
            Some(format!("work of builder {i}\n").as_str())
        );
        let line = format!("builder {i} was here");
        assert_eq!(shared.lines().filter(|l| *l == line).count(), 1, "{line}");
    }
    let tips = p.merged_tips("main");
    assert_eq!(tips.len(), n, "one merge commit per branch");
    assert_eq!(p.tracked_changes(), "");
    assert_queue_consistent(p, "main");
}

/// A `legio merge --all` paused at `phase` by the test failpoint; returns once it is there.
fn paused_merger(p: &Project, phase: &str) -> Child {
    let mut cmd = p.command(&["merge", "--all"]);
    cmd.env("LEGIO_FAILPOINT", format!("merge:{phase}"));
    let mut child = cmd.spawn().expect("legio starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let marker = format!("failpoint merge:{phase} reached");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        panic!("legio merge never reached the failpoint {phase}");
    }
    child
}

fn sigkill(mut child: Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[test]
fn fifty_branches_go_through_merge_all_and_a_conflict_stops_nothing() {
    let p = Project::with_args(&["many", "50"]);
    let base = p.rev("main");
    let all = branches(50);
    // A branch rewriting the line builder 5 adds next to: it conflicts once builder 5 landed.
    p.git(&["checkout", "-q", "-b", "legio/rewriter/t-x", &base]);
    let shared = std::fs::read_to_string(p.root.join("shared.txt")).unwrap();
    std::fs::write(
        p.root.join("shared.txt"),
        shared.replace("section 5\n", "SECTION 5\n"),
    )
    .unwrap();
    p.git(&["commit", "-q", "-am", "rewrite section 5"]);
    p.git(&["checkout", "-q", "main"]);
    for (i, b) in all.iter().enumerate() {
        p.enqueue(b);
        if i == 9 {
            p.enqueue("legio/rewriter/t-x");
        }
    }
    let run = p.legio(&["merge", "--all", "--json"]).expect(1);
    let doc = run.json();
    assert_eq!(
        (doc["count"].as_u64(), doc["successCount"].as_u64()),
        (Some(51), Some(50))
    );
    let failed: Vec<&serde_json::Value> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["entry"]["status"] != "merged")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["entry"]["branchName"], "legio/rewriter/t-x");
    assert!(
        run.stderr.contains("1 of 51 branch(es) did not merge"),
        "{}",
        run.stderr
    );
    assert_all_landed(&p, 50);
    let main = p.rev("main");
    for b in &all {
        assert_no_line_lost(&p, &base, &p.rev(b), &main, &[]);
    }
    assert_eq!(
        p.text("main", "shared.txt")
            .unwrap()
            .matches("SECTION")
            .count(),
        0
    );
    let stats = p.legio(&["merge", "--stats", "--json"]).expect(0).json();
    assert_eq!(stats["byTier"][0]["tier"], "clean-merge");
    assert_eq!(stats["byTier"][0]["merged"], 50);
    assert_eq!(stats["queue"]["conflict"], 1);
}

#[test]
fn two_mergers_at_once_merge_nothing_twice() {
    let p = Project::with_args(&["many", "20"]);
    for b in branches(20) {
        p.enqueue(&b);
    }
    let a = p.command(&["merge", "--all", "--json"]).spawn().unwrap();
    let b = p.command(&["merge", "--all", "--json"]).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut merged = 0;
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["failCount"], 0);
        merged += doc["successCount"].as_u64().unwrap();
    }
    assert_eq!(merged, 20, "every branch merged by exactly one of them");
    assert_all_landed(&p, 20);
}

#[test]
fn a_second_merger_names_the_holder_and_a_killed_merge_is_recovered() {
    let p = Project::new("clean");
    p.enqueue(BR);
    let pre = p.rev("main");
    let holder = paused_merger(&p, "gates-passed");
    let run = p.legio(&["merge", "--all", "--wait", "1"]).expect(1);
    assert!(
        run.stderr.contains(&format!("(pid {})", holder.id()))
            && run.stderr.contains("merging into main"),
        "{}",
        run.stderr
    );
    assert_eq!(p.queue()[0].status.as_str(), "merging");
    sigkill(holder);
    // Killed after its checkout was updated, before the ref moved.
    assert_eq!(p.rev("main"), pre);
    assert!(p.root.join("feature.txt").exists());
    let run = p.legio(&["merge", "--all"]).expect(0);
    assert!(
        run.stdout
            .contains("Recovered an interrupted merge of legio/builder-1/t-1"),
        "{}",
        run.stdout
    );
    assert_eq!(p.git(&["rev-parse", "main^2"]).trim(), p.rev(BR));
    assert_no_line_lost(&p, &pre, &p.rev(BR), &p.rev("main"), &[]);
    assert_eq!(p.tracked_changes(), "");
    assert_queue_consistent(&p, "main");
}

#[test]
fn a_merge_killed_at_any_phase_is_undone_and_merged_once_by_the_next_run() {
    for phase in [
        "claimed",
        "committed",
        "checking-out",
        "gates-passed",
        "published",
    ] {
        let p = Project::with_args(&["many", "3"]);
        for b in branches(3) {
            p.enqueue(&b);
        }
        let pre = p.rev("main");
        sigkill(paused_merger(&p, phase));
        let q = p.queue();
        assert_eq!(
            q[0].status.as_str(),
            "merging",
            "{phase}: the claim survives the kill"
        );
        if phase == "published" {
            assert_ne!(p.rev("main"), pre, "{phase}: the ref had moved");
        } else {
            assert_eq!(p.rev("main"), pre, "{phase}: the ref had not moved");
        }
        let run = p.legio(&["merge", "--all"]).expect(0);
        assert!(
            run.stdout
                .contains("Recovered an interrupted merge of legio/builder-1/t-1"),
            "{phase}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("Done: 3 merged, 0 failed"),
            "{phase}: {}",
            run.stdout
        );
        assert_all_landed(&p, 3);
        assert!(!p.layout().file("merge/main.journal").exists(), "{phase}");
    }
}
