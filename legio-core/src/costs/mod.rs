//! Token usage and cost from Claude Code transcripts. (Being written; see the observability
//! issue.)
