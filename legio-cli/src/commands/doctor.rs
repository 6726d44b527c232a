//! `legio doctor [--category C]... [--fix] [--verbose]`: checks the project's health
//! (`legio_core::ops::doctor`), repairs what is safe with `--fix`, prints the checks grouped by
//! category (or `--json`), and exits with status 1 iff a failure remains.
//!
//! Without `--fix` nothing is written: databases are inspected read-only and opened as stores
//! only when already at this binary's schema (opening an older one would migrate it).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use legio_core::config::{self, Config};
use legio_core::ops::doctor::{
    self, Category, Check, DatabaseHealth, Doctor, Host, JournalFacts, LockState, Report, Status,
    ToolRun,
};
use legio_core::ports::{MergeQueue, SessionStore, StoreError, Worktrees};
use legio_merge::GitWorktrees;
use legio_store::{DbFile, SqliteMergeQueue, SqliteSessionStore};
use legio_tmux::ProcfsProbe;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, RED, YELLOW, paint};

use super::machine;

/// How long a version query may take before it counts as failed.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// `legio doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only these categories (repeatable).
    #[arg(long, value_enum)]
    pub category: Vec<CategoryArg>,
    /// Repair what is safe to repair (stale pid files, orphan sessions on legio's own socket,
    /// git entries of vanished worktrees, missing directories, .gitignore lines, manifest and
    /// role definitions) and say what was done.
    #[arg(long)]
    pub fix: bool,
    /// Show the details of passing checks too.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Categories on the command line (legio 0.1.0's `consistency` and `agents` are accepted
/// for the checks that replaced them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CategoryArg {
    /// git, tmux, the agent runtime, optional tools.
    Dependencies,
    /// The configuration files.
    Config,
    /// The SQLite files.
    Databases,
    /// The .legio/ layout, manifest and role definitions.
    #[value(alias = "agents")]
    Structure,
    /// Worktrees, branches and sessions nothing accounts for.
    #[value(alias = "consistency")]
    Orphans,
    /// Pid files, merge locks and journals.
    Locks,
    /// Claude Code hook settings.
    Hooks,
}

impl From<CategoryArg> for Category {
    fn from(c: CategoryArg) -> Self {
        match c {
            CategoryArg::Dependencies => Category::Dependencies,
            CategoryArg::Config => Category::Config,
            CategoryArg::Databases => Category::Databases,
            CategoryArg::Structure => Category::Structure,
            CategoryArg::Orphans => Category::Orphans,
            CategoryArg::Locks => Category::Locks,
            CategoryArg::Hooks => Category::Hooks,
        }
    }
}

/// Runs `legio doctor`.
pub fn run(args: &DoctorArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let loaded = config::load(&layout);
    let config = match &loaded {
        Ok(l) => l.config.clone(),
        Err(_) => Config::for_root(layout.root()),
    };
    let host = RealHost {
        path: ctx.env.path.clone(),
    };
    let sessions = store_at_current_schema(&host, &layout.sessions_db(), |p| {
        SqliteSessionStore::open(p)
    });
    let queue = store_at_current_schema(&host, &layout.merge_queue_db(), |p| {
        SqliteMergeQueue::open(p)
    });
    let repo = GitWorktrees::open(layout.root()).ok();
    let mux = machine::multiplexer(&layout, &config);
    let doctor = Doctor {
        layout: &layout,
        config: &loaded,
        host: &host,
        worktrees: repo.as_ref().map(|r| r as &dyn Worktrees),
        mux: mux.as_ref(),
        probe: &ProcfsProbe,
        sessions: sessions.as_ref().map(|s| s as &dyn SessionStore),
        merge_queue: queue.as_ref().map(|q| q as &dyn MergeQueue),
    };
    let categories: Vec<Category> = args.category.iter().map(|c| (*c).into()).collect();
    let mut checks = doctor::diagnose(&doctor, &categories);
    if args.fix {
        doctor::repair(&doctor, &mut checks);
    }
    let report = Report::new(checks);
    if out.json_mode() {
        out.json(&report)?;
    } else {
        print_human(&report, args.verbose, out);
    }
    if report.failed() {
        let fails = report.summary.fail;
        return Err(CliError::failure(format!(
            "doctor found {fails} {}",
            if fails == 1 { "failure" } else { "failures" }
        )));
    }
    Ok(())
}

/// Opens the store at `path` only if its file is at this binary's schema and healthy, so that
/// looking never migrates or creates anything.
fn store_at_current_schema<T>(
    host: &RealHost,
    path: &Path,
    open: impl FnOnce(&Path) -> Result<T, StoreError>,
) -> Option<T> {
    match host.inspect_database(path) {
        DatabaseHealth::Opened {
            schema_version,
            known_version,
            problems,
            ..
        } if schema_version == known_version && problems.is_empty() => open(path).ok(),
        _ => None,
    }
}

fn print_human(report: &Report, verbose: bool, out: &mut Printer) {
    out.line(paint(BOLD, "legio doctor"));
    let mut current: Option<Category> = None;
    for check in &report.checks {
        if current != Some(check.category) {
            current = Some(check.category);
            out.line("");
            out.line(paint(BOLD, check.category));
        }
        print_check(check, verbose, out);
    }
    out.line("");
    let s = report.summary;
    let mut summary = format!(
        "Summary: {} passed, {} {}, {} {}",
        s.pass,
        s.warn,
        if s.warn == 1 { "warning" } else { "warnings" },
        s.fail,
        if s.fail == 1 { "failure" } else { "failures" },
    );
    if s.fixed > 0 {
        summary.push_str(", ");
        summary.push_str(&s.fixed.to_string());
        summary.push_str(" fixed");
    }
    out.line(summary);
    let fixable = report
        .checks
        .iter()
        .filter(|c| c.fixable && !c.fixed && c.status != Status::Pass)
        .count();
    if fixable > 0 {
        out.line(format!(
            "{} `legio doctor --fix` repairs {fixable} of these safely",
            paint(DIM, "hint:")
        ));
    }
}

fn print_check(check: &Check, verbose: bool, out: &mut Printer) {
    let (mark, message) = if check.fixed {
        (paint(GREEN, "✔"), format!("fixed: {}", check.message))
    } else {
        let mark = match check.status {
            Status::Pass => paint(GREEN, "✔"),
            Status::Warn => paint(YELLOW, "⚠"),
            Status::Fail => paint(RED, "✘"),
        };
        (mark, check.message.clone())
    };
    out.line(format!("  {mark} {message}"));
    if verbose || check.status != Status::Pass {
        for d in &check.details {
            out.line(format!("      {}", paint(DIM, d)));
        }
    }
}

/// The real machine.
struct RealHost {
    path: Option<std::ffi::OsString>,
}

impl Host for RealHost {
    fn run_tool(&self, program: &str, args: &[&str]) -> ToolRun {
        let mut child = match Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ToolRun::NotFound,
            Err(e) => return ToolRun::Failed(format!("cannot start it: {e}")),
        };
        let deadline = Instant::now() + TOOL_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return ToolRun::Failed(format!(
                        "no answer within {} s",
                        TOOL_TIMEOUT.as_secs()
                    ));
                }
                Err(e) => return ToolRun::Failed(e.to_string()),
            }
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_string(&mut stdout);
        }
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut stderr);
        }
        let first = |text: &str| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        };
        if status.success() {
            ToolRun::Ran(
                first(&stdout)
                    .or_else(|| first(&stderr))
                    .unwrap_or_default(),
            )
        } else {
            let code = status
                .code()
                .map_or_else(|| "a signal".to_owned(), |c| format!("status {c}"));
            ToolRun::Failed(match first(&stderr) {
                Some(line) => format!("exit {code}: {line}"),
                None => format!("exit {code}"),
            })
        }
    }

    fn find_program(&self, program: &str) -> Option<PathBuf> {
        let executable = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if program.contains('/') {
            let p = PathBuf::from(program);
            return executable(&p).then_some(p);
        }
        std::env::split_paths(self.path.as_deref()?)
            .map(|dir| dir.join(program))
            .find(|p| executable(p))
    }

    fn inspect_database(&self, path: &Path) -> DatabaseHealth {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(file) = DbFile::from_file_name(name) else {
            return DatabaseHealth::Unusable(format!("{name} is not one of legio's databases"));
        };
        match legio_store::inspect(path, file) {
            Ok(None) => DatabaseHealth::Missing,
            Ok(Some(i)) => DatabaseHealth::Opened {
                schema_version: i.schema_version,
                known_version: i.known_version,
                journal_mode: i.journal_mode,
                problems: i.problems,
            },
            Err(StoreError::Corrupt { reason, .. } | StoreError::Open { reason, .. }) => {
                DatabaseHealth::Unusable(reason)
            }
            Err(e) => DatabaseHealth::Unusable(e.to_string()),
        }
    }

    fn merge_lock(&self, path: &Path) -> LockState {
        use rustix::fs::{FlockOperation, flock};
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockState::Free,
            Err(e) => return LockState::Unknown(e.to_string()),
        };
        match flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let _ = flock(&file, FlockOperation::Unlock);
                LockState::Free
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                LockState::Held(text.trim().parse().ok())
            }
            Err(e) => LockState::Unknown(e.to_string()),
        }
    }

    fn merge_journal(&self, path: &Path) -> Result<JournalFacts, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let j: legio_merge::Journal = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let phase = serde_json::to_value(j.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(JournalFacts {
            pid: j.pid,
            branch: j.branch,
            target: j.target,
            phase,
        })
    }
}
