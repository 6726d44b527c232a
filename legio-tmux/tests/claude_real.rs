//! The real Claude Code binary, driven through legio's runtime and both backends, against the
//! scripted Messages API on loopback (no network). These prove what the unit tests can only
//! assume: the launch argv is accepted, the first prompt in argv is submitted, the role file
//! reaches the system prompt, readiness is read correctly from the live TUI, typed messages
//! are submitted, headless stream-json input works, and the one-shot result parses.
//!
//! They run in the normal test run. The pinned binary (about 400 MB, not in the repository) is
//! found or installed exactly as legio-cli's real-client tests do it (their support code is
//! shared by path: `$LEGIO_CLAUDE_BIN`, else the workspace's `.cache/claude-code`, installed
//! with npm when missing, as `.ci/run` does): when it cannot be had they fail with the reason,
//! unless `LEGIO_SKIP_CLAUDE_TESTS=1` asks to skip them (announced on stderr).

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

// legio-cli's test support for the real client: the binary's finder and the scripted API.
#[allow(dead_code)] // these tests use a part of it
#[path = "../../legio-cli/tests/support/install.rs"]
mod install;
#[allow(dead_code)] // these tests use a part of it
#[path = "../../legio-cli/tests/support/scripted_api/mod.rs"]
mod scripted_api;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::wait_for;
use install::claude_bin;
use legio_core::ports::{
    AgentRuntime, LaunchContext, Multiplexer, OneShot, Readiness, SessionSpec,
};
use legio_core::{AgentName, Capability};
use legio_tmux::{BaseEnv, ClaudeRuntime, HeadlessConfig, HeadlessMultiplexer, TmuxConfig};
use scripted_api::{ScriptedApi, Turn};

/// The scripted model answering every model call with `answer`.
fn model(answer: &str) -> ScriptedApi {
    ScriptedApi::start(vec![Turn::text(answer); 4])
}

/// Whether any request showed `needle` to the model, in its conversation or system prompt.
fn saw(api: &ScriptedApi, needle: &str) -> bool {
    api.requests()
        .iter()
        .any(|r| r.conversation_contains(needle) || r.system_text().contains(needle))
}

/// The claude binary as a program name for [`ClaudeRuntime`].
fn program(claude: &Path) -> String {
    claude.display().to_string()
}

/// A throwaway HOME in which Claude Code has finished onboarding, accepted the test API key,
/// and trusts `trusted` (if given).
fn claude_home(home: &Path, trusted: Option<&Path>) {
    let mut config = serde_json::json!({
        "hasCompletedOnboarding": true,
        "theme": "dark",
        "customApiKeyResponses": {"approved": ["test-key"], "rejected": []},
        "projects": {}
    });
    if let Some(dir) = trusted {
        config["projects"][dir.display().to_string()] =
            serde_json::json!({"hasTrustDialogAccepted": true});
    }
    std::fs::write(home.join(".claude.json"), config.to_string()).unwrap();
}

/// A tmux server that is stopped (with every process on it) even when the test fails.
struct Server(legio_tmux::TmuxMultiplexer);

impl Server {
    fn new(root: &Path, env: Vec<(String, String)>) -> Self {
        Self(legio_tmux::TmuxMultiplexer::new(
            "t",
            root,
            TmuxConfig {
                base_env: BaseEnv::Exactly(env),
                ..TmuxConfig::default()
            },
        ))
    }
}

impl Deref for Server {
    type Target = legio_tmux::TmuxMultiplexer;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for session in self.0.list().unwrap_or_default() {
            let _ = self.0.kill(&session.name);
        }
        let _ = self.0.kill_server();
    }
}

fn agent_env(api: &ScriptedApi, home: &Path) -> Vec<(String, String)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("HOME", &home.display().to_string()),
        ("ANTHROPIC_BASE_URL", &api.base_url()),
        ("ANTHROPIC_API_KEY", "test-key"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("CLAUDECODE", "1"), // as if legio ran inside Claude Code: must be removed
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn context(root: &Path, headless: bool) -> LaunchContext {
    LaunchContext {
        agent: AgentName::new("builder-1").unwrap(),
        capability: Capability::Builder,
        root: root.to_owned(),
        cwd: root.to_owned(),
        model: "sonnet".into(),
        system_prompt: Some("ROLE-MARKER-4242: you are a builder.".into()),
        legio_bin: PathBuf::from("/usr/local/bin/legio"),
        env: vec![("LEGIO_AGENT_NAME".into(), "builder-1".into())],
        running_as_root: rustix::process::getuid().is_root(),
        sandboxed: true,
        headless,
    }
}

fn spec_from(plan: &legio_core::ports::LaunchPlan, log: Option<PathBuf>) -> SessionSpec {
    SessionSpec {
        name: "legio-t-builder-1".into(),
        cwd: plan.cwd.clone(),
        argv: plan.argv.clone(),
        env: plan.env.clone(),
        env_remove: plan.env_remove.clone(),
        log_path: log,
    }
}

#[test]
fn interactive_claude_in_tmux_takes_its_first_prompt_role_and_typed_messages() {
    let Some(claude) = claude_bin() else { return };
    let api = model("ack from the mock");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, Some(&project));

    let runtime = ClaudeRuntime::new(program(claude));
    let plan = runtime
        .launch_plan(&context(&project, false), "FIRST-PROMPT-1717")
        .unwrap();
    assert!(plan.prompt_in_argv);
    let mux = Server::new(scratch.path(), agent_env(&api, &home));
    let log = project.join(".legio/logs/builder-1/terminal.log");
    mux.create(&spec_from(&plan, Some(log.clone()))).unwrap();

    let ready = wait_for(60, || {
        runtime.readiness(&mux.capture("legio-t-builder-1", 60).unwrap_or_default())
            == Readiness::Ready
    });
    let screen = mux.capture("legio-t-builder-1", 60).unwrap_or_default();
    assert!(ready, "the TUI never looked ready:\n{screen}");
    assert!(
        wait_for(60, || saw(&api, "FIRST-PROMPT-1717")),
        "the first prompt (argv) never reached the API:\n{screen}"
    );
    assert!(
        saw(&api, "ROLE-MARKER-4242"),
        "the role file reached the system prompt"
    );

    mux.send_text("legio-t-builder-1", "TYPED-MESSAGE-2929; -x --")
        .unwrap();
    let screen = || mux.capture("legio-t-builder-1", 60).unwrap_or_default();
    assert!(
        wait_for(60, || saw(&api, "TYPED-MESSAGE-2929; -x --")),
        "the typed message was not submitted:\n{}",
        screen()
    );
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_for(30, || logged().contains("FIRST-PROMPT-1717")),
        "the terminal log keeps the pane's output: {:?}",
        logged()
    );
    mux.kill("legio-t-builder-1").unwrap();
}

#[test]
fn an_untrusted_folder_is_reported_as_blocked_not_ready() {
    let Some(claude) = claude_bin() else { return };
    let api = model("unused");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, None);

    let runtime = ClaudeRuntime::new(program(claude));
    let plan = runtime
        .launch_plan(&context(&project, false), "FIRST-PROMPT")
        .unwrap();
    let mux = Server::new(scratch.path(), agent_env(&api, &home));
    mux.create(&spec_from(&plan, None)).unwrap();
    let mut last = Readiness::Starting;
    let blocked = wait_for(60, || {
        last = runtime.readiness(&mux.capture("legio-t-builder-1", 60).unwrap_or_default());
        matches!(last, Readiness::Blocked(_))
    });
    assert!(blocked, "expected the trust dialog, got {last:?}");
    let Readiness::Blocked(why) = last else {
        unreachable!()
    };
    assert!(why.contains("trust this folder"), "{why}");
    assert!(!saw(&api, "FIRST-PROMPT"), "nothing is sent before trust");
    mux.kill("legio-t-builder-1").unwrap();
}

#[test]
fn headless_claude_reads_stream_json_prompts_from_its_input() {
    let Some(claude) = claude_bin() else { return };
    let api = model("headless ack");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, Some(&project));

    let runtime = ClaudeRuntime::new(program(claude));
    let plan = runtime
        .launch_plan(&context(&project, true), "unused in headless")
        .unwrap();
    assert!(!plan.prompt_in_argv);
    let mux = HeadlessMultiplexer::new(
        scratch.path().join("state"),
        HeadlessConfig {
            base_env: BaseEnv::Exactly(agent_env(&api, &home)),
            ..HeadlessConfig::default()
        },
    );
    let log = project.join(".legio/logs/builder-1/output.log");
    mux.create(&spec_from(&plan, Some(log.clone()))).unwrap();
    mux.send_text(
        "legio-t-builder-1",
        &runtime.headless_line("HEADLESS-PROMPT-3131"),
    )
    .unwrap();
    assert!(
        wait_for(60, || saw(&api, "HEADLESS-PROMPT-3131")),
        "output so far: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(saw(&api, "ROLE-MARKER-4242"));
    assert!(
        wait_for(60, || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("\"result\":\"headless ack\"")),
        "the turn's result is in the output log"
    );
    assert!(
        mux.get("legio-t-builder-1").unwrap().unwrap().running,
        "it waits for more"
    );
    mux.kill("legio-t-builder-1").unwrap();
}

#[test]
// Runs claude with a hermetic HOME: this test spawns itself with the variables set.
#[allow(clippy::disallowed_methods)]
fn one_shot_parses_the_real_json_result() {
    let Some(claude) = claude_bin() else { return };
    if std::env::var_os("LEGIO_TEST_ONE_SHOT_CHILD").is_none() {
        let api = model("VERDICT: extend");
        let home = tempfile::tempdir().unwrap();
        claude_home(home.path(), None);
        let run = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "one_shot_parses_the_real_json_result"])
            .env_clear()
            .envs(agent_env(&api, home.path()))
            .env("LEGIO_TEST_ONE_SHOT_CHILD", "1")
            // The child finds the very binary this process found.
            .env(install::CLAUDE_BIN_ENV, claude)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{printed}");
        assert!(printed.contains("1 passed"), "{printed}");
        assert!(
            saw(&api, "Is the agent stuck?"),
            "the prompt went to the API"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let answer = ClaudeRuntime::new(program(claude))
        .one_shot(&OneShot {
            prompt: "Is the agent stuck? Answer retry, extend or terminate.".into(),
            cwd: dir.path().to_owned(),
            model: Some("haiku".into()),
            timeout: Duration::from_secs(60),
        })
        .unwrap();
    assert_eq!(answer, "VERDICT: extend");
}
