//! Snapshots of everything the watchdog writes for people and agents: progress lines, the text
//! typed into sessions, and its mail.

use std::fmt::Write as _;

use legio_core::{AgentName, AgentState};

use super::{builder, tick};
use crate::RecoveryOutcome;
use crate::escalation::StallStep;
use crate::fakes::{Fleet, MIN, at, watchdog};
use crate::health::DeathCause;
use crate::report::{Action, SessionEnd};
use crate::triage::{Triage, TriageVerdict};

#[test]
fn progress_lines() {
    let a = AgentName::new("builder-1").unwrap();
    let actions = [
        Action::Died {
            agent: a.clone(),
            cause: DeathCause::ProcessExited {
                exit_code: Some(137),
            },
            session: SessionEnd::Ended,
        },
        Action::Died {
            agent: a.clone(),
            cause: DeathCause::SessionGone,
            session: SessionEnd::AlreadyGone,
        },
        Action::Died {
            agent: a.clone(),
            cause: DeathCause::PidDead { pid: 4242 },
            session: SessionEnd::Failed("kill-session failed: permission denied".into()),
        },
        Action::Died {
            agent: a.clone(),
            cause: DeathCause::BootTimeout { waited_ms: 125_000 },
            session: SessionEnd::Ended,
        },
        Action::Died {
            agent: a.clone(),
            cause: DeathCause::Stalled {
                inactive_ms: 600_000,
            },
            session: SessionEnd::Ended,
        },
        Action::Recovery {
            agent: a.clone(),
            outcome: RecoveryOutcome::Recovered {
                attempt: 1,
                max_attempts: 2,
            },
        },
        Action::Recovery {
            agent: a.clone(),
            outcome: RecoveryOutcome::Failed {
                attempt: 2,
                max_attempts: 2,
                error: "worktree is locked".into(),
            },
        },
        Action::Recovery {
            agent: a.clone(),
            outcome: RecoveryOutcome::NotRecoverable {
                reason: "recovery attempts exhausted (2/2)".into(),
                attempts: 2,
            },
        },
        Action::Stalled {
            agent: a.clone(),
            step: StallStep::Warn,
            inactive_ms: 61_000,
            delivered: None,
        },
        Action::Stalled {
            agent: a.clone(),
            step: StallStep::Nudge,
            inactive_ms: 121_000,
            delivered: Some(false),
        },
        Action::Triaged {
            agent: a.clone(),
            triage: Triage {
                verdict: TriageVerdict::Retry,
                reason: "hung on an interactive prompt".into(),
                fallback: false,
            },
        },
        Action::Triaged {
            agent: a.clone(),
            triage: Triage {
                verdict: TriageVerdict::Extend,
                reason: "no agent runtime is available for triage; giving it more time once".into(),
                fallback: true,
            },
        },
        Action::IdleNudged {
            agent: a.clone(),
            idle_ms: 60_000,
            delivered: true,
        },
        Action::ParentTold {
            agent: a.clone(),
            parent: "lead-1".into(),
            idle_ms: 120_000,
        },
        Action::MailPushed {
            agent: a.clone(),
            messages: 2,
            delivered: true,
        },
        Action::Investigate { agent: a },
    ];
    let text: Vec<String> = actions.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

fn transcript(fleet: &Fleet) -> String {
    let mut out = String::new();
    for (session, text) in fleet.mux.typed.borrow().iter() {
        let _ = writeln!(out, "typed into {session}:\n  {text}\n");
    }
    for m in fleet.mail.all() {
        let _ = writeln!(
            out,
            "mail {} -> {} [{} {}] {}\n{}\npayload: {}\n",
            m.from,
            m.to,
            m.mail_type,
            m.priority,
            m.subject,
            m.body,
            m.payload.as_deref().unwrap_or("-")
        );
    }
    out
}

#[test]
fn what_agents_and_parents_are_told() {
    let fleet = Fleet::new();
    let mut wd = watchdog(false);
    fleet.add(&builder("stuck", AgentState::Working));
    let mut idle = builder("quiet", AgentState::Idle);
    idle.pid = Some(7);
    fleet.add(&idle);
    let mut dead = builder("crashed", AgentState::Working);
    dead.pid = Some(8);
    fleet.add(&dead);
    fleet.checkpoint("crashed");
    let mut lost = builder("lost", AgentState::Working);
    lost.pid = Some(9);
    fleet.add(&lost);

    fleet.exit_process("crashed");
    fleet.mux.remove("legio-test-lost");
    for m in [1, 2] {
        fleet.clock.set(at(m * MIN));
        tick(&fleet, &mut wd);
    }
    insta::assert_snapshot!(transcript(&fleet));
}
