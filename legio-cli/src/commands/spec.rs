//! `legio spec write <task> [--body TEXT | --file PATH | stdin] [--agent NAME]`: write a
//! task's spec to `.legio/specs/<task>.md` (`legio_core::ops::spec`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use legio_core::TaskId;
use legio_core::ops::spec;

use crate::commands::mail::acting_agent;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// `legio spec ...`.
#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Write (or replace) a task's spec.
    Write(SpecWriteArgs),
}

/// `legio spec write`.
#[derive(Debug, Args)]
pub struct SpecWriteArgs {
    /// The task.
    pub task: String,
    /// The spec text.
    #[arg(long, conflicts_with = "file")]
    pub body: Option<String>,
    /// Read the spec from this file.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The author, recorded in the file (default: $LEGIO_AGENT_NAME, else none).
    #[arg(long)]
    pub agent: Option<String>,
}

/// Runs a spec subcommand.
pub fn run(cmd: SpecCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let SpecCommand::Write(args) = cmd;
    let task = TaskId::new(args.task.clone())?;
    let layout = ctx.project()?;
    let body = match (&args.body, &args.file) {
        (Some(b), _) => b.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| CliError::failure(format!("cannot read {}: {e}", f.display())))?,
        (None, None) => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::usage("no spec text given")
                    .hint("pass --body \"...\", --file <path>, or pipe the text on stdin"));
            }
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|e| CliError::failure(format!("cannot read stdin: {e}")))?;
            text
        }
    };
    let author = match (&args.agent, &ctx.env.agent_name) {
        (None, None) => None,
        (flag, _) => Some(acting_agent(flag.as_deref(), ctx)?),
    };
    let path = spec::write(&layout, &task, &body, author.as_deref()).map_err(|e| match e {
        spec::SpecError::Empty(_) => CliError::usage(e.to_string()),
        spec::SpecError::Io { .. } => CliError::failure(e.to_string()),
    })?;
    if out.json_mode() {
        return out.json(&serde_json::json!({ "path": path, "task": task }));
    }
    out.line(path.display().to_string());
    Ok(())
}
