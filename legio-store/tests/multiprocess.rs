//! Several processes racing on one database file, as hook processes of many agents do.
//!
//! This binary is its own child: the parent runs each scenario by starting copies of itself with
//! `--child <role> ...`. Children wait for a "go" file so that they start together, and exit
//! non-zero (with the error on stderr) on any store error, a busy timeout included. Run with
//! `cargo test -p legio-store --test multiprocess [FILTER]`.

use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use legio_core::Layout;
use legio_core::domain::agent::{AgentSession, AgentState, Capability};
use legio_core::domain::event::{EventType, NewEvent};
use legio_core::domain::mail::{MailType, NewMail};
use legio_core::domain::merge::NewMergeEntry;
use legio_core::names::AgentName;
use legio_core::ports::store::{
    Admission, AdmissionLimits, EventQuery, EventStore, MailFilter, MailStore, MergeQueue,
    SessionStore,
};
use legio_core::time::Timestamp;
use legio_store::{SqliteMailStore, SqliteMergeQueue, SqliteSessionStore, Stores};

const SENDERS: usize = 16;
const MESSAGES_PER_SENDER: usize = 200;
const RECIPIENTS: usize = 4;
const CLAIMERS_PER_RECIPIENT: usize = 2;
const REGISTRANTS: usize = 12;
const MAX_CONCURRENT: u32 = 5;
const QUEUE_ENTRIES: usize = 60;
const MERGERS: usize = 6;
const OPENERS: usize = 16;

type Scenario = (&'static str, fn() -> Result<(), String>);

const SCENARIOS: &[Scenario] = &[
    (
        "mail_is_delivered_exactly_once_across_processes",
        mail_exactly_once,
    ),
    (
        "registration_never_exceeds_max_concurrent",
        registration_limit,
    ),
    ("merge_claims_are_exclusive_across_processes", merge_claims),
    (
        "a_new_project_can_be_opened_by_many_processes_at_once",
        fresh_project,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return match child(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("child {args:?} failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in SCENARIOS {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, run) in chosen {
        let started = Instant::now();
        match run() {
            Ok(()) => println!("test {name} ... ok ({:.1?})", started.elapsed()),
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed.push(*name);
            }
        }
    }
    if failed.is_empty() {
        println!("\ntest result: ok");
        ExitCode::SUCCESS
    } else {
        println!("\ntest result: FAILED: {failed:?}");
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------------

fn spawn(args: &[String]) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    Command::new(exe)
        .arg("--child")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a child: {e}"))
}

/// Waits for `child` and returns its stdout lines; an unsuccessful exit is an error carrying
/// its stderr.
fn finish(child: Child) -> Result<Vec<String>, String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot wait for a child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "a child exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

fn text(p: &Path) -> String {
    p.display().to_string()
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

fn mail_exactly_once() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Nobody creates the file beforehand: the children race to create and migrate it too.
    let db = dir.path().join(".legio/mail.db");
    let go = dir.path().join("go");
    let stop = dir.path().join("stop");
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        senders.push(spawn(&[
            "send".into(),
            text(&db),
            s.to_string(),
            MESSAGES_PER_SENDER.to_string(),
            text(&go),
        ])?);
    }
    let mut claimers = Vec::new();
    for r in 0..RECIPIENTS {
        for _ in 0..CLAIMERS_PER_RECIPIENT {
            claimers.push(spawn(&[
                "claim".into(),
                text(&db),
                format!("agent-{r}"),
                text(&stop),
                text(&go),
            ])?);
        }
    }
    std::fs::write(&go, "").map_err(|e| e.to_string())?;
    let mut sent = Vec::new();
    for child in senders {
        sent.extend(finish(child)?);
    }
    std::fs::write(&stop, "").map_err(|e| e.to_string())?;
    let mut claimed = Vec::new();
    for child in claimers {
        claimed.extend(finish(child)?);
    }

    let total = SENDERS * MESSAGES_PER_SENDER;
    let mut unique_sent = sent.clone();
    unique_sent.sort();
    unique_sent.dedup();
    check(sent.len() == total && unique_sent.len() == total, || {
        format!(
            "expected {total} distinct sent ids, got {} ({} distinct)",
            sent.len(),
            unique_sent.len()
        )
    })?;
    let mut unique_claimed = claimed.clone();
    unique_claimed.sort();
    unique_claimed.dedup();
    check(unique_claimed.len() == claimed.len(), || {
        format!(
            "{} messages were delivered more than once",
            claimed.len() - unique_claimed.len()
        )
    })?;
    check(unique_claimed == unique_sent, || {
        format!(
            "{} sent, {} delivered: some were lost",
            unique_sent.len(),
            unique_claimed.len()
        )
    })?;
    let store = SqliteMailStore::open(&db).map_err(|e| e.to_string())?;
    let stored = store
        .list(&MailFilter::default())
        .map_err(|e| e.to_string())?;
    check(
        stored.len() == total && stored.iter().all(|m| m.read),
        || "the database does not hold every message, read".into(),
    )
}

fn registration_limit() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join(".legio/sessions.db");
    let go = dir.path().join("go");
    let mut children = Vec::new();
    for i in 0..REGISTRANTS {
        children.push(spawn(&[
            "register".into(),
            text(&db),
            format!("builder-{i}"),
            text(&go),
        ])?);
    }
    std::fs::write(&go, "").map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    for child in children {
        outcomes.extend(finish(child)?);
    }
    let admitted = outcomes.iter().filter(|o| *o == "admitted").count();
    let denied = outcomes
        .iter()
        .filter(|o| o.starts_with("denied: max concurrent"))
        .count();
    check(
        admitted == MAX_CONCURRENT as usize && denied == REGISTRANTS - admitted,
        || format!("expected exactly {MAX_CONCURRENT} admitted, the rest denied: {outcomes:?}"),
    )?;
    let store = SqliteSessionStore::open(&db).map_err(|e| e.to_string())?;
    let active = store.list_active().map_err(|e| e.to_string())?;
    check(active.len() == MAX_CONCURRENT as usize, || {
        format!("{} active rows in the database", active.len())
    })
}

fn merge_claims() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("merge-queue.db");
    let go = dir.path().join("go");
    let queue = SqliteMergeQueue::open(&db).map_err(|e| e.to_string())?;
    let mut queued = Vec::new();
    for i in 0..QUEUE_ENTRIES {
        let e = queue
            .enqueue(&NewMergeEntry {
                branch_name: format!("legio/b{i}/t-{i}"),
                bead_id: format!("t-{i}"),
                agent_name: format!("b{i}"),
                files_modified: Vec::new(),
                enqueued_at: Timestamp::from_millis(i as i64),
            })
            .map_err(|e| e.to_string())?;
        queued.push(e.id.to_string());
    }
    let mut children = Vec::new();
    for _ in 0..MERGERS {
        children.push(spawn(&["merge".into(), text(&db), text(&go)])?);
    }
    std::fs::write(&go, "").map_err(|e| e.to_string())?;
    let mut claimed = Vec::new();
    for child in children {
        claimed.extend(finish(child)?);
    }
    claimed.sort_by_key(|id| id.parse::<i64>().unwrap_or(-1));
    check(claimed == queued, || {
        format!("each of {QUEUE_ENTRIES} entries must be claimed exactly once, got {claimed:?}")
    })
}

fn fresh_project() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("project");
    let go = dir.path().join("go");
    let mut children = Vec::new();
    for i in 0..OPENERS {
        children.push(spawn(&[
            "open".into(),
            text(&root),
            format!("agent-{i}"),
            text(&go),
        ])?);
    }
    std::fs::write(&go, "").map_err(|e| e.to_string())?;
    for child in children {
        finish(child)?;
    }
    let stores = Stores::open_all(&Layout::new(&root)).map_err(|e| e.to_string())?;
    let events = stores
        .events
        .query(&EventQuery::default())
        .map_err(|e| e.to_string())?;
    check(events.len() == OPENERS, || {
        format!("{} of {OPENERS} events recorded", events.len())
    })
}

// ---------------------------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------------------------

fn child(args: &[String]) -> Result<(), String> {
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i} in {args:?}"))
    };
    match arg(0)? {
        "send" => {
            wait_for(Path::new(arg(4)?))?;
            send(Path::new(arg(1)?), arg(2)?, arg(3)?)
        }
        "claim" => {
            wait_for(Path::new(arg(4)?))?;
            claim(Path::new(arg(1)?), arg(2)?, Path::new(arg(3)?))
        }
        "register" => {
            wait_for(Path::new(arg(3)?))?;
            register(Path::new(arg(1)?), arg(2)?)
        }
        "merge" => {
            wait_for(Path::new(arg(2)?))?;
            merge(Path::new(arg(1)?))
        }
        "open" => {
            wait_for(Path::new(arg(3)?))?;
            let stores = Stores::open_all(&Layout::new(arg(1)?)).map_err(|e| e.to_string())?;
            let event = NewEvent::new(arg(2)?, EventType::SessionStart, now());
            stores.events.insert(&event).map_err(|e| e.to_string())?;
            Ok(())
        }
        other => Err(format!("unknown child role {other:?}")),
    }
}

fn wait_for(go: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        if Instant::now() > deadline {
            return Err("the parent never said go".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn now() -> Timestamp {
    legio_core::time::Clock::now(&legio_core::time::SystemClock)
}

fn send(db: &Path, sender: &str, count: &str) -> Result<(), String> {
    let count: usize = count.parse().map_err(|e| format!("count: {e}"))?;
    let store = SqliteMailStore::open(db).map_err(|e| format!("opening: {e}"))?;
    let mut out = String::new();
    for i in 0..count {
        let to = format!("agent-{}", i % RECIPIENTS);
        let mail = NewMail::new(
            format!("sender-{sender}"),
            to,
            MailType::Status,
            format!("{i}"),
            "body",
        );
        let sent = store
            .send(&mail, now())
            .map_err(|e| format!("sending message {i}: {e}"))?;
        out.push_str(&sent.id);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

fn claim(db: &Path, recipient: &str, stop: &Path) -> Result<(), String> {
    let store = SqliteMailStore::open(db).map_err(|e| e.to_string())?;
    let mut out = String::new();
    loop {
        // Read the stop signal first: everything sent before it is claimed by the next round.
        let last_round = stop.exists();
        for m in store
            .claim_unread(recipient, None)
            .map_err(|e| e.to_string())?
        {
            out.push_str(&m.id);
            out.push('\n');
        }
        if last_round {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    print!("{out}");
    Ok(())
}

fn register(db: &Path, name: &str) -> Result<(), String> {
    let store = SqliteSessionStore::open(db).map_err(|e| e.to_string())?;
    let agent = AgentName::new(name).map_err(|e| e.to_string())?;
    let at = now();
    let session = AgentSession {
        id: format!("session-{}-{name}", at.millis()),
        agent_name: agent,
        capability: Capability::Builder,
        worktree_path: format!("/p/.legio/worktrees/{name}"),
        branch_name: format!("legio/{name}/t-1"),
        bead_id: "t-1".into(),
        tmux_session: format!("legio-p-{name}"),
        state: AgentState::Booting,
        pid: None,
        parent_agent: None,
        depth: 0,
        run_id: None,
        started_at: at,
        last_activity: at,
        escalation_level: 0,
        stalled_since: None,
        terminal_log_path: None,
        runtime: "script".into(),
        file_scope: Vec::new(),
        spec_path: None,
    };
    let limits = AdmissionLimits {
        max_concurrent: MAX_CONCURRENT,
        max_agents_per_lead: 5,
        max_depth: 2,
    };
    match store
        .register(&session, &limits)
        .map_err(|e| e.to_string())?
    {
        Admission::Admitted => println!("admitted"),
        Admission::Denied(why) => println!("denied: {why}"),
    }
    Ok(())
}

fn merge(db: &Path) -> Result<(), String> {
    let queue = SqliteMergeQueue::open(db).map_err(|e| e.to_string())?;
    let mut out = String::new();
    while let Some(entry) = queue
        .claim_next(None, "main", "0000000")
        .map_err(|e| e.to_string())?
    {
        out.push_str(&entry.id.to_string());
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
