//! `legio doctor`: what is wrong with a project, and the repairs that are safe to make.
//!
//! [`diagnose`] runs the checks of each [`Category`] against the ports and a [`Host`] (the few
//! machine facts the ports do not cover: tool versions, database files, merge locks). It reads
//! and never writes: a missing database is reported, not created; a vanished agent is
//! reported, not marked zombie (that is the watchdog's job). Each [`Check`] may carry
//! [`Fix`]es; [`repair`] applies them (`--fix`) and says what it did. A fix is offered only
//! when it loses nothing:
//!
//! - remove a pid file whose process is gone (re-read just before removal);
//! - kill a multiplexer session on legio's own socket that no active agent owns (re-checked
//!   against the session store just before the kill);
//! - forget a git worktree whose directory is gone (its branch is kept);
//! - re-create missing directories, the agent manifest and role definitions (never over an
//!   existing file), and add missing lines to `.legio/.gitignore` (keeping the rest).
//!
//! Never fixed here: branches, worktrees that exist, databases, the configuration, merge
//! journals (the next `legio merge` needs them to recover), agent states.
//!
//! Categories, each in its own module: [`dependencies`], [`configuration`], [`databases`],
//! [`structure`], [`orphans`], [`locks`], [`hooks`].

pub mod configuration;
pub mod databases;
pub mod dependencies;
pub mod hooks;
pub mod locks;
pub mod orphans;
pub mod structure;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError, Loaded};
use crate::domain::string_enum;
use crate::layout::Layout;
use crate::ops::checkpoint::write_atomic;
use crate::ops::pidfile::{self, PidFile};
use crate::ports::git::{BranchDisposal, RemoveOptions};
use crate::ports::{MergeQueue, Multiplexer, ProcessProbe, SessionStore, Worktrees};

string_enum! {
    /// A group of checks (`legio doctor --category`).
    pub enum Category ("doctor category") {
        /// git, tmux, the agent runtime, optional tools.
        Dependencies => "dependencies",
        /// `.legio/config.yaml` (and `config.local.yaml`).
        Config => "config",
        /// Each SQLite file: integrity, schema version, WAL.
        Databases => "databases",
        /// The `.legio/` layout, `.gitignore`, the manifest and role definitions.
        Structure => "structure",
        /// Worktrees, branches and sessions nothing accounts for.
        Orphans => "orphans",
        /// Pid files, merge locks and merge journals left by processes.
        Locks => "locks",
        /// Claude Code settings that call legio's hooks.
        Hooks => "hooks",
    }
}

string_enum! {
    /// The outcome of a check.
    pub enum Status ("check status") {
        /// Healthy.
        Pass => "pass",
        /// Worth knowing; legio works.
        Warn => "warn",
        /// Broken; something will not work until it is repaired.
        Fail => "fail",
    }
}

/// A safe repair, applied by [`repair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Remove a pid file that still holds `text` and whose pid does not run.
    RemoveStalePidFile {
        /// The file.
        path: PathBuf,
        /// Its content when diagnosed, trimmed.
        text: String,
    },
    /// Kill a multiplexer session, unless an active agent owns it by then.
    KillSession {
        /// The session name.
        name: String,
    },
    /// Forget a git worktree whose directory is gone, keeping its branch.
    PruneWorktree {
        /// Where the worktree was.
        path: PathBuf,
    },
    /// Create a missing directory.
    CreateDir {
        /// The directory.
        path: PathBuf,
    },
    /// Create a missing file (never replaces an existing one).
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Its content.
        text: String,
    },
    /// Append a block of lines to a text file unless it holds them all already, keeping
    /// everything in it. The block is appended whole, so its order holds after whatever the
    /// file said before (in a `.gitignore`, a later `!path` overrides an earlier `*`).
    AppendLines {
        /// The file.
        path: PathBuf,
        /// The lines it must contain, in order.
        lines: Vec<String>,
    },
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// A stable identifier (`tmux`, `sessions.db`, `orphan-worktrees`).
    pub name: String,
    /// Its group.
    pub category: Category,
    /// Its outcome when diagnosed.
    pub status: Status,
    /// One line for a person.
    pub message: String,
    /// Supporting lines (one per item found, what to do).
    pub details: Vec<String>,
    /// Whether `--fix` can repair it.
    pub fixable: bool,
    /// Whether `--fix` repaired it.
    pub fixed: bool,
    #[serde(skip)]
    fixes: Vec<Fix>,
    #[serde(skip)]
    fixed_message: String,
}

impl Check {
    /// A check with `status`.
    pub fn new(
        category: Category,
        name: impl Into<String>,
        status: Status,
        message: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            category,
            status,
            message: message.into(),
            details: Vec::new(),
            fixable: false,
            fixed: false,
            fixes: Vec::new(),
            fixed_message: String::new(),
        }
    }

    /// A passing check.
    pub fn pass(category: Category, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(category, name, Status::Pass, message)
    }

    /// A warning.
    pub fn warn(category: Category, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(category, name, Status::Warn, message)
    }

    /// A failure.
    pub fn fail(category: Category, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(category, name, Status::Fail, message)
    }

    /// Adds supporting lines.
    #[must_use]
    pub fn details(mut self, details: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.details.extend(details.into_iter().map(Into::into));
        self
    }

    /// Offers repairs; `done` is the message once they all succeeded.
    #[must_use]
    pub fn fix(mut self, fixes: Vec<Fix>, done: impl Into<String>) -> Self {
        self.fixable = !fixes.is_empty();
        self.fixes = fixes;
        self.fixed_message = done.into();
        self
    }

    /// The repairs offered.
    pub fn fixes(&self) -> &[Fix] {
        &self.fixes
    }
}

/// Counts of checks by outcome; warnings and failures that were fixed count as fixed only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warnings left.
    pub warn: usize,
    /// Failures left.
    pub fail: usize,
    /// Problems repaired by `--fix`.
    pub fixed: usize,
}

/// Every check of a run and their summary (the `--json` document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The checks, by category then in the order they ran.
    pub checks: Vec<Check>,
    /// The counts.
    pub summary: Summary,
}

impl Report {
    /// The report of `checks`.
    pub fn new(checks: Vec<Check>) -> Self {
        let mut summary = Summary::default();
        for c in &checks {
            match (c.fixed, c.status) {
                (true, _) => summary.fixed += 1,
                (false, Status::Pass) => summary.pass += 1,
                (false, Status::Warn) => summary.warn += 1,
                (false, Status::Fail) => summary.fail += 1,
            }
        }
        Self { checks, summary }
    }

    /// Whether a failure remains (doctor then exits with status 1).
    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }
}

/// What running a tool for its version gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRun {
    /// The program is not installed or not on PATH.
    NotFound,
    /// It ran and exited with status 0; its first non-empty output line.
    Ran(String),
    /// It ran and failed, or could not be started for another reason.
    Failed(String),
}

/// What a database file looks like, inspected without creating or changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseHealth {
    /// There is no file.
    Missing,
    /// The file cannot be used (not a database, unreadable, damaged header); why.
    Unusable(String),
    /// The file opened.
    Opened {
        /// Its `PRAGMA user_version`.
        schema_version: i64,
        /// The version this legio writes.
        known_version: i64,
        /// Its journal mode (`wal` expected).
        journal_mode: String,
        /// What `PRAGMA integrity_check` reported; empty when healthy.
        problems: Vec<String>,
    },
}

/// Whether a merge lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Nobody holds it.
    Free,
    /// A running `legio merge` holds it (the pid written in the file, when readable).
    Held(Option<u32>),
    /// It could not be tested; why.
    Unknown(String),
}

/// What a merge journal says (see `legio_merge::Journal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFacts {
    /// The merging process.
    pub pid: u32,
    /// The branch being merged.
    pub branch: String,
    /// The target branch.
    pub target: String,
    /// The last step it reached.
    pub phase: String,
}

/// The facts doctor needs that the ports do not give: implemented by the CLI on the real
/// machine, by a fake in tests.
pub trait Host {
    /// Runs `program args` (a version query) and reports what happened.
    fn run_tool(&self, program: &str, args: &[&str]) -> ToolRun;

    /// Where `program` resolves (a path, or a name searched on PATH), if it is an executable.
    fn find_program(&self, program: &str) -> Option<PathBuf>;

    /// Inspects the database file at `path` without creating or changing it.
    fn inspect_database(&self, path: &Path) -> DatabaseHealth;

    /// Whether the merge lock at `path` is held.
    fn merge_lock(&self, path: &Path) -> LockState;

    /// Reads the merge journal at `path`.
    fn merge_journal(&self, path: &Path) -> Result<JournalFacts, String>;
}

/// Everything doctor looks at.
pub struct Doctor<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// The configuration as loaded (doctor reports an error and goes on with the defaults).
    pub config: &'a Result<Loaded, ConfigError>,
    /// Machine facts.
    pub host: &'a dyn Host,
    /// The repository; `None` when it could not be opened (reported by the caller).
    pub worktrees: Option<&'a dyn Worktrees>,
    /// legio's multiplexer for this project (its own tmux socket, or headless records).
    pub mux: &'a dyn Multiplexer,
    /// Process liveness.
    pub probe: &'a dyn ProcessProbe,
    /// `sessions.db`, when it exists and opened.
    pub sessions: Option<&'a dyn SessionStore>,
    /// `merge-queue.db`, when it exists and opened.
    pub merge_queue: Option<&'a dyn MergeQueue>,
}

impl Doctor<'_> {
    /// `path` relative to the project root, for messages.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.layout.root())
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Runs the checks of `categories` (all of them when empty), in [`Category::ALL`] order.
pub fn diagnose(doctor: &Doctor<'_>, categories: &[Category]) -> Vec<Check> {
    let fallback;
    let config = if let Ok(loaded) = doctor.config {
        &loaded.config
    } else {
        fallback = Config::for_root(doctor.layout.root());
        &fallback
    };
    let mut checks = Vec::new();
    for &category in Category::ALL {
        if !categories.is_empty() && !categories.contains(&category) {
            continue;
        }
        match category {
            Category::Dependencies => dependencies::check(doctor, config, &mut checks),
            Category::Config => configuration::check(doctor, config, &mut checks),
            Category::Databases => databases::check(doctor, &mut checks),
            Category::Structure => structure::check(doctor, config, &mut checks),
            Category::Orphans => orphans::check(doctor, config, &mut checks),
            Category::Locks => locks::check(doctor, &mut checks),
            Category::Hooks => hooks::check(doctor, &mut checks),
        }
    }
    checks
}

/// Applies the fixes of every check that offers some. A check is marked fixed only when all
/// its fixes succeeded; otherwise what was done and what failed is added to its details.
pub fn repair(doctor: &Doctor<'_>, checks: &mut [Check]) {
    let target = match doctor.config {
        Ok(loaded) => loaded.config.project.canonical_branch.clone(),
        Err(_) => Config::default().project.canonical_branch,
    };
    for check in checks.iter_mut().filter(|c| c.fixable && !c.fixed) {
        let mut failures = Vec::new();
        for fix in &check.fixes {
            if let Err(why) = apply(doctor, fix, &target) {
                failures.push(why);
            }
        }
        if failures.is_empty() {
            check.fixed = true;
            check.message = std::mem::take(&mut check.fixed_message);
        } else {
            check
                .details
                .extend(failures.into_iter().map(|f| format!("not fixed: {f}")));
        }
    }
}

fn apply(doctor: &Doctor<'_>, fix: &Fix, merge_target: &str) -> Result<(), String> {
    let io = |doing: &str, path: &Path, e: std::io::Error| {
        format!("cannot {doing} {}: {e}", doctor.rel(path))
    };
    match fix {
        Fix::RemoveStalePidFile { path, text } => {
            let now = pidfile::read(path).map_err(|e| io("read", path, e))?;
            let unchanged = match &now {
                PidFile::Absent => return Ok(()),
                PidFile::Pid(pid) => *text == pid.to_string() && !doctor.probe.is_alive(*pid),
                PidFile::Invalid(t) => t == text,
            };
            if !unchanged {
                return Err(format!(
                    "{} changed since it was checked (a process may have started); left it",
                    doctor.rel(path)
                ));
            }
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io("remove", path, e)),
            }
        }
        Fix::KillSession { name } => {
            if let Some(store) = doctor.sessions {
                let active = store.list_active().map_err(|e| e.to_string())?;
                if active.iter().any(|s| &s.tmux_session == name) {
                    return Err(format!(
                        "session {name} now belongs to an active agent; left it"
                    ));
                }
            }
            doctor.mux.kill(name).map_err(|e| e.to_string())
        }
        Fix::PruneWorktree { path } => {
            if path.exists() {
                return Err(format!(
                    "{} exists again; left the worktree alone",
                    doctor.rel(path)
                ));
            }
            let Some(worktrees) = doctor.worktrees else {
                return Err("the repository could not be opened".into());
            };
            let options = RemoveOptions {
                force_dirty: false,
                branch: BranchDisposal::Keep,
                merge_target: merge_target.to_owned(),
            };
            worktrees
                .remove(path, &options)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Fix::CreateDir { path } => std::fs::create_dir_all(path).map_err(|e| io("create", path, e)),
        Fix::CreateFile { path, text } => {
            if path.exists() {
                return Err(format!(
                    "{} exists now; left it unchanged",
                    doctor.rel(path)
                ));
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
            }
            write_atomic(path, text).map_err(|e| io("write", path, e))
        }
        Fix::AppendLines { path, lines } => {
            let current = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(io("read", path, e)),
            };
            if missing_lines(&current, lines).is_empty() {
                return Ok(());
            }
            let mut text = current;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
            write_atomic(path, &text).map_err(|e| io("write", path, e))
        }
    }
}

/// The lines of `wanted` that `text` does not contain as whole lines (trimmed), in order.
pub fn missing_lines<'w>(text: &str, wanted: &'w [String]) -> Vec<&'w str> {
    wanted
        .iter()
        .map(String::as_str)
        .filter(|w| !text.lines().any(|l| l.trim() == w.trim()))
        .collect()
}

/// "1 agent" / "2 agents".
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
