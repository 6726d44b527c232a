//! The terminal multiplexer port: where agent processes run and how text reaches them.
//!
//! `legio-tmux` implements it on tmux (a dedicated socket per project) and as plain detached
//! processes (headless). Implementations take argv, never a shell string, and only ever touch
//! sessions they created.

use std::path::PathBuf;

/// A session to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The session name (already tmux-safe).
    pub name: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Environment to set (on top of a clean inherited environment).
    pub env: Vec<(String, String)>,
    /// Variables to remove from the inherited environment.
    pub env_remove: Vec<String>,
    /// Where to keep the session's output (headless: stdout/stderr; tmux: pipe-pane).
    pub log_path: Option<PathBuf>,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxSession {
    /// Its name.
    pub name: String,
    /// The pid of the process running in it (the pane's process), if it is still running.
    pub pid: Option<u32>,
    /// False when the session exists but its process has exited (tmux `remain-on-exit`,
    /// headless record of an exited process).
    pub running: bool,
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
    /// A session with this name already exists.
    #[error("a session named {0:?} already exists")]
    AlreadyExists(String),
    /// The backend reported an error.
    #[error("{operation} failed: {detail}")]
    Failed {
        /// What was being done.
        operation: String,
        /// What the backend said.
        detail: String,
    },
    /// An I/O error (headless backend files).
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

    /// Every session this backend created for the project, in one call.
    fn list(&self) -> Result<Vec<MuxSession>, MuxError>;

    /// Types `text` literally into the session and presses Enter. Text that starts with `-`,
    /// ends with `;`, or contains newlines arrives unchanged (newlines as spaces). This only
    /// sends; callers check delivery (`capture`, or the agent's state).
    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError>;

    /// The last `lines` lines of the session's screen (tmux) or output (headless).
    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError>;

    /// Ends the session and its whole process tree (TERM, then KILL after a grace period).
    /// Killing a session that does not exist is not an error.
    fn kill(&self, name: &str) -> Result<(), MuxError>;
}
