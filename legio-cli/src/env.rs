//! The process environment, read in exactly one place.
//!
//! Everything else receives these values; `clippy.toml` forbids `std::env::var` elsewhere.

use std::ffi::OsString;
use std::path::PathBuf;

/// What legio reads from its environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `LEGIO_AGENT_NAME`: set in every agent's session; hooks default `--agent` to it.
    pub agent_name: Option<String>,
    /// `LEGIO_ROOT`: the project root, set in every agent's session.
    pub root: Option<PathBuf>,
    /// `LEGIO_CAPABILITY`: the agent's role, a fallback when its session row is missing.
    pub capability: Option<String>,
    /// `LEGIO_WORKTREE_PATH`: the agent's worktree.
    pub worktree: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `NO_COLOR` present (any value).
    pub no_color: bool,
    /// `FORCE_COLOR` set and not `0`.
    pub force_color: bool,
    /// `IS_SANDBOX=1`: Claude Code accepts skipping permissions as root.
    pub is_sandbox: bool,
    /// `ANTHROPIC_BASE_URL`, `ANTHROPIC_AUTH_TOKEN`, `ANTHROPIC_API_KEY` when set and non-empty,
    /// passed on to agents.
    pub provider: Vec<(String, String)>,
    /// `TMUX`: inside a tmux client.
    pub inside_tmux: bool,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `LEGIO_FAILPOINT`, **for tests only**: `sling:<step>` or `start:<step>` makes that spawn
    /// fail right after the step, to prove that a failure anywhere leaves nothing behind;
    /// `merge:<phase>` pauses `legio merge` at that phase until the process is killed
    /// (crash-recovery tests).
    pub failpoint: Option<String>,
    /// `CLAUDE_CONFIG_DIR`: where Claude Code keeps its data instead of `~/.claude`.
    pub claude_config_dir: Option<PathBuf>,
    /// `LEGIO_TEST_NOW`: a fixed "now" (ISO 8601), for tests and reproducible output.
    pub fixed_now: Option<String>,
    /// The process runs as root (uid 0; read from `/proc/self`, not a variable).
    pub running_as_root: bool,
    /// The directory for temporary files (`$TMPDIR`, else `/tmp`), where `legio demo` makes
    /// its scratch directory.
    pub temp_dir: PathBuf,
}

fn non_empty(name: &str) -> Option<String> {
    #[allow(clippy::disallowed_methods)] // this module is the one place that reads the environment
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Env {
    /// Reads the current process environment.
    pub fn capture() -> Self {
        #[allow(clippy::disallowed_methods)]
        // this module is the one place that reads the environment
        let present = |name: &str| std::env::var_os(name).is_some();
        let provider = [
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_API_KEY",
        ]
        .into_iter()
        .filter_map(|k| non_empty(k).map(|v| (k.to_owned(), v)))
        .collect();
        #[allow(clippy::disallowed_methods)]
        // this module is the one place that reads the environment
        let path = std::env::var_os("PATH");
        Self {
            agent_name: non_empty("LEGIO_AGENT_NAME"),
            root: non_empty("LEGIO_ROOT").map(PathBuf::from),
            capability: non_empty("LEGIO_CAPABILITY"),
            worktree: non_empty("LEGIO_WORKTREE_PATH").map(PathBuf::from),
            home: non_empty("HOME").map(PathBuf::from),
            no_color: present("NO_COLOR"),
            force_color: non_empty("FORCE_COLOR").is_some_and(|v| v != "0"),
            is_sandbox: non_empty("IS_SANDBOX").is_some_and(|v| v == "1"),
            provider,
            inside_tmux: present("TMUX"),
            path,
            failpoint: non_empty("LEGIO_FAILPOINT"),
            claude_config_dir: non_empty("CLAUDE_CONFIG_DIR").map(PathBuf::from),
            fixed_now: non_empty("LEGIO_TEST_NOW"),
            running_as_root: std::fs::metadata("/proc/self")
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0),
            temp_dir: std::env::temp_dir(),
        }
    }
}
