//! The escalation ladders, as pure functions of an agent's recorded escalation, its inactivity
//! and the clock.
//!
//! A **working** agent that stops making progress climbs: warn (an event), nudge (text typed
//! into its session and a mail), triage (when `watchdog.tier1Enabled`), terminate. Each stage
//! comes at least `nudgeIntervalMs` after the previous one, counted from when the stall was
//! first seen (`stalled_since`), and termination also waits until the agent has been inactive
//! for `zombieThresholdMs`. An **idle** agent (it ended a turn without reporting) is nudged to
//! continue or report; if it ignores the nudge, or keeps ending turns without reporting, its
//! parent is told. Hook activity clears the escalation (the session store does it), so the
//! ladder restarts from the bottom whenever the agent moves.

use legio_core::domain::agent::AgentSession;
use legio_core::time::Timestamp;

use crate::policy::{MAX_IDLE_NUDGES, Policy};

/// Values of `sessions.escalation_level`.
pub mod level {
    /// Not stalled.
    pub const NONE: u32 = 0;
    /// Warned (an event was recorded).
    pub const WARNED: u32 = 1;
    /// Nudged (text and mail sent to the agent).
    pub const NUDGED: u32 = 2;
    /// Escalated beyond the agent: triaged (working) or its parent told (idle).
    pub const ESCALATED: u32 = 3;
    /// Terminated by the watchdog.
    pub const TERMINATED: u32 = 4;
}

/// An agent's escalation as recorded, with stale records read as none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// The stage reached (see [`level`]).
    pub level: u32,
    /// When the stall was first seen (`None` at level 0).
    pub since: Option<Timestamp>,
}

impl Escalation {
    /// No escalation.
    pub const NONE: Self = Self {
        level: level::NONE,
        since: None,
    };

    /// The escalation recorded on `session`. A record older than the agent's last activity is
    /// stale (the hook cleared it and a racing watchdog write restored it), so it reads as none:
    /// an agent that moved is never pushed further up the ladder.
    pub fn of(session: &AgentSession) -> Self {
        match session.stalled_since {
            Some(since) if session.escalation_level > 0 && since >= session.last_activity => Self {
                level: session.escalation_level,
                since: Some(since),
            },
            _ => Self::NONE,
        }
    }

    fn elapsed_at_least(self, now: Timestamp, ms: i64) -> bool {
        self.since
            .is_some_and(|since| now.millis_since(since) >= ms)
    }
}

/// The next stage for a working agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallStep {
    /// Record that it looks stalled.
    Warn,
    /// Type a reminder into its session and mail it.
    Nudge,
    /// Ask the agent runtime for a verdict.
    Triage,
    /// End it.
    Terminate,
}

impl StallStep {
    /// The level recorded once this step is taken.
    pub const fn level(self) -> u32 {
        match self {
            Self::Warn => level::WARNED,
            Self::Nudge => level::NUDGED,
            Self::Triage => level::ESCALATED,
            Self::Terminate => level::TERMINATED,
        }
    }

    /// The stage's name, as events and progress lines show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Nudge => "nudge",
            Self::Triage => "triage",
            Self::Terminate => "terminate",
        }
    }
}

/// The step due for a working agent inactive for `inactive_ms`, if any.
pub fn stall_step(
    escalation: Escalation,
    inactive_ms: i64,
    now: Timestamp,
    policy: &Policy,
) -> Option<StallStep> {
    let interval = policy.nudge_interval_ms;
    let terminate_due = || {
        escalation.elapsed_at_least(now, interval.saturating_mul(3))
            && inactive_ms >= policy.zombie_threshold_ms
    };
    match escalation.level {
        level::NONE => (inactive_ms >= interval).then_some(StallStep::Warn),
        level::WARNED => escalation
            .elapsed_at_least(now, interval)
            .then_some(StallStep::Nudge),
        level::NUDGED if policy.triage_enabled => escalation
            .elapsed_at_least(now, interval.saturating_mul(2))
            .then_some(StallStep::Triage),
        level::NUDGED | level::ESCALATED => terminate_due().then_some(StallStep::Terminate),
        _ => None,
    }
}

/// The next stage for an idle agent that has not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStep {
    /// Type a reminder to continue or report, and mail it.
    Nudge,
    /// Tell its parent (or the orchestrator) that it does not report.
    TellParent,
}

impl IdleStep {
    /// The level recorded once this step is taken.
    pub const fn level(self) -> u32 {
        match self {
            Self::Nudge => level::NUDGED,
            Self::TellParent => level::ESCALATED,
        }
    }
}

/// What this watchdog already did about an agent's idling, across its turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdleHistory {
    /// Idle nudges sent so far.
    pub nudges: u32,
    /// Whether its parent was told.
    pub parent_told: bool,
}

/// The step due for an idle agent idle for `idle_ms`, if any.
pub fn idle_step(
    escalation: Escalation,
    idle_ms: i64,
    now: Timestamp,
    policy: &Policy,
    history: IdleHistory,
) -> Option<IdleStep> {
    let interval = policy.nudge_interval_ms;
    let tell = (!history.parent_told).then_some(IdleStep::TellParent);
    match escalation.level {
        level::NONE | level::WARNED if idle_ms >= interval => {
            if history.nudges < MAX_IDLE_NUDGES {
                Some(IdleStep::Nudge)
            } else {
                tell
            }
        }
        // Nudged, and still idle a whole interval later: the nudge did not get it going.
        level::NUDGED if escalation.elapsed_at_least(now, interval) => tell,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn policy(triage: bool) -> Policy {
        Policy {
            triage_enabled: triage,
            ..Policy::default()
        }
    }

    fn esc(level: u32, since_ms: i64) -> Escalation {
        Escalation {
            level,
            since: Some(Timestamp::from_millis(since_ms)),
        }
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_working_agent_climbs_one_stage_per_interval_and_dies_only_after_the_zombie_threshold() {
        let p = policy(true);
        // (escalation, inactive ms, now, expected)
        let cases = [
            (Escalation::NONE, MIN - 1, 0, None),
            (Escalation::NONE, MIN, 0, Some(StallStep::Warn)),
            // A long-idle agent found late still starts at the bottom.
            (Escalation::NONE, 100 * MIN, 0, Some(StallStep::Warn)),
            (esc(1, 0), 2 * MIN, MIN - 1, None),
            (esc(1, 0), 2 * MIN, MIN, Some(StallStep::Nudge)),
            (esc(2, 0), 3 * MIN, 2 * MIN - 1, None),
            (esc(2, 0), 3 * MIN, 2 * MIN, Some(StallStep::Triage)),
            (esc(3, 0), 10 * MIN, 3 * MIN - 1, None),
            // Three intervals after the stall began, but not yet inactive for the threshold.
            (esc(3, 0), 10 * MIN - 1, 3 * MIN, None),
            (esc(3, 0), 10 * MIN, 3 * MIN, Some(StallStep::Terminate)),
            (esc(4, 0), 100 * MIN, 100 * MIN, None),
        ];
        for (e, inactive, now, want) in cases {
            assert_eq!(
                stall_step(e, inactive, at(now), &p),
                want,
                "{e:?} inactive {inactive} now {now}"
            );
        }
    }

    #[test]
    fn without_triage_the_nudged_stage_leads_to_termination() {
        let p = policy(false);
        assert_eq!(stall_step(esc(2, 0), 10 * MIN, at(2 * MIN), &p), None);
        assert_eq!(
            stall_step(esc(2, 0), 10 * MIN, at(3 * MIN), &p),
            Some(StallStep::Terminate)
        );
    }

    #[test]
    fn escalation_recorded_before_the_last_activity_is_stale() {
        let mut s = legio_core::domain::agent::AgentSession {
            id: "session-1-b".into(),
            agent_name: legio_core::AgentName::new("b").unwrap(),
            capability: legio_core::Capability::Builder,
            worktree_path: String::new(),
            branch_name: String::new(),
            bead_id: String::new(),
            tmux_session: String::new(),
            state: legio_core::AgentState::Working,
            pid: None,
            parent_agent: None,
            depth: 0,
            run_id: None,
            started_at: at(0),
            last_activity: at(5_000),
            escalation_level: 2,
            stalled_since: Some(at(4_000)),
            terminal_log_path: None,
            runtime: "script".into(),
            file_scope: vec![],
            spec_path: None,
        };
        assert_eq!(Escalation::of(&s), Escalation::NONE);
        s.stalled_since = Some(at(5_000));
        assert_eq!(Escalation::of(&s), esc(2, 5_000));
        s.stalled_since = None;
        assert_eq!(Escalation::of(&s), Escalation::NONE);
    }

    #[test]
    fn an_idle_agent_is_nudged_a_bounded_number_of_times_then_its_parent_is_told_once() {
        let p = policy(false);
        let fresh = IdleHistory::default();
        let nudged_out = IdleHistory {
            nudges: MAX_IDLE_NUDGES,
            parent_told: false,
        };
        let told = IdleHistory {
            nudges: MAX_IDLE_NUDGES,
            parent_told: true,
        };
        let cases = [
            (Escalation::NONE, MIN - 1, 0, fresh, None),
            (Escalation::NONE, MIN, 0, fresh, Some(IdleStep::Nudge)),
            (
                Escalation::NONE,
                MIN,
                0,
                nudged_out,
                Some(IdleStep::TellParent),
            ),
            (Escalation::NONE, MIN, 0, told, None),
            (esc(2, 0), 5 * MIN, MIN - 1, fresh, None),
            (esc(2, 0), 5 * MIN, MIN, fresh, Some(IdleStep::TellParent)),
            (esc(2, 0), 5 * MIN, MIN, told, None),
            (esc(3, 0), 50 * MIN, 50 * MIN, fresh, None),
        ];
        for (e, idle, now, history, want) in cases {
            assert_eq!(
                idle_step(e, idle, at(now), &p, history),
                want,
                "{e:?} idle {idle} now {now} {history:?}"
            );
        }
    }
}
