//! The terminal multiplexer port: where agent processes run and how text reaches them.
//!
//! `legio-tmux` implements it on tmux (a dedicated socket per project) and as plain detached
//! processes (headless). Implementations take argv, never a shell string, and only ever touch
//! sessions they created.
//!
//! A session outlives its process: when the agent exits, the session stays listed with
//! `running: false` (and its exit code when known) until it is killed. So "the process exited"
//! (listed, not running) and "the session is gone" (not listed) are different observations,
//! and the watchdog can tell a crash from a session someone removed.

use std::path::PathBuf;

/// A session to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The session name (already tmux-safe: `[A-Za-z0-9_-]`).
    pub name: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// The program and its arguments, executed directly (no shell). Must not be empty.
    pub argv: Vec<String>,
    /// Environment to set, on top of the backend's base environment.
    pub env: Vec<(String, String)>,
    /// Variables to remove from the base environment (e.g. Claude Code's nesting markers).
    pub env_remove: Vec<String>,
    /// Where to keep the session's output (headless: stdout and stderr; tmux: the pane's
    /// output through pipe-pane). Headless without it writes beside its session record.
    pub log_path: Option<PathBuf>,
}

/// A session, as the backend sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxSession {
    /// Its name.
    pub name: String,
    /// The pid of the process running in it (the pane's process), while it runs.
    pub pid: Option<u32>,
    /// False when the session exists but its process has exited.
    pub running: bool,
    /// How the process ended, when it has and the backend knows (tmux always; headless when
    /// the creating legio process was still alive to see it).
    pub exit_code: Option<i32>,
}

/// Why a multiplexer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// The backend program is missing (tmux not installed).
    #[error(
        "{program} is not installed or not on PATH; install it (e.g. `apt-get install {program}`) or use --headless"
    )]
    NotInstalled {
        /// The program.
        program: String,
    },
    /// No such session.
    #[error("no session named {0:?}")]
    NoSuchSession(String),
    /// The session exists but its process has exited, so nothing can reach it.
    #[error("session {0:?} exists but its process has exited; kill it and start the agent again")]
    NotRunning(String),
    /// A session with this name already exists.
    #[error("a session named {0:?} already exists (running or exited); kill it first")]
    AlreadyExists(String),
    /// The session spec cannot be honoured as given.
    #[error("cannot create session {name:?}: {problem}")]
    InvalidSpec {
        /// The session name.
        name: String,
        /// What is wrong, in words the caller can act on.
        problem: String,
    },
    /// The backend reported an error.
    #[error("{operation} failed: {detail}")]
    Failed {
        /// What was being done.
        operation: String,
        /// What the backend said.
        detail: String,
    },
    /// An I/O error (headless backend files, running the backend program).
    #[error("{operation}: {source}")]
    Io {
        /// What was being done.
        operation: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Where agents run.
pub trait Multiplexer {
    /// `tmux` or `headless`.
    fn kind(&self) -> &'static str;

    /// Starts a session running `spec.argv`; returns it with its process id.
    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError>;

    /// Every session this backend created for the project, running or exited, in one call.
    fn list(&self) -> Result<Vec<MuxSession>, MuxError>;

    /// One session, if it exists. The default filters [`Multiplexer::list`].
    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        Ok(self.list()?.into_iter().find(|s| s.name == name))
    }

    /// Types `text` literally into the session and presses Enter. Text that starts with `-`,
    /// ends with `;`, is `--` or is long arrives unchanged; newlines, tabs and other control
    /// characters arrive as spaces (so a message cannot press Escape or submit early).
    /// Fails with [`MuxError::NotRunning`] when the session's process has exited. This only
    /// sends; callers check delivery (`capture`, or the agent's state).
    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError>;

    /// The last `lines` lines of the session's screen (tmux) or output (headless).
    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError>;

    /// Ends the session and its whole process tree (TERM, then KILL after a grace period).
    /// Killing a session that does not exist is not an error.
    fn kill(&self, name: &str) -> Result<(), MuxError>;
}
