//! `orphans`: what nothing accounts for. Worktrees under the worktrees directory that no agent
//! row names (and git entries of worktrees whose directory is gone), `legio/*` branches with
//! neither a worktree nor a pending merge, sessions on legio's own multiplexer that no active
//! agent owns, and active agents whose session is gone.
//!
//! Nothing is concluded from a listing that failed: if the multiplexer or a store cannot be
//! read, the checks that need it say so instead of reporting every agent as vanished.

use std::path::Path;

use crate::config::Config;
use crate::domain::agent::AgentSession;
use crate::domain::merge::MergeStatus;
use crate::ports::git::{AGENT_BRANCH_PREFIX, Worktree};
use crate::ports::{MuxSession, Worktrees};

use super::{Category, Check, Doctor, Fix, count};

const CAT: Category = Category::Orphans;

/// Whether two paths name the same place (compared canonically when they exist).
pub fn same_path(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

pub(super) fn check(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) {
    let rows: Option<Vec<AgentSession>> = match d.sessions {
        Some(store) => match store.list() {
            Ok(rows) => Some(rows),
            Err(e) => {
                out.push(Check::warn(
                    CAT,
                    "agents",
                    format!("cannot read the agents: {e}; orphan checks skipped"),
                ));
                None
            }
        },
        // No sessions.db: no agent was ever registered.
        None if !d.layout.sessions_db().exists() => Some(Vec::new()),
        None => {
            out.push(Check::warn(
                CAT,
                "agents",
                "sessions.db cannot be used (see databases); orphan checks skipped",
            ));
            None
        }
    };
    let Some(rows) = rows else { return };
    if let Some(worktrees) = d.worktrees {
        worktree_checks(d, config, worktrees, &rows, out);
    }
    session_checks(d, &rows, out);
}

fn worktree_checks(
    d: &Doctor<'_>,
    config: &Config,
    worktrees: &dyn Worktrees,
    rows: &[AgentSession],
    out: &mut Vec<Check>,
) {
    let listed = match worktrees.list() {
        Ok(l) => l,
        Err(e) => {
            out.push(Check::warn(
                CAT,
                "orphan-worktrees",
                format!("cannot list git worktrees: {e}"),
            ));
            return;
        }
    };
    let base = config.worktrees_dir();
    let ours: Vec<&Worktree> = listed
        .iter()
        .skip(1)
        .filter(|w| w.path.parent().is_some_and(|p| same_path(p, &base)))
        .collect();
    let (present, gone): (Vec<&Worktree>, Vec<&Worktree>) =
        ours.into_iter().partition(|w| w.path.exists());

    let orphans: Vec<&Worktree> = present
        .into_iter()
        .filter(|w| {
            !rows
                .iter()
                .any(|r| same_path(Path::new(&r.worktree_path), &w.path))
        })
        .collect();
    out.push(if orphans.is_empty() {
        Check::pass(CAT, "orphan-worktrees", "every agent worktree belongs to an agent")
    } else {
        Check::warn(
            CAT,
            "orphan-worktrees",
            format!(
                "{} no agent",
                count(orphans.len(), "worktree belongs to", "worktrees belong to")
            ),
        )
        .details(orphans.iter().map(|w| describe(d, w)))
        .details([
            "`legio clean --worktrees` removes them (it refuses dirty ones and keeps unmerged branches)",
        ])
    });

    out.push(if gone.is_empty() {
        Check::pass(
            CAT,
            "stale-worktrees",
            "no git worktree entry lacks its directory",
        )
    } else {
        let names: Vec<String> = gone.iter().map(|w| d.rel(&w.path)).collect();
        Check::warn(
            CAT,
            "stale-worktrees",
            format!(
                "git still lists {} whose directory is gone",
                count(gone.len(), "worktree", "worktrees")
            ),
        )
        .details(gone.iter().map(|w| describe(d, w)))
        .fix(
            gone.iter()
                .map(|w| Fix::PruneWorktree {
                    path: w.path.clone(),
                })
                .collect(),
            format!(
                "forgot the worktree entries of {} (branches kept)",
                names.join(", ")
            ),
        )
    });

    branch_check(d, config, worktrees, &listed, out);
}

fn describe(d: &Doctor<'_>, w: &Worktree) -> String {
    if w.branch.is_empty() {
        format!("{} (detached)", d.rel(&w.path))
    } else {
        format!("{} (branch {})", d.rel(&w.path), w.branch)
    }
}

fn branch_check(
    d: &Doctor<'_>,
    config: &Config,
    worktrees: &dyn Worktrees,
    listed: &[Worktree],
    out: &mut Vec<Check>,
) {
    let branches = match worktrees.branches(AGENT_BRANCH_PREFIX) {
        Ok(b) => b,
        Err(e) => {
            out.push(Check::warn(
                CAT,
                "orphan-branches",
                format!("cannot list branches: {e}"),
            ));
            return;
        }
    };
    let queued: Vec<String> = match d.merge_queue {
        Some(q) => match q.list(None) {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging))
                .map(|e| e.branch_name)
                .collect(),
            Err(e) => {
                out.push(Check::warn(
                    CAT,
                    "orphan-branches",
                    format!("cannot read the merge queue: {e}"),
                ));
                return;
            }
        },
        None => Vec::new(),
    };
    let target = &config.project.canonical_branch;
    let orphans: Vec<String> = branches
        .into_iter()
        .filter(|b| !listed.iter().any(|w| &w.branch == b) && !queued.contains(b))
        .collect();
    if orphans.is_empty() {
        out.push(Check::pass(
            CAT,
            "orphan-branches",
            "every legio/ branch has a worktree or a queued merge",
        ));
        return;
    }
    let details: Vec<String> = orphans
        .iter()
        .map(|b| match worktrees.is_merged(b, target) {
            Ok(true) => format!("{b} (merged into {target})"),
            Ok(false) => format!("{b} (NOT merged into {target}: it holds work)"),
            Err(e) => format!("{b} ({e})"),
        })
        .collect();
    out.push(
        Check::warn(
            CAT,
            "orphan-branches",
            format!(
                "{} neither a worktree nor a queued merge",
                count(orphans.len(), "legio/ branch has", "legio/ branches have")
            ),
        )
        .details(details)
        .details([
            "`legio clean --branches` deletes the merged ones; merge the others (`legio merge --branch <b>`) or delete them with --force",
        ]),
    );
}

fn session_checks(d: &Doctor<'_>, rows: &[AgentSession], out: &mut Vec<Check>) {
    let sessions: Vec<MuxSession> = match d.mux.list() {
        Ok(s) => s,
        Err(e) => {
            out.push(Check::warn(
                CAT,
                "orphan-sessions",
                format!("cannot list legio's {} sessions: {e}", d.mux.kind()),
            ));
            return;
        }
    };
    let active: Vec<&AgentSession> = rows.iter().filter(|r| r.state.is_active()).collect();

    let orphans: Vec<&MuxSession> = sessions
        .iter()
        .filter(|s| !active.iter().any(|r| r.tmux_session == s.name))
        .collect();
    out.push(if orphans.is_empty() {
        Check::pass(
            CAT,
            "orphan-sessions",
            format!("every {} session belongs to an active agent", d.mux.kind()),
        )
    } else {
        let names: Vec<&str> = orphans.iter().map(|s| s.name.as_str()).collect();
        Check::warn(
            CAT,
            "orphan-sessions",
            format!(
                "{} to no active agent",
                count(
                    orphans.len(),
                    &format!("{} session belongs", d.mux.kind()),
                    &format!("{} sessions belong", d.mux.kind())
                ),
            ),
        )
        .details(orphans.iter().map(|s| {
            let owner = rows.iter().find(|r| r.tmux_session == s.name).map_or_else(
                || "no agent".to_owned(),
                |r| format!("agent {} is {}", r.agent_name, r.state),
            );
            let run = if s.running { "running" } else { "exited" };
            format!("{} ({run}; {owner})", s.name)
        }))
        .fix(
            orphans
                .iter()
                .map(|s| Fix::KillSession {
                    name: s.name.clone(),
                })
                .collect(),
            format!("killed {}", names.join(", ")),
        )
    });

    let vanished: Vec<String> = active
        .iter()
        .filter_map(|r| {
            let found = sessions.iter().find(|s| s.name == r.tmux_session);
            match found {
                Some(s) if s.running => None,
                Some(_) => Some(format!(
                    "{} is {} but its process in {} has exited",
                    r.agent_name, r.state, r.tmux_session
                )),
                None => Some(format!(
                    "{} is {} but its session {} is gone",
                    r.agent_name, r.state, r.tmux_session
                )),
            }
        })
        .collect();
    out.push(if active.is_empty() {
        Check::pass(CAT, "vanished-agents", "no agent is active")
    } else if vanished.is_empty() {
        Check::pass(
            CAT,
            "vanished-agents",
            format!(
                "{} running",
                count(active.len(), "active agent is", "active agents are")
            ),
        )
    } else {
        Check::warn(
            CAT,
            "vanished-agents",
            format!(
                "{} no running process",
                count(vanished.len(), "active agent has", "active agents have")
            ),
        )
        .details(vanished)
        .details([
            "the watchdog (`legio watch`) marks them zombie and recovers them; `legio clean --sessions` forgets them",
        ])
    });
}
