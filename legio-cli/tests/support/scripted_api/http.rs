//! The HTTP/1.1 framing of the scripted API: reading requests (`Content-Length` or chunked
//! bodies, `Expect: 100-continue`, keep-alive) and writing full or chunked responses.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// Header and body size limits: a request over them is answered 413 and the connection closed.
pub(super) const MAX_HEADER_BYTES: usize = 64 * 1024;
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A parsed HTTP request.
pub(super) struct HttpRequest {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) keep_alive: bool,
}

impl HttpRequest {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read.
pub(super) enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    Io(io::Error),
    /// Malformed or too large: answer with this status and reason, then close.
    Bad(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one request: request line, headers, then a `Content-Length` or chunked body.
pub(super) fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<HttpRequest, ReadError> {
    let mut head_bytes = 0;
    let request_line = loop {
        let line = read_line(reader, &mut head_bytes)?;
        match line {
            None => return Err(ReadError::Closed),
            // Tolerate stray blank lines between requests (RFC 9112 section 2.2).
            Some(l) if l.is_empty() => {}
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(
            400,
            format!("malformed request line {request_line:?}"),
        ));
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, &mut head_bytes)? else {
            return Err(ReadError::Bad(
                400,
                "connection closed inside the headers".into(),
            ));
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(
                400,
                format!("malformed header line {line:?}"),
            ));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        keep_alive: false,
        headers,
        body: Vec::new(),
    };
    let connection = request
        .header("connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    request.keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    if request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked_body(reader)?
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad(400, format!("bad Content-Length {len:?}")))?;
        if len > MAX_BODY_BYTES {
            return Err(ReadError::Bad(
                413,
                format!("body of {len} bytes is too large"),
            ));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    Ok(request)
}

/// One CRLF- (or LF-) terminated line without its terminator; `None` at a clean end of stream.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    head_bytes: &mut usize,
) -> Result<Option<String>, ReadError> {
    let mut raw = Vec::new();
    let budget = (MAX_HEADER_BYTES + 1).saturating_sub(*head_bytes) as u64;
    let n = reader.by_ref().take(budget).read_until(b'\n', &mut raw)?;
    if n == 0 {
        return Ok(None);
    }
    *head_bytes += n;
    if !raw.ends_with(b"\n") {
        return Err(if *head_bytes > MAX_HEADER_BYTES {
            ReadError::Bad(413, "request head is too large".into())
        } else {
            ReadError::Bad(400, "connection closed inside a line".into())
        });
    }
    while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        raw.pop();
    }
    String::from_utf8(raw)
        .map(Some)
        .map_err(|_| ReadError::Bad(400, "request head is not UTF-8".into()))
}

fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut head_bytes = 0;
    loop {
        let Some(size_line) = read_line(reader, &mut head_bytes)? else {
            return Err(ReadError::Bad(
                400,
                "connection closed inside a chunked body".into(),
            ));
        };
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ReadError::Bad(400, format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailer fields, if any, end with an empty line.
            while read_line(reader, &mut head_bytes)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(ReadError::Bad(413, "chunked body is too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(ReadError::Bad(400, "chunk not followed by CRLF".into()));
        }
        head_bytes = 0;
    }
}

/// Writes a chunked `text/event-stream` response, one chunk per event.
pub(super) fn write_stream(
    writer: &mut TcpStream,
    request_id: &str,
    events: &[(&'static str, Value)],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    head.push_str("content-type: text/event-stream; charset=utf-8\r\n");
    head.push_str("cache-control: no-cache\r\n");
    head.push_str("transfer-encoding: chunked\r\n");
    let _ = write!(head, "request-id: {request_id}\r\n");
    head.push_str(connection_header(keep_alive));
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    for (name, data) in events {
        let event = format!("event: {name}\ndata: {data}\n\n");
        write!(writer, "{:x}\r\n", event.len())?;
        writer.write_all(event.as_bytes())?;
        writer.write_all(b"\r\n")?;
        writer.flush()?;
    }
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}

/// Writes a response with a `Content-Length` body.
pub(super) fn write_full(
    writer: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(&str, String)],
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "content-length: {}\r\n", body.len());
    head.push_str(connection_header(keep_alive));
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(body.as_bytes())?;
    writer.flush()
}

fn connection_header(keep_alive: bool) -> &'static str {
    if keep_alive {
        "connection: keep-alive\r\n"
    } else {
        "connection: close\r\n"
    }
}
