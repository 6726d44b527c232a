//! [`HeadlessMultiplexer`]: each agent a detached process, for machines without tmux.
//!
//! Per session, in the state directory (`.legio/headless/` for a project):
//! - `<name>.json`, the record: pid, the process's start time (from `/proc/<pid>/stat`, so a
//!   recycled pid is never mistaken for the agent), argv, cwd, log and input paths, and the
//!   exit code once known. Any later legio process lists sessions from these records.
//! - `<name>.stdin`, a FIFO that is the agent's stdin, opened read-write (on Linux that never
//!   blocks), so the agent never sees end-of-file while it waits for input. `send_text` from
//!   any process opens it for writing (no reader left means the agent is gone), takes an
//!   exclusive `flock` so two senders never interleave, and writes one line; an agent that
//!   does not read is reported after `input_timeout`, with how much went in. Creating the
//!   FIFO is also the atomic claim on the name.
//! - `.lock`, taken while a record is updated or removed, so an exit recorded as the session
//!   is killed cannot bring the record back.
//! - stdout and stderr go to `SessionSpec::log_path` (the CLI passes
//!   `.legio/logs/<agent>/output.log`), else to `<name>.log` here; `capture` is its tail.
//!
//! The process runs in its own process group (`CommandExt::process_group`), so it is not hit
//! by the user's Ctrl-C and `kill` can end the whole group. The creating process reaps it from
//! a small waiter thread and records its exit code; when that process has exited first, the
//! agent is reaped by init and its exit code is unknown.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use legio_core::Layout;
use legio_core::ports::{Multiplexer, MuxError, MuxSession, SessionSpec};
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::env::BaseEnv;
use crate::{proctree, spec, text};

/// How a [`HeadlessMultiplexer`] behaves.
#[derive(Debug, Clone)]
pub struct HeadlessConfig {
    /// The environment every agent starts from.
    pub base_env: BaseEnv,
    /// How long `kill` waits after TERM before KILL.
    pub kill_grace: Duration,
    /// How long `send_text` waits for an agent that is not reading its input.
    pub input_timeout: Duration,
}

impl Default for HeadlessConfig {
    fn default() -> Self {
        Self {
            base_env: BaseEnv::Inherit,
            kill_grace: Duration::from_secs(2),
            input_timeout: Duration::from_secs(5),
        }
    }
}

/// Agents as detached processes, tracked by record files in a state directory.
#[derive(Debug, Clone)]
pub struct HeadlessMultiplexer {
    dir: PathBuf,
    config: HeadlessConfig,
}

/// What is known about one headless session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    name: String,
    pid: u32,
    /// `/proc/<pid>/stat` start time, in clock ticks since boot.
    start_time: u64,
    argv: Vec<String>,
    cwd: PathBuf,
    log_path: PathBuf,
    input_path: PathBuf,
    exit_code: Option<i32>,
}

impl Record {
    /// Whether the recorded process still runs (same pid *and* same start time).
    fn is_running(&self) -> bool {
        proctree::stat(self.pid).is_some_and(|s| s.start_time == self.start_time && !s.is_exited())
    }

    fn to_session(&self) -> MuxSession {
        let running = self.is_running();
        MuxSession {
            name: self.name.clone(),
            pid: running.then_some(self.pid),
            running,
            exit_code: if running { None } else { self.exit_code },
        }
    }
}

fn io_err(operation: String) -> impl FnOnce(std::io::Error) -> MuxError {
    move |source| MuxError::Io { operation, source }
}

impl HeadlessMultiplexer {
    /// Sessions recorded in `state_dir` (created on first use).
    pub fn new(state_dir: impl Into<PathBuf>, config: HeadlessConfig) -> Self {
        Self {
            dir: state_dir.into(),
            config,
        }
    }

    /// Sessions of the project at `layout`, recorded in `.legio/headless/`.
    pub fn for_project(layout: &Layout, config: HeadlessConfig) -> Self {
        Self::new(layout.file("headless"), config)
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn input_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.stdin"))
    }

    fn load(&self, name: &str) -> Result<Option<Record>, MuxError> {
        if !spec::is_session_name(name) {
            return Ok(None);
        }
        let path = self.record_path(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| MuxError::Failed {
                operation: format!("read the headless session record {}", path.display()),
                detail: format!("{e}; `legio stop` on this agent removes it"),
            })
    }

    fn store(&self, record: &Record) -> Result<(), MuxError> {
        write_atomically(&self.record_path(&record.name), record)
    }

    /// Starts the process; everything after the FIFO claim is undone if this fails.
    fn spawn(&self, spec: &SessionSpec, input: &Path) -> Result<MuxSession, MuxError> {
        let name = spec.name.as_str();
        let log_path = spec
            .log_path
            .clone()
            .unwrap_or_else(|| self.dir.join(format!("{name}.log")));
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(format!(
                "create the log directory {}",
                dir.display()
            )))?;
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err(format!("open the log {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_err(format!("open the log {}", log_path.display())))?;
        // Read-write: the agent itself keeps a writer open, so it never reads end-of-file.
        let stdin = rustix::fs::open(input, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io_err(format!("open the input FIFO {}", input.display()))(e.into()))?;

        let mut cmd = Command::new(&spec.argv[0]);
        cmd.args(&spec.argv[1..]).current_dir(&spec.cwd);
        self.config.base_env.apply(&mut cmd);
        for var in &spec.env_remove {
            cmd.env_remove(var);
        }
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                MuxError::InvalidSpec {
                    name: name.to_owned(),
                    problem: format!("the program {:?} was not found", spec.argv[0]),
                }
            } else {
                io_err(format!("start {:?}", spec.argv[0]))(e)
            }
        })?;
        let pid = child.id();
        let Some(start_time) = proctree::stat(pid).map(|s| s.start_time) else {
            // Without its start time the record could later match a recycled pid: refuse.
            let _ = child.kill();
            let _ = child.wait();
            return Err(MuxError::Failed {
                operation: format!("start headless session {name:?}"),
                detail: format!("cannot read /proc/{pid}/stat to record the process"),
            });
        };
        let record = Record {
            name: name.to_owned(),
            pid,
            start_time,
            argv: spec.argv.clone(),
            cwd: spec.cwd.clone(),
            log_path,
            input_path: input.to_owned(),
            exit_code: None,
        };
        if let Err(e) = self.store(&record) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        let dir = self.dir.clone();
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                record_exit(&dir, &record, status);
            }
        });
        Ok(MuxSession {
            name: name.to_owned(),
            pid: Some(pid),
            running: true,
            exit_code: None,
        })
    }

    fn write_line(&self, name: &str, record: &Record, line: &[u8]) -> Result<(), MuxError> {
        let fifo = match rustix::fs::open(
            &record.input_path,
            OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // ENXIO: nobody holds the FIFO for reading any more.
            Err(Errno::NXIO | Errno::NOENT) => return Err(MuxError::NotRunning(name.to_owned())),
            Err(e) => {
                return Err(io_err(format!(
                    "open the input of {name:?} ({})",
                    record.input_path.display()
                ))(e.into()));
            }
        };
        rustix::fs::flock(&fifo, FlockOperation::LockExclusive)
            .map_err(|e| io_err(format!("lock the input of {name:?}"))(e.into()))?;
        let deadline = Instant::now() + self.config.input_timeout;
        let mut written = 0;
        while written < line.len() {
            match rustix::io::write(&fifo, &line[written..]) {
                Ok(n) => written += n,
                Err(Errno::AGAIN) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(Errno::AGAIN) => {
                    return Err(MuxError::Failed {
                        operation: format!("write to the input of {name:?}"),
                        detail: format!(
                            "only {written} of {} bytes went in within {} s: the agent is not \
                             reading its input",
                            line.len(),
                            self.config.input_timeout.as_secs()
                        ),
                    });
                }
                Err(Errno::PIPE) => return Err(MuxError::NotRunning(name.to_owned())),
                Err(Errno::INTR) => {}
                Err(e) => {
                    return Err(io_err(format!("write to the input of {name:?}"))(e.into()));
                }
            }
        }
        Ok(())
    }
}

/// Writes `value` as JSON to `path` through a temporary file and a rename, so readers see the
/// old record or the new one, never half of one.
fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), MuxError> {
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let json = serde_json::to_vec_pretty(value).expect("a record always serialises");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(format!("write {}", path.display()))(e)
    })
}

/// Takes the state directory's lock: record updates and removals exclude each other, so an
/// exit recorded as the session is killed cannot bring its record back. Released on drop.
fn lock_dir(dir: &Path) -> Result<rustix::fd::OwnedFd, MuxError> {
    let path = dir.join(".lock");
    let fd = rustix::fs::open(
        &path,
        OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| io_err(format!("open {}", path.display()))(e.into()))?;
    rustix::fs::flock(&fd, FlockOperation::LockExclusive)
        .map_err(|e| io_err(format!("lock {}", path.display()))(e.into()))?;
    Ok(fd)
}

/// Stores the exit code, unless the record was removed or now describes another process.
fn record_exit(dir: &Path, started: &Record, status: std::process::ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    let Ok(_lock) = lock_dir(dir) else {
        return;
    };
    let path = dir.join(format!("{}.json", started.name));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let Ok(mut current) = serde_json::from_str::<Record>(&text) else {
        return;
    };
    if current.pid != started.pid || current.start_time != started.start_time {
        return;
    }
    current.exit_code = status.code().or_else(|| status.signal().map(|s| 128 + s));
    // Best effort: the reader then reports "exited, code unknown", which is still true.
    let _ = write_atomically(&path, &current);
}

impl Multiplexer for HeadlessMultiplexer {
    fn kind(&self) -> &'static str {
        "headless"
    }

    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        spec::check(spec)?;
        std::fs::create_dir_all(&self.dir).map_err(io_err(format!(
            "create the headless state directory {}",
            self.dir.display()
        )))?;
        let input = self.input_path(&spec.name);
        // The FIFO is the claim on the name: mkfifo fails if it exists.
        match rustix::fs::mkfifoat(rustix::fs::CWD, &input, Mode::from_raw_mode(0o600)) {
            Ok(()) => {}
            Err(Errno::EXIST) => return Err(MuxError::AlreadyExists(spec.name.clone())),
            Err(e) => {
                return Err(io_err(format!("create the input FIFO {}", input.display()))(e.into()));
            }
        }
        self.spawn(spec, &input).inspect_err(|_| {
            let _ = std::fs::remove_file(&input);
        })
    }

    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("read {}", self.dir.display()))(e)),
        };
        let mut sessions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(format!("read {}", self.dir.display())))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            match self.load(name) {
                Ok(Some(record)) => sessions.push(record.to_session()),
                Ok(None) => {}
                // An unreadable record is still a session legio created: show it as exited
                // so it is noticed and can be killed, rather than hiding it.
                Err(_) => sessions.push(MuxSession {
                    name: name.to_owned(),
                    pid: None,
                    running: false,
                    exit_code: None,
                }),
            }
        }
        sessions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(sessions)
    }

    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        Ok(self.load(name)?.map(|r| r.to_session()))
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        let record = self
            .load(name)?
            .ok_or_else(|| MuxError::NoSuchSession(name.to_owned()))?;
        if !record.is_running() {
            return Err(MuxError::NotRunning(name.to_owned()));
        }
        let mut line = text::one_line(text).into_bytes();
        line.push(b'\n');
        self.write_line(name, &record, &line)
    }

    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError> {
        const MAX_TAIL: u64 = 1 << 20;
        let record = self
            .load(name)?
            .ok_or_else(|| MuxError::NoSuchSession(name.to_owned()))?;
        let read = || -> std::io::Result<Vec<u8>> {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = File::open(&record.log_path)?;
            let len = f.metadata()?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(MAX_TAIL)))?;
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            Ok(buf)
        };
        let bytes = match read() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(format!("read {}", record.log_path.display()))(e)),
        };
        Ok(text::last_lines(&String::from_utf8_lossy(&bytes), lines))
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        if !spec::is_session_name(name) || !self.dir.is_dir() {
            return Ok(());
        }
        // An unreadable record: nothing can be signalled safely, but its files go.
        let record = self.load(name).unwrap_or_default();
        if let Some(record) = &record {
            proctree::terminate(record.pid, Some(record.start_time), self.config.kill_grace);
        }
        let _lock = lock_dir(&self.dir)?;
        for path in [self.record_path(name), self.input_path(name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(format!("remove {}", path.display()))(e)),
            }
        }
        Ok(())
    }
}
