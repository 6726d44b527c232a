//! [`Policy`]: the watchdog's thresholds, taken once from `watchdog.*` in the configuration.

use std::time::Duration;

use legio_core::config::WatchdogConfig;

/// Idle nudges one agent gets per watchdog lifetime before the watchdog stops nudging it and
/// tells its parent instead (each nudge costs the agent a model turn).
pub const MAX_IDLE_NUDGES: u32 = 2;

/// What the watchdog tolerates and how it escalates. Durations are in milliseconds because
/// they are compared with timestamp differences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `watchdog.nudgeIntervalMs`: inactivity before an agent counts as stalled (or idle for
    /// too long), and the spacing between escalation stages.
    pub nudge_interval_ms: i64,
    /// `watchdog.zombieThresholdMs`: no agent is terminated for inactivity before this long.
    pub zombie_threshold_ms: i64,
    /// `watchdog.bootTimeoutMs`: a booting agent that has not reported after this long never
    /// started.
    pub boot_timeout_ms: i64,
    /// `watchdog.tier1Enabled`: ask the agent runtime for a verdict before terminating.
    pub triage_enabled: bool,
    /// `watchdog.triageTimeoutMs`.
    pub triage_timeout: Duration,
    /// `watchdog.maxRecoveryAttempts`: respawns of one agent before the watchdog gives up.
    pub max_recovery_attempts: u32,
}

impl From<&WatchdogConfig> for Policy {
    fn from(c: &WatchdogConfig) -> Self {
        Self {
            nudge_interval_ms: millis(c.nudge_interval),
            zombie_threshold_ms: millis(c.zombie_threshold),
            boot_timeout_ms: millis(c.boot_timeout),
            triage_enabled: c.tier1_enabled,
            triage_timeout: c.triage_timeout,
            max_recovery_attempts: c.max_recovery_attempts,
        }
    }
}

impl Default for Policy {
    /// The policy of the default configuration.
    fn default() -> Self {
        Self::from(&legio_core::config::Config::default().watchdog)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_every_threshold_from_the_configuration() {
        let p = Policy::default();
        assert_eq!(p.nudge_interval_ms, 60_000);
        assert_eq!(p.zombie_threshold_ms, 600_000);
        assert_eq!(p.boot_timeout_ms, 120_000);
        assert!(!p.triage_enabled);
        assert_eq!(p.max_recovery_attempts, 2);
        assert_eq!(p.triage_timeout, Duration::from_secs(30));
    }
}
