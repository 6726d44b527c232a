//! The agent runtime port: how one kind of agent CLI is launched, prepared and asked questions.
//!
//! Implementations: `claude` (Claude Code) and `script` (a configured command; tests and the
//! demo). They live in `legio-tmux` beside the process backends.
//!
//! A runtime only says *what* to run; a [`Multiplexer`](super::Multiplexer) runs it. Readiness
//! is read from what the session shows ([`AgentRuntime::readiness`]); a headless session is
//! ready as soon as its process runs.

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
    /// Whether the first prompt is already on the command line (`true`: do not type it) or
    /// must be typed in once the session is ready (`false`; headless: written to its input
    /// as [`AgentRuntime::headless_line`]).
    pub prompt_in_argv: bool,
}

/// A one-shot question (triage, AI merge resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneShot {
    /// The prompt (passed on stdin, never argv).
    pub prompt: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// The model to ask, when the runtime has models; `None` leaves the runtime's default.
    pub model: Option<String>,
    /// Give up after this long (the process is killed).
    pub timeout: Duration,
}

/// What a session's screen says about the agent's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Still starting: nothing typed now would be read as a prompt.
    Starting,
    /// Waiting for input (possibly working on a turn, with input queued).
    Ready,
    /// Stopped at a question only a person can answer (a trust or login dialog). The text says
    /// what it is and what to do; typing a prompt now would answer the dialog instead.
    Blocked(String),
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
    /// The process could not be started.
    #[error("cannot start {program}: {source}")]
    Launch {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The process answered, but not in the expected form.
    #[error("{program} gave an answer legio cannot use: {problem}")]
    BadOutput {
        /// The program.
        program: String,
        /// What was wrong with it (with an excerpt).
        problem: String,
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

    /// What a screen capture of an interactive session says about the agent's input.
    fn readiness(&self, screen: &str) -> Readiness;

    /// Whether a screen capture shows the agent ready for input.
    fn is_ready(&self, screen: &str) -> bool {
        self.readiness(screen) == Readiness::Ready
    }

    /// The line to write to a headless session's input to give it `text` as a prompt. The
    /// default is the text itself; runtimes with a structured input format wrap it.
    fn headless_line(&self, text: &str) -> String {
        text.to_owned()
    }

    /// Runs a one-shot prompt and returns the answer text.
    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError>;
}
