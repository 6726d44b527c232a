//! Quality gates: commands that must pass in a checkout of the merge result before the target
//! branch moves.
//!
//! The engine sees the [`QualityGates`] trait; [`CommandGates`] runs a list of argv commands
//! with a time limit each and keeps the end of their output for the failure report. How a
//! configured gate string becomes argv is the caller's decision (legio-cli owns config).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of a gate's output is kept (the end of it).
const OUTPUT_TAIL: usize = 8 * 1024;

/// One gate's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    /// The gate's name (`test`, `lint`, ...).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed or what it printed last (stdout and stderr, the last few KiB).
    pub output: String,
    /// How long it ran.
    pub duration: Duration,
}

/// The results of every gate, in order; gates after the first failure are not run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateReport {
    /// One per gate run.
    pub results: Vec<GateResult>,
}

impl GateReport {
    /// Whether every gate passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// A summary of the failures for a queue entry's error message.
    pub fn failure_summary(&self) -> String {
        self.results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("quality gate {} failed:\n{}", r.name, r.output.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Checks run in a checkout of a merge result.
pub trait QualityGates {
    /// Whether there is anything to run (no checkout is prepared when there is not).
    fn is_empty(&self) -> bool;

    /// Runs the gates in `dir`.
    fn run(&self, dir: &Path) -> GateReport;
}

/// No gates: every merge passes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGates;

impl QualityGates for NoGates {
    fn is_empty(&self) -> bool {
        true
    }

    fn run(&self, _dir: &Path) -> GateReport {
        GateReport::default()
    }
}

/// One gate command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCommand {
    /// Its name, for reports.
    pub name: String,
    /// Program and arguments.
    pub argv: Vec<String>,
}

/// Gates that are commands, run one after another, each within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandGates {
    /// The commands.
    pub commands: Vec<GateCommand>,
    /// The time limit of each.
    pub timeout: Duration,
}

impl QualityGates for CommandGates {
    fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    fn run(&self, dir: &Path) -> GateReport {
        let mut report = GateReport::default();
        for gate in &self.commands {
            let result = run_one(gate, dir, self.timeout);
            let failed = !result.passed;
            report.results.push(result);
            if failed {
                break;
            }
        }
        report
    }
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(OUTPUT_TAIL);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn run_one(gate: &GateCommand, dir: &Path, timeout: Duration) -> GateResult {
    let started = Instant::now();
    let done = |passed: bool, output: String| GateResult {
        name: gate.name.clone(),
        passed,
        output,
        duration: started.elapsed(),
    };
    let Some((program, args)) = gate.argv.split_first() else {
        return done(false, "the gate has no command".into());
    };
    let spawned = Command::new(program)
        .args(args)
        .current_dir(dir)
        // Its own process group, so a timeout ends everything the gate started.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return done(false, format!("could not start {program}: {e}")),
    };
    // Drain both pipes on threads so a chatty gate never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                let group = rustix::process::Pid::from_child(&child);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("could not wait for {program}: {e}")),
        }
    };
    let mut output = out.join().unwrap_or_default();
    output.extend(err.join().unwrap_or_default());
    let output = tail(&output);
    match status {
        Ok(s) if s.success() => done(true, output),
        Ok(s) => done(false, format!("{output}\n(exit {s})")),
        Err(why) => done(false, format!("{output}\n({why})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(name: &str, argv: &[&str]) -> GateCommand {
        GateCommand {
            name: name.into(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn runs_in_the_directory_and_stops_at_the_first_failure() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("marker"), "here").unwrap();
        let gates = CommandGates {
            commands: vec![
                gate("see", &["cat", "marker"]),
                gate("fail", &["sh", "-c", "echo broken >&2; exit 3"]),
                gate("never", &["touch", "ran"]),
            ],
            timeout: Duration::from_secs(10),
        };
        let report = gates.run(tmp.path());
        assert!(!report.passed());
        assert_eq!(report.results.len(), 2);
        assert!(report.results[0].passed);
        assert_eq!(report.results[0].output, "here");
        assert!(
            report
                .failure_summary()
                .contains("quality gate fail failed")
        );
        assert!(report.failure_summary().contains("broken"));
        assert!(!tmp.path().join("ran").exists());
    }

    #[test]
    fn a_missing_program_and_a_hang_are_failures_with_reasons() {
        let tmp = tempfile::tempdir().unwrap();
        let gates = CommandGates {
            commands: vec![gate("nope", &["/nonexistent/legio-gate"])],
            timeout: Duration::from_secs(5),
        };
        let r = gates.run(tmp.path());
        assert!(r.results[0].output.contains("could not start"), "{r:?}");
        let gates = CommandGates {
            commands: vec![gate("hang", &["sh", "-c", "sleep 5; echo done"])],
            timeout: Duration::from_millis(200),
        };
        let r = gates.run(tmp.path());
        assert!(!r.passed());
        assert!(r.results[0].output.contains("timed out"), "{r:?}");
        assert!(r.results[0].duration < Duration::from_secs(4));
    }
}
