//! Identifier formats, compatible with legio 0.1.0's.

use crate::names::AgentName;
use crate::time::Timestamp;

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `n` random characters from `[a-z0-9]`, unbiased.
pub fn random_base36(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 32];
    while out.len() < n {
        if getrandom::fill(&mut buf).is_err() {
            // No OS randomness: fall back to the clock and a counter. Ids stay unique per
            // process; collisions across processes are caught by the stores' primary keys.
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let seed = crate::time::SystemClock.now_millis()
                ^ COUNTER.fetch_add(0x9E37_79B9, std::sync::atomic::Ordering::Relaxed);
            buf.copy_from_slice(&[seed.to_le_bytes(); 4].concat());
        }
        for &b in &buf {
            // 252 = 7 * 36: rejecting larger bytes keeps every character equally likely.
            if b < 252 && out.len() < n {
                out.push(ALPHABET[usize::from(b % 36)] as char);
            }
        }
    }
    out
}

impl crate::time::SystemClock {
    fn now_millis(self) -> u64 {
        use crate::time::Clock;
        self.now().millis() as u64
    }
}

/// A mail message id: `msg-` and 12 characters of `[a-z0-9]`.
pub fn message_id() -> String {
    format!("msg-{}", random_base36(12))
}

/// A run id: `run-2026-01-31T12-00-00-000Z`.
pub fn run_id(now: Timestamp) -> String {
    format!("run-{}", now.file_safe())
}

/// An agent session id: `session-<epoch ms>-<agent>`.
pub fn session_id(now: Timestamp, agent: &AgentName) -> String {
    format!("session-{}-{agent}", now.millis())
}

/// A task id of the built-in tracker: `<prefix>-` and 6 characters of `[a-z0-9]`.
pub fn task_id(prefix: &str) -> String {
    format!("{prefix}-{}", random_base36(6))
}

/// A task group id: `group-` and 8 characters of `[a-z0-9]`.
pub fn group_id() -> String {
    format!("group-{}", random_base36(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shapes() {
        let m = message_id();
        assert_eq!(m.len(), 16);
        assert!(m.starts_with("msg-"));
        assert!(m[4..].bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(message_id(), message_id());
        let now = Timestamp::from_millis(1_769_860_800_000);
        assert_eq!(run_id(now), "run-2026-01-31T12-00-00-000Z");
        let agent = AgentName::new("builder-1").unwrap();
        assert_eq!(session_id(now, &agent), "session-1769860800000-builder-1");
        assert!(crate::names::TaskId::new(task_id("legio")).is_ok());
    }
}
