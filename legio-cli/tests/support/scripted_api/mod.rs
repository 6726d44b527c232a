//! A scripted Anthropic Messages API server on loopback: the "model" for tests that drive the
//! real Claude Code binary.
//!
//! ```ignore
//! let server = ScriptedApi::start(vec![
//!     Turn::tool(ToolCall::bash("echo hi")),
//!     Turn::text("done"),
//! ]);
//! // ... run claude with ANTHROPIC_BASE_URL = server.base_url() ...
//! let turns = server.turn_requests();
//! assert_eq!(turns[1].tool_results()[0].content, "hi");
//! ```
//!
//! What it serves (observed against claude 2.1.332, see `support/mod.rs` for the client facts):
//! - `POST /v1/messages?beta=true` with `"stream": true`: the next [`Turn`] of the script, as
//!   server-sent events (`message_start`, `content_block_start` / `content_block_delta` /
//!   `content_block_stop` per block, `message_delta` with the stop reason and usage,
//!   `message_stop`), in a chunked response with one chunk per event. Every streaming call
//!   consumes one turn, in order. When the script is used up the server answers
//!   [`EXHAUSTED_TEXT`] with `end_turn` (so the client ends its turn instead of retrying) and
//!   records [`Reply::Exhausted`]; tests should assert [`ScriptedApi::exhausted`] is 0.
//!   A turn marked [`Turn::held`] is recorded as soon as its request arrives but answered only
//!   after the test calls [`ScriptedApi::release`]: the model is "thinking" for as long as the
//!   test needs (e.g. to send mail mid-turn).
//! - `POST /v1/messages` without streaming (titles, summaries, one-shot helpers): a short text
//!   message, without touching the script.
//! - `POST /v1/messages/count_tokens`: an `input_tokens` estimate (body length / 4).
//! - `GET` / `HEAD` on any path (health probes): `200 {}`. Other methods or paths: a 404 in the
//!   API's error shape.
//!
//! Every request is recorded, body included, before it is answered, so a test can assert what
//! the model was shown. The HTTP side is HTTP/1.1 with keep-alive, `Content-Length` or chunked
//! request bodies, `Expect: 100-continue`, and any number of concurrent connections (a thread
//! each). Dropping the server stops it and closes every connection.
//!
//! `legio-tmux/tests/claude_real.rs` includes this module by path: it must not use the other
//! support modules.

use std::collections::VecDeque;
use std::io::{self, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use http::{HttpRequest, ReadError, read_request, write_full, write_stream};

mod http;

/// The text answered when a streaming call arrives after the script is used up.
pub const EXHAUSTED_TEXT: &str = "scripted API: the script has no turn left";

/// How long a held turn waits for [`ScriptedApi::release`] before it is answered anyway (so a
/// test that forgot to release fails on its assertions instead of hanging).
const HOLD_TIMEOUT: Duration = Duration::from_secs(180);

/// The model id reported when the request names none.
const DEFAULT_MODEL: &str = "claude-scripted";

/// Token figures reported for one response, as the real API reports them: `input_tokens`,
/// `cache_read_input_tokens` and the cache creation split in `message_start`, the final
/// `output_tokens` in `message_delta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the 5-minute cache.
    pub cache_creation_5m: u64,
    /// Input tokens written to the 1-hour cache.
    pub cache_creation_1h: u64,
}

impl Default for Usage {
    /// Small distinct figures, so a transcript that drops or mixes fields shows it.
    fn default() -> Self {
        Self {
            input_tokens: 11,
            output_tokens: 7,
            cache_read_input_tokens: 5,
            cache_creation_5m: 3,
            cache_creation_1h: 2,
        }
    }
}

impl Usage {
    /// `cache_creation_input_tokens`: both cache write tiers together.
    pub fn cache_creation_input_tokens(&self) -> u64 {
        self.cache_creation_5m + self.cache_creation_1h
    }

    /// The usage object of `message_start` (output tokens not yet known: 1, as the API does).
    fn start_json(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens(),
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m,
                "ephemeral_1h_input_tokens": self.cache_creation_1h,
            },
            "output_tokens": 1,
            "service_tier": "standard",
        })
    }
}

/// A tool call the scripted model makes.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool (`Bash`, `Write`, `Edit`, `Read`, ...).
    pub name: String,
    /// Its input object.
    pub input: Value,
}

impl ToolCall {
    /// Any tool with any input.
    pub fn new(name: impl Into<String>, input: Value) -> Self {
        Self {
            name: name.into(),
            input,
        }
    }

    /// `Bash {command, description}`.
    pub fn bash(command: impl Into<String>) -> Self {
        Self::new(
            "Bash",
            json!({"command": command.into(), "description": "scripted command"}),
        )
    }

    /// `Write {file_path, content}`; Claude Code wants an absolute path.
    pub fn write(file_path: impl Into<String>, content: impl Into<String>) -> Self {
        Self::new(
            "Write",
            json!({"file_path": file_path.into(), "content": content.into()}),
        )
    }

    /// `Edit {file_path, old_string, new_string}`; the file must have been read first.
    pub fn edit(
        file_path: impl Into<String>,
        old_string: impl Into<String>,
        new_string: impl Into<String>,
    ) -> Self {
        Self::new(
            "Edit",
            json!({
                "file_path": file_path.into(),
                "old_string": old_string.into(),
                "new_string": new_string.into(),
            }),
        )
    }

    /// `Read {file_path}`.
    pub fn read(file_path: impl Into<String>) -> Self {
        Self::new("Read", json!({"file_path": file_path.into()}))
    }
}

/// One content block of a scripted response.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Assistant text.
    Text(String),
    /// A tool call; the server gives it a fresh `toolu_...` id.
    ToolUse(ToolCall),
}

/// One scripted model response: its blocks, its usage figures, an optional delay before it is
/// sent, and whether it is held until the test releases it. The stop reason is `tool_use` when a block calls a tool, `end_turn` otherwise.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Turn {
    /// The content blocks, in order.
    pub blocks: Vec<Block>,
    /// The usage reported.
    pub usage: Usage,
    /// Wait this long before answering (to keep a turn in flight).
    pub delay: Duration,
    /// Answer only after [`ScriptedApi::release`] (see [`Turn::held`]).
    pub held: bool,
}

impl Turn {
    /// A turn that only says `text` and ends.
    pub fn text(text: impl Into<String>) -> Self {
        Self::default().with_text(text)
    }

    /// A turn that makes one tool call.
    pub fn tool(call: ToolCall) -> Self {
        Self::default().with_tool(call)
    }

    /// Appends a text block.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// Appends a tool call.
    #[must_use]
    pub fn with_tool(mut self, call: ToolCall) -> Self {
        self.blocks.push(Block::ToolUse(call));
        self
    }

    /// Sets the usage figures reported.
    #[must_use]
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Delays the answer.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Holds the answer until the test calls [`ScriptedApi::release`] (held turns are released
    /// in script order, one per call), so the test can act while the client waits for the
    /// model. Never held longer than three minutes.
    #[must_use]
    pub fn held(mut self) -> Self {
        self.held = true;
        self
    }

    /// `tool_use` or `end_turn`.
    pub fn stop_reason(&self) -> &'static str {
        if self.blocks.iter().any(|b| matches!(b, Block::ToolUse(_))) {
            "tool_use"
        } else {
            "end_turn"
        }
    }
}

/// What the server sent back for one scripted turn: the ids a test correlates with the client's
/// next request and its transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedTurn {
    /// The turn's position in the script (0-based).
    pub index: usize,
    /// `message.id` (`msg_scripted_N`).
    pub message_id: String,
    /// The `request-id` response header (`req_scripted_N`); the client records it as
    /// `requestId` in its transcript.
    pub request_id: String,
    /// The ids given to the turn's tool calls, in block order.
    pub tool_use_ids: Vec<String>,
    /// The usage reported.
    pub usage: Usage,
}

/// How the server answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A streaming messages call answered with a scripted turn.
    Turn(ServedTurn),
    /// A streaming messages call that came after the script was used up.
    Exhausted,
    /// A non-streaming messages call, answered with a short text.
    NonStreaming,
    /// A token counting call.
    CountTokens,
    /// A GET or HEAD probe.
    Probe,
    /// Anything else: 404.
    NotFound,
    /// A request the server could not read (bad framing, too large, bad JSON): 400 or 413.
    BadRequest(String),
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target, query included (`/v1/messages?beta=true`).
    pub path: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// The raw body length in bytes.
    pub body_len: usize,
    /// How the server answered.
    pub reply: Reply,
    /// When it arrived, relative to the server's start.
    pub received_after: Duration,
}

/// A `tool_result` block the client sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The `tool_use` it answers.
    pub tool_use_id: String,
    /// Its content flattened to text (string content, or the text blocks joined by newlines).
    pub content: String,
    /// `is_error`.
    pub is_error: bool,
}

impl RecordedRequest {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `messages` array of a messages call (empty otherwise).
    pub fn messages(&self) -> &[Value] {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Every `tool_result` block in the conversation, oldest first.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        self.messages()
            .iter()
            .filter_map(|m| m.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            .map(|b| ToolResult {
                tool_use_id: str_field(b, "tool_use_id").to_owned(),
                content: b.get("content").map(flatten_text).unwrap_or_default(),
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect()
    }

    /// The `tool_result` answering `tool_use_id`, if the conversation has one.
    pub fn tool_result(&self, tool_use_id: &str) -> Option<ToolResult> {
        self.tool_results()
            .into_iter()
            .find(|r| r.tool_use_id == tool_use_id)
    }

    /// Each message of the conversation as `(role, text)`, its text blocks and tool result
    /// contents flattened (tool calls and images leave no text).
    pub fn message_texts(&self) -> Vec<(String, String)> {
        self.messages()
            .iter()
            .map(|m| {
                let role = str_field(m, "role").to_owned();
                let text = m.get("content").map(flatten_text).unwrap_or_default();
                (role, text)
            })
            .collect()
    }

    /// Whether any message of the conversation (not the system prompt, not the tool
    /// definitions) contains `needle`.
    pub fn conversation_contains(&self, needle: &str) -> bool {
        self.message_texts().iter().any(|(_, t)| t.contains(needle))
    }

    /// How many times `needle` occurs in the conversation's messages (a text delivered once
    /// and carried along in the history counts once).
    pub fn conversation_count(&self, needle: &str) -> usize {
        self.message_texts()
            .iter()
            .map(|(_, t)| t.matches(needle).count())
            .sum()
    }

    /// The system prompt flattened to text.
    pub fn system_text(&self) -> String {
        self.body
            .get("system")
            .map(flatten_text)
            .unwrap_or_default()
    }

    /// Whether this was a streaming messages call (one that consumes a turn).
    pub fn is_turn_call(&self) -> bool {
        matches!(self.reply, Reply::Turn(_) | Reply::Exhausted)
    }

    /// The turn served for it, if any.
    pub fn served(&self) -> Option<&ServedTurn> {
        match &self.reply {
            Reply::Turn(t) => Some(t),
            _ => None,
        }
    }
}

/// A string field of a JSON object, or "".
fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Text of a message `content` (a string, or blocks whose `text` and nested tool result
/// `content` are joined by newlines).
fn flatten_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_owned),
                Some("tool_result") => b.get("content").map(flatten_text),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The scripted server. Start it, point the client at [`ScriptedApi::base_url`], read what it
/// received with [`ScriptedApi::requests`]. Stops when dropped.
pub struct ScriptedApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// State shared by the acceptor, the connection threads and the test.
struct Shared {
    state: Mutex<State>,
    /// Notified after every recorded request.
    recorded: Condvar,
    /// Notified by [`ScriptedApi::release`] and when the server stops.
    released: Condvar,
    stopping: AtomicBool,
    started: Instant,
}

#[derive(Default)]
struct State {
    script: VecDeque<Turn>,
    next_turn: usize,
    /// Ids for messages, requests and tool calls, unique for this server.
    next_id: u64,
    requests: Vec<RecordedRequest>,
    /// Held turns served so far (each takes the next hold number).
    holds_taken: usize,
    /// Held turns the test has released.
    holds_released: usize,
    /// Clones of open connections by id, shut down when the server stops.
    connections: Vec<(u64, TcpStream)>,
    next_connection: u64,
}

impl ScriptedApi {
    /// Starts a server on `127.0.0.1` (a free port) that plays `script`.
    pub fn start(script: impl IntoIterator<Item = Turn>) -> Self {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("binding a loopback port for the scripted API");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: script.into_iter().collect(),
                ..State::default()
            }),
            recorded: Condvar::new(),
            released: Condvar::new(),
            stopping: AtomicBool::new(false),
            started: Instant::now(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("scripted-api-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawning the scripted API acceptor thread")
        };
        Self {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends turns to the script (e.g. before typing a second prompt).
    pub fn push_turns(&self, turns: impl IntoIterator<Item = Turn>) {
        self.shared.lock().script.extend(turns);
    }

    /// Lets the oldest held turn that is not yet released be answered (see [`Turn::held`]). A
    /// release made before the held request arrives applies to it when it does.
    pub fn release(&self) {
        self.shared.lock().holds_released += 1;
        self.shared.released.notify_all();
    }

    /// How many scripted turns are still unplayed.
    pub fn remaining_turns(&self) -> usize {
        self.shared.lock().script.len()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The streaming messages calls (the model turns), in arrival order.
    pub fn turn_requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.is_turn_call())
            .cloned()
            .collect()
    }

    /// How many streaming calls arrived after the script was used up.
    pub fn exhausted(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.reply == Reply::Exhausted)
            .count()
    }

    /// Waits until `done(requests)` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[RecordedRequest]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if done(&state.requests) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .recorded
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for ScriptedApi {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.released.notify_all();
        // Wake the acceptor with a connection of our own, then close every client connection
        // so their threads see the end of their streams.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for (_, conn) in self.shared.lock().connections.drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Shared {
    /// The state, even if a connection thread panicked while holding it (the recorded requests
    /// are still worth reading).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until held turn `number` (1-based) is released, the server stops, or
    /// [`HOLD_TIMEOUT`] passes.
    fn wait_for_release(&self, number: usize) {
        let deadline = Instant::now() + HOLD_TIMEOUT;
        let mut state = self.lock();
        while state.holds_released < number && !self.stopping.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            state = self
                .released
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn record(&self, request: RecordedRequest) {
        self.lock().requests.push(request);
        self.recorded.notify_all();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let id = {
            let mut state = shared.lock();
            state.next_connection += 1;
            let id = state.next_connection;
            state.connections.push((id, clone));
            id
        };
        let shared = Arc::clone(shared);
        // Without a thread the connection is dropped: the client sees it close and retries.
        let _ = thread::Builder::new()
            .name("scripted-api-conn".into())
            .spawn(move || {
                // A connection error (reset, shutdown at stop) only ends this connection.
                let _ = serve_connection(stream, &shared);
                shared.lock().connections.retain(|(c, _)| *c != id);
            });
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(r) => r,
            Err(ReadError::Closed) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Bad(status, why)) => {
                shared.record(RecordedRequest {
                    method: String::new(),
                    path: String::new(),
                    headers: Vec::new(),
                    body: Value::Null,
                    body_len: 0,
                    reply: Reply::BadRequest(why.clone()),
                    received_after: shared.started.elapsed(),
                });
                let body = error_body("invalid_request_error", &why);
                write_full(&mut writer, status, "application/json", &[], &body, false)?;
                return Ok(());
            }
        };
        let keep_alive = request.keep_alive;
        answer(&request, &mut writer, shared)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Records the request, then answers it.
fn answer(request: &HttpRequest, writer: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let route = request.path.split('?').next().unwrap_or("");
    let is_head = request.method == "HEAD";
    let streaming = body.get("stream").and_then(Value::as_bool) == Some(true);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_MODEL)
        .to_owned();

    // Decide the reply, take the turn and assign its ids under one lock, so concurrent calls
    // take distinct turns and ids.
    let (reply, turn, hold) = {
        let mut state = shared.lock();
        let (reply, turn) = match (request.method.as_str(), route) {
            ("POST", "/v1/messages") if body.is_null() => (
                Reply::BadRequest("the messages body is not JSON".into()),
                None,
            ),
            ("POST", "/v1/messages") if streaming => {
                if let Some(turn) = state.script.pop_front() {
                    let served = state.serve(&turn, true);
                    (Reply::Turn(served.clone()), Some((turn, served)))
                } else {
                    let turn = Turn::text(EXHAUSTED_TEXT);
                    let served = state.serve(&turn, false);
                    (Reply::Exhausted, Some((turn, served)))
                }
            }
            ("POST", "/v1/messages") => (Reply::NonStreaming, None),
            ("POST", "/v1/messages/count_tokens") => (Reply::CountTokens, None),
            ("GET" | "HEAD", _) => (Reply::Probe, None),
            _ => (Reply::NotFound, None),
        };
        state.requests.push(RecordedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            body: body.clone(),
            body_len: request.body.len(),
            reply: reply.clone(),
            received_after: shared.started.elapsed(),
        });
        let hold = match &turn {
            Some((t, _)) if t.held => {
                state.holds_taken += 1;
                Some(state.holds_taken)
            }
            _ => None,
        };
        (reply, turn, hold)
    };
    shared.recorded.notify_all();

    let keep = request.keep_alive;
    if let Some((turn, served)) = turn {
        if let Some(number) = hold {
            shared.wait_for_release(number);
        }
        if !turn.delay.is_zero() {
            thread::sleep(turn.delay);
        }
        let events = turn_events(&turn, &served, &model);
        return write_stream(writer, &served.request_id, &events, keep);
    }
    match &reply {
        Reply::NonStreaming => {
            let id = shared.lock().fresh_id();
            let message = json!({
                "id": format!("msg_scripted_{id}"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "Scripted session"}],
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "usage": Usage::default().start_json(),
            });
            let headers = [("request-id", format!("req_scripted_{id}"))];
            write_full(
                writer,
                200,
                "application/json",
                &headers,
                &message.to_string(),
                keep,
            )
        }
        Reply::CountTokens => {
            let estimate = request.body.len() / 4;
            let body = json!({"input_tokens": estimate}).to_string();
            write_full(writer, 200, "application/json", &[], &body, keep)
        }
        Reply::Probe => {
            let body = if is_head { String::new() } else { "{}".into() };
            write_full(writer, 200, "application/json", &[], &body, keep)
        }
        Reply::BadRequest(why) => {
            let body = error_body("invalid_request_error", why);
            write_full(writer, 400, "application/json", &[], &body, keep)
        }
        _ => {
            let why = format!(
                "the scripted API does not serve {} {}",
                request.method, route
            );
            let body = error_body("not_found_error", &why);
            write_full(writer, 404, "application/json", &[], &body, keep)
        }
    }
}

impl State {
    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Assigns ids to a turn about to be served; `scripted` turns also take the next script
    /// position.
    fn serve(&mut self, turn: &Turn, scripted: bool) -> ServedTurn {
        let id = self.fresh_id();
        let index = self.next_turn;
        if scripted {
            self.next_turn += 1;
        }
        let tool_use_ids = turn
            .blocks
            .iter()
            .filter(|b| matches!(b, Block::ToolUse(_)))
            .map(|_| format!("toolu_scripted_{}", self.fresh_id()))
            .collect();
        ServedTurn {
            index,
            message_id: format!("msg_scripted_{id}"),
            request_id: format!("req_scripted_{id}"),
            tool_use_ids,
            usage: turn.usage,
        }
    }
}

/// The server-sent events of one turn, as `(event name, data)`.
fn turn_events(turn: &Turn, served: &ServedTurn, model: &str) -> Vec<(&'static str, Value)> {
    let mut events = vec![(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": served.message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": turn.usage.start_json(),
            },
        }),
    )];
    let mut tool_ids = served.tool_use_ids.iter();
    for (index, block) in turn.blocks.iter().enumerate() {
        let (start, delta) = match block {
            Block::Text(text) => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": text}),
            ),
            Block::ToolUse(call) => {
                let id = tool_ids
                    .next()
                    .expect("State::serve gives every tool block an id");
                (
                    json!({"type": "tool_use", "id": id, "name": call.name, "input": {}}),
                    json!({"type": "input_json_delta", "partial_json": call.input.to_string()}),
                )
            }
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": turn.stop_reason(), "stop_sequence": null},
            "usage": {"output_tokens": turn.usage.output_tokens},
        }),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    events
}

/// The API's error shape.
fn error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}
