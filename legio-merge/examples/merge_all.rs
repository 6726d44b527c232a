//! Times the merge engine's "merge all": queues every local branch under a prefix into an
//! in-memory queue and merges them into a target, the way `legio merge --all` does.
//!
//! ```text
//! cargo run --release -p legio-merge --example merge_all -- <repo> <target> [prefix]
//! ```
//!
//! The repository is changed: the target gains one merge commit per branch. Prints one JSON
//! line: branches, merged, failed, milliseconds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use legio_core::domain::merge::NewMergeEntry;
use legio_core::ports::git::parse_agent_branch;
use legio_core::ports::store::MergeQueue;
use legio_core::time::{Clock, SystemClock};
use legio_merge::testing::MemoryQueue;
use legio_merge::{MergeOptions, MergePorts, MergeRunner, NoGates};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(repo), Some(target)) = (args.first(), args.get(1)) else {
        eprintln!("usage: merge_all <repo> <target> [branch-prefix (default legio/)]");
        return ExitCode::from(2);
    };
    let prefix = args.get(2).map_or("legio/", String::as_str);
    match run(&PathBuf::from(repo), target, prefix) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    repo: &std::path::Path,
    target: &str,
    prefix: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let git = git2::Repository::open(repo)?;
    let queue = MemoryQueue::new();
    let clock = SystemClock;
    let mut branches = Vec::new();
    for b in git.branches(Some(git2::BranchType::Local))? {
        let (b, _) = b?;
        if let Some(name) = b.name()?.filter(|n| n.starts_with(prefix) && *n != target) {
            branches.push(name.to_owned());
        }
    }
    branches.sort();
    for b in &branches {
        let (agent, task) = parse_agent_branch(b).unwrap_or(("unknown", "unknown"));
        queue.enqueue(&NewMergeEntry {
            branch_name: b.clone(),
            bead_id: task.to_owned(),
            agent_name: agent.to_owned(),
            files_modified: Vec::new(),
            enqueued_at: clock.now(),
        })?;
    }
    let ports = MergePorts {
        queue: &queue,
        resolver: None,
        gates: &NoGates,
        clock: &clock,
    };
    let options = MergeOptions {
        ai_resolve: false,
        ..MergeOptions::default()
    };
    let started = Instant::now();
    let runner = MergeRunner::open(repo, ports, options)?;
    let report = runner.merge_all(target, &mut |_| {})?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{{\"branches\":{},\"merged\":{},\"failed\":{},\"ms\":{ms:.1}}}",
        branches.len(),
        report.merged_count(),
        report.failed_count()
    );
    Ok(())
}
