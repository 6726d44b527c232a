//! The health rules: what one agent's row and what the system shows of it say should happen.
//!
//! Observable state wins over recorded state. Signals, strongest first: whether the
//! multiplexer lists the agent's session and whether its process still runs, whether the
//! recorded pid is alive, then the row (state, last activity, escalation), which only hooks
//! update and which may be stale. [`evaluate`] is pure: the tick gathers the observations once
//! for the whole fleet and acts on the verdicts.

use std::fmt;

use legio_core::domain::agent::{AgentSession, AgentState};
use legio_core::time::{Timestamp, format_duration_ms};

use crate::escalation::{self, Escalation, IdleHistory, IdleStep, StallStep};
use crate::policy::Policy;

/// What the multiplexer shows of an agent's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Not listed: the session is gone.
    Gone,
    /// Listed, but the process in it has exited.
    Exited {
        /// Its exit code, when the multiplexer knows it.
        exit_code: Option<i32>,
    },
    /// Listed and its process runs.
    Running,
}

/// Everything observed about one agent in one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Its session.
    pub presence: Presence,
    /// Liveness of the recorded pid; `None` when no pid is recorded (or it was not probed
    /// because the session already tells).
    pub pid_alive: Option<bool>,
    /// Whether any agent it spawned is still active (then idling is waiting, not stalling).
    pub has_active_children: bool,
    /// What this watchdog already did about its idling.
    pub idle_history: IdleHistory,
}

/// Why an active agent is considered dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeathCause {
    /// Its session is no longer listed.
    SessionGone,
    /// Its session is listed but the process in it has exited.
    ProcessExited {
        /// Its exit code, when known.
        exit_code: Option<i32>,
    },
    /// Its recorded process is dead although the session runs (the shell outlived the agent).
    PidDead {
        /// The recorded pid.
        pid: u32,
    },
    /// It never reported after it was started.
    BootTimeout {
        /// How long it has been booting.
        waited_ms: i64,
    },
    /// It made no progress through the whole escalation ladder.
    Stalled {
        /// How long it has been inactive.
        inactive_ms: i64,
    },
    /// Triage judged it stuck but recoverable: it is restarted from its checkpoint.
    TriageRetry {
        /// The triage's reason.
        reason: String,
    },
    /// Triage judged it failed beyond recovery: it is ended and not restarted.
    TriageTerminate {
        /// The triage's reason.
        reason: String,
    },
}

impl DeathCause {
    /// A short machine-readable name, for events.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::SessionGone => "session_gone",
            Self::ProcessExited { .. } => "process_exited",
            Self::PidDead { .. } => "pid_dead",
            Self::BootTimeout { .. } => "boot_timeout",
            Self::Stalled { .. } => "stalled",
            Self::TriageRetry { .. } => "triage_retry",
            Self::TriageTerminate { .. } => "triage_terminate",
        }
    }

    /// Whether a restart from the checkpoint makes sense (triage may say it does not).
    pub const fn is_recoverable(&self) -> bool {
        !matches!(self, Self::TriageTerminate { .. })
    }

    /// Whether the agent's session may still hold a process that must be ended.
    pub const fn needs_kill(&self) -> bool {
        !matches!(self, Self::SessionGone)
    }
}

impl fmt::Display for DeathCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SessionGone => f.write_str("its session is gone"),
            Self::ProcessExited { exit_code: None } => f.write_str("its process exited"),
            Self::ProcessExited {
                exit_code: Some(code),
            } => write!(f, "its process exited (code {code})"),
            Self::PidDead { pid } => write!(
                f,
                "its process (pid {pid}) is dead although its session remains"
            ),
            Self::BootTimeout { waited_ms } => write!(
                f,
                "it never reported after starting ({} ago)",
                format_duration_ms(*waited_ms)
            ),
            Self::Stalled { inactive_ms } => write!(
                f,
                "it made no progress for {} despite warnings and nudges",
                format_duration_ms(*inactive_ms)
            ),
            Self::TriageRetry { reason } => write!(f, "triage found it stuck: {reason}"),
            Self::TriageTerminate { reason } => write!(f, "triage found it failed: {reason}"),
        }
    }
}

/// What should happen to one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Active and nothing is due.
    Healthy,
    /// Completed: fine whether or not its process still runs.
    Finished,
    /// A zombie whose session is gone or exited: already handled, nothing to do.
    Buried,
    /// Recorded zombie but its process runs: someone should look; never killed automatically.
    Investigate,
    /// Active but dead: mark it zombie (compare-and-swap), end its session, try recovery.
    Dead(DeathCause),
    /// Working without progress: take this escalation step.
    Stall {
        /// The step.
        step: StallStep,
        /// How long it has been inactive.
        inactive_ms: i64,
    },
    /// Idle without having reported: take this step.
    Idle {
        /// The step.
        step: IdleStep,
        /// How long it has been idle.
        idle_ms: i64,
    },
    /// Healthy, but a stale escalation is recorded: clear it.
    ClearEscalation,
}

/// The verdict for `session` given what was observed, at `now`, under `policy`.
pub fn evaluate(
    session: &AgentSession,
    observed: &Observation,
    now: Timestamp,
    policy: &Policy,
) -> Verdict {
    match session.state {
        AgentState::Completed => return Verdict::Finished,
        AgentState::Zombie => {
            return if observed.presence == Presence::Running {
                Verdict::Investigate
            } else {
                Verdict::Buried
            };
        }
        AgentState::Booting | AgentState::Working | AgentState::Idle => {}
    }
    // A booting agent without a pid is still being launched: sling registers the row first
    // and records the pid once the session runs. Its missing session is no death; only the
    // boot timeout applies.
    let launching = session.state == AgentState::Booting && session.pid.is_none();
    match observed.presence {
        Presence::Gone if launching => {}
        Presence::Gone => return Verdict::Dead(DeathCause::SessionGone),
        Presence::Exited { exit_code } => {
            return Verdict::Dead(DeathCause::ProcessExited { exit_code });
        }
        Presence::Running => {}
    }
    if let (Some(false), Some(pid)) = (observed.pid_alive, session.pid) {
        return Verdict::Dead(DeathCause::PidDead { pid });
    }
    // Clock skew can put the last activity in the future: that is no inactivity, not an error.
    let inactive_ms = now.millis_since(session.last_activity).max(0);
    if session.state == AgentState::Booting {
        let booted_at = session.started_at.max(session.last_activity);
        let waited_ms = now.millis_since(booted_at).max(0);
        if waited_ms >= policy.boot_timeout_ms {
            return Verdict::Dead(DeathCause::BootTimeout { waited_ms });
        }
        return Verdict::Healthy;
    }
    let escalation = Escalation::of(session);
    let step = if session.capability.is_persistent() {
        // Persistent roles may idle or think for as long as they like.
        None
    } else if session.state == AgentState::Working {
        escalation::stall_step(escalation, inactive_ms, now, policy)
            .map(|step| Verdict::Stall { step, inactive_ms })
    } else if observed.has_active_children {
        // Idle while its children work: it is waiting for their mail.
        None
    } else {
        escalation::idle_step(escalation, inactive_ms, now, policy, observed.idle_history).map(
            |step| Verdict::Idle {
                step,
                idle_ms: inactive_ms,
            },
        )
    };
    step.unwrap_or_else(|| {
        let recorded_but_void = session.escalation_level > 0
            && (escalation == Escalation::NONE || session.capability.is_persistent());
        if recorded_but_void {
            Verdict::ClearEscalation
        } else {
            Verdict::Healthy
        }
    })
}

#[cfg(test)]
mod tests {
    use legio_core::Capability;

    use super::*;
    use crate::escalation::level;
    use crate::fakes::{MIN, at, session};

    fn running() -> Observation {
        Observation {
            presence: Presence::Running,
            pid_alive: Some(true),
            has_active_children: false,
            idle_history: IdleHistory::default(),
        }
    }

    fn with(presence: Presence, pid_alive: Option<bool>) -> Observation {
        Observation {
            presence,
            pid_alive,
            ..running()
        }
    }

    fn check(s: &AgentSession, o: &Observation, now_ms: i64, want: &Verdict) {
        let got = evaluate(s, o, at(now_ms), &Policy::default());
        assert_eq!(
            &got, want,
            "{} {:?} at {now_ms}: {o:?}",
            s.agent_name, s.state
        );
    }

    #[test]
    fn a_completed_agent_is_finished_whatever_its_process_does() {
        let s = session("b1", Capability::Builder, AgentState::Completed);
        for o in [
            with(Presence::Gone, None),
            with(Presence::Exited { exit_code: Some(0) }, Some(false)),
            running(),
        ] {
            check(&s, &o, 100 * MIN, &Verdict::Finished);
        }
    }

    #[test]
    fn an_active_agent_whose_session_or_process_is_gone_is_dead() {
        for state in [AgentState::Booting, AgentState::Working, AgentState::Idle] {
            let s = session("b1", Capability::Builder, state);
            check(
                &s,
                &with(Presence::Gone, None),
                1,
                &Verdict::Dead(DeathCause::SessionGone),
            );
            check(
                &s,
                &with(Presence::Exited { exit_code: Some(2) }, None),
                1,
                &Verdict::Dead(DeathCause::ProcessExited { exit_code: Some(2) }),
            );
            check(
                &s,
                &with(Presence::Running, Some(false)),
                1,
                &Verdict::Dead(DeathCause::PidDead { pid: 4242 }),
            );
        }
    }

    #[test]
    fn persistent_roles_still_die_with_their_process() {
        let s = session("coordinator", Capability::Coordinator, AgentState::Idle);
        check(
            &s,
            &with(Presence::Gone, None),
            1,
            &Verdict::Dead(DeathCause::SessionGone),
        );
    }

    #[test]
    fn no_recorded_pid_skips_the_pid_rule() {
        let mut s = session("b1", Capability::Builder, AgentState::Working);
        s.pid = None;
        check(&s, &with(Presence::Running, None), 1, &Verdict::Healthy);
    }

    #[test]
    fn a_zombie_with_a_running_session_is_investigated_never_killed() {
        let s = session("b1", Capability::Builder, AgentState::Zombie);
        check(&s, &running(), 1, &Verdict::Investigate);
        check(&s, &with(Presence::Gone, None), 1, &Verdict::Buried);
        check(
            &s,
            &with(Presence::Exited { exit_code: None }, None),
            1,
            &Verdict::Buried,
        );
    }

    #[test]
    fn a_booting_agent_that_never_reports_is_dead_on_arrival() {
        let s = session("b1", Capability::Builder, AgentState::Booting);
        check(&s, &running(), 2 * MIN - 1, &Verdict::Healthy);
        check(
            &s,
            &running(),
            2 * MIN,
            &Verdict::Dead(DeathCause::BootTimeout { waited_ms: 2 * MIN }),
        );
        // Even a persistent role must boot.
        let c = session("coordinator", Capability::Coordinator, AgentState::Booting);
        check(
            &c,
            &running(),
            3 * MIN,
            &Verdict::Dead(DeathCause::BootTimeout { waited_ms: 3 * MIN }),
        );
    }

    #[test]
    fn an_agent_still_being_launched_has_no_session_yet_and_is_not_dead() {
        let mut s = session("b1", Capability::Builder, AgentState::Booting);
        s.pid = None;
        let gone = with(Presence::Gone, None);
        check(&s, &gone, 2 * MIN - 1, &Verdict::Healthy);
        check(
            &s,
            &gone,
            2 * MIN,
            &Verdict::Dead(DeathCause::BootTimeout { waited_ms: 2 * MIN }),
        );
        // Once launched (a pid recorded), a missing session is a death at once.
        s.pid = Some(4242);
        check(&s, &gone, 1, &Verdict::Dead(DeathCause::SessionGone));
    }

    #[test]
    fn persistent_roles_may_idle_or_think_indefinitely() {
        for cap in [
            Capability::Coordinator,
            Capability::Supervisor,
            Capability::Monitor,
            Capability::Gateway,
        ] {
            for state in [AgentState::Working, AgentState::Idle] {
                let s = session("p", cap, state);
                check(&s, &running(), 1000 * MIN, &Verdict::Healthy);
            }
            let mut s = session("p", cap, AgentState::Working);
            s.escalation_level = level::NUDGED;
            s.stalled_since = Some(at(1));
            check(&s, &running(), 1000 * MIN, &Verdict::ClearEscalation);
        }
    }

    #[test]
    fn a_working_agent_without_activity_enters_the_ladder() {
        let s = session("b1", Capability::Builder, AgentState::Working);
        check(&s, &running(), MIN - 1, &Verdict::Healthy);
        check(
            &s,
            &running(),
            MIN,
            &Verdict::Stall {
                step: StallStep::Warn,
                inactive_ms: MIN,
            },
        );
        let mut warned = s.clone();
        warned.escalation_level = level::WARNED;
        warned.stalled_since = Some(at(MIN));
        check(&warned, &running(), 2 * MIN - 1, &Verdict::Healthy);
        check(
            &warned,
            &running(),
            2 * MIN,
            &Verdict::Stall {
                step: StallStep::Nudge,
                inactive_ms: 2 * MIN,
            },
        );
    }

    #[test]
    fn activity_after_a_recorded_stall_makes_it_stale_and_it_is_cleared() {
        let mut s = session("b1", Capability::Builder, AgentState::Working);
        s.escalation_level = level::NUDGED;
        s.stalled_since = Some(at(MIN));
        s.last_activity = at(MIN + 5);
        check(&s, &running(), MIN + 10, &Verdict::ClearEscalation);
    }

    #[test]
    fn an_idle_agent_that_did_not_report_is_nudged_unless_it_waits_for_children() {
        let s = session("b1", Capability::Builder, AgentState::Idle);
        check(&s, &running(), MIN - 1, &Verdict::Healthy);
        check(
            &s,
            &running(),
            MIN,
            &Verdict::Idle {
                step: IdleStep::Nudge,
                idle_ms: MIN,
            },
        );
        let waiting = Observation {
            has_active_children: true,
            ..running()
        };
        check(&s, &waiting, 100 * MIN, &Verdict::Healthy);
    }

    #[test]
    fn future_activity_from_clock_skew_is_no_inactivity() {
        let mut s = session("b1", Capability::Builder, AgentState::Working);
        s.last_activity = at(10 * MIN);
        check(&s, &running(), MIN, &Verdict::Healthy);
    }
}
