//! Fakes of the ports for the watchdog's tests and benchmark, and [`Fleet`], a harness that
//! wires them: a multiplexer and a probe that count their calls, a scripted agent runtime, a
//! respawner, and in-memory stores that refuse what SQLite would (unknown agents, ...).
//!
//! Included by the crate's unit tests and, through `#[path]`, by its benchmark, so it names the
//! crate `legio_watchdog` (the crate calls itself that in tests).
#![allow(dead_code, clippy::missing_panics_doc)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};

use legio_core::domain::agent::{AgentSession, AgentState, Capability, Run, RunStatus};
use legio_core::domain::event::{NewEvent, StoredEvent, ToolStats};
use legio_core::domain::mail::{MailMessage, NewMail};
use legio_core::layout::Layout;
use legio_core::names::AgentName;
use legio_core::ops::checkpoint::{self, Checkpoint};
use legio_core::ports::{
    Admission, AdmissionLimits, AgentRuntime, EventQuery, EventStore, LaunchContext, LaunchPlan,
    MailFilter, MailStore, Multiplexer, MuxError, MuxSession, OneShot, ProcessProbe, PurgeCriteria,
    RuntimeError, SessionSpec, SessionStore, StoreError, StoreResult,
};
use legio_core::time::{Clock, ManualClock, Timestamp};
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
            },
        );
    }

    pub fn set_exited(&self, name: &str) {
        if let Some(s) = self.sessions.borrow_mut().get_mut(name) {
            s.running = false;
            s.pid = None;
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
            Some(s) if !s.running => {
                return Err(MuxError::Failed {
                    operation: "send-keys".into(),
                    detail: "pane is dead".into(),
                });
            }
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

    fn is_ready(&self, _: &str) -> bool {
        true
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
// stores
// ---------------------------------------------------------------------------------------------

fn no_agent(agent: &AgentName) -> StoreError {
    StoreError::NotFound {
        what: "agent",
        key: agent.to_string(),
    }
}

/// `sessions.db` in memory (rows only; runs are not the watchdog's business).
#[derive(Debug, Default)]
pub struct MemSessions {
    rows: RefCell<BTreeMap<String, AgentSession>>,
    pub fail_list: Cell<bool>,
}

impl MemSessions {
    fn sorted(&self, keep: impl Fn(&AgentSession) -> bool) -> Vec<AgentSession> {
        let mut v: Vec<AgentSession> = self
            .rows
            .borrow()
            .values()
            .filter(|r| keep(r))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            (a.started_at, a.agent_name.as_str()).cmp(&(b.started_at, b.agent_name.as_str()))
        });
        v
    }

    /// Applies `f` to a row, as a hook or another process would.
    pub fn edit(&self, name: &str, f: impl FnOnce(&mut AgentSession)) {
        f(self
            .rows
            .borrow_mut()
            .get_mut(name)
            .expect("edit an existing row"));
    }
}

impl SessionStore for MemSessions {
    fn register(&self, s: &AgentSession, _: &AdmissionLimits) -> StoreResult<Admission> {
        let mut rows = self.rows.borrow_mut();
        if let Some(existing) = rows.get(s.agent_name.as_str())
            && existing.state.is_active()
        {
            return Ok(Admission::Denied(
                legio_core::ports::AdmissionDenied::NameInUse {
                    name: s.agent_name.to_string(),
                    state: existing.state,
                },
            ));
        }
        let mut row = s.clone();
        row.state = AgentState::Booting;
        rows.insert(s.agent_name.to_string(), row);
        Ok(Admission::Admitted)
    }

    fn upsert(&self, s: &AgentSession) -> StoreResult<()> {
        self.rows
            .borrow_mut()
            .insert(s.agent_name.to_string(), s.clone());
        Ok(())
    }

    fn remove(&self, agent: &AgentName) -> StoreResult<bool> {
        Ok(self.rows.borrow_mut().remove(agent.as_str()).is_some())
    }

    fn get(&self, agent: &AgentName) -> StoreResult<Option<AgentSession>> {
        Ok(self.rows.borrow().get(agent.as_str()).cloned())
    }

    fn list(&self) -> StoreResult<Vec<AgentSession>> {
        if self.fail_list.get() {
            return Err(StoreError::Busy {
                path: "/p/.legio/sessions.db".into(),
                waited_ms: 5000,
            });
        }
        Ok(self.sorted(|_| true))
    }

    fn list_active(&self) -> StoreResult<Vec<AgentSession>> {
        Ok(self.sorted(|r| r.state.is_active()))
    }

    fn transition(
        &self,
        agent: &AgentName,
        from: &[AgentState],
        to: AgentState,
    ) -> StoreResult<bool> {
        let mut rows = self.rows.borrow_mut();
        match rows.get_mut(agent.as_str()) {
            Some(r) if from.contains(&r.state) => {
                r.state = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn record_activity(&self, agent: &AgentName, at: Timestamp) -> StoreResult<Option<AgentState>> {
        let mut rows = self.rows.borrow_mut();
        let Some(r) = rows.get_mut(agent.as_str()) else {
            return Ok(None);
        };
        r.last_activity = r.last_activity.max(at);
        r.escalation_level = 0;
        r.stalled_since = None;
        if matches!(r.state, AgentState::Booting | AgentState::Idle) {
            r.state = AgentState::Working;
        }
        Ok(Some(r.state))
    }

    fn set_escalation(
        &self,
        agent: &AgentName,
        level: u32,
        since: Option<Timestamp>,
    ) -> StoreResult<()> {
        let mut rows = self.rows.borrow_mut();
        let r = rows
            .get_mut(agent.as_str())
            .ok_or_else(|| no_agent(agent))?;
        r.escalation_level = level;
        r.stalled_since = since;
        Ok(())
    }

    fn set_pid(&self, agent: &AgentName, pid: Option<u32>) -> StoreResult<()> {
        let mut rows = self.rows.borrow_mut();
        rows.get_mut(agent.as_str())
            .ok_or_else(|| no_agent(agent))?
            .pid = pid;
        Ok(())
    }

    fn create_run(&self, _: &Run) -> StoreResult<()> {
        unimplemented!("runs are not used by the watchdog")
    }

    fn get_run(&self, _: &str) -> StoreResult<Option<Run>> {
        unimplemented!("runs are not used by the watchdog")
    }

    fn list_runs(&self, _: Option<RunStatus>, _: Option<u32>) -> StoreResult<Vec<Run>> {
        unimplemented!("runs are not used by the watchdog")
    }

    fn increment_run_agents(&self, _: &str) -> StoreResult<()> {
        unimplemented!("runs are not used by the watchdog")
    }

    fn finish_run(&self, _: &str, _: RunStatus, _: Timestamp) -> StoreResult<bool> {
        unimplemented!("runs are not used by the watchdog")
    }
}

/// `mail.db` in memory.
#[derive(Debug, Default)]
pub struct MemMail {
    messages: RefCell<Vec<MailMessage>>,
    pub list_calls: Cell<usize>,
}

impl MemMail {
    pub fn all(&self) -> Vec<MailMessage> {
        self.messages.borrow().clone()
    }

    pub fn to(&self, who: &str) -> Vec<MailMessage> {
        self.all().into_iter().filter(|m| m.to == who).collect()
    }
}

impl MailStore for MemMail {
    fn send(&self, mail: &NewMail, at: Timestamp) -> StoreResult<MailMessage> {
        let mut messages = self.messages.borrow_mut();
        let m = MailMessage {
            id: mail
                .id
                .clone()
                .unwrap_or_else(|| format!("msg-{:012}", messages.len())),
            from: mail.from.clone(),
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            body: mail.body.clone(),
            priority: mail.priority,
            mail_type: mail.mail_type,
            audience: mail.effective_audience(),
            thread_id: mail.thread_id.clone(),
            payload: mail.payload.clone(),
            read: false,
            created_at: at,
        };
        if messages.iter().any(|x| x.id == m.id) {
            return Err(StoreError::Conflict(format!("message {} exists", m.id)));
        }
        messages.push(m.clone());
        Ok(m)
    }

    fn claim_unread(
        &self,
        agent: &str,
        _: Option<legio_core::domain::mail::Audience>,
    ) -> StoreResult<Vec<MailMessage>> {
        let mut out = Vec::new();
        for m in self.messages.borrow_mut().iter_mut() {
            if m.to == agent && !m.read {
                m.read = true;
                out.push(m.clone());
            }
        }
        Ok(out)
    }

    fn peek_unread(&self, agent: &str) -> StoreResult<Vec<MailMessage>> {
        Ok(self
            .all()
            .into_iter()
            .filter(|m| m.to == agent && !m.read)
            .collect())
    }

    fn count_unread(&self, agent: &str) -> StoreResult<u64> {
        Ok(self.peek_unread(agent)?.len() as u64)
    }

    fn list(&self, f: &MailFilter) -> StoreResult<Vec<MailMessage>> {
        self.list_calls.set(self.list_calls.get() + 1);
        let mut v: Vec<MailMessage> = self
            .all()
            .into_iter()
            .filter(|m| f.from.as_ref().is_none_or(|x| &m.from == x))
            .filter(|m| f.to.as_ref().is_none_or(|x| &m.to == x))
            .filter(|m| f.unread.is_none_or(|u| m.read != u))
            .filter(|m| f.audience.is_none_or(|a| m.audience == a))
            .collect();
        v.reverse();
        if let Some(limit) = f.limit {
            v.truncate(limit as usize);
        }
        Ok(v)
    }

    fn get(&self, id: &str) -> StoreResult<Option<MailMessage>> {
        Ok(self.all().into_iter().find(|m| m.id == id))
    }

    fn thread(&self, _: &str) -> StoreResult<Vec<MailMessage>> {
        unimplemented!("threads are not used by the watchdog")
    }

    fn mark_read(&self, id: &str) -> StoreResult<bool> {
        let mut messages = self.messages.borrow_mut();
        let m = messages
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| StoreError::NotFound {
                what: "message",
                key: id.to_owned(),
            })?;
        let was = m.read;
        m.read = true;
        Ok(was)
    }

    fn purge(&self, _: &PurgeCriteria) -> StoreResult<u64> {
        unimplemented!("purge is not used by the watchdog")
    }
}

/// `events.db` in memory.
#[derive(Debug, Default)]
pub struct MemEvents {
    events: RefCell<Vec<StoredEvent>>,
}

impl MemEvents {
    pub fn all(&self) -> Vec<StoredEvent> {
        self.events.borrow().clone()
    }

    pub fn len(&self) -> usize {
        self.events.borrow().len()
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

impl EventStore for MemEvents {
    fn insert(&self, e: &NewEvent) -> StoreResult<i64> {
        let mut events = self.events.borrow_mut();
        let id = events.len() as i64 + 1;
        if let Some(data) = &e.data {
            serde_json::from_str::<serde_json::Value>(data)
                .map_err(|err| StoreError::Conflict(format!("event data is not JSON: {err}")))?;
        }
        events.push(StoredEvent {
            id,
            run_id: e.run_id.clone(),
            agent_name: e.agent_name.clone(),
            session_id: e.session_id.clone(),
            event_type: e.event_type.as_str().to_owned(),
            tool_name: e.tool_name.clone(),
            tool_args: e.tool_args.clone(),
            tool_duration_ms: e.tool_duration_ms,
            level: e.level,
            data: e.data.clone(),
            created_at: e.created_at,
        });
        Ok(id)
    }

    fn finish_tool(
        &self,
        _: &str,
        _: Option<&str>,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<(i64, i64)>> {
        unimplemented!("tool pairing is not used by the watchdog")
    }

    fn query(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
        let mut v: Vec<StoredEvent> = self
            .all()
            .into_iter()
            .filter(|e| q.agents.is_empty() || q.agents.contains(&e.agent_name))
            .collect();
        v.reverse();
        if let Some(limit) = q.limit {
            v.truncate(limit as usize);
        }
        Ok(v)
    }

    fn tool_stats(&self, _: Option<&str>, _: Option<Timestamp>) -> StoreResult<Vec<ToolStats>> {
        unimplemented!("tool stats are not used by the watchdog")
    }

    fn purge(&self, _: &PurgeCriteria) -> StoreResult<u64> {
        unimplemented!("purge is not used by the watchdog")
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
    pub sessions: MemSessions,
    pub mail: MemMail,
    pub events: MemEvents,
    pub mux: FakeMux,
    pub probe: FakeProbe,
    pub runtime: FakeRuntime,
    pub with_runtime: bool,
    pub with_respawner: bool,
    pub respawned: RefCell<Vec<Respawned>>,
    pub respawn_error: RefCell<Option<String>>,
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
            dir,
            layout,
            clock: ManualClock::at(at(0)),
            sessions: MemSessions::default(),
            mail: MemMail::default(),
            events: MemEvents::default(),
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
            events: &self.events,
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

    /// The agent's process exits; its session stays listed as exited.
    pub fn exit_process(&self, name: &str) {
        let row = self.row(name);
        self.mux.set_exited(&row.tmux_session);
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
            return Err(RespawnError(e));
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
