//! The agents that work at the project root: `legio coordinator|supervisor|monitor|gateway
//! start|stop|status`.
//!
//! Start runs the spawn steps that apply at the root, each undone if a later one fails:
//! register the session row, claim legio's hooks in the shared root settings
//! ([`root_hooks`], which keeps the user's own settings), start the session with the rendered
//! role instructions as the system prompt, deliver and confirm the first prompt. No worktree,
//! overlay file, task change or dispatch mail: work reaches root agents through their prompt
//! and mail.
//!
//! Stop ends the session, marks the agent zombie with a "stopped" event (see [`stop`]) and
//! releases its settings claim; stopping the coordinator also completes the current run.
//! Status only reads.

use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, is_valid_model};
use crate::domain::agent::{AgentSession, AgentState, Capability, RunStatus};
use crate::manifest::resolve_model;
use crate::names::{AgentName, TaskId};
use crate::ops::launch::{self, Delivered, Launch};
use crate::ops::root_hooks;
use crate::ops::sling::check_task;
use crate::ops::spawn::{self, Fleet, SpawnError, SpawnOptions, Step, StepFailure, Steps};
use crate::ops::stop::{self, StopContext, Stopped};
use crate::overlay::{self, OverlayConfig, spawnable};
use crate::ports::{AgentRuntime, Multiplexer, MuxSession, SessionStore, StoreError};

/// A root agent to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootStart {
    /// Its role (one that works at the root).
    pub role: Capability,
    /// Its name (`coordinator`, `monitor`, `gateway`, or a supervisor's name).
    pub agent: AgentName,
    /// Its task (supervisors).
    pub task: Option<TaskId>,
    /// Who it reports to; `None` for the human orchestrator.
    pub parent: Option<AgentName>,
    /// Its depth.
    pub depth: u32,
    /// A model instead of the configured one.
    pub model: Option<String>,
}

/// A started root agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootStarted {
    /// Its session row (with its process id).
    pub session: AgentSession,
    /// The model it runs.
    pub model: String,
    /// How far its first prompt's delivery was confirmed.
    pub delivered: Delivered,
    /// The multiplexer it runs in.
    pub multiplexer: &'static str,
    /// Whether legio's hooks were newly added to the root settings.
    pub hooks_installed: bool,
    /// Things worth telling that did not stop it.
    pub warnings: Vec<String>,
}

/// Starts a root agent (see the module docs).
pub fn start(
    fleet: &Fleet<'_>,
    runtime: &dyn AgentRuntime,
    request: &RootStart,
    options: &SpawnOptions,
) -> Result<RootStarted, SpawnError> {
    let role = request.role;
    let agent = &request.agent;
    if !role.works_at_root() {
        return Err(SpawnError::refused(
            format!("a {role} works in its own worktree, not at the project root"),
            Some(format!(
                "put one to work with `legio sling <task> --capability {role} --name <name>`"
            )),
        ));
    }
    let task = match &request.task {
        Some(id) => Some(check_task(fleet, id)?),
        None if role == Capability::Supervisor => {
            return Err(SpawnError::refused(
                "a supervisor needs a task (--task)",
                Some("create one with `legio task create`".into()),
            ));
        }
        None => None,
    };
    let model = match &request.model {
        Some(m) if is_valid_model(m) => m.clone(),
        Some(m) => {
            return Err(SpawnError::refused(
                format!(
                    "--model {m:?} is not a model legio knows; use {}",
                    crate::config::MODEL_CHOICES
                ),
                None,
            ));
        }
        None => resolve_model(fleet.config, fleet.manifest, role).to_owned(),
    };
    let (role_definition, warning) = spawn::role_definition(fleet.config, fleet.manifest, role)?;
    let root = fleet.layout.root().to_path_buf();
    let canonical = fleet.config.project.canonical_branch.clone();
    let system_prompt = system_prompt(fleet.config, request, role_definition)
        .map_err(|e| SpawnError::refused(e.to_string(), None))?;
    let session_name = (fleet.session_name)(agent);
    spawn::check_session_free(fleet, &session_name, agent)?;

    let now = fleet.clock.now();
    let mut row = spawn::new_session(now, agent, role, runtime);
    row.worktree_path = root.display().to_string();
    row.branch_name = canonical;
    row.bead_id = task.as_ref().map(|t| t.id.to_string()).unwrap_or_default();
    row.tmux_session.clone_from(&session_name);
    row.parent_agent.clone_from(&request.parent);
    row.depth = request.depth;
    row.run_id = fleet.layout.read_current_run();
    let log_path = fleet.layout.agent_logs(agent).join("terminal.log");
    row.terminal_log_path = Some(log_path.display().to_string());

    let first_prompt = launch::first_prompt(agent, role, None, request.parent.as_ref());
    let launch_spec = Launch {
        context: spawn::launch_context(
            fleet,
            agent,
            role,
            &root,
            &model,
            Some(system_prompt),
            None,
        ),
        session: &session_name,
        log_path,
        first_prompt: &first_prompt,
    };

    let mut steps = Steps::new(agent, options.fail_after);
    spawn::register(fleet, &mut steps, &row)?;
    let result = (|| {
        steps.done(Step::Register)?;
        let installed = root_hooks::claim(fleet.layout, &fleet.host.legio_bin, agent.as_str())
            .map_err(|e| (Step::Hooks, StepFailure::new(e)))?;
        let layout = fleet.layout;
        let who = agent.to_string();
        steps.undo(format!("{who}'s hooks in the root settings"), move || {
            root_hooks::release(layout, &who, false)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        steps.done(Step::Hooks)?;
        let started = spawn::start_and_prompt(fleet, &mut steps, runtime, options, &launch_spec)?;
        Ok((installed, started))
    })();
    match result {
        Ok((hooks_installed, started)) => {
            steps.commit();
            row.pid = started.pid;
            let mut warnings: Vec<String> = warning.into_iter().collect();
            warnings.extend(spawn::forget_previous_life(fleet, &row));
            warnings.extend(spawn::record_spawn(fleet, &row, started.delivered, &model));
            Ok(RootStarted {
                session: row,
                model,
                delivered: started.delivered,
                multiplexer: fleet.mux.kind(),
                hooks_installed,
                warnings,
            })
        }
        Err((step, failure)) => {
            let error = steps.abort(step, failure);
            spawn::record_failure(fleet, agent, &error);
            Err(error)
        }
    }
}

/// The system prompt of a root agent: its role definition and assignment, rendered from the
/// overlay template as for worktree agents, with the project root as its working directory.
pub fn system_prompt(
    config: &Config,
    request: &RootStart,
    role_definition: String,
) -> Result<String, overlay::OverlayError> {
    overlay::render(&OverlayConfig {
        agent: request.agent.clone(),
        capability: request.role,
        task: request.task.clone(),
        spec_path: None,
        branch: config.project.canonical_branch.clone(),
        worktree: config.project.root.clone(),
        parent: request.parent.clone(),
        depth: request.depth,
        file_scope: Vec::new(),
        quality_gates: config.quality_gates.clone(),
        role_definition,
        can_spawn: spawnable(request.role, request.depth, config.agents.max_depth),
        skip_review: false,
    })
}

/// Why a root agent could not be stopped or inspected.
#[derive(Debug, thiserror::Error)]
pub enum RootAgentError {
    /// No row of that name and role.
    #[error("no {role} named {agent} has been started (see `legio status`)")]
    NotStarted {
        /// The role.
        role: Capability,
        /// The name.
        agent: String,
    },
    /// The row belongs to an agent of another role.
    #[error("{agent} is a {actual}, not a {role}")]
    WrongRole {
        /// The name.
        agent: String,
        /// The role asked for.
        role: Capability,
        /// Its role.
        actual: Capability,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn find(
    sessions: &dyn SessionStore,
    role: Capability,
    agent: &AgentName,
) -> Result<AgentSession, RootAgentError> {
    let row = sessions
        .get(agent)?
        .ok_or_else(|| RootAgentError::NotStarted {
            role,
            agent: agent.to_string(),
        })?;
    if row.capability != role {
        return Err(RootAgentError::WrongRole {
            agent: agent.to_string(),
            role,
            actual: row.capability,
        });
    }
    Ok(row)
}

/// What stopping a root agent did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootStopped {
    /// The agent.
    #[serde(flatten)]
    pub stopped: Stopped,
    /// The run completed along with the coordinator, if any.
    pub run_completed: Option<String>,
}

/// Stops a root agent; the coordinator also completes the current run.
pub fn stop(
    ctx: &StopContext<'_>,
    role: Capability,
    agent: &AgentName,
) -> Result<RootStopped, RootAgentError> {
    let row = find(ctx.sessions, role, agent)?;
    let mut stopped = stop::stop_one(ctx, &row, &format!("stopped by `legio {role} stop`"));
    let mut run_completed = None;
    if role == Capability::Coordinator
        && let Some(run) = ctx.layout.read_current_run()
    {
        match ctx
            .sessions
            .finish_run(&run, RunStatus::Completed, ctx.clock.now())
        {
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                run_completed = Some(run);
                if let Err(e) = std::fs::remove_file(ctx.layout.current_run()) {
                    stopped
                        .problems
                        .push(format!("cannot remove current-run.txt: {e}"));
                }
            }
            Err(e) => stopped
                .problems
                .push(format!("the current run was not completed: {e}")),
        }
    }
    Ok(RootStopped {
        stopped,
        run_completed,
    })
}

/// A root agent as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootStatus {
    /// The agent.
    pub agent: String,
    /// Whether its session's process runs.
    pub running: bool,
    /// Its recorded state (`None`: never started).
    pub state: Option<AgentState>,
    /// Its session name.
    pub session: Option<String>,
    /// Its process id while it runs.
    pub pid: Option<u32>,
    /// How its process ended, when it has and that is known.
    pub exit_code: Option<i32>,
    /// When it started.
    pub started_at: Option<String>,
    /// Its last hook activity.
    pub last_activity: Option<String>,
    /// Where it works.
    pub cwd: Option<PathBuf>,
    /// Its row says active but its session is gone or exited (the watchdog acts on that; this
    /// command only reads).
    pub session_lost: bool,
}

/// The status of a root agent. Reads only: a lost session is reported, not recorded.
pub fn status(
    sessions: &dyn SessionStore,
    mux: &dyn Multiplexer,
    role: Capability,
    agent: &AgentName,
) -> Result<RootStatus, RootAgentError> {
    let row = match find(sessions, role, agent) {
        Ok(row) => row,
        Err(RootAgentError::NotStarted { .. }) => {
            return Ok(RootStatus {
                agent: agent.to_string(),
                running: false,
                state: None,
                session: None,
                pid: None,
                exit_code: None,
                started_at: None,
                last_activity: None,
                cwd: None,
                session_lost: false,
            });
        }
        Err(e) => return Err(e),
    };
    let live: Option<MuxSession> = mux.get(&row.tmux_session).ok().flatten();
    let running = live.as_ref().is_some_and(|s| s.running);
    Ok(RootStatus {
        agent: agent.to_string(),
        running,
        state: Some(row.state),
        session: Some(row.tmux_session.clone()),
        pid: live.as_ref().and_then(|s| s.pid),
        exit_code: live.as_ref().and_then(|s| s.exit_code),
        started_at: Some(row.started_at.to_string()),
        last_activity: Some(row.last_activity.to_string()),
        cwd: Some(PathBuf::from(&row.worktree_path)),
        session_lost: row.state.is_active() && !running,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::role_definition;

    #[test]
    fn every_root_role_gets_its_definition_and_assignment_as_system_prompt() {
        let mut config = Config::for_root("/work/shop");
        config.project.name = "shop".into();
        for role in Capability::ALL.iter().filter(|r| r.works_at_root()) {
            let supervisor = *role == Capability::Supervisor;
            let request = RootStart {
                role: *role,
                agent: AgentName::new(if supervisor {
                    "sup-auth"
                } else {
                    role.as_str()
                })
                .unwrap(),
                task: supervisor.then(|| TaskId::new("t-7").unwrap()),
                parent: supervisor.then(|| AgentName::new("coordinator").unwrap()),
                depth: u32::from(supervisor),
                model: None,
            };
            let text = system_prompt(&config, &request, role_definition(*role).to_owned()).unwrap();
            assert!(
                text.starts_with("<!-- legio: instructions for agent"),
                "{text}"
            );
            assert!(
                text.contains("**Working directory:** `/work/shop`"),
                "{role}"
            );
            insta::assert_snapshot!(format!("system_prompt_{role}"), text);
        }
    }
}
