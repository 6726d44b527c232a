//! `legio merge --all` over 50 clean agent branches against a shell loop of `git merge` over
//! the same branches, in the same run, on copies of one fixture repository.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p legio-cli --bench merge [-- RUNS]
//! ```
//!
//! Each run copies the repository built by `tests/merge/fixtures/repos.sh many 50` twice. In
//! one copy `legio init` runs and the 50 branches are queued (not timed), then the whole
//! `legio merge --all` process is timed: lock, recovery check, 50 in-memory merges, checkout
//! updates, queue claims and finishes, and the mail, event and metrics bookkeeping of each
//! entry. In the other copy `sh -c 'for b; do git merge --no-ff --no-edit -q "$b"; done'` is
//! timed (`--no-ff` so that both sides make 50 merge commits; without it git fast-forwards the
//! first branch). The two alternate, so machine load falls on both. Prints the median of each,
//! and their ratio, as text and as one JSON line.

#![allow(clippy::unwrap_used)] // a benchmark: a failed step is a failed run

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use legio_core::Layout;
use legio_core::domain::merge::NewMergeEntry;
use legio_core::ports::MergeQueue;
use legio_core::ports::git::parse_agent_branch;
use legio_core::time::{Clock, SystemClock};
use legio_store::SqliteMergeQueue;

const BRANCHES: usize = 50;

fn hermetic(mut cmd: Command, home: &Path) -> Command {
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Legio Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@legio.invalid")
        .env("GIT_COMMITTER_NAME", "Legio Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@legio.invalid")
        .env("NO_COLOR", "1");
    cmd
}

fn run(mut cmd: Command, what: &str) -> Duration {
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn copy(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

fn merge_commits(repo: &Path, home: &Path) -> usize {
    let mut git = hermetic(Command::new("git"), home);
    git.args(["rev-list", "--merges", "--count", "main"])
        .current_dir(repo);
    let out = git.output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let template = tmp.path().join("template");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&template).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/merge/fixtures/repos.sh");
    let mut build = hermetic(Command::new("bash"), &home);
    build
        .arg(&script)
        .args(["many", &BRANCHES.to_string()])
        .current_dir(&template);
    run(build, "building the fixture");
    let branches: Vec<String> = (1..=BRANCHES)
        .map(|i| format!("legio/builder-{i}/t-{i}"))
        .collect();
    let legio = PathBuf::from(env!("CARGO_BIN_EXE_legio"));

    let (mut legio_times, mut git_times) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // legio merge --all
        let repo = tmp.path().join(format!("legio-{i}"));
        copy(&template, &repo);
        let mut init = hermetic(Command::new(&legio), &home);
        init.arg("init").current_dir(&repo);
        run(init, "legio init");
        let queue = SqliteMergeQueue::open_in(&Layout::new(&repo)).unwrap();
        for b in &branches {
            let (agent, task) = parse_agent_branch(b).unwrap();
            queue
                .enqueue(&NewMergeEntry {
                    branch_name: b.clone(),
                    bead_id: task.to_owned(),
                    agent_name: agent.to_owned(),
                    files_modified: vec![],
                    enqueued_at: SystemClock.now(),
                })
                .unwrap();
        }
        drop(queue);
        let mut merge = hermetic(Command::new(&legio), &home);
        merge.args(["merge", "--all", "--quiet"]).current_dir(&repo);
        legio_times.push(run(merge, "legio merge --all"));
        assert_eq!(merge_commits(&repo, &home), BRANCHES, "legio merged all");

        // the shell loop
        let repo = tmp.path().join(format!("git-{i}"));
        copy(&template, &repo);
        let mut sh = hermetic(Command::new("sh"), &home);
        sh.args([
            "-c",
            r#"for b; do git merge --no-ff --no-edit -q "$b" || exit 1; done"#,
            "sh",
        ])
        .args(&branches)
        .current_dir(&repo);
        git_times.push(run(sh, "the git merge loop"));
        assert_eq!(merge_commits(&repo, &home), BRANCHES, "git merged all");
        eprintln!(
            "run {}/{runs}: legio {:.1} ms, git loop {:.1} ms",
            i + 1,
            ms(legio_times[i]),
            ms(git_times[i])
        );
    }
    let (l, g) = (median(legio_times), median(git_times));
    println!(
        "merging {BRANCHES} clean branches, median of {runs} runs: legio merge --all {:.1} ms, git merge loop {:.1} ms, ratio legio/git {:.2}",
        ms(l),
        ms(g),
        ms(l) / ms(g)
    );
    println!(
        "{{\"branches\":{BRANCHES},\"runs\":{runs},\"legio_median_ms\":{:.1},\"git_loop_median_ms\":{:.1},\"ratio\":{:.3}}}",
        ms(l),
        ms(g),
        ms(l) / ms(g)
    );
}
