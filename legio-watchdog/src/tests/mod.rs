//! Tick-level tests: every rule, escalation step and recovery outcome, against the fakes of
//! [`crate::fakes`] (a manual clock, a multiplexer and a probe that count their calls).

mod death;
mod ladder;
mod mail;
mod recovery;
mod scale;
mod texts;

use legio_core::{AgentSession, AgentState, Capability};

use crate::fakes::{Fleet, session};
use crate::{Action, TickReport, Watchdog};

/// Runs one tick, which must succeed.
fn tick(fleet: &Fleet, wd: &mut Watchdog) -> TickReport {
    wd.tick(&fleet.ports()).expect("the tick runs")
}

/// The progress lines of a report.
fn lines(report: &TickReport) -> Vec<String> {
    report.actions.iter().map(ToString::to_string).collect()
}

/// A builder working for `lead-1`.
fn builder(name: &str, state: AgentState) -> AgentSession {
    let mut s = session(name, Capability::Builder, state);
    s.parent_agent = Some(legio_core::AgentName::new("lead-1").unwrap());
    s
}

fn only_action(report: &TickReport) -> &Action {
    assert_eq!(report.actions.len(), 1, "{:#?}", lines(report));
    &report.actions[0]
}
