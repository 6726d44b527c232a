//! An interactive claude in a tmux session on a private socket: start it, read its screen,
//! type into it, wait for it to exit. The tmux server is killed when the value is dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The tmux session name.
const SESSION: &str = "claude";
/// The terminal size claude gets.
const COLUMNS: &str = "160";
const ROWS: &str = "50";
/// How often the screen is polled while waiting.
const POLL: Duration = Duration::from_millis(50);
/// How long a screen must stay unchanged before a key is pressed into a dialog.
const STEADY: Duration = Duration::from_millis(1500);

/// Whether a screen capture shows claude's interactive prompt empty and waiting for input: a
/// line that is only the prompt mark `❯` (followed by a no-break space, which tmux keeps) and no
/// dialog on screen. Dialogs (trust, API key, bypass-permissions warning) also draw `❯`, but as
/// a cursor before an option (`❯ No, exit`) and with an `Enter to confirm` footer.
pub fn claude_prompt_ready(screen: &str) -> bool {
    let empty_prompt = screen
        .lines()
        .any(|l| l.trim_end_matches([' ', '\u{a0}']) == "❯");
    empty_prompt && !screen.contains("Enter to confirm")
}

/// A program running in its own tmux server.
pub struct TmuxClaude {
    socket: PathBuf,
    started: Instant,
    /// The program's process id, to wait for its end when the session is killed.
    pid: Option<u32>,
}

impl TmuxClaude {
    /// Starts `argv` in `cwd` with exactly `env` (the tmux server is started with a cleared
    /// environment, and the pane inherits the server's). The pane stays after the program
    /// exits (`remain-on-exit`), so its last screen can still be read.
    pub fn start(socket: &Path, cwd: &Path, env: &[(String, String)], argv: &[String]) -> Self {
        let config = socket.with_extension("conf");
        fs::write(
            &config,
            "set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g history-limit 5000\n",
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        let mut tmux = Self {
            socket: socket.to_path_buf(),
            started: Instant::now(),
            pid: None,
        };
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-S")
            .arg(socket)
            .arg("-f")
            .arg(&config)
            .args([
                "new-session",
                "-d",
                "-s",
                SESSION,
                "-x",
                COLUMNS,
                "-y",
                ROWS,
                "-c",
            ])
            .arg(cwd)
            .args(argv);
        checked(&mut cmd, "starting claude in tmux");
        let out = checked(
            tmux.tmux()
                .args(["display-message", "-p", "-t", SESSION, "#{pane_pid}"]),
            "asking tmux for claude's process id",
        );
        tmux.pid = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
        tmux
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket).stdin(Stdio::null());
        cmd
    }

    /// Time since the session was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The visible screen as plain text (no colours), one line per row.
    pub fn screen(&self) -> String {
        let out = checked(
            self.tmux().args(["capture-pane", "-p", "-t", SESSION]),
            "capturing the claude pane",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `ready(screen)` holds; returns that screen. Fails the test with
    /// the last screen after `timeout`.
    pub fn wait_for_screen(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {} s for {what}; the screen shows:\n{screen}",
                timeout.as_secs()
            );
            thread::sleep(POLL);
        }
    }

    /// Types `text` literally (no key names are interpreted).
    pub fn type_text(&self, text: &str) {
        checked(
            self.tmux()
                .args(["send-keys", "-t", SESSION, "-l", "--", text]),
            "typing into the claude pane",
        );
    }

    /// Presses one key by tmux name (`Enter`, `Escape`, `C-c`, ...).
    pub fn press(&self, key: &str) {
        checked(
            self.tmux().args(["send-keys", "-t", SESSION, key]),
            "pressing a key in the claude pane",
        );
    }

    /// Answers the dialog on screen with `option` (its text as drawn): moves the `❯` cursor
    /// down to it, then presses Enter, and returns the first screen without the dialog. The
    /// cursor is checked again before every key, and a key is pressed only into a screen that
    /// stayed the same for [`STEADY`]: on a loaded machine the dialog can be drawn anew,
    /// cursor back on its first answer, after a Down already took effect. Fails the test
    /// with the last screen after `timeout`, or when claude exits.
    pub fn choose(&self, option: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let selected = format!("❯ {option}");
        loop {
            let screen = self.screen();
            if !screen.contains("Enter to confirm") {
                return screen;
            }
            assert!(
                Instant::now() < deadline && !self.exited(),
                "could not answer {option:?} within {} s; the screen shows:\n{screen}",
                timeout.as_secs()
            );
            // Only press into a dialog that has stopped changing: while claude starts it can
            // draw the dialog again with the cursor back on its first answer, and an Enter
            // meant for "Yes" would then answer "No".
            thread::sleep(STEADY);
            if self.screen() != screen {
                continue;
            }
            let key = if screen.contains(&selected) {
                "Enter"
            } else {
                "Down"
            };
            self.press(key);
            // Give the key time to show before looking again.
            let settle = Instant::now() + Duration::from_secs(2);
            while Instant::now() < settle && self.screen() == screen {
                thread::sleep(POLL);
            }
        }
    }

    /// Whether the program in the pane has exited.
    pub fn exited(&self) -> bool {
        let out = checked(
            self.tmux()
                .args(["display-message", "-p", "-t", SESSION, "#{pane_dead}"]),
            "asking tmux whether claude exited",
        );
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Waits until the program exits; fails the test with the screen after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.exited() {
            assert!(
                Instant::now() < deadline,
                "claude did not exit within {} s; the screen shows:\n{}",
                timeout.as_secs(),
                self.screen()
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for TmuxClaude {
    /// Kills the tmux server, then waits for claude to be gone: it exits on the hangup
    /// asynchronously and would otherwise still write into a `HOME` the test is removing.
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let Some(pid) = self.pid else { return };
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_alive(pid) {
            if Instant::now() >= deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
                return;
            }
            thread::sleep(POLL);
        }
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn process_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesized command name.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// Runs a tmux command and fails the test, with tmux's stderr, when it fails (tmux exits
/// non-zero on a missing session or a bad argument).
fn checked(cmd: &mut Command, doing: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{doing}: cannot run tmux ({e}); is tmux installed?"));
    assert!(
        out.status.success(),
        "{doing}: tmux failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}
