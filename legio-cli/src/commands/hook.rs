//! `legio hook <Event> [--agent NAME]`: the single entry point Claude Code calls for every hook
//! event of every agent. Reads the payload on stdin, hands it to
//! `legio_core::ops::hook::handle`, prints what reaches the model, and always exits 0 (a hook
//! failure must not block an agent; problems go to `.legio/legio-errors.log`).
//!
//! `legio log tool-start|tool-end|session-end` (legio 0.1.0's hooks) lands here too.

use std::io::{IsTerminal, Read, Write as _};
use std::path::{Path, PathBuf};

use legio_core::Layout;
use legio_core::domain::agent::Capability;
use legio_core::guard::{Decision, GuardPolicy, decide};
use legio_core::hook::{HookEvent, HookPayload, PayloadError};
use legio_core::layout::find_project_root;
use legio_core::ops::hook::{self, GuardSubject, HookContext, HookRequest, ORCHESTRATOR};
use legio_core::time::Clock;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::Printer;
use crate::stores;
use clap::{Args, ValueEnum};

/// `legio hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The Claude Code hook event (SessionStart, UserPromptSubmit, PreToolUse, PostToolUse,
    /// PostToolUseFailure, Stop, SessionEnd, PreCompact).
    pub event: String,
    /// The agent (default: $LEGIO_AGENT_NAME; without either, the hook does nothing).
    #[arg(long)]
    pub agent: Option<String>,
    /// The agent to act as when neither --agent nor $LEGIO_AGENT_NAME is set (the project-root
    /// settings use `--default-agent orchestrator` for the human's own session).
    #[arg(long, value_name = "NAME")]
    pub default_agent: Option<String>,
}

/// legio 0.1.0's `log` events.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogEvent {
    /// PreToolUse.
    ToolStart,
    /// PostToolUse.
    ToolEnd,
    /// Stop (end of a turn).
    SessionEnd,
}

/// `legio log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The event.
    #[arg(value_enum)]
    pub event: LogEvent,
    /// The agent (default: $LEGIO_AGENT_NAME).
    #[arg(long)]
    pub agent: Option<String>,
    /// Read the hook payload from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// Tool name when there is no payload.
    #[arg(long = "tool-name")]
    pub tool_name: Option<String>,
    /// Transcript path when there is no payload.
    #[arg(long)]
    pub transcript: Option<PathBuf>,
}

/// `legio hook`.
pub fn run(args: &HookArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let event: HookEvent = args.event.parse()?;
    let agent = args
        .agent
        .clone()
        .or_else(|| ctx.env.agent_name.clone())
        .or_else(|| args.default_agent.clone());
    let Some(agent) = agent else {
        // Not an agent's session and no default: nothing to do.
        return Ok(());
    };
    let payload = read_payload();
    handle(event, agent, payload, ctx, out);
    Ok(())
}

/// `legio log` (compatibility).
pub fn run_log(args: &LogArgs, ctx: &Ctx<'_>, out: &mut Printer) {
    let event = match args.event {
        LogEvent::ToolStart => HookEvent::PreToolUse,
        LogEvent::ToolEnd => HookEvent::PostToolUse,
        LogEvent::SessionEnd => HookEvent::Stop,
    };
    let Some(agent) = args.agent.clone().or_else(|| ctx.env.agent_name.clone()) else {
        return;
    };
    let payload = if args.stdin {
        read_payload()
    } else {
        Ok(HookPayload {
            tool_name: args.tool_name.clone(),
            transcript_path: args.transcript.as_ref().map(|p| p.display().to_string()),
            ..HookPayload::default()
        })
    };
    handle(event, agent, payload, ctx, out);
}

fn read_payload() -> Result<HookPayload, PayloadError> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(PayloadError::Empty);
    }
    let mut text = String::new();
    if let Err(e) = stdin.read_to_string(&mut text) {
        return Err(PayloadError::Invalid(format!("cannot read stdin: {e}")));
    }
    HookPayload::parse(&text)
}

fn project_root(ctx: &Ctx<'_>, payload: Option<&HookPayload>) -> Option<PathBuf> {
    if let Some(root) = &ctx.env.root {
        return Some(root.clone());
    }
    payload
        .and_then(|p| p.cwd.as_deref())
        .and_then(|cwd| find_project_root(Path::new(cwd)))
        .or_else(|| find_project_root(&ctx.cwd))
}

fn handle(
    event: HookEvent,
    agent: String,
    payload: Result<HookPayload, PayloadError>,
    ctx: &Ctx<'_>,
    out: &mut Printer,
) {
    let Some(root) = project_root(ctx, payload.as_ref().ok()) else {
        return;
    };
    let layout = Layout::new(root);
    if !layout.legio_dir().is_dir() {
        return;
    }
    let opened = (|| {
        Ok::<_, crate::error::CliError>((
            stores::sessions(&layout)?,
            stores::events(&layout)?,
            stores::mail(&layout)?,
        ))
    })();
    let (sessions, events, mail) = match opened {
        Ok(s) => s,
        Err(e) => {
            log_problems(
                &layout,
                ctx,
                &[format!("hook {event} for {agent}: {}", e.message)],
            );
            if event == HookEvent::PreToolUse && agent != ORCHESTRATOR {
                // Fail closed: without its stores legio cannot know who is calling.
                let deny = legio_core::hook::HookOutput::Deny {
                    reason: format!(
                        "legio cannot open its state ({}), so tool calls are denied; tell the orchestrator",
                        e.message
                    ),
                };
                if let Some(text) = deny.render() {
                    out.raw(&text);
                }
            }
            return;
        }
    };
    let hook_ctx = HookContext {
        layout: &layout,
        clock: &ctx.clock,
        sessions: &*sessions,
        events: &*events,
        mail: &*mail,
    };
    let request = HookRequest {
        event,
        agent,
        payload,
        env_capability: ctx
            .env
            .capability
            .as_deref()
            .and_then(|c| c.parse::<Capability>().ok()),
        env_worktree: ctx.env.worktree.clone(),
    };
    let home = ctx.env.home.clone();
    let root = layout.root().to_path_buf();
    let guard = |subject: &GuardSubject, tool: &str, input: &Value| {
        guard_decision(subject, Some(root.clone()), home.clone(), tool, input)
    };
    let outcome = hook::handle(&hook_ctx, request, &guard);
    log_problems(&layout, ctx, &outcome.problems);
    if let Some(text) = outcome.output.render() {
        out.raw(&text);
    }
}

/// The guard's decision for one tool call (`Some(reason)` denies). A panic inside the guard
/// is a denial: a crashed hook would let the call through.
pub fn guard_decision(
    subject: &GuardSubject,
    project_root: Option<PathBuf>,
    home: Option<PathBuf>,
    tool: &str,
    input: &Value,
) -> Option<String> {
    let policy = GuardPolicy::new(subject.capability)
        .with_agent(Some(subject.agent.clone()))
        .with_worktree(subject.worktree.clone())
        .with_files(subject.file_scope.clone())
        .with_project_root(project_root)
        .with_home(home);
    match std::panic::catch_unwind(|| decide(&policy, tool, input)) {
        Ok(Decision::Allow) => None,
        Ok(Decision::Deny { reason }) => Some(reason),
        Err(_) => Some(
            "legio's guard failed on this tool call, so it is denied to be safe; rephrase the command more simply".into(),
        ),
    }
}

/// Appends problems to `.legio/legio-errors.log` (best effort: this is the last resort).
fn log_problems(layout: &Layout, ctx: &Ctx<'_>, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let now = ctx.clock.now();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.error_log())
    {
        for p in problems {
            let _ = writeln!(f, "{now} {p}");
        }
    }
}
