//! [`ProcfsProbe`]: process liveness with `kill(pid, 0)`, corrected by `/proc`.

use legio_core::ports::ProcessProbe;
use rustix::io::Errno;
use rustix::process::Pid;

use crate::proctree;

/// Liveness from `kill(pid, 0)`: success or `EPERM` (the process exists but belongs to another
/// user; legio 0.1.0 wrongly called that dead) means it exists, `ESRCH` means it does not.
/// A process that exists only as an unreaped zombie is reported dead, since it has exited.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcfsProbe;

impl ProcessProbe for ProcfsProbe {
    fn is_alive(&self, pid: u32) -> bool {
        let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            return false;
        };
        match rustix::process::test_kill_process(p) {
            Ok(()) | Err(Errno::PERM) => {
                !proctree::stat(pid).is_some_and(proctree::ProcStat::is_exited)
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_live_dead_zombie_and_foreign_processes() {
        let probe = ProcfsProbe;
        assert!(probe.is_alive(std::process::id()));
        assert!(!probe.is_alive(0), "pid 0 is never a process");
        assert!(!probe.is_alive(u32::MAX), "out of range");

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Until reaped, the exited child is a zombie: kill(0) succeeds but it is not alive.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while proctree::stat(pid).is_some_and(|s| !s.is_exited()) {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!probe.is_alive(pid), "a zombie is not alive");
        child.wait().unwrap();
        assert!(!probe.is_alive(pid), "a reaped process is not alive");

        // pid 1 exists whoever we are; as root it answers Ok, otherwise EPERM: alive both ways.
        assert!(probe.is_alive(1));
        assert_eq!(
            probe.alive_many(&[std::process::id(), pid, 1]),
            vec![true, false, true]
        );
    }
}
