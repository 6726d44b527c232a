//! The store ports: what legio needs from its databases.
//!
//! `legio-store` implements them on SQLite (one file per concern, legio 0.1.0's table names).
//! Every read-modify-write operation here is specified as atomic: implementations run it as one
//! transaction (or one statement), so concurrent hook processes cannot double-deliver mail,
//! exceed a spawn limit or claim a merge twice.

use std::path::PathBuf;

use crate::domain::agent::{AgentSession, AgentState, Run, RunStatus};
use crate::domain::event::{EventLevel, EventType, NewEvent, StoredEvent, ToolStats};
use crate::domain::mail::{Audience, MailMessage, NewMail};
use crate::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use crate::domain::metrics::{SessionMetrics, TokenSnapshot};
use crate::domain::task::{NewTask, Task, TaskPatch, TaskStatus};
use crate::names::{AgentName, TaskId};
use crate::time::Timestamp;

/// Why a store operation failed. Messages name the database file and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("cannot open {}: {reason}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying reason.
        reason: String,
    },
    /// The file is not a usable database (damaged, or not SQLite at all).
    #[error("{} is damaged or not a legio database ({reason}); move it aside and legio will create a new one, or restore it from a backup", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        reason: String,
    },
    /// Another process held the database locked for longer than the busy timeout.
    #[error("{} stayed locked by another process for {waited_ms} ms; retry, or find the process holding it (`fuser {}`)", path.display(), path.display())]
    Busy {
        /// The database file.
        path: PathBuf,
        /// How long legio waited.
        waited_ms: u64,
    },
    /// The schema is newer than this binary understands.
    #[error("{} has schema version {found}, newer than this legio understands ({known}); upgrade legio", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
        /// The newest this binary knows.
        known: i64,
    },
    /// A row that must exist does not.
    #[error("{what} not found: {key}")]
    NotFound {
        /// What was looked up ("message", "task", "queue entry", ...).
        what: &'static str,
        /// The key.
        key: String,
    },
    /// A uniqueness or consistency rule was violated (duplicate id, dependency cycle, a state
    /// change the row's current state does not allow).
    #[error("{0}")]
    Conflict(String),
    /// A value given to the store breaks a rule of the data (blank title, priority out of
    /// range, finishing a run as `active`). Nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// A stored value could not be read back (a column holding text legio cannot parse).
    #[error("{} holds an unreadable value in {column}: {value:?}", path.display())]
    BadValue {
        /// The database file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The value.
        value: String,
    },
    /// Any other database error.
    #[error("database error in {}: {message}", path.display())]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        message: String,
    },
}

/// A shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------------------------------------
// sessions.db
// ---------------------------------------------------------------------------------------------

/// Limits checked atomically when an agent is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Active agents (booting, working, idle) allowed at once.
    pub max_concurrent: u32,
    /// Active children allowed per parent.
    pub max_agents_per_lead: u32,
    /// Deepest depth allowed.
    pub max_depth: u32,
}

/// Why registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionDenied {
    /// An active agent already has this name.
    #[error(
        "agent name \"{name}\" is already in use (state: {state}); pick another name or stop it first"
    )]
    NameInUse {
        /// The name.
        name: String,
        /// Its current state.
        state: AgentState,
    },
    /// Too many active agents.
    #[error(
        "max concurrent agents reached: {active}/{max} active; wait for one to finish or raise agents.maxConcurrent"
    )]
    MaxConcurrent {
        /// Active now.
        active: u32,
        /// The limit.
        max: u32,
    },
    /// The parent has too many active children.
    #[error(
        "parent \"{parent}\" has reached its child limit: {active}/{max} active; raise agents.maxAgentsPerLead or wait"
    )]
    MaxPerLead {
        /// The parent.
        parent: String,
        /// Its active children.
        active: u32,
        /// The limit.
        max: u32,
    },
    /// Too deep.
    #[error("depth limit exceeded: depth {depth} > agents.maxDepth {max}")]
    MaxDepth {
        /// Requested depth.
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// A lead is already active on this task.
    #[error("lead \"{existing}\" is already working on task {task}")]
    DuplicateLead {
        /// The active lead.
        existing: String,
        /// The task.
        task: String,
    },
}

/// Result of `SessionStore::register`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The row was inserted (state `booting`).
    Admitted,
    /// A limit refused it; nothing was written.
    Denied(AdmissionDenied),
}

/// Agents and runs (`sessions.db`).
pub trait SessionStore {
    /// Atomically checks `limits` (and name uniqueness among active agents) and inserts the
    /// session in state `booting`, replacing any terminal (completed/zombie) row of that name.
    /// Checks, in order: name in use, depth, max concurrent, the parent's child limit, a second
    /// active lead on the same task. A session id already used by another agent: `Conflict`.
    fn register(&self, session: &AgentSession, limits: &AdmissionLimits) -> StoreResult<Admission>;

    /// Replaces the row of `session.agent_name` wholesale (used by recovery and restarts), or
    /// inserts it. A session id already used by another agent: `Conflict`.
    fn upsert(&self, session: &AgentSession) -> StoreResult<()>;

    /// Deletes the row (sling rollback, worktree clean).
    fn remove(&self, agent: &AgentName) -> StoreResult<bool>;

    /// One agent.
    fn get(&self, agent: &AgentName) -> StoreResult<Option<AgentSession>>;

    /// Every agent, oldest first.
    fn list(&self) -> StoreResult<Vec<AgentSession>>;

    /// Booting, working and idle agents, oldest first.
    fn list_active(&self) -> StoreResult<Vec<AgentSession>>;

    /// Compare-and-swap: moves the agent to `to` only if its state is one of `from`.
    /// Returns whether the row changed (false for an unknown agent too).
    fn transition(
        &self,
        agent: &AgentName,
        from: &[AgentState],
        to: AgentState,
    ) -> StoreResult<bool>;

    /// Records hook activity: sets `last_activity = at` (never moving it backwards when hooks
    /// race), clears escalation, and moves `booting` or `idle` to `working` (never touches
    /// completed or zombie rows' state). One statement. Returns the state after the update, or
    /// `None` if no such agent.
    fn record_activity(&self, agent: &AgentName, at: Timestamp) -> StoreResult<Option<AgentState>>;

    /// Sets the escalation stage and when the stall began (`None` clears it). Unknown agent:
    /// `NotFound`.
    fn set_escalation(
        &self,
        agent: &AgentName,
        level: u32,
        stalled_since: Option<Timestamp>,
    ) -> StoreResult<()>;

    /// Sets the recorded process id. Unknown agent: `NotFound`.
    fn set_pid(&self, agent: &AgentName, pid: Option<u32>) -> StoreResult<()>;

    /// Creates a run. Duplicate id: `Conflict`.
    fn create_run(&self, run: &Run) -> StoreResult<()>;

    /// One run.
    fn get_run(&self, id: &str) -> StoreResult<Option<Run>>;

    /// Runs, newest first, optionally by status, at most `limit`.
    fn list_runs(&self, status: Option<RunStatus>, limit: Option<u32>) -> StoreResult<Vec<Run>>;

    /// Adds one to a run's agent count. Unknown run: `NotFound`.
    fn increment_run_agents(&self, id: &str) -> StoreResult<()>;

    /// Completes or fails an active run; returns false if it was not active. Unknown run:
    /// `NotFound`; `status` active: `Invalid`.
    fn finish_run(&self, id: &str, status: RunStatus, at: Timestamp) -> StoreResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// mail.db
// ---------------------------------------------------------------------------------------------

/// Filters for listing mail. All given predicates must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailFilter {
    /// Sender.
    pub from: Option<String>,
    /// Recipient.
    pub to: Option<String>,
    /// `Some(true)` unread only, `Some(false)` read only.
    pub unread: Option<bool>,
    /// Exactly this audience.
    pub audience: Option<Audience>,
    /// At most this many, newest kept.
    pub limit: Option<u32>,
}

/// What to purge. `all` wins; otherwise the given criteria are combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeCriteria {
    /// Everything.
    pub all: bool,
    /// Only rows created before this instant.
    pub older_than: Option<Timestamp>,
    /// Only rows involving this agent.
    pub agent: Option<String>,
}

/// Inter-agent mail (`mail.db`).
pub trait MailStore {
    /// Stores a message (generating an id when none or an empty one is given) and returns it.
    /// An id already in use: `Conflict`.
    fn send(&self, mail: &NewMail, at: Timestamp) -> StoreResult<MailMessage>;

    /// Atomically marks every unread message to `agent` (optionally only those of exactly
    /// `audience`) as read and returns them (now read), oldest first. Two concurrent claims
    /// never return the same message.
    fn claim_unread(
        &self,
        agent: &str,
        audience: Option<Audience>,
    ) -> StoreResult<Vec<MailMessage>>;

    /// Unread messages to `agent`, oldest first, without marking them.
    fn peek_unread(&self, agent: &str) -> StoreResult<Vec<MailMessage>>;

    /// How many unread messages `agent` has.
    fn count_unread(&self, agent: &str) -> StoreResult<u64>;

    /// Messages matching `filter`, newest first.
    fn list(&self, filter: &MailFilter) -> StoreResult<Vec<MailMessage>>;

    /// One message.
    fn get(&self, id: &str) -> StoreResult<Option<MailMessage>>;

    /// The messages of a thread, root included, oldest first.
    fn thread(&self, thread_id: &str) -> StoreResult<Vec<MailMessage>>;

    /// Marks one message read; returns whether it already was. Unknown id: `NotFound`.
    fn mark_read(&self, id: &str) -> StoreResult<bool>;

    /// Deletes matching messages; returns how many (counted by the deleting statement itself).
    /// `older_than` applies to `created_at`; `agent` matches sender or recipient.
    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64>;

    /// Deletes one message (the undo of a `send`, e.g. when a spawn is rolled back); returns
    /// whether it existed.
    fn delete(&self, id: &str) -> StoreResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// events.db
// ---------------------------------------------------------------------------------------------

/// Which events to read. Results are newest first unless `oldest_first`; `limit` keeps the
/// newest N (or the oldest N when `oldest_first`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Any of these agents (empty: all).
    pub agents: Vec<String>,
    /// This run.
    pub run_id: Option<String>,
    /// This event type.
    pub event_type: Option<EventType>,
    /// This level.
    pub level: Option<EventLevel>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created at or before.
    pub until: Option<Timestamp>,
    /// Only rows with id greater than this (for `--follow`).
    pub after_id: Option<i64>,
    /// At most this many.
    pub limit: Option<u32>,
    /// Ascending order (the limit then keeps the oldest).
    pub oldest_first: bool,
}

/// Observability events (`events.db`).
pub trait EventStore {
    /// Records an event; returns its id.
    fn insert(&self, event: &NewEvent) -> StoreResult<i64>;

    /// Pairs a tool end with its start: finds the unfinished `tool_start` of `agent` with this
    /// `tool_use_id` (or, without one, the newest unfinished start of `tool_name` that was
    /// recorded without an id: a start with an id is only ever paired by that id), writes the
    /// duration `at - start` (0 if the clock went backwards) into it, and returns
    /// `(start id, duration ms)`. `None` when there is no such start. Atomic.
    fn finish_tool(
        &self,
        agent: &str,
        tool_use_id: Option<&str>,
        tool_name: &str,
        at: Timestamp,
    ) -> StoreResult<Option<(i64, i64)>>;

    /// Events matching `query`.
    fn query(&self, query: &EventQuery) -> StoreResult<Vec<StoredEvent>>;

    /// Per-tool counts and durations over `tool_start` rows, most used first.
    fn tool_stats(
        &self,
        agent: Option<&str>,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<ToolStats>>;

    /// Deletes matching events; returns how many. `agent` matches `agent_name`.
    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64>;
}

// ---------------------------------------------------------------------------------------------
// metrics.db
// ---------------------------------------------------------------------------------------------

/// Session metrics and token snapshots (`metrics.db`).
pub trait MetricsStore {
    /// Records one session's totals. A later record of the same (agent, task, start) replaces
    /// it; a new session of the same agent on the same task is a new row.
    fn record_session(&self, metrics: &SessionMetrics) -> StoreResult<()>;

    /// Sessions, newest first, at most `limit`.
    fn recent_sessions(&self, limit: u32) -> StoreResult<Vec<SessionMetrics>>;

    /// Sessions of one agent, newest first.
    fn sessions_by_agent(&self, agent: &str) -> StoreResult<Vec<SessionMetrics>>;

    /// Sessions of one run, newest first.
    fn sessions_by_run(&self, run_id: &str) -> StoreResult<Vec<SessionMetrics>>;

    /// Records a snapshot.
    fn record_snapshot(&self, snapshot: &TokenSnapshot) -> StoreResult<()>;

    /// The newest snapshot of each agent (exactly one per agent).
    fn latest_snapshots(&self) -> StoreResult<Vec<TokenSnapshot>>;

    /// Deletes metrics (and snapshots) matching; returns how many rows of both tables, in one
    /// transaction. `older_than` applies to sessions' `started_at` and snapshots' `created_at`.
    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64>;
}

// ---------------------------------------------------------------------------------------------
// merge-queue.db
// ---------------------------------------------------------------------------------------------

/// The merge queue (`merge-queue.db`).
pub trait MergeQueue {
    /// Queues a branch. If the branch already has a pending or merging entry, returns that
    /// entry instead (a branch is never queued twice at once).
    fn enqueue(&self, entry: &NewMergeEntry) -> StoreResult<MergeEntry>;

    /// Atomically claims the oldest pending entry (optionally only `branch`) for `target`:
    /// `pending -> merging`, recording the target and its pre-merge commit. Two concurrent
    /// claims never get the same entry.
    fn claim_next(
        &self,
        branch: Option<&str>,
        target: &str,
        pre_merge_commit: &str,
    ) -> StoreResult<Option<MergeEntry>>;

    /// Ends a claimed entry: `merging -> merged | conflict | failed`. Unknown id: `NotFound`;
    /// an entry that is not merging: `Conflict`; a non-final `status`: `Invalid`.
    fn finish(
        &self,
        id: i64,
        status: MergeStatus,
        tier: Option<ResolutionTier>,
        error_message: Option<&str>,
    ) -> StoreResult<()>;

    /// Puts a `merging` entry back to `pending` (after recovering from a crashed merge),
    /// keeping its place in the queue and clearing its claim. Unknown id: `NotFound`; an entry
    /// that is not merging: `Conflict`.
    fn release(&self, id: i64) -> StoreResult<()>;

    /// Entries, oldest first, optionally of one status.
    fn list(&self, status: Option<MergeStatus>) -> StoreResult<Vec<MergeEntry>>;

    /// The pending or merging entry of a branch, if any.
    fn active_for_branch(&self, branch: &str) -> StoreResult<Option<MergeEntry>>;
}

// ---------------------------------------------------------------------------------------------
// tasks.db
// ---------------------------------------------------------------------------------------------

/// Filters for listing tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only these statuses (empty: all but closed, unless `include_closed`).
    pub statuses: Vec<TaskStatus>,
    /// Include closed tasks when `statuses` is empty.
    pub include_closed: bool,
    /// Only this assignee.
    pub assignee: Option<String>,
    /// Only children of this parent.
    pub parent: Option<TaskId>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// The built-in task tracker (`tasks.db`). A `bd` adapter can implement the same port.
pub trait TaskStore {
    /// Creates a task; dependencies and parent must exist (`NotFound`). Blank title or a
    /// priority above 4: `Invalid`; an id in use: `Conflict`.
    fn create(&self, task: &NewTask, at: Timestamp) -> StoreResult<Task>;

    /// One task.
    fn get(&self, id: &TaskId) -> StoreResult<Option<Task>>;

    /// Tasks, by priority then age.
    fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>>;

    /// Open tasks whose dependencies are all closed, by priority then age.
    fn ready(&self, limit: Option<u32>) -> StoreResult<Vec<Task>>;

    /// Applies a patch; refuses dependency cycles (`Conflict`). Setting status `closed` is
    /// `Invalid` (use `close`); setting another status on a closed task reopens it.
    fn update(&self, id: &TaskId, patch: &TaskPatch, at: Timestamp) -> StoreResult<Task>;

    /// Closes a task with an optional reason; closing a closed task is a no-op.
    fn close(&self, id: &TaskId, reason: Option<&str>, at: Timestamp) -> StoreResult<Task>;
}
