//! `legio dashboard` through the binary, in a real terminal: a tmux pane of 80x24 on a test
//! socket of its own. It draws, redraws when a store changes, and leaves the terminal restored
//! (no alternate screen, cursor shown) on `q` and on Ctrl-C.
#![allow(clippy::unwrap_used)] // a test step that fails is a failed test

mod doctor_fixture;

use std::process::Command;
use std::time::{Duration, Instant};

use doctor_fixture::Project;
use legio_core::domain::mail::{MailType, NewMail};
use legio_core::ports::MailStore;

/// A tmux server for the dashboard's terminal (not legio's socket: the dashboard lists that).
struct Screen<'p> {
    project: &'p Project,
    socket: String,
}

impl<'p> Screen<'p> {
    fn start(project: &'p Project, name: &str) -> Self {
        let screen = Self {
            project,
            socket: format!("dash-{name}"),
        };
        let conf = project.scratch().join(format!("{name}.conf"));
        std::fs::write(&conf, "set -g default-terminal tmux-256color\n").unwrap();
        // After legio exits, the shell reports its status and whether the terminal is in
        // canonical mode again (it is iff raw mode was left), then keeps the pane alive: tmux
        // reports a dead pane's cursor as hidden.
        let script = "\"$0\" dashboard --interval 500; echo \"legio exited $?\"; \
                      stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon; exec sleep 600";
        let legio = assert_cmd::cargo::cargo_bin("legio");
        let out = screen
            .tmux_with_conf(&conf)
            .args([
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
                "-s",
                "dash",
                "--",
            ])
            .args(["sh", "-c", script])
            .arg(legio)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        screen
    }

    fn tmux_with_conf(&self, conf: &std::path::Path) -> Command {
        let mut cmd = self.project.command("tmux");
        cmd.arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg(conf);
        cmd
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = self
            .tmux_with_conf(std::path::Path::new("/dev/null"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn text(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "dash"])
    }

    fn format(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "dash", format])
            .trim()
            .to_owned()
    }

    /// Waits for legio to exit, then checks it exited 0 and left the terminal as it found
    /// it: main screen, cursor shown, canonical (not raw) mode.
    fn assert_restored(&self) {
        self.wait_for("the dashboard to exit", |s| s.text().contains("icanon"));
        let text = self.text();
        assert!(text.contains("legio exited 0"), "{text}");
        assert!(
            text.lines().any(|l| l.trim() == "icanon"),
            "raw mode was left: {text}"
        );
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "left the alternate screen"
        );
        assert_eq!(
            self.format("#{cursor_flag}"),
            "1",
            "the cursor is shown again"
        );
    }

    fn wait_for(&self, what: &str, ready: impl Fn(&Screen<'_>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; the screen shows:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Screen<'_> {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn draws_redraws_on_change_and_restores_the_terminal_on_q() {
    let p = Project::new();
    let screen = Screen::start(&p, "q");
    screen.wait_for("the first frame", |s| {
        let t = s.text();
        t.contains("legio dashboard · project") && t.contains("Agents (0 active / 0)")
    });
    assert_eq!(
        screen.format("#{alternate_on}"),
        "1",
        "drawn on the alternate screen"
    );
    assert!(screen.text().contains("no mail"));

    let mail = legio_store::SqliteMailStore::open_in(&p.layout()).unwrap();
    mail.send(
        &NewMail::new(
            "b1",
            "orchestrator",
            MailType::Question,
            "which database?",
            "",
        ),
        legio_core::Timestamp::from_millis(doctor_fixture::T0),
    )
    .unwrap();
    screen.wait_for("the new message", |s| {
        let t = s.text();
        t.contains("which database?") && t.contains("Mail (1 unread for orchestrator)")
    });

    screen.tmux(&["send-keys", "-t", "dash", "q"]);
    screen.assert_restored();
}

#[test]
fn ctrl_c_exits_cleanly_too() {
    let p = Project::new();
    let screen = Screen::start(&p, "c");
    screen.wait_for("the first frame", |s| s.text().contains("legio dashboard"));
    screen.tmux(&["send-keys", "-t", "dash", "C-c"]);
    screen.assert_restored();
}

#[test]
fn without_a_terminal_it_says_what_to_use_instead() {
    let p = Project::new();
    let (code, out, err) = p.run(&["dashboard"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("stdout is not one"), "{err}");
    let (code, _, err) = p.run(&["dashboard", "--interval", "100"]);
    assert_eq!(code, 2);
    assert!(err.contains("100"), "{err}");
}
