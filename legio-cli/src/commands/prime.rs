//! `legio prime [--agent <name>] [--compact]`: print the context of an agent, or of the human
//! orchestrator (`legio_core::ops::prime`). Reads only.

use clap::Args;
use legio_core::AgentName;
use legio_core::manifest::Manifest;
use legio_core::ops::checkpoint;
use legio_core::ops::hook::ORCHESTRATOR;
use legio_core::ops::prime::{
    AgentContext, OrchestratorContext, agent_context, orchestrator_context,
};

use crate::context::{Ctx, load_config};
use crate::error::CliResult;
use crate::output::Printer;
use crate::stores;

/// `legio prime`.
#[derive(Debug, Args)]
pub struct PrimeArgs {
    /// The agent (default: $LEGIO_AGENT_NAME; `orchestrator` or none: the human's context).
    #[arg(long)]
    pub agent: Option<String>,
    /// The shorter context for after a compaction (with the agent's last checkpoint).
    #[arg(long)]
    pub compact: bool,
}

/// Runs `legio prime`.
pub fn run(args: &PrimeArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let who = args.agent.clone().or_else(|| ctx.env.agent_name.clone());
    let sessions = stores::sessions(&layout)?;
    let mail = stores::mail(&layout)?;
    let text = match who.as_deref() {
        None | Some(ORCHESTRATOR) => {
            let config = load_config(&layout, out)?;
            let manifest = Manifest::load(&config.manifest_file(), &config.agent_defs_dir()).ok();
            let active = sessions.list_active()?;
            let run = layout.read_current_run();
            orchestrator_context(&OrchestratorContext {
                config: &config,
                manifest: manifest.as_ref(),
                active: &active,
                run: run.as_deref(),
                unread: mail.count_unread(ORCHESTRATOR)?,
                compact: args.compact,
            })
        }
        Some(name) => {
            let agent = AgentName::new(name)?;
            let session = sessions.get(&agent)?;
            if session.is_none() {
                out.warn(format!("no session is recorded for agent {agent}"));
            }
            let cp = if args.compact {
                match checkpoint::load(&layout, &agent) {
                    Ok(cp) => cp,
                    Err(e) => {
                        out.warn(e.to_string());
                        None
                    }
                }
            } else {
                None
            };
            agent_context(&AgentContext {
                agent: agent.as_str(),
                session: session.as_ref(),
                checkpoint: cp.as_ref(),
                unread: mail.count_unread(agent.as_str())?,
                compact: args.compact,
            })
        }
    };
    if out.json_mode() {
        return out.json(&serde_json::json!({ "context": text }));
    }
    out.raw(&text);
    Ok(())
}
