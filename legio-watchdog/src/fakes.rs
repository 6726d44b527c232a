//! Fakes of the ports for the watchdog's tests and benchmark, and [`Fleet`], a harness that
//! wires them: a multiplexer and a probe that count their calls, a scripted agent runtime and a
//! respawner, with the real SQLite stores (in a temporary project) behind thin wrappers that
//! count calls or inject another process's writes.
//!
//! Included by the crate's unit tests and, through `#[path]`, by its benchmark, so it names the
//! crate `legio_watchdog` (the crate calls itself that in tests).
#![allow(dead_code, clippy::missing_panics_doc)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};

use legio_core::domain::agent::{AgentSession, AgentState, Capability, Run, RunStatus};
use legio_core::domain::event::StoredEvent;
use legio_core::domain::mail::{Audience, MailMessage, NewMail};
use legio_core::layout::Layout;
use legio_core::names::AgentName;
use legio_core::ops::checkpoint::{self, Checkpoint};
use legio_core::ports::{
    Admission, AdmissionLimits, AgentRuntime, EventQuery, EventStore, LaunchContext, LaunchPlan,
    MailFilter, MailStore, Multiplexer, MuxError, MuxSession, OneShot, ProcessProbe, PurgeCriteria,
    Readiness, RuntimeError, SessionSpec, SessionStore, StoreError, StoreResult,
};
use legio_core::time::{Clock, ManualClock, Timestamp};
use legio_store::{SqliteEventStore, SqliteMailStore, SqliteSessionStore};
use legio_watchdog::{Policy, Ports, RespawnError, RespawnRequest, Respawner};

/// One minute in milliseconds.
pub const MIN: i64 = 60_000;

/// The instant `ms` after the epoch.
pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// The pid [`session`] records.
pub const PID: u32 = 4242;

/// A row for agent `name`: started and last active at 0, pid [`PID`], session
/// `legio-test-<name>`, task `t-1`, worktree `/p/.legio/worktrees/<name>`, no parent.
pub fn session(name: &str, capability: Capability, state: AgentState) -> AgentSession {
    AgentSession {
        id: format!("session-0-{name}"),
        agent_name: AgentName::new(name).expect("test agent names are valid"),
        capability,
        worktree_path: format!("/p/.legio/worktrees/{name}"),
        branch_name: format!("legio/{name}/t-1"),
        bead_id: "t-1".into(),
        tmux_session: format!("legio-test-{name}"),
        state,
        pid: Some(PID),
        parent_agent: None,
        depth: 1,
        run_id: None,
        started_at: at(0),
        last_activity: at(0),
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "script".into(),
        file_scope: vec![],
        spec_path: None,
    }
}

// ---------------------------------------------------------------------------------------------
// multiplexer and probe
// ---------------------------------------------------------------------------------------------

/// Calls made to a [`FakeMux`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MuxCalls {
    pub list: usize,
    pub send_text: usize,
    pub capture: usize,
    pub kill: usize,
    pub create: usize,
}

/// A multiplexer holding sessions in memory.
#[derive(Debug, Default)]
pub struct FakeMux {
    sessions: RefCell<BTreeMap<String, MuxSession>>,
    pub calls: Cell<MuxCalls>,
    /// (session, text) typed, in order.
    pub typed: RefCell<Vec<(String, String)>>,
    /// Sessions killed, in order.
    pub killed: RefCell<Vec<String>>,
    pub fail_list: Cell<bool>,
    pub fail_kill: Cell<bool>,
    pub fail_send: Cell<bool>,
    pub screen: RefCell<String>,
}

impl FakeMux {
    fn count(&self, f: impl FnOnce(&mut MuxCalls)) {
        let mut c = self.calls.get();
        f(&mut c);
        self.calls.set(c);
    }

    pub fn add_running(&self, name: &str, pid: u32) {
        self.sessions.borrow_mut().insert(
            name.to_owned(),
            MuxSession {
                name: name.to_owned(),
                pid: Some(pid),
                running: true,
                exit_code: None,
            },
        );
    }

    /// The session's process exits with `code`; the session stays listed.
    pub fn set_exited(&self, name: &str, code: i32) {
        if let Some(s) = self.sessions.borrow_mut().get_mut(name) {
            s.running = false;
            s.pid = None;
            s.exit_code = Some(code);
        }
    }

    pub fn remove(&self, name: &str) {
        self.sessions.borrow_mut().remove(name);
    }

    pub fn has(&self, name: &str) -> bool {
        self.sessions.borrow().contains_key(name)
    }

    pub fn typed_into(&self, name: &str) -> Vec<String> {
        self.typed
            .borrow()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl Multiplexer for FakeMux {
    fn kind(&self) -> &'static str {
        "fake"
    }

    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        self.count(|c| c.create += 1);
        if self.has(&spec.name) {
            return Err(MuxError::AlreadyExists(spec.name.clone()));
        }
        self.add_running(&spec.name, 1);
        Ok(self.sessions.borrow()[&spec.name].clone())
    }

    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        self.count(|c| c.list += 1);
        if self.fail_list.get() {
            return Err(MuxError::Failed {
                operation: "list sessions".into(),
                detail: "server exited unexpectedly".into(),
            });
        }
        Ok(self.sessions.borrow().values().cloned().collect())
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        self.count(|c| c.send_text += 1);
        if self.fail_send.get() {
            return Err(MuxError::Failed {
                operation: "send-keys".into(),
                detail: "refused".into(),
            });
        }
        match self.sessions.borrow().get(name) {
            None => return Err(MuxError::NoSuchSession(name.to_owned())),
            Some(s) if !s.running => return Err(MuxError::NotRunning(name.to_owned())),
            Some(_) => {}
        }
        self.typed
            .borrow_mut()
            .push((name.to_owned(), text.to_owned()));
        Ok(())
    }

    fn capture(&self, name: &str, _lines: usize) -> Result<String, MuxError> {
        self.count(|c| c.capture += 1);
        if !self.has(name) {
            return Err(MuxError::NoSuchSession(name.to_owned()));
        }
        Ok(self.screen.borrow().clone())
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        self.count(|c| c.kill += 1);
        if self.fail_kill.get() {
            return Err(MuxError::Failed {
                operation: "kill-session".into(),
                detail: "permission denied".into(),
            });
        }
        self.sessions.borrow_mut().remove(name);
        self.killed.borrow_mut().push(name.to_owned());
        Ok(())
    }
}

/// A real multiplexer behind a counter of every call made to it.
pub struct CountingMux<'a> {
    pub inner: &'a dyn Multiplexer,
    pub calls: Cell<usize>,
    pub lists: Cell<usize>,
}

impl<'a> CountingMux<'a> {
    pub fn new(inner: &'a dyn Multiplexer) -> Self {
        Self {
            inner,
            calls: Cell::new(0),
            lists: Cell::new(0),
        }
    }

    fn count(&self) {
        self.calls.set(self.calls.get() + 1);
    }
}

impl Multiplexer for CountingMux<'_> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        self.count();
        self.inner.create(spec)
    }

    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        self.count();
        self.lists.set(self.lists.get() + 1);
        self.inner.list()
    }

    fn get(&self, name: &str) -> Result<Option<MuxSession>, MuxError> {
        self.count();
        self.inner.get(name)
    }

    fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
        self.count();
        self.inner.send_text(name, text)
    }

    fn capture(&self, name: &str, lines: usize) -> Result<String, MuxError> {
        self.count();
        self.inner.capture(name, lines)
    }

    fn kill(&self, name: &str) -> Result<(), MuxError> {
        self.count();
        self.inner.kill(name)
    }
}

/// A probe answering from a set of live pids.
#[derive(Debug, Default)]
pub struct FakeProbe {
    pub alive: RefCell<HashSet<u32>>,
    /// `alive_many` calls.
    pub batches: Cell<usize>,
    /// `is_alive` calls made directly (not through `alive_many`).
    pub singles: Cell<usize>,
}

impl ProcessProbe for FakeProbe {
    fn is_alive(&self, pid: u32) -> bool {
        self.singles.set(self.singles.get() + 1);
        self.alive.borrow().contains(&pid)
    }

    fn alive_many(&self, pids: &[u32]) -> Vec<bool> {
        self.batches.set(self.batches.get() + 1);
        let alive = self.alive.borrow();
        pids.iter().map(|p| alive.contains(p)).collect()
    }
}

/// A runtime whose one-shot answer is scripted.
#[derive(Debug)]
pub struct FakeRuntime {
    /// `Ok(answer)`, or `Err(stderr)` for a failed call.
    pub answer: RefCell<Result<String, String>>,
    pub asked: RefCell<Vec<OneShot>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self {
            answer: RefCell::new(Err("no answer scripted".into())),
            asked: RefCell::new(Vec::new()),
        }
    }
}

impl AgentRuntime for FakeRuntime {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn launch_plan(&self, _: &LaunchContext, _: &str) -> Result<LaunchPlan, RuntimeError> {
        Err(RuntimeError::Refused(
            "the fake runtime launches nothing".into(),
        ))
    }

    fn readiness(&self, _: &str) -> Readiness {
        Readiness::Ready
    }

    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError> {
        self.asked.borrow_mut().push(request.clone());
        self.answer
            .borrow()
            .clone()
            .map_err(|stderr| RuntimeError::Failed {
                program: "fake".into(),
                code: Some(1),
                stderr,
            })
    }
}

// ---------------------------------------------------------------------------------------------
// stores: the real SQLite stores, with test levers
// ---------------------------------------------------------------------------------------------

/// What another process does to `sessions.db` at a chosen moment.
pub type Meddling = Box<dyn FnOnce(&SqliteSessionStore)>;

/// `sessions.db` (real SQLite) with levers: a failing listing, and a write by "another
/// process" injected right before the watchdog's next compare-and-swap.
pub struct Sessions {
    pub db: SqliteSessionStore,
    pub fail_list: Cell<bool>,
    pub before_transition: RefCell<Option<Meddling>>,
}

impl Sessions {
    /// Rewrites a row, as another process would.
    pub fn edit(&self, name: &str, f: impl FnOnce(&mut AgentSession)) {
        let agent = AgentName::new(name).expect("valid");
        let mut row = self.db.get(&agent).expect("get").expect("the row exists");
        f(&mut row);
        self.db.upsert(&row).expect("upsert");
    }
}

impl SessionStore for Sessions {
    fn register(&self, s: &AgentSession, l: &AdmissionLimits) -> StoreResult<Admission> {
        self.db.register(s, l)
    }

    fn upsert(&self, s: &AgentSession) -> StoreResult<()> {
        self.db.upsert(s)
    }

    fn remove(&self, agent: &AgentName) -> StoreResult<bool> {
        self.db.remove(agent)
    }

    fn get(&self, agent: &AgentName) -> StoreResult<Option<AgentSession>> {
        self.db.get(agent)
    }

    fn list(&self) -> StoreResult<Vec<AgentSession>> {
        if self.fail_list.get() {
            return Err(StoreError::Busy {
                path: "sessions.db".into(),
                waited_ms: 5000,
            });
        }
        self.db.list()
    }

    fn list_active(&self) -> StoreResult<Vec<AgentSession>> {
        self.db.list_active()
    }

    fn transition(
        &self,
        agent: &AgentName,
        from: &[AgentState],
        to: AgentState,
    ) -> StoreResult<bool> {
        if let Some(meddle) = self.before_transition.borrow_mut().take() {
            meddle(&self.db);
        }
        self.db.transition(agent, from, to)
    }

    fn record_activity(&self, agent: &AgentName, at: Timestamp) -> StoreResult<Option<AgentState>> {
        self.db.record_activity(agent, at)
    }

    fn set_escalation(
        &self,
        agent: &AgentName,
        level: u32,
        since: Option<Timestamp>,
    ) -> StoreResult<()> {
        self.db.set_escalation(agent, level, since)
    }

    fn set_pid(&self, agent: &AgentName, pid: Option<u32>) -> StoreResult<()> {
        self.db.set_pid(agent, pid)
    }

    fn create_run(&self, run: &Run) -> StoreResult<()> {
        self.db.create_run(run)
    }

    fn get_run(&self, id: &str) -> StoreResult<Option<Run>> {
        self.db.get_run(id)
    }

    fn list_runs(&self, status: Option<RunStatus>, limit: Option<u32>) -> StoreResult<Vec<Run>> {
        self.db.list_runs(status, limit)
    }

    fn increment_run_agents(&self, id: &str) -> StoreResult<()> {
        self.db.increment_run_agents(id)
    }

    fn finish_run(&self, id: &str, status: RunStatus, at: Timestamp) -> StoreResult<bool> {
        self.db.finish_run(id, status, at)
    }
}

/// `mail.db` (real SQLite), counting the listings the watchdog makes.
pub struct Mail {
    pub db: SqliteMailStore,
    pub list_calls: Cell<usize>,
}

impl Mail {
    /// Every message, oldest first.
    pub fn all(&self) -> Vec<MailMessage> {
        let mut v = self.db.list(&MailFilter::default()).expect("list mail");
        v.reverse();
        v
    }

    /// The messages to `who`, oldest first.
    pub fn to(&self, who: &str) -> Vec<MailMessage> {
        self.all().into_iter().filter(|m| m.to == who).collect()
    }
}

impl MailStore for Mail {
    fn send(&self, mail: &NewMail, at: Timestamp) -> StoreResult<MailMessage> {
        self.db.send(mail, at)
    }

    fn claim_unread(
        &self,
        agent: &str,
        audience: Option<Audience>,
    ) -> StoreResult<Vec<MailMessage>> {
        self.db.claim_unread(agent, audience)
    }

    fn peek_unread(&self, agent: &str) -> StoreResult<Vec<MailMessage>> {
        self.db.peek_unread(agent)
    }

    fn count_unread(&self, agent: &str) -> StoreResult<u64> {
        self.db.count_unread(agent)
    }

    fn list(&self, filter: &MailFilter) -> StoreResult<Vec<MailMessage>> {
        self.list_calls.set(self.list_calls.get() + 1);
        self.db.list(filter)
    }

    fn get(&self, id: &str) -> StoreResult<Option<MailMessage>> {
        self.db.get(id)
    }

    fn thread(&self, thread_id: &str) -> StoreResult<Vec<MailMessage>> {
        self.db.thread(thread_id)
    }

    fn mark_read(&self, id: &str) -> StoreResult<bool> {
        self.db.mark_read(id)
    }

    fn purge(&self, criteria: &PurgeCriteria) -> StoreResult<u64> {
        self.db.purge(criteria)
    }

    fn delete(&self, id: &str) -> StoreResult<bool> {
        self.db.delete(id)
    }
}

/// `events.db` (real SQLite) with readers for assertions.
pub struct Events {
    pub db: SqliteEventStore,
}

impl Events {
    /// Every event, oldest first.
    pub fn all(&self) -> Vec<StoredEvent> {
        self.db
            .query(&EventQuery {
                oldest_first: true,
                ..EventQuery::default()
            })
            .expect("query events")
    }

    pub fn len(&self) -> usize {
        self.all().len()
    }

    /// The `data.type` (custom events) or event type of each event of `agent`, in order.
    pub fn kinds(&self, agent: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|e| e.agent_name == agent)
            .map(|e| {
                let data: serde_json::Value = e
                    .data
                    .as_deref()
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or_default();
                match data.get("type").and_then(|t| t.as_str()) {
                    Some(t) if e.event_type == "custom" => t.to_owned(),
                    _ => e.event_type.clone(),
                }
            })
            .collect()
    }

    /// The data of the events of `agent` whose `data.type` is `kind`.
    pub fn data(&self, agent: &str, kind: &str) -> Vec<serde_json::Value> {
        self.all()
            .into_iter()
            .filter(|e| e.agent_name == agent)
            .filter_map(|e| e.data.as_deref().and_then(|d| serde_json::from_str(d).ok()))
            .filter(|d: &serde_json::Value| d.get("type").and_then(|t| t.as_str()) == Some(kind))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// the harness
// ---------------------------------------------------------------------------------------------

/// One respawn the [`Fleet`] was asked for.
#[derive(Debug, Clone)]
pub struct Respawned {
    pub agent: String,
    pub worktree: String,
    pub branch: String,
    pub attempt: u32,
    pub prompt: String,
}

/// A project directory, a manual clock and every fake, wired as [`Ports`]. It is also the
/// respawner: a respawn registers the agent again (booting, fresh start, new pid) and starts
/// its session, unless `respawn_error` is set.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub layout: Layout,
    pub clock: ManualClock,
    pub sessions: Sessions,
    pub mail: Mail,
    pub events: Events,
    pub mux: FakeMux,
    pub probe: FakeProbe,
    pub runtime: FakeRuntime,
    pub with_runtime: bool,
    pub with_respawner: bool,
    pub respawned: RefCell<Vec<Respawned>>,
    pub respawn_error: RefCell<Option<RespawnError>>,
    /// When set, a respawn claims success without registering anything (a lying respawner).
    pub respawn_lies: Cell<bool>,
    next_pid: Cell<u32>,
}

impl Default for Fleet {
    fn default() -> Self {
        Self::new()
    }
}

impl Fleet {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.legio_dir()).expect("create .legio");
        Self {
            sessions: Sessions {
                db: SqliteSessionStore::open_in(&layout).expect("open sessions.db"),
                fail_list: Cell::new(false),
                before_transition: RefCell::new(None),
            },
            mail: Mail {
                db: SqliteMailStore::open_in(&layout).expect("open mail.db"),
                list_calls: Cell::new(0),
            },
            events: Events {
                db: SqliteEventStore::open_in(&layout).expect("open events.db"),
            },
            dir,
            layout,
            clock: ManualClock::at(at(0)),
            mux: FakeMux::default(),
            probe: FakeProbe::default(),
            runtime: FakeRuntime::default(),
            with_runtime: true,
            with_respawner: true,
            respawned: RefCell::new(Vec::new()),
            respawn_error: RefCell::new(None),
            respawn_lies: Cell::new(false),
            next_pid: Cell::new(10_000),
        }
    }

    pub fn ports(&self) -> Ports<'_> {
        Ports {
            layout: &self.layout,
            clock: &self.clock,
            sessions: &self.sessions,
            mail: &self.mail,
            events: &self.events.db,
            mux: &self.mux,
            probe: &self.probe,
            triage: self
                .with_runtime
                .then_some(&self.runtime as &dyn AgentRuntime),
            respawner: self.with_respawner.then_some(self as &dyn Respawner),
        }
    }

    /// Registers `row` with a running session and a live pid.
    pub fn add(&self, row: &AgentSession) {
        self.sessions.upsert(row).expect("upsert");
        if let Some(pid) = row.pid {
            self.mux.add_running(&row.tmux_session, pid);
            self.probe.alive.borrow_mut().insert(pid);
        }
    }

    /// A fresh pid.
    pub fn pid(&self) -> u32 {
        let p = self.next_pid.get();
        self.next_pid.set(p + 1);
        p
    }

    pub fn row(&self, name: &str) -> AgentSession {
        self.sessions
            .get(&AgentName::new(name).expect("valid"))
            .expect("get")
            .expect("the row exists")
    }

    /// The agent's process exits (code 1); its session stays listed as exited.
    pub fn exit_process(&self, name: &str) {
        let row = self.row(name);
        self.mux.set_exited(&row.tmux_session, 1);
        if let Some(pid) = row.pid {
            self.probe.alive.borrow_mut().remove(&pid);
        }
    }

    /// A hook reports activity now.
    pub fn activity(&self, name: &str) {
        self.sessions
            .record_activity(&AgentName::new(name).expect("valid"), self.clock.now())
            .expect("record activity");
    }

    /// Writes a checkpoint for `name`, as the Stop hook does.
    pub fn checkpoint(&self, name: &str) {
        let row = self.row(name);
        let cp = Checkpoint {
            agent_name: name.to_owned(),
            bead_id: row.bead_id.clone(),
            session_id: "s-1".into(),
            timestamp: self.clock.now(),
            progress_summary: "half done".into(),
            files_modified: vec!["src/lib.rs".into()],
            current_branch: row.branch_name.clone(),
            pending_work: String::new(),
            mulch_domains: vec![],
        };
        checkpoint::save(&self.layout, &row.agent_name, &cp).expect("save checkpoint");
    }

    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }
}

/// A watchdog with the default policy, triage as given.
pub fn watchdog(triage: bool) -> legio_watchdog::Watchdog {
    legio_watchdog::Watchdog::new(Policy {
        triage_enabled: triage,
        ..Policy::default()
    })
}

impl Respawner for Fleet {
    fn respawn(&self, request: &RespawnRequest<'_>) -> Result<(), RespawnError> {
        let s = request.session;
        self.respawned.borrow_mut().push(Respawned {
            agent: s.agent_name.to_string(),
            worktree: s.worktree_path.clone(),
            branch: s.branch_name.clone(),
            attempt: request.attempt,
            prompt: request.prompt.clone(),
        });
        if let Some(e) = self.respawn_error.borrow().clone() {
            return Err(e);
        }
        if self.respawn_lies.get() {
            return Ok(());
        }
        let pid = self.pid();
        let mut row = s.clone();
        row.state = AgentState::Booting;
        row.pid = Some(pid);
        row.started_at = self.clock.now();
        row.last_activity = self.clock.now();
        row.escalation_level = 0;
        row.stalled_since = None;
        self.sessions.upsert(&row).expect("upsert");
        self.mux.add_running(&row.tmux_session, pid);
        self.probe.alive.borrow_mut().insert(pid);
        Ok(())
    }
}
