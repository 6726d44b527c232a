//! `legio sling <task> --name <agent>`: put an agent to work on a task
//! (`legio_core::ops::sling`).

use std::path::PathBuf;

use clap::Args;
use legio_core::AgentName;
use legio_core::Capability;
use legio_core::TaskId;
use legio_core::ops::launch::Delivered;
use legio_core::ops::sling::{SlingRequest, sling};
use legio_core::ports::Multiplexer;
use serde_json::json;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{BOLD, GREEN, Printer, paint};
use crate::wiring::{self, Parts};

/// `legio sling`.
#[derive(Debug, Args)]
pub struct SlingArgs {
    /// The task (from `legio task list`).
    pub task: String,
    /// The agent's role.
    #[arg(long, default_value = "builder")]
    pub capability: String,
    /// The agent's name (letters, digits, '.', '_', '-').
    #[arg(long)]
    pub name: String,
    /// A spec file; relative paths are relative to the project root.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Files the agent exclusively owns, comma-separated, relative to the repository root.
    #[arg(long, value_delimiter = ',')]
    pub files: Vec<String>,
    /// The agent spawning this one (default: $LEGIO_AGENT_NAME when an agent runs sling).
    #[arg(long)]
    pub parent: Option<String>,
    /// The agent's depth (default: the parent's depth plus one).
    #[arg(long)]
    pub depth: Option<u32>,
    /// The model (default: `models.<role>` in the config, else the manifest's).
    #[arg(long)]
    pub model: Option<String>,
    /// The agent runtime: claude or script (default: `runtime.*` in the config).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Tell the agent not to spawn a reviewer.
    #[arg(long)]
    pub skip_review: bool,
    /// Run the agent as a detached process instead of in tmux.
    #[arg(long)]
    pub headless: bool,
    /// Accepted for legio 0.1.0 compatibility; the orchestrator may sling any role, and agents
    /// cannot bypass the hierarchy.
    #[arg(long, hide = true)]
    pub force_hierarchy: bool,
}

/// Runs `legio sling`.
pub fn run(args: &SlingArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let capability: Capability = args.capability.parse()?;
    let request = SlingRequest {
        task: TaskId::new(args.task.clone())?,
        agent: AgentName::new(args.name.clone())?,
        capability,
        spec: args.spec.clone(),
        files: args
            .files
            .iter()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect(),
        parent: wiring::parent_name(args.parent.as_deref(), ctx)?,
        depth: args.depth,
        model: args.model.clone(),
        skip_review: args.skip_review,
    };
    if args.force_hierarchy {
        out.warn("--force-hierarchy is not needed and does nothing: the orchestrator may sling any worktree role, and an agent's children follow the hierarchy");
    }
    let parts = Parts::load(ctx, out, args.headless)?;
    let kind = wiring::runtime_kind(&parts.config, capability, args.runtime.as_deref())?;
    let runtime = wiring::runtime(&parts.config, kind);
    let options = wiring::spawn_options(ctx, &parts.config, kind, "sling")?;
    let namer = wiring::session_namer(&parts.config.project.name);
    let fleet = parts.fleet(ctx, &namer);
    out.progress(format!(
        "Starting {} ({capability}) on {} in {}...",
        request.agent,
        request.task,
        parts.mux.kind()
    ));
    let slung = sling(&fleet, &*runtime, &request, &options).map_err(wiring::spawn_error)?;
    for w in &slung.warnings {
        out.warn(w);
    }
    let s = &slung.session;
    let first_prompt = match slung.delivered {
        Delivered::Confirmed => "confirmed",
        Delivered::Submitted => "submitted",
    };
    if out.json_mode() {
        return out.json(&json!({
            "agentName": s.agent_name,
            "capability": s.capability,
            "taskId": s.bead_id,
            "branch": slung.branch,
            "worktree": slung.worktree,
            "tmuxSession": s.tmux_session,
            "multiplexer": slung.multiplexer,
            "tmuxSocket": parts.mux.tmux_socket(),
            "pid": s.pid,
            "runtime": s.runtime,
            "model": slung.model,
            "parent": s.parent_agent,
            "depth": s.depth,
            "runId": s.run_id,
            "mailId": slung.mail_id,
            "firstPrompt": first_prompt,
        }));
    }
    out.line(format!(
        "🚀 Agent {} launched ({}, {}, {})",
        paint(BOLD, &s.agent_name),
        s.capability,
        s.runtime,
        slung.model
    ));
    let pid = s.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
    for (label, value) in [
        ("Task", s.bead_id.clone()),
        ("Branch", slung.branch.clone()),
        ("Worktree", slung.worktree.display().to_string()),
        (
            "Session",
            format!("{} ({})", s.tmux_session, slung.multiplexer),
        ),
        ("PID", pid),
    ] {
        out.info(format!("   {label:<9} {value}"));
    }
    out.info(format!(
        "   {:<9} {}",
        "Prompt",
        match slung.delivered {
            Delivered::Confirmed =>
                paint(GREEN, "delivered (the agent's prompt hook confirmed it)"),
            Delivered::Submitted => paint(
                GREEN,
                "delivered (written to the agent's input; its process runs)"
            ),
        }
    ));
    if let Some(socket) = parts
        .mux
        .tmux_socket()
        .filter(|_| slung.multiplexer == "tmux")
    {
        out.info(format!(
            "   Watch it: tmux -L {socket} attach -t {}",
            s.tmux_session
        ));
    }
    Ok(())
}
