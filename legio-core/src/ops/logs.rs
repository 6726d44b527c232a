//! The output logs `legio logs` shows: what each agent printed, and legio's own error log.
//!
//! legio's hooks record events in `events.db` (see `legio trace`/`feed`); they do not write
//! legio 0.1.0's per-session NDJSON logs. What is left to read as a log is what the agents
//! themselves printed:
//! - `.legio/logs/<agent>/terminal.log`: the raw terminal of a tmux agent (tmux `pipe-pane`),
//!   or the path its session row names;
//! - `.legio/logs/<agent>/output.log`: stdout and stderr of a headless agent;
//! - `.legio/legio-errors.log`: problems legio's hooks met without blocking an agent.
//!
//! Files are read by byte offset. A [`Tail`] only ever hands out whole lines: a last line
//! without its newline yet stays in the file for the next read, so a line being written is
//! never cut in two or lost. A file that shrank (rotated, truncated) is read again from the
//! start. Terminal bytes are turned into plain text ([`plain_text`]): escape sequences dropped,
//! carriage-return overwrites resolved.
//!
//! Reads files only; never writes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::agent::AgentSession;
use crate::layout::Layout;

/// The name `legio logs` gives legio's own error log.
pub const LEGIO_SOURCE: &str = "legio";

/// What a log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LogKind {
    /// An agent's terminal (tmux).
    Terminal,
    /// A headless agent's stdout and stderr.
    Output,
    /// legio's own error log.
    Errors,
}

/// One log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSource {
    /// The agent, or [`LEGIO_SOURCE`] for legio's error log.
    pub name: String,
    /// What it holds.
    pub kind: LogKind,
    /// The file.
    pub path: PathBuf,
}

impl LogSource {
    /// `builder-1 (terminal.log)`.
    pub fn label(&self) -> String {
        let file = self
            .path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        format!("{} ({file})", self.name)
    }
}

/// The logs that exist now: for each agent (all agents with a log directory or a session row,
/// or only `only`), its terminal and output logs, then legio's error log (unless `only` names
/// agents). Sorted by agent name.
pub fn discover(
    layout: &Layout,
    sessions: &[AgentSession],
    only: &[String],
) -> std::io::Result<Vec<LogSource>> {
    let mut names: Vec<String> = if only.is_empty() {
        let mut names: Vec<String> = sessions.iter().map(|s| s.agent_name.to_string()).collect();
        match std::fs::read_dir(layout.file("logs")) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        names
    } else {
        only.to_vec()
    };
    names.sort();
    names.dedup();
    let mut found = Vec::new();
    for name in names {
        let dir = layout.file("logs").join(&name);
        let terminal = sessions
            .iter()
            .find(|s| s.agent_name.as_str() == name)
            .and_then(|s| s.terminal_log_path.as_deref())
            .map_or_else(|| dir.join("terminal.log"), PathBuf::from);
        let candidates = [
            (LogKind::Terminal, terminal),
            (LogKind::Output, dir.join("output.log")),
        ];
        for (kind, path) in candidates {
            if path.is_file() {
                found.push(LogSource {
                    name: name.clone(),
                    kind,
                    path,
                });
            }
        }
    }
    if only.is_empty() && layout.error_log().is_file() {
        found.push(LogSource {
            name: LEGIO_SOURCE.to_owned(),
            kind: LogKind::Errors,
            path: layout.error_log(),
        });
    }
    Ok(found)
}

/// The last `n` lines of `path` as plain text, and the byte offset just after the last whole
/// line (where a [`Tail`] continues). A last line without its newline is included only when
/// `partial` is true. Reads the file backwards, so a large log costs only its end.
pub fn last_lines(path: &Path, n: usize, partial: bool) -> std::io::Result<(Vec<String>, u64)> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // Read backwards until n + 1 newlines are in the buffer (or the file's start).
    let mut buf: Vec<u8> = Vec::new();
    let mut newlines = 0;
    let mut pos = len;
    while pos > 0 && newlines <= n {
        let step = CHUNK.min(pos);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let mut chunk = vec![0; usize::try_from(step).unwrap_or(usize::MAX)];
        file.read_exact(&mut chunk)?;
        newlines += chunk.split(|&b| b == b'\n').count() - 1;
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
    let whole_end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let end_offset = pos + whole_end as u64;
    let (whole, rest) = buf.split_at(whole_end);
    let mut lines: Vec<&[u8]> = whole.split(|&b| b == b'\n').collect();
    lines.pop(); // the empty piece after the last newline
    if pos > 0 && !lines.is_empty() {
        // The first piece may start mid-line.
        lines.remove(0);
    }
    if partial && !rest.is_empty() {
        lines.push(rest);
    }
    let skip = lines.len().saturating_sub(n);
    let text = lines[skip..].iter().map(|l| plain_text(l)).collect();
    Ok((text, end_offset))
}

/// What one [`Tail::read`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TailRead {
    /// New whole lines, as plain text.
    pub lines: Vec<String>,
    /// The file had become shorter than what was already read: it was read again from its
    /// start.
    pub restarted: bool,
}

/// Follows one file by byte offset, handing out whole lines only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
}

impl Tail {
    /// Follows `path` from byte `offset`.
    pub fn new(path: impl Into<PathBuf>, offset: u64) -> Self {
        Self {
            path: path.into(),
            offset,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the next read starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The whole lines written since the last read. A file that vanished reads as nothing.
    pub fn read(&mut self) -> std::io::Result<TailRead> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TailRead::default()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let mut read = TailRead::default();
        if len < self.offset {
            self.offset = 0;
            read.restarted = true;
        }
        if len == self.offset {
            return Ok(read);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.take(len - self.offset).read_to_end(&mut bytes)?;
        let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Ok(read);
        };
        let whole = &bytes[..last_newline];
        read.lines = whole.split(|&b| b == b'\n').map(plain_text).collect();
        self.offset += last_newline as u64 + 1;
        Ok(read)
    }
}

/// One line of terminal output as plain text: escape sequences (colours, cursor moves, titles)
/// removed, a carriage return overwriting what came before it, other control characters
/// dropped, invalid UTF-8 replaced.
pub fn plain_text(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\r' => {
                // A lone CR at the end (CRLF) changes nothing; otherwise the text after it
                // overwrites the line, as on a terminal.
                if chars.peek().is_some() {
                    out.clear();
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips one escape sequence after ESC: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ESC \`),
/// or a two-character sequence.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']' | 'P' | '_' | '^') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    chars.next_if_eq(&'\\');
                    break;
                }
            }
        }
        Some('(' | ')' | '*' | '+') => {
            chars.next();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn plain_text_drops_escapes_and_resolves_carriage_returns() {
        assert_eq!(
            plain_text(b"\x1b[1;32mok\x1b[0m done\r"),
            "ok done",
            "colours and a CRLF"
        );
        assert_eq!(plain_text(b"50%\r100%"), "100%");
        assert_eq!(plain_text(b"\x1b]0;title\x07hello\x1b[2K"), "hello");
        assert_eq!(plain_text(b"a\tb\x08c"), "a\tbc");
        assert_eq!(plain_text(b"caf\xc3\xa9 \xff"), "café \u{fffd}");
    }

    #[test]
    fn last_lines_reads_the_end_of_a_large_file_and_knows_where_whole_lines_end() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.log");
        let mut f = File::create(&path).unwrap();
        for i in 0..20_000 {
            writeln!(f, "line {i}").unwrap();
        }
        write!(f, "half").unwrap();
        drop(f);
        let len = std::fs::metadata(&path).unwrap().len();
        let (lines, end) = last_lines(&path, 3, false).unwrap();
        assert_eq!(lines, ["line 19997", "line 19998", "line 19999"]);
        assert_eq!(end, len - 4);
        let (lines, _) = last_lines(&path, 2, true).unwrap();
        assert_eq!(lines, ["line 19999", "half"]);
        let (lines, _) = last_lines(&path, 50_000, false).unwrap();
        assert_eq!(lines.len(), 20_000);
        assert_eq!(lines[0], "line 0");
    }

    #[test]
    fn a_tail_never_splits_a_line_and_restarts_on_a_shorter_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.log");
        std::fs::write(&path, "one\ntw").unwrap();
        let mut tail = Tail::new(&path, 0);
        assert_eq!(tail.read().unwrap().lines, ["one"]);
        assert_eq!(tail.offset(), 4);
        assert!(tail.read().unwrap().lines.is_empty(), "half a line waits");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(f, "o\nthr€").unwrap();
        assert_eq!(tail.read().unwrap().lines, ["two"]);
        writeln!(f, "ee").unwrap();
        assert_eq!(
            tail.read().unwrap().lines,
            ["thr€ee"],
            "UTF-8 split across reads"
        );
        std::fs::write(&path, "new\n").unwrap();
        let again = tail.read().unwrap();
        assert!(again.restarted);
        assert_eq!(again.lines, ["new"]);
    }
}
