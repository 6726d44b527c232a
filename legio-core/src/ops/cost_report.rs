//! What the agents cost: tokens and dollars per agent, from their Claude Code transcripts.
//!
//! Each agent's transcripts are found from its `session_start` events: the hook records the
//! Claude Code session id and the transcript path the payload names. An event without a path
//! (recorded by an older legio) is resolved from the session id and the agent's working
//! directory under Claude Code's directory ([`ClaudeDir`]). A session's subagent transcripts
//! count with it. Every agent's responses are counted once per (message id, request id) across
//! all its transcripts, and priced by [`crate::costs`], so the figures agree with ccusage's.
//!
//! Nothing is hidden: a transcript that cannot be found or read, and tokens of a model without
//! a known price, are listed with the agent ([`AgentCost::problems`], [`UsageReport::unpriced`]).
//!
//! Reads the event store and transcript files only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::costs::{
    ClaudeDir, LastLine, TranscriptError, Usage, UsageLedger, UsageReport, find_transcript,
    read_usage_file, session_transcripts,
};
use crate::domain::agent::{AgentSession, AgentState};
use crate::domain::event::{EventType, StoredEvent};
use crate::ports::{EventQuery, EventStore, StoreResult};
use crate::time::Timestamp;

/// Which agents to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostQuery {
    /// Only these agents (empty: all).
    pub agents: Vec<String>,
    /// Only sessions started in this run.
    pub run_id: Option<String>,
    /// Only agents that are active now (booting, working, idle).
    pub active_only: bool,
    /// At most this many agents, those with the newest session starts.
    pub last: Option<u32>,
}

/// One Claude Code session of an agent, as its `session_start` event recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaudeSession {
    /// Claude Code's session id.
    pub session_id: Option<String>,
    /// The transcript path the hook payload named.
    pub transcript_path: Option<PathBuf>,
    /// When it started.
    pub started_at: Timestamp,
}

/// What one agent cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCost {
    /// The agent.
    pub agent_name: String,
    /// Its role, when it has a session row.
    pub capability: Option<String>,
    /// Its task, when it has one.
    pub task_id: Option<String>,
    /// Its run, when known.
    pub run_id: Option<String>,
    /// Its state now, when it has a session row.
    pub state: Option<AgentState>,
    /// When the agent started (its session row), else its first Claude Code session.
    pub started_at: Timestamp,
    /// Its newest Claude Code session start.
    pub last_session_at: Timestamp,
    /// The transcripts read (main files, then their subagents').
    pub transcripts: Vec<PathBuf>,
    /// Tokens and cost over all of them.
    pub report: UsageReport,
    /// Sessions whose transcript could not be found or read; their tokens are not counted.
    pub problems: Vec<String>,
}

/// What one transcript file (and its subagents) cost (`legio costs --transcript`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptCost {
    /// The file given.
    pub path: PathBuf,
    /// The files read: it, then its subagents'.
    pub transcripts: Vec<PathBuf>,
    /// Tokens and cost.
    pub report: UsageReport,
}

/// Totals over several reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostTotals {
    /// All tokens.
    pub usage: Usage,
    /// Responses counted.
    pub responses: u64,
    /// The cost of every priced response.
    pub cost_usd: f64,
}

impl CostTotals {
    /// The sum of `reports`.
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a UsageReport>) -> Self {
        reports.into_iter().fold(Self::default(), |t, r| Self {
            usage: t.usage.plus(r.total),
            responses: t.responses + r.responses,
            cost_usd: t.cost_usd + r.cost_usd.unwrap_or(0.0),
        })
    }
}

/// Where transcripts are looked for when an event names none.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// `events.db`.
    pub events: &'a dyn EventStore,
    /// Every agent's session row.
    pub sessions: &'a [AgentSession],
    /// Claude Code's directory (`~/.claude`), when known.
    pub claude: Option<&'a ClaudeDir>,
}

/// The Claude Code sessions of every agent matching `query`, newest agent first (by its newest
/// session start), at most `query.last` agents.
pub fn agent_sessions(
    sources: Sources<'_>,
    query: &CostQuery,
) -> StoreResult<Vec<(String, Vec<ClaudeSession>)>> {
    let starts = sources.events.query(&EventQuery {
        agents: query.agents.clone(),
        run_id: query.run_id.clone(),
        event_type: Some(EventType::SessionStart),
        ..EventQuery::default()
    })?;
    let mut order: Vec<String> = Vec::new();
    let mut by_agent: BTreeMap<String, Vec<ClaudeSession>> = BTreeMap::new();
    for e in &starts {
        if query.active_only && !is_active(sources.sessions, &e.agent_name) {
            continue;
        }
        let sessions = by_agent.entry(e.agent_name.clone()).or_insert_with(|| {
            order.push(e.agent_name.clone());
            Vec::new()
        });
        let s = claude_session(e);
        if !sessions.contains(&s) {
            sessions.push(s);
        }
    }
    if let Some(last) = query.last {
        order.truncate(last as usize);
    }
    Ok(order
        .into_iter()
        .map(|agent| {
            let mut sessions = by_agent.remove(&agent).unwrap_or_default();
            sessions.reverse(); // oldest first
            (agent, sessions)
        })
        .collect())
}

/// What each agent matching `query` cost, newest agent first.
pub fn agent_costs(sources: Sources<'_>, query: &CostQuery) -> StoreResult<Vec<AgentCost>> {
    Ok(agent_sessions(sources, query)?
        .into_iter()
        .map(|(agent, sessions)| cost_of(sources, agent, &sessions))
        .collect())
}

/// What the transcripts at `paths` cost, one report per file (its subagents included).
pub fn transcript_costs(paths: &[PathBuf]) -> Result<Vec<TranscriptCost>, TranscriptError> {
    paths
        .iter()
        .map(|path| {
            let transcripts = session_transcripts(path)?;
            let mut ledger = UsageLedger::new();
            for file in &transcripts {
                read_usage_file(file, 0, &mut ledger, LastLine::Final)?;
            }
            Ok(TranscriptCost {
                path: path.clone(),
                transcripts,
                report: ledger.report(),
            })
        })
        .collect()
}

fn is_active(sessions: &[AgentSession], agent: &str) -> bool {
    sessions
        .iter()
        .any(|s| s.agent_name.as_str() == agent && s.state.is_active())
}

fn claude_session(e: &StoredEvent) -> ClaudeSession {
    let transcript_path = e
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| d.get("transcriptPath")?.as_str().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    ClaudeSession {
        session_id: e.session_id.clone(),
        transcript_path,
        started_at: e.created_at,
    }
}

fn cost_of(sources: Sources<'_>, agent: String, sessions: &[ClaudeSession]) -> AgentCost {
    let row = sources
        .sessions
        .iter()
        .find(|s| s.agent_name.as_str() == agent);
    let cwd = row.map(|s| Path::new(&s.worktree_path));
    let mut ledger = UsageLedger::new();
    let mut transcripts: Vec<PathBuf> = Vec::new();
    let mut problems = Vec::new();
    for s in sessions {
        let main = match locate(sources.claude, cwd, s) {
            Ok(main) => main,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if transcripts.contains(&main) {
            continue;
        }
        let files = match session_transcripts(&main) {
            Ok(files) => files,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        for file in files {
            match read_usage_file(&file, 0, &mut ledger, LastLine::Final) {
                Ok(_) => transcripts.push(file),
                Err(TranscriptError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    problems.push(missing(&file));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    let first = sessions
        .first()
        .map_or(Timestamp::from_millis(0), |s| s.started_at);
    AgentCost {
        capability: row.map(|s| s.capability.to_string()),
        task_id: row.map(|s| s.bead_id.clone()).filter(|t| !t.is_empty()),
        run_id: row.and_then(|s| s.run_id.clone()),
        state: row.map(|s| s.state),
        started_at: row.map_or(first, |s| s.started_at),
        last_session_at: sessions.last().map_or(first, |s| s.started_at),
        agent_name: agent,
        transcripts,
        report: ledger.report(),
        problems,
    }
}

fn missing(path: &Path) -> String {
    format!(
        "transcript {} is gone (moved or deleted?); its tokens are not counted",
        path.display()
    )
}

/// The main transcript of one session: the recorded path, else the session id looked up under
/// Claude Code's directory.
fn locate(
    claude: Option<&ClaudeDir>,
    cwd: Option<&Path>,
    s: &ClaudeSession,
) -> Result<PathBuf, String> {
    if let Some(path) = &s.transcript_path {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(missing(path))
        };
    }
    let Some(id) = &s.session_id else {
        return Err(format!(
            "a session started at {} recorded neither a session id nor a transcript",
            s.started_at
        ));
    };
    let Some(claude) = claude else {
        return Err(format!(
            "session {id} recorded no transcript path, and Claude Code's directory is unknown (no HOME)"
        ));
    };
    match find_transcript(claude, cwd, id) {
        Ok(Some(path)) => Ok(path),
        Ok(None) => Err(format!(
            "no transcript of session {id} under {}",
            claude.projects().display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Spend per minute of the active agents (`legio costs --live`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRate {
    /// Dollars per minute: the sum of each agent's cost over its own running time.
    pub cost_per_min: f64,
    /// Input and output tokens per minute, summed the same way.
    pub tokens_per_min: f64,
}

/// The burn rate of `agents` at `now`: each agent's spend divided by the time since it started,
/// summed (legio 0.1.0 divided the summed cost by the mean time, which misstates mixed fleets).
pub fn burn_rate(agents: &[AgentCost], now: Timestamp) -> BurnRate {
    agents.iter().fold(BurnRate::default(), |r, a| {
        let minutes = now.millis_since(a.started_at) as f64 / 60_000.0;
        if minutes <= 0.0 {
            return r;
        }
        let tokens = (a.report.total.input_tokens + a.report.total.output_tokens) as f64;
        BurnRate {
            cost_per_min: r.cost_per_min + a.report.cost_usd.unwrap_or(0.0) / minutes,
            tokens_per_min: r.tokens_per_min + tokens / minutes,
        }
    })
}

/// Figures of one capability (`legio costs --by-capability`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityCost {
    /// The capability (`-` for agents without a session row).
    pub capability: String,
    /// Its agents.
    pub agents: usize,
    /// Their totals.
    pub totals: CostTotals,
}

/// `agents` grouped by capability, most expensive first.
pub fn by_capability(agents: &[AgentCost]) -> Vec<CapabilityCost> {
    let mut groups: BTreeMap<String, Vec<&UsageReport>> = BTreeMap::new();
    for a in agents {
        let cap = a.capability.clone().unwrap_or_else(|| "-".to_owned());
        groups.entry(cap).or_default().push(&a.report);
    }
    let mut out: Vec<CapabilityCost> = groups
        .into_iter()
        .map(|(capability, reports)| CapabilityCost {
            capability,
            agents: reports.len(),
            totals: CostTotals::of(reports),
        })
        .collect();
    out.sort_by(|a, b| b.totals.cost_usd.total_cmp(&a.totals.cost_usd));
    out
}
