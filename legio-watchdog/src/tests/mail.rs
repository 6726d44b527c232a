//! Pushing urgent and high-priority mail to idle agents.

use legio_core::Clock;
use legio_core::domain::mail::{MailType, NewMail, Priority};
use legio_core::ports::MailStore;
use legio_core::{AgentState, Capability};

use super::{builder, lines, only_action, tick};
use crate::fakes::{Fleet, MIN, at, session, watchdog};
use crate::report::Action;

fn send(fleet: &Fleet, to: &str, priority: Priority, subject: &str) {
    let mut m = NewMail::new("lead-1", to, MailType::Status, subject, "body");
    m.priority = priority;
    fleet.mail.send(&m, fleet.clock.now()).unwrap();
}

#[test]
fn pressing_mail_reaches_an_idle_agent_once_per_message() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&session(
        "coordinator",
        Capability::Coordinator,
        AgentState::Idle,
    ));
    send(&fleet, "coordinator", Priority::Normal, "fyi");
    assert!(
        tick(&fleet, &mut wd).actions.is_empty(),
        "normal mail waits for the next turn"
    );

    send(
        &fleet,
        "coordinator",
        Priority::High,
        "merge conflict on t-1",
    );
    let r = tick(&fleet, &mut wd);
    assert!(matches!(
        only_action(&r),
        Action::MailPushed {
            messages: 1,
            delivered: true,
            ..
        }
    ));
    let typed = fleet.mux.typed_into("legio-test-coordinator");
    assert_eq!(typed.len(), 1);
    assert!(
        typed[0]
            .contains("high-priority message, the newest from lead-1: \"merge conflict on t-1\""),
        "{typed:?}"
    );

    for _ in 0..5 {
        fleet.advance(1000);
        assert!(tick(&fleet, &mut wd).actions.is_empty());
    }
    send(&fleet, "coordinator", Priority::Urgent, "stop everything");
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(only_action(&r), Action::MailPushed { messages: 2, .. }),
        "{:#?}",
        lines(&r)
    );
    assert!(fleet.mux.typed_into("legio-test-coordinator")[1].contains("2 unread urgent messages"));
    assert_eq!(
        fleet.events.kinds("coordinator"),
        vec!["mail_nudge", "mail_nudge"]
    );
}

#[test]
fn working_agents_get_their_mail_from_their_hooks_not_from_the_watchdog() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Working));
    send(&fleet, "b1", Priority::Urgent, "stop");
    assert!(tick(&fleet, &mut wd).actions.is_empty());
    assert_eq!(
        fleet.mail.list_calls.get(),
        0,
        "no idle agent: no mail query"
    );
}

#[test]
fn a_push_that_did_not_reach_the_session_is_tried_again() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&session(
        "coordinator",
        Capability::Coordinator,
        AgentState::Idle,
    ));
    send(&fleet, "coordinator", Priority::High, "x");
    fleet.mux.fail_send.set(true);
    let r = tick(&fleet, &mut wd);
    assert!(matches!(
        only_action(&r),
        Action::MailPushed {
            delivered: false,
            ..
        }
    ));
    fleet.mux.fail_send.set(false);
    let r = tick(&fleet, &mut wd);
    assert!(matches!(
        only_action(&r),
        Action::MailPushed {
            delivered: true,
            ..
        }
    ));
    assert!(tick(&fleet, &mut wd).actions.is_empty());
}

#[test]
fn an_idle_nudge_and_a_mail_push_are_not_both_typed_in_one_tick() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("b1", AgentState::Idle));
    send(&fleet, "b1", Priority::High, "question");
    fleet.clock.set(at(MIN));
    let r = tick(&fleet, &mut wd);
    assert!(
        matches!(only_action(&r), Action::IdleNudged { .. }),
        "{:#?}",
        lines(&r)
    );
    assert_eq!(fleet.mux.typed_into("legio-test-b1").len(), 1);
}
