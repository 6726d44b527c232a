//! The per-target merge lock: `.legio/merge/<target>.lock`, held with `flock(2)`.
//!
//! The kernel releases the lock when its holder exits for any reason (SIGKILL included), so a
//! crashed merger never blocks the next one. The holder writes its pid into the file so that a
//! waiting merger can say who it is waiting for.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

/// How often a waiting merger retries.
const POLL: Duration = Duration::from_millis(25);

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another merger held it for the whole wait.
    #[error("another legio merge{} is merging into {target}; waited {} ms for it. Wait for it to finish, or check that process", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), waited.as_millis())]
    Busy {
        /// The target branch.
        target: String,
        /// The holder's pid, when it could be read.
        holder: Option<u32>,
        /// How long this merger waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot use the merge lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// An exclusive lock on one target branch, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct TargetLock {
    _file: File,
    path: PathBuf,
}

impl TargetLock {
    /// Takes the lock at `path` for `target`, waiting up to `timeout` for its holder.
    pub fn acquire(path: &Path, target: &str, timeout: Duration) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let started = Instant::now();
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        return Err(LockError::Busy {
                            target: target.to_owned(),
                            holder: read_pid(&mut file),
                            waited,
                        });
                    }
                    std::thread::sleep(POLL.min(timeout.saturating_sub(waited)));
                }
                Err(e) => return Err(io(e.into())),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("merge/main.lock");
        let held = TargetLock::acquire(&path, "main", Duration::ZERO).unwrap();
        let err = TargetLock::acquire(&path, "main", Duration::from_millis(60)).unwrap_err();
        match &err {
            LockError::Busy { holder, waited, .. } => {
                assert_eq!(*holder, Some(std::process::id()));
                assert!(*waited >= Duration::from_millis(60));
            }
            LockError::Io { .. } => panic!("unexpected {err}"),
        }
        assert!(err.to_string().contains("merging into main"), "{err}");
        drop(held);
        TargetLock::acquire(&path, "main", Duration::ZERO).unwrap();
    }

    #[test]
    fn a_waiter_gets_the_lock_once_it_is_released() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.lock");
        let held = TargetLock::acquire(&path, "t", Duration::ZERO).unwrap();
        let p2 = path.clone();
        let waiter =
            std::thread::spawn(move || TargetLock::acquire(&p2, "t", Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        assert!(waiter.join().unwrap().is_ok());
    }
}
