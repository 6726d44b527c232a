//! What every command needs: the environment, the working directory, the clock, and the
//! project (its layout, resolved from any directory including an agent's worktree).

use std::path::{Path, PathBuf};

use legio_core::config::Config;
use legio_core::layout::find_project_root;
use legio_core::time::Clock;
use legio_core::{Layout, SystemClock, Timestamp};

use crate::env::Env;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// The context of one legio invocation.
pub struct Ctx<'a> {
    /// The process environment.
    pub env: &'a Env,
    /// Where legio was started (or `-C DIR`).
    pub cwd: PathBuf,
    /// Whether `-C DIR` / `--dir DIR` was given.
    pub dir_given: bool,
    /// The clock.
    pub clock: CliClock,
}

/// The system clock, or the fixed instant `$LEGIO_TEST_NOW` names (tests, reproducible output).
#[derive(Debug, Clone, Copy, Default)]
pub struct CliClock(Option<Timestamp>);

impl Clock for CliClock {
    fn now(&self) -> Timestamp {
        self.0.unwrap_or_else(|| SystemClock.now())
    }
}

impl<'a> Ctx<'a> {
    /// A context rooted at `dir` (default: the current directory).
    pub fn new(env: &'a Env, dir: Option<PathBuf>) -> CliResult<Self> {
        let dir_given = dir.is_some();
        let cwd = match dir {
            Some(d) => d,
            None => std::env::current_dir().map_err(|e| {
                CliError::failure(format!("cannot read the current directory: {e}"))
            })?,
        };
        let cwd = std::fs::canonicalize(&cwd)
            .map_err(|e| CliError::usage(format!("cannot use directory {}: {e}", cwd.display())))?;
        let fixed = env
            .fixed_now
            .as_deref()
            .map(|t| {
                Timestamp::parse(t).map_err(|e| CliError::usage(format!("LEGIO_TEST_NOW: {e}")))
            })
            .transpose()?;
        Ok(Self {
            env,
            cwd,
            dir_given,
            clock: CliClock(fixed),
        })
    }

    /// The git repository root legio works in, found without running git: `$LEGIO_ROOT` when
    /// set (agents), else the main checkout of the repository containing the working directory.
    pub fn repo_root(&self) -> CliResult<PathBuf> {
        if let Some(root) = &self.env.root {
            return Ok(root.clone());
        }
        find_project_root(&self.cwd).ok_or_else(|| {
            CliError::failure(format!(
                "{} is not inside a git repository",
                self.cwd.display()
            ))
            .hint("run `git init` first, or `cd` into your repository")
        })
    }

    /// The initialised project: its root must hold `.legio/`.
    pub fn project(&self) -> CliResult<Layout> {
        let root = self.repo_root()?;
        let layout = Layout::new(root);
        if !layout.legio_dir().is_dir() {
            return Err(not_initialised(layout.root()));
        }
        Ok(layout)
    }
}

/// Loads the project's configuration, printing its warnings (unknown keys, renamed keys).
pub fn load_config(layout: &Layout, out: &mut Printer) -> CliResult<Config> {
    let loaded = legio_core::config::load(layout).map_err(|e| {
        CliError::failure(e.to_string()).hint(format!(
            "fix {} (or config.local.yaml beside it)",
            layout.config().display()
        ))
    })?;
    for w in &loaded.warnings {
        out.warn(w.to_string());
    }
    Ok(loaded.config)
}

/// The error for a repository without `.legio/`.
pub fn not_initialised(root: &Path) -> CliError {
    CliError::failure(format!(
        "{} is not a legio project (no .legio/ directory)",
        root.display()
    ))
    .hint("run `legio init` in the repository first")
}
