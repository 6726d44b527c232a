//! The dashboard on a seeded project (real SQLite files, fixed times): its screens at 80x24,
//! 120x40 and smaller, that loading never creates or changes a database, that only a write
//! makes the watch fire, and that a panic restores the terminal first.

use std::sync::{Arc, Mutex};

use legio_core::domain::agent::{AgentSession, AgentState, Capability};
use legio_core::domain::event::{EventLevel, EventType, NewEvent};
use legio_core::domain::mail::{MailType, NewMail, Priority};
use legio_core::domain::merge::{MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::domain::metrics::{SessionMetrics, TokenSnapshot, TokenUsage};
use legio_core::ops::dashboard::Liveness::{Exited, Gone, Running};
use legio_core::ports::{
    EventStore, MailStore, MergeQueue, MetricsStore, Multiplexer, MuxError, MuxSession,
    SessionSpec, SessionStore,
};
use legio_core::{AgentName, Layout, Timestamp};
use legio_store::Stores;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;

/// 2026-01-31T12:00:00.000Z.
const T0: i64 = 1_769_860_800_000;
const MIN: i64 = 60_000;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + ms)
}

/// The moment the screens are drawn: half an hour after T0.
fn now() -> Timestamp {
    at(30 * MIN)
}

struct FakeMux(Vec<MuxSession>);

impl Multiplexer for FakeMux {
    fn kind(&self) -> &'static str {
        "tmux"
    }
    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        Err(MuxError::InvalidSpec {
            name: spec.name.clone(),
            problem: "the dashboard never creates sessions".into(),
        })
    }
    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        Ok(self.0.clone())
    }
    fn send_text(&self, name: &str, _: &str) -> Result<(), MuxError> {
        Err(MuxError::NoSuchSession(name.into()))
    }
    fn capture(&self, name: &str, _: usize) -> Result<String, MuxError> {
        Err(MuxError::NoSuchSession(name.into()))
    }
    fn kill(&self, name: &str) -> Result<(), MuxError> {
        Err(MuxError::NoSuchSession(name.into()))
    }
}

fn session(name: &str, running: bool) -> MuxSession {
    MuxSession {
        name: format!("legio-shop-{name}"),
        pid: running.then_some(std::process::id()),
        running,
        exit_code: (!running).then_some(1),
    }
}

fn agent(
    name: &str,
    role: Capability,
    state: AgentState,
    started: i64,
    active: i64,
) -> AgentSession {
    AgentSession {
        id: format!("session-{}-{name}", T0 + started),
        agent_name: AgentName::new(name).unwrap(),
        capability: role,
        worktree_path: format!("/p/.legio/worktrees/{name}"),
        branch_name: format!("legio/{name}/shop-a1b2"),
        bead_id: if role == Capability::Coordinator {
            String::new()
        } else {
            "shop-a1b2".into()
        },
        tmux_session: format!("legio-shop-{name}"),
        state,
        pid: None,
        parent_agent: None,
        depth: 0,
        run_id: Some("run-1".into()),
        started_at: at(started),
        last_activity: at(active),
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "claude".into(),
        file_scope: Vec::new(),
        spec_path: None,
    }
}

fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_creation_tokens: cache_write,
    }
}

/// A project with agents in every state, mail, events, metrics and a merge queue.
fn seeded() -> (tempfile::TempDir, Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let s = Stores::open_all(&layout).unwrap();

    for a in [
        agent(
            "builder-1",
            Capability::Builder,
            AgentState::Working,
            0,
            30 * MIN - 5_000,
        ),
        agent(
            "scout-1",
            Capability::Scout,
            AgentState::Idle,
            5 * MIN,
            28 * MIN,
        ),
        agent(
            "lead-1",
            Capability::Lead,
            AgentState::Booting,
            30 * MIN - 10_000,
            30 * MIN - 10_000,
        ),
        agent(
            "builder-2",
            Capability::Builder,
            AgentState::Completed,
            2 * MIN,
            20 * MIN,
        ),
        agent(
            "builder-3",
            Capability::Builder,
            AgentState::Zombie,
            3 * MIN,
            12 * MIN,
        ),
        agent(
            "coordinator",
            Capability::Coordinator,
            AgentState::Idle,
            0,
            29 * MIN,
        ),
    ] {
        s.sessions.upsert(&a).unwrap();
    }

    let mut done = NewMail::new(
        "builder-2",
        "orchestrator",
        MailType::WorkerDone,
        "shop-a1b2 done: checkout flow",
        "all tests pass",
    );
    done.priority = Priority::High;
    s.mail.send(&done, at(20 * MIN)).unwrap();
    let reply = NewMail::new(
        "orchestrator",
        "builder-1",
        MailType::Status,
        "keep going",
        "",
    );
    let sent = s.mail.send(&reply, at(21 * MIN)).unwrap();
    s.mail.mark_read(&sent.id).unwrap();
    let mut question = NewMail::new(
        "lead-1",
        "orchestrator",
        MailType::Question,
        "which payment provider?",
        "",
    );
    question.priority = Priority::Urgent;
    s.mail.send(&question, at(29 * MIN)).unwrap();

    let mut e = NewEvent::new("builder-1", EventType::ToolStart, at(29 * MIN + 50_000));
    e.tool_name = Some("Bash".into());
    s.events.insert(&e).unwrap();
    let mut e = NewEvent::new("builder-1", EventType::ToolEnd, at(29 * MIN + 55_000));
    e.tool_name = Some("Bash".into());
    s.events.insert(&e).unwrap();
    let mut e = NewEvent::new("builder-3", EventType::Error, at(12 * MIN));
    e.level = EventLevel::Error;
    s.events.insert(&e).unwrap();
    s.events
        .insert(&NewEvent::new(
            "lead-1",
            EventType::Spawn,
            at(30 * MIN - 10_000),
        ))
        .unwrap();

    s.metrics
        .record_session(&SessionMetrics {
            agent_name: "builder-2".into(),
            bead_id: "shop-a1b2".into(),
            capability: "builder".into(),
            started_at: at(2 * MIN),
            completed_at: Some(at(20 * MIN)),
            duration_ms: 18 * MIN,
            exit_code: Some(0),
            merge_result: None,
            parent_agent: None,
            run_id: Some("run-1".into()),
            usage: usage(12_000, 48_000, 900_000, 60_000),
            estimated_cost_usd: Some(1.8725),
            model_used: Some("claude-sonnet-4-5".into()),
        })
        .unwrap();
    s.metrics
        .record_snapshot(&TokenSnapshot {
            agent_name: "builder-1".into(),
            usage: usage(3_000, 9_500, 250_000, 20_000),
            estimated_cost_usd: Some(0.4125),
            model_used: Some("claude-sonnet-4-5".into()),
            created_at: at(29 * MIN),
        })
        .unwrap();
    // A finished agent's last snapshot is not counted again.
    s.metrics
        .record_snapshot(&TokenSnapshot {
            agent_name: "builder-2".into(),
            usage: usage(1, 1, 1, 1),
            estimated_cost_usd: Some(99.0),
            model_used: None,
            created_at: at(25 * MIN),
        })
        .unwrap();

    let queued = |agent: &str, minute: i64| NewMergeEntry {
        branch_name: format!("legio/{agent}/shop-a1b2"),
        bead_id: "shop-a1b2".into(),
        agent_name: agent.into(),
        files_modified: vec!["src/checkout.rs".into()],
        enqueued_at: at(minute * MIN),
    };
    s.merge_queue.enqueue(&queued("builder-2", 20)).unwrap();
    let claimed = s
        .merge_queue
        .claim_next(None, "main", "0123456789abcdef0123456789abcdef01234567")
        .unwrap()
        .unwrap();
    s.merge_queue
        .finish(
            claimed.id,
            MergeStatus::Merged,
            Some(ResolutionTier::CleanMerge),
            None,
        )
        .unwrap();
    s.merge_queue.enqueue(&queued("scout-1", 28)).unwrap();
    drop(s);
    (tmp, layout)
}

fn fleet_mux() -> FakeMux {
    FakeMux(vec![
        session("builder-1", true),
        session("scout-1", false),
        session("coordinator", true),
    ])
}

/// The buffer as text, one line per row, trailing spaces trimmed.
fn screen(snap: &Snapshot, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let view = View {
        project: "shop".into(),
        interval_ms: 2000,
        now: now(),
    };
    terminal
        .draw(|frame| render::draw(frame, snap, &view))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[test]
fn the_seeded_fleet_at_80x24() {
    let (_tmp, layout) = seeded();
    let snap = load(&layout, &fleet_mux(), now());
    insta::assert_snapshot!("dashboard_80x24", screen(&snap, 80, 24));
}

#[test]
fn the_seeded_fleet_at_120x40() {
    let (_tmp, layout) = seeded();
    let snap = load(&layout, &fleet_mux(), now());
    insta::assert_snapshot!("dashboard_120x40", screen(&snap, 120, 40));
}

#[test]
fn small_terminals_keep_the_agents_and_a_summary_and_tiny_ones_say_so() {
    let (_tmp, layout) = seeded();
    let snap = load(&layout, &fleet_mux(), now());
    insta::assert_snapshot!("dashboard_50x12", screen(&snap, 50, 12));
    assert_eq!(screen(&snap, 20, 4).trim(), "terminal too small\n(20x4)");
}

#[test]
fn panels_are_ordered_and_costs_count_each_session_once() {
    let (_tmp, layout) = seeded();
    let snap = load(&layout, &fleet_mux(), now());
    let agents: Vec<(String, dashboard::Liveness)> = snap
        .agents
        .ready()
        .unwrap()
        .iter()
        .map(|r| (r.session.agent_name.to_string(), r.liveness))
        .collect();
    assert_eq!(
        agents,
        [
            ("builder-1".into(), Running),
            ("coordinator".into(), Running),
            ("scout-1".into(), Exited),
            ("lead-1".into(), Gone),
            ("builder-2".into(), Gone),
            ("builder-3".into(), Gone),
        ],
        "active oldest first, then the rest by last activity"
    );
    let mail = snap.mail.ready().unwrap();
    assert_eq!(mail.unread, 2);
    assert_eq!(mail.recent[0].subject, "which payment provider?");
    let merges: Vec<MergeStatus> = snap
        .merges
        .ready()
        .unwrap()
        .iter()
        .map(|m| m.status)
        .collect();
    assert_eq!(merges, [MergeStatus::Pending, MergeStatus::Merged]);
    let events = snap.events.ready().unwrap();
    assert_eq!(events[0].event_type, "tool_end", "newest first");
    let costs = snap.costs.ready().unwrap();
    assert_eq!(costs.len(), 2);
    assert_eq!(
        (costs[0].agent.as_str(), costs[0].sessions, costs[0].live),
        ("builder-2", 1, false)
    );
    assert_eq!(
        costs[0].cost_usd,
        Some(1.8725),
        "its stale snapshot is not added"
    );
    assert_eq!(
        (costs[1].agent.as_str(), costs[1].live),
        ("builder-1", true)
    );
}

#[test]
fn loading_creates_no_database_and_changes_none() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    std::fs::create_dir_all(layout.legio_dir()).unwrap();
    let snap = load(&layout, &FakeMux(Vec::new()), now());
    assert!(matches!(snap.agents, Panel::Missing));
    assert!(matches!(snap.costs, Panel::Missing));
    let names: Vec<_> = std::fs::read_dir(layout.legio_dir()).unwrap().collect();
    assert!(names.is_empty(), "nothing was created: {names:?}");
    insta::assert_snapshot!("dashboard_empty_project", screen(&snap, 80, 24));

    let (_tmp, layout) = seeded();
    let rows_before = Stores::open_all(&layout).unwrap().sessions.list().unwrap();
    let mut watch = StoreWatch::new(&layout);
    assert!(watch.changed(), "the first look always counts as a change");
    let snap = load(&layout, &FakeMux(Vec::new()), now());
    assert!(
        snap.agents
            .ready()
            .unwrap()
            .iter()
            .all(|r| r.liveness == Gone)
    );
    assert!(!watch.changed(), "reading does not look like a write");
    let rows_after = Stores::open_all(&layout).unwrap().sessions.list().unwrap();
    assert_eq!(rows_before, rows_after, "no agent was marked zombie");
}

#[test]
fn a_write_to_any_store_makes_the_watch_fire() {
    let (_tmp, layout) = seeded();
    let mut watch = StoreWatch::new(&layout);
    watch.changed();
    assert!(!watch.changed());
    let stores = Stores::open_all(&layout).unwrap();
    stores
        .mail
        .send(&NewMail::new("a", "b", MailType::Status, "hi", ""), now())
        .unwrap();
    assert!(watch.changed(), "a new message");
    assert!(!watch.changed());
    stores
        .sessions
        .transition(
            &AgentName::new("lead-1").unwrap(),
            &[AgentState::Booting],
            AgentState::Working,
        )
        .unwrap();
    assert!(watch.changed(), "a state change");
    drop(stores);
    for file in ["mail.db", "mail.db-wal", "mail.db-shm"] {
        let _ = std::fs::remove_file(layout.file(file));
    }
    assert!(watch.changed(), "a wiped database");
}

#[test]
fn a_damaged_database_fails_its_panel_only() {
    let (_tmp, layout) = seeded();
    for file in ["mail.db-wal", "mail.db-shm"] {
        let _ = std::fs::remove_file(layout.file(file));
    }
    std::fs::write(
        layout.mail_db(),
        "not a database, only text, long enough to be read",
    )
    .unwrap();
    let snap = load(&layout, &fleet_mux(), now());
    assert!(
        matches!(&snap.mail, Panel::Failed(e) if e.contains("mail.db")),
        "{:?}",
        snap.mail
    );
    assert!(snap.agents.ready().is_some());
    assert!(screen(&snap, 80, 24).contains("damaged"));
}

#[test]
fn quit_keys_and_others() {
    let key = |code, modifiers| KeyEvent::new(code, modifiers);
    assert_eq!(
        command(key(KeyCode::Char('q'), KeyModifiers::NONE)),
        Command::Quit
    );
    assert_eq!(
        command(key(KeyCode::Esc, KeyModifiers::NONE)),
        Command::Quit
    );
    assert_eq!(
        command(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Command::Quit
    );
    assert_eq!(
        command(key(KeyCode::Char('c'), KeyModifiers::NONE)),
        Command::Nothing
    );
    assert_eq!(
        command(key(KeyCode::Char('r'), KeyModifiers::NONE)),
        Command::Reload
    );
}

#[test]
fn compact_ages_and_token_counts() {
    use render::{age, tokens};
    assert_eq!(age(at(59_999), at(0)), "59s");
    assert_eq!(age(at(60 * MIN), at(0)), "1h");
    assert_eq!(age(at(0), at(5_000)), "0s", "clock skew is not negative");
    assert_eq!(age(at(3 * 24 * 60 * MIN), at(0)), "3d");
    assert_eq!(tokens(999), "999");
    assert_eq!(tokens(12_345), "12.3k");
    assert_eq!(tokens(4_500_000), "4.5M");
}

/// A writer whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_restores_the_terminal_before_anything_is_printed() {
    let out = Shared::default();
    let order = Arc::new(Mutex::new(Vec::<&str>::new()));
    // The hook that would print the panic message: it records when it ran.
    let seen = Arc::clone(&order);
    std::panic::set_hook(Box::new(move |_| seen.lock().unwrap().push("message")));
    let (writer, seen) = (out.clone(), Arc::clone(&order));
    install_panic_hook(move || {
        restore_terminal(&mut writer.clone());
        seen.lock().unwrap().push("restore");
    });
    let result = std::panic::catch_unwind(|| panic!("drawing failed"));
    let _ = std::panic::take_hook();
    assert!(result.is_err());
    assert_eq!(*order.lock().unwrap(), ["restore", "message"]);
    let bytes = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        bytes.contains("\u{1b}[?1049l"),
        "leaves the alternate screen: {bytes:?}"
    );
    assert!(bytes.contains("\u{1b}[?25h"), "shows the cursor: {bytes:?}");
}
