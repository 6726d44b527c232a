use serde_json::json;

use super::*;

const WT: &str = "/repo/.legio/worktrees/builder-1";

fn builder() -> GuardPolicy {
    GuardPolicy::new(Capability::Builder)
        .with_agent("builder-1".parse().ok())
        .with_worktree(Some(WT.into()))
        .with_project_root(Some("/repo".into()))
        .with_home(Some("/home/dev".into()))
}

fn bash(policy: &GuardPolicy, command: &str) -> Decision {
    decide_with(policy, &NoLinks, "Bash", &json!({ "command": command }))
}

fn reason(decision: Decision) -> String {
    match decision {
        Decision::Deny { reason } => reason,
        Decision::Allow => panic!("expected a denial"),
    }
}

#[test]
fn a_bash_call_without_command_text_is_denied() {
    for input in [
        json!({}),
        json!({"command": 3}),
        json!("git push"),
        json!(null),
    ] {
        let r = reason(decide_with(&builder(), &NoLinks, "Bash", &input));
        assert!(r.contains("`command`"), "{r}");
    }
}

#[test]
fn unknown_tools_pass_and_mcp_tools_pass() {
    assert!(decide_with(&builder(), &NoLinks, "mcp__github__get_issue", &json!({})).is_allow());
    assert!(decide_with(&builder(), &NoLinks, "ExitPlanMode", &json!({})).is_allow());
}

#[test]
fn scope_entries_are_trimmed_and_blank_ones_dropped() {
    let p = builder().with_files(vec![" src/a.rs ".into(), String::new(), "  ".into()]);
    assert_eq!(p.file_scope, ["src/a.rs"]);
    assert!(bash(&p, "echo x > src/a.rs").is_allow());
    assert!(!bash(&p, "echo x > src/b.rs").is_allow());
    // blank entries only: the whole worktree
    let p = builder().with_files(vec![String::new()]);
    assert!(bash(&p, "echo x > src/b.rs").is_allow());
}

#[test]
fn scratch_writes_never_land_in_the_project() {
    // a project that itself lives under /tmp (as in tests) gets no scratch exception
    let p = GuardPolicy::new(Capability::Builder)
        .with_worktree(Some("/tmp/p/.legio/worktrees/b".into()))
        .with_project_root(Some("/tmp/p".into()));
    assert!(bash(&p, "echo x > /tmp/other.txt").is_allow());
    let r = reason(bash(&p, "echo x > /tmp/p/src/lib.rs"));
    assert!(r.contains("outside your worktree"), "{r}");
    let r = reason(bash(&p, "echo x > /tmp/p/.legio/worktrees/b2/x"));
    assert!(r.contains("outside your worktree"), "{r}");
    // no scratch directories at all
    let p = builder().with_scratch_dirs(Vec::new());
    assert!(!bash(&p, "echo x > /tmp/x").is_allow());
}

#[test]
fn a_writer_without_a_known_worktree_may_not_write_files() {
    let p = GuardPolicy::new(Capability::Builder);
    let r = reason(bash(&p, "echo x > /somewhere/f"));
    assert!(r.contains("(unknown)"), "{r}");
    let r = reason(bash(&p, "echo x > f"));
    assert!(r.contains("which directory"), "{r}");
    assert!(bash(&p, "echo x > /dev/null && cargo test").is_allow());
}

#[test]
fn symlinks_are_followed_through_the_injected_lookup() {
    struct OneLink;
    impl Links for OneLink {
        fn read_link(&self, path: &std::path::Path) -> Option<PathBuf> {
            (path == std::path::Path::new("/repo/.legio/worktrees/builder-1/out"))
                .then(|| PathBuf::from("/etc"))
        }
    }
    let input = json!({"file_path": format!("{WT}/out/hosts"), "content": "x"});
    assert!(decide_with(&builder(), &NoLinks, "Write", &input).is_allow());
    let r = reason(decide_with(&builder(), &OneLink, "Write", &input));
    assert!(r.contains("/etc/hosts"), "{r}");
}

#[test]
fn the_real_filesystem_lookup_sees_real_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let wt = dir.path().join("wt");
    std::fs::create_dir(&wt).unwrap();
    std::os::unix::fs::symlink("/etc", wt.join("escape")).unwrap();
    let p = GuardPolicy::new(Capability::Builder).with_worktree(Some(wt.clone()));
    let write = |path: &str| {
        decide(
            &p,
            "Write",
            &json!({"file_path": wt.join(path).to_string_lossy(), "content": "x"}),
        )
    };
    assert!(write("src/lib.rs").is_allow());
    assert!(!write("escape/passwd").is_allow());
}

#[test]
fn reasons_say_what_to_do_instead() {
    let r = reason(bash(&builder(), "git push"));
    assert!(r.contains("legio mail send"), "{r}");
    let scout = GuardPolicy::new(Capability::Scout).with_worktree(Some("/w".into()));
    let r = reason(bash(&scout, "echo x > f"));
    assert!(
        r.contains("read-only") && r.contains("legio mail send"),
        "{r}"
    );
    let r = reason(bash(&builder(), "cd /repo; rm x"));
    assert!(r.contains("cd DIR &&"), "{r}");
}

#[test]
fn the_documented_example_payload_is_allowed_for_its_builder() {
    let payload: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/hook-PreToolUse-Bash.json"
    ))
    .unwrap();
    let policy = GuardPolicy::new(Capability::Builder)
        .with_worktree(payload["cwd"].as_str().map(PathBuf::from));
    let tool = payload["tool_name"].as_str().unwrap();
    assert!(decide(&policy, tool, &payload["tool_input"]).is_allow());
}
