//! Agent runtimes: what to run for an agent, how to tell it is ready, how to ask it one
//! question. [`ClaudeRuntime`] drives Claude Code; [`ScriptRuntime`] runs a configured command
//! (tests and demos).
//!
//! One-shot questions share one runner: the prompt goes on **stdin** (a prompt in argv hits
//! `E2BIG` at 128 KiB and shows in `ps`), the child runs in its own process group, and on
//! timeout that whole group is ended, so no half-finished helper survives the call.

mod claude;
mod script;

pub use claude::{ClaudeRuntime, NESTING_MARKERS};
pub use script::ScriptRuntime;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use legio_core::ports::RuntimeError;

use crate::proctree;

/// One process run to completion with input on stdin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Once<'a> {
    /// Program and arguments.
    pub argv: &'a [String],
    /// Working directory.
    pub cwd: &'a Path,
    /// Variables to remove from legio's own environment.
    pub env_remove: &'a [&'a str],
    /// What to write on stdin.
    pub stdin: &'a [u8],
    /// When to give up and end the process group.
    pub timeout: Duration,
    /// What to tell the user when the program is missing.
    pub install_hint: &'a str,
}

/// How a [`Once`] ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The end of `bytes` as text, at most `max` characters, for error messages.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let count = text.chars().count();
    if count <= max {
        text.to_owned()
    } else {
        let tail: String = text.chars().skip(count - max).collect();
        format!("...{tail}")
    }
}

/// Runs `once`, returning its output; a non-zero exit is [`RuntimeError::Failed`], running past
/// the timeout is [`RuntimeError::Timeout`] (after the process group was ended).
pub(crate) fn run_once(once: Once<'_>) -> Result<Finished, RuntimeError> {
    let program = once.argv.first().cloned().unwrap_or_default();
    let mut cmd = Command::new(&program);
    cmd.args(once.argv.iter().skip(1))
        .current_dir(once.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for var in once.env_remove {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound && once.cwd.is_dir() {
            RuntimeError::NotInstalled {
                program: program.clone(),
                hint: once.install_hint.to_owned(),
            }
        } else {
            RuntimeError::Launch {
                program: program.clone(),
                source,
            }
        }
    })?;
    let start_time = proctree::stat(child.id()).map(|s| s.start_time);

    // Feed stdin and drain stdout/stderr on their own threads, so a large prompt or a chatty
    // child can never deadlock against a full pipe.
    let input = once.stdin.to_vec();
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let writer = std::thread::spawn(move || {
        // A child that exits without reading all of it is not an error here.
        let _ = stdin.write_all(&input);
    });
    let mut out_pipe = child.stdout.take().expect("stdout was piped");
    let mut err_pipe = child.stderr.take().expect("stderr was piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });

    let deadline = Instant::now() + once.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => break None,
            Err(source) => {
                return Err(RuntimeError::Launch {
                    program: program.clone(),
                    source,
                });
            }
        }
    };
    let Some(status) = status else {
        proctree::terminate(child.id(), start_time, Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
        let _ = writer.join();
        let _ = out_reader.join();
        let _ = err_reader.join();
        return Err(RuntimeError::Timeout {
            program,
            timeout: once.timeout,
        });
    };
    let _ = writer.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(RuntimeError::Failed {
            program,
            code: status.code(),
            stderr: excerpt(&stderr, 2000),
        });
    }
    Ok(Finished { stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    fn once<'a>(argv: &'a [String], stdin: &'a [u8], timeout_ms: u64) -> Once<'a> {
        Once {
            argv,
            cwd: Path::new("/"),
            env_remove: &[],
            stdin,
            timeout: Duration::from_millis(timeout_ms),
            install_hint: "install it",
        }
    }

    #[test]
    fn a_large_prompt_goes_through_stdin_and_comes_back() {
        let argv = sh("cat");
        let prompt = "x".repeat(300_000); // far beyond what argv could take
        let done = run_once(once(&argv, prompt.as_bytes(), 10_000)).unwrap();
        assert_eq!(done.stdout.len(), 300_000);
    }

    #[test]
    fn a_timeout_ends_the_child_and_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let argv = sh(&format!("sleep 30 & echo $! > {}; wait", marker.display()));
        let started = Instant::now();
        let err = run_once(once(&argv, b"", 300)).unwrap_err();
        assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let grandchild: u32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            proctree::stat(grandchild).is_none_or(proctree::ProcStat::is_exited)
        });
        assert!(
            gone,
            "the grandchild {grandchild} must not outlive the timeout"
        );
    }

    #[test]
    fn failures_and_missing_programs_are_told_apart() {
        let argv = sh("echo boom >&2; exit 3");
        match run_once(once(&argv, b"", 5000)).unwrap_err() {
            RuntimeError::Failed { code, stderr, .. } => {
                assert_eq!(code, Some(3));
                assert_eq!(stderr, "boom");
            }
            other => panic!("{other}"),
        }
        let argv = vec!["/nonexistent/legio-test-program".to_owned()];
        let err = run_once(once(&argv, b"", 5000)).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::NotInstalled { hint, .. } if hint == "install it"),
            "{err}"
        );
    }

    #[test]
    fn excerpts_keep_the_end() {
        assert_eq!(excerpt(b"  short \n", 10), "short");
        assert_eq!(excerpt(b"0123456789abc", 3), "...abc");
    }
}
