//! The PreToolUse guard: decides, before a tool runs, whether an agent may make that call.
//!
//! [`decide`] is a pure function of a [`GuardPolicy`] (the agent's role, worktree and file
//! scope) and the hook payload's `tool_name` and `tool_input`. Bash commands are *read*, not
//! pattern-matched: [`shell`] parses them with a real bash parser and flattens them into the
//! programs they run (through `;`, `&&`, pipes, subshells, `$(...)`, `sh -c`, `eval`, `env`,
//! `xargs`, `find -exec`, full paths, ...); the rules then judge each program. What cannot be
//! read is denied. Every denial says what to do instead.
//!
//! # Rules
//!
//! - **Every agent**: no `git push` in any form; no `AskUserQuestion`, `EnterPlanMode`,
//!   `EnterWorktree` or Claude Code team tools (`Task`, `TeamCreate`, ...): agents talk through
//!   `legio mail` and delegate with `legio sling`; no long `sleep` (over 60 s in one command, or
//!   5 s inside a loop), no `watch` and no `legio mail check` in a loop (mail arrives by itself); `legio sling` only for roles that may spawn, and only the roles
//!   they may spawn; no repository-wide git surgery (`reset --hard`, `clean`, `stash`,
//!   deleting or forcing branches, tags, `config` writes, `worktree`, `gc`, `update-ref`, ...);
//!   no writing legio's own hook settings (`.claude/settings*.json`) or the worktree's `.git`.
//! - **Read-only roles** ([`Capability::is_read_only`]): no Write/Edit/MultiEdit/NotebookEdit, no
//!   shell command that writes a file (redirections other than to `/dev/null` and friends,
//!   `rm`, `mv`, `cp`, `tee`, `sed -i`, `git commit`, package installs, formatters in write
//!   mode, ...), no scripts or inline interpreter code; the `legio` commands their role needs
//!   stay allowed. The cto may also write `<project>/.legio/strategy.json`, its deliverable.
//! - **Writing roles** (builder, merger, lead): file writes, from tools and from the shell, only
//!   inside their own worktree (paths resolved against the command's directory, `..` and
//!   symlinks followed as the kernel would) and inside the `--files` scope when there is one;
//!   plus scratch files under the scratch directories (default `/tmp`, but never inside the
//!   project) and Claude Code's memory directory. git that writes must run in the worktree, on
//!   the agent's own branch (`legio/<agent>/...`), without `--git-dir`/`--work-tree`.
//!
//! # Building a policy (for the CLI)
//!
//! ```
//! use legio_core::guard::{decide, Decision, GuardPolicy};
//! use legio_core::Capability;
//!
//! // `legio hook PreToolUse` for agent builder-1 (from its session row), or
//! // `legio guard --capability builder --worktree DIR --files a,b`:
//! let policy = GuardPolicy::new(Capability::Builder)
//!     .with_agent("builder-1".parse().ok())
//!     .with_worktree(Some("/repo/.legio/worktrees/builder-1".into()))
//!     .with_files(vec!["src/auth/".into()])
//!     .with_project_root(Some("/repo".into()))
//!     .with_home(Some("/home/dev".into()));
//! let input = serde_json::json!({"command": "cargo test && git push"});
//! assert!(matches!(decide(&policy, "Bash", &input), Decision::Deny { .. }));
//! ```
//!
//! The CLI turns a [`Decision::Deny`] into the Claude Code output
//! `{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":REASON}}`
//! (exit 0) and prints nothing for [`Decision::Allow`]. A payload that is not JSON, or has no
//! `tool_name`, must be denied by the caller for an agent.
//!
//! A hook that crashes lets the call through (Claude Code treats it as a non-blocking error),
//! so the caller should turn a panic into a denial, and may run `decide` on a thread with a
//! generous stack (say 16 MB) as defence in depth: the reader already refuses input whose
//! shape would make the parser recurse deeply ([`shell::MAX_LEN`], nesting limits).
//!
//! What the guard does not do: sandbox the code an agent runs. A test suite, a build script or
//! a script the agent wrote may write anywhere the user can (or run `git push`); the guard
//! bounds what the agent itself asks for. An OS sandbox, and a `pre-push` hook or a disabled
//! push URL in agent worktrees, are the tools for the rest.

mod argv;
mod git;
mod legio;
mod paths;
mod rules;
pub mod shell;

use std::path::PathBuf;

use serde_json::Value;

use crate::domain::agent::Capability;
use crate::names::AgentName;

pub use paths::{FsLinks, Links, NoLinks};

/// Who the guard is protecting against: one agent's role and where it may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardPolicy {
    /// The agent's role.
    pub capability: Capability,
    /// The agent's name; its own branches are `legio/<name>/...`.
    pub agent: Option<AgentName>,
    /// The agent's worktree (its working directory); `None` for roles at the project root.
    pub worktree: Option<PathBuf>,
    /// The `--files` scope, relative to the worktree; empty means the whole worktree.
    pub file_scope: Vec<String>,
    /// The project root (the main checkout): scratch writes never land inside it, and it is
    /// the working directory of root-level roles.
    pub project_root: Option<PathBuf>,
    /// The user's home, for `~`, `$HOME` and Claude Code's memory directory.
    pub home: Option<PathBuf>,
    /// Directories outside the project where writing roles may keep scratch files.
    pub scratch_dirs: Vec<PathBuf>,
}

impl GuardPolicy {
    /// A policy for `capability` with nothing else known (no worktree: every write outside
    /// `/dev/null` and the scratch directories is denied) and `/tmp` as scratch.
    pub fn new(capability: Capability) -> Self {
        Self {
            capability,
            agent: None,
            worktree: None,
            file_scope: Vec::new(),
            project_root: None,
            home: None,
            scratch_dirs: vec![PathBuf::from("/tmp")],
        }
    }

    /// Sets the agent's name.
    #[must_use]
    pub fn with_agent(mut self, agent: Option<AgentName>) -> Self {
        self.agent = agent;
        self
    }

    /// Sets the worktree.
    #[must_use]
    pub fn with_worktree(mut self, worktree: Option<PathBuf>) -> Self {
        self.worktree = worktree;
        self
    }

    /// Sets the `--files` scope (entries relative to the worktree; blank entries are dropped).
    #[must_use]
    pub fn with_files(mut self, files: Vec<String>) -> Self {
        self.file_scope = files
            .into_iter()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        self
    }

    /// Sets the project root.
    #[must_use]
    pub fn with_project_root(mut self, root: Option<PathBuf>) -> Self {
        self.project_root = root;
        self
    }

    /// Sets the home directory.
    #[must_use]
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    /// Replaces the scratch directories (empty: no scratch writes).
    #[must_use]
    pub fn with_scratch_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.scratch_dirs = dirs;
        self
    }

    /// The directory the agent's commands start in.
    fn start_dir(&self) -> Option<PathBuf> {
        self.worktree.clone().or_else(|| {
            self.capability
                .works_at_root()
                .then(|| self.project_root.clone())
                .flatten()
        })
    }
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the tool run.
    Allow,
    /// Block it; `reason` is shown to the agent and says what to do instead.
    Deny {
        /// Why, and what to do instead.
        reason: String,
    },
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Claude Code's own delegation tools; legio agents delegate with `legio sling`.
pub const TEAM_TOOLS: &[&str] = &[
    "Task",
    "Agent",
    "TeamCreate",
    "TeamDelete",
    "SendMessage",
    "TaskCreate",
    "TaskUpdate",
    "TaskList",
    "TaskGet",
    "TaskOutput",
    "TaskStop",
];

/// Decides one PreToolUse call, following symlinks on the real filesystem.
pub fn decide(policy: &GuardPolicy, tool_name: &str, tool_input: &Value) -> Decision {
    decide_with(policy, &FsLinks, tool_name, tool_input)
}

/// [`decide`] with the symlink lookup supplied (tests pass [`NoLinks`] or a map).
pub fn decide_with(
    policy: &GuardPolicy,
    links: &dyn Links,
    tool_name: &str,
    tool_input: &Value,
) -> Decision {
    let ctx = rules::Ctx::new(policy, links);
    match check_tool(&ctx, tool_name, tool_input) {
        Ok(()) => Decision::Allow,
        Err(reason) => Decision::Deny { reason },
    }
}

fn check_tool(ctx: &rules::Ctx<'_>, tool: &str, input: &Value) -> Result<(), String> {
    match tool {
        "AskUserQuestion" => Err("legio agents run without a human at the keyboard: AskUserQuestion is not available. \
             Ask your parent instead: legio mail send --to <parent> --type question --subject ... --body ..."
            .into()),
        "EnterPlanMode" => Err("legio agents run non-interactively: EnterPlanMode is not available. \
             Go ahead with the task; send questions with legio mail send --type question."
            .into()),
        "EnterWorktree" => Err("you already work in your own legio worktree; nested worktrees are not allowed. \
             To get more hands, ask your parent with legio mail send --type question."
            .into()),
        t if TEAM_TOOLS.contains(&t) => Err(format!(
            "{t} is not available to legio agents: delegate with legio sling (if your role may spawn) \
             and talk to other agents with legio mail send"
        )),
        "Write" | "Edit" | "MultiEdit" => file_tool(ctx, tool, input, "file_path"),
        "NotebookEdit" => file_tool(ctx, tool, input, "notebook_path"),
        "Bash" => {
            let command = input
                .get("command")
                .and_then(Value::as_str)
                .ok_or("the Bash call has no `command` text; legio cannot check it")?;
            rules::bash(ctx, command)
        }
        _ => Ok(()),
    }
}

fn file_tool(ctx: &rules::Ctx<'_>, tool: &str, input: &Value, field: &str) -> Result<(), String> {
    let path = input
        .get(field)
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!("the {tool} call has no `{field}`; legio cannot check where it writes")
        })?;
    let target = shell::Arg::Lit(path.to_owned());
    ctx.write(ctx.policy.start_dir().as_deref(), &target, tool)
}

#[cfg(test)]
mod tests;
