//! `legio stop [<name> | --agent <name>] [--all]`: end agents' sessions, deepest first
//! (`legio_core::ops::stop`). `--agent` is legio 0.1.0's spelling; the positional name is
//! the same thing.

use clap::Args;
use legio_core::AgentName;
use legio_core::ops::stop::{StopScope, stop};
use legio_core::ports::SessionStore;
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{Printer, YELLOW, paint};
use crate::wiring::Parts;

/// `legio stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Only this agent (any role, any state); the same as `--agent`.
    #[arg(value_name = "AGENT", conflicts_with = "agent")]
    pub name: Option<String>,
    /// Only this agent (any role, any state).
    #[arg(long)]
    pub agent: Option<String>,
    /// Root agents too (coordinator, supervisors, monitor, gateway); by default they are left
    /// to `legio <role> stop` and `legio down`.
    #[arg(long, conflicts_with_all = ["agent", "name"])]
    pub all: bool,
}

/// Runs `legio stop`.
pub fn run(args: &StopArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let scope = match args.agent.as_ref().or(args.name.as_ref()) {
        Some(name) => StopScope::Agent(AgentName::new(name.clone())?),
        None if args.all => StopScope::All,
        None => StopScope::Workers,
    };
    let parts = Parts::load(ctx, out, false)?;
    let stopped = stop(&parts.stop_context(ctx), &scope, "stopped by `legio stop`")
        .map_err(|e| CliError::failure(e.to_string()))?;
    let problems = stopped.iter().any(|s| !s.problems.is_empty());
    if out.json_mode() {
        out.json(&json!({ "stopped": stopped, "nothingToStop": stopped.is_empty() }))?;
    } else if stopped.is_empty() {
        out.line("Nothing to stop.");
    } else {
        for s in &stopped {
            let what = if s.session_ended {
                format!("session {} ended", s.session)
            } else {
                format!("no session left ({})", s.session)
            };
            let state = if s.state_before == s.state_after {
                format!("stays {}", s.state_after)
            } else {
                format!("{} -> {}", s.state_before, s.state_after)
            };
            out.line(format!(
                "Stopped: {} ({}): {what}; {state}",
                s.agent, s.capability
            ));
            for p in &s.problems {
                out.line(format!("   {} {p}", paint(YELLOW, "problem:")));
            }
        }
        out.line(format!("Stopped {} agent(s).", stopped.len()));
    }
    if let StopScope::Workers = scope
        && !out.json_mode()
    {
        let root_running = parts.stores.sessions.list_active().map_or(0, |l| {
            l.iter().filter(|s| s.capability.works_at_root()).count()
        });
        if root_running > 0 {
            out.info(format!(
                "{root_running} root agent(s) still run; `legio down` or `legio stop --all` ends them"
            ));
        }
    }
    if problems {
        return Err(CliError::failure(
            "some agents were not stopped cleanly (see the problems above)",
        ));
    }
    Ok(())
}
