//! `legio guard --capability ROLE [--worktree DIR] [--files LIST]`: prints the decision the
//! PreToolUse hook would make, for a payload on stdin, so a policy can be checked without
//! spawning an agent.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use legio_core::hook::{HookOutput, HookPayload};
use legio_core::ops::hook::GuardSubject;
use legio_core::{AgentName, Capability};

use crate::commands::hook::guard_decision;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// `legio guard`.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The role whose policy applies.
    #[arg(long)]
    pub capability: String,
    /// The agent's worktree (writes are allowed only inside it).
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// The agent's name (its own branches are `legio/<name>/...`).
    #[arg(long)]
    pub agent: Option<String>,
    /// The agent's file scope, comma-separated paths relative to the worktree.
    #[arg(long, value_delimiter = ',')]
    pub files: Vec<String>,
}

/// Reads a PreToolUse payload on stdin and prints what `legio hook PreToolUse` would print for
/// an agent of this role, worktree and scope; a one-line verdict goes to stderr.
pub fn run(args: &GuardArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let capability: Capability = args.capability.parse()?;
    let agent = args.agent.clone().map(AgentName::new).transpose()?;
    let worktree = args
        .worktree
        .as_ref()
        .map(|w| std::fs::canonicalize(w).unwrap_or_else(|_| ctx.cwd.join(w)));
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::failure(format!("cannot read the payload on stdin: {e}")))?;
    let verdict = match HookPayload::parse(&text) {
        Err(e) => Some(format!(
            "legio could not read this tool call's hook payload ({e}), so it is denied to be safe"
        )),
        Ok(payload) => match payload.tool_name.as_deref() {
            None => Some("the hook payload names no tool, so the call is denied to be safe".into()),
            Some(tool) => {
                let subject = GuardSubject {
                    agent: agent
                        .unwrap_or_else(|| AgentName::new("agent").expect("a constant valid name")),
                    capability,
                    worktree,
                    file_scope: args.files.clone(),
                };
                let root = ctx.repo_root().ok();
                guard_decision(
                    &subject,
                    root,
                    ctx.env.home.clone(),
                    tool,
                    &payload.tool_input_or_empty(),
                )
            }
        },
    };
    match verdict {
        Some(reason) => {
            out.progress(format!("denied: {reason}"));
            if let Some(text) = (HookOutput::Deny { reason }).render() {
                out.raw(&text);
            }
        }
        None => out.progress("allowed"),
    }
    Ok(())
}
