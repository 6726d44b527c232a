//! What `legio dashboard` shows, gathered from the stores in one pass: agents (with whether
//! their session still runs), recent mail and the orchestrator's unread count, the merge queue,
//! the newest events, and tokens and dollars per agent.
//!
//! Gathering only reads. A database that does not exist is shown as such, never created; an
//! agent whose session is gone is shown as gone, never marked zombie (the watchdog decides
//! that). Each panel fails on its own: a damaged `mail.db` leaves the other panels working.
//!
//! Costs per agent: the sum of its recorded sessions (`metrics.db`, table `sessions`), plus,
//! while it is active, its newest token snapshot when that is newer than its last recorded
//! session (the running session, not yet recorded).

use std::collections::BTreeMap;

use crate::domain::agent::AgentSession;
use crate::domain::event::StoredEvent;
use crate::domain::mail::MailMessage;
use crate::domain::merge::{MergeEntry, MergeStatus};
use crate::domain::metrics::TokenUsage;
use crate::ports::{
    EventQuery, EventStore, MailFilter, MailStore, MergeQueue, MetricsStore, MuxError, MuxSession,
    ProcessProbe, SessionStore, StoreError,
};
use crate::time::Timestamp;

/// Whose unread mail the mail panel counts.
pub const MAIL_OWNER: &str = "orchestrator";

/// How many rows each panel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Recent messages.
    pub mail: u32,
    /// Newest events.
    pub events: u32,
    /// Merge queue entries (pending and merging first, then the newest finished).
    pub merges: usize,
    /// Recorded sessions summed into costs.
    pub metrics_sessions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            mail: 50,
            events: 100,
            merges: 50,
            metrics_sessions: 1000,
        }
    }
}

/// One panel's data, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Panel<T> {
    /// The data.
    Ready(T),
    /// Its database does not exist yet.
    Missing,
    /// Its database could not be read.
    Failed(String),
}

impl<T> Panel<T> {
    /// Reads a panel from `store`; [`Panel::Missing`] when there is no store.
    fn read<S: ?Sized>(store: Option<&S>, read: impl FnOnce(&S) -> Result<T, StoreError>) -> Self {
        match store.map(read) {
            None => Self::Missing,
            Some(Ok(v)) => Self::Ready(v),
            Some(Err(e)) => Self::Failed(e.to_string()),
        }
    }

    /// The data, when there is some.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(v) => Some(v),
            _ => None,
        }
    }
}

/// Whether an agent's process runs, as far as legio can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Its session is listed and its process runs.
    Running,
    /// Its session is listed but its process has exited.
    Exited,
    /// No such session.
    Gone,
    /// The sessions could not be listed.
    Unknown,
}

/// An agent and its liveness.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    /// The row of `sessions.db`.
    pub session: AgentSession,
    /// Whether its process runs.
    pub liveness: Liveness,
}

/// The mail panel.
#[derive(Debug, Clone, PartialEq)]
pub struct MailPanel {
    /// Unread messages to [`MAIL_OWNER`].
    pub unread: u64,
    /// The newest messages, newest first.
    pub recent: Vec<MailMessage>,
}

/// Tokens and dollars of one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentCost {
    /// The agent.
    pub agent: String,
    /// Tokens.
    pub usage: TokenUsage,
    /// Dollars, when any session's model was priced.
    pub cost_usd: Option<f64>,
    /// Recorded sessions summed.
    pub sessions: usize,
    /// Whether a running session's snapshot is included.
    pub live: bool,
}

/// Everything on screen at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When it was gathered.
    pub taken_at: Timestamp,
    /// Active agents first (oldest first), then the others, most recently active first.
    pub agents: Panel<Vec<AgentRow>>,
    /// Mail.
    pub mail: Panel<MailPanel>,
    /// The merge queue: pending and merging entries first (queue order), then the newest
    /// finished ones.
    pub merges: Panel<Vec<MergeEntry>>,
    /// The newest events, newest first.
    pub events: Panel<Vec<StoredEvent>>,
    /// Costs per agent, most expensive first.
    pub costs: Panel<Vec<AgentCost>>,
}

/// The stores to read; `None` for a database that does not exist.
#[derive(Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `sessions.db`.
    pub sessions: Option<&'a dyn SessionStore>,
    /// `mail.db`.
    pub mail: Option<&'a dyn MailStore>,
    /// `events.db`.
    pub events: Option<&'a dyn EventStore>,
    /// `metrics.db`.
    pub metrics: Option<&'a dyn MetricsStore>,
    /// `merge-queue.db`.
    pub merge_queue: Option<&'a dyn MergeQueue>,
}

/// Reads every panel. `sessions` is the multiplexer's listing (one call by the caller).
pub fn gather(
    sources: &Sources<'_>,
    sessions: &Result<Vec<MuxSession>, MuxError>,
    limits: Limits,
    now: Timestamp,
) -> Snapshot {
    let agents = Panel::read(sources.sessions, |store| {
        let mut rows: Vec<AgentRow> = store
            .list()?
            .into_iter()
            .map(|session| AgentRow {
                liveness: liveness(&session, sessions),
                session,
            })
            .collect();
        rows.sort_by(|a, b| {
            let (sa, sb) = (&a.session, &b.session);
            sb.state
                .is_active()
                .cmp(&sa.state.is_active())
                .then_with(|| {
                    if sa.state.is_active() {
                        sa.started_at.cmp(&sb.started_at)
                    } else {
                        sb.last_activity.cmp(&sa.last_activity)
                    }
                })
        });
        Ok(rows)
    });
    let mail = Panel::read(sources.mail, |store| {
        Ok(MailPanel {
            unread: store.count_unread(MAIL_OWNER)?,
            recent: store.list(&MailFilter {
                limit: Some(limits.mail),
                ..MailFilter::default()
            })?,
        })
    });
    let merges = Panel::read(sources.merge_queue, |store| {
        let all = store.list(None)?;
        let (mut shown, finished): (Vec<MergeEntry>, Vec<MergeEntry>) = all
            .into_iter()
            .partition(|e| matches!(e.status, MergeStatus::Pending | MergeStatus::Merging));
        shown.extend(finished.into_iter().rev());
        shown.truncate(limits.merges);
        Ok(shown)
    });
    let events = Panel::read(sources.events, |store| {
        store.query(&EventQuery {
            limit: Some(limits.events),
            ..EventQuery::default()
        })
    });
    let active: Vec<String> = agents.ready().map_or_else(Vec::new, |rows| {
        rows.iter()
            .filter(|r| r.session.state.is_active())
            .map(|r| r.session.agent_name.to_string())
            .collect()
    });
    let costs = Panel::read(sources.metrics, |store| {
        costs(store, &active, limits.metrics_sessions)
    });
    Snapshot {
        taken_at: now,
        agents,
        mail,
        merges,
        events,
        costs,
    }
}

/// An agent's liveness from the multiplexer's listing.
pub fn liveness(session: &AgentSession, listing: &Result<Vec<MuxSession>, MuxError>) -> Liveness {
    match listing {
        Err(_) => Liveness::Unknown,
        Ok(list) => match list.iter().find(|s| s.name == session.tmux_session) {
            Some(s) if s.running => Liveness::Running,
            Some(_) => Liveness::Exited,
            None => Liveness::Gone,
        },
    }
}

/// Updates `Running` agents whose recorded process has died since the listing (a cheap
/// check between refreshes). Returns whether anything changed.
pub fn recheck_processes(rows: &mut [AgentRow], probe: &dyn ProcessProbe) -> bool {
    let mut changed = false;
    for row in rows.iter_mut() {
        if row.liveness == Liveness::Running
            && let Some(pid) = row.session.pid
            && !probe.is_alive(pid)
        {
            row.liveness = Liveness::Exited;
            changed = true;
        }
    }
    changed
}

fn costs(
    store: &dyn MetricsStore,
    active: &[String],
    limit: u32,
) -> Result<Vec<AgentCost>, StoreError> {
    let blank = |agent: &str| {
        (
            AgentCost {
                agent: agent.to_owned(),
                usage: TokenUsage::default(),
                cost_usd: None,
                sessions: 0,
                live: false,
            },
            None::<Timestamp>,
        )
    };
    // Per agent: its cost so far, and when its last recorded session ended.
    let mut by_agent: BTreeMap<String, (AgentCost, Option<Timestamp>)> = BTreeMap::new();
    for s in store.recent_sessions(limit)? {
        let (cost, last) = by_agent
            .entry(s.agent_name.clone())
            .or_insert_with(|| blank(&s.agent_name));
        cost.usage = cost.usage.plus(s.usage);
        cost.cost_usd = add(cost.cost_usd, s.estimated_cost_usd);
        cost.sessions += 1;
        let ended = s.completed_at.unwrap_or(s.started_at);
        *last = Some(last.map_or(ended, |l| l.max(ended)));
    }
    for snap in store.latest_snapshots()? {
        if !active.contains(&snap.agent_name) {
            continue;
        }
        let (cost, last) = by_agent
            .entry(snap.agent_name.clone())
            .or_insert_with(|| blank(&snap.agent_name));
        if last.is_some_and(|l| snap.created_at <= l) {
            continue;
        }
        cost.usage = cost.usage.plus(snap.usage);
        cost.cost_usd = add(cost.cost_usd, snap.estimated_cost_usd);
        cost.live = true;
    }
    let mut list: Vec<AgentCost> = by_agent.into_values().map(|(c, _)| c).collect();
    list.sort_by(|a, b| {
        b.cost_usd
            .unwrap_or(0.0)
            .total_cmp(&a.cost_usd.unwrap_or(0.0))
            .then_with(|| b.usage.output_tokens.cmp(&a.usage.output_tokens))
            .then_with(|| a.agent.cmp(&b.agent))
    });
    Ok(list)
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}
