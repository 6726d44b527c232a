//! Cost per tick and memory over many ticks.

use legio_core::Clock;
use legio_core::domain::mail::{MailType, NewMail, Priority};
use legio_core::ports::MailStore;
use legio_core::{AgentState, Capability};

use super::tick;
use crate::fakes::{Fleet, session, watchdog};

/// A fleet of `n` agents in every state: working, idle, booting, completed, zombie (dead and
/// alive), persistent roles, some with a dead process.
fn mixed_fleet(n: usize) -> Fleet {
    let fleet = Fleet::new();
    for i in 0..n {
        let (cap, state) = match i % 8 {
            0 => (Capability::Builder, AgentState::Working),
            1 => (Capability::Builder, AgentState::Idle),
            2 => (Capability::Scout, AgentState::Booting),
            3 => (Capability::Builder, AgentState::Completed),
            4 => (Capability::Reviewer, AgentState::Zombie),
            5 => (Capability::Lead, AgentState::Idle),
            6 => (Capability::Coordinator, AgentState::Idle),
            _ => (Capability::Merger, AgentState::Working),
        };
        let mut s = session(&format!("agent-{i}"), cap, state);
        s.pid = Some(fleet.pid());
        fleet.add(&s);
        if i % 16 == 7 {
            fleet.exit_process(s.agent_name.as_str());
        }
        if i % 8 == 6 {
            let mut m = NewMail::new("x", s.agent_name.as_str(), MailType::Status, "s", "b");
            m.priority = Priority::Urgent;
            fleet.mail.send(&m, fleet.clock.now()).unwrap();
        }
    }
    fleet
}

#[test]
fn one_listing_and_one_batch_of_pid_checks_per_tick_for_500_agents() {
    let fleet = mixed_fleet(500);
    let mut wd = watchdog(false);
    let exited = (0..500).filter(|i| i % 16 == 7).count();
    for n in 1..=5 {
        let report = tick(&fleet, &mut wd);
        assert_eq!(report.agents, 500);
        assert_eq!(fleet.mux.calls.get().list, n, "one listing per tick");
        assert_eq!(
            fleet.probe.batches.get(),
            n,
            "one batch of pid checks per tick"
        );
        assert_eq!(fleet.probe.singles.get(), 0, "no pid checked on its own");
        assert!(
            fleet.mail.list_calls.get() <= n,
            "at most one mail query per tick"
        );
        assert_eq!(
            fleet.mux.calls.get().kill,
            exited,
            "the first tick ended the exited sessions, and only the first"
        );
        fleet.advance(1000);
    }
}

#[test]
fn a_fleet_of_finished_agents_costs_no_listing() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&session("b1", Capability::Builder, AgentState::Completed));
    tick(&fleet, &mut wd);
    assert_eq!(fleet.mux.calls.get().list, 0);
    assert_eq!(fleet.probe.batches.get(), 0);
}

/// 1,000 steady ticks here (debug build, real SQLite); the benchmark runs 10,000 in release.
#[test]
fn memory_and_records_stay_flat_over_a_thousand_ticks() {
    let fleet = mixed_fleet(64);
    let mut wd = watchdog(true);
    // Let every ladder run to its end: stalled agents die, idle ones are nudged and escalated.
    for _ in 0..100 {
        tick(&fleet, &mut wd);
        fleet.advance(30_000);
    }
    let events = fleet.events.len();
    let mails = fleet.mail.all().len();
    let remembered = wd.remembered();
    assert!(remembered <= 64, "{remembered}");
    for _ in 0..1_000 {
        let report = tick(&fleet, &mut wd);
        assert!(report.actions.is_empty(), "{:?}", report.actions);
        fleet.advance(30_000);
    }
    assert_eq!(fleet.events.len(), events, "no event repeated");
    assert_eq!(fleet.mail.all().len(), mails, "no mail repeated");
    assert_eq!(
        wd.remembered(),
        remembered,
        "the watchdog's memory does not grow"
    );
    assert_eq!(fleet.mux.calls.get().list, 1_100);
}
