//! `legio worktree list|clean`: the agents' worktrees, and removing the finished ones.
//!
//! Worktrees are matched to agents by canonical path (a symlinked project root does not make
//! every agent look ownerless). Clean never touches an active agent's worktree. It removes a
//! finished agent's worktree, and deletes its branch, only when the branch is merged into the
//! canonical branch and the worktree has no uncommitted changes; anything else is refused and
//! listed, unless forced. legio's own files in a worktree (`.claude/CLAUDE.md`,
//! `.claude/settings.local.json`) do not count as changes. A finished agent's session that is
//! still open is ended first, so nothing runs in a directory being removed. Session rows and
//! mail are kept: they are the fleet's history.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::agent::{AgentSession, AgentState};
use crate::ops::status::canonical;
use crate::ports::git::AGENT_BRANCH_PREFIX;
use crate::ports::{
    BranchDisposal, GitError, Multiplexer, RemoveOptions, SessionStore, StoreError, Worktree,
    Worktrees,
};

/// Files legio writes into every agent worktree; they are not the agent's work.
pub const LEGIO_FILES: &[&str] = &[".claude/CLAUDE.md", ".claude/settings.local.json"];

/// What worktree commands act through.
pub struct WorktreeContext<'a> {
    /// Where agent worktrees live.
    pub worktrees_dir: &'a Path,
    /// The branch agent work is merged into.
    pub canonical_branch: &'a str,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// The repository's worktrees.
    pub worktrees: &'a dyn Worktrees,
    /// Where agents run.
    pub mux: &'a dyn Multiplexer,
}

impl std::fmt::Debug for WorktreeContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorktreeContext")
            .field("worktrees_dir", &self.worktrees_dir)
            .finish_non_exhaustive()
    }
}

/// Why the worktrees could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeOpError {
    /// git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One agent worktree and the agent working in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentWorktree {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Its HEAD commit.
    pub head: String,
    /// The (newest) agent of this worktree.
    pub agent: Option<String>,
    /// Its state.
    pub state: Option<AgentState>,
    /// Its task.
    pub task: Option<String>,
    /// Its session name.
    #[serde(skip)]
    session: Option<String>,
}

/// The agent worktrees (linked worktrees under the worktrees directory, or on a `legio/`
/// branch), each with its agent.
pub fn list(ctx: &WorktreeContext<'_>) -> Result<Vec<AgentWorktree>, WorktreeOpError> {
    let rows = ctx.sessions.list()?;
    let rows: Vec<(PathBuf, &AgentSession)> = rows
        .iter()
        .filter(|r| !r.capability.works_at_root())
        .map(|r| (canonical(Path::new(&r.worktree_path)), r))
        .collect();
    let dir = canonical(ctx.worktrees_dir);
    let all = ctx.worktrees.list()?;
    Ok(all
        .iter()
        .skip(1) // the main checkout
        .map(|w| (canonical(&w.path), w))
        .filter(|(c, w)| c.starts_with(&dir) || w.branch.starts_with(AGENT_BRANCH_PREFIX))
        .map(|(c, w)| to_agent_worktree(w, rows.iter().filter(|(p, _)| *p == c).map(|(_, r)| *r)))
        .collect())
}

fn to_agent_worktree<'r>(
    w: &Worktree,
    owners: impl Iterator<Item = &'r AgentSession>,
) -> AgentWorktree {
    let owner = owners.max_by_key(|r| r.started_at);
    AgentWorktree {
        path: w.path.clone(),
        branch: w.branch.clone(),
        head: w.head.clone(),
        agent: owner.map(|o| o.agent_name.to_string()),
        state: owner.map(|o| o.state),
        task: owner.map(|o| o.bead_id.clone()),
        session: owner.map(|o| o.tmux_session.clone()),
    }
}

/// Which finished worktrees `clean` considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanMode {
    /// Those of completed agents.
    Completed,
    /// Those of completed and zombie agents, and worktrees no agent row names.
    All,
}

/// How to clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanOptions {
    /// Which worktrees.
    pub mode: CleanMode,
    /// Remove unmerged or dirty ones too (their work is lost).
    pub force: bool,
}

/// A worktree that was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Its agent.
    pub agent: Option<String>,
    /// Whether the branch was deleted too.
    pub branch_deleted: bool,
    /// Why the branch was kept, if it was.
    pub branch_kept: Option<String>,
}

/// A worktree that was left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Left {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Its agent.
    pub agent: Option<String>,
    /// Why.
    pub reason: String,
}

/// What `clean` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanReport {
    /// Removed.
    pub removed: Vec<Removed>,
    /// Refused: unmerged or uncommitted work (`--force` removes them).
    pub refused: Vec<Left>,
    /// Not considered: active agents, or outside the mode.
    pub skipped: Vec<Left>,
    /// Removal was tried and failed.
    pub failed: Vec<Left>,
}

fn left(w: &AgentWorktree, reason: impl Into<String>) -> Left {
    Left {
        path: w.path.clone(),
        branch: w.branch.clone(),
        agent: w.agent.clone(),
        reason: reason.into(),
    }
}

/// Uncommitted changes that are the agent's, not legio's own files.
fn agent_changes(ctx: &WorktreeContext<'_>, path: &Path) -> Result<Vec<String>, GitError> {
    Ok(ctx
        .worktrees
        .dirty_files(path)?
        .into_iter()
        .filter(|f| {
            let f = f.trim_end_matches('/');
            !LEGIO_FILES.contains(&f) && f != ".claude"
        })
        .collect())
}

/// Removes finished agents' worktrees (see the module docs).
pub fn clean(
    ctx: &WorktreeContext<'_>,
    options: CleanOptions,
) -> Result<CleanReport, WorktreeOpError> {
    let mut report = CleanReport::default();
    for w in list(ctx)? {
        match w.state {
            Some(state) if state.is_active() => {
                report
                    .skipped
                    .push(left(&w, format!("its agent is {state}")));
                continue;
            }
            Some(AgentState::Completed) => {}
            _ if options.mode == CleanMode::Completed => {
                let why = match w.state {
                    Some(state) => format!("its agent is {state}, not completed (use --all)"),
                    None => "no agent is recorded for it (use --all)".to_owned(),
                };
                report.skipped.push(left(&w, why));
                continue;
            }
            _ => {}
        }
        let present = w.path.exists();
        let changes = if present {
            match agent_changes(ctx, &w.path) {
                Ok(c) => c,
                Err(e) => {
                    report.failed.push(left(&w, e.to_string()));
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        let merged = w.branch.is_empty()
            || match ctx.worktrees.is_merged(&w.branch, ctx.canonical_branch) {
                Ok(m) => m,
                Err(e) => {
                    report.failed.push(left(&w, e.to_string()));
                    continue;
                }
            };
        if !options.force && (!merged || !changes.is_empty()) {
            let mut why = Vec::new();
            if !merged {
                why.push(format!(
                    "branch {} is not merged into {}",
                    w.branch, ctx.canonical_branch
                ));
            }
            if !changes.is_empty() {
                why.push(format!("uncommitted changes: {}", changes.join(", ")));
            }
            report.refused.push(left(&w, why.join("; ")));
            continue;
        }
        if let Some(session) = &w.session
            && let Err(e) = ctx.mux.kill(session)
        {
            report
                .failed
                .push(left(&w, format!("cannot end its session {session}: {e}")));
            continue;
        }
        let removal = ctx.worktrees.remove(
            &w.path,
            &RemoveOptions {
                force_dirty: true,
                branch: if options.force {
                    BranchDisposal::Force
                } else {
                    BranchDisposal::DeleteIfMerged
                },
                merge_target: ctx.canonical_branch.to_owned(),
            },
        );
        match removal {
            Ok(r) => report.removed.push(Removed {
                path: w.path.clone(),
                branch: w.branch.clone(),
                agent: w.agent.clone(),
                branch_deleted: r.branch_deleted,
                branch_kept: r.branch_kept_reason,
            }),
            Err(e) => report.failed.push(left(&w, e.to_string())),
        }
    }
    Ok(report)
}
