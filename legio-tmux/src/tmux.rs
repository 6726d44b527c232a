//! [`TmuxMultiplexer`]: each agent in a tmux session on a private tmux server per project.
//!
//! How it talks to tmux, and why:
//! - **One private server per project**, `tmux -L legio-<project>-<hash of root>`, started with
//!   `-f /dev/null` so neither the user's own server nor their `~/.tmux.conf` is involved.
//! - **Plain `std::process::Command`**, not `tmux_interface`: its `new-session` builder takes one
//!   shell-command string (no argv), it has no `--` for `send-keys -l`, it does not escape
//!   tmux's `;` separator, its `output()` inherits stdin and returns `Ok` when tmux failed.
//!   [`Call`] is the few lines that do those things right, and every call checks the exit
//!   status and classifies tmux's message (`no server`, `can't find session`, `duplicate`).
//! - **Argv, never a shell string**: `new-session ... -- <argv>` with two or more arguments
//!   makes tmux exec the program directly (verified with tmux 3.3a; the pane pid *is* the
//!   agent). A one-word argv would go through `sh -c`, so it is run as
//!   `sh -c 'exec "$0"' <program>`, a constant script.
//! - **Escaping**: tmux reads an argument ending in `;` as a command separator, so every
//!   argument's final `;` is sent as `\;`. The working directory is given as the client's
//!   own cwd and not with `-c`, because tmux format-expands `-c` (`#(cmd)` in a path would
//!   run `cmd`).
//! - **Environment**: the server starts from the [`BaseEnv`]; `SessionSpec::env` goes in as
//!   `-e` and `env_remove` is applied with `set-environment -g -u` in the same call, so the
//!   server never hands Claude Code's nesting markers to an agent.
//! - **Exited agents stay visible**: `remain-on-exit on`, so a pane whose process ended is
//!   listed with `running: false` and its exit status until it is killed. The server stays
//!   up when its last session ends (`exit-empty off`; [`TmuxMultiplexer::kill_server`] ends
//!   it), so no call races a server on its way out.
//! - **Terminal log**: `pipe-pane -o 'exec cat >> #{q:@legio_log}'`, the path stored in a pane
//!   option and shell-quoted by tmux itself, set up in the same call as `new-session` so no
//!   output is missed.
//! - **Typing**: `send-keys -l --` in pieces of at most 8 KiB (tmux refuses commands over
//!   16 KiB), then Enter in a separate call after a short pause: Claude Code takes a burst of
//!   text that ends in Enter as a paste and would not submit it.
//!
//! - **Every client runs with `-u`**: a client without a UTF-8 locale in its environment
//!   prints tabs and non-ASCII characters of formats as `_` (seen with tmux 3.3a and an empty
//!   environment), which would garble listings and captures.
//!
//! Requires tmux 3.2 or newer (`new-session -e`, the `q:` format modifier).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use legio_core::names::tmux_safe;
use legio_core::ports::{Multiplexer, MuxError, MuxSession, SessionSpec};

use crate::env::BaseEnv;
use crate::{proctree, spec, text};

/// The largest piece of text typed with one `send-keys` (tmux refuses commands over 16 KiB).
const MAX_KEYS_CHUNK: usize = 8 * 1024;

/// The pane option holding the terminal log path, read back by the pipe-pane command.
const LOG_OPTION: &str = "@legio_log";

/// How a [`TmuxMultiplexer`] behaves.
#[derive(Debug, Clone)]
pub struct TmuxConfig {
    /// The tmux program (`tmux`, found on PATH, by default).
    pub program: PathBuf,
    /// The environment the server (and so every agent) starts from.
    pub base_env: BaseEnv,
    /// The pause between typing text and pressing Enter.
    pub enter_delay: Duration,
    /// How long `kill` waits after TERM before KILL.
    pub kill_grace: Duration,
    /// The size of new sessions' windows (columns, rows).
    pub size: (u16, u16),
}

impl Default for TmuxConfig {
    fn default() -> Self {
        Self {
            program: PathBuf::from("tmux"),
            base_env: BaseEnv::Inherit,
            enter_delay: Duration::from_millis(100),
            kill_grace: Duration::from_secs(2),
            size: (200, 50),
        }
    }
}

/// The tmux socket name of a project: `legio-<project>-<8 hex digits of a hash of root>`.
///
/// The hash (FNV-1a, stable across builds and versions) keeps two checkouts of projects with
/// the same name apart; the length stays far below the ~108-byte limit of a socket path.
/// Pass the canonical project root so every legio process computes the same name.
pub fn socket_name(project: &str, root: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in root.as_os_str().as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let short = (hash ^ (hash >> 32)) as u32;
    let mut project = tmux_safe(project);
    project.truncate(40);
    format!("legio-{project}-{short:08x}")
}

/// Agents in tmux sessions on the project's private tmux server.
#[derive(Debug, Clone)]
pub struct TmuxMultiplexer {
    socket: String,
    config: TmuxConfig,
}

impl TmuxMultiplexer {
    /// The multiplexer of the project `project` rooted at `root` (see [`socket_name`]).
    pub fn new(project: &str, root: &Path, config: TmuxConfig) -> Self {
        Self {
            socket: socket_name(project, root),
            config,
        }
    }

    /// The `-L` socket name, for `tmux -L <name> attach` and for messages.
    pub fn socket_name(&self) -> &str {
        &self.socket
    }

    /// Ends the project's tmux server and every session on it, and removes its socket file
    /// (tmux 3.3a leaves it behind). No server is not an error.
    pub fn kill_server(&self) -> Result<(), MuxError> {
        let fail = |e: CallError| e.into_mux(&self.config.program, "", "stop the tmux server");
        let socket = match self.run(
            &Call::new("display-message").arg("-p").arg("#{socket_path}"),
            None,
        ) {
            Ok(out) => PathBuf::from(out.trim()),
            Err(CallError::NoServer) => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        match self.run(&Call::new("kill-server"), None) {
            Ok(_) | Err(CallError::NoServer) => {}
            Err(e) => return Err(fail(e)),
        }
        match std::fs::remove_file(&socket) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(MuxError::Io {
                operation: format!("remove the tmux socket {}", socket.display()),
                source,
            }),
        }
    }

    fn run(&self, call: &Call, cwd: Option<&Path>) -> Result<String, CallError> {
        self.run_in(call, cwd, None)
    }

    /// [`Self::run`] with the client's `PATH` set to `path`: tmux gives a new session the
    /// `PATH` of the client that creates it, whatever `-e PATH=...` says (tmux 3.3a).
    fn run_in(
        &self,
        call: &Call,
        cwd: Option<&Path>,
        path: Option<&str>,
    ) -> Result<String, CallError> {
        let mut cmd = Command::new(&self.config.program);
        self.config.base_env.apply(&mut cmd);
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        // -u: without a UTF-8 locale in its environment the client would print every tab and
        // non-ASCII character of a format or a capture as `_`.
        cmd.arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(&call.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let out = cmd.output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && cwd.is_none_or(Path::is_dir) {
                CallError::NotInstalled
            } else {
                CallError::Io(e)
            }
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(CallError::classify(&String::from_utf8_lossy(&out.stderr)))
    }

    /// Runs `call` aimed at session `name`, turning tmux's failures into [`MuxError`]s.
    fn run_on(&self, name: &str, call: &Call, operation: &str) -> Result<String, MuxError> {
        self.run(call, None)
            .map_err(|e| e.into_mux(&self.config.program, name, operation))
    }
}

/// One tmux client invocation: commands separated by `;`, every argument escaped.
#[derive(Debug, Clone, Default)]
struct Call {
    args: Vec<OsString>,
}

impl Call {
    fn new(command: &str) -> Self {
        Self {
            args: vec![command.into()],
        }
    }

    /// Starts the next command of the same invocation.
    fn then(mut self, command: &str) -> Self {
        self.args.push(";".into());
        self.args.push(command.into());
        self
    }

    /// An argument, with a final `;` escaped so tmux does not read it as a separator.
    fn arg(mut self, value: impl AsRef<OsStr>) -> Self {
        self.args.push(escape_separator(value.as_ref()));
        self
    }

    /// `-t <target>`.
    fn target(self, target: &str) -> Self {
        self.arg("-t").arg(target)
    }
}

/// `=name` names exactly that session (tmux otherwise accepts a prefix or a pattern).
fn session_target(name: &str) -> String {
    format!("={name}")
}

/// The active pane of exactly session `name`.
fn pane_target(name: &str) -> String {
    format!("={name}:")
}

/// tmux turns an argument's final `;` into a command separator and a final `\;` into `;`:
/// so a final `;` is sent as `\;` (and a final `\;` as `\\;`, which tmux turns into `\;`).
fn escape_separator(value: &OsStr) -> OsString {
    let bytes = value.as_bytes();
    match bytes.split_last() {
        Some((b';', head)) => {
            let mut out = head.to_vec();
            out.extend_from_slice(b"\\;");
            OsString::from_vec(out)
        }
        _ => value.to_owned(),
    }
}

/// The argv that makes tmux exec the program directly (see the module docs).
fn exec_argv(argv: &[String]) -> Vec<&str> {
    match argv {
        [only] => vec!["sh", "-c", "exec \"$0\"", only.as_str()],
        all => all.iter().map(String::as_str).collect(),
    }
}

/// What went wrong with a tmux call.
#[derive(Debug)]
enum CallError {
    NotInstalled,
    NoServer,
    NoSession,
    Duplicate,
    TooLong,
    Failed(String),
    Io(std::io::Error),
}

impl CallError {
    fn classify(stderr: &str) -> Self {
        let message = stderr.trim();
        if message.starts_with("no server running") || message.starts_with("error connecting to") {
            Self::NoServer
        } else if message.contains("can't find session")
            || message.contains("can't find pane")
            || message.contains("can't find window")
            // A server left without sessions (it is about to exit) says this for any target.
            || message.starts_with("no current target")
        {
            Self::NoSession
        } else if message.starts_with("duplicate session") {
            Self::Duplicate
        } else if message.contains("command too long") {
            Self::TooLong
        } else {
            Self::Failed(message.to_owned())
        }
    }

    fn into_mux(self, program: &Path, name: &str, operation: &str) -> MuxError {
        match self {
            Self::NotInstalled => MuxError::NotInstalled {
                program: program.display().to_string(),
            },
            Self::NoServer | Self::NoSession => MuxError::NoSuchSession(name.to_owned()),
            Self::Duplicate => MuxError::AlreadyExists(name.to_owned()),
            Self::TooLong => MuxError::InvalidSpec {
                name: name.to_owned(),
                problem: "the command is longer than tmux accepts (16 KiB); pass long text \
                          through a file"
                    .into(),
            },
            Self::Failed(detail) => MuxError::Failed {
                operation: format!("{operation} (tmux session {name:?})"),
                detail,
            },
            Self::Io(source) => MuxError::Io {
                operation: format!("{operation}: running {}", program.display()),
                source,
            },
        }
    }
}

/// Reads `list-panes` lines of [`PANE_FORMAT`], first pane per session. The name comes last
/// so that whatever it contains cannot shift the other fields.
fn parse_panes(out: &str) -> Vec<MuxSession> {
    let mut sessions: Vec<MuxSession> = Vec::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.splitn(5, '|').collect();
        let [pid, dead, status, signal, name] = fields[..] else {
            continue;
        };
        if sessions.iter().any(|s| s.name == name) {
            continue;
        }
        let running = dead != "1";
        let exit_code = if running {
            None
        } else {
            // Death by signal N is reported the way shells do: 128 + N.
            status
                .parse::<i32>()
                .ok()
                .or_else(|| signal.parse::<i32>().ok().map(|s| 128 + s))
        };
        sessions.push(MuxSession {
            name: name.to_owned(),
            pid: if running { pid.parse().ok() } else { None },
            running,
            exit_code,
        });
    }
    sessions
}

const PANE_FORMAT: &str =
    "#{pane_pid}|#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{session_name}";

/// Drops trailing blank lines and trailing spaces, then keeps the last `lines` lines.
fn tail_of_screen(screen: &str, lines: usize) -> String {
    let trimmed: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let end = trimmed
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let start = end.saturating_sub(lines);
    trimmed[start..end].join("\n")
}

impl Multiplexer for TmuxMultiplexer {
    fn kind(&self) -> &'static str {
        "tmux"
    }

    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        spec::check(spec)?;
        let name = spec.name.as_str();
        if let Some(dir) = spec.log_path.as_deref().and_then(Path::parent) {
            std::fs::create_dir_all(dir).map_err(|source| MuxError::Io {
                operation: format!("create the log directory {}", dir.display()),
                source,
            })?;
        }
        // The server outlives its last session (`kill_server` ends it): a server exiting as
        // the last agent is killed would fail the next legio call with "server exited
        // unexpectedly".
        let mut call = Call::new("set-option")
            .arg("-g")
            .arg("remain-on-exit")
            .arg("on")
            .then("set-option")
            .arg("-s")
            .arg("exit-empty")
            .arg("off");
        for var in &spec.env_remove {
            call = call.then("set-environment").arg("-g").arg("-u").arg(var);
        }
        let (width, height) = self.config.size;
        call = call
            .then("new-session")
            .arg("-d")
            .arg("-P")
            .arg("-F")
            .arg("#{pane_pid}")
            .arg("-s")
            .arg(name)
            .arg("-x")
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string());
        for (key, value) in &spec.env {
            call = call.arg("-e").arg(format!("{key}={value}"));
        }
        call = call.arg("--");
        for word in exec_argv(&spec.argv) {
            call = call.arg(word);
        }
        if let Some(log) = &spec.log_path {
            let pane = pane_target(name);
            call = call
                .then("set-option")
                .arg("-p")
                .target(&pane)
                .arg(LOG_OPTION)
                .arg(log)
                .then("pipe-pane")
                .arg("-o")
                .target(&pane)
                .arg(format!("exec cat >> #{{q:{LOG_OPTION}}}"));
        }
        let path = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let out = self
            .run_in(&call, Some(&spec.cwd), path)
            .map_err(|e| e.into_mux(&self.config.program, name, "create the session"))?;
        let pid = out
            .lines()
            .find_map(|l| l.trim().parse::<u32>().ok())
            .ok_or_else(|| MuxError::Failed {
                operation: format!("create tmux session {name:?}"),
                detail: format!("tmux did not print the pane pid (printed {out:?})"),
            })?;
        Ok(MuxSession {
            name: name.to_owned(),
            pid: Some(pid),
            running: true,
            exit_code: None,
        })
    }

    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        let call = Call::new("list-panes").arg("-a").arg("-F").arg(PANE_FORMAT);
        match self.run(&call, None) {
            Ok(out) => Ok(parse_panes(&out)),
            // No server, or a server without sessions.
            Err(CallError::NoServer | CallError::NoSession) => Ok(Vec::new()),
            Err(e) => Err(e.into_mux(&self.config.program, "", "list sessions")),
        }
    }

    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        let call = Call::new("list-panes")
            .arg("-s")
            .target(&session_target(name))
            .arg("-F")
            .arg(PANE_FORMAT);
        match self.run(&call, None) {
            Ok(out) => Ok(parse_panes(&out).into_iter().find(|s| s.name == name)),
            Err(CallError::NoServer | CallError::NoSession) => Ok(None),
            Err(e) => Err(e.into_mux(&self.config.program, name, "look up the session")),
        }
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        let line = text::one_line(text);
        let pane = pane_target(name);
        let mut pieces = text::chunks(&line, MAX_KEYS_CHUNK).into_iter();
        // The first call checks the pane still runs; a dead pane would drop the keys silently.
        let mut first = Call::new("display-message")
            .arg("-p")
            .target(&pane)
            .arg("#{pane_dead}");
        if let Some(piece) = pieces.next() {
            first = first
                .then("send-keys")
                .target(&pane)
                .arg("-l")
                .arg("--")
                .arg(piece);
        }
        let out = self.run_on(name, &first, "type into the session")?;
        if out.trim() == "1" {
            return Err(MuxError::NotRunning(name.to_owned()));
        }
        for piece in pieces {
            let call = Call::new("send-keys")
                .target(&pane)
                .arg("-l")
                .arg("--")
                .arg(piece);
            self.run_on(name, &call, "type into the session")?;
        }
        std::thread::sleep(self.config.enter_delay);
        let enter = Call::new("send-keys").target(&pane).arg("Enter");
        self.run_on(name, &enter, "press Enter in the session")?;
        Ok(())
    }

    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError> {
        let call = Call::new("capture-pane")
            .arg("-p")
            .arg("-J")
            .target(&pane_target(name))
            .arg("-S")
            .arg(format!("-{lines}"));
        let screen = self.run_on(name, &call, "capture the session's screen")?;
        Ok(tail_of_screen(&screen, lines))
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        let Some(session) = self.get(name)? else {
            return Ok(());
        };
        if let Some(pid) = session.pid {
            proctree::terminate(pid, None, self.config.kill_grace);
        }
        let call = Call::new("kill-session").target(&session_target(name));
        match self.run(&call, None) {
            Ok(_) | Err(CallError::NoServer | CallError::NoSession) => Ok(()),
            Err(e) => Err(e.into_mux(&self.config.program, name, "kill the session")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_are_stable_short_and_distinct_per_root() {
        let a = socket_name("socket.io", Path::new("/home/dev/socket.io"));
        assert_eq!(
            a,
            socket_name("socket.io", Path::new("/home/dev/socket.io"))
        );
        assert!(a.starts_with("legio-socket_io-"), "{a}");
        assert_eq!(a.len(), "legio-socket_io-".len() + 8);
        assert_ne!(a, socket_name("socket.io", Path::new("/srv/socket.io")));
        let long = socket_name(&"x".repeat(300), Path::new("/p"));
        assert!(long.len() < 60, "{long}");
        // Pinned so that a change of hash (which would orphan running sessions) is noticed.
        assert_eq!(socket_name("p", Path::new("/p")), "legio-p-b34aea4d");
    }

    #[test]
    fn a_final_semicolon_is_escaped_and_nothing_else_changes() {
        let cases = [
            ("hello;", "hello\\;"),
            ("a\\;", "a\\\\;"),
            (";", "\\;"),
            ("mid;dle", "mid;dle"),
            ("-x", "-x"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(
                escape_separator(OsStr::new(input)),
                OsStr::new(want),
                "{input}"
            );
        }
    }

    #[test]
    fn a_single_word_command_is_still_executed_without_interpretation() {
        assert_eq!(
            exec_argv(&["my prog;$x".into()]),
            vec!["sh", "-c", "exec \"$0\"", "my prog;$x"]
        );
        assert_eq!(exec_argv(&["a".into(), "b".into()]), vec!["a", "b"]);
    }

    #[test]
    fn tmux_messages_are_classified() {
        assert!(matches!(
            CallError::classify("no server running on /tmp/tmux-0/x\n"),
            CallError::NoServer
        ));
        assert!(matches!(
            CallError::classify("error connecting to /tmp/tmux-0/x (No such file or directory)"),
            CallError::NoServer
        ));
        assert!(matches!(
            CallError::classify("can't find session: legio-p-a"),
            CallError::NoSession
        ));
        assert!(matches!(
            CallError::classify("no current target"),
            CallError::NoSession
        ));
        assert!(matches!(
            CallError::classify("duplicate session: a"),
            CallError::Duplicate
        ));
        assert!(matches!(
            CallError::classify("command too long"),
            CallError::TooLong
        ));
        assert!(matches!(CallError::classify("weird"), CallError::Failed(m) if m == "weird"));
    }

    #[test]
    fn panes_parse_into_sessions() {
        let out = "10|0|||a\n11|1|3||b\n12|1||9|c\n13|0|||a\nbroken line\n14|0|||odd|name\n";
        assert_eq!(
            parse_panes(out),
            vec![
                MuxSession {
                    name: "a".into(),
                    pid: Some(10),
                    running: true,
                    exit_code: None
                },
                MuxSession {
                    name: "b".into(),
                    pid: None,
                    running: false,
                    exit_code: Some(3)
                },
                MuxSession {
                    name: "c".into(),
                    pid: None,
                    running: false,
                    exit_code: Some(137)
                },
                MuxSession {
                    name: "odd|name".into(),
                    pid: Some(14),
                    running: true,
                    exit_code: None
                },
            ]
        );
    }

    #[test]
    fn screen_tail_skips_the_empty_bottom() {
        let screen = "one  \ntwo\nthree\n\n   \n\n";
        assert_eq!(tail_of_screen(screen, 2), "two\nthree");
        assert_eq!(tail_of_screen(screen, 10), "one\ntwo\nthree");
        assert_eq!(tail_of_screen("\n\n", 3), "");
    }
}
