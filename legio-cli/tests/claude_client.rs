//! The real Claude Code client against the scripted Messages API: proves the test support works
//! and pins down the client behaviour legio relies on (see `support/mod.rs` for the list).
//!
//! The `scripted_api_*` tests check the server alone with a raw HTTP client. The `claude_*`
//! tests run the pinned `claude` binary (installed by the harness when missing; they fail when it
//! cannot be had unless `LEGIO_SKIP_CLAUDE_TESTS=1`).

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use support::claude::{Sandbox, claude_bin};
use support::scripted_api::{
    EXHAUSTED_TEXT, RecordedRequest, Reply, ScriptedApi, ToolCall, Turn, Usage,
};

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
    fn events(&self) -> Vec<(String, Value)> {
        self.body
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                let event = e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
                let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                (event.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }
}

fn read_response(reader: &mut BufReader<TcpStream>) -> HttpResponse {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut response = HttpResponse {
        status,
        headers,
        body: String::new(),
    };
    if response.header("transfer-encoding") == Some("chunked") {
        let mut body = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        response.body = String::from_utf8(body).unwrap();
    } else if let Some(len) = response.header("content-length") {
        let mut body = vec![0; len.parse().unwrap()];
        reader.read_exact(&mut body).unwrap();
        response.body = String::from_utf8(body).unwrap();
    }
    response
}

fn connect(server: &ScriptedApi) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

fn post(stream: &mut TcpStream, path: &str, body: &str) {
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
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
    let (mut stream, mut reader) = connect(&server);

    post(&mut stream, "/v1/messages?beta=true", &messages_body(true, "first"));
    let first = read_response(&mut reader);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let served = server.requests()[0].served().cloned().unwrap();
    assert_eq!(first.header("request-id"), Some(served.request_id.as_str()));
    let events = first.events();
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
    assert_eq!(start["id"], served.message_id.as_str());
    assert_eq!(start["model"], "claude-test-model");
    assert_eq!(start["usage"]["input_tokens"], 101);
    assert_eq!(start["usage"]["cache_read_input_tokens"], 7);
    assert_eq!(start["usage"]["cache_creation_input_tokens"], 8);
    assert_eq!(start["usage"]["cache_creation"]["ephemeral_5m_input_tokens"], 5);
    assert_eq!(start["usage"]["cache_creation"]["ephemeral_1h_input_tokens"], 3);
    assert_eq!(events[2].1["delta"]["text"], "thinking aloud");
    let tool = &events[4].1["content_block"];
    assert_eq!(tool["type"], "tool_use");
    assert_eq!(tool["name"], "Bash");
    assert_eq!(tool["id"], served.tool_use_ids[0].as_str());
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
    let second = read_response(&mut reader);
    let events = second.events();
    assert_eq!(events[2].1["delta"]["text"], "done");
    assert_eq!(events[events.len() - 2].1["delta"]["stop_reason"], "end_turn");

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
    let (mut stream, mut reader) = connect(&server);

    write!(stream, "HEAD / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let head = read_response(&mut reader);
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    write!(stream, "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut reader).body, "{}");

    post(&mut stream, "/v1/messages/count_tokens?beta=true", &messages_body(false, "x"));
    let count: Value = serde_json::from_str(&read_response(&mut reader).body).unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 0);

    post(&mut stream, "/v1/messages", &messages_body(false, "title please"));
    let title: Value = serde_json::from_str(&read_response(&mut reader).body).unwrap();
    assert_eq!(title["type"], "message");
    assert_eq!(title["content"][0]["type"], "text");

    post(&mut stream, "/v1/complete", "{}");
    let missing = read_response(&mut reader);
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
                    let (mut stream, mut reader) = connect(&server);
                    post(&mut stream, "/v1/messages", &messages_body(true, "go"));
                    let events = read_response(&mut reader).events();
                    events[2].1["delta"]["text"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(sorted, ["turn 0", "turn 1", "turn 2", "turn 3"]);

    let (mut stream, mut reader) = connect(&server);
    post(&mut stream, "/v1/messages", &messages_body(true, "one more"));
    let events = read_response(&mut reader).events();
    assert_eq!(events[2].1["delta"]["text"], EXHAUSTED_TEXT);
    assert_eq!(events[events.len() - 2].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(server.exhausted(), 1);
}

#[test]
fn scripted_api_rejects_a_malformed_request_clearly_and_records_it() {
    let server = ScriptedApi::start([Turn::text("unused")]);
    let (mut stream, mut reader) = connect(&server);
    post(&mut stream, "/v1/messages", "{not json");
    let bad = read_response(&mut reader);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not JSON"), "{}", bad.body);

    let (mut stream, mut reader) = connect(&server);
    write!(stream, "NONSENSE\r\n\r\n").unwrap();
    let bad = read_response(&mut reader);
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

// ---------------------------------------------------------------------------------------------
// The real client.

/// The tool call of a served turn: its id.
fn tool_id(request: &RecordedRequest) -> String {
    request.served().unwrap().tool_use_ids[0].clone()
}

#[test]
fn claude_print_runs_a_bash_tool_and_sends_its_result_back() {
    let Some(bin) = claude_bin() else { return };
    let server = ScriptedApi::start([
        Turn::tool(ToolCall::bash("printf 'hello from %s' bash > out.txt; cat out.txt")),
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
    assert_eq!(turns.len(), 2, "two model calls: the tool call, then the answer");
    assert_eq!(server.exhausted(), 0);
    assert!(
        server.requests().iter().all(RecordedRequest::is_turn_call),
        "claude -p makes no side calls (titles, token counts, probes): {:?}",
        server.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
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
