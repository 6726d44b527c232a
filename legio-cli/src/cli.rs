//! The command line, declared once: parsing, help text and shell completions all come from
//! these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// legio: a fleet of coding agents working on one repository.
#[derive(Debug, Parser)]
#[command(
    name = "legio",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only results and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Run as if legio was started in this directory.
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// legio's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up `.legio/` in the current git repository.
    Init(InitArgs),
    /// The built-in task tracker.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Mail between agents and the orchestrator.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Handle one Claude Code hook event (called by agents' hooks; reads the payload on stdin).
    Hook(HookArgs),
    /// Record a hook event (legio 0.1.0 compatibility; prefer `legio hook`).
    Log(LogArgs),
    /// Print the decision the PreToolUse guard makes for a payload on stdin.
    Guard(GuardArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// `legio init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Rewrite config.yaml, the manifest and the role definitions even if they exist
    /// (the old files are kept as `.bak`).
    #[arg(long)]
    pub force: bool,
}

/// `legio task ...`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task.
    Create(TaskCreateArgs),
    /// List tasks (open ones by default).
    List(TaskListArgs),
    /// Show one task.
    Show {
        /// The task id.
        id: String,
    },
    /// Change a task.
    Update(TaskUpdateArgs),
    /// Close a task.
    Close {
        /// The task id.
        id: String,
        /// Why it was closed.
        #[arg(long)]
        reason: Option<String>,
    },
    /// List open tasks whose dependencies are all closed.
    Ready {
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// `legio task create`.
#[derive(Debug, Args)]
pub struct TaskCreateArgs {
    /// One-line title.
    pub title: String,
    /// Longer description.
    #[arg(short, long, default_value = "")]
    pub description: String,
    /// 0 (highest) to 4 (lowest).
    #[arg(short, long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: u8,
    /// Kind of task (task, bug, feature, epic, ...).
    #[arg(short = 't', long = "type", default_value = "task")]
    pub task_type: String,
    /// Parent task.
    #[arg(long)]
    pub parent: Option<String>,
    /// A task that must be closed first (repeatable).
    #[arg(long = "depends-on", value_name = "ID")]
    pub depends_on: Vec<String>,
    /// Who works on it.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Use this id instead of a generated one.
    #[arg(long)]
    pub id: Option<String>,
}

/// Task statuses on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TaskStatusArg {
    /// Not started.
    Open,
    /// Someone works on it.
    InProgress,
    /// Waiting.
    Blocked,
    /// Done.
    Closed,
}

/// `legio task list`.
#[derive(Debug, Args)]
pub struct TaskListArgs {
    /// Only this status (repeatable).
    #[arg(long, value_enum)]
    pub status: Vec<TaskStatusArg>,
    /// Include closed tasks.
    #[arg(long)]
    pub all: bool,
    /// Only tasks of this assignee.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Only children of this task.
    #[arg(long)]
    pub parent: Option<String>,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `legio task update`.
#[derive(Debug, Args)]
pub struct TaskUpdateArgs {
    /// The task id.
    pub id: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(short, long)]
    pub description: Option<String>,
    /// New status.
    #[arg(long, value_enum)]
    pub status: Option<TaskStatusArg>,
    /// New priority.
    #[arg(short, long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: Option<u8>,
    /// New assignee.
    #[arg(long, conflicts_with = "unassign")]
    pub assignee: Option<String>,
    /// Clear the assignee.
    #[arg(long)]
    pub unassign: bool,
    /// Add a dependency (repeatable).
    #[arg(long = "add-dep", value_name = "ID")]
    pub add_dep: Vec<String>,
    /// Remove a dependency (repeatable).
    #[arg(long = "remove-dep", value_name = "ID")]
    pub remove_dep: Vec<String>,
}

/// `legio mail ...`.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a message (to an agent, `orchestrator`, or a group such as `@builders`).
    Send(MailSendArgs),
    /// Deliver unread mail: print it and mark it read.
    Check(MailCheckArgs),
    /// List messages, newest first.
    List(MailListArgs),
    /// Mark one message read.
    Read {
        /// The message id.
        id: String,
    },
    /// Reply to a message in its thread.
    Reply(MailReplyArgs),
    /// Delete messages.
    Purge(MailPurgeArgs),
}

/// `legio mail send`.
#[derive(Debug, Args)]
pub struct MailSendArgs {
    /// Recipient: an agent, `orchestrator`, `human`, or `@all`, `@builders`, `@leads`, ...
    #[arg(long)]
    pub to: String,
    /// Subject line.
    #[arg(long)]
    pub subject: String,
    /// Body text.
    #[arg(long)]
    pub body: String,
    /// Sender (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long, visible_alias = "agent")]
    pub from: Option<String>,
    /// Message type.
    #[arg(long = "type", default_value = "status", value_name = "TYPE")]
    pub mail_type: String,
    /// low, normal, high or urgent.
    #[arg(long, default_value = "normal")]
    pub priority: String,
    /// human, agent or both (default: agent for protocol types, both otherwise).
    #[arg(long)]
    pub audience: Option<String>,
    /// JSON payload (protocol types).
    #[arg(long)]
    pub payload: Option<String>,
}

/// `legio mail check`.
#[derive(Debug, Args)]
pub struct MailCheckArgs {
    /// Whose mail (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long)]
    pub agent: Option<String>,
    /// Print in the form injected into an agent's context.
    #[arg(long)]
    pub inject: bool,
    /// Only messages for this audience (others stay unread).
    #[arg(long)]
    pub audience: Option<String>,
    /// Do nothing if the last check of this agent was less than this many ms ago.
    #[arg(long, value_name = "MS")]
    pub debounce: Option<u64>,
}

/// `legio mail list`.
#[derive(Debug, Args)]
pub struct MailListArgs {
    /// Only from this sender.
    #[arg(long)]
    pub from: Option<String>,
    /// Only to this recipient.
    #[arg(long, visible_alias = "agent")]
    pub to: Option<String>,
    /// Only unread messages.
    #[arg(long)]
    pub unread: bool,
    /// Only this audience.
    #[arg(long)]
    pub audience: Option<String>,
    /// At most this many (newest kept).
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `legio mail reply`.
#[derive(Debug, Args)]
pub struct MailReplyArgs {
    /// The message replied to.
    pub id: String,
    /// Body text.
    #[arg(long)]
    pub body: String,
    /// Replier (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long, visible_alias = "agent")]
    pub from: Option<String>,
}

/// `legio mail purge`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["all", "days", "agent"])))]
pub struct MailPurgeArgs {
    /// Every message.
    #[arg(long)]
    pub all: bool,
    /// Messages older than this many days.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,
    /// Messages from or to this agent.
    #[arg(long)]
    pub agent: Option<String>,
}

/// `legio hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The Claude Code hook event (SessionStart, UserPromptSubmit, PreToolUse, PostToolUse,
    /// PostToolUseFailure, Stop, SessionEnd, PreCompact).
    pub event: String,
    /// The agent (default: $LEGIO_AGENT_NAME; without either, the hook does nothing).
    #[arg(long)]
    pub agent: Option<String>,
    /// The agent to act as when neither --agent nor $LEGIO_AGENT_NAME is set (the project-root
    /// settings use `--default-agent orchestrator` for the human's own session).
    #[arg(long, value_name = "NAME")]
    pub default_agent: Option<String>,
}

/// legio 0.1.0's `log` events.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogEvent {
    /// PreToolUse.
    ToolStart,
    /// PostToolUse.
    ToolEnd,
    /// Stop (end of a turn).
    SessionEnd,
}

/// `legio log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The event.
    #[arg(value_enum)]
    pub event: LogEvent,
    /// The agent (default: $LEGIO_AGENT_NAME).
    #[arg(long)]
    pub agent: Option<String>,
    /// Read the hook payload from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// Tool name when there is no payload.
    #[arg(long = "tool-name")]
    pub tool_name: Option<String>,
    /// Transcript path when there is no payload.
    #[arg(long)]
    pub transcript: Option<PathBuf>,
}

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

/// Shells for completion scripts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// `legio completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, ignore_case = true)]
    pub shell: ShellArg,
}
