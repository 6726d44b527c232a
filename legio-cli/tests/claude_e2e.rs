//! legio end to end with the real Claude Code (2.1.332, see `support/install.rs`): `legio
//! sling --runtime claude` starts an agent, in tmux and headless, whose model is the scripted
//! Messages API on loopback. One agent run per backend shows every behaviour, each asserted
//! from what the scripted server received (what the model was shown) and from legio's stores:
//!
//! 1. the first prompt reaches the model; the agent's hooks call `legio hook`, and the events
//!    land with the agent's name, Claude Code's session id (the one the client sent the server)
//!    and the agent's run;
//! 2. the model's `git push` and its Write outside the worktree are denied by the guard: the
//!    tools do not run, and the next request carries each deny reason in an error tool result;
//! 3. mail sent to the agent while the server holds its next turn reaches the model in the
//!    request after that turn, exactly once (the later requests carry it once, in the history,
//!    never injected again), and is marked read in mail.db; mail sent while the model ends its
//!    turn comes back from the Stop hook as the reason to go on, reaches the model once, and
//!    the agent stays working (its turn did not end);
//! 4. the turn's end makes the agent idle, not completed; after a nudge, the model runs `legio
//!    mail send --type worker_done` through Bash and the agent is completed (a later turn end
//!    does not undo that);
//! 5. `legio costs --json` reads the transcript claude wrote and reports exactly the usage the
//!    server reported, response by response.
//!
//! Without the binary these tests fail with the reason, unless `LEGIO_SKIP_CLAUDE_TESTS=1`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

#[allow(dead_code)] // the fleet tests' harness: this binary uses a part of it
#[path = "fleet/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use legio_core::AgentState;
use legio_core::ports::MailStore;
use serde_json::Value;

use harness::{Backend, Fleet};
use support::claude::ClaudeHome;
use support::install::claude_bin;
use support::scripted_api::{RecordedRequest, ScriptedApi, ServedTurn, ToolCall, Turn, Usage};

/// The agent every scenario slings.
const AGENT: &str = "c1";
/// Its task.
const TASK: &str = "t-1";
/// The body of the mail sent mid-turn: a marker to count in the requests.
const MAIL_MARKER: &str = "MIDTURN-MAIL-5150: also update the changelog";
/// The body of the mail sent while the model ends its turn.
const LATE_MARKER: &str = "LATE-MAIL-6262: and tag the release";
/// How many times Claude Code (2.1.332) shows the model one Stop hook block reason: as "Stop
/// hook feedback" in a user message and as a "Stop hook blocking error" system message.
const STOP_REASON_COPIES: usize = 2;
/// The text typed to get the idle agent going again.
const NUDGE: &str = "Report your work to the orchestrator.";
/// How long the model may take to receive a request, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(90);

/// The events `legio hook` records for this scenario (the others come from legio's commands:
/// spawn, nudge, the agent's own `legio mail send`, state changes).
const HOOK_EVENT_TYPES: [&str; 7] = [
    "session_start",
    "prompt_submit",
    "tool_start",
    "tool_end",
    "guard_deny",
    "mail_received",
    "turn_end",
];

/// Distinct usage per turn, so a lost, doubled or mixed-up response shows in the costs.
fn usage(n: u64) -> Usage {
    Usage {
        input_tokens: 100 + n,
        output_tokens: 20 + n,
        cache_read_input_tokens: 1_000 * n,
        cache_creation_5m: 300 + n,
        cache_creation_1h: 40 + n,
    }
}

/// What the scripted model does, turn by turn.
fn script(outside: &Path) -> Vec<Turn> {
    let worker_done = format!(
        "legio mail send --to orchestrator --type worker_done --subject 'Worker done: {TASK}' \
         --body 'All done.'"
    );
    vec![
        // 0 (the first prompt): two calls the guard must deny.
        Turn::tool(ToolCall::bash("git push origin HEAD"))
            .with_tool(ToolCall::write(
                outside.display().to_string(),
                "escaped the worktree\n",
            ))
            .with_usage(usage(1)),
        // 1: held while the test sends mail; a harmless call, whose PostToolUse delivers it.
        Turn::tool(ToolCall::bash("echo still working"))
            .held()
            .with_usage(usage(2)),
        // 2: held while the test sends more mail; then the model ends its turn, and the Stop
        // hook hands it the mail instead.
        Turn::text("Pausing here.").held().with_usage(usage(3)),
        // 3: held while the test looks at the agent still working; the turn ends.
        Turn::text("Noted the late mail.")
            .held()
            .with_usage(usage(4)),
        // 4 (after the nudge): the agent reports that it finished.
        Turn::tool(ToolCall::bash(worker_done)).with_usage(usage(5)),
        // 5: the turn ends again.
        Turn::text("Reported.").with_usage(usage(6)),
    ]
}

/// One agent's run: the fleet, the scripted model, the agent's Claude Code home.
struct AgentRun {
    f: Fleet,
    server: ScriptedApi,
    home: ClaudeHome,
    /// Where the Write the guard must deny points.
    outside: PathBuf,
}

/// Runs the whole scenario on `backend`.
fn agent_run_shows_every_behaviour(backend: Backend) {
    let Some(claude) = claude_bin() else { return };
    let run = AgentRun::sling(claude, backend);
    run.guard_denials_reach_the_model();
    let mail_id = run.mail_sent_mid_turn_reaches_the_model();
    run.mail_sent_at_the_turn_end_keeps_the_agent_working();
    let turns = run.turn_end_idles_and_worker_done_completes();
    for (i, turn) in turns.iter().enumerate() {
        let mid = usize::from(i >= 2);
        let late = if i >= 3 { STOP_REASON_COPIES } else { 0 };
        assert_eq!(
            (turn.conversation_count(MAIL_MARKER), late_mail_copies(turn)),
            (mid, late),
            "request {i} carries the mails other than once from their delivery on"
        );
    }
    assert_eq!(
        run.server.exhausted(),
        0,
        "the client asked for more turns than scripted"
    );
    let session_id = client_session_id(&turns);
    run.events_name_the_agent_session_and_run(&turns, &session_id, &mail_id);
    run.costs_match_the_served_usage(&turns, &session_id);
}

impl AgentRun {
    /// Slings the agent with the claude runtime on `backend`, its model the scripted server.
    fn sling(claude: &Path, backend: Backend) -> Self {
        let f = Fleet::new(backend);
        // The main checkout: outside the worktree, and not a scratch directory (as `/tmp` is).
        let outside = f.p.root.join("ESCAPED.md");
        let server = ScriptedApi::start(script(&outside));
        let mut home = ClaudeHome::new(f.p.home());
        home.trust(&f.p.root);
        // Only claude's folder is added: the agent finds `legio` (its worker_done) because legio
        // puts its own folder first on every agent's PATH.
        let env = home.agent_env(&server, &[claude.parent().unwrap()]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

        f.ok(&["task", "create", "Tidy the README", "--id", TASK]);
        let args = [
            "--json",
            "sling",
            TASK,
            "--name",
            AGENT,
            "--runtime",
            "claude",
        ];
        let out = f.run(&args, &env);
        assert!(
            out.status.success(),
            "sling failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let slung: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(slung["runtime"], "claude", "{slung}");
        Self {
            f,
            server,
            home,
            outside,
        }
    }

    /// Turn 0's two calls come back denied, each with its reason, in request 1 (held).
    fn guard_denials_reach_the_model(&self) {
        let turns = wait_for_turn_requests(&self.server, 2);
        assert!(
            turns[0].conversation_contains(&format!("You are {AGENT} (builder)")),
            "the first prompt did not reach the model: {:?}",
            turns[0].message_texts()
        );
        let reasons = guard_denials(&self.f);
        assert_eq!(
            reasons.len(),
            2,
            "the guard denied {reasons:?}; events: {:?}",
            self.f.event_types(AGENT)
        );
        let served0 = turns[0].served().unwrap();
        for (call, tool_use_id) in ["git push", "Write"].iter().zip(&served0.tool_use_ids) {
            let result = turns[1].tool_result(tool_use_id).unwrap_or_else(|| {
                panic!("no tool_result for the denied {call} ({tool_use_id}) reached the model")
            });
            assert!(result.is_error, "{call}: {result:?}");
            let reason = reasons
                .iter()
                .find(|r| result.content.contains(r.as_str()))
                .unwrap_or_else(|| {
                    panic!(
                        "the model was not told why {call} was denied: {:?} (reasons: \
                         {reasons:?})",
                        result.content
                    )
                });
            let names_it = if *call == "Write" {
                reason.contains("worktree")
            } else {
                reason.contains("push")
            };
            assert!(names_it, "{call} was denied for {reason:?}");
        }
        assert!(
            !self.outside.exists(),
            "the denied Write ran: {}",
            self.outside.display()
        );
    }

    /// Mail sent while the server holds turn 1 is in request 2 exactly once, and read.
    /// Returns its id.
    fn mail_sent_mid_turn_reaches_the_model(&self) -> String {
        let turns = wait_for_turn_requests(&self.server, 2);
        assert!(!turns[1].conversation_contains(MAIL_MARKER));
        let mail_id = self.send_mail("Mid-turn note", MAIL_MARKER);
        self.server.release();
        let turns = wait_for_turn_requests(&self.server, 3);
        assert_eq!(
            turns[2].conversation_count(MAIL_MARKER),
            1,
            "the mail did not reach the model exactly once in the request after the held \
             turn: {:?}",
            turns[2].message_texts()
        );
        assert!(
            mail(&self.f, &mail_id).read,
            "the delivered mail is not marked read"
        );
        mail_id
    }

    /// Mail sent while the server holds turn 2 (which ends the turn) comes back from the Stop
    /// hook as the reason to go on: request 3 carries it, it is read, and the agent, whose turn
    /// did not end, is still working while the model answers.
    fn mail_sent_at_the_turn_end_keeps_the_agent_working(&self) {
        let late_id = self.send_mail("Late note", LATE_MARKER);
        self.server.release();
        let turns = wait_for_turn_requests(&self.server, 4);
        assert_eq!(
            late_mail_copies(&turns[3]),
            STOP_REASON_COPIES,
            "the mail the Stop hook claimed did not reach the model once: {:?}",
            turns[3].message_texts()
        );
        assert!(
            mail(&self.f, &late_id).read,
            "the late mail is not marked read"
        );
        assert_eq!(
            self.f.row(AGENT).unwrap().state,
            AgentState::Working,
            "the Stop hook kept the agent going, yet it is not working: {:?}",
            self.f.event_types(AGENT)
        );
        assert!(
            !self.f.event_types(AGENT).iter().any(|t| t == "turn_end"),
            "a turn the Stop hook continued was recorded as ended"
        );
        self.server.release();
    }

    /// Sends mail from the orchestrator to the agent; returns its id.
    fn send_mail(&self, subject: &str, body: &str) -> String {
        let sent = self.f.json(&[
            "mail",
            "send",
            "--to",
            AGENT,
            "--subject",
            subject,
            "--body",
            body,
        ]);
        sent["id"]
            .as_str()
            .unwrap_or_else(|| panic!("mail send printed no id: {sent}"))
            .to_owned()
    }

    /// Turn 3 ends: idle. The nudge starts turn 4, whose Bash call sends worker_done:
    /// completed, and turn 5's end leaves it so. Returns every model call.
    fn turn_end_idles_and_worker_done_completes(&self) -> Vec<RecordedRequest> {
        let f = &self.f;
        f.wait_state(AGENT, AgentState::Idle);
        f.wait_event(AGENT, "turn_end");
        assert_eq!(f.row(AGENT).unwrap().state, AgentState::Idle);
        f.ok(&["nudge", AGENT, NUDGE]);
        f.wait_state(AGENT, AgentState::Completed);
        let turns = wait_for_turn_requests(&self.server, 6);
        wait_for_events(f, "turn_end", 2);
        assert_eq!(
            f.row(AGENT).unwrap().state,
            AgentState::Completed,
            "a turn end after worker_done must not undo completion"
        );
        assert!(
            turns[4].conversation_contains(NUDGE),
            "the nudge did not reach the model"
        );
        let worker_done_call = &turns[4].served().unwrap().tool_use_ids[0];
        let done = turns[5].tool_result(worker_done_call).unwrap();
        assert!(
            !done.is_error,
            "the model's worker_done command failed: {done:?}"
        );
        let reports = f.json(&["mail", "list", "--from", AGENT]);
        assert!(
            reports.to_string().contains("worker_done"),
            "no worker_done from {AGENT} in mail.db: {reports}"
        );
        turns
    }

    /// The hooks' events name the agent, the session the client used, and the agent's run;
    /// every call that ran was seen under the id the server gave it; the mid-turn mail was
    /// claimed once, by the PostToolUse hook of the held turn's call.
    fn events_name_the_agent_session_and_run(
        &self,
        turns: &[RecordedRequest],
        session_id: &str,
        mail_id: &str,
    ) {
        let run_id = self
            .f
            .row(AGENT)
            .unwrap()
            .run_id
            .expect("a slung agent belongs to a run");
        let events = self.f.events(AGENT);
        let types: BTreeSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        for expected in HOOK_EVENT_TYPES {
            assert!(types.contains(expected), "no {expected} event: {types:?}");
        }
        for e in &events {
            assert_eq!(e.agent_name, AGENT);
            assert_eq!(e.run_id.as_deref(), Some(run_id.as_str()), "{e:?}");
            if HOOK_EVENT_TYPES.contains(&e.event_type.as_str()) {
                assert_eq!(
                    e.session_id.as_deref(),
                    Some(session_id),
                    "a hook event without the client's session id: {e:?}"
                );
            }
        }
        let ran: BTreeSet<String> = events
            .iter()
            .filter(|e| e.event_type == "tool_end")
            .map(|e| tool_use_id(&self.f, e.id))
            .collect();
        let calls_that_ran: BTreeSet<String> = turns
            .iter()
            .filter_map(RecordedRequest::served)
            .filter(|t| t.index == 1 || t.index == 4)
            .flat_map(|t| t.tool_use_ids.clone())
            .collect();
        assert_eq!(ran, calls_that_ran);
        let delivered = events
            .iter()
            .filter(|e| e.event_type == "mail_received")
            .filter_map(|e| e.data.as_deref())
            .filter(|d| d.contains(mail_id))
            .collect::<Vec<_>>();
        assert_eq!(delivered.len(), 1, "{delivered:?}");
        assert!(delivered[0].contains("PostToolUse"), "{delivered:?}");
    }

    /// `legio costs --json` reads the transcript claude wrote and reports, response by
    /// response, the usage the server reported.
    fn costs_match_the_served_usage(&self, turns: &[RecordedRequest], session_id: &str) {
        let responses: Vec<ServedTurn> = turns.iter().filter_map(|t| t.served().cloned()).collect();
        let worktree = self.f.p.root.join(".legio").join("worktrees").join(AGENT);
        let transcript = self.home.transcript_path(&worktree, session_id);
        // Interactive claude may write the last response to its transcript after the Stop hook.
        let last = &responses.last().unwrap().message_id;
        wait_for(&format!("{last} in {}", transcript.display()), || {
            std::fs::read_to_string(&transcript).is_ok_and(|t| t.contains(last.as_str()))
        });
        let costs = self.f.json(&["costs", "--agent", AGENT]);
        let agent = &costs["agents"][0];
        assert_eq!(agent["agentName"], AGENT, "{costs}");
        assert_eq!(agent["problems"], serde_json::json!([]), "{costs}");
        assert_eq!(
            agent["transcripts"][0].as_str(),
            Some(transcript.to_string_lossy().as_ref()),
            "{costs}"
        );
        assert_eq!(agent["report"]["responses"], responses.len(), "{costs}");
        let total = &agent["report"]["total"];
        let sum = |field: fn(&Usage) -> u64| responses.iter().map(|t| field(&t.usage)).sum::<u64>();
        for (key, expected) in [
            ("inputTokens", sum(|u| u.input_tokens)),
            ("outputTokens", sum(|u| u.output_tokens)),
            ("cacheReadTokens", sum(|u| u.cache_read_input_tokens)),
            ("cacheWrite5mTokens", sum(|u| u.cache_creation_5m)),
            ("cacheWrite1hTokens", sum(|u| u.cache_creation_1h)),
        ] {
            assert_eq!(total[key], expected, "{key}: {costs}");
        }
    }
}

/// Waits until the server has received `count` model calls; returns them.
fn wait_for_turn_requests(server: &ScriptedApi, count: usize) -> Vec<RecordedRequest> {
    let arrived = server.wait_until(PATIENCE, |requests| {
        requests.iter().filter(|r| r.is_turn_call()).count() >= count
    });
    let turns = server.turn_requests();
    assert!(
        arrived,
        "the model received {} of {count} requests within {} s; the last one: {:?}",
        turns.len(),
        PATIENCE.as_secs(),
        turns.last().map(RecordedRequest::message_texts)
    );
    turns
}

/// Waits until `done()` holds; fails the test naming `what` after [`PATIENCE`].
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {} s for {what}",
            PATIENCE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the agent recorded `count` events of `event_type`.
fn wait_for_events(f: &Fleet, event_type: &str, count: usize) {
    wait_for(&format!("{count} {event_type} events of {AGENT}"), || {
        f.event_types(AGENT)
            .iter()
            .filter(|t| *t == event_type)
            .count()
            >= count
    });
}

/// The reasons of the agent's `guard_deny` events.
fn guard_denials(f: &Fleet) -> Vec<String> {
    f.events(AGENT)
        .iter()
        .filter(|e| e.event_type == "guard_deny")
        .map(|e| {
            let data: Value = serde_json::from_str(e.data.as_deref().unwrap_or("null")).unwrap();
            data["reason"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// How many times the late mail is in the conversation, failing the test when a copy is
/// anywhere but in a Stop hook's output (the one channel that delivered it).
fn late_mail_copies(turn: &RecordedRequest) -> usize {
    turn.message_texts()
        .iter()
        .filter(|(_, text)| text.contains(LATE_MARKER))
        .inspect(|(role, text)| {
            assert!(
                text.contains("Stop hook"),
                "the late mail reached the model through something other than the Stop hook \
                 ({role}): {text}"
            );
        })
        .map(|(_, text)| text.matches(LATE_MARKER).count())
        .sum()
}

/// The `tool_use_id` column of event `id` (the store's event type does not carry it).
fn tool_use_id(f: &Fleet, id: i64) -> String {
    let db = f.p.root.join(".legio").join("events.db");
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT tool_use_id FROM events WHERE id = ?1",
        [id],
        |row| row.get::<_, Option<String>>(0),
    )
    .unwrap()
    .unwrap_or_else(|| panic!("event {id} has no tool_use_id"))
}

/// The session id the client sent with every model call (all the same).
fn client_session_id(turns: &[RecordedRequest]) -> String {
    let ids: BTreeSet<&str> = turns
        .iter()
        .filter_map(|t| t.header("x-claude-code-session-id"))
        .collect();
    assert_eq!(ids.len(), 1, "the client used these session ids: {ids:?}");
    ids.into_iter().next().unwrap().to_owned()
}

/// A message from mail.db.
fn mail(f: &Fleet, id: &str) -> legio_core::domain::mail::MailMessage {
    legio_store::SqliteMailStore::open_in(&legio_core::Layout::new(&f.p.root))
        .unwrap()
        .get(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no message {id} in mail.db"))
}

#[test]
fn a_claude_agent_in_tmux_is_guarded_gets_its_mail_once_and_completes_only_when_it_says_so() {
    agent_run_shows_every_behaviour(Backend::Tmux);
}

#[test]
fn a_headless_claude_agent_is_guarded_gets_its_mail_once_and_completes_only_when_it_says_so() {
    agent_run_shows_every_behaviour(Backend::Headless);
}
