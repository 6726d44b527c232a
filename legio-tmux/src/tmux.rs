//! [`TmuxMultiplexer`]: each agent in a tmux session on a private tmux server per project.
//!
//! How it talks to tmux, and why:
//! - **One private server per project**, `tmux -L legio-<project>-<hash of root>`, started with
//!   `-f /dev/null` so neither the user's own server nor their `~/.tmux.conf` is involved.
//! - **Commands built with `tmux_interface`, run by us**: [`commands`] builds each tmux command
//!   with the crate's typed builders; [`cmd`] puts them on the socket, runs the client itself
//!   (stdin closed, output captured), checks the exit status and classifies tmux's message
//!   (`no server`, `can't find session`, `duplicate`). The crate's own runners are not used:
//!   they inherit stdin and report success when tmux failed.
//! - **Argv, never a shell string**: `new-session ... -- <argv>` with two or more arguments
//!   makes tmux exec the program directly (verified with tmux 3.3a; the pane pid *is* the
//!   agent). A one-word argv would go through `sh -c`, so it is run as
//!   `sh -c 'exec "$0"' <program>`, a constant script.
//! - **Escaping**: tmux reads an argument ending in `;` as a command separator, so [`cmd`]
//!   sends every argument's final `;` as `\;`. The working directory is given as the client's
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
//!   output is missed. A log path that is not UTF-8 is refused: tmux arguments are text.
//! - **Typing**: `send-keys -l --` in pieces of at most 8 KiB (tmux refuses commands over
//!   16 KiB), then Enter in a separate call after a short pause: Claude Code takes a burst of
//!   text that ends in Enter as a paste and would not submit it.
//! - **Every client runs with `-u`**: a client without a UTF-8 locale in its environment
//!   prints tabs and non-ASCII characters of formats as `_` (seen with tmux 3.3a and an empty
//!   environment), which would garble listings and captures.
//!
//! Requires tmux 3.2 or newer (`new-session -e`, the `q:` format modifier).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use legio_core::names::tmux_safe;
use legio_core::ports::{Multiplexer, MuxError, MuxSession, SessionSpec};

use crate::env::BaseEnv;
use crate::{proctree, spec, text};

use cmd::{Call, CallError, Client};
use commands::{pane_target, session_target};

mod cmd;
mod commands;

/// The largest piece of text typed with one `send-keys` (tmux refuses commands over 16 KiB).
const MAX_KEYS_CHUNK: usize = 8 * 1024;

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
        let client = self.client();
        let fail = |e: CallError| e.into_mux(client.program, "", "stop the tmux server");
        let socket = match client.run(&Call::new(commands::print_format(None, "#{socket_path}"))) {
            Ok(out) => PathBuf::from(out.trim()),
            Err(CallError::NoServer) => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        match client.run(&Call::new(commands::kill_server())) {
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

    /// How this multiplexer's tmux clients run.
    fn client(&self) -> Client<'_> {
        Client {
            program: &self.config.program,
            socket: &self.socket,
            base_env: &self.config.base_env,
        }
    }
}

/// Reads `list-panes` lines of [`commands::PANE_FORMAT`], first pane per session. The name comes last
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
        let log = spec
            .log_path
            .as_deref()
            .map(|log| log_path_text(name, log))
            .transpose()?;
        if let Some(dir) = spec.log_path.as_deref().and_then(Path::parent) {
            std::fs::create_dir_all(dir).map_err(|source| MuxError::Io {
                operation: format!("create the log directory {}", dir.display()),
                source,
            })?;
        }
        // The server outlives its last session (`kill_server` ends it): a server exiting as
        // the last agent is killed would fail the next legio call with "server exited
        // unexpectedly".
        let mut call = Call::new(commands::keep_exited_panes()).then(commands::keep_empty_server());
        for var in &spec.env_remove {
            call = call.then(commands::unset_global_env(var));
        }
        call = call.then(commands::new_session(
            name,
            self.config.size,
            &spec.env,
            &exec_argv(&spec.argv),
        ));
        let pane = pane_target(name);
        if let Some(log) = log {
            call = call
                .then(commands::set_log_path(&pane, log))
                .then(commands::pipe_to_log(&pane));
        }
        let path = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let client = self.client();
        let out = client
            .run_in(&call, Some(&spec.cwd), path)
            .map_err(|e| e.into_mux(client.program, name, "create the session"))?;
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
        let client = self.client();
        match client.run(&Call::new(commands::list_all_panes())) {
            Ok(out) => Ok(parse_panes(&out)),
            // No server, or a server without sessions.
            Err(CallError::NoServer | CallError::NoSession) => Ok(Vec::new()),
            Err(e) => Err(e.into_mux(client.program, "", "list sessions")),
        }
    }

    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        let client = self.client();
        let target = session_target(name);
        match client.run(&Call::new(commands::list_session_panes(&target))) {
            Ok(out) => Ok(parse_panes(&out).into_iter().find(|s| s.name == name)),
            Err(CallError::NoServer | CallError::NoSession) => Ok(None),
            Err(e) => Err(e.into_mux(client.program, name, "look up the session")),
        }
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        let client = self.client();
        let line = text::one_line(text);
        let pane = pane_target(name);
        let mut pieces = text::chunks(&line, MAX_KEYS_CHUNK).into_iter();
        // The first call checks the pane still runs; a dead pane would drop the keys silently.
        let mut first = Call::new(commands::print_format(Some(&pane), "#{pane_dead}"));
        if let Some(piece) = pieces.next() {
            first = first.then(commands::type_literally(&pane, piece));
        }
        let out = client.run_on(name, &first, "type into the session")?;
        if out.trim() == "1" {
            return Err(MuxError::NotRunning(name.to_owned()));
        }
        for piece in pieces {
            let call = Call::new(commands::type_literally(&pane, piece));
            client.run_on(name, &call, "type into the session")?;
        }
        std::thread::sleep(self.config.enter_delay);
        let enter = Call::new(commands::press_enter(&pane));
        client.run_on(name, &enter, "press Enter in the session")?;
        Ok(())
    }

    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError> {
        let pane = pane_target(name);
        let call = Call::new(commands::capture(&pane, lines));
        let screen = self
            .client()
            .run_on(name, &call, "capture the session's screen")?;
        Ok(tail_of_screen(&screen, lines))
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        let Some(session) = self.get(name)? else {
            return Ok(());
        };
        if let Some(pid) = session.pid {
            proctree::terminate(pid, None, self.config.kill_grace);
        }
        let client = self.client();
        let target = session_target(name);
        match client.run(&Call::new(commands::kill_session(&target))) {
            Ok(_) | Err(CallError::NoServer | CallError::NoSession) => Ok(()),
            Err(e) => Err(e.into_mux(client.program, name, "kill the session")),
        }
    }
}

/// The argv that makes tmux exec the program directly (see the module docs).
fn exec_argv(argv: &[String]) -> Vec<&str> {
    match argv {
        [only] => vec!["sh", "-c", "exec \"$0\"", only.as_str()],
        all => all.iter().map(String::as_str).collect(),
    }
}

/// The log path as text: tmux takes only UTF-8 arguments (and `tmux_interface` only `str`).
fn log_path_text<'a>(name: &str, log: &'a Path) -> Result<&'a str, MuxError> {
    log.to_str().ok_or_else(|| MuxError::InvalidSpec {
        name: name.to_owned(),
        problem: format!(
            "the log path {} is not valid UTF-8, which tmux cannot take; choose a UTF-8 path",
            log.display()
        ),
    })
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
    fn a_single_word_command_is_still_executed_without_interpretation() {
        assert_eq!(
            exec_argv(&["my prog;$x".into()]),
            vec!["sh", "-c", "exec \"$0\"", "my prog;$x"]
        );
        assert_eq!(exec_argv(&["a".into(), "b".into()]), vec!["a", "b"]);
    }

    #[test]
    fn a_log_path_that_is_not_text_is_refused_with_the_reason() {
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/log\xff/output.log"));
        let err = log_path_text("legio-p-a", bad).unwrap_err();
        assert!(
            matches!(&err, MuxError::InvalidSpec { name, problem }
                if name == "legio-p-a" && problem.contains("not valid UTF-8")),
            "{err:?}"
        );
        let good = Path::new("/tmp/a b/output.log");
        assert_eq!(
            log_path_text("legio-p-a", good).unwrap(),
            "/tmp/a b/output.log"
        );
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
