//! Process liveness.

/// Tells whether processes are alive.
pub trait ProcessProbe {
    /// Whether `pid` is alive (a process owned by another user counts as alive).
    fn is_alive(&self, pid: u32) -> bool;

    /// Liveness of several pids at once, in order.
    fn alive_many(&self, pids: &[u32]) -> Vec<bool> {
        pids.iter().map(|&p| self.is_alive(p)).collect()
    }
}
