//! Dead, finished and zombie agents.

use legio_core::domain::mail::{MailType, Priority, WorkerDiedPayload};
use legio_core::ports::SessionStore;
use legio_core::{AgentName, AgentState, Capability};

use super::{builder, lines, only_action, tick};
use crate::fakes::{Fleet, MIN, session, watchdog};
use crate::health::DeathCause;
use crate::recovery::attempts;
use crate::report::{Action, SessionEnd};
use crate::{RecoveryOutcome, WatchdogError};

#[test]
fn an_agent_whose_process_exited_is_marked_zombie_once_and_never_handled_again() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.exit_process("b1");

    let report = tick(&fleet, &mut wd);
    assert_eq!(
        report.actions[0],
        Action::Died {
            agent: AgentName::new("b1").unwrap(),
            cause: DeathCause::ProcessExited { exit_code: Some(1) },
            session: SessionEnd::Ended,
        }
    );
    assert!(
        matches!(&report.actions[1], Action::Recovery { outcome: RecoveryOutcome::NotRecoverable { reason, .. }, .. } if reason.contains("no checkpoint")),
        "{:#?}",
        lines(&report)
    );
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
    assert_eq!(
        *fleet.mux.killed.borrow(),
        vec!["legio-test-b1".to_owned()],
        "the exited session is cleaned up"
    );
    let mail = fleet.mail.to("lead-1");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].mail_type, MailType::WorkerDied);
    assert_eq!(mail[0].priority, Priority::High);
    assert_eq!(mail[0].from, "watchdog");
    assert!(
        mail[0].body.contains("its process exited"),
        "{}",
        mail[0].body
    );
    assert!(mail[0].body.contains("legio/b1/t-1"), "{}", mail[0].body);
    let payload: WorkerDiedPayload =
        serde_json::from_str(mail[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(payload.action, "not_recoverable");
    assert_eq!(payload.agent_name, "b1");
    assert_eq!(payload.bead_id, "t-1");
    assert_eq!(
        fleet.events.kinds("b1"),
        vec!["state_change", "worker_died"]
    );

    // Later ticks bury it: no new event, mail, kill or action, however many.
    let (events, mails) = (fleet.events.len(), fleet.mail.all().len());
    for _ in 0..20 {
        fleet.advance(MIN);
        let report = tick(&fleet, &mut wd);
        assert!(report.actions.is_empty(), "{:#?}", lines(&report));
    }
    assert_eq!(fleet.events.len(), events);
    assert_eq!(fleet.mail.all().len(), mails);
    assert_eq!(fleet.mux.calls.get().kill, 1);
}

#[test]
fn a_session_that_vanished_is_dead_and_nothing_is_killed() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Idle));
    fleet.mux.remove("legio-test-b1");
    let report = tick(&fleet, &mut wd);
    assert!(matches!(
        &report.actions[0],
        Action::Died {
            cause: DeathCause::SessionGone,
            session: SessionEnd::AlreadyGone,
            ..
        }
    ));
    assert_eq!(fleet.mux.calls.get().kill, 0);
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
}

#[test]
fn a_dead_pid_in_a_running_session_ends_the_session() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.probe.alive.borrow_mut().clear();
    let report = tick(&fleet, &mut wd);
    assert!(
        matches!(
            &report.actions[0],
            Action::Died {
                cause: DeathCause::PidDead { pid: 4242 },
                session: SessionEnd::Ended,
                ..
            }
        ),
        "{:#?}",
        lines(&report)
    );
    assert!(!fleet.mux.has("legio-test-b1"));
}

#[test]
fn a_booting_agent_that_never_reports_is_dead_on_arrival() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Booting));
    fleet.advance(2 * MIN - 1);
    assert!(tick(&fleet, &mut wd).actions.is_empty());
    fleet.advance(1);
    let report = tick(&fleet, &mut wd);
    assert!(
        matches!(
            &report.actions[0],
            Action::Died {
                cause: DeathCause::BootTimeout { waited_ms },
                session: SessionEnd::Ended,
                ..
            } if *waited_ms == 2 * MIN
        ),
        "{:#?}",
        lines(&report)
    );
    assert!(lines(&report)[0].contains("never reported after starting (2m 0s ago)"));
}

#[test]
fn a_completed_agent_whose_process_exited_is_finished_and_its_recovery_count_reset() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    let done = session("b1", Capability::Builder, AgentState::Completed);
    fleet.add(&done);
    fleet.exit_process("b1");
    attempts::store(&fleet.layout, &done.agent_name, 1).unwrap();
    for _ in 0..3 {
        fleet.advance(60 * MIN);
        assert!(tick(&fleet, &mut wd).actions.is_empty());
    }
    assert_eq!(fleet.row("b1").state, AgentState::Completed);
    assert_eq!(fleet.mux.calls.get().kill, 0);
    assert!(fleet.events.all().is_empty());
    assert!(
        !attempts::path(&fleet.layout, &done.agent_name).exists(),
        "completion resets the recovery count"
    );
}

#[test]
fn a_zombie_whose_process_runs_is_reported_once_and_never_killed() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Zombie));
    let report = tick(&fleet, &mut wd);
    assert!(matches!(only_action(&report), Action::Investigate { .. }));
    for _ in 0..10 {
        fleet.advance(MIN);
        assert!(tick(&fleet, &mut wd).actions.is_empty());
    }
    assert_eq!(fleet.mux.calls.get().kill, 0);
    assert!(fleet.mux.has("legio-test-b1"));
    assert_eq!(fleet.events.kinds("b1"), vec!["investigate"]);
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
}

#[test]
fn the_tick_that_loses_the_compare_and_swap_does_nothing() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.checkpoint("b1");
    fleet.exit_process("b1");
    // The agent reports completion between the watchdog's read and its write.
    *fleet.sessions.before_transition.borrow_mut() = Some(Box::new(|db| {
        let b1 = AgentName::new("b1").unwrap();
        assert!(
            db.transition(&b1, &[AgentState::Working], AgentState::Completed)
                .unwrap()
        );
    }));
    let report = tick(&fleet, &mut wd);
    assert!(report.actions.is_empty(), "{:#?}", lines(&report));
    assert_eq!(fleet.row("b1").state, AgentState::Completed);
    assert!(fleet.mail.all().is_empty());
    assert!(fleet.respawned.borrow().is_empty());
    assert_eq!(fleet.mux.calls.get().kill, 0);
}

#[test]
fn without_a_session_listing_no_agent_is_judged() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.mux.remove("legio-test-b1");
    fleet.mux.fail_list.set(true);
    let err = wd.tick(&fleet.ports()).unwrap_err();
    assert!(matches!(err, WatchdogError::ListSessions(_)));
    assert!(err.to_string().contains("no agent was judged"), "{err}");
    assert_eq!(fleet.row("b1").state, AgentState::Working);
    assert!(fleet.events.all().is_empty());

    fleet.sessions.fail_list.set(true);
    let err = wd.tick(&fleet.ports()).unwrap_err();
    assert!(matches!(err, WatchdogError::ListAgents(_)), "{err}");
    assert!(err.to_string().contains("sessions.db"), "{err}");
}

#[test]
fn events_carry_the_current_run_when_the_row_has_none() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    std::fs::write(fleet.layout.current_run(), "run-7\n").unwrap();
    fleet.add(&builder("b1", AgentState::Working));
    let mut with_run = builder("b2", AgentState::Working);
    with_run.run_id = Some("run-3".into());
    fleet.add(&with_run);
    fleet.mux.remove("legio-test-b1");
    fleet.mux.remove("legio-test-b2");
    tick(&fleet, &mut wd);
    for e in fleet.events.all() {
        let want = if e.agent_name == "b1" {
            "run-7"
        } else {
            "run-3"
        };
        assert_eq!(e.run_id.as_deref(), Some(want), "{e:?}");
    }
}
