//! `legio clean`: remove legio's state, without ever losing work by surprise.
//!
//! [`plan`] reads everything first and decides, item by item, what goes and what is refused;
//! nothing changes until it returns. [`stop_and_remove`] then stops processes and removes git
//! worktrees and branches (through the ports), and [`wipe`] removes files, after the caller
//! has closed its database connections. `--dry-run` stops after [`plan`].
//!
//! The rules (legio 0.1.0 destroyed work here; see the spec's "clean hazards"):
//! - **Dirty worktrees and unmerged branches are refused** unless `force`: a worktree with
//!   uncommitted changes stays; a clean worktree is removed but its branch is kept when it has
//!   commits not merged into the canonical branch, or when it waits in the merge queue. Every
//!   refusal is listed with its reason.
//! - **Running agents**: a worktree an active agent works in is refused unless `force`. Wiping
//!   state (any database, `logs/`, `agents/`, `specs/`, the `--all` extras) while an agent runs
//!   or the watchdog runs is refused as a whole, with nothing changed, unless `force`. With
//!   `force`, agents whose worktree or session record goes are stopped first; the watchdog is
//!   not stopped (it is told about, and recreates empty databases).
//! - **Only legio's own sessions** are killed: those the project's [`Multiplexer`] lists (its
//!   private tmux socket, or its headless records), and only when cleaning worktrees or
//!   sessions (or `--all`).
//! - **Databases** go with their `-wal` and `-shm` files, the `-wal` first: a database without
//!   its WAL is an older consistent database, while a WAL left beside a new empty database
//!   could be replayed into it.
//! - **Order**: stop processes, remove worktrees, delete branches, then wipe files. Each step
//!   leaves a consistent project if the next never happens: a stopped agent is marked zombie,
//!   a removed worktree's branch was decided before removal, and databases go last.
//!
//! `--all` means every target but `events` and `tasks`, which hold history and work items and
//! are wiped only when named.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::domain::agent::{AgentSession, AgentState};
use crate::domain::event::{EventType, NewEvent};
use crate::domain::merge::MergeStatus;
use crate::domain::string_enum;
use crate::layout::Layout;
use crate::ops::doctor::orphans::same_path;
use crate::ops::pidfile;
use crate::ports::git::{AGENT_BRANCH_PREFIX, BranchDisposal, GitError, RemoveOptions};
use crate::ports::{
    EventStore, MergeQueue, Multiplexer, MuxSession, ProcessProbe, SessionStore, Worktrees,
};
use crate::time::Clock;

string_enum! {
    /// What `legio clean` can remove.
    pub enum Target ("clean target") {
        /// `mail.db`.
        Mail => "mail",
        /// `sessions.db` (agents and runs).
        Sessions => "sessions",
        /// `metrics.db`.
        Metrics => "metrics",
        /// `events.db` (never implied by `--all`).
        Events => "events",
        /// `tasks.db` (never implied by `--all`).
        Tasks => "tasks",
        /// `merge-queue.db` (with `--all`).
        MergeQueue => "merge-queue",
        /// The contents of `logs/`.
        Logs => "logs",
        /// Agent worktrees (and their branches when merged).
        Worktrees => "worktrees",
        /// `legio/*` branches.
        Branches => "branches",
        /// The contents of `agents/` (identities, checkpoints).
        Agents => "agents",
        /// The contents of `specs/`.
        Specs => "specs",
        /// Nudge state, pending nudges, busy markers and the current run (with `--all`).
        Transient => "transient",
    }
}

impl Target {
    /// What `--all` cleans: everything but events and tasks.
    pub fn all() -> Vec<Target> {
        Target::ALL
            .iter()
            .copied()
            .filter(|t| !matches!(t, Target::Events | Target::Tasks))
            .collect()
    }

    /// Whether cleaning it while agents run could pull state from under them.
    fn is_state(self) -> bool {
        !matches!(self, Target::Worktrees | Target::Branches)
    }
}

/// What to clean and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The targets (at least one).
    pub targets: Vec<Target>,
    /// Remove dirty worktrees and unmerged or queued branches, and clean while agents or the
    /// watchdog run.
    pub force: bool,
}

impl Options {
    fn has(&self, t: Target) -> bool {
        self.targets.contains(&t)
    }
}

string_enum! {
    /// The kind of thing removed or refused.
    pub enum ItemKind ("item kind") {
        /// An agent that was stopped (its session killed, its row marked zombie).
        Agent => "agent",
        /// A multiplexer session no active agent owned.
        Session => "session",
        /// A git worktree.
        Worktree => "worktree",
        /// A git branch.
        Branch => "branch",
        /// A database file (with its `-wal` and `-shm`).
        Database => "database",
        /// A directory's contents.
        Directory => "directory",
        /// A file.
        File => "file",
        /// The whole command (refused before anything changed).
        Clean => "clean",
    }
}

/// One thing removed (or to be removed), or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its name (a path relative to the project root, a branch, a session).
    pub name: String,
    /// What was done, or why it was refused.
    pub detail: String,
}

impl Item {
    fn new(kind: ItemKind, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            detail: detail.into(),
        }
    }
}

/// What clean did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Nothing was changed: this is the plan.
    pub dry_run: bool,
    /// What was removed, in the order it was.
    pub removed: Vec<Item>,
    /// What was kept, and why.
    pub refused: Vec<Item>,
    /// Other things worth knowing (a watchdog left running).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether something asked for was not cleaned.
    pub fn refused_any(&self) -> bool {
        !self.refused.is_empty()
    }
}

/// Why clean refused to start. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// Agents or the watchdog are running and state would be wiped.
    #[error("refusing to wipe legio's state while {}; nothing was changed", busy_list(*.watchdog, .agents))]
    Busy {
        /// The watchdog's pid, if it runs.
        watchdog: Option<u32>,
        /// The running agents.
        agents: Vec<String>,
    },
    /// Whether agents run cannot be told.
    #[error("cannot tell whether agents are running ({0}); nothing was changed")]
    Unknown(String),
    /// A listing clean needs failed.
    #[error("cannot {doing}: {reason}; nothing was changed")]
    Read {
        /// What was being read.
        doing: String,
        /// Why it failed.
        reason: String,
    },
}

fn busy_list(watchdog: Option<u32>, agents: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(pid) = watchdog {
        parts.push(format!("the watchdog runs (pid {pid})"));
    }
    match agents.len() {
        0 => {}
        1 => parts.push(format!("agent {} runs", agents[0])),
        n => parts.push(format!("{n} agents run ({})", agents.join(", "))),
    }
    parts.join(" and ")
}

/// What clean works with.
pub struct Cleaner<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Its configuration.
    pub config: &'a Config,
    /// The repository.
    pub worktrees: &'a dyn Worktrees,
    /// legio's multiplexer for this project.
    pub mux: &'a dyn Multiplexer,
    /// Process liveness (the watchdog's pid).
    pub probe: &'a dyn ProcessProbe,
    /// The clock (synthetic session-end events).
    pub clock: &'a dyn Clock,
    /// `sessions.db`, when it exists and opened.
    pub sessions: Option<&'a dyn SessionStore>,
    /// `events.db`, when it exists and opened.
    pub events: Option<&'a dyn EventStore>,
    /// `merge-queue.db`, when it exists and opened.
    pub merge_queue: Option<&'a dyn MergeQueue>,
}

impl Cleaner<'_> {
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.layout.root())
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// A worktree to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WorktreeRemoval {
    path: PathBuf,
    branch: String,
    disposal: BranchDisposal,
    force_dirty: bool,
    /// The agent working in it, stopped first.
    owner: Option<String>,
}

/// What clean will do, decided before anything changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Active agents to stop (their rows as read).
    stop: Vec<AgentSession>,
    /// Other sessions to kill.
    kill: Vec<String>,
    worktrees: Vec<WorktreeRemoval>,
    branches: Vec<String>,
    databases: Vec<PathBuf>,
    directories: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// Wipe sessions.db (so stopped agents' rows need no update).
    wipes_sessions: bool,
    wipes_events: bool,
    refused: Vec<Item>,
    notes: Vec<String>,
}

impl Plan {
    /// The report of a dry run: what would be removed and refused.
    pub fn preview(&self, cleaner: &Cleaner<'_>) -> Report {
        let mut removed = Vec::new();
        for a in &self.stop {
            removed.push(Item::new(
                ItemKind::Agent,
                a.agent_name.as_str(),
                format!("would stop it (kill session {})", a.tmux_session),
            ));
        }
        for s in &self.kill {
            removed.push(Item::new(ItemKind::Session, s, "would kill it"));
        }
        for w in &self.worktrees {
            removed.push(Item::new(
                ItemKind::Worktree,
                cleaner.rel(&w.path),
                would_remove(w),
            ));
        }
        for b in &self.branches {
            removed.push(Item::new(ItemKind::Branch, b, "would delete it"));
        }
        self.file_items(cleaner.layout, "would ", &mut removed);
        Report {
            dry_run: true,
            removed,
            refused: self.refused.clone(),
            notes: self.notes.clone(),
        }
    }

    fn file_items(&self, layout: &Layout, would: &str, out: &mut Vec<Item>) {
        let rel = |p: &Path| {
            p.strip_prefix(layout.root())
                .unwrap_or(p)
                .display()
                .to_string()
        };
        for db in &self.databases {
            out.push(Item::new(
                ItemKind::Database,
                rel(db),
                format!("{would}wipe it (with -wal and -shm)"),
            ));
        }
        for dir in &self.directories {
            out.push(Item::new(
                ItemKind::Directory,
                format!("{}/", rel(dir)),
                format!("{would}clear its contents"),
            ));
        }
        for f in &self.files {
            out.push(Item::new(
                ItemKind::File,
                rel(f),
                format!("{would}remove it"),
            ));
        }
    }
}

fn would_remove(w: &WorktreeRemoval) -> String {
    match (w.branch.is_empty(), w.disposal) {
        (true, _) => "would remove it".to_owned(),
        (false, BranchDisposal::Keep) => format!("would remove it; keep branch {}", w.branch),
        (false, BranchDisposal::DeleteIfMerged) => {
            format!("would remove it with branch {} (merged)", w.branch)
        }
        (false, BranchDisposal::Force) => {
            format!("would remove it with branch {} (forced)", w.branch)
        }
    }
}

/// Reads the project and decides what to clean. Changes nothing.
pub fn plan(c: &Cleaner<'_>, options: &Options) -> Result<Plan, CleanError> {
    let mut plan = Plan::default();
    let force = options.force;

    let rows: Vec<AgentSession> = match c.sessions {
        Some(store) => store.list().map_err(|e| CleanError::Read {
            doing: "read the agents".into(),
            reason: e.to_string(),
        })?,
        None if c.layout.sessions_db().exists() && !force => {
            return Err(CleanError::Unknown(
                "sessions.db cannot be opened; `legio doctor` says why".into(),
            ));
        }
        None => Vec::new(),
    };
    let listing = c.mux.list();
    let sessions: Vec<MuxSession> = match &listing {
        Ok(s) => s.clone(),
        Err(_) => Vec::new(),
    };
    // An active agent runs unless its session is listed as gone or exited. If the listing
    // failed nothing is known, so every active agent counts as running.
    let running = |r: &AgentSession| {
        r.state.is_active()
            && (listing.is_err()
                || sessions
                    .iter()
                    .any(|s| s.name == r.tmux_session && s.running))
    };
    let alive: Vec<&AgentSession> = rows.iter().filter(|r| running(r)).collect();
    let watchdog = pidfile::live_pid(&c.layout.watchdog_pid(), c.probe);

    let wipes_state = options.targets.iter().any(|t| t.is_state());
    if wipes_state && (watchdog.is_some() || !alive.is_empty()) {
        let agents = alive.iter().map(|r| r.agent_name.to_string()).collect();
        if !force {
            return Err(CleanError::Busy { watchdog, agents });
        }
        if let Some(pid) = watchdog {
            plan.notes.push(format!(
                "the watchdog (pid {pid}) keeps running and recreates empty databases; restart it when clean is done"
            ));
        }
    }

    let cleans_sessions = options.has(Target::Worktrees) || options.has(Target::Sessions);
    if cleans_sessions {
        if let Err(e) = &listing {
            return Err(CleanError::Read {
                doing: format!("list legio's {} sessions", c.mux.kind()),
                reason: e.to_string(),
            });
        }
        // Agents whose session record goes are stopped (only reached with force when any run).
        if options.has(Target::Sessions) {
            plan.stop.extend(alive.iter().map(|r| (*r).clone()));
        }
    }

    let config = c.config;
    if options.has(Target::Worktrees) || options.has(Target::Branches) {
        plan_git(c, config, options, &rows, &alive, &mut plan)?;
    }

    if cleans_sessions {
        // Every other session on legio's own multiplexer: exited panes, finished agents'
        // sessions, sessions no agent row names.
        for s in &sessions {
            let owned_by_alive = alive.iter().any(|r| r.tmux_session == s.name);
            if !owned_by_alive {
                plan.kill.push(s.name.clone());
            }
        }
    }

    // An agent may be stopped for two reasons; stop it once.
    let mut seen = Vec::new();
    plan.stop.retain(|a| {
        let first = !seen.contains(&a.agent_name);
        seen.push(a.agent_name.clone());
        first
    });

    plan.wipes_sessions = options.has(Target::Sessions);
    plan.wipes_events = options.has(Target::Events);
    let l = c.layout;
    for (target, path) in [
        (Target::Mail, l.mail_db()),
        (Target::Sessions, l.sessions_db()),
        (Target::Metrics, l.metrics_db()),
        (Target::Events, l.events_db()),
        (Target::Tasks, l.tasks_db()),
        (Target::MergeQueue, l.merge_queue_db()),
    ] {
        if options.has(target) && database_files(&path).iter().any(|p| p.exists()) {
            plan.databases.push(path);
        }
    }
    for (target, dir) in [
        (Target::Logs, "logs"),
        (Target::Agents, "agents"),
        (Target::Specs, "specs"),
    ] {
        let path = l.file(dir);
        if options.has(target) && has_entries(&path) {
            plan.directories.push(path);
        }
    }
    if options.has(Target::Transient) {
        for name in [
            "nudge-state.json",
            "current-run.txt",
            "mail-check-state.json",
        ] {
            let path = l.file(name);
            if path.is_file() {
                plan.files.push(path);
            }
        }
        for dir in ["pending-nudges", "agent-busy"] {
            let path = l.file(dir);
            if has_entries(&path) {
                plan.directories.push(path);
            }
        }
    }
    Ok(plan)
}

fn plan_git(
    c: &Cleaner<'_>,
    config: &Config,
    options: &Options,
    rows: &[AgentSession],
    alive: &[&AgentSession],
    plan: &mut Plan,
) -> Result<(), CleanError> {
    let force = options.force;
    let read = |doing: &str| {
        let doing = doing.to_owned();
        move |e: GitError| CleanError::Read {
            doing,
            reason: e.to_string(),
        }
    };
    let listed = c.worktrees.list().map_err(read("list git worktrees"))?;
    let target = &config.project.canonical_branch;
    let queued: Vec<String> = match c.merge_queue {
        Some(q) => q
            .list(None)
            .map_err(|e| CleanError::Read {
                doing: "read the merge queue".into(),
                reason: e.to_string(),
            })?
            .into_iter()
            .filter(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging))
            .map(|e| e.branch_name)
            .collect(),
        None => Vec::new(),
    };
    // What may happen to a branch; records the refusal when it must stay.
    let decide = |branch: &str, refused: &mut Vec<Item>| -> Result<BranchDisposal, CleanError> {
        if force {
            return Ok(BranchDisposal::Force);
        }
        if queued.iter().any(|q| q == branch) {
            refused.push(Item::new(
                ItemKind::Branch,
                branch,
                "it waits in the merge queue; merge it (`legio merge`) or pass --force",
            ));
            return Ok(BranchDisposal::Keep);
        }
        if c.worktrees
            .is_merged(branch, target)
            .map_err(read("check which branches are merged"))?
        {
            Ok(BranchDisposal::DeleteIfMerged)
        } else {
            refused.push(Item::new(
                ItemKind::Branch,
                branch,
                format!("it has commits not merged into {target}; merge it or pass --force"),
            ));
            Ok(BranchDisposal::Keep)
        }
    };

    let base = config.worktrees_dir();
    let mut staying: Vec<(PathBuf, String)> = Vec::new();
    for w in listed.iter().skip(1) {
        let ours = w.path.parent().is_some_and(|p| same_path(p, &base));
        if !ours || !options.has(Target::Worktrees) {
            staying.push((w.path.clone(), w.branch.clone()));
            continue;
        }
        let rel = c.rel(&w.path);
        let owner = rows
            .iter()
            .find(|r| same_path(Path::new(&r.worktree_path), &w.path));
        let owner_alive = owner.filter(|o| alive.iter().any(|a| a.agent_name == o.agent_name));
        if let Some(o) = owner_alive
            && !force
        {
            plan.refused.push(Item::new(
                ItemKind::Worktree,
                &rel,
                format!(
                    "agent {} is {} in it; stop it first or pass --force",
                    o.agent_name, o.state
                ),
            ));
            staying.push((w.path.clone(), w.branch.clone()));
            continue;
        }
        if w.path.exists() && !force {
            let dirty = c
                .worktrees
                .dirty_files(&w.path)
                .map_err(read("check worktrees for uncommitted changes"))?;
            if !dirty.is_empty() {
                plan.refused.push(Item::new(
                    ItemKind::Worktree,
                    &rel,
                    format!(
                        "it has uncommitted changes ({}); commit them or pass --force",
                        list_some(&dirty)
                    ),
                ));
                staying.push((w.path.clone(), w.branch.clone()));
                continue;
            }
        }
        let disposal = if w.branch.is_empty() {
            BranchDisposal::Keep
        } else {
            decide(&w.branch, &mut plan.refused)?
        };
        if let Some(o) = owner_alive {
            plan.stop.push(o.clone());
        }
        plan.worktrees.push(WorktreeRemoval {
            path: w.path.clone(),
            branch: w.branch.clone(),
            disposal,
            force_dirty: force,
            owner: owner.map(|o| o.agent_name.to_string()),
        });
    }

    if options.has(Target::Branches) {
        let branches = c
            .worktrees
            .branches(AGENT_BRANCH_PREFIX)
            .map_err(read("list legio/ branches"))?;
        for b in branches {
            if plan.worktrees.iter().any(|w| w.branch == b) {
                continue;
            }
            if let Some((path, _)) = staying.iter().find(|(_, sb)| *sb == b) {
                plan.refused.push(Item::new(
                    ItemKind::Branch,
                    &b,
                    format!(
                        "it is checked out in {}; clean that worktree first",
                        c.rel(path)
                    ),
                ));
                continue;
            }
            if decide(&b, &mut plan.refused)? != BranchDisposal::Keep {
                plan.branches.push(b);
            }
        }
    }
    Ok(())
}

/// The first few items of a list, and how many more.
fn list_some(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(" and ");
        text.push_str(&(items.len() - SHOWN).to_string());
        text.push_str(" more");
    }
    text
}

/// A database file and the files SQLite keeps beside it, in the order they are removed: the
/// WAL first, then the shared-memory index, then the database.
pub fn database_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [with("-wal"), with("-shm"), db.to_path_buf()]
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// Stops agents and sessions, removes worktrees and deletes branches, as planned. Failures
/// are recorded as refusals and do not stop the rest (except that a worktree whose agent could
/// not be stopped is left alone).
pub fn stop_and_remove(c: &Cleaner<'_>, plan: &Plan, report: &mut Report) {
    let now = c.clock.now();
    let mut not_stopped: Vec<String> = Vec::new();
    for agent in &plan.stop {
        let name = agent.agent_name.to_string();
        if let Some(events) = c.events.filter(|_| !plan.wipes_events) {
            let mut event = NewEvent::new(&name, EventType::SessionEnd, now);
            event.run_id.clone_from(&agent.run_id);
            event.data = Some(
                json!({ "reason": "clean", "capability": agent.capability.as_str() }).to_string(),
            );
            let _ = events.insert(&event);
        }
        if let Err(e) = c.mux.kill(&agent.tmux_session) {
            report.refused.push(Item::new(
                ItemKind::Agent,
                &name,
                format!("could not kill its session {}: {e}", agent.tmux_session),
            ));
            not_stopped.push(name);
            continue;
        }
        let mut detail = format!("killed its session {}", agent.tmux_session);
        if let Some(store) = c.sessions.filter(|_| !plan.wipes_sessions) {
            let active = [AgentState::Booting, AgentState::Working, AgentState::Idle];
            if let Ok(true) = store.transition(&agent.agent_name, &active, AgentState::Zombie) {
                detail.push_str("; marked zombie");
            }
        }
        report
            .removed
            .push(Item::new(ItemKind::Agent, &name, detail));
    }
    for name in &plan.kill {
        match c.mux.kill(name) {
            Ok(()) => report
                .removed
                .push(Item::new(ItemKind::Session, name, "killed it")),
            Err(e) => report.refused.push(Item::new(
                ItemKind::Session,
                name,
                format!("could not kill it: {e}"),
            )),
        }
    }
    for w in &plan.worktrees {
        let rel = c.rel(&w.path);
        if w.owner.as_ref().is_some_and(|o| not_stopped.contains(o)) {
            report.refused.push(Item::new(
                ItemKind::Worktree,
                rel,
                "its agent could not be stopped",
            ));
            continue;
        }
        let options = RemoveOptions {
            force_dirty: w.force_dirty,
            branch: w.disposal,
            merge_target: c.config.project.canonical_branch.clone(),
        };
        match c.worktrees.remove(&w.path, &options) {
            Ok(removal) => {
                let detail = match (&removal.branch_kept_reason, removal.branch_deleted) {
                    (_, true) => format!("removed it with branch {}", w.branch),
                    (Some(reason), false) if w.disposal != BranchDisposal::Keep => {
                        report
                            .refused
                            .push(Item::new(ItemKind::Branch, &w.branch, reason.clone()));
                        format!("removed it; kept branch {}", w.branch)
                    }
                    _ if w.branch.is_empty() => "removed it".to_owned(),
                    _ => format!("removed it; kept branch {}", w.branch),
                };
                report
                    .removed
                    .push(Item::new(ItemKind::Worktree, rel, detail));
            }
            Err(e) => report.refused.push(Item::new(
                ItemKind::Worktree,
                rel,
                format!("could not remove it: {e}"),
            )),
        }
    }
    for b in &plan.branches {
        match c.worktrees.delete_branch(b) {
            Ok(()) => report
                .removed
                .push(Item::new(ItemKind::Branch, b, "deleted it")),
            Err(e) => report.refused.push(Item::new(
                ItemKind::Branch,
                b,
                format!("could not delete it: {e}"),
            )),
        }
    }
}

/// Removes the planned files: databases (WAL, shared memory, then the file), directory
/// contents, transient files. Call it after every connection to those databases is closed.
pub fn wipe(layout: &Layout, plan: &Plan, report: &mut Report) {
    let rel = |p: &Path| {
        p.strip_prefix(layout.root())
            .unwrap_or(p)
            .display()
            .to_string()
    };
    for db in &plan.databases {
        match database_files(db).iter().try_for_each(|p| remove_file(p)) {
            Ok(()) => report.removed.push(Item::new(
                ItemKind::Database,
                rel(db),
                "wiped it (with -wal and -shm)",
            )),
            Err(e) => report.refused.push(Item::new(
                ItemKind::Database,
                rel(db),
                format!("could not remove it: {e}"),
            )),
        }
    }
    for dir in &plan.directories {
        match clear_dir(dir) {
            Ok(n) => report.removed.push(Item::new(
                ItemKind::Directory,
                format!("{}/", rel(dir)),
                format!("cleared {n} {}", if n == 1 { "entry" } else { "entries" }),
            )),
            Err(e) => report.refused.push(Item::new(
                ItemKind::Directory,
                format!("{}/", rel(dir)),
                format!("could not clear it: {e}"),
            )),
        }
    }
    for f in &plan.files {
        match remove_file(f) {
            Ok(()) => report
                .removed
                .push(Item::new(ItemKind::File, rel(f), "removed it")),
            Err(e) => report.refused.push(Item::new(
                ItemKind::File,
                rel(f),
                format!("could not remove it: {e}"),
            )),
        }
    }
}

fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes everything inside `dir` (not `dir` itself); returns how many entries.
fn clear_dir(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            remove_file(&path)?;
        }
        n += 1;
    }
    Ok(n)
}

/// Plans, then (unless `dry_run`) runs the process and git steps. The caller closes its
/// database connections and calls [`wipe`] with the returned plan to finish.
pub fn run(
    c: &Cleaner<'_>,
    options: &Options,
    dry_run: bool,
) -> Result<(Plan, Report), CleanError> {
    let plan = plan(c, options)?;
    if dry_run {
        let report = plan.preview(c);
        return Ok((plan, report));
    }
    let mut report = Report {
        dry_run: false,
        removed: Vec::new(),
        refused: plan.refused.clone(),
        notes: plan.notes.clone(),
    };
    stop_and_remove(c, &plan, &mut report);
    Ok((plan, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_excludes_history_and_work_items() {
        let all = Target::all();
        assert!(all.contains(&Target::Mail) && all.contains(&Target::Worktrees));
        assert!(!all.contains(&Target::Events) && !all.contains(&Target::Tasks));
    }

    #[test]
    fn the_wal_goes_first_and_the_database_last() {
        let files = database_files(Path::new("/p/.legio/mail.db"));
        assert_eq!(
            files,
            [
                PathBuf::from("/p/.legio/mail.db-wal"),
                PathBuf::from("/p/.legio/mail.db-shm"),
                PathBuf::from("/p/.legio/mail.db"),
            ]
        );
    }

    #[test]
    fn busy_messages_name_what_runs() {
        let e = CleanError::Busy {
            watchdog: Some(42),
            agents: vec!["b1".into(), "b2".into()],
        };
        assert_eq!(
            e.to_string(),
            "refusing to wipe legio's state while the watchdog runs (pid 42) and 2 agents run (b1, b2); nothing was changed"
        );
        let e = CleanError::Busy {
            watchdog: None,
            agents: vec!["b1".into()],
        };
        assert!(e.to_string().contains("while agent b1 runs;"), "{e}");
    }

    #[test]
    fn long_lists_are_shortened() {
        let items: Vec<String> = (1..=5).map(|i| format!("f{i}")).collect();
        assert_eq!(list_some(&items), "f1, f2, f3 and 2 more");
        assert_eq!(list_some(&items[..2]), "f1, f2");
    }
}
