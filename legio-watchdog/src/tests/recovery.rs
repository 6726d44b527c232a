//! Every recovery outcome: no checkpoint, respawn ok, respawn fails, attempts exhausted, a
//! session that cannot be ended, no respawner, recovery off; parent or no parent.

use legio_core::domain::mail::{MailType, WorkerDiedPayload};
use legio_core::{AgentName, AgentState, Capability};

use super::{builder, lines, tick};
use crate::fakes::{Fleet, MIN, session, watchdog};
use crate::recovery::attempts;
use crate::report::Action;
use crate::{Policy, RecoveryOutcome, RespawnError, Watchdog};

fn outcome(report: &crate::TickReport) -> RecoveryOutcome {
    report
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Recovery { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no recovery in {:#?}", lines(report)))
}

fn died_mail(fleet: &Fleet, to: &str) -> (String, WorkerDiedPayload) {
    let mail = fleet.mail.to(to);
    let m = mail
        .iter()
        .find(|m| m.mail_type == MailType::WorkerDied)
        .unwrap_or_else(|| panic!("no worker_died mail to {to}: {mail:#?}"));
    (
        format!("{}\n{}", m.subject, m.body),
        serde_json::from_str(m.payload.as_deref().unwrap()).unwrap(),
    )
}

/// A fleet with one builder (parent lead-1) that has a checkpoint and whose process just died.
fn dead_builder() -> (Fleet, Watchdog) {
    let fleet = Fleet::new();
    let wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    fleet.checkpoint("b1");
    fleet.exit_process("b1");
    (fleet, wd)
}

#[test]
fn a_dead_agent_with_a_checkpoint_is_restarted_in_its_worktree_and_monitored_again() {
    let (fleet, mut wd) = dead_builder();
    let r = tick(&fleet, &mut wd);
    assert_eq!(
        outcome(&r),
        RecoveryOutcome::Recovered {
            attempt: 1,
            max_attempts: 2
        }
    );
    let respawned = fleet.respawned.borrow()[0].clone();
    assert_eq!(respawned.worktree, "/p/.legio/worktrees/b1");
    assert_eq!(respawned.branch, "legio/b1/t-1");
    assert!(
        respawned.prompt.contains("half done"),
        "{}",
        respawned.prompt
    );
    assert!(respawned.prompt.contains("its process exited"));
    assert_eq!(
        std::fs::read_to_string(attempts::path(
            &fleet.layout,
            &AgentName::new("b1").unwrap()
        ))
        .unwrap(),
        "1"
    );
    let (text, payload) = died_mail(&fleet, "lead-1");
    assert_eq!(payload.action, "recovered");
    assert_eq!(payload.attempts, 1);
    assert!(text.contains("restarted (attempt 1/2)"), "{text}");
    assert_eq!(
        fleet.events.kinds("b1"),
        vec![
            "state_change",
            "recovery_attempt",
            "recovery_success",
            "worker_died"
        ]
    );

    // Not marked completed (legio 0.1.0 did): it boots and is watched like any agent.
    assert_eq!(fleet.row("b1").state, AgentState::Booting);
    fleet.advance(MIN);
    assert!(tick(&fleet, &mut wd).actions.is_empty());
    // It dies again: the second and last attempt.
    fleet.exit_process("b1");
    assert_eq!(
        outcome(&tick(&fleet, &mut wd)),
        RecoveryOutcome::Recovered {
            attempt: 2,
            max_attempts: 2
        }
    );
    // A third death exhausts the attempts.
    fleet.exit_process("b1");
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, attempts: 2 } if reason.contains("exhausted (2/2)")),
        "{:#?}",
        lines(&r)
    );
    assert_eq!(fleet.respawned.borrow().len(), 2);
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
    let (_, payload) = died_mail(&fleet, "lead-1");
    assert_eq!(payload.action, "recovered", "the first mail");
    let last = fleet.mail.to("lead-1").pop().unwrap();
    assert!(last.subject.contains("not restarted"), "{}", last.subject);
}

#[test]
fn a_failed_respawn_is_reported_and_counted() {
    let (fleet, mut wd) = dead_builder();
    *fleet.respawn_error.borrow_mut() =
        Some(RespawnError::Failed("worktree is locked by git".into()));
    let r = tick(&fleet, &mut wd);
    assert_eq!(
        outcome(&r),
        RecoveryOutcome::Failed {
            attempt: 1,
            max_attempts: 2,
            error: "worktree is locked by git".into()
        }
    );
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
    let (text, payload) = died_mail(&fleet, "lead-1");
    assert_eq!(payload.action, "recovery_failed");
    assert!(text.contains("worktree is locked by git"), "{text}");
    let failed = fleet.events.data("b1", "recovery_failed");
    assert_eq!(failed[0]["error"], "worktree is locked by git");
    assert_eq!(
        attempts::load(&fleet.layout, &AgentName::new("b1").unwrap()).unwrap(),
        1
    );
}

#[test]
fn a_refused_respawn_is_reported_as_not_restarted_and_not_counted() {
    let (fleet, mut wd) = dead_builder();
    *fleet.respawn_error.borrow_mut() = Some(RespawnError::Refused(
        "its worktree /p/.legio/worktrees/b1 no longer exists".into(),
    ));
    let r = tick(&fleet, &mut wd);
    assert_eq!(
        outcome(&r),
        RecoveryOutcome::NotRecoverable {
            reason: "its worktree /p/.legio/worktrees/b1 no longer exists".into(),
            attempts: 0
        }
    );
    assert_eq!(fleet.row("b1").state, AgentState::Zombie);
    let (text, payload) = died_mail(&fleet, "lead-1");
    assert_eq!(
        (payload.action.as_str(), payload.attempts),
        ("not_recoverable", 0)
    );
    assert!(text.contains("no longer exists"), "{text}");
    assert_eq!(
        attempts::load(&fleet.layout, &AgentName::new("b1").unwrap()).unwrap(),
        0,
        "a refusal is not an attempt"
    );
    assert_eq!(
        fleet.events.kinds("b1"),
        vec![
            "state_change",
            "recovery_attempt",
            "recovery_refused",
            "worker_died"
        ]
    );
}

#[test]
fn a_respawn_that_claims_success_without_an_active_agent_is_a_failure() {
    let (fleet, mut wd) = dead_builder();
    fleet.respawn_lies.set(true);
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::Failed { ref error, .. } if error.contains("zombie in sessions.db")),
        "{:#?}",
        lines(&r)
    );
}

#[test]
fn without_a_checkpoint_nothing_is_respawned_and_the_orchestrator_is_told() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&session("b1", Capability::Builder, AgentState::Working));
    fleet.exit_process("b1");
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, attempts: 0 } if reason.contains("no checkpoint"))
    );
    assert!(fleet.respawned.borrow().is_empty());
    let (text, payload) = died_mail(&fleet, "orchestrator");
    assert_eq!(payload.action, "not_recoverable");
    assert!(text.contains("legio sling"), "{text}");
}

#[test]
fn exhausted_attempts_are_not_retried() {
    let (fleet, mut wd) = dead_builder();
    attempts::store(&fleet.layout, &AgentName::new("b1").unwrap(), 2).unwrap();
    let r = tick(&fleet, &mut wd);
    assert!(matches!(
        outcome(&r),
        RecoveryOutcome::NotRecoverable { attempts: 2, .. }
    ));
    assert!(fleet.respawned.borrow().is_empty());
    assert_eq!(died_mail(&fleet, "lead-1").1.attempts, 2);
}

#[test]
fn a_session_that_cannot_be_ended_is_not_doubled_by_a_respawn() {
    let (fleet, mut wd) = dead_builder();
    fleet.mux.fail_kill.set(true);
    let r = tick(&fleet, &mut wd);
    assert!(
        lines(&r)[0].contains("could not end its session"),
        "{:#?}",
        lines(&r)
    );
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, .. } if reason.contains("no second copy"))
    );
    assert!(fleet.respawned.borrow().is_empty());
    // Its zombie row with a listed session is then buried or investigated, never killed again.
    fleet.advance(MIN);
    assert!(tick(&fleet, &mut wd).actions.is_empty());
    assert_eq!(fleet.mux.calls.get().kill, 1);
}

#[test]
fn without_a_respawner_or_with_recovery_off_the_parent_is_still_told() {
    let (mut fleet, mut wd) = dead_builder();
    fleet.with_respawner = false;
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, .. } if reason.contains("no respawner"))
    );
    assert_eq!(died_mail(&fleet, "lead-1").1.action, "not_recoverable");

    let (fleet, _) = dead_builder();
    let mut off = Watchdog::new(Policy {
        max_recovery_attempts: 0,
        ..Policy::default()
    });
    let r = tick(&fleet, &mut off);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, .. } if reason.contains("maxRecoveryAttempts is 0"))
    );
    assert!(fleet.respawned.borrow().is_empty());
}

#[test]
fn an_unreadable_count_or_checkpoint_stops_recovery_with_a_reason() {
    let (fleet, mut wd) = dead_builder();
    let agent = AgentName::new("b1").unwrap();
    std::fs::write(attempts::path(&fleet.layout, &agent), "many").unwrap();
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, .. } if reason.contains("delete it to reset"))
    );

    let (fleet, mut wd) = dead_builder();
    std::fs::write(fleet.layout.checkpoint(&agent), "{broken").unwrap();
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(outcome(&r), RecoveryOutcome::NotRecoverable { ref reason, .. } if reason.contains("checkpoint"))
    );
    assert!(fleet.respawned.borrow().is_empty());
}
