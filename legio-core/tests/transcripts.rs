//! Transcript reading and discovery against real files: live reads of a transcript being
//! written, a rewritten transcript, and finding a session's files under a throwaway HOME.

// Helpers of tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use legio_core::costs::{
    ClaudeDir, LastLine, TranscriptError, UsageLedger, find_transcript, read_conversation_file,
    read_usage_file, session_transcripts,
};

const BUILDER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/transcripts/home/.claude/projects/-home-dev-project--legio-worktrees-builder-1/3f1c2a64-0b7e-4c1e-9d2a-5b8e7f6a1c01.jsonl"
);

fn whole_report(path: &Path) -> legio_core::costs::UsageReport {
    let mut ledger = UsageLedger::new();
    read_usage_file(path, 0, &mut ledger, LastLine::Final).unwrap();
    ledger.report()
}

#[test]
fn a_transcript_read_while_it_is_written_adds_up_to_the_whole() {
    let content = fs::read(BUILDER).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.jsonl");
    fs::write(&live, b"").unwrap();

    // Append in uneven chunks that cut lines anywhere; after each, a new "process" reads on
    // from the saved offset with the ledger it saved (as JSON) last time.
    let mut saved_ledger = serde_json::to_string(&UsageLedger::new()).unwrap();
    let mut offset = 0;
    let mut written = 0;
    let mut reads = 0;
    let mut step = 997;
    while written < content.len() {
        let end = (written + step).min(content.len());
        let mut file = OpenOptions::new().append(true).open(&live).unwrap();
        file.write_all(&content[written..end]).unwrap();
        written = end;
        step = step * 7 % 4093 + 311;

        let mut ledger: UsageLedger = serde_json::from_str(&saved_ledger).unwrap();
        let stats = read_usage_file(&live, offset, &mut ledger, LastLine::Pending).unwrap();
        assert_eq!(
            stats.unreadable, 0,
            "a half-written line was read as a bad line"
        );
        assert_eq!(stats.next_offset + stats.pending_bytes, written as u64);
        offset = stats.next_offset;
        saved_ledger = serde_json::to_string(&ledger).unwrap();
        reads += 1;
    }
    assert!(
        reads > 20,
        "only {reads} reads: the test did not cut enough lines"
    );
    let ledger: UsageLedger = serde_json::from_str(&saved_ledger).unwrap();
    assert_eq!(ledger.report(), whole_report(Path::new(BUILDER)));
    assert_eq!(offset, content.len() as u64);
}

#[test]
fn a_rewritten_transcript_is_reported_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    fs::write(&path, "{}\n{}\n").unwrap();
    let mut ledger = UsageLedger::new();
    let stats = read_usage_file(&path, 0, &mut ledger, LastLine::Pending).unwrap();
    fs::write(&path, "{}\n").unwrap();
    let err =
        read_usage_file(&path, stats.next_offset, &mut ledger, LastLine::Pending).unwrap_err();
    assert!(
        matches!(
            err,
            TranscriptError::Shrunk {
                offset: 6,
                len: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let shown = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!(shown, @"transcript <dir>/t.jsonl is now 3 bytes, shorter than the 6 bytes already read: it was rewritten; read it again from offset 0 into a fresh ledger");

    let missing = dir.path().join("missing.jsonl");
    let err = read_usage_file(&missing, 0, &mut ledger, LastLine::Final).unwrap_err();
    let shown = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!(shown, @"cannot open transcript <dir>/missing.jsonl: No such file or directory (os error 2)");
}

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, "{}\n").unwrap();
}

#[test]
fn finds_a_session_where_claude_code_writes_it_or_by_scanning() {
    let home = tempfile::tempdir().unwrap();
    let claude = ClaudeDir::under_home(home.path());
    let id = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f";
    assert_eq!(
        find_transcript(&claude, Some(Path::new("/w")), id).unwrap(),
        None
    );

    let cwd = Path::new("/home/dev/my_app v2.0/.legio/worktrees/builder-1");
    let expected = home
        .path()
        .join(".claude/projects/-home-dev-my-app-v2-0--legio-worktrees-builder-1")
        .join(format!("{id}.jsonl"));
    touch(&expected);
    touch(&home.path().join(".claude/projects/-other/unrelated.jsonl"));
    assert_eq!(
        find_transcript(&claude, Some(cwd), id).unwrap(),
        Some(expected.clone())
    );
    // The working directory is unknown or wrong (a moved checkout): the scan still finds it.
    assert_eq!(
        find_transcript(&claude, None, id).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        find_transcript(&claude, Some(Path::new("/elsewhere")), id).unwrap(),
        Some(expected)
    );
    assert!(matches!(
        find_transcript(&claude, None, "../../etc/passwd"),
        Err(TranscriptError::InvalidSessionId(_))
    ));
}

#[test]
fn a_session_includes_its_subagents_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("s1.jsonl");
    touch(&main);
    assert_eq!(session_transcripts(&main).unwrap(), vec![main.clone()]);
    let sub = |rel: &str| -> PathBuf { dir.path().join("s1/subagents").join(rel) };
    for rel in [
        "agent-b.jsonl",
        "agent-a.jsonl",
        "team/agent-c.jsonl",
        "notes.txt",
    ] {
        touch(&sub(rel));
    }
    touch(&dir.path().join("s2/subagents/agent-z.jsonl"));
    assert_eq!(
        session_transcripts(&main).unwrap(),
        vec![
            main.clone(),
            sub("agent-a.jsonl"),
            sub("agent-b.jsonl"),
            sub("team/agent-c.jsonl")
        ]
    );
}

#[test]
fn the_conversation_of_a_real_claude_session() {
    let main = BUILDER.replace(
        "-home-dev-project--legio-worktrees-builder-1/3f1c2a64-0b7e-4c1e-9d2a-5b8e7f6a1c01",
        "-home-dev-lead/a33ed03a-678a-4bba-9c58-29f7bc87f65b",
    );
    let read = read_conversation_file(Path::new(&main), 0, LastLine::Final).unwrap();
    let lines: Vec<String> = read
        .said
        .iter()
        .map(|s| format!("{:?}: {}", s.speaker, s.text.lines().next().unwrap_or("")))
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    User: delegate: write hi to f.txt
    Assistant: Delegating.
    Assistant: Done.
    User: <task-notification>
    Assistant: Running it.
    Assistant: Done.
    ");
    assert_eq!(read.next_offset, fs::metadata(&main).unwrap().len());
}
