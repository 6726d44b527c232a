//! `legio status`: one snapshot of the fleet. Reads only; a source that cannot be read (tmux
//! not installed, a damaged database) is reported in `problems` and the rest is still shown.
//!
//! Each source is read once: every session row, one multiplexer listing, one worktree
//! listing, one query for unread mail, one for the merge queue. Agents are matched to
//! multiplexer sessions by name and to worktrees by canonical path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::agent::{AgentSession, AgentState, Capability};
use crate::domain::merge::{MergeEntry, MergeStatus};
use crate::layout::Layout;
use crate::ports::git::AGENT_BRANCH_PREFIX;
use crate::ports::{
    MailFilter, MailStore, MergeQueue, Multiplexer, MuxSession, SessionStore, Worktrees,
};
use crate::time::{Clock, Timestamp};

/// What the snapshot reads.
pub struct StatusSources<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Where agent worktrees live.
    pub worktrees_dir: &'a Path,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `mail.db`.
    pub mail: &'a dyn MailStore,
    /// `merge-queue.db`.
    pub merge_queue: &'a dyn MergeQueue,
    /// The repository's worktrees.
    pub worktrees: &'a dyn Worktrees,
    /// Where agents run.
    pub mux: &'a dyn Multiplexer,
}

impl std::fmt::Debug for StatusSources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSources")
            .field("root", &self.layout.root())
            .finish_non_exhaustive()
    }
}

/// The state of an agent's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionState {
    /// Its process runs.
    Running,
    /// The session exists but its process has exited.
    Exited,
    /// There is no such session.
    Gone,
    /// The multiplexer could not be read.
    Unknown,
}

impl SessionState {
    /// The word shown in tables.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Exited => "exited",
            Self::Gone => "gone",
            Self::Unknown => "unknown",
        }
    }
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    /// Its name.
    pub name: String,
    /// Its role.
    pub capability: Capability,
    /// Its state.
    pub state: AgentState,
    /// Its task (empty for root agents without one).
    pub task: String,
    /// Its runtime.
    pub runtime: String,
    /// Its branch.
    pub branch: String,
    /// Where it works.
    pub worktree: String,
    /// Who spawned it.
    pub parent: Option<String>,
    /// Its depth.
    pub depth: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// How long ago it started.
    pub age_ms: i64,
    /// Its last hook activity.
    pub last_activity: Timestamp,
    /// How long ago that was.
    pub idle_ms: i64,
    /// Its session name.
    pub session: String,
    /// Its session's state.
    pub session_state: SessionState,
    /// Its process id while it runs.
    pub pid: Option<u32>,
    /// How its process ended, when it has and that is known.
    pub exit_code: Option<i32>,
    /// Its unread messages.
    pub unread: u64,
}

/// One agent worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreeStatus {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Its HEAD commit.
    pub head: String,
    /// The agent working in it, if any.
    pub agent: Option<String>,
    /// That agent's state.
    pub state: Option<AgentState>,
}

/// One multiplexer session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    /// Its name.
    pub name: String,
    /// Whether its process runs.
    pub running: bool,
    /// Its process id while it runs.
    pub pid: Option<u32>,
    /// How its process ended, when it has and that is known.
    pub exit_code: Option<i32>,
    /// The agent it belongs to; `None`: no agent row names it (an orphan).
    pub agent: Option<String>,
}

/// The whole snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetStatus {
    /// When it was taken.
    pub at: Timestamp,
    /// The project root.
    pub root: PathBuf,
    /// The multiplexer kind agents are started in.
    pub multiplexer: String,
    /// The current run.
    pub current_run: Option<String>,
    /// Active agents, and finished ones whose worktree or session still exists.
    pub agents: Vec<AgentStatus>,
    /// Agent worktrees.
    pub worktrees: Vec<WorktreeStatus>,
    /// Multiplexer sessions.
    pub sessions: Vec<SessionStatus>,
    /// Unread messages per recipient.
    pub unread_mail: BTreeMap<String, u64>,
    /// Branches waiting in (or being processed by) the merge queue.
    pub merge_queue: Vec<MergeEntry>,
    /// Sources that could not be read.
    pub problems: Vec<String>,
}

/// Canonical form of a path for matching (the path itself when it does not exist).
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Takes the snapshot; with `all`, every agent ever registered is listed.
pub fn snapshot(src: &StatusSources<'_>, all: bool) -> FleetStatus {
    let now = src.clock.now();
    let mut problems = Vec::new();
    let mut note = |what: &str, e: &dyn std::fmt::Display| problems.push(format!("{what}: {e}"));

    let rows = src.sessions.list().unwrap_or_else(|e| {
        note("agents", &e);
        Vec::new()
    });
    let (live, mux_ok): (Vec<MuxSession>, bool) = match src.mux.list() {
        Ok(l) => (l, true),
        Err(e) => {
            note("sessions", &e);
            (Vec::new(), false)
        }
    };
    let worktrees = src.worktrees.list().unwrap_or_else(|e| {
        note("worktrees", &e);
        Vec::new()
    });
    let mut unread_mail: BTreeMap<String, u64> = BTreeMap::new();
    match src.mail.list(&MailFilter {
        unread: Some(true),
        ..MailFilter::default()
    }) {
        Ok(messages) => {
            for m in messages {
                *unread_mail.entry(m.to).or_default() += 1;
            }
        }
        Err(e) => note("mail", &e),
    }
    let merge_queue: Vec<MergeEntry> = match src.merge_queue.list(None) {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging))
            .collect(),
        Err(e) => {
            note("merge queue", &e);
            Vec::new()
        }
    };

    let worktrees_dir = canonical(src.worktrees_dir);
    let mut agent_worktrees: Vec<(PathBuf, &crate::ports::Worktree)> = worktrees
        .iter()
        .map(|w| (canonical(&w.path), w))
        .filter(|(c, w)| c.starts_with(&worktrees_dir) || w.branch.starts_with(AGENT_BRANCH_PREFIX))
        .collect();
    // git lists worktrees in no particular order; show them by path.
    agent_worktrees.sort_by(|a, b| a.0.cmp(&b.0));
    let row_paths: Vec<PathBuf> = rows
        .iter()
        .map(|r| canonical(Path::new(&r.worktree_path)))
        .collect();
    let owner_of = |path: &Path| -> Option<&AgentSession> {
        rows.iter()
            .zip(&row_paths)
            .filter(|(r, p)| p.as_path() == path && !r.capability.works_at_root())
            // The newest agent of that worktree.
            .max_by_key(|(r, _)| r.started_at)
            .map(|(r, _)| r)
    };

    let agents = rows
        .iter()
        .zip(&row_paths)
        .filter_map(|(r, path)| {
            let session = live.iter().find(|s| s.name == r.tmux_session);
            let has_worktree =
                !r.capability.works_at_root() && agent_worktrees.iter().any(|(c, _)| c == path);
            let shown = all || r.state.is_active() || session.is_some() || has_worktree;
            shown.then(|| agent_status(r, session, mux_ok, now, &unread_mail))
        })
        .collect();
    let worktrees = agent_worktrees
        .iter()
        .map(|(c, w)| {
            let owner = owner_of(c);
            WorktreeStatus {
                path: w.path.clone(),
                branch: w.branch.clone(),
                head: w.head.clone(),
                agent: owner.map(|o| o.agent_name.to_string()),
                state: owner.map(|o| o.state),
            }
        })
        .collect();
    let sessions = live
        .iter()
        .map(|s| SessionStatus {
            name: s.name.clone(),
            running: s.running,
            pid: s.pid,
            exit_code: s.exit_code,
            agent: rows
                .iter()
                .filter(|r| r.tmux_session == s.name)
                .max_by_key(|r| r.started_at)
                .map(|r| r.agent_name.to_string()),
        })
        .collect();
    FleetStatus {
        at: now,
        root: src.layout.root().to_path_buf(),
        multiplexer: src.mux.kind().to_owned(),
        current_run: src.layout.read_current_run(),
        agents,
        worktrees,
        sessions,
        unread_mail,
        merge_queue,
        problems,
    }
}

fn agent_status(
    r: &AgentSession,
    session: Option<&MuxSession>,
    mux_ok: bool,
    now: Timestamp,
    unread: &BTreeMap<String, u64>,
) -> AgentStatus {
    let session_state = match session {
        _ if !mux_ok => SessionState::Unknown,
        Some(s) if s.running => SessionState::Running,
        Some(_) => SessionState::Exited,
        None => SessionState::Gone,
    };
    AgentStatus {
        name: r.agent_name.to_string(),
        capability: r.capability,
        state: r.state,
        task: r.bead_id.clone(),
        runtime: r.runtime.clone(),
        branch: r.branch_name.clone(),
        worktree: r.worktree_path.clone(),
        parent: r.parent_agent.as_ref().map(ToString::to_string),
        depth: r.depth,
        started_at: r.started_at,
        age_ms: now.millis_since(r.started_at).max(0),
        last_activity: r.last_activity,
        idle_ms: now.millis_since(r.last_activity).max(0),
        session: r.tmux_session.clone(),
        session_state,
        pid: session.and_then(|s| s.pid),
        exit_code: session.and_then(|s| s.exit_code),
        unread: unread.get(r.agent_name.as_str()).copied().unwrap_or(0),
    }
}
