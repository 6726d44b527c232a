//! Building and running one tmux client invocation.
//!
//! Commands are built with `tmux_interface`'s typed builders (see [`super::commands`]); this
//! module puts them on the project's socket with [`Tmux`], turns the result into a
//! [`std::process::Command`] and runs it itself, because the crate's own runners inherit
//! stdin and report success when tmux failed. Here every invocation:
//! - runs `<program> -u -f /dev/null -L <socket> <command> [; <command>]...`: `-u` because a
//!   client without a UTF-8 locale prints tabs and non-ASCII characters of formats as `_`;
//!   `-f /dev/null` so the user's `~/.tmux.conf` is never read;
//! - has every argument's final `;` escaped as `\;` (tmux would read it as a separator);
//! - starts from the [`BaseEnv`], with stdin closed and output captured;
//! - checks the exit status and classifies tmux's message into a [`CallError`].

use std::borrow::Cow;
use std::path::Path;
use std::process::{Command, Stdio};

use legio_core::ports::MuxError;
use tmux_interface::{Tmux, TmuxCommand};

use crate::env::BaseEnv;

/// One tmux client invocation: one or more commands, run in order by one client.
#[derive(Debug, Clone)]
pub(super) struct Call<'a> {
    commands: Vec<TmuxCommand<'a>>,
}

impl<'a> Call<'a> {
    pub(super) fn new(first: TmuxCommand<'a>) -> Self {
        Self {
            commands: vec![first],
        }
    }

    /// Adds the next command of the same invocation.
    pub(super) fn then(mut self, next: TmuxCommand<'a>) -> Self {
        self.commands.push(next);
        self
    }

    /// The client's arguments after the program: the global options, then the commands
    /// separated by `;`, every argument escaped.
    pub(super) fn argv(&self, socket: &str) -> Vec<String> {
        let tmux = self.commands.iter().fold(
            Tmux::new()
                .force_utf8()
                .file("/dev/null")
                .socket_name(socket),
            |tmux, command| tmux.command(escaped(command)),
        );
        let mut built = tmux.build();
        // The program is ours to choose (TmuxConfig::program), not the crate's `tmux`.
        built.name = None;
        built.to_vec().into_iter().map(Cow::into_owned).collect()
    }
}

/// `command` with a final `;` of every argument escaped (see [`escape_separator`]).
fn escaped<'a>(command: &TmuxCommand<'a>) -> TmuxCommand<'a> {
    let mut command = command.clone();
    if let Some(args) = command.args.as_mut() {
        for arg in args.iter_mut() {
            *arg = escape_separator(std::mem::take(arg));
        }
    }
    command
}

/// tmux turns an argument's final `;` into a command separator and a final `\;` into `;`:
/// so a final `;` is sent as `\;` (and a final `\;` as `\\;`, which tmux turns into `\;`).
fn escape_separator(value: Cow<'_, str>) -> Cow<'_, str> {
    match value.strip_suffix(';') {
        Some(head) => Cow::Owned(format!("{head}\\;")),
        None => value,
    }
}

/// Where tmux clients run: the program, the project's socket and the base environment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client<'m> {
    pub(super) program: &'m Path,
    pub(super) socket: &'m str,
    pub(super) base_env: &'m BaseEnv,
}

impl Client<'_> {
    /// Runs `call` and returns what tmux printed on stdout.
    pub(super) fn run(&self, call: &Call<'_>) -> Result<String, CallError> {
        self.run_in(call, None, None)
    }

    /// [`Self::run`] from the directory `cwd`, with the client's `PATH` set to `path`: tmux
    /// gives a new session the cwd and the `PATH` of the client that creates it (tmux 3.3a
    /// ignores `-e PATH=...`), and `-c` would be format-expanded.
    pub(super) fn run_in(
        &self,
        call: &Call<'_>,
        cwd: Option<&Path>,
        path: Option<&str>,
    ) -> Result<String, CallError> {
        let mut cmd = Command::new(self.program);
        self.base_env.apply(&mut cmd);
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        cmd.args(call.argv(self.socket))
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
    pub(super) fn run_on(
        &self,
        name: &str,
        call: &Call<'_>,
        operation: &str,
    ) -> Result<String, MuxError> {
        self.run(call)
            .map_err(|e| e.into_mux(self.program, name, operation))
    }
}

/// What went wrong with a tmux call.
#[derive(Debug)]
pub(super) enum CallError {
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
        // A server that exits while answering (its last session just ended, in a server
        // legio did not start) says "server exited unexpectedly": it is gone all the same.
        if message.starts_with("no server running")
            || message.starts_with("error connecting to")
            || message.contains("server exited unexpectedly")
            || message.starts_with("lost server")
        {
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

    pub(super) fn into_mux(self, program: &Path, name: &str, operation: &str) -> MuxError {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn command(name: &'static str, args: &[&'static str]) -> TmuxCommand<'static> {
        let mut command = TmuxCommand::new();
        command.name(name);
        for arg in args {
            command.push_param(*arg);
        }
        command
    }

    #[test]
    fn an_invocation_is_the_global_options_then_the_commands_separated() {
        let call = Call::new(command("kill-server", &[]))
            .then(command("display-message", &["-p", "x"]))
            .then(command("list-panes", &["-a"]));
        assert_eq!(
            call.argv("legio-p-1234abcd"),
            [
                "-u",
                "-f",
                "/dev/null",
                "-L",
                "legio-p-1234abcd",
                "kill-server",
                ";",
                "display-message",
                "-p",
                "x",
                ";",
                "list-panes",
                "-a",
            ]
        );
    }

    #[test]
    fn every_argument_ending_in_a_separator_is_escaped_and_only_those() {
        let call = Call::new(command("send-keys", &["-l", "--", ";"]))
            .then(command("set-option", &["a;", "mid;dle", "b\\;"]));
        assert_eq!(
            call.argv("s")[5..],
            [
                "send-keys",
                "-l",
                "--",
                "\\;",
                ";",
                "set-option",
                "a\\;",
                "mid;dle",
                "b\\\\;"
            ]
        );
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
            assert_eq!(escape_separator(Cow::Borrowed(input)), want, "{input}");
        }
    }

    fn client_of(program: &Path) -> Client<'_> {
        Client {
            program,
            socket: "legio-unit-cmd",
            base_env: &BaseEnv::Inherit,
        }
    }

    #[test]
    fn a_failing_exit_status_is_an_error_even_without_a_message() {
        let call = Call::new(command("list-panes", &[]));
        let err = client_of(Path::new("false")).run(&call).unwrap_err();
        assert!(
            matches!(&err, CallError::Failed(m) if m.is_empty()),
            "{err:?}"
        );
        assert_eq!(client_of(Path::new("true")).run(&call).unwrap(), "");
    }

    #[test]
    fn a_missing_program_is_reported_as_not_installed() {
        let call = Call::new(command("list-panes", &[]));
        let err = client_of(Path::new("/nonexistent/bin/tmux"))
            .run(&call)
            .unwrap_err();
        assert!(matches!(err, CallError::NotInstalled), "{err:?}");
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
            CallError::classify("server exited unexpectedly\n"),
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
}
