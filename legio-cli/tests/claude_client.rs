//! The real Claude Code client against the scripted Messages API: proves the test support works
//! and pins down the client behaviour legio relies on (see `support/mod.rs` for the list).
//!
//! The `scripted_api_*` tests check the server alone with a raw HTTP client. The `claude_*`
//! tests run the pinned `claude` binary (installed by the harness when missing; they fail when it
//! cannot be had unless `LEGIO_SKIP_CLAUDE_TESTS=1`).

mod support;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use support::claude::Sandbox;
use support::install::claude_bin;
use support::scripted_api::{
    EXHAUSTED_TEXT, RecordedRequest, Reply, ScriptedApi, ToolCall, Turn, Usage,
};
use support::tmux::claude_prompt_ready;

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client for the server's own tests.

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The server-sent events as `(event, data)`.
    fn events(&self) -> io::Result<Vec<(String, Value)>> {
        self.body
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                let field = |name: &str| {
                    e.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .ok_or_else(|| bad(format!("event without {name:?}: {e:?}")))
                };
                let data = serde_json::from_str(field("data: ")?).map_err(io::Error::other)?;
                Ok((field("event: ")?.to_owned(), data))
            })
            .collect()
    }
}

fn bad(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<HttpResponse> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {l:?}")))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut response = HttpResponse {
        status,
        headers,
        body: String::new(),
    };
    let mut body = Vec::new();
    if response.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = response.header("content-length") {
        body.resize(len.parse().map_err(io::Error::other)?, 0);
        reader.read_exact(&mut body)?;
    }
    response.body = String::from_utf8(body).map_err(io::Error::other)?;
    Ok(response)
}

fn connect(server: &ScriptedApi) -> io::Result<(TcpStream, BufReader<TcpStream>)> {
    let stream = TcpStream::connect(server.addr())?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let reader = BufReader::new(stream.try_clone()?);
    Ok((stream, reader))
}

fn post(stream: &mut TcpStream, path: &str, body: &str) -> io::Result<()> {
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn messages_body(stream: bool, text: &str) -> String {
    json!({
        "model": "claude-test-model",
        "stream": stream,
        "tools": [{"name": "Bash"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    })
    .to_string()
}

#[test]
fn scripted_api_streams_turns_over_one_keep_alive_connection() {
    let usage = Usage {
        input_tokens: 101,
        output_tokens: 42,
        cache_read_input_tokens: 7,
        cache_creation_5m: 5,
        cache_creation_1h: 3,
    };
    let server = ScriptedApi::start([
        Turn::text("thinking aloud")
            .with_tool(ToolCall::bash("echo hi"))
            .with_usage(usage),
        Turn::text("done"),
    ]);
    let (mut stream, mut reader) = connect(&server).unwrap();

    post(
        &mut stream,
        "/v1/messages?beta=true",
        &messages_body(true, "first"),
    )
    .unwrap();
    let first = read_response(&mut reader).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let first_turn = server.requests()[0].served().cloned().unwrap();
    assert_eq!(
        first.header("request-id"),
        Some(first_turn.request_id.as_str())
    );
    let events = first.events().unwrap();
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["id"], first_turn.message_id.as_str());
    assert_eq!(start["model"], "claude-test-model");
    assert_eq!(start["usage"]["input_tokens"], 101);
    assert_eq!(start["usage"]["cache_read_input_tokens"], 7);
    assert_eq!(start["usage"]["cache_creation_input_tokens"], 8);
    assert_eq!(
        start["usage"]["cache_creation"]["ephemeral_5m_input_tokens"],
        5
    );
    assert_eq!(
        start["usage"]["cache_creation"]["ephemeral_1h_input_tokens"],
        3
    );
    assert_eq!(events[2].1["delta"]["text"], "thinking aloud");
    let tool = &events[4].1["content_block"];
    assert_eq!(tool["type"], "tool_use");
    assert_eq!(tool["name"], "Bash");
    assert_eq!(tool["id"], first_turn.tool_use_ids[0].as_str());
    let input: Value =
        serde_json::from_str(events[5].1["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(input["command"], "echo hi");
    assert_eq!(events[7].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[7].1["usage"]["output_tokens"], 42);

    // Second request on the same connection, with a chunked body split mid-JSON.
    let body = messages_body(true, "second");
    let (a, b) = body.split_at(body.len() / 2);
    write!(
        stream,
        "POST /v1/messages?beta=true HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
    .unwrap();
    let second = read_response(&mut reader).unwrap();
    let events = second.events().unwrap();
    assert_eq!(events[2].1["delta"]["text"], "done");
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "end_turn"
    );

    let requests = server.turn_requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].conversation_contains("first"));
    assert!(requests[1].conversation_contains("second"));
    assert_eq!(requests[1].served().unwrap().index, 1);
    assert_eq!(server.remaining_turns(), 0);
    assert_eq!(server.exhausted(), 0);
}

#[test]
fn scripted_api_answers_side_calls_without_using_the_script() {
    let server = ScriptedApi::start([Turn::text("kept for the real turn")]);
    let (mut stream, mut reader) = connect(&server).unwrap();

    write!(stream, "HEAD / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let head = read_response(&mut reader).unwrap();
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    write!(stream, "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut reader).unwrap().body, "{}");

    post(
        &mut stream,
        "/v1/messages/count_tokens?beta=true",
        &messages_body(false, "x"),
    )
    .unwrap();
    let count: Value = serde_json::from_str(&read_response(&mut reader).unwrap().body).unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 0);

    post(
        &mut stream,
        "/v1/messages",
        &messages_body(false, "title please"),
    )
    .unwrap();
    let title: Value = serde_json::from_str(&read_response(&mut reader).unwrap().body).unwrap();
    assert_eq!(title["type"], "message");
    assert_eq!(title["content"][0]["type"], "text");

    post(&mut stream, "/v1/complete", "{}").unwrap();
    let missing = read_response(&mut reader).unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("does not serve POST /v1/complete"));

    let replies: Vec<Reply> = server.requests().into_iter().map(|r| r.reply).collect();
    assert_eq!(
        replies,
        [
            Reply::Probe,
            Reply::Probe,
            Reply::CountTokens,
            Reply::NonStreaming,
            Reply::NotFound
        ]
    );
    assert_eq!(server.remaining_turns(), 1, "side calls must not use turns");
}

#[test]
fn scripted_api_serves_concurrent_connections_distinct_turns_then_says_it_is_exhausted() {
    let server = ScriptedApi::start((0..4).map(|i| Turn::text(format!("turn {i}"))));
    let texts: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let (mut stream, mut reader) = connect(&server).unwrap();
                    post(&mut stream, "/v1/messages", &messages_body(true, "go")).unwrap();
                    let events = read_response(&mut reader).unwrap().events().unwrap();
                    events[2].1["delta"]["text"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(sorted, ["turn 0", "turn 1", "turn 2", "turn 3"]);

    let (mut stream, mut reader) = connect(&server).unwrap();
    post(
        &mut stream,
        "/v1/messages",
        &messages_body(true, "one more"),
    )
    .unwrap();
    let events = read_response(&mut reader).unwrap().events().unwrap();
    assert_eq!(events[2].1["delta"]["text"], EXHAUSTED_TEXT);
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "end_turn"
    );
    assert_eq!(server.exhausted(), 1);
}

#[test]
fn scripted_api_rejects_a_malformed_request_clearly_and_records_it() {
    let server = ScriptedApi::start([Turn::text("unused")]);
    let (mut stream, mut reader) = connect(&server).unwrap();
    post(&mut stream, "/v1/messages", "{not json").unwrap();
    let bad = read_response(&mut reader).unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not JSON"), "{}", bad.body);

    let (mut stream, mut reader) = connect(&server).unwrap();
    write!(stream, "NONSENSE\r\n\r\n").unwrap();
    let bad = read_response(&mut reader).unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("malformed request line"), "{}", bad.body);

    assert!(
        server
            .requests()
            .iter()
            .all(|r| matches!(r.reply, Reply::BadRequest(_)))
    );
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.remaining_turns(), 1);
}

#[test]
fn scripted_api_honours_expect_continue_and_connection_close() {
    let server = ScriptedApi::start([Turn::text("after continue")]);
    let (mut stream, mut reader) = connect(&server).unwrap();
    let body = messages_body(true, "go");
    write!(
        stream,
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut interim = String::new();
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n");
    reader.read_line(&mut interim).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let response = read_response(&mut reader).unwrap();
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(
        response.events().unwrap()[2].1["delta"]["text"],
        "after continue"
    );
    let mut rest = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut rest).unwrap(),
        0,
        "the server closed"
    );
}

#[test]
fn scripted_api_plays_turns_pushed_later_and_wakes_a_waiting_test() {
    let server = ScriptedApi::start([]);
    server.push_turns([Turn::text("pushed").with_delay(Duration::from_millis(50))]);
    assert_eq!(server.remaining_turns(), 1);
    assert!(
        !server.wait_until(Duration::from_millis(50), |r| !r.is_empty()),
        "nothing arrived yet"
    );
    thread::scope(|scope| {
        let waiter = scope.spawn(|| server.wait_until(Duration::from_secs(10), |r| r.len() == 1));
        let (mut stream, mut reader) = connect(&server).unwrap();
        post(&mut stream, "/v1/messages", &messages_body(true, "go")).unwrap();
        let events = read_response(&mut reader).unwrap().events().unwrap();
        assert_eq!(events[2].1["delta"]["text"], "pushed");
        assert!(waiter.join().unwrap(), "the waiter saw the request");
    });
    assert_eq!(server.remaining_turns(), 0);
}

// ---------------------------------------------------------------------------------------------
// The real client.

/// How long to wait for the client to get somewhere. Unloaded it starts in about half a second;
/// on a machine shared with parallel builds it has taken over 20 s to draw its first screen.
const CLIENT_LIMIT: Duration = Duration::from_secs(180);

/// The tool call of a served turn: its id.
#[test]
fn scripted_api_holds_a_turn_recorded_but_unanswered_until_released() {
    let server = ScriptedApi::start([Turn::text("held answer").held(), Turn::text("free")]);
    thread::scope(|scope| {
        let client = scope.spawn(|| {
            let (mut stream, mut reader) = connect(&server).unwrap();
            post(&mut stream, "/v1/messages", &messages_body(true, "first")).unwrap();
            let held = read_response(&mut reader).unwrap().events().unwrap();
            post(&mut stream, "/v1/messages", &messages_body(true, "second")).unwrap();
            let free = read_response(&mut reader).unwrap().events().unwrap();
            (held, free)
        });
        assert!(
            server.wait_until(Duration::from_secs(10), |r| r.len() == 1),
            "the held request is recorded on arrival"
        );
        assert!(
            server.requests()[0].conversation_contains("first"),
            "{:?}",
            server.requests()[0].message_texts()
        );
        thread::sleep(Duration::from_millis(300));
        assert!(
            !client.is_finished(),
            "a held turn is not answered before release"
        );
        assert_eq!(server.requests().len(), 1);
        server.release();
        let (held, free) = client.join().unwrap();
        assert_eq!(held[2].1["delta"]["text"], "held answer");
        assert_eq!(free[2].1["delta"]["text"], "free");
    });
    assert_eq!(server.turn_requests()[1].conversation_count("second"), 1);
}

fn tool_id(request: &RecordedRequest) -> String {
    request
        .served()
        .and_then(|s| s.tool_use_ids.first())
        .expect("the request was answered with a scripted tool call")
        .clone()
}

#[test]
fn claude_print_runs_a_bash_tool_and_sends_its_result_back() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash(
            "printf 'hello from %s' bash > out.txt; cat out.txt",
        )),
        Turn::text("done"),
    ]);
    let sandbox = Sandbox::new(bin);

    let run = sandbox.print(&server, "please run the command");
    let result = run.result();
    eprintln!("claude -p with two model calls took {:?}", run.elapsed);

    assert_eq!(result["type"], "result");
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["result"], "done");
    assert_eq!(result["num_turns"], 2);
    let session_id = result["session_id"].as_str().unwrap();

    let turns = server.turn_requests();
    assert_eq!(
        turns.len(),
        2,
        "two model calls: the tool call, then the answer"
    );
    assert_eq!(server.exhausted(), 0);
    assert!(
        server.requests().iter().all(RecordedRequest::is_turn_call),
        "claude -p makes no side calls (titles, token counts, probes): {:?}",
        server
            .requests()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
    for request in &turns {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/messages?beta=true");
        assert_eq!(request.header("x-api-key"), Some("test"));
        assert_eq!(request.header("x-claude-code-session-id"), Some(session_id));
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("claude-cli/2.1.332")),
            "{:?}",
            request.header("user-agent")
        );
    }
    assert!(turns[0].conversation_contains("please run the command"));
    let result = turns[1].tool_result(&tool_id(&turns[0])).unwrap();
    assert_eq!(result.content, "hello from bash");
    assert!(!result.is_error);
    assert_eq!(
        fs::read_to_string(sandbox.project().join("out.txt")).unwrap(),
        "hello from bash"
    );
}

#[test]
fn claude_pre_tool_use_deny_json_blocks_the_tool_and_the_model_gets_the_reason() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("touch denied-marker")),
        Turn::text("understood"),
    ]);
    let mut sandbox = Sandbox::new(bin);
    let reason = "legio guard: touching files is not allowed here (DENY-7f3a)";
    let deny = json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    });
    sandbox.add_script_hook(
        "PreToolUse",
        "Bash",
        "deny.sh",
        &format!("cat > /dev/null\nprintf '%s\\n' '{deny}'"),
    );

    let result = sandbox.print(&server, "touch the marker").result();

    assert!(
        !sandbox.project().join("denied-marker").exists(),
        "the denied command must not run"
    );
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 2);
    let id = tool_id(&turns[0]);
    let tool_result = turns[1].tool_result(&id).unwrap();
    assert!(tool_result.is_error, "a denial is an error tool result");
    assert_eq!(
        tool_result.content,
        format!("PreToolUse:Bash hook error: {reason}")
    );
    let denials = result["permission_denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["tool_name"], "Bash");
    assert_eq!(denials[0]["tool_use_id"], id.as_str());
    assert_eq!(denials[0]["tool_input"]["command"], "touch denied-marker");
}

#[test]
fn claude_pre_tool_use_exit_2_blocks_the_tool_and_the_model_gets_stderr() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("touch denied-marker")),
        Turn::text("understood"),
    ]);
    let mut sandbox = Sandbox::new(bin);
    sandbox.add_script_hook(
        "PreToolUse",
        "Bash",
        "block.sh",
        "cat > /dev/null\necho 'blocked by exit code (EXIT2-9c1d)' >&2\nexit 2",
    );

    sandbox.print(&server, "touch the marker").result();

    assert!(!sandbox.project().join("denied-marker").exists());
    let turns = server.turn_requests();
    let tool_result = turns[1].tool_result(&tool_id(&turns[0])).unwrap();
    assert!(tool_result.is_error);
    assert!(
        tool_result
            .content
            .contains("blocked by exit code (EXIT2-9c1d)"),
        "{tool_result:?}"
    );
}

#[test]
fn claude_post_tool_use_additional_context_reaches_the_model_plain_stdout_does_not() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([Turn::tool(ToolCall::bash("echo ran")), Turn::text("noted")]);
    let mut sandbox = Sandbox::new(bin);
    let context = json!({
        "hookSpecificOutput": {
            "hookEventName": "PostToolUse",
            "additionalContext": "You have mail (CTX-4e2b)",
        }
    });
    sandbox.add_script_hook(
        "PostToolUse",
        "Bash",
        "context.sh",
        &format!("cat > /dev/null\nprintf '%s\\n' '{context}'"),
    );
    sandbox.add_script_hook(
        "PostToolUse",
        "Bash",
        "plain.sh",
        "cat > /dev/null\necho 'plain stdout (PLAIN-8d0e)'",
    );

    sandbox.print(&server, "run it").result();

    let turns = server.turn_requests();
    assert_eq!(turns.len(), 2);
    let next = &turns[1];
    assert!(
        !next.conversation_contains("PLAIN-8d0e") && !next.system_text().contains("PLAIN-8d0e"),
        "plain PostToolUse stdout must not reach the model"
    );
    // The context arrives as a message of its own, role "system", right after the user
    // message that carries the tool result.
    let texts = next.message_texts();
    let at = texts
        .iter()
        .position(|(_, t)| t.contains("CTX-4e2b"))
        .expect("additionalContext reaches the next request");
    assert_eq!(
        texts[at],
        (
            "system".to_owned(),
            "PostToolUse:Bash hook additional context: You have mail (CTX-4e2b)".to_owned()
        )
    );
    let result_at = next
        .messages()
        .iter()
        .position(|m| m["content"][0]["type"] == "tool_result")
        .unwrap();
    assert_eq!(at, result_at + 1);
    assert_eq!(
        texts.iter().filter(|(_, t)| t.contains("CTX-4e2b")).count(),
        1,
        "exactly once"
    );
}

#[test]
fn claude_user_prompt_submit_stdout_reaches_the_model_with_the_prompt() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([Turn::text("read it")]);
    let mut sandbox = Sandbox::new(bin);
    sandbox.add_script_hook(
        "UserPromptSubmit",
        "",
        "inject.sh",
        "cat > /dev/null\necho 'mail from lead (UPS-51aa)'",
    );

    sandbox.print(&server, "start working").result();

    let turns = server.turn_requests();
    assert_eq!(turns.len(), 1);
    let texts = turns[0].message_texts();
    let with_mail: Vec<_> = texts
        .iter()
        .filter(|(_, t)| t.contains("UPS-51aa"))
        .collect();
    assert_eq!(with_mail.len(), 1, "exactly once: {texts:#?}");
    // It arrives in the "system" message that follows the prompt, as one line among the
    // environment and date reminders.
    let (role, text) = with_mail[0];
    assert_eq!(role, "system");
    assert!(
        text.lines()
            .any(|l| l == "UserPromptSubmit hook success: mail from lead (UPS-51aa)"),
        "{text}"
    );
    let prompt_at = texts
        .iter()
        .position(|(_, t)| t.contains("start working"))
        .unwrap();
    let mail_at = texts
        .iter()
        .position(|(_, t)| t.contains("UPS-51aa"))
        .unwrap();
    assert!(prompt_at < mail_at, "{texts:#?}");
}

/// Asserts the fields every hook payload carries.
fn assert_common_fields(payload: &Value, event: &str, sandbox: &Sandbox, session_id: &str) {
    assert_eq!(payload["hook_event_name"], event, "{payload}");
    assert_eq!(payload["session_id"], session_id, "{payload}");
    assert_eq!(
        payload["cwd"],
        sandbox.project().to_string_lossy().as_ref(),
        "{payload}"
    );
    assert_eq!(
        payload["transcript_path"],
        sandbox
            .transcript_path(session_id)
            .to_string_lossy()
            .as_ref(),
        "{payload}"
    );
}

#[test]
fn claude_hooks_receive_documented_payloads_stop_per_turn_session_end_at_exit() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("echo payload-check")),
        Turn::tool(ToolCall::bash("echo failing >&2; exit 3")),
        Turn::text("done"),
    ]);
    let mut sandbox = Sandbox::new(bin);
    sandbox.record_all_hooks();

    let result = sandbox.print(&server, "census").result();
    let session_id = result["session_id"].as_str().unwrap();
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 3);
    let (ok_id, failed_id) = (tool_id(&turns[0]), tool_id(&turns[1]));

    let start = sandbox.hook_payloads("SessionStart");
    assert_eq!(start.len(), 1, "{start:?}");
    assert_common_fields(&start[0], "SessionStart", &sandbox, session_id);
    assert_eq!(start[0]["source"], "startup");

    let prompt = sandbox.hook_payloads("UserPromptSubmit");
    assert_eq!(prompt.len(), 1, "{prompt:?}");
    assert_common_fields(&prompt[0], "UserPromptSubmit", &sandbox, session_id);
    assert_eq!(prompt[0]["prompt"], "census");
    assert_eq!(prompt[0]["permission_mode"], "bypassPermissions");
    let prompt_id = prompt[0]["prompt_id"].as_str().unwrap();

    let pre = sandbox.hook_payloads("PreToolUse");
    assert_eq!(
        pre.len(),
        2,
        "PreToolUse fires for failing tools too: {pre:?}"
    );
    for (payload, (id, command)) in pre.iter().zip([
        (&ok_id, "echo payload-check"),
        (&failed_id, "echo failing >&2; exit 3"),
    ]) {
        assert_common_fields(payload, "PreToolUse", &sandbox, session_id);
        assert_eq!(payload["tool_name"], "Bash");
        assert_eq!(payload["tool_input"]["command"], command);
        assert_eq!(payload["tool_use_id"], id.as_str());
        assert_eq!(payload["prompt_id"], prompt_id);
        assert_eq!(payload["permission_mode"], "bypassPermissions");
    }

    let post = sandbox.hook_payloads("PostToolUse");
    assert_eq!(
        post.len(),
        1,
        "PostToolUse fires only for the tool that succeeded: {post:?}"
    );
    assert_common_fields(&post[0], "PostToolUse", &sandbox, session_id);
    assert_eq!(post[0]["tool_use_id"], ok_id.as_str());
    assert_eq!(post[0]["tool_response"]["stdout"], "payload-check");
    assert!(post[0]["duration_ms"].is_u64(), "{}", post[0]);

    let failure = sandbox.hook_payloads("PostToolUseFailure");
    assert_eq!(failure.len(), 1, "{failure:?}");
    assert_common_fields(&failure[0], "PostToolUseFailure", &sandbox, session_id);
    assert_eq!(failure[0]["tool_use_id"], failed_id.as_str());
    assert_eq!(failure[0]["error"], "Exit code 3\nfailing");
    assert_eq!(failure[0]["is_interrupt"], false);
    let failed_result = turns[2].tool_result(&failed_id).unwrap();
    assert!(failed_result.is_error);

    let stop = sandbox.hook_payloads("Stop");
    assert_eq!(
        stop.len(),
        1,
        "one Stop for the one turn (not per model call): {stop:?}"
    );
    assert_common_fields(&stop[0], "Stop", &sandbox, session_id);
    assert_eq!(stop[0]["stop_hook_active"], false);
    assert_eq!(stop[0]["last_assistant_message"], "done");
    assert_eq!(stop[0]["prompt_id"], prompt_id);

    let end = sandbox.hook_payloads("SessionEnd");
    assert_eq!(end.len(), 1, "{end:?}");
    assert_common_fields(&end[0], "SessionEnd", &sandbox, session_id);
    assert_eq!(
        end[0]["reason"], "other",
        "claude -p ends its session with reason other"
    );
}

#[test]
fn claude_transcript_is_where_spec_4_says_with_the_usage_the_server_reported() {
    let Some(bin) = claude_bin() else { return };
    let first = Usage {
        input_tokens: 1200,
        output_tokens: 34,
        cache_read_input_tokens: 5600,
        cache_creation_5m: 780,
        cache_creation_1h: 90,
    };
    let second = Usage {
        input_tokens: 1300,
        output_tokens: 12,
        cache_read_input_tokens: 6400,
        cache_creation_5m: 11,
        cache_creation_1h: 0,
    };
    let server = ScriptedApi::start([
        Turn::text("let me look")
            .with_tool(ToolCall::bash("echo hi"))
            .with_usage(first),
        Turn::text("all done").with_usage(second),
    ]);
    let sandbox = Sandbox::new(bin);

    let result = sandbox.print(&server, "cost me").result();
    let session_id = result["session_id"].as_str().unwrap();

    // $HOME/.claude/projects/<cwd, every non-alphanumeric char as '-'>/<session_id>.jsonl
    let path = sandbox.transcript_path(session_id);
    let expected_dir: String = sandbox
        .project()
        .to_str()
        .unwrap()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    assert!(path.ends_with(format!("{expected_dir}/{session_id}.jsonl")));
    assert!(path.exists(), "no transcript at {}", path.display());
    let entries = support::claude::read_jsonl(&path);

    let turns: Vec<_> = server
        .turn_requests()
        .iter()
        .map(|r| r.served().unwrap().clone())
        .collect();
    assert_eq!(turns.len(), 2);
    for turn in &turns {
        let lines: Vec<&Value> = entries
            .iter()
            .filter(|e| e["type"] == "assistant" && e["message"]["id"] == turn.message_id.as_str())
            .collect();
        // One line per content block, each repeating the response's usage: count usage once
        // per (message id, request id).
        assert_eq!(
            lines.len(),
            [2, 1][turn.index],
            "assistant lines for {}",
            turn.message_id
        );
        for line in lines {
            assert_eq!(line["requestId"], turn.request_id.as_str(), "{line}");
            assert_eq!(line["sessionId"], session_id);
            let usage = &line["message"]["usage"];
            let u = turn.usage;
            assert_eq!(usage["input_tokens"], u.input_tokens, "{usage}");
            assert_eq!(usage["output_tokens"], u.output_tokens, "{usage}");
            assert_eq!(usage["cache_read_input_tokens"], u.cache_read_input_tokens);
            assert_eq!(
                usage["cache_creation_input_tokens"],
                u.cache_creation_input_tokens()
            );
            assert_eq!(
                usage["cache_creation"]["ephemeral_5m_input_tokens"],
                u.cache_creation_5m
            );
            assert_eq!(
                usage["cache_creation"]["ephemeral_1h_input_tokens"],
                u.cache_creation_1h
            );
        }
    }
    // The prompt is a `user` entry (not "human"); bookkeeping entries of other types are there
    // too and must be skipped by a parser.
    assert!(
        entries
            .iter()
            .any(|e| e["type"] == "user" && e["message"]["content"] == "cost me")
    );
    let mut kinds: Vec<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    eprintln!("transcript entry types: {kinds:?}");
    assert!(kinds.len() > 3, "{kinds:?}");

    // The result object sums the same figures.
    let total = |f: fn(&Usage) -> u64| f(&first) + f(&second);
    assert_eq!(result["usage"]["input_tokens"], total(|u| u.input_tokens));
    assert_eq!(result["usage"]["output_tokens"], total(|u| u.output_tokens));
    assert_eq!(
        result["usage"]["cache_read_input_tokens"],
        total(|u| u.cache_read_input_tokens)
    );
    assert_eq!(
        result["usage"]["cache_creation_input_tokens"],
        total(Usage::cache_creation_input_tokens)
    );
}

#[test]
fn claude_interactive_in_tmux_waits_at_a_prompt_takes_typed_text_and_fires_the_same_hooks() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("echo from-tmux")),
        Turn::text("interactive done"),
    ]);
    let mut sandbox = Sandbox::new(bin);
    sandbox.record_all_hooks();
    let limit = CLIENT_LIMIT;

    let claude = sandbox.interactive(&server);
    let screen = claude.wait_for_screen("claude's empty prompt", limit, claude_prompt_ready);
    eprintln!(
        "interactive claude ready after {:?}:\n{screen}",
        claude.elapsed()
    );
    assert!(screen.contains("bypass permissions on"), "{screen}");
    let start = sandbox.wait_for_hook("SessionStart", 1, limit);
    assert_eq!(start[0]["source"], "startup");
    assert!(
        server.requests().is_empty(),
        "no model call before the first prompt"
    );

    // Typing and Enter straight after submit the prompt.
    claude.type_text("run it in tmux");
    claude.press("Enter");
    let stop = sandbox.wait_for_hook("Stop", 1, limit);
    let session_id = stop[0]["session_id"].as_str().unwrap().to_owned();
    assert_common_fields(&stop[0], "Stop", &sandbox, &session_id);
    assert_eq!(stop[0]["last_assistant_message"], "interactive done");

    let turns = server.turn_requests();
    assert_eq!(turns.len(), 2);
    assert_eq!(server.requests().len(), 2, "no side calls");
    assert_eq!(server.exhausted(), 0);
    assert!(turns[0].conversation_contains("run it in tmux"));
    assert_eq!(
        turns[1].tool_result(&tool_id(&turns[0])).unwrap().content,
        "from-tmux"
    );
    assert!(
        turns[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("claude-cli/2.1.332 (external, cli)")),
        "{:?}",
        turns[0].header("user-agent")
    );
    let prompt = sandbox.hook_payloads("UserPromptSubmit");
    assert_eq!(prompt.len(), 1);
    assert_eq!(prompt[0]["prompt"], "run it in tmux");
    assert_common_fields(&prompt[0], "UserPromptSubmit", &sandbox, &session_id);
    assert_eq!(sandbox.hook_payloads("PreToolUse").len(), 1);
    assert_eq!(sandbox.hook_payloads("PostToolUse").len(), 1);
    assert!(
        sandbox.hook_payloads("SessionEnd").is_empty(),
        "a turn end is not a session end"
    );
    let screen = claude.wait_for_screen("the answer and a fresh prompt", limit, |s| {
        s.contains("interactive done") && claude_prompt_ready(s)
    });
    assert!(!claude.exited(), "{screen}");

    claude.type_text("/exit");
    claude.press("Enter");
    claude.wait_exit(limit);
    let end = sandbox.wait_for_hook("SessionEnd", 1, limit);
    assert_common_fields(&end[0], "SessionEnd", &sandbox, &session_id);
    assert_eq!(end[0]["reason"], "prompt_input_exit");
    assert!(sandbox.transcript_path(&session_id).exists());
}

#[test]
fn claude_headless_stream_json_takes_prompts_on_stdin_one_result_per_turn() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("echo headless")),
        Turn::text("first done"),
        Turn::text("second done"),
    ]);
    let mut sandbox = Sandbox::new(bin);
    sandbox.record_all_hooks();
    let limit = CLIENT_LIMIT;

    let started = std::time::Instant::now();
    let mut claude = sandbox.headless(&server);
    claude.send_prompt("first prompt");
    let first = claude.wait_for_result(limit);
    eprintln!(
        "headless claude: first result after {:?}",
        started.elapsed()
    );
    assert_eq!(first["subtype"], "success");
    assert_eq!(first["result"], "first done");
    assert_eq!(first["num_turns"], 2);
    let session_id = first["session_id"].as_str().unwrap().to_owned();

    let init = claude
        .seen()
        .iter()
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .cloned()
        .expect("a system/init line before the first turn");
    assert_eq!(init["session_id"], session_id.as_str());
    assert_eq!(init["cwd"], sandbox.project().to_string_lossy().as_ref());
    assert!(
        init["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "Bash")
    );
    // Assistant lines carry the usage of `message_start` (output_tokens still 1): the final
    // figures are in the result line and the transcript, not here.
    let assistant: Vec<&Value> = claude
        .seen()
        .iter()
        .filter(|v| v["type"] == "assistant")
        .collect();
    assert_eq!(assistant.len(), 2);
    assert_eq!(assistant[0]["message"]["content"][0]["type"], "tool_use");
    assert_eq!(assistant[0]["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        first["usage"]["output_tokens"],
        2 * Usage::default().output_tokens
    );
    assert_eq!(sandbox.hook_payloads("Stop").len(), 1);

    // The session stays open for the next prompt on stdin.
    claude.send_prompt("second prompt");
    let second = claude.wait_for_result(limit);
    assert_eq!(second["result"], "second done");
    assert_eq!(second["session_id"], session_id.as_str());
    assert_eq!(sandbox.hook_payloads("Stop").len(), 2, "one Stop per turn");
    assert!(sandbox.hook_payloads("SessionEnd").is_empty());
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 3);
    assert_eq!(server.requests().len(), 3, "no side calls");
    assert!(turns[2].conversation_contains("first prompt"));
    assert!(turns[2].conversation_contains("second prompt"));

    // Closing stdin ends the session.
    let status = claude.close(limit);
    assert!(status.success(), "{status}");
    let end = sandbox.wait_for_hook("SessionEnd", 1, limit);
    assert_common_fields(&end[0], "SessionEnd", &sandbox, &session_id);
    assert_eq!(end[0]["reason"], "other");
}

#[test]
fn claude_interactive_in_an_untrusted_folder_asks_first_and_is_not_ready_until_answered() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([]);
    let sandbox = Sandbox::untrusted(bin);
    let limit = CLIENT_LIMIT;

    let claude = sandbox.interactive(&server);
    let dialog = claude.wait_for_screen("the trust dialog", limit, |s| {
        s.contains("Enter to confirm")
    });
    assert!(dialog.contains("Quick safety check"), "{dialog}");
    assert!(
        dialog.contains("❯ No, exit"),
        "the default answer exits: {dialog}"
    );
    assert!(dialog.contains("Yes, I trust this folder"), "{dialog}");
    assert!(!claude_prompt_ready(&dialog), "a dialog is not a prompt");

    // Down, Enter: trust; claude records it in ~/.claude.json and shows its prompt.
    claude.choose("Yes, I trust this folder", limit);
    claude.wait_for_screen("claude's empty prompt", limit, claude_prompt_ready);
    let state: Value = serde_json::from_str(
        &fs::read_to_string(sandbox.home().path().join(".claude.json")).unwrap(),
    )
    .unwrap();
    let project = sandbox.project().to_string_lossy().into_owned();
    assert_eq!(
        state["projects"][project.as_str()]["hasTrustDialogAccepted"],
        true,
        "{state}"
    );
    assert!(server.requests().is_empty());
}

/// Runs git with a fixed identity and no user or system configuration.
fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=legio-test",
            "-c",
            "user.email=test@legio.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn claude_trust_of_the_repository_root_covers_a_worktree_inside_it() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([]);
    let sandbox = Sandbox::new(bin); // trusts the project folder only
    let root = sandbox.project();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["commit", "-q", "--allow-empty", "-m", "init"]);
    git(
        root,
        &[
            "worktree",
            "add",
            "-q",
            ".legio/worktrees/builder-1",
            "-b",
            "builder-1",
        ],
    );
    let worktree = root.join(".legio/worktrees/builder-1");

    let claude = sandbox.interactive_in(&server, &worktree);
    let screen = claude.wait_for_screen("a prompt or a dialog", CLIENT_LIMIT, |s| {
        claude_prompt_ready(s) || s.contains("Enter to confirm")
    });
    assert!(
        claude_prompt_ready(&screen),
        "the worktree must not ask for trust again:\n{screen}"
    );
    assert!(screen.contains(".legio/worktrees/builder-1"), "{screen}");
}
