//! `legio up` and `legio down`: the project's standing agents in one step.
//!
//! `up` initialises the project if needed and starts the coordinator (and, with `--gateway`,
//! the gateway) unless it already runs. `down` stops every root agent (coordinator,
//! supervisors, monitor, gateway) and ends the project's tmux server when no session is left
//! on it. Worker agents are not touched: `legio stop` ends them.

use clap::Args;
use legio_core::ops::root_agent::{self, RootStart};
use legio_core::ports::SessionStore;
use legio_core::{AgentName, Capability};
use serde_json::json;

use crate::commands::root_agents;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::wiring::Parts;

/// `legio up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Re-run `legio init --force` first.
    #[arg(long)]
    pub force: bool,
    /// Start the gateway too.
    #[arg(long)]
    pub gateway: bool,
    /// Run the agents as detached processes instead of in tmux.
    #[arg(long)]
    pub headless: bool,
}

/// Runs `legio up`.
pub fn up(args: &UpArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let root = ctx.repo_root()?;
    let needs_init = args.force || !legio_core::Layout::new(&root).config().is_file();
    if needs_init {
        init_project(&root, args.force)?;
        out.progress(format!("Initialised legio in {}", root.display()));
    }
    let mut roles = vec![Capability::Coordinator];
    if args.gateway {
        roles.push(Capability::Gateway);
    }
    let mut report = serde_json::Map::new();
    report.insert("initRan".into(), json!(needs_init));
    for role in roles {
        let agent = AgentName::new(role.as_str())?;
        let running = {
            let parts = Parts::load(ctx, out, args.headless)?;
            root_agent::status(&parts.stores.sessions, &parts.mux, role, &agent)
                .map_err(|e| CliError::failure(e.to_string()))?
                .running
        };
        if running {
            out.progress(format!("The {role} already runs."));
        } else {
            let start = root_agents::StartArgs {
                attach: false,
                no_attach: true,
                headless: args.headless,
                model: None,
                runtime: None,
            };
            let request = RootStart {
                role,
                agent,
                task: None,
                parent: None,
                depth: 0,
                model: None,
            };
            let launched = root_agents::launch(&request, &start, ctx, out)?;
            out.progress(format!(
                "Started the {role} ({})",
                launched.started.session.tmux_session
            ));
        }
        report.insert(format!("{role}Started"), json!(!running));
        report.insert(format!("{role}AlreadyRunning"), json!(running));
    }
    if out.json_mode() {
        return out.json(&report);
    }
    out.line("legio is up.");
    Ok(())
}

/// Runs `legio init` as a child process, so its report stays out of this command's output.
fn init_project(root: &std::path::Path, force: bool) -> CliResult {
    let mut cmd = std::process::Command::new(crate::wiring::legio_bin()?);
    cmd.arg("--quiet").arg("init").current_dir(root);
    if force {
        cmd.arg("--force");
    }
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| CliError::failure(format!("cannot run legio init: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "legio init failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// `legio down`.
#[derive(Debug, Args)]
pub struct DownArgs {}

/// Runs `legio down`.
pub fn down(_args: &DownArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let parts = Parts::load(ctx, out, false)?;
    let live: Vec<String> = legio_core::ports::Multiplexer::list(&parts.mux)
        .map(|l| l.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let stop_ctx = parts.stop_context(ctx);
    let mut stopped = Vec::new();
    let mut problems = Vec::new();
    for row in parts.stores.sessions.list()? {
        if !row.capability.works_at_root()
            || !(row.state.is_active() || live.contains(&row.tmux_session))
        {
            continue;
        }
        match root_agent::stop(&stop_ctx, row.capability, &row.agent_name) {
            Ok(s) => {
                problems.extend(
                    s.stopped
                        .problems
                        .iter()
                        .map(|p| format!("{}: {p}", row.agent_name)),
                );
                stopped.push(s);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let server_stopped = match parts.mux.stop_server_if_idle() {
        Ok(b) => b,
        Err(e) => {
            problems.push(format!("the tmux server was not stopped: {e}"));
            false
        }
    };
    if out.json_mode() {
        out.json(&json!({
            "stopped": stopped,
            "serverStopped": server_stopped,
            "nothingToStop": stopped.is_empty(),
            "problems": problems,
        }))?;
    } else if stopped.is_empty() {
        out.line("Nothing to stop.");
    } else {
        for s in &stopped {
            out.line(format!("Stopped {}", s.stopped.agent));
        }
        if server_stopped {
            out.line("The project's tmux server is stopped (no session was left).");
        }
        out.line("legio is down.");
    }
    if !problems.is_empty() {
        let mut err = CliError::failure("not everything stopped cleanly");
        for p in problems {
            err = err.hint(p);
        }
        return Err(err);
    }
    Ok(())
}
