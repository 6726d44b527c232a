//! The escalation ladders, step by step on a manual clock.

use legio_core::domain::mail::{MailType, Priority};
use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentState, Capability};

use super::{builder, lines, only_action, tick};
use crate::escalation::{StallStep, level};
use crate::fakes::{Fleet, MIN, at, session, watchdog};
use crate::health::DeathCause;
use crate::report::Action;
use crate::triage::TriageVerdict;
use crate::{MAX_IDLE_NUDGES, RecoveryOutcome};

/// Advances the clock to `ms` and ticks.
fn tick_at(fleet: &Fleet, wd: &mut crate::Watchdog, ms: i64) -> crate::TickReport {
    fleet.clock.set(at(ms));
    tick(fleet, wd)
}

fn stalled(report: &crate::TickReport) -> Option<StallStep> {
    report.actions.iter().find_map(|a| match a {
        Action::Stalled { step, .. } => Some(*step),
        _ => None,
    })
}

#[test]
fn a_stalled_agent_is_warned_nudged_triaged_then_terminated_each_stage_on_time() {
    let fleet = Fleet::new();
    let mut wd = watchdog(true);
    fleet.add(&builder("b1", AgentState::Working));
    *fleet.runtime.answer.borrow_mut() =
        Ok(r#"{"verdict":"extend","reason":"a long build is running"}"#.into());

    assert!(tick_at(&fleet, &mut wd, MIN - 1).actions.is_empty());

    // Stage 1: warn (an event only).
    let r = tick_at(&fleet, &mut wd, MIN);
    assert_eq!(stalled(&r), Some(StallStep::Warn), "{:#?}", lines(&r));
    assert_eq!(fleet.row("b1").escalation_level, level::WARNED);
    assert_eq!(fleet.row("b1").stalled_since, Some(at(MIN)));
    assert!(fleet.mux.typed.borrow().is_empty());
    assert!(fleet.mail.all().is_empty());

    // Stage 2 one interval later: nudge (text into the session and a mail).
    assert!(tick_at(&fleet, &mut wd, 2 * MIN - 1).actions.is_empty());
    let r = tick_at(&fleet, &mut wd, 2 * MIN);
    assert_eq!(
        only_action(&r),
        &Action::Stalled {
            agent: AgentName::new("b1").unwrap(),
            step: StallStep::Nudge,
            inactive_ms: 2 * MIN,
            delivered: Some(true),
        }
    );
    let typed = fleet.mux.typed_into("legio-test-b1");
    assert_eq!(typed.len(), 1);
    assert!(
        typed[0].contains("No activity from you for 2m 0s"),
        "{typed:?}"
    );
    let mail = fleet.mail.to("b1");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].mail_type, MailType::HealthCheck);
    assert!(mail[0].body.contains("lead-1"), "{}", mail[0].body);

    // Stage 3: triage, which says extend.
    assert!(tick_at(&fleet, &mut wd, 3 * MIN - 1).actions.is_empty());
    let r = tick_at(&fleet, &mut wd, 3 * MIN);
    match only_action(&r) {
        Action::Triaged { triage, .. } => {
            assert_eq!(triage.verdict, TriageVerdict::Extend);
            assert!(!triage.fallback);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fleet.runtime.asked.borrow().len(), 1);
    let asked = &fleet.runtime.asked.borrow()[0];
    assert!(asked.prompt.contains("Agent: b1"));
    assert_eq!(asked.cwd, fleet.layout.root());
    assert_eq!(asked.timeout, wd.policy().triage_timeout);
    assert_eq!(fleet.row("b1").escalation_level, level::ESCALATED);

    // Stage 4: terminate, three intervals after the triage and not before the zombie threshold
    // (10 minutes of inactivity).
    assert!(tick_at(&fleet, &mut wd, 10 * MIN - 1).actions.is_empty());
    let r = tick_at(&fleet, &mut wd, 10 * MIN);
    assert!(
        matches!(&r.actions[0], Action::Died { cause: DeathCause::Stalled { inactive_ms }, .. } if *inactive_ms == 10 * MIN),
        "{:#?}",
        lines(&r)
    );
    let row = fleet.row("b1");
    assert_eq!(row.state, AgentState::Zombie);
    assert_eq!(row.escalation_level, level::TERMINATED);
    assert_eq!(
        fleet.events.kinds("b1"),
        vec![
            "stalled",
            "stalled",
            "triage",
            "state_change",
            "worker_died"
        ],
        "one record per step, none repeated"
    );
    assert_eq!(fleet.runtime.asked.borrow().len(), 1, "triage runs once");
}

#[test]
fn activity_clears_the_ladder_and_it_starts_again_from_the_bottom() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    assert_eq!(
        stalled(&tick_at(&fleet, &mut wd, MIN)),
        Some(StallStep::Warn)
    );
    fleet.clock.set(at(MIN + 30_000));
    fleet.activity("b1");
    assert!(tick_at(&fleet, &mut wd, 2 * MIN).actions.is_empty());
    assert_eq!(fleet.row("b1").escalation_level, 0);
    let r = tick_at(&fleet, &mut wd, 2 * MIN + 30_000);
    assert_eq!(stalled(&r), Some(StallStep::Warn), "{:#?}", lines(&r));
}

#[test]
fn without_triage_a_nudged_agent_is_terminated_once_inactive_for_the_zombie_threshold() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    tick_at(&fleet, &mut wd, MIN);
    tick_at(&fleet, &mut wd, 2 * MIN);
    for t in (3..10).map(|m| m * MIN) {
        let r = tick_at(&fleet, &mut wd, t);
        assert!(r.actions.is_empty(), "at {t}: {:#?}", lines(&r));
    }
    let r = tick_at(&fleet, &mut wd, 10 * MIN);
    assert!(matches!(
        &r.actions[0],
        Action::Died {
            cause: DeathCause::Stalled { .. },
            ..
        }
    ));
    assert!(fleet.runtime.asked.borrow().is_empty());
}

/// Walks a fleet with one working builder up to the triage stage.
fn up_to_triage(answer: Result<&str, &str>, with_runtime: bool) -> (Fleet, crate::Watchdog) {
    let mut fleet = Fleet::new();
    fleet.with_runtime = with_runtime;
    let mut wd = watchdog(true);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.checkpoint("b1");
    *fleet.runtime.answer.borrow_mut() = answer.map(str::to_owned).map_err(str::to_owned);
    tick_at(&fleet, &mut wd, MIN);
    tick_at(&fleet, &mut wd, 2 * MIN);
    (fleet, wd)
}

#[test]
fn triage_retry_ends_the_agent_and_restarts_it_from_its_checkpoint() {
    let (fleet, mut wd) = up_to_triage(
        Ok(r#"{"verdict":"retry","reason":"hung on an interactive prompt"}"#),
        true,
    );
    let r = tick_at(&fleet, &mut wd, 3 * MIN);
    assert!(
        matches!(&r.actions[0], Action::Triaged { .. }),
        "{:#?}",
        lines(&r)
    );
    assert!(matches!(
        &r.actions[1],
        Action::Died { cause: DeathCause::TriageRetry { reason }, .. } if reason == "hung on an interactive prompt"
    ));
    assert!(matches!(
        &r.actions[2],
        Action::Recovery {
            outcome: RecoveryOutcome::Recovered { attempt: 1, .. },
            ..
        }
    ));
    assert_eq!(fleet.respawned.borrow().len(), 1);
    assert_eq!(fleet.row("b1").state, AgentState::Booting);
}

#[test]
fn triage_terminate_ends_the_agent_without_restarting_it() {
    let (fleet, mut wd) = up_to_triage(
        Ok(r#"{"verdict":"terminate","reason":"it gave up: the API does not exist"}"#),
        true,
    );
    let r = tick_at(&fleet, &mut wd, 3 * MIN);
    assert!(
        matches!(
            &r.actions[2],
            Action::Recovery { outcome: RecoveryOutcome::NotRecoverable { reason, .. }, .. } if reason.contains("triage")
        ),
        "{:#?}",
        lines(&r)
    );
    assert!(fleet.respawned.borrow().is_empty());
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
    let mail = fleet.mail.to("lead-1");
    assert!(
        mail[0].body.contains("it gave up: the API does not exist"),
        "{}",
        mail[0].body
    );
}

#[test]
fn a_triage_that_fails_or_answers_badly_extends_once_then_the_ladder_terminates() {
    for (answer, with_runtime, why) in [
        (Ok("unrecoverable"), true, "not a verdict"),
        (Ok(r#"{"verdict":"retry"}"#), true, "not a verdict"),
        (Err("rate limited"), true, "rate limited"),
        (Ok("unused"), false, "no agent runtime"),
    ] {
        let (fleet, mut wd) = up_to_triage(answer, with_runtime);
        let r = tick_at(&fleet, &mut wd, 3 * MIN);
        match only_action(&r) {
            Action::Triaged { triage, .. } => {
                assert_eq!(triage.verdict, TriageVerdict::Extend, "{answer:?}");
                assert!(triage.fallback);
                assert!(triage.reason.contains(why), "{answer:?}: {}", triage.reason);
            }
            other => panic!("{answer:?}: {other:?}"),
        }
        assert_eq!(fleet.row("b1").state, AgentState::Working);
        // The fallback is used once: the next step is termination, without a second triage.
        let asked = fleet.runtime.asked.borrow().len();
        let r = tick_at(&fleet, &mut wd, 10 * MIN);
        assert!(
            matches!(
                &r.actions[0],
                Action::Died {
                    cause: DeathCause::Stalled { .. },
                    ..
                }
            ),
            "{answer:?}: {:#?}",
            lines(&r)
        );
        assert_eq!(fleet.runtime.asked.borrow().len(), asked);
    }
}

/// A runtime during whose one-shot call the agent reports activity.
struct MovingRuntime<'a>(&'a Fleet);
impl legio_core::ports::AgentRuntime for MovingRuntime<'_> {
    fn name(&self) -> &'static str {
        "moving"
    }
    fn launch_plan(
        &self,
        _: &legio_core::ports::LaunchContext,
        _: &str,
    ) -> Result<legio_core::ports::LaunchPlan, legio_core::ports::RuntimeError> {
        unimplemented!()
    }
    fn readiness(&self, _: &str) -> legio_core::ports::Readiness {
        legio_core::ports::Readiness::Ready
    }
    fn one_shot(
        &self,
        _: &legio_core::ports::OneShot,
    ) -> Result<String, legio_core::ports::RuntimeError> {
        self.0.activity("b1");
        Ok(r#"{"verdict":"retry","reason":"looks hung"}"#.into())
    }
}

#[test]
fn an_agent_that_moves_during_triage_is_not_terminated() {
    let (fleet, mut wd) = up_to_triage(Ok(r#"{"verdict":"retry","reason":"looks hung"}"#), true);
    // The agent's hook reports activity while the triage call runs.
    fleet.clock.set(at(3 * MIN));
    let runtime = MovingRuntime(&fleet);
    let ports = crate::Ports {
        triage: Some(&runtime),
        ..fleet.ports()
    };
    let r = wd.tick(&ports).unwrap();
    assert!(
        matches!(only_action(&r), Action::Triaged { .. }),
        "{:#?}",
        lines(&r)
    );
    let row = fleet.row("b1");
    assert_eq!(row.state, AgentState::Working);
    assert_eq!(row.escalation_level, 0);
    assert_eq!(fleet.mux.calls.get().kill, 0);
}

#[test]
fn an_idle_agent_that_did_not_report_is_nudged_then_its_parent_is_told_once() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Idle));
    assert!(tick_at(&fleet, &mut wd, MIN - 1).actions.is_empty());
    let r = tick_at(&fleet, &mut wd, MIN);
    assert!(
        matches!(only_action(&r), Action::IdleNudged { delivered: true, idle_ms, .. } if *idle_ms == MIN),
        "{:#?}",
        lines(&r)
    );
    let typed = fleet.mux.typed_into("legio-test-b1");
    assert!(typed[0].contains("without reporting"), "{typed:?}");
    assert!(typed[0].contains("lead-1"), "{typed:?}");
    assert_eq!(fleet.mail.to("b1").len(), 1);

    // It ignored the nudge for a whole interval: its parent hears about it, once.
    let r = tick_at(&fleet, &mut wd, 2 * MIN);
    assert!(matches!(only_action(&r), Action::ParentTold { parent, .. } if parent == "lead-1"));
    let told = fleet.mail.to("lead-1");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].mail_type, MailType::Escalation);
    assert_eq!(told[0].priority, Priority::High);
    for m in 3..30 {
        let r = tick_at(&fleet, &mut wd, m * MIN);
        assert!(r.actions.is_empty(), "{:#?}", lines(&r));
    }
    assert_eq!(fleet.row("b1").state, AgentState::Idle, "never killed");
    assert_eq!(fleet.mux.typed_into("legio-test-b1").len(), 1);
}

#[test]
fn idle_nudges_are_bounded_across_turns() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Idle));
    let name = AgentName::new("b1").unwrap();
    let mut t = 0;
    let mut nudges = 0;
    let mut told = 0;
    for _ in 0..6 {
        t += MIN;
        for a in tick_at(&fleet, &mut wd, t).actions {
            match a {
                Action::IdleNudged { .. } => nudges += 1,
                Action::ParentTold { .. } => told += 1,
                other => panic!("{other:?}"),
            }
        }
        // The agent takes a turn and ends it without reporting again.
        t += 1000;
        fleet.clock.set(at(t));
        fleet.activity("b1");
        fleet
            .sessions
            .transition(&name, &[AgentState::Working], AgentState::Idle)
            .unwrap();
    }
    assert_eq!(nudges, MAX_IDLE_NUDGES);
    assert_eq!(told, 1);
}

#[test]
fn an_idle_parent_waiting_for_active_children_is_left_alone() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    let mut lead = session("lead-1", Capability::Lead, AgentState::Idle);
    lead.pid = Some(1);
    fleet.add(&lead);
    let mut child = builder("b1", AgentState::Working);
    child.pid = Some(2);
    fleet.add(&child);
    // Keep the child busy so that only the lead's idling is in question.
    for m in 1..20 {
        fleet.clock.set(at(m * MIN));
        fleet.activity("b1");
        let r = tick(&fleet, &mut wd);
        assert!(r.actions.is_empty(), "{:#?}", lines(&r));
    }
    fleet
        .sessions
        .edit("b1", |r| r.state = AgentState::Completed);
    let r = tick_at(&fleet, &mut wd, 20 * MIN);
    assert!(
        matches!(only_action(&r), Action::IdleNudged { agent, .. } if agent.as_str() == "lead-1")
    );
}

#[test]
fn persistent_roles_may_idle_and_think_for_a_day() {
    let fleet = Fleet::new();
    let mut wd = watchdog(true);
    for (i, (name, cap, state)) in [
        ("coordinator", Capability::Coordinator, AgentState::Idle),
        ("supervisor", Capability::Supervisor, AgentState::Working),
        ("monitor", Capability::Monitor, AgentState::Working),
        ("gateway", Capability::Gateway, AgentState::Idle),
    ]
    .into_iter()
    .enumerate()
    {
        let mut s = session(name, cap, state);
        s.pid = Some(100 + i as u32);
        fleet.add(&s);
    }
    for h in 1..=24 {
        let r = tick_at(&fleet, &mut wd, h * 60 * MIN);
        assert!(r.actions.is_empty(), "{:#?}", lines(&r));
    }
    assert!(fleet.events.all().is_empty());
    assert!(fleet.mux.typed.borrow().is_empty());
}

#[test]
fn a_stale_escalation_record_is_cleared() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    let mut s = builder("b1", AgentState::Working);
    s.escalation_level = level::NUDGED;
    s.stalled_since = Some(at(0));
    s.last_activity = at(10);
    fleet.add(&s);
    fleet.clock.set(at(20));
    assert!(tick(&fleet, &mut wd).actions.is_empty());
    let row = fleet.row("b1");
    assert_eq!((row.escalation_level, row.stalled_since), (0, None));
}

#[test]
fn a_nudge_that_cannot_be_typed_is_reported_and_not_repeated() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.mux.fail_send.set(true);
    tick_at(&fleet, &mut wd, MIN);
    let r = tick_at(&fleet, &mut wd, 2 * MIN);
    assert!(matches!(
        only_action(&r),
        Action::Stalled {
            step: StallStep::Nudge,
            delivered: Some(false),
            ..
        }
    ));
    assert!(lines(&r)[0].contains("NOT delivered"), "{:#?}", lines(&r));
    assert!(
        r.problems[0].contains("typing into its session"),
        "{:?}",
        r.problems
    );
    assert!(
        tick_at(&fleet, &mut wd, 2 * MIN + 30_000)
            .actions
            .is_empty()
    );
    assert_eq!(fleet.mux.calls.get().send_text, 1);
}
