//! `--follow` against real files and a real `legio` process: bursts are printed whole, history
//! is not printed twice, a line being written is never cut, and Ctrl-C or a closed pipe ends the
//! process with status 0.

mod observe_fixture;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use legio_core::domain::event::{EventType, NewEvent};
use legio_core::ports::EventStore;
use legio_store::SqliteEventStore;
use observe_fixture::{Fixture, at};

/// How long a test waits for output it expects (generous: the machine may be loaded).
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `legio ... --follow` whose stdout lines arrive on a channel.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn start(fx: &Fixture, args: &[&str]) -> Self {
        let mut child = fx
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting legio");
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next `n` lines; fails the test if they do not come in time.
    fn take(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut got = Vec::new();
        while got.len() < n {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) => got.push(l),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("waited for {n} lines, got {}: {got:#?}", got.len())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("legio stopped after {} of {n} lines: {got:#?}", got.len())
                }
            }
        }
        got
    }

    /// Whether a line arrives within `wait`.
    fn quiet_for(&self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }

    /// Sends SIGINT (Ctrl-C) and returns the exit code and stderr.
    fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("running kill");
        assert!(kill.success());
        let status = wait(&mut self.child);
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err).expect("reading stderr");
        }
        (status.code(), err)
    }
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for legio") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("legio did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ids(lines: &[String]) -> Vec<i64> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_i64().expect("an event id")
        })
        .collect()
}

#[test]
fn feed_follow_prints_a_whole_burst_once_and_stops_on_ctrl_c() {
    let fx = Fixture::seeded();
    let follower = Follower::start(&fx, &["feed", "--follow", "--interval", "200", "--json"]);
    // The first batch: the six events of the last five minutes, one compact object per line.
    let first = follower.take(6);
    let times: Vec<String> = first
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON")["createdAt"].to_string()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );

    // A burst of 1,500 events (more than legio 0.1.0's 1,000-row poll) in one transaction's
    // worth of inserts, plus one recorded late with an old time: all are new, all are printed.
    let store = SqliteEventStore::open_in(&fx.layout()).expect("events.db");
    let mut late = NewEvent::new("builder-1", EventType::Custom, at(9, 0, 0));
    late.data = Some(r#"{"type":"late"}"#.into());
    let late_id = store.insert(&late).expect("an event");
    let mut burst = BTreeSet::from([late_id]);
    for i in 0..1500 {
        let e = NewEvent::new(format!("burst-{}", i % 7), EventType::Custom, at(12, 0, 1));
        burst.insert(store.insert(&e).expect("an event"));
    }
    let printed = ids(&follower.take(burst.len()));
    let printed_set: BTreeSet<i64> = printed.iter().copied().collect();
    assert_eq!(
        printed.len(),
        printed_set.len(),
        "an event was printed twice"
    );
    assert_eq!(printed_set, burst, "every new event, and only new events");
    assert!(
        follower.quiet_for(Duration::from_millis(800)).is_none(),
        "nothing more to print"
    );

    let (code, stderr) = follower.interrupt();
    assert_eq!(code, Some(0), "Ctrl-C ends following cleanly: {stderr}");
    assert!(stderr.contains("Following events"), "{stderr}");
}

#[test]
fn feed_follow_filters_new_events_by_agent() {
    let fx = Fixture::seeded();
    let follower = Follower::start(
        &fx,
        &[
            "feed",
            "-f",
            "--interval",
            "200",
            "--agent",
            "scout-1",
            "--since",
            "1h",
        ],
    );
    // scout-1's five events since 11:00, as human lines.
    let first = follower.take(5);
    assert!(first.iter().all(|l| l.contains("scout-1")), "{first:#?}");
    let store = SqliteEventStore::open_in(&fx.layout()).expect("events.db");
    store
        .insert(&NewEvent::new("builder-1", EventType::Custom, at(12, 0, 2)))
        .expect("an event");
    let mut mine = NewEvent::new("scout-1", EventType::SessionStart, at(12, 0, 3));
    mine.data = Some(r#"{"source":"resume"}"#.into());
    store.insert(&mine).expect("an event");
    let next = follower.take(1);
    assert!(
        next[0].contains("SESS+ scout-1") && next[0].contains("source=resume"),
        "{next:?}"
    );
    assert_eq!(follower.interrupt().0, Some(0));
}

#[test]
fn a_closed_pipe_ends_feed_follow_quietly() {
    let fx = Fixture::seeded();
    let mut child = fx
        .command(&["feed", "--follow", "--interval", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting legio");
    // Read one line, then close our end (as `legio feed -f | head -1` does).
    let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first line");
    drop(stdout);
    let store = SqliteEventStore::open_in(&fx.layout()).expect("events.db");
    for _ in 0..3 {
        store
            .insert(&NewEvent::new("builder-1", EventType::Custom, at(12, 0, 5)))
            .expect("an event");
    }
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(0), "a closed pipe is a clean end");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).unwrap();
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn feed_follow_on_a_project_without_events_starts_when_the_first_arrives() {
    let fx = Fixture::empty();
    let follower = Follower::start(&fx, &["feed", "--follow", "--interval", "200", "--json"]);
    assert!(follower.quiet_for(Duration::from_millis(500)).is_none());
    let store = SqliteEventStore::open_in(&fx.layout()).expect("events.db");
    let id = store
        .insert(&NewEvent::new("builder-1", EventType::Spawn, at(12, 0, 0)))
        .expect("an event");
    assert_eq!(ids(&follower.take(1)), [id]);
    assert_eq!(follower.interrupt().0, Some(0));
}

#[test]
fn logs_follow_prints_whole_lines_only_and_picks_up_new_logs() {
    let fx = Fixture::seeded();
    let logs = fx.layout().file("logs");
    let follower = Follower::start(&fx, &["logs", "--follow", "--interval", "200"]);
    // The last lines of each log; the half-written last line of the terminal waits.
    let first = follower.take(12);
    assert_eq!(first[0], "==> builder-1 (terminal.log) <==");
    assert_eq!(first[4], "test settings::saves ... FAILED");
    assert!(
        !first.iter().any(|l| l.contains("half a line")),
        "{first:#?}"
    );
    assert_eq!(first[6], "==> scout-1 (output.log) <==");
    assert_eq!(first[10], "==> legio (legio-errors.log) <==");

    let mut terminal = std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("builder-1/terminal.log"))
        .expect("terminal.log");
    write!(terminal, " and fini").expect("a write");
    terminal.flush().expect("a flush");
    assert!(
        follower.quiet_for(Duration::from_millis(700)).is_none(),
        "a line without its newline is not printed yet"
    );
    write!(terminal, "shed \u{e9}t\u{e9}\r\n").expect("a write");
    let next = follower.take(3);
    assert_eq!(
        next,
        [
            "",
            "==> builder-1 (terminal.log) <==",
            "> half a line being typed and finished été"
        ]
    );

    // A log that appears while following is shown from its start.
    std::fs::create_dir_all(logs.join("builder-2")).expect("a log dir");
    std::fs::write(logs.join("builder-2/output.log"), "hello\nworld\n").expect("output.log");
    let next = follower.take(4);
    assert_eq!(
        next,
        ["", "==> builder-2 (output.log) <==", "hello", "world"]
    );

    // A log that became shorter is read again from its start, and says so.
    std::fs::write(logs.join("builder-2/output.log"), "new\n").expect("truncating");
    assert_eq!(follower.take(1), ["new"]);
    let (code, stderr) = follower.interrupt();
    assert_eq!(code, Some(0));
    assert!(stderr.contains("became shorter"), "{stderr}");
}

#[test]
fn inspect_follow_redraws_until_ctrl_c() {
    let fx = Fixture::seeded();
    let follower = Follower::start(
        &fx,
        &[
            "inspect",
            "builder-1",
            "--follow",
            "--interval",
            "200",
            "--json",
        ],
    );
    let frames = follower.take(2);
    for f in &frames {
        let v: serde_json::Value = serde_json::from_str(f).expect("one JSON object per redraw");
        assert_eq!(v["session"]["agentName"], "builder-1");
    }
    assert_eq!(follower.interrupt().0, Some(0));
}
