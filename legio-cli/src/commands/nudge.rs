//! `legio nudge <agent> [message...]`: type a message into an agent's session, verified and
//! debounced (`legio_core::ops::nudge`). Exits 1 when the message did not reach the agent.

use clap::Args;
use legio_core::AgentName;
use legio_core::domain::mail::Priority;
use legio_core::ops::nudge::{NudgeContext, NudgeRequest, nudge};
use legio_core::ports::SessionStore;

use crate::commands::mail::acting_agent;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::wiring::{self, Parts};

/// `legio nudge`.
#[derive(Debug, Args)]
pub struct NudgeArgs {
    /// The agent to nudge.
    pub agent: String,
    /// The message (default: "Check your mail inbox for new messages.").
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub message: Vec<String>,
    /// Who nudges (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long)]
    pub from: Option<String>,
    /// Send even if the agent was nudged moments ago.
    #[arg(long)]
    pub force: bool,
    /// low, normal, high or urgent; urgent sends even if the agent was nudged moments ago.
    #[arg(long, default_value = "normal")]
    pub priority: String,
}

/// Runs `legio nudge`.
pub fn run(args: &NudgeArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let agent = AgentName::new(args.agent.clone())?;
    let priority: Priority = args.priority.parse()?;
    let from = acting_agent(args.from.as_deref(), ctx)?;
    let message = (!args.message.is_empty()).then(|| args.message.join(" "));
    let parts = Parts::load(ctx, out, false)?;
    let row = parts.stores.sessions.get(&agent)?;
    let runtime = wiring::runtime_named(
        &parts.config,
        row.as_ref().map_or("claude", |r| r.runtime.as_str()),
    );
    let headless = row
        .as_ref()
        .is_some_and(|r| parts.mux.is_headless(&r.tmux_session));
    let nudge_ctx = NudgeContext {
        layout: &parts.layout,
        clock: &ctx.clock,
        sessions: &parts.stores.sessions,
        events: &parts.stores.events,
        mux: &parts.mux,
    };
    let request = NudgeRequest {
        agent,
        message,
        from,
        force: args.force || priority == Priority::Urgent,
    };
    let outcome = nudge(
        &nudge_ctx,
        &*runtime,
        headless,
        &request,
        &wiring::nudge_delivery(),
    )
    .map_err(|e| CliError::failure(e.to_string()))?;
    if out.json_mode() {
        out.json(&outcome)?;
    } else if outcome.delivered {
        out.line(format!(
            "📢 Nudged {}: {}",
            outcome.agent_name, outcome.reason
        ));
    } else if outcome.debounced {
        out.line(format!("⏸  {}", outcome.reason));
    }
    if !outcome.delivered && !outcome.debounced {
        return Err(CliError::failure(format!(
            "the nudge did not reach {}: {}",
            outcome.agent_name, outcome.reason
        ))
        .hint("`legio status` shows whether its session still runs"));
    }
    Ok(())
}
