//! The real Claude Code binary, driven through legio's runtime and both backends, against a
//! scripted Messages API on loopback (no network). These prove what the unit tests can only
//! assume: the launch argv is accepted, the first prompt in argv is submitted, the role file
//! reaches the system prompt, readiness is read correctly from the live TUI, typed messages
//! are submitted, headless stream-json input works, and the one-shot result parses.
//!
//! They need the pinned binary (about 400 MB, not in the repository):
//! `LEGIO_TEST_CLAUDE=/path/to/claude cargo test -p legio-tmux --test claude_real -- --ignored`

// Helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait_for;
use legio_core::ports::{
    AgentRuntime, LaunchContext, Multiplexer, OneShot, Readiness, SessionSpec,
};
use legio_core::{AgentName, Capability};
use legio_tmux::{BaseEnv, ClaudeRuntime, HeadlessConfig, HeadlessMultiplexer, TmuxConfig};

/// The scripted Messages API: answers every `/v1/messages` call with one text block and keeps
/// every request body.
struct MockApi {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl MockApi {
    fn start(answer: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(stream, &seen, answer));
            }
        });
        Self { port, bodies }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn saw(&self, needle: &str) -> bool {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains(needle))
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>, answer: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let (content_type, payload) = if request_line.starts_with("POST /v1/messages") {
            let streaming = body.contains("\"stream\":true");
            seen.lock().unwrap().push(body);
            if streaming {
                ("text/event-stream", sse(answer))
            } else {
                ("application/json", message_json(answer).to_string())
            }
        } else {
            ("application/json", "{}".to_owned())
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(payload.as_bytes()).is_err() {
            return;
        }
    }
}

fn message_json(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 5, "output_tokens": 3}
    })
}

fn sse(text: &str) -> String {
    let mut start = message_json("");
    start["content"] = serde_json::json!([]);
    start["stop_reason"] = serde_json::Value::Null;
    let events = [
        (
            "message_start",
            serde_json::json!({"type": "message_start", "message": start}),
        ),
        (
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
                               "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            serde_json::json!({"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                               "usage": {"output_tokens": 3}}),
        ),
        ("message_stop", serde_json::json!({"type": "message_stop"})),
    ];
    let mut stream = String::new();
    for (name, data) in events {
        write!(stream, "event: {name}\ndata: {data}\n\n").unwrap();
    }
    stream
}

// The one place these tests read the environment: where the binary is.
#[allow(clippy::disallowed_methods)]
fn claude_binary() -> String {
    std::env::var("LEGIO_TEST_CLAUDE")
        .expect("set LEGIO_TEST_CLAUDE to the path of the claude binary to run these tests")
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

fn agent_env(api: &MockApi, home: &Path) -> Vec<(String, String)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("HOME", &home.display().to_string()),
        ("ANTHROPIC_BASE_URL", &api.url()),
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
#[ignore = "needs the pinned Claude Code binary: set LEGIO_TEST_CLAUDE and pass --ignored"]
fn interactive_claude_in_tmux_takes_its_first_prompt_role_and_typed_messages() {
    let api = MockApi::start("ack from the mock");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, Some(&project));

    let runtime = ClaudeRuntime::new(claude_binary());
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
        wait_for(60, || api.saw("FIRST-PROMPT-1717")),
        "the first prompt (argv) never reached the API:\n{screen}"
    );
    assert!(
        api.saw("ROLE-MARKER-4242"),
        "the role file reached the system prompt"
    );

    mux.send_text("legio-t-builder-1", "TYPED-MESSAGE-2929; -x --")
        .unwrap();
    let screen = || mux.capture("legio-t-builder-1", 60).unwrap_or_default();
    assert!(
        wait_for(60, || api.saw("TYPED-MESSAGE-2929; -x --")),
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
#[ignore = "needs the pinned Claude Code binary: set LEGIO_TEST_CLAUDE and pass --ignored"]
fn an_untrusted_folder_is_reported_as_blocked_not_ready() {
    let api = MockApi::start("unused");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, None);

    let runtime = ClaudeRuntime::new(claude_binary());
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
    assert!(!api.saw("FIRST-PROMPT"), "nothing is sent before trust");
    mux.kill("legio-t-builder-1").unwrap();
}

#[test]
#[ignore = "needs the pinned Claude Code binary: set LEGIO_TEST_CLAUDE and pass --ignored"]
fn headless_claude_reads_stream_json_prompts_from_its_input() {
    let api = MockApi::start("headless ack");
    let scratch = tempfile::tempdir().unwrap();
    let (home, project) = (scratch.path().join("home"), scratch.path().join("project"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    claude_home(&home, Some(&project));

    let runtime = ClaudeRuntime::new(claude_binary());
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
        wait_for(60, || api.saw("HEADLESS-PROMPT-3131")),
        "output so far: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(api.saw("ROLE-MARKER-4242"));
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
#[ignore = "needs the pinned Claude Code binary: set LEGIO_TEST_CLAUDE and pass --ignored"]
// Runs claude with a hermetic HOME: this test spawns itself with the variables set.
#[allow(clippy::disallowed_methods)]
fn one_shot_parses_the_real_json_result() {
    if std::env::var_os("LEGIO_TEST_ONE_SHOT_CHILD").is_none() {
        let api = MockApi::start("VERDICT: extend");
        let home = tempfile::tempdir().unwrap();
        claude_home(home.path(), None);
        let run = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "one_shot_parses_the_real_json_result",
                "--ignored",
            ])
            .env_clear()
            .envs(agent_env(&api, home.path()))
            .env("LEGIO_TEST_ONE_SHOT_CHILD", "1")
            .env("LEGIO_TEST_CLAUDE", claude_binary())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{printed}");
        assert!(printed.contains("1 passed"), "{printed}");
        assert!(api.saw("Is the agent stuck?"), "the prompt went to the API");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let answer = ClaudeRuntime::new(claude_binary())
        .one_shot(&OneShot {
            prompt: "Is the agent stuck? Answer retry, extend or terminate.".into(),
            cwd: dir.path().to_owned(),
            model: Some("haiku".into()),
            timeout: Duration::from_secs(60),
        })
        .unwrap();
    assert_eq!(answer, "VERDICT: extend");
}
