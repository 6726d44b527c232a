//! `legio agents discover [--capability <role>] [--all]`: who is working on what, with each
//! agent's file scope (from its session row, not scraped from its instructions). Reads only.

use clap::{Args, Subcommand};
use legio_core::Capability;
use serde_json::json;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{BOLD, DIM, Printer, paint};
use crate::stores;

/// `legio agents ...`.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List agents with their tasks, branches and file scopes.
    Discover(DiscoverArgs),
}

/// `legio agents discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Only agents of this role.
    #[arg(long)]
    pub capability: Option<String>,
    /// Finished agents too.
    #[arg(long)]
    pub all: bool,
}

/// Runs an agents subcommand.
pub fn run(cmd: AgentsCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let AgentsCommand::Discover(args) = cmd;
    let role: Option<Capability> = args.capability.as_deref().map(str::parse).transpose()?;
    let layout = ctx.project()?;
    let sessions = stores::sessions(&layout)?;
    let rows = if args.all {
        sessions.list()?
    } else {
        sessions.list_active()?
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|s| role.is_none_or(|r| s.capability == r))
        .collect();
    if out.json_mode() {
        let list: Vec<_> = rows
            .iter()
            .map(|s| {
                json!({
                    "agentName": s.agent_name,
                    "capability": s.capability,
                    "state": s.state,
                    "beadId": s.bead_id,
                    "branchName": s.branch_name,
                    "parentAgent": s.parent_agent,
                    "depth": s.depth,
                    "fileScope": s.file_scope,
                    "startedAt": s.started_at,
                    "lastActivity": s.last_activity,
                })
            })
            .collect();
        return out.json(&list);
    }
    if rows.is_empty() {
        out.line("No agents found.");
        return Ok(());
    }
    out.line(format!("Found {} agent(s):", rows.len()));
    for s in &rows {
        out.line(format!(
            "  {} {} ({}) {}{}",
            if s.state.is_active() { "●" } else { "○" },
            paint(BOLD, &s.agent_name),
            s.capability,
            s.state,
            if s.bead_id.is_empty() {
                String::new()
            } else {
                format!(", task {}", s.bead_id)
            }
        ));
        out.line(format!(
            "    branch {}; parent {}, depth {}",
            s.branch_name,
            s.parent_agent
                .as_ref()
                .map_or("orchestrator", |p| p.as_str()),
            s.depth
        ));
        out.line(paint(
            DIM,
            format!(
                "    files: {}",
                if s.file_scope.is_empty() {
                    "(unrestricted)".to_owned()
                } else {
                    s.file_scope.join(", ")
                }
            ),
        ));
    }
    Ok(())
}
