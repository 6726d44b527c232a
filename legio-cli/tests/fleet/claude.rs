//! A `claude`-runtime agent in tmux: the real Claude Code binary (see `support/install.rs`)
//! against the scripted Messages API on loopback. `legio sling` starts it, confirms the first
//! prompt through the agent's own UserPromptSubmit hook, and the prompt reaches the model.

use std::time::Duration;

use legio_core::AgentState;

use crate::harness::{Backend, Fleet};
use crate::support::claude::ClaudeHome;
use crate::support::install::claude_bin;
use crate::support::scripted_api::{ScriptedApi, Turn};

#[test]
fn the_first_prompt_of_a_claude_agent_reaches_the_model() {
    let Some(claude) = claude_bin() else { return };
    let server = ScriptedApi::start([Turn::text("On it.")]);
    let f = Fleet::new(Backend::Tmux);
    let mut home = ClaudeHome::new(f.p.home());
    home.trust(&f.p.root);
    // The environment Claude Code runs with: the throwaway HOME's answers, the scripted API,
    // no other traffic, and `claude` found on the agent's PATH.
    let env = home.agent_env(&server, &[claude.parent().unwrap()]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    f.ok(&["task", "create", "Say hello", "--id", "t-1"]);
    let out = f.run(
        &[
            "--json",
            "sling",
            "t-1",
            "--name",
            "c1",
            "--runtime",
            "claude",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "sling failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let slung: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(slung["runtime"], "claude");
    assert_eq!(slung["firstPrompt"], "confirmed", "{slung}");

    let reached = server.wait_until(Duration::from_secs(120), |requests| {
        requests
            .iter()
            .any(|r| r.conversation_contains("[LEGIO] You are c1 (builder)"))
    });
    assert!(
        reached,
        "the first prompt never reached the model: {:?}",
        server.requests().len()
    );
    // The dispatch mail went in with it, through the UserPromptSubmit hook.
    let with_mail = server
        .requests()
        .iter()
        .any(|r| r.conversation_contains("dispatch: t-1"));
    assert!(
        with_mail,
        "the dispatch mail was not injected with the first prompt"
    );
    f.wait_state("c1", AgentState::Idle);
    let stopped = f.run(&["--json", "stop", "--agent", "c1"], &env);
    assert!(stopped.status.success());
    assert_eq!(f.row("c1").unwrap().state, AgentState::Zombie);
}
