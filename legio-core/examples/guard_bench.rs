//! Micro-benchmark of the PreToolUse decision (prints timings; asserts nothing).
//!
//! Run: `cargo run --release -p legio-core --example guard_bench`
//!
//! Each command is decided for a builder whose worktree is a real temporary directory, with
//! the real filesystem symlink lookup, as `legio hook PreToolUse` does.

use std::time::{Duration, Instant};

use legio_core::Capability;
use legio_core::guard::{GuardPolicy, decide};

const COMMANDS: &[&str] = &[
    "cargo test -p legio-core",
    "git status",
    "git add -A && git commit -m \"fix: handle empty input\"",
    "git commit -m \"$(cat <<'EOF'\nfeat: parse commands\n\nBody text.\nEOF\n)\"",
    "cd sub && cargo test 2>&1 | tail -30",
    "grep -rn foo src | head -20",
    "legio mail send --to lead-1 --subject done --type worker_done --agent builder-1",
    "echo x > src/notes.md && sed -i 's/a/b/' src/lib.rs",
    "sh -c 'git push'",
    "find . -name '*.rs' | xargs grep -l TODO",
];

const ROUNDS: usize = 2000;

fn main() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let worktree = dir.path().join("wt");
    std::fs::create_dir_all(worktree.join("src"))?;
    let policy = GuardPolicy::new(Capability::Builder)
        .with_agent("builder-1".parse().ok())
        .with_worktree(Some(worktree))
        .with_project_root(Some(dir.path().to_path_buf()))
        .with_home(Some("/home/dev".into()));
    let inputs: Vec<serde_json::Value> = COMMANDS
        .iter()
        .map(|c| serde_json::json!({ "command": c }))
        .collect();

    // a hook process makes one decision: time the first, cold one
    let start = Instant::now();
    std::hint::black_box(decide(&policy, "Bash", &inputs[2]));
    println!(
        "first (cold) decision in this process: {:.1?}",
        start.elapsed()
    );
    for input in &inputs {
        decide(&policy, "Bash", input);
    }
    let mut all = Vec::with_capacity(ROUNDS * inputs.len());
    println!("{:>10} {:>10}  command", "median", "p99");
    for (command, input) in COMMANDS.iter().zip(&inputs) {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(decide(&policy, "Bash", std::hint::black_box(input)));
                start.elapsed()
            })
            .collect();
        times.sort_unstable();
        all.extend_from_slice(&times);
        let shown: String = command.replace('\n', "\\n").chars().take(60).collect();
        println!(
            "{:>10.1?} {:>10.1?}  {shown}",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }
    all.sort_unstable();
    println!(
        "all {} decisions: median {:.1?}, p99 {:.1?}, max {:.1?}",
        all.len(),
        all[all.len() / 2],
        all[all.len() * 99 / 100],
        all[all.len() - 1]
    );
    Ok(())
}
