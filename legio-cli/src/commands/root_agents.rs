//! `legio coordinator|supervisor|monitor|gateway start|stop|status`: the agents that work at
//! the project root (`legio_core::ops::root_agent`). Status only reads.

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use legio_core::ops::launch::Delivered;
use legio_core::ops::root_agent::{self, RootStart};
use legio_core::ports::Multiplexer;
use legio_core::{AgentName, Capability, TaskId};
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, Printer, YELLOW, paint};
use crate::wiring::{self, Parts};

/// `legio coordinator|monitor|gateway ...`.
#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// Start it.
    Start(StartArgs),
    /// Stop it (its session ends; it is marked stopped, never completed).
    Stop,
    /// Show whether it runs.
    Status,
}

/// `legio supervisor ...`.
#[derive(Debug, Subcommand)]
pub enum SupervisorCommand {
    /// Start a supervisor for a task.
    Start(SupervisorStartArgs),
    /// Stop a supervisor.
    Stop {
        /// Its name.
        #[arg(long)]
        name: String,
    },
    /// Show whether a supervisor runs.
    Status {
        /// Its name.
        #[arg(long)]
        name: String,
    },
}

/// Options of every root agent's `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach your terminal to its tmux session afterwards (the default on a terminal).
    #[arg(long, conflicts_with = "no_attach")]
    pub attach: bool,
    /// Do not attach.
    #[arg(long)]
    pub no_attach: bool,
    /// Run it as a detached process instead of in tmux.
    #[arg(long)]
    pub headless: bool,
    /// The model (default: `models.<role>` in the config, else the manifest's).
    #[arg(long)]
    pub model: Option<String>,
    /// The agent runtime: claude or script.
    #[arg(long)]
    pub runtime: Option<String>,
}

/// `legio supervisor start`.
#[derive(Debug, Args)]
pub struct SupervisorStartArgs {
    /// Its name.
    #[arg(long)]
    pub name: String,
    /// The task it supervises.
    #[arg(long)]
    pub task: String,
    /// Who it reports to (`orchestrator` for you).
    #[arg(long, default_value = "coordinator")]
    pub parent: String,
    /// Its depth.
    #[arg(long, default_value_t = 1)]
    pub depth: u32,
    /// The common start options.
    #[command(flatten)]
    pub start: StartArgs,
}

/// Runs `legio <role> ...` for the coordinator, monitor or gateway.
pub fn run(role: Capability, cmd: RootCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let agent = AgentName::new(role.as_str())?;
    match cmd {
        RootCommand::Start(args) => start(
            &RootStart {
                role,
                agent,
                task: None,
                parent: None,
                depth: 0,
                model: args.model.clone(),
            },
            &args,
            ctx,
            out,
        ),
        RootCommand::Stop => stop(role, &agent, ctx, out),
        RootCommand::Status => status(role, &agent, ctx, out),
    }
}

/// Runs `legio supervisor ...`.
pub fn run_supervisor(cmd: SupervisorCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let role = Capability::Supervisor;
    match cmd {
        SupervisorCommand::Start(args) => start(
            &RootStart {
                role,
                agent: AgentName::new(args.name.clone())?,
                task: Some(TaskId::new(args.task.clone())?),
                parent: wiring::parent_name(Some(&args.parent), ctx)?,
                depth: args.depth,
                model: args.start.model.clone(),
            },
            &args.start,
            ctx,
            out,
        ),
        SupervisorCommand::Stop { name } => stop(role, &AgentName::new(name)?, ctx, out),
        SupervisorCommand::Status { name } => status(role, &AgentName::new(name)?, ctx, out),
    }
}

/// A started root agent, with what is needed to print it.
pub struct Launched {
    /// What the core returned.
    pub started: root_agent::RootStarted,
    /// The tmux socket, when it runs in tmux.
    pub socket: Option<String>,
    /// The project root.
    pub root: std::path::PathBuf,
}

/// Starts a root agent without printing anything but progress and warnings.
pub fn launch(
    request: &RootStart,
    args: &StartArgs,
    ctx: &Ctx<'_>,
    out: &mut Printer,
) -> CliResult<Launched> {
    let parts = Parts::load(ctx, out, args.headless)?;
    let kind = wiring::runtime_kind(&parts.config, request.role, args.runtime.as_deref())?;
    let runtime = wiring::runtime(&parts.config, kind);
    let mut options = wiring::spawn_options(ctx, &parts.config, kind, "start")?;
    options.stagger = false;
    let namer = wiring::session_namer(&parts.config.project.name);
    let fleet = parts.fleet(ctx, &namer);
    out.progress(format!(
        "Starting the {} ({})...",
        request.agent,
        parts.mux.kind()
    ));
    let started =
        root_agent::start(&fleet, &*runtime, request, &options).map_err(wiring::spawn_error)?;
    for w in &started.warnings {
        out.warn(w);
    }
    let socket = parts
        .mux
        .tmux_socket()
        .filter(|_| started.multiplexer == "tmux")
        .map(str::to_owned);
    Ok(Launched {
        started,
        socket,
        root: parts.layout.root().to_path_buf(),
    })
}

/// Starts a root agent; with `--attach` (or on a terminal) attaches to its tmux session.
pub fn start(request: &RootStart, args: &StartArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let Launched {
        started,
        socket,
        root,
    } = launch(request, args, ctx, out)?;
    let s = &started.session;
    if out.json_mode() {
        return out.json(&json!({
            "agentName": s.agent_name,
            "capability": s.capability,
            "tmuxSession": s.tmux_session,
            "multiplexer": started.multiplexer,
            "tmuxSocket": socket,
            "projectRoot": root,
            "pid": s.pid,
            "model": started.model,
            "runtime": s.runtime,
            "beadId": s.bead_id,
            "parent": s.parent_agent,
            "depth": s.depth,
            "hooksInstalled": started.hooks_installed,
            "firstPrompt": match started.delivered {
                Delivered::Confirmed => "confirmed",
                Delivered::Submitted => "submitted",
            },
        }));
    }
    out.line(format!(
        "🚀 {} started ({}, {}, {})",
        paint(BOLD, &s.agent_name),
        s.capability,
        s.runtime,
        started.model
    ));
    out.info(format!(
        "   Session   {} ({})",
        s.tmux_session, started.multiplexer
    ));
    if started.hooks_installed {
        out.info("   Hooks     added to .claude/settings.local.json (your own settings are kept)");
    }
    let attach = args.attach || (!args.no_attach && std::io::stdout().is_terminal());
    if let Some(socket) = &socket {
        let command = format!("tmux -L {socket} attach -t {}", s.tmux_session);
        if attach && !ctx.env.inside_tmux {
            let status = std::process::Command::new("tmux")
                .args(["-L", socket, "attach-session", "-t"])
                .arg(format!("={}", s.tmux_session))
                .status()
                .map_err(|e| CliError::failure(format!("cannot run tmux to attach: {e}")))?;
            if !status.success() {
                out.warn(format!(
                    "attaching failed ({status}); attach with: {command}"
                ));
            }
        } else {
            out.info(format!("   Attach    {command}"));
        }
    }
    Ok(())
}

fn stop(role: Capability, agent: &AgentName, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let parts = Parts::load(ctx, out, false)?;
    let stopped = root_agent::stop(&parts.stop_context(ctx), role, agent)
        .map_err(|e| CliError::failure(e.to_string()))?;
    if out.json_mode() {
        out.json(&stopped)?;
    } else {
        let s = &stopped.stopped;
        out.line(format!(
            "{} stopped ({}; {} -> {})",
            s.agent,
            if s.session_ended {
                format!("session {} ended", s.session)
            } else {
                "no session was left".to_owned()
            },
            s.state_before,
            s.state_after
        ));
        if let Some(run) = &stopped.run_completed {
            out.line(format!("Run {run} completed"));
        }
        for p in &s.problems {
            out.line(format!("   {} {p}", paint(YELLOW, "problem:")));
        }
    }
    if !stopped.stopped.problems.is_empty() {
        return Err(CliError::failure(format!(
            "{agent} was not stopped cleanly"
        )));
    }
    Ok(())
}

fn status(role: Capability, agent: &AgentName, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let parts = Parts::load(ctx, out, false)?;
    let status = root_agent::status(&parts.stores.sessions, &parts.mux, role, agent)
        .map_err(|e| CliError::failure(e.to_string()))?;
    if out.json_mode() {
        return out.json(&status);
    }
    match status.state {
        None => out.line(format!("{agent} has not been started")),
        Some(state) => {
            out.line(format!(
                "{agent}: {} ({state})",
                if status.running {
                    "running"
                } else {
                    "not running"
                }
            ));
            if let Some(session) = &status.session {
                out.info(format!("   Session   {session}"));
            }
            if let Some(at) = &status.started_at {
                out.info(format!("   Started   {at}"));
            }
            if status.session_lost {
                out.warn(format!(
                    "{agent} is recorded as {state} but its session is gone; `legio {role} stop` clears it"
                ));
            }
        }
    }
    Ok(())
}
