//! Token usage and cost from Claude Code transcripts, and the conversation they hold.
//!
//! - [`transcript`] reads a transcript (JSONL) as a stream, one line at a time, skipping entry
//!   types it does not know and lines it cannot read, and can resume from a byte offset for
//!   live snapshots without ever consuming a half-written last line.
//! - [`ledger`] counts each model response **once** per (message id, request id), whatever
//!   number of lines Claude Code wrote for it, and totals the tokens and dollars per model.
//! - [`pricing`] holds Anthropic's list prices per model family; an unknown model has no price.
//! - [`discovery`] finds a session's transcript under `~/.claude/projects/` (and its
//!   subagents' transcripts).
//! - [`conversation`] reads what the user and the assistant said, with the same streaming and
//!   resumable offsets.
//!
//! The rules that decide a figure (which duplicate line wins, how cache writes are split, the
//! long-context tier) follow ccusage 20.0.24, so the totals agree with it; the tests in
//! `legio-core/tests/ccusage_agreement.rs` check that on a set of fixture transcripts.
//!
//! Reads files only where a function says so (`read_usage_file`, `read_conversation_file`,
//! `find_transcript`, `session_transcripts`); nothing here writes.

pub mod conversation;
pub mod discovery;
pub mod ledger;
pub mod pricing;
pub mod transcript;

use serde::{Deserialize, Serialize};

use crate::domain::metrics::TokenUsage;

pub use conversation::{Conversation, Said, Speaker, read_conversation, read_conversation_file};
pub use discovery::{ClaudeDir, find_transcript, project_key, session_transcripts};
pub use ledger::{ModelUsage, Recorded, UnpricedModel, UsageLedger, UsageReport};
pub use pricing::{ModelPrice, model_price};
pub use transcript::{
    LastLine, ReadStats, Response, ResponseKey, TranscriptError, read_usage, read_usage_file,
};

/// Token counts of one or more model responses, with cache writes split by lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Tokens written to the prompt cache for five minutes.
    pub cache_write_5m_tokens: u64,
    /// Tokens written to the prompt cache for one hour.
    pub cache_write_1h_tokens: u64,
}

impl Usage {
    /// Cache writes of both lifetimes.
    pub fn cache_creation_tokens(&self) -> u64 {
        self.cache_write_5m_tokens
            .saturating_add(self.cache_write_1h_tokens)
    }

    /// Every token, of every kind.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_creation_tokens())
    }

    /// Field-wise sum (saturating: a hostile transcript cannot make it overflow).
    #[must_use]
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_add(other.cache_read_tokens),
            cache_write_5m_tokens: self
                .cache_write_5m_tokens
                .saturating_add(other.cache_write_5m_tokens),
            cache_write_1h_tokens: self
                .cache_write_1h_tokens
                .saturating_add(other.cache_write_1h_tokens),
        }
    }
}

impl From<Usage> for TokenUsage {
    fn from(usage: Usage) -> TokenUsage {
        TokenUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_tokens,
            cache_creation_tokens: usage.cache_creation_tokens(),
        }
    }
}
