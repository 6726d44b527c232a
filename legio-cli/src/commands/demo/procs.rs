//! The processes the demo runs: `legio` itself (every step goes through the real command
//! line, as a user would type it), `git`, and the watchdog daemon, whose lines are relayed as
//! progress. Every child gets argv (never a shell string), its own process group (a Ctrl-C in
//! the terminal reaches only the demo, which then ends its children in order), and an
//! environment without the `LEGIO_*` variables of an agent session the demo may run inside.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{CliError, CliResult};

/// Variables of an agent's session that would point legio at another project.
const AGENT_VARIABLES: [&str; 6] = [
    "LEGIO_AGENT_NAME",
    "LEGIO_ROOT",
    "LEGIO_CAPABILITY",
    "LEGIO_WORKTREE_PATH",
    "LEGIO_FAILPOINT",
    "LEGIO_TEST_NOW",
];

/// How long one `legio` or `git` step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Set by SIGINT or SIGTERM. Further signals change nothing: the cleanup always runs (each of
/// its steps has a time limit), because a second signal often comes without anyone asking for
/// it (`timeout` signals its child and then its whole process group).
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Handles SIGINT and SIGTERM from now on.
    pub fn install() -> CliResult<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&flag))
                .map_err(|e| CliError::failure(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
        }
        Ok(Self(flag))
    }

    /// A flag no signal sets (for the cleanup after an interruption).
    pub fn never() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    /// Whether a signal came.
    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(interrupted)` once a signal came.
    pub fn check(&self) -> CliResult {
        if self.raised() {
            Err(interrupted())
        } else {
            Ok(())
        }
    }

    /// Sleeps `d` in short naps, returning early with an error on a signal.
    pub fn nap(&self, d: Duration) -> CliResult {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.check()?;
            std::thread::sleep(Duration::from_millis(20).min(d));
        }
        self.check()
    }
}

/// The error of an interrupted demo (a failure: exit status 1).
pub fn interrupted() -> CliError {
    CliError::failure("interrupted: the demo stopped and cleaned up")
}

/// Runs programs for the demo.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The legio binary (this one).
    pub legio: PathBuf,
    /// The scratch repository.
    pub repo: PathBuf,
    /// Signals.
    pub interrupt: Interrupt,
}

impl Runner {
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.repo)
            .stdin(Stdio::null())
            .process_group(0);
        for name in AGENT_VARIABLES {
            cmd.env_remove(name);
        }
        cmd
    }

    /// `legio -C <repo> <args>`; its output, or an error with its stderr.
    pub fn legio(&self, args: &[&str]) -> CliResult<Output> {
        let mut cmd = self.command(&self.legio);
        cmd.arg("-C").arg(&self.repo).args(args);
        let what = format!("legio {}", args.join(" "));
        self.finish(cmd, &what)
    }

    /// `legio --json -C <repo> <args>`, parsed.
    pub fn legio_json(&self, args: &[&str]) -> CliResult<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.legio(&all)?;
        serde_json::from_slice(&out.stdout).map_err(|e| {
            CliError::failure(format!(
                "legio {} printed no JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout).trim()
            ))
        })
    }

    /// `git <args>` in the repository; its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> CliResult<String> {
        let mut cmd = self.command(Path::new("git"));
        cmd.args(args);
        let what = format!("git {}", args.join(" "));
        let out = self.finish(cmd, &what)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `git <args>`: whether it succeeded (for questions such as `merge-base --is-ancestor`).
    pub fn git_ok(&self, args: &[&str]) -> CliResult<bool> {
        let mut cmd = self.command(Path::new("git"));
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        let what = format!("git {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .map_err(|e| CliError::failure(format!("cannot run {what}: {e}")))?;
        let status = self.wait(&mut child, &what)?;
        Ok(status.success())
    }

    /// `sh <args>` in the repository: its status and combined output, whatever the status.
    pub fn sh(&self, args: &[&str]) -> CliResult<(bool, String)> {
        let mut cmd = self.command(Path::new("sh"));
        cmd.args(args);
        let what = format!("sh {}", args.join(" "));
        let out = self.collect(cmd, &what)?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text.trim().to_owned()))
    }

    fn finish(&self, cmd: Command, what: &str) -> CliResult<Output> {
        let out = self.collect(cmd, what)?;
        if out.status.success() {
            return Ok(out);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(CliError::failure(format!(
            "{what} failed ({}): {}",
            out.status,
            stderr.trim()
        )))
    }

    /// Runs `cmd` to the end (reading its output on threads, so a chatty child never blocks),
    /// ending it if the demo is interrupted or it overruns [`STEP_TIMEOUT`].
    fn collect(&self, mut cmd: Command, what: &str) -> CliResult<Output> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| CliError::failure(format!("cannot run {what}: {e}")))?;
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
        let status = self.wait(&mut child, what)?;
        Ok(Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }

    fn wait(&self, child: &mut Child, what: &str) -> CliResult<std::process::ExitStatus> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|e| CliError::failure(format!("cannot wait for {what}: {e}")))?
            {
                return Ok(status);
            }
            let overran = Instant::now() >= deadline;
            if overran || self.interrupt.raised() {
                end_group(child);
                return Err(if overran {
                    CliError::failure(format!(
                        "{what} did not finish within {} s",
                        STEP_TIMEOUT.as_secs()
                    ))
                } else {
                    interrupted()
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts `legio watch --interval <ms>`; its output lines arrive on the returned channel.
    pub fn watchdog(&self, interval_ms: u64) -> CliResult<Watchdog> {
        let mut cmd = self.command(&self.legio);
        cmd.arg("-C")
            .arg(&self.repo)
            .args(["watch", "--interval", &interval_ms.to_string()])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| CliError::failure(format!("cannot start legio watch: {e}")))?;
        let (tx, lines) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as _),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Watchdog { child, lines })
    }
}

/// The watchdog daemon the demo started.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    /// Its output, line by line.
    pub lines: mpsc::Receiver<String>,
}

impl Watchdog {
    /// Whether it has exited (it should not while the demo runs).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks it to stop (SIGTERM: it finishes its tick) and waits; kills it after `grace`.
    pub fn stop(mut self, grace: Duration) -> Vec<String> {
        if self.exited().is_none() {
            signal_group(&self.child, rustix::process::Signal::TERM);
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if self.exited().is_none() {
                end_group(&mut self.child);
            }
        }
        self.lines.try_iter().collect()
    }
}

fn signal_group(child: &Child, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Kills a child's whole process group and reaps the child.
fn end_group(child: &mut Child) {
    signal_group(child, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}
