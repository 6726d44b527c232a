//! The agent runtime port: how one kind of agent CLI is launched, prepared and asked questions.
//!
//! Implementations: `claude` (Claude Code) and `script` (a configured command; tests and the
//! demo). They live in `legio-tmux` beside the process backends.

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::agent::Capability;
use crate::names::AgentName;

/// What a runtime needs to launch an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchContext {
    /// The agent.
    pub agent: AgentName,
    /// Its role.
    pub capability: Capability,
    /// The project root.
    pub root: PathBuf,
    /// Where it works (worktree or root).
    pub cwd: PathBuf,
    /// The model (alias or id).
    pub model: String,
    /// The role definition text, for runtimes that take a system prompt.
    pub system_prompt: Option<String>,
    /// The absolute path of the running legio binary (hooks call it).
    pub legio_bin: PathBuf,
    /// Environment every agent gets (LEGIO_AGENT_NAME, LEGIO_ROOT, provider variables, ...).
    pub env: Vec<(String, String)>,
    /// Whether the process runs as root (uid 0).
    pub running_as_root: bool,
    /// Whether IS_SANDBOX=1 is set (Claude Code then accepts skip-permissions as root).
    pub sandboxed: bool,
    /// Headless (no terminal) instead of an interactive session.
    pub headless: bool,
}

/// How to start the agent process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Variables to remove (e.g. Claude Code's nesting markers).
    pub env_remove: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Whether the first prompt goes on the command line (`true`) or is typed in (`false`).
    pub prompt_in_argv: bool,
}

/// A one-shot question (triage, AI merge resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneShot {
    /// The prompt (passed on stdin, never argv).
    pub prompt: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The agent CLI is not installed.
    #[error("{program} is not installed or not on PATH; {hint}")]
    NotInstalled {
        /// The program.
        program: String,
        /// What to do.
        hint: String,
    },
    /// The runtime refuses this situation (e.g. root without IS_SANDBOX=1).
    #[error("{0}")]
    Refused(String),
    /// A one-shot call took too long.
    #[error("{program} did not answer within {} s", timeout.as_secs())]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        timeout: Duration,
    },
    /// The process failed.
    #[error("{program} failed (exit {code:?}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit code.
        code: Option<i32>,
        /// The end of its stderr.
        stderr: String,
    },
    /// Writing the agent's settings failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A runtime name that is not configured.
    #[error("unknown agent runtime {0:?}; known: claude, script")]
    Unknown(String),
}

/// One kind of agent CLI.
pub trait AgentRuntime {
    /// `claude`, `script`, ...
    fn name(&self) -> &str;

    /// How to start the agent.
    fn launch_plan(
        &self,
        ctx: &LaunchContext,
        first_prompt: &str,
    ) -> Result<LaunchPlan, RuntimeError>;

    /// Whether a screen capture shows the agent ready for input.
    fn is_ready(&self, screen: &str) -> bool;

    /// Runs a one-shot prompt and returns the answer text.
    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError>;
}
