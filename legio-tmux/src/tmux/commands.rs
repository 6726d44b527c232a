//! The tmux commands legio sends, one function each, built with `tmux_interface`'s typed
//! builders. Where a builder cannot say what we need (argv after `--` for `new-session`, `--`
//! before literal text for `send-keys -l`), the built command is extended with the crate's
//! generic [`TmuxCommand`] methods. Values go in raw: [`super::cmd`] escapes separators.
//!
//! The tests pin every command's exact argv, so an upgrade of the crate that changes one
//! fails here rather than in a running fleet.

use tmux_interface::{
    CapturePane, DisplayMessage, KillServer, KillSession, ListPanes, NewSession, PipePane,
    SendKeys, SetEnvironment, SetOption, TmuxCommand,
};

/// The pane option holding the terminal log path, read back by [`pipe_to_log`].
const LOG_OPTION: &str = "@legio_log";

/// What `list-panes` prints per pane, read by `parse_panes`. The session name comes last so
/// that whatever it contains cannot shift the other fields.
pub(super) const PANE_FORMAT: &str =
    "#{pane_pid}|#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{session_name}";

/// `=name` names exactly that session (tmux otherwise accepts a prefix or a pattern).
pub(super) fn session_target(name: &str) -> String {
    format!("={name}")
}

/// The active pane of exactly session `name`.
pub(super) fn pane_target(name: &str) -> String {
    format!("={name}:")
}

/// Panes whose process exited stay, listed as dead with their exit status, until killed.
pub(super) fn keep_exited_panes() -> TmuxCommand<'static> {
    SetOption::new()
        .global()
        .option("remain-on-exit")
        .value("on")
        .build()
}

/// The server outlives its last session (`kill_server` ends it).
pub(super) fn keep_empty_server() -> TmuxCommand<'static> {
    SetOption::new()
        .server()
        .option("exit-empty")
        .value("off")
        .build()
}

/// Removes `var` from the environment the server gives new sessions.
pub(super) fn unset_global_env(var: &str) -> TmuxCommand<'_> {
    SetEnvironment::new().global().unset().name(var).build()
}

/// Session `name`, detached, `size` columns by rows, with `env` added, running `argv`
/// (two or more words, so that tmux executes it without a shell), printing its pane pid.
pub(super) fn new_session<'a>(
    name: &'a str,
    (width, height): (u16, u16),
    env: &'a [(String, String)],
    argv: &[&'a str],
) -> TmuxCommand<'a> {
    let session = env.iter().fold(
        NewSession::new()
            .detached()
            .print()
            .format("#{pane_pid}")
            .session_name(name)
            .width(width.into())
            .height(height.into()),
        |session, (key, value)| session.environment(key.as_str(), value.as_str()),
    );
    let mut command = session.build();
    command.push_flag("--");
    for word in argv {
        command.push_param(*word);
    }
    command
}

/// Records `log` as the terminal log path of `pane`, for [`pipe_to_log`].
pub(super) fn set_log_path<'a>(pane: &'a str, log: &'a str) -> TmuxCommand<'a> {
    SetOption::new()
        .pane()
        .target_pane(pane)
        .option(LOG_OPTION)
        .value(log)
        .build()
}

/// Appends everything `pane` prints to its log, the path shell-quoted by tmux itself.
pub(super) fn pipe_to_log(pane: &str) -> TmuxCommand<'_> {
    PipePane::new()
        .open()
        .target_pane(pane)
        .shell_command(format!("exec cat >> #{{q:{LOG_OPTION}}}"))
        .build()
}

/// Every pane of the server, one [`PANE_FORMAT`] line each.
pub(super) fn list_all_panes() -> TmuxCommand<'static> {
    ListPanes::new().all().format(PANE_FORMAT).build()
}

/// The panes of the session `target`, one [`PANE_FORMAT`] line each.
pub(super) fn list_session_panes(target: &str) -> TmuxCommand<'_> {
    ListPanes::new()
        .session()
        .format(PANE_FORMAT)
        .target(target)
        .build()
}

/// Prints `format` expanded for `pane`, or for the server when `pane` is `None`.
pub(super) fn print_format<'a>(pane: Option<&'a str>, format: &'a str) -> TmuxCommand<'a> {
    let message = DisplayMessage::new().print();
    match pane {
        Some(pane) => message.target_pane(pane),
        None => message,
    }
    .message(format)
    .build()
}

/// Types `text` into `pane` literally: no key names, and `--` so a leading `-` is text.
pub(super) fn type_literally<'a>(pane: &'a str, text: &'a str) -> TmuxCommand<'a> {
    let mut command = SendKeys::new().disable_lookup().target_pane(pane).build();
    command.push_flag("--");
    command.push_param(text);
    command
}

/// Presses Enter in `pane`.
pub(super) fn press_enter(pane: &str) -> TmuxCommand<'_> {
    SendKeys::new().target_pane(pane).key("Enter").build()
}

/// Prints the last `lines` lines of `pane` (screen and history), wrapped lines joined.
pub(super) fn capture(pane: &str, lines: usize) -> TmuxCommand<'_> {
    CapturePane::new()
        .stdout()
        .join()
        .start_line(format!("-{lines}"))
        .target_pane(pane)
        .build()
}

/// Ends the session `target`.
pub(super) fn kill_session(target: &str) -> TmuxCommand<'_> {
    KillSession::new().target_session(target).build()
}

/// Ends the server and every session on it.
pub(super) fn kill_server() -> TmuxCommand<'static> {
    KillServer::new().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &TmuxCommand<'_>) -> Vec<String> {
        command
            .to_vec()
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect()
    }

    #[test]
    fn options_keep_exited_panes_and_an_empty_server() {
        assert_eq!(
            argv(&keep_exited_panes()),
            ["set-option", "-g", "remain-on-exit", "on"]
        );
        assert_eq!(
            argv(&keep_empty_server()),
            ["set-option", "-s", "exit-empty", "off"]
        );
    }

    #[test]
    fn unset_global_env_argv() {
        assert_eq!(
            argv(&unset_global_env("CLAUDECODE")),
            ["set-environment", "-g", "-u", "CLAUDECODE"]
        );
    }

    #[test]
    fn new_session_argv_ends_with_the_programs_argv_after_double_dash() {
        let env = [
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "x y;".to_owned()),
        ];
        assert_eq!(
            argv(&new_session(
                "legio-p-a",
                (200, 50),
                &env,
                &["prog", "-x", "--"]
            )),
            [
                "new-session",
                "-d",
                "-P",
                "-e",
                "A=1",
                "-e",
                "B=x y;",
                "-F",
                "#{pane_pid}",
                "-s",
                "legio-p-a",
                "-x",
                "200",
                "-y",
                "50",
                "--",
                "prog",
                "-x",
                "--",
            ]
        );
        assert_eq!(
            argv(&new_session("s", (80, 24), &[], &["a", "b"])),
            [
                "new-session",
                "-d",
                "-P",
                "-F",
                "#{pane_pid}",
                "-s",
                "s",
                "-x",
                "80",
                "-y",
                "24",
                "--",
                "a",
                "b"
            ]
        );
    }

    #[test]
    fn log_commands_argv() {
        assert_eq!(
            argv(&set_log_path("=s:", "/tmp/a b/output.log")),
            [
                "set-option",
                "-p",
                "-t",
                "=s:",
                "@legio_log",
                "/tmp/a b/output.log"
            ]
        );
        assert_eq!(
            argv(&pipe_to_log("=s:")),
            [
                "pipe-pane",
                "-o",
                "-t",
                "=s:",
                "exec cat >> #{q:@legio_log}"
            ]
        );
    }

    #[test]
    fn list_panes_argv() {
        assert_eq!(
            argv(&list_all_panes()),
            ["list-panes", "-a", "-F", PANE_FORMAT]
        );
        assert_eq!(
            argv(&list_session_panes("=s")),
            ["list-panes", "-s", "-F", PANE_FORMAT, "-t", "=s"]
        );
    }

    #[test]
    fn display_message_argv() {
        assert_eq!(
            argv(&print_format(Some("=s:"), "#{pane_dead}")),
            ["display-message", "-p", "-t", "=s:", "#{pane_dead}"]
        );
        assert_eq!(
            argv(&print_format(None, "#{socket_path}")),
            ["display-message", "-p", "#{socket_path}"]
        );
    }

    #[test]
    fn send_keys_argv() {
        assert_eq!(
            argv(&type_literally("=s:", "-n hi;")),
            ["send-keys", "-l", "-t", "=s:", "--", "-n hi;"]
        );
        assert_eq!(
            argv(&press_enter("=s:")),
            ["send-keys", "-t", "=s:", "Enter"]
        );
    }

    #[test]
    fn capture_pane_argv() {
        assert_eq!(
            argv(&capture("=s:", 30)),
            ["capture-pane", "-p", "-J", "-S", "-30", "-t", "=s:"]
        );
    }

    #[test]
    fn kill_argv() {
        assert_eq!(argv(&kill_session("=s")), ["kill-session", "-t", "=s"]);
        assert_eq!(argv(&kill_server()), ["kill-server"]);
    }

    #[test]
    fn targets_name_exactly_one_session() {
        assert_eq!(session_target("legio-p-a"), "=legio-p-a");
        assert_eq!(pane_target("legio-p-a"), "=legio-p-a:");
    }
}
