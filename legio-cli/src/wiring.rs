//! Building the real implementations of the ports from the config and the environment: the
//! multiplexer, the agent runtimes, the worktrees, the [`AgentHost`] agents are launched
//! from, and the watchdog's [`FleetRespawner`].
//!
//! New agents run in tmux (a private server per project) unless `runtime.headless` is set,
//! `--headless` is given, or tmux is not installed; then they run as detached processes. A
//! project can hold both kinds at once, so [`FleetMux`] lists both and sends every operation on
//! an existing session to the backend that holds it.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use legio_core::config::{Config, RuntimeKind};
use legio_core::domain::event::EventType;
use legio_core::manifest::Manifest;
use legio_core::ops::launch::{AgentHost, DeliveryOptions, PromptCheck};
use legio_core::ops::respawn::{self, Respawned, Restart};
use legio_core::ops::spawn::{Fleet, SpawnError, SpawnOptions, Step};
use legio_core::ops::stop::StopContext;
use legio_core::ports::{
    AgentRuntime, EventQuery, EventStore as _, Multiplexer, MuxError, MuxSession, SessionSpec,
};
use legio_core::{AgentName, AgentSession, Capability, Layout};
use legio_merge::GitWorktrees;
use legio_tmux::{
    ClaudeRuntime, HeadlessConfig, HeadlessMultiplexer, ScriptRuntime, TmuxConfig, TmuxMultiplexer,
};
use legio_watchdog::{RespawnError, RespawnRequest, Respawner};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// Whether `program` is an executable file in one of `path`'s directories.
pub fn on_path(path: Option<&OsStr>, program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Every session of the project, in tmux and headless, as one multiplexer.
pub struct FleetMux {
    tmux: Option<TmuxMultiplexer>,
    headless: HeadlessMultiplexer,
    create_headless: bool,
}

impl std::fmt::Debug for FleetMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetMux")
            .field(
                "tmux",
                &self.tmux.as_ref().map(TmuxMultiplexer::socket_name),
            )
            .field("create_headless", &self.create_headless)
            .finish_non_exhaustive()
    }
}

impl FleetMux {
    /// The project's multiplexer; new sessions are headless when `headless`, or when tmux is
    /// not installed.
    pub fn new(ctx: &Ctx<'_>, layout: &Layout, config: &Config, headless: bool) -> Self {
        let tmux = on_path(ctx.env.path.as_deref(), "tmux").then(|| {
            TmuxMultiplexer::new(&config.project.name, layout.root(), TmuxConfig::default())
        });
        Self {
            create_headless: headless || config.runtime.headless || tmux.is_none(),
            tmux,
            headless: HeadlessMultiplexer::for_project(layout, HeadlessConfig::default()),
        }
    }

    /// The private tmux server's socket name (`tmux -L <name>`), when tmux is used.
    pub fn tmux_socket(&self) -> Option<&str> {
        self.tmux.as_ref().map(TmuxMultiplexer::socket_name)
    }

    /// Whether the session `name` is a headless one.
    pub fn is_headless(&self, name: &str) -> bool {
        self.headless.get(name).ok().flatten().is_some()
    }

    /// Ends the private tmux server if no session is left on it.
    pub fn stop_server_if_idle(&self) -> Result<bool, MuxError> {
        let Some(tmux) = &self.tmux else {
            return Ok(false);
        };
        if !tmux.list()?.is_empty() {
            return Ok(false);
        }
        tmux.kill_server().map(|()| true)
    }

    fn holder(&self, name: &str) -> &dyn Multiplexer {
        match &self.tmux {
            Some(tmux) if !self.is_headless(name) => tmux,
            _ => &self.headless,
        }
    }
}

impl Multiplexer for FleetMux {
    fn kind(&self) -> &'static str {
        if self.create_headless {
            self.headless.kind()
        } else {
            "tmux"
        }
    }

    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        match &self.tmux {
            Some(tmux) if !self.create_headless => tmux.create(spec),
            _ => self.headless.create(spec),
        }
    }

    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        let mut all = self.headless.list()?;
        if let Some(tmux) = &self.tmux {
            all.extend(tmux.list()?);
        }
        Ok(all)
    }

    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        if let Some(s) = self.headless.get(name)? {
            return Ok(Some(s));
        }
        match &self.tmux {
            Some(tmux) => tmux.get(name),
            None => Ok(None),
        }
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        self.holder(name).send_text(name, text)
    }

    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError> {
        self.holder(name).capture(name, lines)
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        self.headless.kill(name)?;
        match &self.tmux {
            Some(tmux) => tmux.kill(name),
            None => Ok(()),
        }
    }
}

/// The runtime that runs `role`: `--runtime` when given, else the config's choice.
pub fn runtime_kind(
    config: &Config,
    role: Capability,
    flag: Option<&str>,
) -> CliResult<RuntimeKind> {
    match flag {
        Some(name) => name.parse().map_err(CliError::from),
        None => Ok(config.runtime.for_role(role)),
    }
}

/// The runtime of that kind.
pub fn runtime(config: &Config, kind: RuntimeKind) -> Box<dyn AgentRuntime> {
    match kind {
        RuntimeKind::Claude => Box::new(ClaudeRuntime::default()),
        RuntimeKind::Script => Box::new(ScriptRuntime::new(config.runtime.script.command.clone())),
    }
}

/// The runtime an existing agent was started with (its row's `runtime`).
pub fn runtime_named(config: &Config, name: &str) -> Box<dyn AgentRuntime> {
    runtime(config, name.parse().unwrap_or(RuntimeKind::Claude))
}

/// The repository's worktrees.
pub fn worktrees(layout: &Layout) -> CliResult<GitWorktrees> {
    GitWorktrees::open(layout.root()).map_err(CliError::from)
}

/// The legio binary that is running (agents' hooks call it by this path).
pub fn legio_bin() -> CliResult<PathBuf> {
    std::env::current_exe()
        .map_err(|e| CliError::failure(format!("cannot find the legio binary's own path: {e}")))
}

/// The process agents are launched from.
pub fn host(ctx: &Ctx<'_>) -> CliResult<AgentHost> {
    Ok(AgentHost {
        legio_bin: legio_bin()?,
        path: ctx
            .env
            .path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        provider: ctx.env.provider.clone(),
        sandboxed: ctx.env.is_sandbox,
        running_as_root: ctx.env.running_as_root,
    })
}

/// The session-name function of the project `project`.
pub fn session_namer(project: &str) -> impl Fn(&AgentName) -> String + '_ {
    move |agent| legio_tmux::session_name(project, agent)
}

/// How spawns of this runtime behave: what confirms the first prompt, how long to wait for
/// it (`watchdog.bootTimeoutMs`), and the test-only failpoint for `kind` (`sling`, `start`,
/// `respawn`).
pub fn spawn_options(
    ctx: &Ctx<'_>,
    config: &Config,
    runtime: RuntimeKind,
    kind: &str,
) -> CliResult<SpawnOptions> {
    let fail_after = match ctx.env.failpoint.as_deref() {
        None => None,
        Some(spec) => match spec.split_once(':') {
            Some((k, step)) if k == kind => Some(Step::parse(step).ok_or_else(|| {
                CliError::usage(format!(
                    "LEGIO_FAILPOINT={spec}: unknown step {step:?}; steps are {}",
                    Step::names()
                ))
            })?),
            Some(_) => None,
            None => {
                return Err(CliError::usage(format!(
                    "LEGIO_FAILPOINT={spec}: expected <sling|start|respawn>:<step> (a test-only setting)"
                )));
            }
        },
    };
    Ok(SpawnOptions {
        check: match runtime {
            RuntimeKind::Claude => PromptCheck::Hook,
            RuntimeKind::Script => PromptCheck::Process,
        },
        delivery: DeliveryOptions {
            timeout: config.watchdog.boot_timeout,
            ..DeliveryOptions::default()
        },
        fail_after,
        stagger: true,
    })
}

/// How long a nudge waits for confirmation.
pub fn nudge_delivery() -> DeliveryOptions {
    DeliveryOptions {
        timeout: Duration::from_secs(4),
        ..DeliveryOptions::default()
    }
}

/// A loaded project with everything spawning and inspecting agents needs.
pub struct Parts {
    /// The project.
    pub layout: Layout,
    /// Its configuration.
    pub config: Config,
    /// Its agent manifest (`None` when missing or invalid; a warning was printed).
    pub manifest: Option<Manifest>,
    /// Its databases.
    pub stores: legio_store::Stores,
    /// Its worktrees.
    pub worktrees: GitWorktrees,
    /// Its multiplexer.
    pub mux: FleetMux,
    /// The process agents are launched from.
    pub host: AgentHost,
}

impl Parts {
    /// Loads the project of `ctx`; new sessions are headless with `headless`.
    pub fn load(ctx: &Ctx<'_>, out: &mut Printer, headless: bool) -> CliResult<Self> {
        let layout = ctx.project()?;
        let config = crate::context::load_config(&layout, out)?;
        Self::with_config(ctx, out, layout, config, headless)
    }

    /// Loads the rest of a project whose configuration is already loaded.
    pub fn with_config(
        ctx: &Ctx<'_>,
        out: &mut Printer,
        layout: Layout,
        config: Config,
        headless: bool,
    ) -> CliResult<Self> {
        let manifest = match Manifest::load(&config.manifest_file(), &config.agent_defs_dir()) {
            Ok(m) => Some(m),
            Err(e) => {
                out.warn(format!("{e}; using the built-in roles and models"));
                None
            }
        };
        let stores = legio_store::Stores::open_all(&layout)?;
        let worktrees = worktrees(&layout)?;
        let mux = FleetMux::new(ctx, &layout, &config, headless);
        Ok(Self {
            host: host(ctx)?,
            layout,
            config,
            manifest,
            stores,
            worktrees,
            mux,
        })
    }

    /// The ports a spawn acts through.
    pub fn fleet<'a>(
        &'a self,
        ctx: &'a Ctx<'_>,
        session_name: &'a dyn Fn(&AgentName) -> String,
    ) -> Fleet<'a> {
        Fleet {
            layout: &self.layout,
            config: &self.config,
            manifest: self.manifest.as_ref(),
            clock: &ctx.clock,
            sessions: &self.stores.sessions,
            mail: &self.stores.mail,
            events: &self.stores.events,
            tasks: &self.stores.tasks,
            worktrees: &self.worktrees,
            mux: &self.mux,
            host: &self.host,
            session_name,
        }
    }

    /// The ports stopping acts through.
    pub fn stop_context<'a>(&'a self, ctx: &'a Ctx<'_>) -> StopContext<'a> {
        StopContext {
            layout: &self.layout,
            clock: &ctx.clock,
            sessions: &self.stores.sessions,
            events: &self.stores.events,
            mux: &self.mux,
        }
    }
}

/// Restarts dead agents for the watchdog ([`legio_watchdog::recovery`]) through
/// [`respawn::respawn`], each with the runtime its row names, and the backend and model it ran
/// on (its latest `spawn` event says which; new agents' backend and the role's configured
/// model when that is unknown).
pub struct FleetRespawner<'a> {
    ctx: &'a Ctx<'a>,
    parts: &'a Parts,
    session_name: Box<dyn Fn(&AgentName) -> String + 'a>,
    /// Creates headless sessions, for agents that ran headless in a tmux project.
    headless: FleetMux,
    claude: SpawnOptions,
    script: SpawnOptions,
}

impl<'a> FleetRespawner<'a> {
    /// A respawner acting through `parts`; a malformed `LEGIO_FAILPOINT` is refused here.
    pub fn new(ctx: &'a Ctx<'a>, parts: &'a Parts) -> CliResult<Self> {
        // The watchdog restarts an agent at once: no stagger behind other spawns.
        let options = |kind| {
            spawn_options(ctx, &parts.config, kind, "respawn").map(|o| SpawnOptions {
                stagger: false,
                ..o
            })
        };
        Ok(Self {
            claude: options(RuntimeKind::Claude)?,
            script: options(RuntimeKind::Script)?,
            headless: FleetMux::new(ctx, &parts.layout, &parts.config, true),
            session_name: Box::new(session_namer(&parts.config.project.name)),
            ctx,
            parts,
        })
    }

    /// The data of the agent's latest `spawn` event (its backend and model), if any.
    fn last_spawn(&self, agent: &AgentName) -> serde_json::Value {
        let latest = self.parts.stores.events.query(&EventQuery {
            agents: vec![agent.to_string()],
            event_type: Some(EventType::Spawn),
            limit: Some(1),
            ..EventQuery::default()
        });
        latest
            .ok()
            .and_then(|events| events.into_iter().next())
            .and_then(|e| e.data)
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default()
    }
}

impl FleetRespawner<'_> {
    /// Restarts the agent of `dead` (its zombie row) in its worktree with `prompt` as its
    /// first prompt, with the runtime its row names, on the backend and with the model it ran.
    #[allow(clippy::result_large_err)] // legio-core's error, passed on as it is
    pub fn restart(&self, dead: &AgentSession, prompt: &str) -> Result<Respawned, SpawnError> {
        let kind: RuntimeKind = dead.runtime.parse().map_err(|_| {
            SpawnError::refused(
                format!(
                    "{}'s row names the runtime {:?}, which legio does not know",
                    dead.agent_name, dead.runtime
                ),
                Some("`legio status` shows the agent; start a new one with `legio sling`".into()),
            )
        })?;
        let options = match kind {
            RuntimeKind::Claude => &self.claude,
            RuntimeKind::Script => &self.script,
        };
        let spawned = self.last_spawn(&dead.agent_name);
        let mut fleet = self.parts.fleet(self.ctx, &*self.session_name);
        if spawned["multiplexer"] == "headless" {
            fleet.mux = &self.headless;
        }
        let runtime = runtime(fleet.config, kind);
        let restart = Restart {
            dead,
            prompt,
            model: spawned["model"].as_str(),
        };
        respawn::respawn(&fleet, runtime.as_ref(), &restart, options)
    }
}

impl Respawner for FleetRespawner<'_> {
    fn respawn(&self, request: &RespawnRequest<'_>) -> Result<(), RespawnError> {
        self.restart(request.session, &request.prompt)
            .map(drop)
            .map_err(|e| {
                let hint = e
                    .hint()
                    .map(|h| format!(" (hint: {h})"))
                    .unwrap_or_default();
                let text = format!("{e}{hint}");
                match e {
                    SpawnError::Refused { .. } | SpawnError::Denied(_) => {
                        RespawnError::Refused(text)
                    }
                    SpawnError::Failed { .. } => RespawnError::Failed(text),
                }
            })
    }
}

/// A spawn error as the user sees it.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(spawn_error)`
pub fn spawn_error(e: SpawnError) -> CliError {
    let hint = e.hint();
    let err = CliError::failure(e.to_string());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// An agent name from the command line; `orchestrator` (or nothing) means the human.
pub fn parent_name(flag: Option<&str>, ctx: &Ctx<'_>) -> CliResult<Option<AgentName>> {
    let name = flag
        .map(str::to_owned)
        .or_else(|| ctx.env.agent_name.clone());
    match name.as_deref() {
        None | Some("orchestrator") => Ok(None),
        Some(n) => Ok(Some(AgentName::new(n)?)),
    }
}
