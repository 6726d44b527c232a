//! `legio prime`: the context text for an agent (`--agent`) or for the human orchestrator.
//!
//! An agent's context starts with [`activation_text`], the same text its `SessionStart` hook
//! gives it, so the two never disagree; `--compact` adds its last checkpoint (what it was
//! doing before its context was compacted or its session replaced). The orchestrator's
//! context summarises the project, the roles and the fleet. Both only read.

use std::fmt::Write as _;

use crate::config::Config;
use crate::domain::agent::{AgentSession, Capability};
use crate::manifest::{Manifest, resolve_model};
use crate::ops::checkpoint::Checkpoint;
use crate::ops::hook::activation_text;

/// What an agent's context is made of.
#[derive(Debug, Clone, Copy)]
pub struct AgentContext<'a> {
    /// The agent's name.
    pub agent: &'a str,
    /// Its session row, if it has one.
    pub session: Option<&'a AgentSession>,
    /// Its last checkpoint (used with `compact`).
    pub checkpoint: Option<&'a Checkpoint>,
    /// Its unread messages.
    pub unread: u64,
    /// After a compaction: include the checkpoint.
    pub compact: bool,
}

/// The context text of an agent.
pub fn agent_context(c: &AgentContext<'_>) -> String {
    let mut out = format!("# Agent Context: {}\n\n", c.agent);
    match c.session {
        Some(s) => {
            out.push_str(&activation_text(s));
            let _ = write!(out, "\n\nState: {}.", s.state);
            if !s.file_scope.is_empty() {
                let _ = write!(out, " Your files: {}.", s.file_scope.join(", "));
            }
            out.push('\n');
        }
        None => out.push_str(
            "legio has no session recorded for this agent: it was not started by `legio sling` \
             or a `start` command.\n",
        ),
    }
    if c.unread > 0 {
        let _ = writeln!(
            out,
            "\nYou have {} unread message{}; they are delivered into your context with your next prompt or tool call.",
            c.unread,
            if c.unread == 1 { "" } else { "s" }
        );
    }
    if c.compact
        && let Some(cp) = c.checkpoint
    {
        let _ = write!(
            out,
            "\n## Session Recovery\n\nYour context was compacted or your session replaced; this is where you were \
             ({}):\n\n- Progress: {}\n- Files modified: {}\n- Pending work: {}\n- Branch: {}\n",
            cp.timestamp,
            non_empty(&cp.progress_summary, "not recorded"),
            if cp.files_modified.is_empty() {
                "none recorded".to_owned()
            } else {
                cp.files_modified.join(", ")
            },
            non_empty(&cp.pending_work, "not recorded"),
            non_empty(&cp.current_branch, "unknown"),
        );
    }
    out
}

fn non_empty<'a>(text: &'a str, otherwise: &'a str) -> &'a str {
    if text.trim().is_empty() {
        otherwise
    } else {
        text
    }
}

/// What the orchestrator's context is made of.
#[derive(Debug, Clone, Copy)]
pub struct OrchestratorContext<'a> {
    /// The project's configuration.
    pub config: &'a Config,
    /// The agent manifest, when it has one.
    pub manifest: Option<&'a Manifest>,
    /// The active agents.
    pub active: &'a [AgentSession],
    /// The current run.
    pub run: Option<&'a str>,
    /// The orchestrator's unread messages.
    pub unread: u64,
    /// After a compaction: leave out the fleet listing.
    pub compact: bool,
}

/// The context text of the human orchestrator's session.
pub fn orchestrator_context(c: &OrchestratorContext<'_>) -> String {
    let p = &c.config.project;
    let mut out = format!(
        "# Legio Context\n\n## Project: {}\n\nCanonical branch: {}\nMax concurrent agents: {}\nMax depth: {}\n",
        p.name, p.canonical_branch, c.config.agents.max_concurrent, c.config.agents.max_depth
    );
    out.push_str("\n## Roles\n\n");
    for role in Capability::ALL {
        let tags = c
            .manifest
            .and_then(|m| m.get(*role))
            .map(|d| d.capabilities.join(", "))
            .unwrap_or_default();
        let _ = write!(
            out,
            "- **{role}** [{}]",
            resolve_model(c.config, c.manifest, *role)
        );
        if !tags.is_empty() {
            let _ = write!(out, ": {tags}");
        }
        if role.works_at_root() {
            out.push_str(" (project root)");
        }
        if !role.may_spawn().is_empty() {
            out.push_str(" (can spawn)");
        }
        out.push('\n');
    }
    if !c.compact {
        out.push_str("\n## Fleet\n\n");
        if let Some(run) = c.run {
            let _ = writeln!(out, "Current run: {run}");
        }
        if c.active.is_empty() {
            out.push_str("No active agents.\n");
        }
        for s in c.active {
            let _ = writeln!(
                out,
                "- {} ({}, {}){}",
                s.agent_name,
                s.capability,
                s.state,
                if s.bead_id.is_empty() {
                    String::new()
                } else {
                    format!(": task {}", s.bead_id)
                }
            );
        }
    }
    if c.unread > 0 {
        let _ = writeln!(
            out,
            "\nYou have {} unread message{} (`legio mail check`).",
            c.unread,
            if c.unread == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn session() -> AgentSession {
        AgentSession {
            worktree_path: "/p/.legio/worktrees/b1".into(),
            branch_name: "legio/b1/t-1".into(),
            bead_id: "t-1".into(),
            tmux_session: "legio-p-b1".into(),
            pid: Some(4),
            runtime: "claude".into(),
            file_scope: vec!["src/a.rs".into()],
            ..AgentSession::example("b1", Capability::Builder)
        }
    }

    #[test]
    fn the_agent_context_starts_with_the_session_start_text() {
        let s = session();
        let cp = Checkpoint {
            agent_name: "b1".into(),
            bead_id: "t-1".into(),
            session_id: "x".into(),
            timestamp: Timestamp::from_millis(1_769_860_800_000),
            progress_summary: "wrote the parser".into(),
            files_modified: vec!["src/a.rs".into()],
            current_branch: "legio/b1/t-1".into(),
            pending_work: String::new(),
            mulch_domains: vec![],
        };
        let plain = agent_context(&AgentContext {
            agent: "b1",
            session: Some(&s),
            checkpoint: Some(&cp),
            unread: 2,
            compact: false,
        });
        assert!(plain.contains(&activation_text(&s)));
        assert!(!plain.contains("Session Recovery"));
        let compact = agent_context(&AgentContext {
            agent: "b1",
            session: Some(&s),
            checkpoint: Some(&cp),
            unread: 2,
            compact: true,
        });
        insta::assert_snapshot!(compact);
    }

    #[test]
    fn the_orchestrator_context_lists_roles_and_the_fleet() {
        let mut config = Config::for_root("/p");
        config.project.name = "shop".into();
        config.models.insert(Capability::Builder, "opus".into());
        let fleet = [session()];
        let text = orchestrator_context(&OrchestratorContext {
            config: &config,
            manifest: Some(&Manifest::default()),
            active: &fleet,
            run: Some("run-1"),
            unread: 1,
            compact: false,
        });
        insta::assert_snapshot!(text);
    }
}
