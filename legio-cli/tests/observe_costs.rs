//! `legio costs` end to end with the real Claude Code: `claude -p` (2.1.332) runs several
//! turns with tool calls against a scripted model whose responses report varied usage (cache
//! reads, 5-minute and 1-hour cache writes), with legio's hooks installed. The hooks record each
//! session's transcript path in `events.db`; `legio costs` finds the transcripts from there and
//! prices them. Its figures must agree, within 1%, with ccusage 20.0.24's on the same
//! transcripts:
//! - always with the figures ccusage gave for these scripted sessions, recorded below (the
//!   tokens are fixed by the script, so its figures are too);
//! - and with a live ccusage run when ccusage is installed (`$LEGIO_CCUSAGE`, else
//!   `/work/.cache/ccusage/node_modules/.bin/ccusage`). When it is not, the test says so on
//!   stderr and fails, unless `LEGIO_CCUSAGE=skip` asks to skip that comparison.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::claude::{PRINT_TIMEOUT, Sandbox, shell_quote};
use support::install::{claude_bin, wait_with_timeout};
use support::scripted_api::{ScriptedApi, ToolCall, Turn, Usage};

const CCUSAGE_VERSION: &str = "20.0.24";
const DEFAULT_CCUSAGE: &str = "/work/.cache/ccusage/node_modules/.bin/ccusage";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";

/// ccusage 20.0.24's total cost, in USD, of each scripted session below (`ccusage claude
/// session --json --offline --mode calculate` on the transcripts claude writes for them; the
/// tokens are fixed by the script, so these are too). The live comparison checks they still are
/// ccusage's figures.
const CCUSAGE_BUILDER_USD: f64 = 0.154_578;
const CCUSAGE_SCOUT_USD: f64 = 0.011_445;

fn usage(input: u64, output: u64, read: u64, w5m: u64, w1h: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_input_tokens: read,
        cache_creation_5m: w5m,
        cache_creation_1h: w1h,
    }
}

/// The builder's session: four model turns, three tool calls, both cache lifetimes. `dir` is
/// where its Write goes (the sandbox's project).
fn builder_script(dir: &Path) -> Vec<Turn> {
    vec![
        Turn::text("Let me look around.")
            .with_tool(ToolCall::bash("ls -la"))
            .with_usage(usage(2_400, 120, 0, 0, 18_000)),
        Turn::tool(ToolCall::write(
            dir.join("notes.txt").display().to_string(),
            "notes\n",
        ))
        .with_usage(usage(30, 260, 18_000, 1_200, 0)),
        Turn::tool(ToolCall::bash("echo done")).with_usage(usage(12, 90, 19_200, 640, 320)),
        Turn::text("All done.").with_usage(usage(8, 410, 20_160, 0, 0)),
    ]
}

/// The scout's session: two turns on Haiku.
fn scout_script() -> Vec<Turn> {
    vec![
        Turn::text("Searching.")
            .with_tool(ToolCall::bash("grep -r main . || true"))
            .with_usage(usage(3_100, 75, 0, 4_000, 0)),
        Turn::text("Found it.").with_usage(usage(20, 150, 4_000, 0, 900)),
    ]
}

/// A git repository with `.legio/`, as the sandbox's project folder.
fn make_project(sandbox: &Sandbox) {
    let root = sandbox.project();
    std::fs::create_dir_all(root.join(".legio")).expect("creating .legio");
    let git = Command::new("git")
        .args(["init", "-q"])
        .arg(root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("running git init");
    assert!(git.success());
}

/// Runs `claude -p` as `agent` with `model` against `script`, played by `server` (one server
/// for every session, so message and request ids are unique across them, as the real API's
/// are); returns claude's result object.
fn run_claude(
    sandbox: &Sandbox,
    server: &ScriptedApi,
    agent: &str,
    model: &str,
    script: Vec<Turn>,
) -> Value {
    let played = server.turn_requests().len();
    let turns = script.len();
    server.push_turns(script);
    let child = sandbox
        .command(server)
        .env("LEGIO_AGENT_NAME", agent)
        .args(["--model", model, "--output-format", "json", "-p", "go"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting claude");
    let out = wait_output(child);
    assert_eq!(server.exhausted(), 0, "the script was too short");
    assert_eq!(
        server.turn_requests().len(),
        played + turns,
        "every scripted turn was played"
    );
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("claude printed no JSON ({e}): {out}"))
}

fn wait_output(mut child: std::process::Child) -> String {
    let mut stdout = child.stdout.take().expect("a piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).expect("reading claude's stdout");
        text
    });
    let status = wait_with_timeout(child, PRINT_TIMEOUT).expect("claude -p finished");
    assert!(status.success(), "claude -p failed: {status}");
    reader.join().expect("the reader thread")
}

fn legio_costs(root: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_legio"))
        .args(["costs", "--json"])
        .arg("-C")
        .arg(root)
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .expect("running legio costs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "legio costs reported problems: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("legio costs --json prints JSON")
}

/// The ccusage to run, `None` when skipping was asked for, or why there is none.
fn find_ccusage() -> Result<Option<PathBuf>, String> {
    // Tests may read the environment: LEGIO_CCUSAGE picks the ccusage binary (or `skip`).
    #[allow(clippy::disallowed_methods)]
    let chosen = std::env::var("LEGIO_CCUSAGE").ok();
    match chosen.as_deref() {
        Some("skip") => return Ok(None),
        Some(path) => return Ok(Some(PathBuf::from(path))),
        None => {}
    }
    let default = PathBuf::from(DEFAULT_CCUSAGE);
    if default.exists() {
        return Ok(Some(default));
    }
    Err(format!(
        "ccusage is not installed, so legio's costs were NOT compared with a live ccusage run \
         on transcripts written by the real claude. Install it with `npm install --prefix \
         /work/.cache/ccusage ccusage@{CCUSAGE_VERSION}`, or point LEGIO_CCUSAGE at a ccusage \
         {CCUSAGE_VERSION} binary, or set LEGIO_CCUSAGE=skip to skip this comparison on purpose."
    ))
}

/// ccusage's total cost per session id, over the sandbox's Claude Code directory.
fn ccusage_sessions(ccusage: &Path, home: &Path) -> Vec<(String, f64, Value)> {
    let version = Command::new(ccusage)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", ccusage.display()));
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.trim().ends_with(CCUSAGE_VERSION),
        "{} is ccusage {:?}; the recorded figures are those of {CCUSAGE_VERSION}",
        ccusage.display(),
        version.trim()
    );
    let out = Command::new(ccusage)
        .args([
            "claude",
            "session",
            "--json",
            "--offline",
            "--mode",
            "calculate",
        ])
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", ccusage.display()));
    assert!(
        out.status.success(),
        "ccusage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).expect("ccusage prints JSON");
    value["sessions"]
        .as_array()
        .expect("a sessions array")
        .iter()
        .map(|s| {
            (
                s["sessionId"].as_str().expect("sessionId").to_owned(),
                s["totalCost"].as_f64().expect("totalCost"),
                s.clone(),
            )
        })
        .collect()
}

fn within_1_percent(what: &str, ours: f64, theirs: f64) {
    assert!(
        (ours - theirs).abs() <= 0.01 * theirs.abs(),
        "{what}: legio says ${ours:.6}, ccusage ${theirs:.6} (more than 1% apart)"
    );
}

#[test]
fn legio_costs_agree_with_ccusage_on_sessions_of_the_real_claude() {
    let Some(bin) = claude_bin() else { return };
    let mut sandbox = Sandbox::new(bin);
    make_project(&sandbox);
    let legio = shell_quote(Path::new(env!("CARGO_BIN_EXE_legio")));
    for event in [
        "SessionStart",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ] {
        sandbox.add_hook(event, "", &format!("{legio} hook {event}"));
    }

    let project = sandbox.project().to_path_buf();
    let server = ScriptedApi::start([]);
    let builder = run_claude(
        &sandbox,
        &server,
        "cost-builder",
        SONNET,
        builder_script(&project),
    );
    let scout = run_claude(&sandbox, &server, "cost-scout", HAIKU, scout_script());
    let costs = legio_costs(sandbox.project());

    let agents = costs["agents"].as_array().expect("agents");
    let agent = |name: &str| {
        agents
            .iter()
            .find(|a| a["agentName"] == name)
            .unwrap_or_else(|| panic!("no {name} in {costs:#}"))
    };
    let (b, s) = (agent("cost-builder"), agent("cost-scout"));
    // The transcripts legio read are the ones claude wrote for these sessions.
    for (a, result) in [(b, &builder), (s, &scout)] {
        let session = result["session_id"].as_str().expect("a session id");
        let files = a["transcripts"].as_array().expect("transcripts");
        assert_eq!(files.len(), 1, "{a:#}");
        let file = files[0].as_str().expect("a path");
        assert!(file.ends_with(&format!("{session}.jsonl")), "{file}");
    }
    // Tokens: exactly what the scripted model reported, each response once.
    let sum =
        |script: &[Turn], f: fn(&Usage) -> u64| script.iter().map(|t| f(&t.usage)).sum::<u64>();
    for (a, script) in [(b, builder_script(&project)), (s, scout_script())] {
        let total = &a["report"]["total"];
        assert_eq!(total["inputTokens"], sum(&script, |u| u.input_tokens));
        assert_eq!(total["outputTokens"], sum(&script, |u| u.output_tokens));
        assert_eq!(
            total["cacheReadTokens"],
            sum(&script, |u| u.cache_read_input_tokens)
        );
        assert_eq!(
            total["cacheWrite5mTokens"],
            sum(&script, |u| u.cache_creation_5m)
        );
        assert_eq!(
            total["cacheWrite1hTokens"],
            sum(&script, |u| u.cache_creation_1h)
        );
        assert_eq!(a["report"]["responses"], script.len());
    }
    let ours_b = b["report"]["costUsd"].as_f64().expect("a cost");
    let ours_s = s["report"]["costUsd"].as_f64().expect("a cost");
    within_1_percent(
        "builder session (recorded ccusage)",
        ours_b,
        CCUSAGE_BUILDER_USD,
    );
    within_1_percent(
        "scout session (recorded ccusage)",
        ours_s,
        CCUSAGE_SCOUT_USD,
    );
    // Claude Code's own figure for its session agrees too.
    within_1_percent(
        "builder session (claude's total_cost_usd)",
        ours_b,
        builder["total_cost_usd"].as_f64().expect("total_cost_usd"),
    );

    let ccusage = match find_ccusage() {
        Ok(Some(path)) => path,
        Ok(None) => {
            eprintln!("live ccusage comparison skipped: LEGIO_CCUSAGE=skip");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let live = ccusage_sessions(&ccusage, sandbox.home().path());
    assert_eq!(live.len(), 2, "{live:#?}");
    for (result, ours, recorded) in [
        (&builder, ours_b, CCUSAGE_BUILDER_USD),
        (&scout, ours_s, CCUSAGE_SCOUT_USD),
    ] {
        let id = result["session_id"].as_str().expect("a session id");
        let (_, theirs, raw) = live
            .iter()
            .find(|(sid, _, _)| sid == id)
            .unwrap_or_else(|| panic!("ccusage lists no session {id}: {live:#?}"));
        within_1_percent(&format!("session {id} (live ccusage)"), ours, *theirs);
        assert!(
            (theirs - recorded).abs() < 1e-9,
            "ccusage now says ${theirs} for session {id}, the recording ${recorded}: update the \
             recorded figure ({raw})"
        );
    }
}
