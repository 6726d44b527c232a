//! The agent runtimes: launch plans per role (snapshots), the root case, readiness on screens
//! captured from the real Claude Code 2.1.332, and one-shot questions through stand-ins.

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use legio_core::ports::{AgentRuntime, LaunchContext, OneShot, Readiness, RuntimeError};
use legio_core::{AgentName, Capability};
use legio_tmux::{ClaudeRuntime, ScriptRuntime};

fn ctx(root: &Path, capability: Capability) -> LaunchContext {
    let agent = AgentName::new(format!("{capability}-1")).unwrap();
    let cwd = if capability.works_at_root() {
        root.to_owned()
    } else {
        root.join(".legio/worktrees").join(agent.as_str())
    };
    LaunchContext {
        env: vec![
            ("LEGIO_AGENT_NAME".into(), agent.to_string()),
            ("LEGIO_ROOT".into(), root.display().to_string()),
        ],
        agent,
        capability,
        root: root.to_owned(),
        cwd,
        model: capability.default_model().into(),
        system_prompt: Some(format!("# {capability}\nYou are the {capability}.\n")),
        legio_bin: PathBuf::from("/usr/local/bin/legio"),
        running_as_root: false,
        sandboxed: false,
        headless: false,
    }
}

/// Every role's plan, with the temporary root shown as `[ROOT]`.
fn plans(runtime: &dyn AgentRuntime, headless: bool) -> String {
    let root = tempfile::tempdir().unwrap();
    let mut out = String::new();
    for &capability in Capability::ALL {
        let mut c = ctx(root.path(), capability);
        c.headless = headless;
        let plan = runtime
            .launch_plan(&c, "Read .claude/CLAUDE.md and begin task t-1.")
            .unwrap();
        writeln!(out, "## {capability}\n{plan:#?}").unwrap();
    }
    out.replace(&root.path().display().to_string(), "[ROOT]")
}

#[test]
fn claude_interactive_plans() {
    insta::assert_snapshot!(plans(&ClaudeRuntime::default(), false));
}

#[test]
fn claude_headless_plans() {
    insta::assert_snapshot!(plans(&ClaudeRuntime::default(), true));
}

#[test]
fn script_plans() {
    let script = ScriptRuntime::new(vec!["./scripts/agent.sh".into(), "--fast".into()]);
    insta::assert_snapshot!(plans(&script, false));
}

#[test]
fn claude_writes_the_role_definition_where_its_flag_points() {
    let root = tempfile::tempdir().unwrap();
    let c = ctx(root.path(), Capability::Builder);
    let plan = ClaudeRuntime::default().launch_plan(&c, "go").unwrap();
    let at = plan
        .argv
        .iter()
        .position(|a| a == "--append-system-prompt-file")
        .unwrap();
    let file = Path::new(&plan.argv[at + 1]);
    assert_eq!(
        file,
        root.path().join(".legio/agents/builder-1/system-prompt.md")
    );
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "# builder\nYou are the builder.\n"
    );
    assert_eq!(plan.argv[plan.argv.len() - 2..], ["--", "go"]);
    assert!(plan.prompt_in_argv);
}

#[test]
fn claude_as_root_needs_a_sandbox_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let mut c = ctx(root.path(), Capability::Builder);
    c.running_as_root = true;
    let err = ClaudeRuntime::default().launch_plan(&c, "go").unwrap_err();
    let RuntimeError::Refused(message) = &err else {
        panic!("{err}");
    };
    assert!(message.contains("IS_SANDBOX=1"), "{message}");
    assert!(message.contains("normal user"), "{message}");
    assert!(
        !root.path().join(".legio").exists(),
        "a refusal writes nothing"
    );

    c.sandboxed = true;
    let plan = ClaudeRuntime::default().launch_plan(&c, "go").unwrap();
    assert!(
        plan.env.contains(&("IS_SANDBOX".into(), "1".into())),
        "the agent gets IS_SANDBOX=1 whatever the server inherited: {:?}",
        plan.env
    );
    // The script runtime has no such restriction.
    c.sandboxed = false;
    ScriptRuntime::new(vec!["agent".into()])
        .launch_plan(&c, "go")
        .unwrap();
}

#[test]
fn a_long_first_prompt_is_typed_instead_of_passed() {
    let root = tempfile::tempdir().unwrap();
    let c = ctx(root.path(), Capability::Lead);
    let long = "p".repeat(5000);
    let plan = ClaudeRuntime::default().launch_plan(&c, &long).unwrap();
    assert!(!plan.prompt_in_argv);
    assert!(!plan.argv.contains(&long));
    assert!(!plan.argv.contains(&"--".to_owned()));
}

#[test]
fn missing_programs_and_commands_are_explained() {
    let root = tempfile::tempdir().unwrap();
    let c = ctx(root.path(), Capability::Builder);
    let err = ClaudeRuntime::new("/nonexistent/claude")
        .launch_plan(&c, "go")
        .unwrap_err();
    assert!(
        matches!(&err, RuntimeError::NotInstalled { hint, .. } if hint.contains("npm install")),
        "{err}"
    );
    let err = ScriptRuntime::new(vec![])
        .launch_plan(&c, "go")
        .unwrap_err();
    assert!(err.to_string().contains("runtime.script.command"), "{err}");
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-2.1.332")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn readiness_follows_the_real_claude_screens() {
    let cases: &[(&str, Option<&str>)] = &[
        ("ready.txt", None),
        ("ready-with-typed-text.txt", None),
        ("busy.txt", None),
        ("trust-dialog.txt", Some("trust this folder")),
        ("untrusted-exit.txt", Some("trust this folder")),
        ("api-key-dialog.txt", Some("ANTHROPIC_API_KEY")),
        ("bypass-dialog.txt", Some("bypass-permissions")),
    ];
    let claude = ClaudeRuntime::default();
    for (file, blocked_by) in cases {
        let screen = fixture(file);
        match (claude.readiness(&screen), blocked_by) {
            (Readiness::Ready, None) => assert!(claude.is_ready(&screen)),
            (Readiness::Blocked(why), Some(needle)) => {
                assert!(why.contains(needle), "{file}: {why}");
                assert!(!claude.is_ready(&screen));
            }
            (other, _) => panic!("{file}: {other:?}, expected blocked by {blocked_by:?}"),
        }
    }
    // Still starting: the first-run screen, a bare shell, and the box-drawing characters
    // legio 0.1.0 took for readiness (shell themes draw them too).
    for screen in [
        fixture("first-run-welcome.txt"),
        "user@host:~$ ".to_owned(),
        "╭──────────────╮\n│ ~/project    │\n╰──────────────╯\n❯ ".to_owned(),
        "──────────────────\n$ ls\n──────────────────".to_owned(),
        String::new(),
    ] {
        assert_eq!(claude.readiness(&screen), Readiness::Starting, "{screen}");
    }
}

#[test]
fn an_unknown_dialog_is_named_by_its_first_line() {
    let screen = "────────────\n  Choose the text style\n  ❯ Dark mode\n  Enter to confirm";
    let Readiness::Blocked(why) = ClaudeRuntime::readiness(screen) else {
        panic!("a dialog blocks");
    };
    assert!(why.contains("Choose the text style"), "{why}");
}

#[test]
fn the_script_runtime_is_ready_at_once() {
    let script = ScriptRuntime::new(vec!["agent".into()]);
    assert_eq!(script.readiness(""), Readiness::Ready);
    assert_eq!(script.headless_line("a\nb"), "a\nb");
}

fn ask(runtime: &dyn AgentRuntime, cwd: &Path, timeout_ms: u64) -> Result<String, RuntimeError> {
    runtime.one_shot(&OneShot {
        prompt: "Classify: agent stalled\nAnswer with one word.".into(),
        cwd: cwd.to_owned(),
        model: Some("haiku".into()),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn script_one_shot_answers_from_stdin_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let echo = ScriptRuntime::new(vec!["unused".into()])
        .with_one_shot_command(sh("read first; echo \"verdict for: $first\"; pwd"));
    let answer = ask(&echo, dir.path(), 5000).unwrap();
    assert_eq!(
        answer,
        format!(
            "verdict for: Classify: agent stalled\n{}",
            dir.path().display()
        )
    );
}

#[test]
fn script_one_shot_failures_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let slow = ScriptRuntime::new(sh("sleep 30"));
    let started = std::time::Instant::now();
    let err = ask(&slow, dir.path(), 300).unwrap_err();
    assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the child was killed"
    );

    let silent = ScriptRuntime::new(sh("cat > /dev/null"));
    let err = ask(&silent, dir.path(), 5000).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::BadOutput { problem, .. } if problem.contains("no answer")),
        "{err}"
    );

    let failing = ScriptRuntime::new(sh("echo 'model unavailable' >&2; exit 2"));
    let err = ask(&failing, dir.path(), 5000).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Failed { code: Some(2), stderr, .. } if stderr == "model unavailable"),
        "{err}"
    );

    let binary = ScriptRuntime::new(sh("printf '\\377\\376'"));
    let err = ask(&binary, dir.path(), 5000).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

/// A stand-in `claude` that records its argv and stdin and prints `answer`.
fn fake_claude(dir: &Path, answer: &str) -> ClaudeRuntime {
    let program = dir.join("claude");
    let answer_file = dir.join("answer.json");
    std::fs::write(&answer_file, answer).unwrap();
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{d}/argv'\ncat > '{d}/stdin'\nenv > '{d}/env'\ncat '{a}'\n",
            d = dir.display(),
            a = answer_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    ClaudeRuntime::new(program.display().to_string())
}

#[test]
fn claude_one_shot_sends_the_prompt_on_stdin_and_reads_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let claude = fake_claude(
        dir.path(),
        r#"{"type":"result","subtype":"success","is_error":false,"result":"extend","num_turns":1}"#,
    );
    assert_eq!(ask(&claude, dir.path(), 5000).unwrap(), "extend");
    let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
    insta::assert_snapshot!(argv, @r#"
    -p
    --output-format
    json
    --no-session-persistence
    --setting-sources
    user
    --tools

    --model
    haiku
    "#);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stdin")).unwrap(),
        "Classify: agent stalled\nAnswer with one word."
    );
}

#[test]
fn claude_one_shot_refuses_answers_it_cannot_trust() {
    let dir = tempfile::tempdir().unwrap();
    for (answer, needle) in [
        ("retry", "expected one JSON result object"),
        (
            r#"{"type":"result","subtype":"error_during_execution","is_error":true,"result":"API Error: 529"}"#,
            "API Error: 529",
        ),
        (
            r#"{"type":"result","subtype":"success","is_error":false}"#,
            "\"result\" is missing",
        ),
    ] {
        let claude = fake_claude(dir.path(), answer);
        let err = ask(&claude, dir.path(), 5000).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::BadOutput { problem, .. } if problem.contains(needle)),
            "{answer}: {err}"
        );
    }
}

#[test]
// Reads its own marker variable: this test re-runs itself in a child process that has
// Claude Code's nesting markers set, since a test may not change its own environment.
#[allow(clippy::disallowed_methods)]
fn claude_one_shot_drops_the_nesting_markers() {
    if std::env::var_os("LEGIO_TEST_NESTED").is_some() {
        assert_eq!(
            std::env::var("CLAUDECODE").as_deref(),
            Ok("1"),
            "set for this run"
        );
        let dir = tempfile::tempdir().unwrap();
        let claude = fake_claude(
            dir.path(),
            r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#,
        );
        ask(&claude, dir.path(), 5000).unwrap();
        let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
        for marker in legio_tmux::NESTING_MARKERS {
            assert!(
                !env.lines().any(|l| l.starts_with(&format!("{marker}="))),
                "{marker} leaked into the one-shot process"
            );
        }
        return;
    }
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "claude_one_shot_drops_the_nesting_markers",
            "--quiet",
        ])
        .env("LEGIO_TEST_NESTED", "1")
        .env("CLAUDECODE", "1")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the nested run failed: {printed}");
    assert!(
        printed.contains("1 passed"),
        "the nested test ran: {printed}"
    );
}
