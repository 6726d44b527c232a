//! Reading Claude Code transcripts (JSONL) as a stream.
//!
//! A transcript is a union of entry types (`user`, `assistant`, `system`, `summary`,
//! `attachment`, bookkeeping types Claude Code adds over time...). Only `assistant` entries
//! with a `message.usage` object carry tokens; every other line is skipped without error, and
//! a line that looks like usage but cannot be read is counted in [`ReadStats::unreadable`]
//! rather than failing the read. Lines are read one at a time: the file is never held in
//! memory, and lines that do not mention `"usage"` are not even parsed.
//!
//! Cache writes: `message.usage.cache_creation.ephemeral_5m_input_tokens` and
//! `ephemeral_1h_input_tokens` give the split by lifetime; when the split is absent the total
//! `cache_creation_input_tokens` counts as five-minute writes (the only kind there was before
//! the split existed). When a split is present but adds up to less than the total, the
//! difference is counted as five-minute writes, so no token is lost.
//!
//! Advisor calls (`usage.iterations[]` entries of type `advisor_message`, a model consulted
//! inside a response) are responses of their own model, keyed `<message id>:advisor:<n>`, as
//! ccusage counts them.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Usage;
use super::ledger::{Recorded, UsageLedger};

/// Why a transcript could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// A file or directory could not be opened or read.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("open transcript", "list", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The transcript is shorter than the offset already read: it was rewritten.
    #[error(
        "transcript {} is now {len} bytes, shorter than the {offset} bytes already read: it was \
         rewritten; read it again from offset 0 into a fresh ledger",
        path.display()
    )]
    Shrunk {
        /// The file.
        path: PathBuf,
        /// The offset the read was asked to resume from.
        offset: u64,
        /// The file's length now.
        len: u64,
    },
    /// A session id that cannot be a transcript file name.
    #[error(
        "invalid Claude Code session id {0:?}: use only letters, digits, '-' and '_' (a session \
         id is a UUID)"
    )]
    InvalidSessionId(String),
}

/// What identifies one API response: Claude Code may write it as several lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseKey {
    /// `message.id`.
    pub message_id: String,
    /// `requestId`, when the line has one.
    pub request_id: Option<String>,
}

/// The usage one transcript line reports for one model response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Its identity; `None` when the line has no message id (it is then counted as is).
    pub key: Option<ResponseKey>,
    /// The model, when the line names a real one (not Claude Code's `<synthetic>`).
    pub model: Option<String>,
    /// Its tokens.
    pub usage: Usage,
    /// Whether the line belongs to a sidechain (a subagent's turn written in the parent file).
    pub sidechain: bool,
    /// Whether the response was served in fast mode (`usage.speed == "fast"`).
    pub fast: bool,
}

/// What one line of a transcript is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// An assistant entry with usage: the response, and the advisor calls made within it.
    Response {
        /// The response itself.
        main: Response,
        /// Advisor models consulted during it (`usage.iterations[]` of type `advisor_message`),
        /// each billed at its own model's price.
        advisors: Vec<Response>,
    },
    /// Anything else legio has no use for (other entry types, blank lines).
    Other,
    /// A line that mentions usage but is not a well-formed entry.
    Unreadable,
}

/// What to do with a last line that has no newline yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastLine {
    /// Claude Code may still be writing it: leave it for the next read.
    Pending,
    /// The transcript is complete: read it like any other line.
    Final,
}

/// What a read did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStats {
    /// Where the next read should resume: just past the last whole line read.
    pub next_offset: u64,
    /// Lines read.
    pub lines: u64,
    /// Responses seen for the first time.
    pub responses: u64,
    /// Lines that repeated a response already counted.
    pub duplicates: u64,
    /// Lines that mention usage but could not be read.
    pub unreadable: u64,
    /// Bytes of an unfinished last line left for the next read.
    pub pending_bytes: u64,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: Option<bool>,
    #[serde(borrow, default)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    usage: Option<RawUsage<'a>>,
}

#[derive(Deserialize)]
struct RawUsage<'a> {
    /// Set on `iterations[]` entries: `message`, `advisor_message`, ...
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    /// Set on `iterations[]` entries: the model that served that iteration.
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    iterations: Option<Vec<RawUsage<'a>>>,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation: Option<RawCacheCreation>,
    #[serde(borrow, default)]
    speed: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawCacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

const USAGE_MARKER: &[u8] = b"\"usage\"";

/// Reads one transcript line (without its newline).
pub fn parse_line(line: &[u8]) -> Line {
    if memchr::memmem::find(line, USAGE_MARKER).is_none() {
        return Line::Other;
    }
    let Ok(entry) = serde_json::from_slice::<RawEntry<'_>>(line) else {
        return Line::Unreadable;
    };
    if entry.kind.as_deref() != Some("assistant") {
        return Line::Other;
    }
    let Some(message) = entry.message else {
        return Line::Other;
    };
    let Some(raw) = message.usage else {
        return Line::Other;
    };
    let model = message
        .model
        .filter(|m| !m.is_empty() && m != "<synthetic>")
        .map(Cow::into_owned);
    let request_id = entry.request_id.filter(|id| !id.is_empty());
    let message_id = message.id.filter(|id| !id.is_empty());
    let sidechain = entry.is_sidechain == Some(true);
    let advisors = raw
        .iterations
        .iter()
        .flatten()
        .filter(|it| it.kind.as_deref() == Some("advisor_message"))
        .filter_map(|it| Some((it.model.as_deref().filter(|m| !m.is_empty())?, it)))
        .enumerate()
        .map(|(n, (advisor_model, it))| Response {
            key: message_id.as_ref().map(|id| ResponseKey {
                message_id: format!("{id}:advisor:{n}"),
                request_id: request_id.clone(),
            }),
            model: Some(advisor_model.to_owned()),
            usage: usage_of(it),
            sidechain,
            fast: it.speed.as_deref() == Some("fast"),
        })
        .collect();
    let main = Response {
        key: message_id.map(|message_id| ResponseKey {
            message_id,
            request_id,
        }),
        model,
        usage: usage_of(&raw),
        sidechain,
        fast: raw.speed.as_deref() == Some("fast"),
    };
    Line::Response { main, advisors }
}

fn usage_of(raw: &RawUsage<'_>) -> Usage {
    let cache_total = raw.cache_creation_input_tokens.unwrap_or(0);
    let (five_minute_writes, one_hour_writes) = match &raw.cache_creation {
        Some(split) => {
            let one_hour = split.ephemeral_1h_input_tokens.unwrap_or(0);
            let five_min = split
                .ephemeral_5m_input_tokens
                .unwrap_or(0)
                .max(cache_total.saturating_sub(one_hour));
            (five_min, one_hour)
        }
        None => (cache_total, 0),
    };
    Usage {
        input_tokens: raw.input_tokens.unwrap_or(0),
        output_tokens: raw.output_tokens.unwrap_or(0),
        cache_read_tokens: raw.cache_read_input_tokens.unwrap_or(0),
        cache_write_5m_tokens: five_minute_writes,
        cache_write_1h_tokens: one_hour_writes,
    }
}

/// Where a read of whole lines stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// Just past the last whole line read.
    pub next_offset: u64,
    /// Whole lines read.
    pub lines: u64,
    /// Bytes of an unfinished last line left for the next read.
    pub pending_bytes: u64,
}

/// Calls `on_line` with every whole line of `reader` (without its line end), one at a time.
/// `at` is the offset `reader` starts at in its file.
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    at: u64,
    last: LastLine,
    mut on_line: impl FnMut(&[u8]),
) -> io::Result<Position> {
    let mut position = Position {
        next_offset: at,
        ..Position::default()
    };
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && last == LastLine::Pending {
            position.pending_bytes = n as u64;
            break;
        }
        position.next_offset += n as u64;
        position.lines += 1;
        on_line(trim_line_end(&buf));
    }
    Ok(position)
}

/// Opens the transcript at `path` positioned at byte `from`.
pub(crate) fn open_at(path: &Path, from: u64) -> Result<BufReader<File>, TranscriptError> {
    let io_error = |action| {
        move |source| TranscriptError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let mut file = File::open(path).map_err(io_error("open transcript"))?;
    let len = file
        .metadata()
        .map_err(io_error("read the size of transcript"))?
        .len();
    if len < from {
        return Err(TranscriptError::Shrunk {
            path: path.to_owned(),
            offset: from,
            len,
        });
    }
    file.seek(SeekFrom::Start(from))
        .map_err(io_error("seek in transcript"))?;
    Ok(BufReader::with_capacity(64 * 1024, file))
}

pub(crate) fn read_error(path: &Path) -> impl FnOnce(io::Error) -> TranscriptError {
    let path = path.to_owned();
    move |source| TranscriptError::Io {
        action: "read transcript",
        path,
        source,
    }
}

/// Reads transcript lines from `reader` into `ledger`.
///
/// `at` is the offset `reader` starts at in its file (0 for a fresh read); the returned
/// [`ReadStats::next_offset`] is `at` plus the bytes of the whole lines read.
pub fn read_usage<R: BufRead>(
    reader: R,
    at: u64,
    ledger: &mut UsageLedger,
    last: LastLine,
) -> io::Result<ReadStats> {
    let mut stats = ReadStats::default();
    let position = for_each_line(reader, at, last, |line| match parse_line(line) {
        Line::Response { main, advisors } => {
            for response in std::iter::once(main).chain(advisors) {
                match ledger.record(response) {
                    Recorded::New => stats.responses += 1,
                    Recorded::Replaced | Recorded::Kept => stats.duplicates += 1,
                }
            }
        }
        Line::Other => {}
        Line::Unreadable => stats.unreadable += 1,
    })?;
    Ok(ReadStats {
        next_offset: position.next_offset,
        lines: position.lines,
        pending_bytes: position.pending_bytes,
        ..stats
    })
}

/// Reads the transcript at `path` from byte `from` into `ledger`.
///
/// Resume a live transcript with the previous read's [`ReadStats::next_offset`] and the same
/// ledger; a transcript that became shorter than `from` gives [`TranscriptError::Shrunk`].
pub fn read_usage_file(
    path: &Path,
    from: u64,
    ledger: &mut UsageLedger,
    last: LastLine,
) -> Result<ReadStats, TranscriptError> {
    read_usage(open_at(path, from)?, from, ledger, last).map_err(read_error(path))
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(line: &str) -> Response {
        match parse_line(line.as_bytes()) {
            Line::Response { main, advisors } if advisors.is_empty() => main,
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn reads_an_assistant_line() {
        let r = response(
            r#"{"type":"assistant","requestId":"req_1","isSidechain":false,"message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":3,"output_tokens":7,"cache_read_input_tokens":11,"cache_creation_input_tokens":13,"cache_creation":{"ephemeral_5m_input_tokens":5,"ephemeral_1h_input_tokens":8},"service_tier":"standard"}}}"#,
        );
        assert_eq!(
            r,
            Response {
                key: Some(ResponseKey {
                    message_id: "msg_1".into(),
                    request_id: Some("req_1".into())
                }),
                model: Some("claude-sonnet-4-5-20250929".into()),
                usage: Usage {
                    input_tokens: 3,
                    output_tokens: 7,
                    cache_read_tokens: 11,
                    cache_write_5m_tokens: 5,
                    cache_write_1h_tokens: 8,
                },
                sidechain: false,
                fast: false,
            }
        );
    }

    #[test]
    fn cache_writes_without_a_split_count_as_five_minute_writes() {
        let r = response(
            r#"{"type":"assistant","message":{"id":"m","usage":{"cache_creation_input_tokens":40}}}"#,
        );
        assert_eq!(r.usage.cache_write_5m_tokens, 40);
        assert_eq!(r.usage.cache_write_1h_tokens, 0);
    }

    #[test]
    fn a_split_short_of_the_total_keeps_every_token() {
        let r = response(
            r#"{"type":"assistant","message":{"usage":{"cache_creation_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":30}}}}"#,
        );
        assert_eq!(r.usage.cache_write_5m_tokens, 70);
        assert_eq!(r.usage.cache_write_1h_tokens, 30);
        // A split with no total is taken as is.
        let r = response(
            r#"{"type":"assistant","message":{"usage":{"cache_creation":{"ephemeral_5m_input_tokens":9,"ephemeral_1h_input_tokens":4}}}}"#,
        );
        assert_eq!(r.usage.cache_creation_tokens(), 13);
    }

    #[test]
    fn missing_fields_count_as_zero_and_empty_ids_as_absent() {
        let r = response(
            r#"{"type":"assistant","requestId":"","message":{"id":"","model":"<synthetic>","usage":{}}}"#,
        );
        assert_eq!(r.key, None);
        assert_eq!(r.model, None);
        assert_eq!(r.usage, Usage::default());
        let r = response(
            r#"{"type":"assistant","message":{"id":"m","usage":{"input_tokens":1,"speed":"fast"}},"isSidechain":true}"#,
        );
        assert_eq!(
            r.key,
            Some(ResponseKey {
                message_id: "m".into(),
                request_id: None
            })
        );
        assert!(r.fast && r.sidechain);
    }

    #[test]
    fn advisor_iterations_are_responses_of_their_own_model() {
        let line = r#"{"type":"assistant","requestId":"r","message":{"id":"m","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1,"iterations":[{"type":"message","model":null,"input_tokens":10},{"type":"advisor_message","model":"claude-opus-4-6","input_tokens":500,"output_tokens":20,"cache_creation":{"ephemeral_1h_input_tokens":7}},{"type":"advisor_message","model":null}]}}}"#;
        let Line::Response { main, advisors } = parse_line(line.as_bytes()) else {
            panic!("not a response");
        };
        assert_eq!(main.usage.input_tokens, 10);
        assert_eq!(advisors.len(), 1);
        let advisor = &advisors[0];
        assert_eq!(advisor.model.as_deref(), Some("claude-opus-4-6"));
        assert_eq!(
            advisor.key,
            Some(ResponseKey {
                message_id: "m:advisor:0".into(),
                request_id: Some("r".into())
            })
        );
        assert_eq!(
            (
                advisor.usage.input_tokens,
                advisor.usage.output_tokens,
                advisor.usage.cache_write_1h_tokens
            ),
            (500, 20, 7)
        );
    }

    #[test]
    fn other_entries_and_bad_lines_are_told_apart() {
        for line in [
            "",
            "{}",
            r#"{"type":"user","message":{"role":"user","content":"hi"}}"#,
            r#"{"type":"user","message":{"usage":{"input_tokens":5}}}"#,
            r#"{"type":"queue-operation","operation":"enqueue","content":"\"usage\""}"#,
            r#"{"type":"summary","summary":"x","leafUuid":"u"}"#,
            r#"{"type":"assistant","message":{"id":"m","content":[]}}"#,
            r#"{"type":"assistant","usage":{"input_tokens":5}}"#,
            "not json at all",
        ] {
            assert_eq!(parse_line(line.as_bytes()), Line::Other, "{line}");
        }
        for line in [
            r#"{"type":"assistant","message":{"usage":{"input_tokens":"12"}}}"#,
            r#"{"type":"assistant","message":{"usage":{"input_tokens":-1}}}"#,
            r#"{"type":"assistant","message":{"usage":{"input_tokens":1.5}}}"#,
            r#"{"type":"assistant","message":{"usage":{"input_tokens":1}"#,
        ] {
            assert_eq!(parse_line(line.as_bytes()), Line::Unreadable, "{line}");
        }
    }

    const A: &str = r#"{"type":"assistant","requestId":"r1","message":{"id":"m1","model":"claude-haiku-4-5","usage":{"input_tokens":10,"output_tokens":1}}}"#;
    const A_FINAL: &str = r#"{"type":"assistant","requestId":"r1","message":{"id":"m1","model":"claude-haiku-4-5","usage":{"input_tokens":10,"output_tokens":50}}}"#;
    const B: &str = r#"{"type":"assistant","requestId":"r2","message":{"id":"m2","model":"claude-haiku-4-5","usage":{"input_tokens":20,"output_tokens":2}}}"#;

    #[test]
    fn streams_lines_and_counts_each_response_once() {
        let text = format!("{A}\n{{\"type\":\"user\"}}\n{A_FINAL}\r\nbroken {{\"usage\"\n{B}\n");
        let mut ledger = UsageLedger::new();
        let stats = read_usage(text.as_bytes(), 0, &mut ledger, LastLine::Pending).unwrap();
        assert_eq!(
            stats,
            ReadStats {
                next_offset: text.len() as u64,
                lines: 5,
                responses: 2,
                duplicates: 1,
                unreadable: 1,
                pending_bytes: 0,
            }
        );
        let total = ledger.report().total;
        assert_eq!((total.input_tokens, total.output_tokens), (30, 52));
    }

    #[test]
    fn leaves_a_half_written_last_line_for_the_next_read() {
        let half = &B[..B.len() / 2];
        let text = format!("{A}\n{half}");
        let mut ledger = UsageLedger::new();
        let stats = read_usage(text.as_bytes(), 0, &mut ledger, LastLine::Pending).unwrap();
        assert_eq!(stats.next_offset, A.len() as u64 + 1);
        assert_eq!(stats.pending_bytes, half.len() as u64);
        assert_eq!((stats.lines, stats.unreadable), (1, 0));

        // The writer finishes the line; the next read resumes where the last one stopped.
        let rest = format!("{}\n", &B[B.len() / 2..]);
        let full = format!("{text}{rest}");
        let from = stats.next_offset;
        let stats = read_usage(
            &full.as_bytes()[from as usize..],
            from,
            &mut ledger,
            LastLine::Pending,
        )
        .unwrap();
        assert_eq!(stats.next_offset, full.len() as u64);
        assert_eq!(stats.responses, 1);
        assert_eq!(ledger.report().total.input_tokens, 30);
    }

    #[test]
    fn a_final_read_takes_a_last_line_without_newline() {
        let text = format!("{A}\n{B}");
        let mut ledger = UsageLedger::new();
        let stats = read_usage(text.as_bytes(), 0, &mut ledger, LastLine::Final).unwrap();
        assert_eq!((stats.responses, stats.pending_bytes), (2, 0));
        assert_eq!(stats.next_offset, text.len() as u64);
    }
}
