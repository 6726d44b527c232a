//! Speed of what runs on every tool call in process (the PreToolUse guard decision,
//! redaction, the tool-argument filter) and of reading a large transcript. It prints medians
//! and checks only that the work was done right (no pass/fail on time). Run:
//!
//! ```text
//! cargo bench -p legio-core --bench hot_path
//! ```

// A benchmark: a failed unwrap is a loud failure, which is right here.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use legio_core::Capability;
use legio_core::costs::{LastLine, UsageLedger, read_usage_file};
use legio_core::guard::{Decision, GuardPolicy, decide};
use legio_core::redact::redact;
use legio_core::toolfilter::filter_tool_args;

fn main() {
    guard_speed();
    redaction_and_filter_speed();
    large_transcript_read_speed();
}

/// The median of eleven rounds (a shared machine is noisy), per call.
fn per_call(label: &str, iterations: u32, mut f: impl FnMut()) {
    let mut rounds: Vec<u128> = (0..11)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_nanos() / u128::from(iterations)
        })
        .collect();
    rounds.sort_unstable();
    println!("{label:<48} {:>8} ns/call (median of 11)", rounds[5]);
}

/// The PreToolUse decision for a builder, on an ordinary command, a bypass attempt hidden in
/// a `sh -c` string, and a Write.
fn guard_speed() {
    let policy = GuardPolicy::new(Capability::Builder)
        .with_agent("builder-1".parse().ok())
        .with_worktree(Some("/repo/.legio/worktrees/builder-1".into()))
        .with_project_root(Some("/repo".into()))
        .with_home(Some("/home/dev".into()));
    let test = serde_json::json!({"command": "cd /repo/.legio/worktrees/builder-1 && cargo test -p legio-core 2>&1 | tail -40"});
    let bypass = serde_json::json!({"command": "git status; sh -c 'env FOO=1 /usr/bin/git -C . push origin HEAD'"});
    let write = serde_json::json!({"file_path": "/repo/.legio/worktrees/builder-1/src/lib.rs", "content": "fn main() {}\n"});
    assert_eq!(decide(&policy, "Bash", &test), Decision::Allow);
    assert!(matches!(
        decide(&policy, "Bash", &bypass),
        Decision::Deny { .. }
    ));
    assert_eq!(decide(&policy, "Write", &write), Decision::Allow);
    per_call("guard: Bash, cargo test in the worktree", 20_000, || {
        black_box(decide(&policy, "Bash", black_box(&test)));
    });
    per_call(
        "guard: Bash, git push inside sh -c (denied)",
        20_000,
        || {
            black_box(decide(&policy, "Bash", black_box(&bypass)));
        },
    );
    per_call("guard: Write inside the worktree", 20_000, || {
        black_box(decide(&policy, "Write", black_box(&write)));
    });
}

fn redaction_and_filter_speed() {
    let clean = "cd /home/dev/project && cargo test -p legio-core --test transcripts -- --nocapture 2>&1 | tail -40";
    let secret =
        "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 gh pr create --title 'x' --body 'y'";
    let prose = "Explain why the merge queue needs a lock per target branch. ".repeat(170);
    assert!(matches!(redact(clean), std::borrow::Cow::Borrowed(_)));
    assert!(redact(secret).contains("[REDACTED]"));
    assert_eq!(redact(&prose), prose.as_str());

    per_call("redact: 100-byte command, nothing to hide", 200_000, || {
        black_box(redact(black_box(clean)));
    });
    per_call("redact: 100-byte command with a token", 200_000, || {
        black_box(redact(black_box(secret)));
    });
    per_call("redact: 10 kB of prose", 5_000, || {
        black_box(redact(black_box(&prose)));
    });
    let input =
        serde_json::json!({"command": clean, "description": "Run the tests", "timeout": 120_000});
    per_call("filter_tool_args: Bash", 200_000, || {
        black_box(filter_tool_args("Bash", black_box(&input)));
    });
}

fn large_transcript_read_speed() {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/transcripts/home/.claude/projects/-home-dev-project--legio-worktrees-builder-1/3f1c2a64-0b7e-4c1e-9d2a-5b8e7f6a1c01.jsonl"
    ))
    .unwrap();
    // Realistic bulk: tool results of a few kB between the assistant lines.
    let filler = format!(
        "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"tool_result\",\"content\":\"{}\"}}]}}}}\n",
        "x".repeat(8_000)
    );
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut copies = 0u64;
    while file.as_file().metadata().unwrap().len() < 100 * 1024 * 1024 {
        file.write_all(&fixture).unwrap();
        for _ in 0..20 {
            file.write_all(filler.as_bytes()).unwrap();
        }
        copies += 1;
    }
    file.flush().unwrap();
    let bytes = file.as_file().metadata().unwrap().len();

    let start = Instant::now();
    let mut ledger = UsageLedger::new();
    let stats = read_usage_file(file.path(), 0, &mut ledger, LastLine::Final).unwrap();
    let elapsed = start.elapsed();
    // Every copy repeats the same responses: they count once, as in the fixture alone.
    let mut alone = UsageLedger::new();
    legio_core::costs::read_usage(fixture.as_slice(), 0, &mut alone, LastLine::Final).unwrap();
    assert_eq!(ledger.report(), alone.report());
    assert!(stats.duplicates > copies);
    println!(
        "read {:.0} MB transcript ({} lines) in {:.0} ms: {:.0} MB/s",
        bytes as f64 / 1e6,
        stats.lines,
        elapsed.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
}
