//! Running the watchdog as a daemon: one per project, held by an advisory lock on
//! `.legio/watchdog.pid`, ticking with a fixed pause between ticks until told to stop.
//!
//! The lock (`flock`) belongs to the open file, so it disappears with the process however it
//! ends: a stale pid file never blocks a new daemon, and "is one running?" is answered by the
//! lock, not by guessing from a pid that may have been reused. The file holds the holder's pid
//! (`"<pid>\n"`, as legio 0.1.0 wrote it) and is emptied, never deleted, when the daemon stops:
//! deleting it would let a second daemon lock a fresh file while a third still waits on the old
//! one.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;

use crate::error::WatchdogError;
use crate::report::TickReport;
use crate::tick::{Ports, Watchdog};

/// How long [`PidLock::acquire`] keeps trying while another process briefly holds the lock to
/// check on the daemon.
const ACQUIRE_PATIENCE: Duration = Duration::from_millis(250);

/// Why the daemon could not start, or its state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another watchdog holds the lock.
    #[error("a watchdog already runs for this project ({})", holder(*pid))]
    AlreadyRunning {
        /// Its pid, as it recorded it.
        pid: Option<u32>,
    },
    /// The pid file could not be used.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".to_owned(), |p| format!("pid {p}"))
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> DaemonError + 'p {
    move |source| DaemonError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The daemon's hold on its project: while it lives, no other watchdog starts.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Takes the lock at `path` for the process `pid` and records the pid in the file.
    pub fn acquire(path: &Path, pid: u32) -> Result<Self, DaemonError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create the directory of", path))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open", path))?;
        let deadline = std::time::Instant::now() + ACQUIRE_PATIENCE;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(Errno::WOULDBLOCK) => {
                    return Err(DaemonError::AlreadyRunning {
                        pid: read_pid(&mut file),
                    });
                }
                Err(e) => return Err(io("lock", path)(e.into())),
            }
        }
        file.set_len(0).map_err(io("write", path))?;
        file.seek(SeekFrom::Start(0)).map_err(io("write", path))?;
        file.write_all(format!("{pid}\n").as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io("write", path))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidLock {
    /// Empties the file; closing it releases the lock.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether a watchdog holds the lock at `path`: `Some(pid)` (the pid it recorded, `None` if
/// unreadable) when one runs, `None` when none does.
pub fn running(path: &Path) -> Result<Option<Option<u32>>, DaemonError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", path)(e)),
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        // Nobody holds it (closing the file releases our probe).
        Ok(()) => Ok(None),
        Err(Errno::WOULDBLOCK) => Ok(Some(read_pid(&mut file))),
        Err(e) => Err(io("lock", path)(e.into())),
    }
}

/// Asks the daemon `pid` to stop (SIGTERM); it finishes its current tick first.
pub fn request_stop(pid: u32) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a pid"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(Into::into)
}

/// Ticks until `stop` receives a message or its sender is dropped, pausing `interval` after
/// each tick (a slow tick delays the next one; ticks never overlap or pile up). Each tick's
/// outcome goes to `on_tick`; a failed tick does not end the loop.
pub fn run(
    watchdog: &mut Watchdog,
    ports: &Ports<'_>,
    interval: Duration,
    stop: &Receiver<()>,
    mut on_tick: impl FnMut(Result<TickReport, WatchdogError>),
) {
    loop {
        on_tick(watchdog.tick(ports));
        match stop.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::fakes::{Fleet, watchdog};

    #[test]
    fn one_holder_at_a_time_and_a_stale_file_blocks_nobody() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".legio/watchdog.pid");
        assert_eq!(running(&path).unwrap(), None);

        // A pid file left by a crashed daemon (or legio 0.1.0) is not a running watchdog.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "999999\n").unwrap();
        assert_eq!(running(&path).unwrap(), None);

        let lock = PidLock::acquire(&path, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        assert_eq!(running(&path).unwrap(), Some(Some(4242)));
        // flock belongs to the open file: a second open, even in this process, is refused.
        let err = PidLock::acquire(&path, 1).unwrap_err();
        assert!(matches!(
            err,
            DaemonError::AlreadyRunning { pid: Some(4242) }
        ));
        assert!(err.to_string().contains("pid 4242"), "{err}");

        drop(lock);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "",
            "emptied, not deleted"
        );
        assert_eq!(running(&path).unwrap(), None);
        let again = PidLock::acquire(&path, 7).unwrap();
        assert_eq!(running(&path).unwrap(), Some(Some(7)));
        drop(again);
    }

    #[test]
    fn the_loop_ticks_until_told_to_stop() {
        let fleet = Fleet::new();
        let mut wd = watchdog(false);
        let (tx, rx) = mpsc::channel();
        let mut ticks = 0;
        run(
            &mut wd,
            &fleet.ports(),
            Duration::from_millis(1),
            &rx,
            |r| {
                assert!(r.is_ok());
                ticks += 1;
                if ticks == 3 {
                    tx.send(()).unwrap();
                }
            },
        );
        assert_eq!(ticks, 3);

        // A dropped sender (the signal thread is gone) also stops it, after the current tick.
        let (tx, rx) = mpsc::channel::<()>();
        drop(tx);
        let mut ticks = 0;
        run(
            &mut wd,
            &fleet.ports(),
            Duration::from_secs(3600),
            &rx,
            |_| ticks += 1,
        );
        assert_eq!(ticks, 1);
    }
}
