//! The words of a conversation: what the user typed and what the assistant answered.
//!
//! Read from the same transcripts, with the same streaming and resumable offsets as usage.
//! User turns are `type: "user"` entries (legio 0.1.0 looked for `"human"`, which Claude Code
//! never writes, so it never saw one; that spelling is still accepted). A user entry counts
//! when its content is a non-empty string or holds a non-empty text block; tool results,
//! Claude Code's meta entries (`isMeta`) and subagents' sidechain lines are not the
//! conversation and are skipped. An assistant line contributes its first non-empty text block
//! (Claude Code writes one line per content block, so each text block is its own line).

use std::io::{self, BufRead};
use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::transcript::{LastLine, TranscriptError, for_each_line, open_at, read_error};

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The user (a person, or legio typing for one).
    User,
    /// The model.
    Assistant,
}

/// One thing said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// Who.
    pub speaker: Speaker,
    /// What.
    pub text: String,
}

/// What a read of a conversation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// In transcript order.
    pub said: Vec<Said>,
    /// Where the next read should resume.
    pub next_offset: u64,
    /// Bytes of an unfinished last line left for the next read.
    pub pending_bytes: u64,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(rename = "isMeta", default)]
    is_meta: Option<bool>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: Option<bool>,
    #[serde(default)]
    message: Option<RawMessage>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    content: Option<RawContent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawContent {
    Text(String),
    Blocks(Vec<RawBlock>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBlock {
    Bare(String),
    Block {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        text: Option<String>,
    },
    Other(IgnoredAny),
}

/// What one transcript line says, if it is part of the conversation.
pub fn said_in_line(line: &[u8]) -> Option<Said> {
    let entry: RawEntry = serde_json::from_slice(line).ok()?;
    if entry.is_meta == Some(true) || entry.is_sidechain == Some(true) {
        return None;
    }
    let speaker = match entry.kind.as_deref()? {
        "user" | "human" => Speaker::User,
        "assistant" => Speaker::Assistant,
        _ => return None,
    };
    let text = match entry.message?.content? {
        RawContent::Text(text) if speaker == Speaker::User => Some(text),
        RawContent::Text(_) | RawContent::Other(_) => None,
        RawContent::Blocks(blocks) => blocks.into_iter().find_map(|block| match block {
            RawBlock::Bare(text) if speaker == Speaker::User && !text.is_empty() => Some(text),
            RawBlock::Block {
                kind: Some(kind),
                text: Some(text),
            } if kind == "text" && !text.is_empty() => Some(text),
            _ => None,
        }),
    }?;
    (!text.is_empty()).then_some(Said { speaker, text })
}

/// Reads the conversation from `reader`, which starts at offset `at` of its file.
pub fn read_conversation<R: BufRead>(
    reader: R,
    at: u64,
    last: LastLine,
) -> io::Result<Conversation> {
    let mut said = Vec::new();
    let position = for_each_line(reader, at, last, |line| said.extend(said_in_line(line)))?;
    Ok(Conversation {
        said,
        next_offset: position.next_offset,
        pending_bytes: position.pending_bytes,
    })
}

/// Reads the conversation of the transcript at `path` from byte `from`.
pub fn read_conversation_file(
    path: &Path,
    from: u64,
    last: LastLine,
) -> Result<Conversation, TranscriptError> {
    read_conversation(open_at(path, from)?, from, last).map_err(read_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(line: &str) -> Option<(Speaker, String)> {
        said_in_line(line.as_bytes()).map(|s| (s.speaker, s.text))
    }

    #[test]
    fn user_turns_are_type_user() {
        let user = |t: &str| Some((Speaker::User, t.to_owned()));
        assert_eq!(
            said(r#"{"type":"user","message":{"role":"user","content":"fix the bug"}}"#),
            user("fix the bug")
        );
        assert_eq!(
            said(r#"{"type":"human","message":{"content":"old spelling"}}"#),
            user("old spelling")
        );
        assert_eq!(
            said(
                r#"{"type":"user","message":{"content":[{"type":"image"},{"type":"text","text":""},{"type":"text","text":"look"}]}}"#
            ),
            user("look")
        );
        assert_eq!(
            said(r#"{"type":"user","message":{"content":["bare"]}}"#),
            user("bare")
        );
    }

    #[test]
    fn tool_results_meta_and_sidechains_are_not_the_conversation() {
        for line in [
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":"ok"}]}}"#,
            r#"{"type":"user","isMeta":true,"message":{"content":"<system-reminder>x</system-reminder>"}}"#,
            r#"{"type":"user","isSidechain":true,"message":{"content":"subagent prompt"}}"#,
            r#"{"type":"user","message":{"content":""}}"#,
            r#"{"type":"user","message":{"content":42}}"#,
            r#"{"type":"user"}"#,
            r#"{"type":"system","content":"compacted"}"#,
            r#"{"type":"assistant","message":{"content":"a bare string is not an assistant message"}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash"}]}}"#,
            "not json",
        ] {
            assert_eq!(said(line), None, "{line}");
        }
    }

    #[test]
    fn assistant_lines_give_their_first_text_block() {
        assert_eq!(
            said(
                r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"Done."},{"type":"text","text":"more"}]}}"#
            ),
            Some((Speaker::Assistant, "Done.".to_owned()))
        );
    }

    #[test]
    fn reads_on_from_where_it_stopped() {
        let first = r#"{"type":"user","message":{"content":"hi"}}"#;
        let second =
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hello"}]}}"#;
        let text = format!("{first}\n{second}");
        let read = read_conversation(text.as_bytes(), 0, LastLine::Pending).unwrap();
        assert_eq!(read.said.len(), 1);
        assert_eq!(read.next_offset, first.len() as u64 + 1);
        assert_eq!(read.pending_bytes, second.len() as u64);
        let rest = format!("{second}\n");
        let more = read_conversation(rest.as_bytes(), read.next_offset, LastLine::Pending).unwrap();
        assert_eq!(
            more.said,
            vec![Said {
                speaker: Speaker::Assistant,
                text: "hello".into()
            }]
        );
        assert_eq!(more.next_offset, (text.len() + 1) as u64);
    }
}
