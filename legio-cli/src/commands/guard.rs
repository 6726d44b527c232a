//! `legio guard --capability ROLE [--worktree DIR] [--files LIST]`: prints the decision the
//! PreToolUse hook would make, for a payload on stdin, so a policy can be checked without
//! spawning an agent.

use std::path::PathBuf;

use clap::Args;

/// `legio guard`.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The role whose policy applies.
    #[arg(long)]
    pub capability: String,
    /// The agent's worktree (writes are allowed only inside it).
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// The agent's file scope, comma-separated paths relative to the worktree.
    #[arg(long, value_delimiter = ',')]
    pub files: Vec<String>,
}
