//! Pid files (`.legio/watchdog.pid`, `.legio/server.pid`): a decimal process id, optionally
//! followed by a newline, written by a long-running legio process while it runs.
//!
//! Reading one never changes it. Whether the process still runs is the caller's question
//! (a [`ProcessProbe`](crate::ports::ProcessProbe)); a pid file whose process is gone is
//! *stale*: harmless to remove, and misleading to keep.

use std::path::Path;

use crate::ports::ProcessProbe;

/// What a pid file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidFile {
    /// There is no file.
    Absent,
    /// The file holds no usable pid (empty, not a number, 0 or negative); the text, trimmed.
    Invalid(String),
    /// A process id.
    Pid(u32),
}

/// Reads the pid file at `path`. A missing file is [`PidFile::Absent`]; other read errors
/// are returned.
pub fn read(path: &Path) -> std::io::Result<PidFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PidFile::Absent),
        Err(e) => return Err(e),
    };
    let trimmed = text.trim();
    Ok(match trimmed.parse::<u32>() {
        Ok(pid) if pid > 0 => PidFile::Pid(pid),
        _ => PidFile::Invalid(trimmed.chars().take(40).collect()),
    })
}

/// The pid of the live process a pid file names, if the file names one that runs.
pub fn live_pid(path: &Path, probe: &dyn ProcessProbe) -> Option<u32> {
    match read(path) {
        Ok(PidFile::Pid(pid)) if probe.is_alive(pid) => Some(pid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Alive(u32);
    impl ProcessProbe for Alive {
        fn is_alive(&self, pid: u32) -> bool {
            pid == self.0
        }
    }

    #[test]
    fn reads_every_shape_of_pid_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("watchdog.pid");
        assert_eq!(read(&p).unwrap(), PidFile::Absent);
        std::fs::write(&p, "4242\n").unwrap();
        assert_eq!(read(&p).unwrap(), PidFile::Pid(4242));
        std::fs::write(&p, "4242").unwrap();
        assert_eq!(read(&p).unwrap(), PidFile::Pid(4242));
        for bad in ["", "0", "-3", "NaN", "12 13"] {
            std::fs::write(&p, bad).unwrap();
            assert_eq!(read(&p).unwrap(), PidFile::Invalid(bad.into()), "{bad:?}");
        }
        std::fs::write(&p, "7").unwrap();
        assert_eq!(live_pid(&p, &Alive(7)), Some(7));
        assert_eq!(live_pid(&p, &Alive(8)), None);
    }
}
