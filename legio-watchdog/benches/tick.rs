//! The cost of a watchdog tick over 500 registered agents, with a fake multiplexer and probe
//! that count their calls and the real SQLite stores: the median tick, how much of it is
//! reading `sessions.db`, the number of multiplexer and probe calls per tick (must be 1 each),
//! and memory over 10,000 ticks. Then the same over 50 agents in real tmux sessions on a
//! private socket, with the real process probe, counting every tmux call (skipped, saying so,
//! when tmux is not installed).
//!
//! Run: `cargo bench -p legio-watchdog --bench tick`

#[path = "../src/fakes.rs"]
mod fakes;

use std::time::{Duration, Instant};

use legio_core::ports::{Multiplexer, SessionSpec, SessionStore};
use legio_core::{AgentState, Capability};
use legio_tmux::{ProcfsProbe, TmuxConfig, TmuxMultiplexer};

use fakes::{CountingMux, Fleet, session, watchdog};

const AGENTS: usize = 500;
const TIMED_TICKS: usize = 2_000;
const LONG_RUN: usize = 10_000;
const TMUX_AGENTS: usize = 50;
const TMUX_TICKS: usize = 200;

fn fleet() -> Fleet {
    let fleet = Fleet::new();
    for i in 0..AGENTS {
        let (cap, state) = match i % 5 {
            0 | 1 => (Capability::Builder, AgentState::Working),
            2 => (Capability::Lead, AgentState::Idle),
            3 => (Capability::Builder, AgentState::Completed),
            _ => (Capability::Coordinator, AgentState::Idle),
        };
        let mut s = session(&format!("agent-{i}"), cap, state);
        s.pid = Some(fleet.pid());
        fleet.add(&s);
    }
    fleet
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Resident set size in KiB, from /proc (Linux); `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let fleet = fleet();
    let mut wd = watchdog(false);
    let ports = fleet.ports();
    // Warm up (and let the first tick do its one-off work).
    for _ in 0..50 {
        wd.tick(&ports).expect("tick");
    }
    let (lists, batches) = (fleet.mux.calls.get().list, fleet.probe.batches.get());
    let mut times = Vec::with_capacity(TIMED_TICKS);
    for _ in 0..TIMED_TICKS {
        let start = Instant::now();
        let report = wd.tick(&ports).expect("tick");
        times.push(start.elapsed());
        assert!(report.actions.is_empty(), "a steady fleet needs no action");
    }
    let lists_per_tick = (fleet.mux.calls.get().list - lists) as f64 / TIMED_TICKS as f64;
    let batches_per_tick = (fleet.probe.batches.get() - batches) as f64 / TIMED_TICKS as f64;
    times.sort();
    let mut reads: Vec<Duration> = (0..TIMED_TICKS)
        .map(|_| {
            let start = Instant::now();
            let rows = fleet.sessions.list().expect("list");
            let took = start.elapsed();
            assert_eq!(rows.len(), AGENTS);
            took
        })
        .collect();
    reads.sort();
    println!(
        "watchdog tick over {AGENTS} agents (fake multiplexer and probe, SQLite stores), {TIMED_TICKS} ticks:"
    );
    println!(
        "  median {:?}   p90 {:?}   max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        times[times.len() - 1]
    );
    println!(
        "  of which reading the {AGENTS} rows of sessions.db: median {:?}",
        percentile(&reads, 0.5)
    );
    println!("  multiplexer listings per tick: {lists_per_tick}");
    println!("  pid-check batches per tick:    {batches_per_tick}");
    println!(
        "  single pid checks in total:    {}",
        fleet.probe.singles.get()
    );
    assert!(
        (lists_per_tick - 1.0).abs() < f64::EPSILON,
        "one listing per tick"
    );
    assert!(
        (batches_per_tick - 1.0).abs() < f64::EPSILON,
        "one probe batch per tick"
    );

    // Simulated days: the clock moves 30 s per tick, working agents keep working, idle ones
    // run through their ladder once (nudges, then their parent is told) and then stay quiet.
    let mut checkpoints = Vec::new();
    for n in 1..=LONG_RUN {
        wd.tick(&ports).expect("tick");
        fleet.advance(30_000);
        for i in (0..AGENTS).filter(|i| i % 5 < 2) {
            fleet.activity(&format!("agent-{i}"));
        }
        if n == 1_000 || n == LONG_RUN {
            checkpoints.push((
                n,
                wd.remembered(),
                rss_kib(),
                fleet.events.len(),
                fleet.mail.all().len(),
            ));
        }
    }
    println!("over {LONG_RUN} more ticks (30 s of simulated time each):");
    for (n, remembered, rss, events, mails) in checkpoints {
        println!(
            "  after {n:>5} ticks: watchdog memory {remembered} entries, resident set {}, events {events}, mail {mails}",
            rss.map_or_else(|| "n/a".to_owned(), |k| format!("{k} KiB"))
        );
    }
    real_tmux();
}

/// Ticks over agents in real tmux sessions.
fn real_tmux() {
    let fleet = Fleet::new();
    let tmux = TmuxMultiplexer::new("bench", fleet.layout.root(), TmuxConfig::default());
    let mut rows = Vec::new();
    for i in 0..TMUX_AGENTS {
        let name = format!("agent-{i}");
        let spec = SessionSpec {
            name: format!("legio-bench-{name}"),
            cwd: fleet.layout.root().to_path_buf(),
            argv: vec!["sleep".into(), "3600".into()],
            env: vec![],
            env_remove: vec![],
            log_path: None,
        };
        let created = match tmux.create(&spec) {
            Ok(s) => s,
            Err(e) => {
                println!("real tmux: skipped ({e})");
                let _ = tmux.kill_server();
                return;
            }
        };
        let mut s = session(&name, Capability::Builder, AgentState::Working);
        s.tmux_session = spec.name;
        s.pid = created.pid;
        rows.push(s);
    }
    for row in &rows {
        fleet.sessions.upsert(row).expect("upsert");
    }
    let counting = CountingMux::new(&tmux);
    let probe = ProcfsProbe;
    let ports = legio_watchdog::Ports {
        mux: &counting,
        probe: &probe,
        ..fleet.ports()
    };
    let mut wd = watchdog(false);
    let mut times = Vec::with_capacity(TMUX_TICKS);
    for _ in 0..TMUX_TICKS {
        let start = Instant::now();
        let report = wd.tick(&ports).expect("tick");
        times.push(start.elapsed());
        assert!(report.actions.is_empty(), "{:?}", report.actions);
    }
    times.sort();
    println!("watchdog tick over {TMUX_AGENTS} agents in real tmux sessions, {TMUX_TICKS} ticks:");
    println!(
        "  median {:?}   p90 {:?}   max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        times[times.len() - 1]
    );
    println!(
        "  tmux calls per tick: {} (listings: {})",
        counting.calls.get() as f64 / TMUX_TICKS as f64,
        counting.lists.get() as f64 / TMUX_TICKS as f64
    );
    tmux.kill_server().expect("stop the bench's tmux server");
}
