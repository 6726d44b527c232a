//! Restarting a dead agent **in its existing worktree, on its existing branch**, so the work it
//! committed (and any it left uncommitted) is kept. The watchdog's recovery calls it; legio
//! 0.1.0 re-ran `sling`, which tried to create both anew and failed.
//!
//! Checks first, with no side effect: the agent's row is still the dead (zombie) row the caller
//! saw, so two watchdogs never restart it twice; its worktree is a linked worktree of the
//! repository with the agent's branch checked out and its instructions (`.claude/CLAUDE.md`)
//! in place (an agent working at the project root, such as the coordinator, gets its
//! instructions as its system prompt again, as `legio <role> start` gives them); its session
//! name is free; the runtime accepts the launch.
//!
//! Then the steps of a spawn that apply ([`Step::Register`], [`Step::Hooks`],
//! [`Step::Session`], [`Step::Prompt`]), each undone if a later one fails: the row is registered
//! again as `booting` with a fresh session id and start time and the same role, task, parent,
//! depth, file scope, run and runtime (the undo puts the dead row back); legio's hooks are
//! written again into the worktree's settings (the binary may have moved; the undo restores
//! the file), or claimed again in the shared root settings for a root agent; the session is
//! started and the given prompt delivered and confirmed as `sling` does
//! ([`launch`]). The worktree, branch, task, mail and checkpoint are left
//! as they are.

use std::path::{Path, PathBuf};

use crate::config::is_valid_model;
use crate::domain::agent::{AgentSession, AgentState};
use crate::ids;
use crate::manifest::resolve_model;
use crate::names::{AgentName, TaskId};
use crate::ops::checkpoint::write_atomic;
use crate::ops::launch::{self, Delivered, Launch};
use crate::ops::root_agent::{self, RootStart};
use crate::ops::root_hooks;
use crate::ops::sling::install_agent_hooks;
use crate::ops::spawn::{self, Fleet, SpawnError, SpawnOptions, Step, StepFailure, Steps};
use crate::ports::{AgentRuntime, LaunchContext};

/// A restarted agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respawned {
    /// Its new session row (state `booting` when registered, with its new process id).
    pub session: AgentSession,
    /// How far its first prompt's delivery was confirmed.
    pub delivered: Delivered,
    /// The multiplexer it runs in (`tmux`, `headless`).
    pub multiplexer: &'static str,
    /// Things worth telling that did not stop it.
    pub warnings: Vec<String>,
}

/// What to restart, and how.
#[derive(Debug, Clone, Copy)]
pub struct Restart<'a> {
    /// The dead agent's (zombie) row.
    pub dead: &'a AgentSession,
    /// Its first prompt.
    pub prompt: &'a str,
    /// The model it ran (its `spawn` event says), when known and valid; else the role's
    /// configured model.
    pub model: Option<&'a str>,
}

/// Starts the agent of `restart.dead` again in its worktree with `restart.prompt` as its first
/// prompt (see the module docs).
pub fn respawn(
    fleet: &Fleet<'_>,
    runtime: &dyn AgentRuntime,
    restart: &Restart<'_>,
    options: &SpawnOptions,
) -> Result<Respawned, SpawnError> {
    let (dead, prompt) = (restart.dead, restart.prompt);
    let model = match restart.model {
        Some(m) if is_valid_model(m) => m,
        _ => resolve_model(fleet.config, fleet.manifest, dead.capability),
    };
    let prepared = prepare(fleet, runtime, dead, prompt, model)?;
    let agent = &dead.agent_name;
    let mut row = revived(dead, fleet.clock.now(), runtime);
    let mut steps = Steps::new(agent, options.fail_after);
    spawn::register(fleet, &mut steps, &row)?;
    let launch_spec = Launch {
        context: prepared.context,
        session: &dead.tmux_session,
        log_path: prepared.log_path,
        first_prompt: prompt,
    };
    let result = (|| {
        steps.done(Step::Register)?;
        match &prepared.worktree {
            Some(worktree) => reinstall_hooks(fleet, &mut steps, worktree)?,
            None => reclaim_root_hooks(fleet, &mut steps, agent)?,
        }
        steps.done(Step::Hooks)?;
        spawn::start_and_prompt(fleet, &mut steps, runtime, options, &launch_spec)
    })();
    match result {
        Ok(started) => {
            steps.commit();
            row.pid = started.pid;
            let warnings = spawn::record_spawn(fleet, &row, started.delivered, model)
                .into_iter()
                .collect();
            Ok(Respawned {
                session: row,
                delivered: started.delivered,
                multiplexer: fleet.mux.kind(),
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

/// The row of the restarted agent: the dead one's identity and assignment, a fresh session.
fn revived(
    dead: &AgentSession,
    now: crate::time::Timestamp,
    runtime: &dyn AgentRuntime,
) -> AgentSession {
    AgentSession {
        id: ids::session_id(now, &dead.agent_name),
        state: AgentState::Booting,
        pid: None,
        started_at: now,
        last_activity: now,
        escalation_level: 0,
        stalled_since: None,
        runtime: runtime.name().to_owned(),
        ..dead.clone()
    }
}

/// Everything decided before the first side effect.
struct Prepared {
    /// The agent's own worktree; `None` for an agent working at the project root.
    worktree: Option<PathBuf>,
    context: LaunchContext,
    log_path: PathBuf,
}

fn refused(reason: impl Into<String>, hint: impl Into<Option<String>>) -> SpawnError {
    SpawnError::refused(reason, hint.into())
}

fn prepare(
    fleet: &Fleet<'_>,
    runtime: &dyn AgentRuntime,
    dead: &AgentSession,
    prompt: &str,
    model: &str,
) -> Result<Prepared, SpawnError> {
    let agent = &dead.agent_name;
    let role = dead.capability;
    let current = fleet
        .sessions
        .get(agent)
        .map_err(|e| refused(e.to_string(), None))?;
    match current {
        Some(row) if row.id == dead.id && row.state == AgentState::Zombie => {}
        Some(row) if row.id == dead.id => {
            return Err(refused(
                format!(
                    "{agent} is {}, not dead: only a zombie is restarted",
                    row.state
                ),
                None,
            ));
        }
        Some(_) => {
            return Err(refused(
                format!("{agent} was started again by someone else meanwhile"),
                None,
            ));
        }
        None => {
            return Err(refused(
                format!("{agent} is no longer registered (its row was removed)"),
                None,
            ));
        }
    }
    let (worktree, context) = if role.works_at_root() {
        let root = fleet.layout.root();
        if !same_path(Path::new(&dead.worktree_path), root) {
            return Err(refused(
                format!(
                    "{agent} is a {role}, which works at the project root, but its row names {}",
                    dead.worktree_path
                ),
                format!("start it again with `legio {role} start`"),
            ));
        }
        let system_prompt = root_system_prompt(fleet, dead)?;
        let context =
            spawn::launch_context(fleet, agent, role, root, model, Some(system_prompt), None);
        (None, context)
    } else {
        let worktree = check_worktree(fleet, dead)?;
        let context =
            spawn::launch_context(fleet, agent, role, &worktree, model, None, Some(&worktree));
        (Some(worktree), context)
    };
    spawn::check_session_free(fleet, &dead.tmux_session, agent)?;
    let log_path = dead.terminal_log_path.as_ref().map_or_else(
        || fleet.layout.agent_logs(agent).join("terminal.log"),
        PathBuf::from,
    );
    // Asked now so that a refusal (Claude Code as root) comes before anything is changed.
    launch::plan(
        runtime,
        &Launch {
            context: context.clone(),
            session: &dead.tmux_session,
            log_path: log_path.clone(),
            first_prompt: prompt,
        },
    )
    .map_err(|e| refused(e.to_string(), None))?;
    Ok(Prepared {
        worktree,
        context,
        log_path,
    })
}

/// A root agent's system prompt, rendered as `legio <role> start` renders it.
fn root_system_prompt(fleet: &Fleet<'_>, dead: &AgentSession) -> Result<String, SpawnError> {
    let role = dead.capability;
    let task = if dead.bead_id.is_empty() {
        None
    } else {
        Some(TaskId::new(&dead.bead_id).map_err(|e| {
            refused(
                format!(
                    "{}'s task {:?} is not a valid task id: {e}",
                    dead.agent_name, dead.bead_id
                ),
                None,
            )
        })?)
    };
    let (definition, _) = spawn::role_definition(fleet.config, fleet.manifest, role)?;
    let start = RootStart {
        role,
        agent: dead.agent_name.clone(),
        task,
        parent: dead.parent_agent.clone(),
        depth: dead.depth,
        model: None,
    };
    root_agent::system_prompt(fleet.config, &start, definition)
        .map_err(|e| refused(e.to_string(), None))
}

/// The dead agent's worktree, checked: a linked worktree of the repository, on the agent's
/// branch, with its instructions.
fn check_worktree(fleet: &Fleet<'_>, dead: &AgentSession) -> Result<PathBuf, SpawnError> {
    let agent = &dead.agent_name;
    let path = PathBuf::from(&dead.worktree_path);
    let branch = &dead.branch_name;
    let keep_hint = || {
        format!(
            "its committed work is on branch {branch}: start a new agent for the task, or clean up with `legio worktree clean`"
        )
    };
    if !path.is_dir() {
        return Err(refused(
            format!("{agent}'s worktree {} no longer exists", path.display()),
            keep_hint(),
        ));
    }
    let listed = fleet
        .worktrees
        .list()
        .map_err(|e| refused(e.to_string(), None))?;
    let Some(found) = listed.iter().find(|w| same_path(&w.path, &path)) else {
        return Err(refused(
            format!(
                "{} is not a worktree of this repository (`git worktree list` does not show it)",
                path.display()
            ),
            keep_hint(),
        ));
    };
    if found.branch != *branch {
        let now_on = if found.branch.is_empty() {
            "a detached HEAD".to_owned()
        } else {
            format!("branch {}", found.branch)
        };
        return Err(refused(
            format!(
                "{agent}'s worktree {} is on {now_on}, not on its branch {branch}",
                path.display()
            ),
            format!(
                "check out {branch} there (`git -C {} switch {branch}`) and let the watchdog try again, or clean up with `legio worktree clean`",
                path.display()
            ),
        ));
    }
    let overlay = path.join(".claude").join("CLAUDE.md");
    if !overlay.is_file() {
        return Err(refused(
            format!(
                "{agent}'s instructions {} are missing, so a restarted agent would not know its task",
                overlay.display()
            ),
            keep_hint(),
        ));
    }
    Ok(path)
}

/// Whether two paths name the same directory (symlinks and `..` resolved when possible).
fn same_path(a: &Path, b: &Path) -> bool {
    a == b
        || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// Writes legio's hooks into the worktree's settings again, recording how to put the file back.
fn reinstall_hooks<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    worktree: &Path,
) -> Result<(), (Step, StepFailure)> {
    let path = worktree.join(".claude").join("settings.local.json");
    let before = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err((
                Step::Hooks,
                StepFailure::new(format!("cannot read {}: {e}", path.display())),
            ));
        }
    };
    install_agent_hooks(&path, &fleet.host.legio_bin)
        .map_err(|e| (Step::Hooks, StepFailure::new(e)))?;
    if before.is_some() || path.exists() {
        let what = format!("legio's hooks in {}", path.display());
        steps.undo(what, move || match before {
            Some(text) => write_atomic(&path, &text).map_err(|e| e.to_string()),
            None => std::fs::remove_file(&path).map_err(|e| e.to_string()),
        });
    }
    Ok(())
}

/// Claims legio's hooks in the shared root settings for a root agent again (its claim usually
/// survives its death); the undo releases only a claim this step added.
fn reclaim_root_hooks<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    agent: &AgentName,
) -> Result<(), (Step, StepFailure)> {
    let layout = fleet.layout;
    let failed = |e: root_hooks::RootHooksError| (Step::Hooks, StepFailure::new(e));
    let held = root_hooks::status(layout)
        .map_err(failed)?
        .claimants
        .iter()
        .any(|c| c == agent.as_str());
    root_hooks::claim(layout, &fleet.host.legio_bin, agent.as_str()).map_err(failed)?;
    if !held {
        let who = agent.to_string();
        steps.undo(format!("{who}'s hooks in the root settings"), move || {
            root_hooks::release(layout, &who, false)
                .map(drop)
                .map_err(|e| e.to_string())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::agent::Capability;
    use crate::ports::{LaunchPlan, OneShot, Readiness, RuntimeError};
    use crate::time::Timestamp;

    struct Script;

    impl AgentRuntime for Script {
        fn name(&self) -> &'static str {
            "script"
        }
        fn launch_plan(&self, _: &LaunchContext, _: &str) -> Result<LaunchPlan, RuntimeError> {
            unreachable!("not used")
        }
        fn readiness(&self, _: &str) -> Readiness {
            Readiness::Ready
        }
        fn one_shot(&self, _: &OneShot) -> Result<String, RuntimeError> {
            unreachable!("not used")
        }
    }

    #[test]
    fn the_revived_row_keeps_the_assignment_and_starts_a_fresh_session() {
        let agent = AgentName::new("b1").unwrap();
        let then = Timestamp::from_millis(1_000);
        let dead = AgentSession {
            id: ids::session_id(then, &agent),
            agent_name: agent.clone(),
            capability: Capability::Builder,
            worktree_path: "/p/.legio/worktrees/b1".into(),
            branch_name: "legio/b1/t-1".into(),
            bead_id: "t-1".into(),
            tmux_session: "legio-p-b1".into(),
            state: AgentState::Zombie,
            pid: Some(41),
            parent_agent: Some(AgentName::new("lead-1").unwrap()),
            depth: 2,
            run_id: Some("run-1".into()),
            started_at: then,
            last_activity: then.plus_millis(500),
            escalation_level: 4,
            stalled_since: Some(then.plus_millis(600)),
            terminal_log_path: Some("/p/.legio/logs/b1/terminal.log".into()),
            runtime: "script".into(),
            file_scope: vec!["src/a.rs".into()],
            spec_path: Some("/p/.legio/specs/t-1.md".into()),
        };
        let now = Timestamp::from_millis(9_000);
        let row = revived(&dead, now, &Script);
        assert_eq!(
            row,
            AgentSession {
                id: "session-9000-b1".into(),
                state: AgentState::Booting,
                pid: None,
                started_at: now,
                last_activity: now,
                escalation_level: 0,
                stalled_since: None,
                ..dead.clone()
            }
        );
    }

    #[test]
    fn paths_are_compared_after_resolving_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wt");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(same_path(&dir, &tmp.path().join("wt/../wt")));
        assert!(!same_path(&dir, tmp.path()));
        assert!(!same_path(&dir, &tmp.path().join("missing")));
    }
}
