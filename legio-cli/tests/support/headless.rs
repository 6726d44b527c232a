//! A headless claude steered over stdin: `claude -p --input-format stream-json --output-format
//! stream-json --verbose`. Prompts go in as JSON lines; every JSON line it prints is collected
//! by a reader thread. The process is killed when the value is dropped.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running headless claude.
pub struct HeadlessClaude {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every line seen so far, parsed (non-JSON lines are kept as strings).
    seen: Vec<Value>,
}

impl HeadlessClaude {
    /// Takes over a spawned claude whose stdin and stdout are piped.
    pub fn new(mut child: Child) -> Self {
        let stdin = child
            .stdin
            .take()
            .expect("headless claude is spawned with piped stdin");
        let stdout = child
            .stdout
            .take()
            .expect("headless claude is spawned with piped stdout");
        let (send, lines) = channel();
        thread::Builder::new()
            .name("headless-claude-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the stdout reader thread");
        Self {
            child,
            stdin: Some(stdin),
            lines,
            seen: Vec::new(),
        }
    }

    /// Sends one user message (`{"type":"user","message":{"role":"user","content":TEXT}}`).
    pub fn send_prompt(&mut self, text: &str) {
        let line = json!({"type": "user", "message": {"role": "user", "content": text}});
        let stdin = self
            .stdin
            .as_mut()
            .expect("prompts are sent before stdin is closed");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("writing a prompt to headless claude: {e}"));
    }

    /// Reads lines until one satisfies `wanted`, returns it. Fails the test, showing the lines
    /// seen, after `timeout` or when claude closes its stdout.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                    self.seen.push(value.clone());
                    if wanted(&value) {
                        return value;
                    }
                }
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => format!("{} s passed", timeout.as_secs()),
                        RecvTimeoutError::Disconnected => "claude closed its stdout".to_owned(),
                    };
                    panic!(
                        "waiting for {what}: {why}; lines so far:\n{}",
                        self.seen
                            .iter()
                            .map(Value::to_string)
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                }
            }
        }
    }

    /// Waits for the next `{"type":"result"}` line (one per prompt).
    pub fn wait_for_result(&mut self, timeout: Duration) -> Value {
        self.wait_for("a result line", timeout, |v| v["type"] == "result")
    }

    /// Every line seen so far.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// Closes stdin (claude then ends its session) and waits for the exit.
    pub fn close(mut self, timeout: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) => {
                    assert!(
                        Instant::now() < deadline,
                        "headless claude did not exit within {} s of its stdin closing",
                        timeout.as_secs()
                    );
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("waiting for headless claude: {e}"),
            }
        }
    }
}

impl Drop for HeadlessClaude {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
