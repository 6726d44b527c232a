//! One Claude Code hook event, handled in one process: guard the tool call, record the event,
//! move the agent's state, and deliver unread mail through the channel the model sees.
//!
//! This runs on every tool call of every agent, so it does only what the event needs: a
//! PreToolUse touches `sessions.db` and `events.db`; a PostToolUse also claims mail. Failures of
//! legio's own bookkeeping never block the agent: they are returned as `problems` for legio's
//! error log. The one exception is the guard, which fails closed. Everything stored from a
//! payload (tool arguments, prompts, errors, summaries) is secret-redacted first.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::domain::agent::{AgentSession, AgentState, Capability};
use crate::domain::event::{EventLevel, EventType, NewEvent};
use crate::domain::mail::MailMessage;
use crate::hook::{HookEvent, HookOutput, HookPayload, PayloadError};
use crate::layout::Layout;
use crate::mail::injection_text;
use crate::names::AgentName;
use crate::ops::checkpoint::{self, Checkpoint};
use crate::ports::{EventStore, MailStore, SessionStore};
use crate::redact::redact;
use crate::time::Clock;
use crate::toolfilter::filter_tool_args;

/// The mail address of the human driving legio.
pub const ORCHESTRATOR: &str = "orchestrator";

/// What the hook works with.
pub struct HookContext<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// Now.
    pub clock: &'a dyn Clock,
    /// `sessions.db`.
    pub sessions: &'a dyn SessionStore,
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// `mail.db`.
    pub mail: &'a dyn MailStore,
}

/// Who a tool call belongs to, for the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSubject {
    /// The agent.
    pub agent: AgentName,
    /// Its role.
    pub capability: Capability,
    /// Its worktree (`None` for roles working at the project root).
    pub worktree: Option<PathBuf>,
    /// Its `--files` scope.
    pub file_scope: Vec<String>,
}

/// The guard: `Some(reason)` denies the call.
pub type Guard<'a> = &'a dyn Fn(&GuardSubject, &str, &Value) -> Option<String>;

/// One hook invocation.
pub struct HookRequest {
    /// The event.
    pub event: HookEvent,
    /// The agent, or [`ORCHESTRATOR`] for the human's own session.
    pub agent: String,
    /// The payload as read from stdin.
    pub payload: Result<HookPayload, PayloadError>,
    /// `LEGIO_CAPABILITY`, used when the agent has no session row.
    pub env_capability: Option<Capability>,
    /// `LEGIO_WORKTREE_PATH`, used when the agent has no session row.
    pub env_worktree: Option<PathBuf>,
}

/// What the hook decided.
#[derive(Debug)]
pub struct HookOutcome {
    /// What to print.
    pub output: HookOutput,
    /// Problems to append to legio's error log (never shown to the agent).
    pub problems: Vec<String>,
}

/// Handles one hook event.
pub fn handle(ctx: &HookContext<'_>, request: HookRequest, guard: Guard<'_>) -> HookOutcome {
    let mut run = Run {
        ctx,
        event: request.event,
        agent: request.agent,
        problems: Vec::new(),
    };
    let payload = match request.payload {
        Ok(p) => Some(p),
        Err(e) => {
            run.problem(format!("unreadable payload: {e}"));
            None
        }
    };
    let agent_name = AgentName::new(run.agent.clone()).ok();
    let session = agent_name.as_ref().and_then(|a| match ctx.sessions.get(a) {
        Ok(s) => s,
        Err(e) => {
            run.problem(format!("reading the session: {e}"));
            None
        }
    });

    if run.event == HookEvent::PreToolUse && run.agent != ORCHESTRATOR {
        let subject = agent_name.as_ref().and_then(|agent| {
            guard_subject(
                agent,
                session.as_ref(),
                request.env_capability,
                request.env_worktree,
            )
        });
        if let Some(reason) = pre_tool_denial(subject.as_ref(), payload.as_ref(), guard) {
            run.record(
                payload.as_ref(),
                session.as_ref(),
                EventType::GuardDeny,
                EventLevel::Warn,
                Some(json!({ "reason": reason })),
            );
            return run.finish(HookOutput::Deny { reason });
        }
    }

    let Some(payload) = payload else {
        return run.finish(HookOutput::Silent);
    };
    if let Some(agent) = &agent_name {
        run.touch(agent);
    }
    let output = match run.event {
        HookEvent::SessionStart => {
            run.record(
                Some(&payload),
                session.as_ref(),
                EventType::SessionStart,
                EventLevel::Info,
                // `legio costs` finds each agent's transcripts from these.
                Some(
                    json!({ "source": payload.source, "transcriptPath": payload.transcript_path }),
                ),
            );
            let intro = session.as_ref().map(activation_text).unwrap_or_default();
            let mail = run.claim_mail(&payload, session.as_ref());
            context(run.event, [intro, mail])
        }
        HookEvent::UserPromptSubmit => {
            let prompt = payload.prompt.as_deref().map(|p| truncate(&redact(p), 200));
            run.record(
                Some(&payload),
                session.as_ref(),
                EventType::PromptSubmit,
                EventLevel::Info,
                Some(json!({ "prompt": prompt })),
            );
            let mail = run.claim_mail(&payload, session.as_ref());
            context(run.event, [mail])
        }
        HookEvent::PreToolUse => {
            run.record_tool_start(&payload, session.as_ref());
            HookOutput::Silent
        }
        HookEvent::PostToolUse | HookEvent::PostToolUseFailure => {
            run.record_tool_end(&payload, session.as_ref());
            let mail = run.claim_mail(&payload, session.as_ref());
            context(run.event, [mail])
        }
        HookEvent::Stop => {
            // Mail that arrived keeps the turn going (the model reads it at once), so the turn
            // has not ended: the agent stays working, and the next Stop ends the turn.
            let mail = run.claim_mail(&payload, session.as_ref());
            if mail.is_empty() {
                run.end_turn(agent_name.as_ref(), &payload, session.as_ref());
                HookOutput::Silent
            } else {
                HookOutput::ContinueTurn {
                    reason: format!(
                        "New mail arrived while you were finishing. Read it and act on it before stopping.\n\n{mail}"
                    ),
                }
            }
        }
        HookEvent::SessionEnd => {
            let unfinished = session.as_ref().is_some_and(|s| s.state.is_active());
            run.record(
                Some(&payload),
                session.as_ref(),
                EventType::SessionEnd,
                if unfinished { EventLevel::Warn } else { EventLevel::Info },
                Some(json!({
                    "reason": payload.reason,
                    "completed": !unfinished,
                    "note": unfinished.then_some("the session ended before the agent reported completion"),
                })),
            );
            HookOutput::Silent
        }
        HookEvent::PreCompact => {
            run.record(
                Some(&payload),
                session.as_ref(),
                EventType::Compact,
                EventLevel::Info,
                Some(json!({ "trigger": payload.trigger })),
            );
            if let (Some(agent), Some(s)) = (agent_name.as_ref(), session.as_ref()) {
                run.save_checkpoint(agent, s, &payload);
            }
            HookOutput::Silent
        }
    };
    run.finish(output)
}

/// The guard's verdict: `Some(reason)` to deny. Fails closed when legio cannot tell who is
/// calling or what the call is.
fn pre_tool_denial(
    subject: Option<&GuardSubject>,
    payload: Option<&HookPayload>,
    guard: Guard<'_>,
) -> Option<String> {
    let Some(subject) = subject else {
        return Some(
            "legio cannot tell this agent's role (no session row and no LEGIO_CAPABILITY), so every tool call is denied; ask the orchestrator to re-sling the agent".into(),
        );
    };
    let Some(payload) = payload else {
        return Some(
            "legio could not read this tool call's hook payload, so it is denied to be safe; try the call again".into(),
        );
    };
    let Some(tool) = payload.tool_name.as_deref() else {
        return Some("the hook payload names no tool, so the call is denied to be safe".into());
    };
    guard(subject, tool, &payload.tool_input_or_empty())
}

fn guard_subject(
    agent: &AgentName,
    session: Option<&AgentSession>,
    env_capability: Option<Capability>,
    env_worktree: Option<PathBuf>,
) -> Option<GuardSubject> {
    if let Some(s) = session {
        return Some(GuardSubject {
            agent: agent.clone(),
            capability: s.capability,
            worktree: (!s.capability.works_at_root()).then(|| PathBuf::from(&s.worktree_path)),
            file_scope: s.file_scope.clone(),
        });
    }
    let capability = env_capability?;
    Some(GuardSubject {
        agent: agent.clone(),
        capability,
        worktree: if capability.works_at_root() {
            None
        } else {
            env_worktree
        },
        file_scope: Vec::new(),
    })
}

/// The short orientation given to an agent when its session starts.
pub fn activation_text(s: &AgentSession) -> String {
    let mut text = format!(
        "You are legio agent {} (role: {}), depth {}, reporting to {}.",
        s.agent_name,
        s.capability,
        s.depth,
        s.parent_agent
            .as_ref()
            .map_or(ORCHESTRATOR, AgentName::as_str)
    );
    if !s.bead_id.is_empty() {
        let _ = write!(
            text,
            " Your task is {} on branch {} in {}. Your full instructions are in .claude/CLAUDE.md: read them and start now, without waiting for further mail.",
            s.bead_id, s.branch_name, s.worktree_path
        );
    }
    text
}

fn context<const N: usize>(event: HookEvent, parts: [String; N]) -> HookOutput {
    let text: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    if text.is_empty() {
        HookOutput::Silent
    } else {
        HookOutput::Context {
            event,
            text: text.join("\n\n"),
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut t: String = text.chars().take(max_chars).collect();
    t.push('…');
    t
}

/// The state of one invocation.
struct Run<'c, 'a> {
    ctx: &'c HookContext<'a>,
    event: HookEvent,
    agent: String,
    problems: Vec<String>,
}

impl Run<'_, '_> {
    fn problem(&mut self, what: impl std::fmt::Display) {
        self.problems
            .push(format!("hook {} for {}: {what}", self.event, self.agent));
    }

    fn finish(self, output: HookOutput) -> HookOutcome {
        HookOutcome {
            output,
            problems: self.problems,
        }
    }

    fn run_id(&self, session: Option<&AgentSession>) -> Option<String> {
        session
            .and_then(|s| s.run_id.clone())
            .or_else(|| self.ctx.layout.read_current_run())
    }

    fn base_event(
        &self,
        payload: Option<&HookPayload>,
        session: Option<&AgentSession>,
        event_type: EventType,
        level: EventLevel,
    ) -> NewEvent {
        let mut e = NewEvent::new(self.agent.clone(), event_type, self.ctx.clock.now());
        e.run_id = self.run_id(session);
        e.session_id = payload.and_then(|p| p.session_id.clone());
        e.level = level;
        e
    }

    fn insert(&mut self, event: &NewEvent) {
        if let Err(e) = self.ctx.events.insert(event) {
            self.problem(format!("recording the event: {e}"));
        }
    }

    fn record(
        &mut self,
        payload: Option<&HookPayload>,
        session: Option<&AgentSession>,
        event_type: EventType,
        level: EventLevel,
        data: Option<Value>,
    ) {
        let mut e = self.base_event(payload, session, event_type, level);
        e.data = data.map(|d| d.to_string());
        self.insert(&e);
    }

    fn tool_event(
        &self,
        payload: &HookPayload,
        session: Option<&AgentSession>,
        event_type: EventType,
        level: EventLevel,
    ) -> NewEvent {
        let tool = payload
            .tool_name
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let filtered = filter_tool_args(&tool, &payload.tool_input_or_empty());
        let mut e = self.base_event(Some(payload), session, event_type, level);
        e.tool_name = Some(tool);
        e.tool_use_id.clone_from(&payload.tool_use_id);
        e.tool_args = Some(filtered.args_json());
        e.data = Some(json!({ "summary": filtered.summary }).to_string());
        e
    }

    fn record_tool_start(&mut self, payload: &HookPayload, session: Option<&AgentSession>) {
        let e = self.tool_event(payload, session, EventType::ToolStart, EventLevel::Info);
        self.insert(&e);
    }

    fn record_tool_end(&mut self, payload: &HookPayload, session: Option<&AgentSession>) {
        let failed = self.event == HookEvent::PostToolUseFailure;
        let level = if failed {
            EventLevel::Warn
        } else {
            EventLevel::Info
        };
        let mut e = self.tool_event(payload, session, EventType::ToolEnd, level);
        let tool = e.tool_name.clone().unwrap_or_default();
        let now = self.ctx.clock.now();
        match self
            .ctx
            .events
            .finish_tool(&self.agent, payload.tool_use_id.as_deref(), &tool, now)
        {
            Ok(paired) => {
                e.tool_duration_ms = payload.duration_ms.or(paired.map(|(_, ms)| ms));
            }
            Err(err) => self.problem(format!("pairing the tool end: {err}")),
        }
        if failed {
            let error = payload
                .error
                .as_ref()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .map(|t| truncate(&redact(&t), 500));
            e.data = Some(json!({ "error": error }).to_string());
        }
        self.insert(&e);
    }

    fn touch(&mut self, agent: &AgentName) {
        if let Err(e) = self
            .ctx
            .sessions
            .record_activity(agent, self.ctx.clock.now())
        {
            self.problem(format!("recording activity: {e}"));
        }
    }

    fn end_turn(
        &mut self,
        agent: Option<&AgentName>,
        payload: &HookPayload,
        session: Option<&AgentSession>,
    ) {
        self.record(
            Some(payload),
            session,
            EventType::TurnEnd,
            EventLevel::Info,
            None,
        );
        let (Some(agent), Some(s)) = (agent, session) else {
            return;
        };
        // A turn ended: the agent waits for input. It is not finished (only worker_done or an
        // explicit command completes it).
        if let Err(e) = self.ctx.sessions.transition(
            agent,
            &[AgentState::Booting, AgentState::Working],
            AgentState::Idle,
        ) {
            self.problem(format!("marking the agent idle: {e}"));
        }
        self.save_checkpoint(agent, s, payload);
    }

    fn save_checkpoint(&mut self, agent: &AgentName, s: &AgentSession, payload: &HookPayload) {
        let previous = checkpoint::load(self.ctx.layout, agent).ok().flatten();
        let summary = payload
            .last_assistant_message
            .as_deref()
            .map(|m| truncate(&redact(m), 2000))
            .or_else(|| previous.as_ref().map(|p| p.progress_summary.clone()))
            .unwrap_or_default();
        let cp = Checkpoint {
            agent_name: agent.to_string(),
            bead_id: s.bead_id.clone(),
            session_id: payload.session_id.clone().unwrap_or_default(),
            timestamp: self.ctx.clock.now(),
            progress_summary: summary,
            files_modified: previous.map(|p| p.files_modified).unwrap_or_default(),
            current_branch: s.branch_name.clone(),
            pending_work: String::new(),
            mulch_domains: Vec::new(),
        };
        if let Err(e) = checkpoint::save(self.ctx.layout, agent, &cp) {
            self.problem(format!("saving the checkpoint: {e}"));
        }
    }

    fn claim_mail(&mut self, payload: &HookPayload, session: Option<&AgentSession>) -> String {
        let messages: Vec<MailMessage> = match self.ctx.mail.claim_unread(&self.agent, None) {
            Ok(m) => m,
            Err(e) => {
                self.problem(format!("claiming mail: {e}"));
                return String::new();
            }
        };
        if messages.is_empty() {
            return String::new();
        }
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        self.record(
            Some(payload),
            session,
            EventType::MailReceived,
            EventLevel::Info,
            Some(json!({ "count": messages.len(), "messageIds": ids, "via": self.event.as_str() })),
        );
        injection_text(&messages)
    }
}
