//! Per-session metrics and token snapshots (`metrics.db`).

use serde::{Deserialize, Serialize};

use super::merge::ResolutionTier;
use crate::time::Timestamp;

/// Token counts of one or more model responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Tokens written to the prompt cache (5-minute and 1-hour writes together).
    pub cache_creation_tokens: u64,
}

impl TokenUsage {
    /// Field-wise sum.
    #[must_use]
    pub fn plus(self, other: TokenUsage) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cache_read_tokens: self.cache_read_tokens + other.cache_read_tokens,
            cache_creation_tokens: self.cache_creation_tokens + other.cache_creation_tokens,
        }
    }
}

/// One agent session's totals (`metrics.db`, table `sessions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionMetrics {
    /// The agent.
    pub agent_name: String,
    /// Its task.
    pub bead_id: String,
    /// Its role.
    pub capability: String,
    /// Session start.
    pub started_at: Timestamp,
    /// Session end, if it ended.
    pub completed_at: Option<Timestamp>,
    /// Wall time.
    pub duration_ms: i64,
    /// Process exit code, if known.
    pub exit_code: Option<i64>,
    /// How its branch was merged, once it was.
    pub merge_result: Option<ResolutionTier>,
    /// Its parent.
    pub parent_agent: Option<String>,
    /// Its run.
    pub run_id: Option<String>,
    /// Token totals.
    #[serde(flatten)]
    pub usage: TokenUsage,
    /// Estimated cost in USD, when the model is known.
    pub estimated_cost_usd: Option<f64>,
    /// The model used (the first one seen).
    pub model_used: Option<String>,
}

/// A point-in-time token total of a running agent (`metrics.db`, table `token_snapshots`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSnapshot {
    /// The agent.
    pub agent_name: String,
    /// Token totals so far.
    #[serde(flatten)]
    pub usage: TokenUsage,
    /// Estimated cost so far.
    pub estimated_cost_usd: Option<f64>,
    /// The model.
    pub model_used: Option<String>,
    /// When it was taken.
    pub created_at: Timestamp,
}
