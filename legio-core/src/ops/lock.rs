//! A lock file: mutual exclusion between legio processes for a read-modify-write of a small
//! state file (the root settings claims, an agent's nudge record, `groups.json`).
//!
//! The lock is an advisory `flock` on the lock file (`File::try_lock`), taken by polling until
//! a deadline. It belongs to the open file, so it is released when the guard drops **or when
//! the process dies**: a crashed holder never blocks anyone, and no age heuristic is needed.
//! The file itself stays (removing it would let two processes lock two different files).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the lock at `path` (creating the file and its directory), waiting up to
    /// `timeout` for another holder.
    pub fn acquire(path: &Path, timeout: Duration) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{} is held by another legio process (waited {} ms); try again",
                            path.display(),
                            timeout.as_millis()
                        ),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_then_times_out() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.lock");
        let held = FileLock::acquire(&path, Duration::from_millis(10)).unwrap();
        let err = FileLock::acquire(&path, Duration::from_millis(20)).unwrap_err();
        assert!(err.to_string().contains("held by another"), "{err}");
        drop(held);
        assert!(FileLock::acquire(&path, Duration::from_millis(10)).is_ok());
    }

    #[test]
    fn a_lock_left_in_place_by_a_dead_holder_is_free() {
        // The file outlives its holder (as after a crash); only a live lock blocks.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("left.lock");
        std::fs::write(&path, "").unwrap();
        assert!(FileLock::acquire(&path, Duration::ZERO).is_ok());
    }

    #[test]
    fn concurrent_holders_never_overlap() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.lock");
        let counter = tmp.path().join("counter");
        std::fs::write(&counter, "0").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..25 {
                        let _guard = FileLock::acquire(&path, Duration::from_secs(10)).unwrap();
                        let n: u32 = std::fs::read_to_string(&counter).unwrap().parse().unwrap();
                        std::fs::write(&counter, (n + 1).to_string()).unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read_to_string(&counter).unwrap(), "100");
    }
}
