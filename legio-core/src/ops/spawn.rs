//! What `legio sling` and a root agent's `start` share: the ports they act through
//! ([`Fleet`]), their steps and the failpoint seam ([`Step`], [`SpawnOptions`]), their errors
//! ([`SpawnError`]), and the steps common to both (register, launch, first prompt).
//!
//! A spawn is a sequence of steps. Each step that creates something records how to remove it
//! ([`Undo`]); when a later step fails, everything is removed again, newest first, and the
//! error says which step failed and whether the cleanup was complete. Checks that need no
//! side effect (names, the task, the parent, paths, the runtime's plan) all run first, so most
//! mistakes are refused before anything exists.
//!
//! [`SpawnOptions::fail_after`] is a **test-only** seam: it makes the spawn fail right after
//! the named step, so tests can prove that a failure at any point leaves nothing behind. The
//! CLI sets it only from `LEGIO_FAILPOINT=sling:<step>` (or `start:<step>`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::domain::agent::{AgentSession, AgentState, Capability};
use crate::domain::event::{EventLevel, EventType, NewEvent};
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::names::AgentName;
use crate::ops::launch::{
    self, AgentHost, Delivered, DeliveryOptions, Launch, PromptCheck, Target,
};
use crate::ops::undo::{RollbackReport, Undo};
use crate::ports::{
    Admission, AdmissionDenied, AdmissionLimits, AgentRuntime, EventStore, LaunchContext,
    MailStore, Multiplexer, SessionStore, TaskStore, Worktrees,
};
use crate::time::{Clock, Timestamp};

/// The ports and project data a spawn acts through.
pub struct Fleet<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Its configuration.
    pub config: &'a Config,
    /// Its agent manifest, when it has one.
    pub manifest: Option<&'a Manifest>,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `mail.db`.
    pub mail: &'a dyn MailStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// `tasks.db`.
    pub tasks: &'a dyn TaskStore,
    /// The repository's worktrees.
    pub worktrees: &'a dyn Worktrees,
    /// Where agents run.
    pub mux: &'a dyn Multiplexer,
    /// The process launching agents.
    pub host: &'a AgentHost,
    /// The multiplexer session name of an agent.
    pub session_name: &'a dyn Fn(&AgentName) -> String,
}

impl fmt::Debug for Fleet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("root", &self.layout.root())
            .field("mux", &self.mux.kind())
            .finish_non_exhaustive()
    }
}

macro_rules! steps {
    ($($(#[$doc:meta])* $variant:ident => $text:literal),+ $(,)?) => {
        /// A step of a spawn, in the order they run.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Step { $($(#[$doc])* $variant),+ }

        impl Step {
            /// Every step, in order.
            pub const ALL: &'static [Step] = &[$(Step::$variant),+];

            /// The step's name (as in `LEGIO_FAILPOINT=sling:<name>`).
            pub const fn as_str(self) -> &'static str {
                match self { $(Step::$variant => $text),+ }
            }
        }
    };
}

steps! {
    /// The session row is registered (admission limits checked atomically).
    Register => "register",
    /// The worktree and its branch are created.
    Worktree => "worktree",
    /// The instructions (`.claude/CLAUDE.md`) are written.
    Overlay => "overlay",
    /// The hooks (`.claude/settings.local.json`) are installed.
    Hooks => "hooks",
    /// The task is marked in progress.
    Task => "task",
    /// The dispatch mail is sent.
    Mail => "mail",
    /// The agent's process is started in its session.
    Session => "session",
    /// The first prompt is delivered and confirmed.
    Prompt => "prompt",
}

impl Step {
    /// The step named `name`.
    pub fn parse(name: &str) -> Option<Step> {
        Self::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// Every step's name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a spawn behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnOptions {
    /// What counts as the first prompt being delivered.
    pub check: PromptCheck,
    /// Timing of the delivery checks.
    pub delivery: DeliveryOptions,
    /// Test-only: fail right after this step (see the module docs).
    pub fail_after: Option<Step>,
    /// Wait `agents.staggerDelayMs` after the newest spawn (off for root agents).
    pub stagger: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            check: PromptCheck::Hook,
            delivery: DeliveryOptions::default(),
            fail_after: None,
            stagger: true,
        }
    }
}

/// Why a step failed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// What went wrong.
    pub reason: String,
    /// What to do, when there is more to say.
    pub hint: Option<String>,
}

impl StepFailure {
    /// A failure with no hint.
    pub fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
            hint: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Why a spawn did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Refused before anything was created.
    #[error("{reason}")]
    Refused {
        /// Why.
        reason: String,
        /// What to do.
        hint: Option<String>,
    },
    /// A limit refused the agent; nothing was created.
    #[error("{0}")]
    Denied(AdmissionDenied),
    /// A step failed after others had run; they were undone (see `rollback`).
    #[error("{}", failed_message(agent, *step, reason, rollback))]
    Failed {
        /// The agent.
        agent: String,
        /// The step that failed.
        step: Step,
        /// Why.
        reason: String,
        /// What to do.
        hint: Option<String>,
        /// What was undone, and what could not be.
        rollback: RollbackReport,
    },
}

fn failed_message(agent: &str, step: Step, reason: &str, rollback: &RollbackReport) -> String {
    let mut s = format!("starting {agent} failed at step {step}: {reason}");
    if rollback.is_clean() {
        s.push_str("\neverything it had created was removed again");
    } else {
        s.push_str("\nthese could not be removed; remove them by hand:");
        for f in &rollback.failed {
            s.push_str("\n  - ");
            s.push_str(f);
        }
    }
    s
}

impl SpawnError {
    /// A refusal before anything was done.
    pub fn refused(reason: impl Into<String>, hint: Option<String>) -> Self {
        Self::Refused {
            reason: reason.into(),
            hint,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Refused { hint, .. } | Self::Failed { hint, .. } => hint.clone(),
            Self::Denied(_) => None,
        }
    }
}

/// The steps of one spawn in progress: what to undo, and the failpoint.
pub(crate) struct Steps<'u> {
    agent: String,
    undo: Undo<'u>,
    fail_after: Option<Step>,
}

impl<'u> Steps<'u> {
    pub(crate) fn new(agent: &AgentName, fail_after: Option<Step>) -> Self {
        Self {
            agent: agent.to_string(),
            undo: Undo::new(),
            fail_after,
        }
    }

    /// Records how to remove what a step created.
    pub(crate) fn undo(
        &mut self,
        what: impl Into<String>,
        action: impl FnOnce() -> Result<(), String> + 'u,
    ) {
        self.undo.push(what, action);
    }

    /// A step is done; the failpoint may fail it now.
    pub(crate) fn done(&self, step: Step) -> Result<(), (Step, StepFailure)> {
        if self.fail_after == Some(step) {
            return Err((
                step,
                StepFailure::new(format!(
                    "failure injected after step {step} (LEGIO_FAILPOINT, for tests)"
                )),
            ));
        }
        Ok(())
    }

    /// Undoes everything and describes the failure.
    pub(crate) fn abort(self, step: Step, failure: StepFailure) -> SpawnError {
        let rollback = self.undo.rollback();
        SpawnError::Failed {
            agent: self.agent,
            step,
            reason: failure.reason,
            hint: failure.hint,
            rollback,
        }
    }

    /// The spawn succeeded: nothing is undone.
    pub(crate) fn commit(self) {
        self.undo.commit();
    }
}

/// Turns a step's error into a `(step, failure)` pair.
pub(crate) fn at<E: fmt::Display>(step: Step) -> impl FnOnce(E) -> (Step, StepFailure) {
    move |e| (step, StepFailure::new(e))
}

/// The limits `register` checks, from the config.
pub fn limits(config: &Config) -> AdmissionLimits {
    AdmissionLimits {
        max_concurrent: config.agents.max_concurrent,
        max_agents_per_lead: config.agents.max_agents_per_lead,
        max_depth: config.agents.max_depth,
    }
}

/// Waits until `agents.staggerDelayMs` has passed since the newest active agent started.
pub(crate) fn stagger(fleet: &Fleet<'_>) {
    let delay = fleet.config.agents.stagger_delay;
    if delay.is_zero() {
        return;
    }
    let Ok(active) = fleet.sessions.list_active() else {
        return;
    };
    let Some(newest) = active.iter().map(|s| s.started_at).max() else {
        return;
    };
    let since = fleet.clock.now().millis_since(newest);
    let wait = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX) - since;
    if wait > 0 {
        std::thread::sleep(std::time::Duration::from_millis(wait as u64));
    }
}

/// The text of `role`'s definition: the project's copy (`agents.baseDir`), or the built-in
/// one with a warning when the project's is missing.
pub fn role_definition(
    config: &Config,
    manifest: Option<&Manifest>,
    role: Capability,
) -> Result<(String, Option<String>), SpawnError> {
    let file = manifest.and_then(|m| m.get(role)).map_or_else(
        || crate::assets::role_file_name(role).to_owned(),
        |d| d.file.clone(),
    );
    let path = config.agent_defs_dir().join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text, None)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
            crate::assets::role_definition(role).to_owned(),
            Some(format!(
                "{} is missing; using the built-in {role} definition (`legio init --force` restores the file)",
                path.display()
            )),
        )),
        Err(e) => Err(SpawnError::refused(
            format!("cannot read the {role} definition {}: {e}", path.display()),
            None,
        )),
    }
}

/// Refuses a spawn whose session name is still taken by an earlier agent's session.
pub(crate) fn check_session_free(
    fleet: &Fleet<'_>,
    name: &str,
    agent: &AgentName,
) -> Result<(), SpawnError> {
    let sessions = fleet.mux.list().map_err(|e| {
        SpawnError::refused(
            format!("cannot list the {} sessions: {e}", fleet.mux.kind()),
            None,
        )
    })?;
    if let Some(s) = sessions.iter().find(|s| s.name == name) {
        return Err(SpawnError::refused(
            format!(
                "the session {name} of an earlier agent named {agent} still exists ({})",
                if s.running { "running" } else { "exited" }
            ),
            Some(format!(
                "end it with `legio stop --agent {agent}`, or pick another name"
            )),
        ));
    }
    Ok(())
}

/// Registers `session` (state booting) under the admission limits, and records its undo:
/// remove the row, or put back the finished agent of the same name it replaced.
pub(crate) fn register<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    session: &AgentSession,
) -> Result<(), SpawnError> {
    let previous = fleet
        .sessions
        .get(&session.agent_name)
        .map_err(|e| SpawnError::refused(e.to_string(), None))?
        .filter(|s| s.state.is_terminal());
    match fleet.sessions.register(session, &limits(fleet.config)) {
        Ok(Admission::Admitted) => {}
        Ok(Admission::Denied(denied)) => return Err(SpawnError::Denied(denied)),
        Err(e) => return Err(SpawnError::refused(e.to_string(), None)),
    }
    let sessions = fleet.sessions;
    let agent = session.agent_name.clone();
    steps.undo(format!("session row of {agent}"), move || {
        match previous {
            Some(row) => sessions.upsert(&row),
            None => sessions.remove(&agent).map(drop),
        }
        .map_err(|e| e.to_string())
    });
    Ok(())
}

/// Removes a directory this spawn created (logs, the agent's state directory), on undo.
pub(crate) fn undo_new_dir(steps: &mut Steps<'_>, dir: PathBuf) {
    if dir.exists() {
        return;
    }
    steps.undo(
        format!("directory {}", dir.display()),
        move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.to_string()),
        },
    );
}

/// What a launched agent's session is.
pub(crate) struct Started {
    pub pid: Option<u32>,
    pub delivered: Delivered,
}

/// Starts the agent's process (step `session`) and delivers its first prompt (step `prompt`).
pub(crate) fn start_and_prompt<'u>(
    fleet: &Fleet<'u>,
    steps: &mut Steps<'u>,
    runtime: &dyn AgentRuntime,
    options: &SpawnOptions,
    launch_spec: &Launch<'_>,
) -> Result<Started, (Step, StepFailure)> {
    let agent = launch_spec.context.agent.clone();
    undo_new_dir(steps, fleet.layout.agent_logs(&agent));
    // The runtime may write files for the agent there (Claude Code's system prompt file).
    undo_new_dir(steps, fleet.layout.agent_dir(&agent));
    let plan = launch::plan(runtime, launch_spec).map_err(at(Step::Session))?;
    let since = fleet.clock.now();
    let session = launch::launch(fleet.mux, launch_spec, &plan).map_err(at(Step::Session))?;
    let mux = fleet.mux;
    let sessions = fleet.sessions;
    let name = launch_spec.session.to_owned();
    let who = agent.clone();
    steps.undo(format!("{} session {name}", mux.kind()), move || {
        // Marked zombie first, so a watchdog ticking before the row is removed never takes
        // the undone start for a death to recover from.
        let active = [AgentState::Booting, AgentState::Working, AgentState::Idle];
        let _ = sessions.transition(&who, &active, AgentState::Zombie);
        mux.kill(&name).map_err(|e| e.to_string())
    });
    if let Err(e) = fleet.sessions.set_pid(&agent, session.pid) {
        return Err((Step::Session, StepFailure::new(e)));
    }
    steps.done(Step::Session)?;

    let seen = || launch::prompt_seen(fleet.events, agent.as_str(), since);
    let target = Target {
        mux: fleet.mux,
        runtime,
        session: launch_spec.session,
        headless: launch_spec.context.headless,
        prompt_seen: &seen,
    };
    let delivered = launch::deliver_first_prompt(
        &target,
        launch_spec.first_prompt,
        plan.prompt_in_argv,
        options.check,
        &options.delivery,
    )
    .map_err(|e| {
        (
            Step::Prompt,
            StepFailure::new(format!("the first prompt did not reach {agent}: {e}"))
                .hint(attach_hint(fleet, launch_spec.session)),
        )
    })?;
    steps.done(Step::Prompt)?;
    Ok(Started {
        pid: session.pid,
        delivered,
    })
}

fn attach_hint(fleet: &Fleet<'_>, session: &str) -> String {
    if fleet.mux.kind() == "headless" {
        "the agent's last output is shown above; fix what it reports and try again".to_owned()
    } else {
        format!(
            "the agent's screen is shown above; to watch a start live, attach to its session \
             ({session}) with `tmux -L <socket> attach -t {session}` (`legio status --json` \
             names the socket)"
        )
    }
}

/// The runtime's context for an agent.
pub(crate) fn launch_context(
    fleet: &Fleet<'_>,
    agent: &AgentName,
    capability: Capability,
    cwd: &Path,
    model: &str,
    system_prompt: Option<String>,
    worktree: Option<&Path>,
) -> LaunchContext {
    LaunchContext {
        agent: agent.clone(),
        capability,
        root: fleet.layout.root().to_path_buf(),
        cwd: cwd.to_path_buf(),
        model: model.to_owned(),
        system_prompt,
        legio_bin: fleet.host.legio_bin.clone(),
        env: launch::agent_env(fleet.host, fleet.layout.root(), agent, capability, worktree),
        running_as_root: fleet.host.running_as_root,
        sandboxed: fleet.host.sandboxed,
        headless: fleet.mux.kind() == "headless",
    }
}

/// A fresh session row in state booting.
pub(crate) fn new_session(
    now: Timestamp,
    agent: &AgentName,
    capability: Capability,
    runtime: &dyn AgentRuntime,
) -> AgentSession {
    AgentSession {
        id: crate::ids::session_id(now, agent),
        agent_name: agent.clone(),
        capability,
        worktree_path: String::new(),
        branch_name: String::new(),
        bead_id: String::new(),
        tmux_session: String::new(),
        state: AgentState::Booting,
        pid: None,
        parent_agent: None,
        depth: 0,
        run_id: None,
        started_at: now,
        last_activity: now,
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: runtime.name().to_owned(),
        file_scope: Vec::new(),
        spec_path: None,
    }
}

/// Records the `spawn` event of a started agent running `model`; a failure is returned as a
/// warning. Recovery reads its backend and model back from it.
pub(crate) fn record_spawn(
    fleet: &Fleet<'_>,
    session: &AgentSession,
    delivered: Delivered,
    model: &str,
) -> Option<String> {
    let mut e = NewEvent::new(
        session.agent_name.as_str(),
        EventType::Spawn,
        fleet.clock.now(),
    );
    e.run_id.clone_from(&session.run_id);
    e.level = EventLevel::Info;
    e.data = Some(
        serde_json::json!({
            "capability": session.capability,
            "task": session.bead_id,
            "branch": session.branch_name,
            "worktree": session.worktree_path,
            "session": session.tmux_session,
            "multiplexer": fleet.mux.kind(),
            "runtime": session.runtime,
            "model": model,
            "parent": session.parent_agent,
            "depth": session.depth,
            "firstPrompt": match delivered {
                Delivered::Confirmed => "confirmed",
                Delivered::Submitted => "submitted",
            },
        })
        .to_string(),
    );
    fleet
        .events
        .insert(&e)
        .err()
        .map(|err| format!("the agent runs, but its spawn event was not recorded: {err}"))
}

/// Forgets what recovery kept of an earlier agent of the same name: its checkpoint (one older
/// than `session`'s start) and its restart count, so the new agent is never restarted from
/// another's progress report nor refused for another's restarts. Call it once a new agent
/// runs; a failure is returned as a warning.
pub(crate) fn forget_previous_life(fleet: &Fleet<'_>, session: &AgentSession) -> Option<String> {
    let agent = &session.agent_name;
    let layout = fleet.layout;
    let stale = crate::ops::checkpoint::load(layout, agent)
        .ok()
        .flatten()
        .is_some_and(|cp| cp.timestamp < session.started_at);
    let mut files = vec![layout.recovery_count(agent)];
    if stale {
        files.push(layout.checkpoint(agent));
    }
    let failed: Vec<String> = files
        .into_iter()
        .filter_map(|path| match std::fs::remove_file(&path) {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("{}: {e}", path.display())),
        })
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "the agent runs, but what an earlier {agent} left for recovery was not removed ({}); delete it by hand",
            failed.join("; ")
        )
    })
}

/// Records that a spawn failed and was rolled back (best effort: the error is reported anyway).
pub(crate) fn record_failure(fleet: &Fleet<'_>, agent: &AgentName, error: &SpawnError) {
    let SpawnError::Failed {
        step,
        reason,
        rollback,
        ..
    } = error
    else {
        return;
    };
    let mut e = NewEvent::new(agent.as_str(), EventType::Error, fleet.clock.now());
    e.level = EventLevel::Error;
    e.data = Some(
        serde_json::json!({
            "type": "spawn_failed",
            "step": step.as_str(),
            "reason": reason,
            "rolledBack": rollback.is_clean(),
            "notRemoved": rollback.failed,
        })
        .to_string(),
    );
    let _ = fleet.events.insert(&e);
}
