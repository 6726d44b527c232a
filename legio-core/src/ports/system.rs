//! Process liveness.

/// Tells whether processes are alive.
///
/// Alive means "exists and has not exited": a process owned by another user (the probe gets
/// `EPERM`) is alive; a process that has exited but was not yet reaped by its parent (a
/// zombie) is not. pid 0 is never alive.
pub trait ProcessProbe {
    /// Whether `pid` is alive.
    fn is_alive(&self, pid: u32) -> bool;

    /// Liveness of several pids at once, in order.
    fn alive_many(&self, pids: &[u32]) -> Vec<bool> {
        pids.iter().map(|&p| self.is_alive(p)).collect()
    }
}
