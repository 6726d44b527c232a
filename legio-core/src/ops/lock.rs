//! A lock file: mutual exclusion between legio processes for a read-modify-write of a small
//! state file (the root settings claims, an agent's nudge record).
//!
//! The lock is a file created with `create_new` (atomic on every local filesystem) and removed
//! when the guard drops. A lock older than [`STALE_AFTER`] was left by a process that died
//! while holding it and is broken. Locks are held for milliseconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A lock file older than this is considered abandoned.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
}

impl FileLock {
    /// Takes the lock at `path`, waiting up to `timeout` for another holder.
    pub fn acquire(path: &Path, timeout: Duration) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => {
                    return Ok(Self {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if is_stale(path) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "{} is held by another legio process; if none is running, delete it",
                                path.display()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_AFTER)
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
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
        assert!(!path.exists());
        assert!(FileLock::acquire(&path, Duration::from_millis(10)).is_ok());
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
