//! `legio sling <task>`: put an agent to work on a task, in its own worktree and session.
//!
//! Checks first, with no side effect: the role works in a worktree; the task exists in the
//! tracker and is workable; a parent agent exists, is active and may spawn this role, and the
//! depth is its depth plus one; the spec file exists (a relative path is resolved against the
//! **project root**, where `legio spec write` puts specs, not the caller's directory); the file
//! scope is relative; the model is valid; the worktree path, the branch and the session name
//! are free; the runtime accepts the launch (Claude Code refuses to run as root without
//! `IS_SANDBOX=1`).
//!
//! Then the steps ([`Step`]), each undone if a later one fails: register the session row
//! (admission limits checked atomically by the store), create the worktree on branch
//! `legio/<agent>/<task>` from the canonical branch, write the overlay, install the hooks,
//! mark the task in progress, send the dispatch mail, start the session, deliver and confirm
//! the first prompt. Only then does the agent join the current run (created if there is none),
//! what recovery kept of an earlier agent of the same name (checkpoint, restart count) get
//! forgotten, and the `spawn` event get recorded; a failure there is a warning, since the
//! agent runs.

use std::path::{Component, Path, PathBuf};

use serde_json::json;

use crate::config::is_valid_model;
use crate::domain::agent::{AgentSession, Capability};
use crate::domain::agent::{Run, RunStatus};
use crate::domain::mail::{MailType, NewMail};
use crate::domain::task::{Task, TaskPatch, TaskStatus};
use crate::ids;
use crate::manifest::resolve_model;
use crate::names::{AgentName, TaskId};
use crate::ops::checkpoint::write_atomic;
use crate::ops::hook::ORCHESTRATOR;
use crate::ops::launch::{self, Delivered, Launch};
use crate::ops::settings;
use crate::ops::spawn::{self, Fleet, SpawnError, SpawnOptions, Step, StepFailure, Steps, at};
use crate::overlay::{self, OverlayConfig, spawnable};
use crate::ports::git::agent_branch;
use crate::ports::{BranchDisposal, LaunchContext, RemoveOptions, WorktreeSpec};

/// What to sling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlingRequest {
    /// The task.
    pub task: TaskId,
    /// The new agent's name.
    pub agent: AgentName,
    /// Its role.
    pub capability: Capability,
    /// A spec file (relative paths are relative to the project root).
    pub spec: Option<PathBuf>,
    /// The files it exclusively owns, relative to its worktree.
    pub files: Vec<String>,
    /// The agent spawning it; `None` for the human orchestrator.
    pub parent: Option<AgentName>,
    /// Its depth; defaults to the parent's depth plus one (0 without a parent).
    pub depth: Option<u32>,
    /// A model instead of the configured one.
    pub model: Option<String>,
    /// Tell it not to spawn a reviewer.
    pub skip_review: bool,
}

/// A slung agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slung {
    /// Its session row as registered (with its process id).
    pub session: AgentSession,
    /// Its worktree.
    pub worktree: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Its instructions file.
    pub overlay: PathBuf,
    /// Its settings file.
    pub settings: PathBuf,
    /// The dispatch mail's id.
    pub mail_id: String,
    /// The model it runs.
    pub model: String,
    /// How far its first prompt's delivery was confirmed.
    pub delivered: Delivered,
    /// The multiplexer it runs in (`tmux`, `headless`).
    pub multiplexer: &'static str,
    /// Things worth telling that did not stop it.
    pub warnings: Vec<String>,
}

/// Everything decided before the first side effect.
struct Prepared {
    task: Task,
    depth: u32,
    spec: Option<PathBuf>,
    model: String,
    role_definition: String,
    worktree: PathBuf,
    branch: String,
    session_name: String,
    run: RunChoice,
    context: LaunchContext,
    log_path: PathBuf,
    first_prompt: String,
    warnings: Vec<String>,
}

/// The run the agent joins once it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunChoice {
    /// The active run of `current-run.txt`.
    Current(String),
    /// A new run with this id.
    New(String),
}

impl RunChoice {
    fn id(&self) -> &str {
        match self {
            Self::Current(id) | Self::New(id) => id,
        }
    }
}

/// Slings an agent (see the module docs).
pub fn sling(
    fleet: &Fleet<'_>,
    runtime: &dyn crate::ports::AgentRuntime,
    request: &SlingRequest,
    options: &SpawnOptions,
) -> Result<Slung, SpawnError> {
    let prepared = prepare(fleet, runtime, request)?;
    if options.stagger {
        spawn::stagger(fleet);
    }
    let now = fleet.clock.now();
    let mut row = spawn::new_session(now, &request.agent, request.capability, runtime);
    row.worktree_path = prepared.worktree.display().to_string();
    row.branch_name.clone_from(&prepared.branch);
    row.bead_id = request.task.to_string();
    row.tmux_session.clone_from(&prepared.session_name);
    row.parent_agent.clone_from(&request.parent);
    row.depth = prepared.depth;
    row.run_id = Some(prepared.run.id().to_owned());
    row.terminal_log_path = Some(prepared.log_path.display().to_string());
    row.file_scope.clone_from(&request.files);
    row.spec_path = prepared.spec.as_ref().map(|p| p.display().to_string());

    let mut steps = Steps::new(&request.agent, options.fail_after);
    spawn::register(fleet, &mut steps, &row)?;
    match run_steps(fleet, runtime, request, options, &prepared, &mut steps) {
        Ok(done) => {
            steps.commit();
            let mut warnings = prepared.warnings;
            row.pid = done.pid;
            warnings.extend(join_run(fleet, &prepared.run));
            warnings.extend(spawn::forget_previous_life(fleet, &row));
            warnings.extend(spawn::record_spawn(
                fleet,
                &row,
                done.delivered,
                &prepared.model,
            ));
            Ok(Slung {
                session: row,
                worktree: prepared.worktree,
                branch: prepared.branch,
                overlay: done.overlay,
                settings: done.settings,
                mail_id: done.mail_id,
                model: prepared.model,
                delivered: done.delivered,
                multiplexer: fleet.mux.kind(),
                warnings,
            })
        }
        Err((step, failure)) => {
            let error = steps.abort(step, failure);
            spawn::record_failure(fleet, &request.agent, &error);
            Err(error)
        }
    }
}

fn refused(reason: impl Into<String>, hint: impl Into<Option<String>>) -> SpawnError {
    SpawnError::refused(reason, hint.into())
}

fn prepare(
    fleet: &Fleet<'_>,
    runtime: &dyn crate::ports::AgentRuntime,
    request: &SlingRequest,
) -> Result<Prepared, SpawnError> {
    let role = request.capability;
    let agent = &request.agent;
    if role.works_at_root() {
        return Err(refused(
            format!("a {role} works at the project root, not in a worktree"),
            format!("start it with `legio {role} start`"),
        ));
    }
    let task = check_task(fleet, &request.task)?;
    let depth = check_parent(fleet, request)?;
    let spec = request
        .spec
        .as_deref()
        .map(|p| resolve_spec(fleet.layout.root(), p))
        .transpose()?;
    for file in &request.files {
        check_scope_entry(file)?;
    }
    let model = match &request.model {
        Some(m) if is_valid_model(m) => m.clone(),
        Some(m) => {
            return Err(refused(
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

    let worktree = fleet.config.worktrees_dir().join(agent.as_str());
    let branch = agent_branch(agent, &request.task);
    if worktree.symlink_metadata().is_ok() {
        return Err(refused(
            format!(
                "{} already exists (left by an earlier agent named {agent})",
                worktree.display()
            ),
            "remove it with `legio worktree clean` (add --force for unmerged work), or pick another name".to_owned(),
        ));
    }
    match fleet.worktrees.branch_exists(&branch) {
        Ok(false) => {}
        Ok(true) => {
            return Err(refused(
                format!("branch {branch} already exists (left by an earlier agent)"),
                format!(
                    "merge or delete it (`git branch -D {branch}` if its work is not needed), or pick another name"
                ),
            ));
        }
        Err(e) => return Err(refused(e.to_string(), None)),
    }
    let session_name = (fleet.session_name)(agent);
    spawn::check_session_free(fleet, &session_name, agent)?;

    let run = match fleet.layout.read_current_run() {
        Some(id)
            if fleet
                .sessions
                .get_run(&id)
                .ok()
                .flatten()
                .is_some_and(|r| r.status == RunStatus::Active) =>
        {
            RunChoice::Current(id)
        }
        _ => RunChoice::New(ids::run_id(fleet.clock.now())),
    };

    let first_prompt = launch::first_prompt(
        agent,
        role,
        Some(request.task.as_str()),
        request.parent.as_ref(),
    );
    let context =
        spawn::launch_context(fleet, agent, role, &worktree, &model, None, Some(&worktree));
    let log_path = fleet.layout.agent_logs(agent).join("terminal.log");
    // Asked now so that a refusal (Claude Code as root) comes before anything is created.
    launch::plan(
        runtime,
        &Launch {
            context: context.clone(),
            session: &session_name,
            log_path: log_path.clone(),
            first_prompt: &first_prompt,
        },
    )
    .map_err(|e| refused(e.to_string(), None))?;
    Ok(Prepared {
        task,
        depth,
        spec,
        model,
        role_definition,
        worktree,
        branch,
        session_name,
        run,
        context,
        log_path,
        first_prompt,
        warnings: warning.into_iter().collect(),
    })
}

pub(crate) fn check_task(fleet: &Fleet<'_>, id: &TaskId) -> Result<Task, SpawnError> {
    let task = fleet
        .tasks
        .get(id)
        .map_err(|e| refused(e.to_string(), None))?
        .ok_or_else(|| {
            refused(
                format!("task {id} not found in the task tracker"),
                "create it with `legio task create \"<title>\" --id <id>`, or list tasks with `legio task list`".to_owned(),
            )
        })?;
    if !task.status.is_workable() {
        return Err(refused(
            format!(
                "task {id} is {}; only open or in-progress tasks can be worked on",
                task.status
            ),
            format!("reopen it with `legio task update {id} --status open`"),
        ));
    }
    Ok(task)
}

/// Checks the parent and returns the new agent's depth.
fn check_parent(fleet: &Fleet<'_>, request: &SlingRequest) -> Result<u32, SpawnError> {
    let Some(parent) = &request.parent else {
        return Ok(request.depth.unwrap_or(0));
    };
    let row = fleet
        .sessions
        .get(parent)
        .map_err(|e| refused(e.to_string(), None))?
        .ok_or_else(|| {
            refused(
                format!("parent agent {parent} not found"),
                "--parent names the agent that spawns this one (an agent passes its own name, $LEGIO_AGENT_NAME); leave it out when you spawn as the orchestrator".to_owned(),
            )
        })?;
    if row.state.is_terminal() {
        return Err(refused(
            format!(
                "parent agent {parent} is {}: a finished agent cannot own new agents",
                row.state
            ),
            None,
        ));
    }
    let allowed = row.capability.may_spawn();
    if !allowed.contains(&request.capability) {
        let what = if allowed.is_empty() {
            format!("a {} may not spawn agents", row.capability)
        } else {
            let names: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
            format!(
                "a {} may spawn {} but not a {}",
                row.capability,
                names.join(", "),
                request.capability
            )
        };
        return Err(refused(
            format!(
                "hierarchy violation: {parent} cannot spawn {}: {what}",
                request.agent
            ),
            "ask your own parent to spawn it, or choose one of the allowed roles".to_owned(),
        ));
    }
    let expected = row.depth + 1;
    match request.depth {
        Some(d) if d != expected => Err(refused(
            format!(
                "--depth {d} does not match the hierarchy: {parent} is at depth {}, so its children are at depth {expected}",
                row.depth
            ),
            "leave out --depth; legio derives it from the parent".to_owned(),
        )),
        _ => Ok(expected),
    }
}

/// Resolves a spec path against the project root and checks the file exists.
pub fn resolve_spec(root: &Path, spec: &Path) -> Result<PathBuf, SpawnError> {
    let path = if spec.is_absolute() {
        spec.to_path_buf()
    } else {
        root.join(spec)
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(refused(
            format!("spec file {} not found", path.display()),
            format!(
                "relative --spec paths are resolved against the project root ({}); write specs with `legio spec write <task>`",
                root.display()
            ),
        ))
    }
}

fn check_scope_entry(file: &str) -> Result<(), SpawnError> {
    let path = Path::new(file);
    let plain = !file.trim().is_empty()
        && !path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if plain {
        Ok(())
    } else {
        Err(refused(
            format!("--files entry {file:?} is not a path inside the worktree"),
            "give paths relative to the repository root, without '..' (e.g. src/auth/login.rs)"
                .to_owned(),
        ))
    }
}

struct Done {
    pid: Option<u32>,
    delivered: Delivered,
    overlay: PathBuf,
    settings: PathBuf,
    mail_id: String,
}

fn run_steps<'u>(
    fleet: &Fleet<'u>,
    runtime: &dyn crate::ports::AgentRuntime,
    request: &SlingRequest,
    options: &SpawnOptions,
    p: &Prepared,
    steps: &mut Steps<'u>,
) -> Result<Done, (Step, StepFailure)> {
    steps.done(Step::Register)?;
    let agent = &request.agent;
    let canonical = fleet.config.project.canonical_branch.clone();

    fleet
        .worktrees
        .create(&WorktreeSpec {
            path: p.worktree.clone(),
            branch: p.branch.clone(),
            base: canonical.clone(),
            reuse_branch: false,
        })
        .map_err(|e| {
            (
                Step::Worktree,
                StepFailure::new(e).hint(format!(
                    "agents branch from project.canonicalBranch ({canonical}); check it exists"
                )),
            )
        })?;
    let worktrees = fleet.worktrees;
    let path = p.worktree.clone();
    steps.undo(
        format!("worktree {} and branch {}", p.worktree.display(), p.branch),
        move || {
            worktrees
                .remove(
                    &path,
                    &RemoveOptions {
                        force_dirty: true,
                        branch: BranchDisposal::Force,
                        merge_target: canonical,
                    },
                )
                .map(drop)
                .map_err(|e| e.to_string())
        },
    );
    steps.done(Step::Worktree)?;

    let text = overlay::render(&OverlayConfig {
        agent: agent.clone(),
        capability: request.capability,
        task: Some(request.task.clone()),
        spec_path: p.spec.clone(),
        branch: p.branch.clone(),
        worktree: p.worktree.clone(),
        parent: request.parent.clone(),
        depth: p.depth,
        file_scope: request.files.clone(),
        quality_gates: fleet.config.quality_gates.clone(),
        role_definition: p.role_definition.clone(),
        can_spawn: spawnable(request.capability, p.depth, fleet.config.agents.max_depth),
        skip_review: request.skip_review,
    })
    .map_err(at(Step::Overlay))?;
    let overlay_path =
        overlay::write(&p.worktree, fleet.layout.root(), &text).map_err(at(Step::Overlay))?;
    steps.done(Step::Overlay)?;

    let settings_path = p.worktree.join(".claude").join("settings.local.json");
    install_agent_hooks(&settings_path, &fleet.host.legio_bin).map_err(at(Step::Hooks))?;
    steps.done(Step::Hooks)?;

    claim_task(fleet, steps, agent, &p.task)?;
    steps.done(Step::Task)?;

    let mail_id = send_dispatch(fleet, steps, request, p)?;
    steps.done(Step::Mail)?;

    let launch_spec = Launch {
        context: p.context.clone(),
        session: &p.session_name,
        log_path: p.log_path.clone(),
        first_prompt: &p.first_prompt,
    };
    let started = spawn::start_and_prompt(fleet, steps, runtime, options, &launch_spec)?;
    Ok(Done {
        pid: started.pid,
        delivered: started.delivered,
        overlay: overlay_path,
        settings: settings_path,
        mail_id,
    })
}

/// Writes legio's hooks into an agent's `.claude/settings.local.json`, keeping whatever the
/// repository already has there.
pub fn install_agent_hooks(path: &Path, legio_bin: &Path) -> Result<(), String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let text = settings::install(
        &path.display().to_string(),
        &existing,
        &settings::legio_hooks(legio_bin, None),
    )
    .map_err(|e| e.to_string())?;
    write_atomic(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Marks the task in progress with the agent as assignee (unless an active agent already is
/// its assignee), and records how to restore it.
fn claim_task<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    agent: &AgentName,
    task: &Task,
) -> Result<(), (Step, StepFailure)> {
    let assignee_active = task.assignee.as_deref().is_some_and(|a| {
        AgentName::new(a).ok().is_some_and(|name| {
            name != *agent
                && fleet
                    .sessions
                    .get(&name)
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.state.is_active())
        })
    });
    let patch = TaskPatch {
        status: (task.status != TaskStatus::InProgress).then_some(TaskStatus::InProgress),
        assignee: (!assignee_active).then(|| Some(agent.to_string())),
        ..TaskPatch::default()
    };
    if patch.status.is_none() && patch.assignee.as_ref() == Some(&task.assignee) {
        return Ok(());
    }
    let now = fleet.clock.now();
    fleet
        .tasks
        .update(&task.id, &patch, now)
        .map_err(at(Step::Task))?;
    let tasks = fleet.tasks;
    let clock = fleet.clock;
    let restore = TaskPatch {
        status: Some(task.status),
        assignee: Some(task.assignee.clone()),
        ..TaskPatch::default()
    };
    let id = task.id.clone();
    steps.undo(format!("task {id} status and assignee"), move || {
        tasks
            .update(&id, &restore, clock.now())
            .map(drop)
            .map_err(|e| e.to_string())
    });
    Ok(())
}

fn send_dispatch<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    request: &SlingRequest,
    p: &Prepared,
) -> Result<String, (Step, StepFailure)> {
    let from = request
        .parent
        .as_ref()
        .map_or(ORCHESTRATOR, AgentName::as_str);
    let spec = p
        .spec
        .as_ref()
        .map_or_else(|| "none".to_owned(), |s| s.display().to_string());
    let mut mail = NewMail::new(
        from,
        request.agent.as_str(),
        MailType::Dispatch,
        format!("dispatch: {}", request.task),
        format!(
            "Assigned task {}: {}. Spec: {spec}. Branch: {}. Begin immediately.",
            request.task, p.task.title, p.branch
        ),
    );
    mail.payload = Some(
        json!({
            "beadId": request.task,
            "specPath": p.spec,
            "capability": request.capability,
            "fileScope": request.files,
        })
        .to_string(),
    );
    let sent = fleet
        .mail
        .send(&mail, fleet.clock.now())
        .map_err(at(Step::Mail))?;
    let store = fleet.mail;
    let id = sent.id.clone();
    steps.undo(format!("dispatch mail {id}"), move || {
        store.delete(&id).map(drop).map_err(|e| e.to_string())
    });
    Ok(sent.id)
}

/// Adds the agent to its run: the current one, or a new one that becomes current. Returns a
/// warning when the bookkeeping fails (the agent runs regardless).
fn join_run(fleet: &Fleet<'_>, run: &RunChoice) -> Option<String> {
    let result = match run {
        RunChoice::Current(id) => fleet.sessions.increment_run_agents(id),
        RunChoice::New(id) => {
            let created = fleet.sessions.create_run(&Run {
                id: id.clone(),
                started_at: fleet.clock.now(),
                completed_at: None,
                agent_count: 1,
                coordinator_session_id: None,
                status: RunStatus::Active,
            });
            match created {
                // Another sling created the same run in the same millisecond: join it.
                Err(crate::ports::StoreError::Conflict(_)) => {
                    fleet.sessions.increment_run_agents(id)
                }
                other => other,
            }
            .and_then(|()| {
                set_current_run_if_none(fleet.layout, id).map_err(|e| {
                    crate::ports::StoreError::Invalid(format!(
                        "cannot write {}: {e}",
                        fleet.layout.current_run().display()
                    ))
                })
            })
        }
    };
    result.err().map(|e| {
        format!(
            "the agent runs, but its run {} was not updated: {e}",
            run.id()
        )
    })
}

/// Makes `id` the current run unless another run became current meanwhile.
fn set_current_run_if_none(layout: &crate::layout::Layout, id: &str) -> std::io::Result<()> {
    let path = layout.current_run();
    if layout.read_current_run().is_some() {
        return Ok(());
    }
    // An empty file means "no run": replace it, but let a concurrent writer win the race.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => std::io::Write::write_all(&mut f, id.as_bytes()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_specs_resolve_against_the_project_root() {
        let tmp = tempfile::tempdir().unwrap();
        let specs = tmp.path().join(".legio/specs");
        std::fs::create_dir_all(&specs).unwrap();
        std::fs::write(specs.join("t-1.md"), "# spec").unwrap();
        let got = resolve_spec(tmp.path(), Path::new(".legio/specs/t-1.md")).unwrap();
        assert_eq!(got, specs.join("t-1.md"));
        let err = resolve_spec(tmp.path(), Path::new("missing.md")).unwrap_err();
        assert!(err.to_string().contains("missing.md"), "{err}");
        assert!(err.hint().unwrap().contains("project root"));
    }

    #[test]
    fn file_scope_entries_stay_inside_the_worktree() {
        assert!(check_scope_entry("src/a.rs").is_ok());
        assert!(check_scope_entry("./src/a.rs").is_ok());
        for bad in ["", "/etc/passwd", "../x", "src/../../x"] {
            assert!(check_scope_entry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_first_run_file_is_written_once() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = crate::layout::Layout::new(tmp.path());
        std::fs::create_dir_all(layout.legio_dir()).unwrap();
        std::fs::write(layout.current_run(), "").unwrap();
        set_current_run_if_none(&layout, "run-a").unwrap();
        set_current_run_if_none(&layout, "run-b").unwrap();
        assert_eq!(layout.read_current_run().as_deref(), Some("run-a"));
    }
}
