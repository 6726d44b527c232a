//! The command line, declared once: parsing, help text and shell completions all come from
//! these definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{
    agents, clean, completions, costs, dashboard, demo, doctor, errors, feed, group, guard, hook,
    hooks, init, inspect, logs, mail, merge, metrics, nudge, prime, replay, root_agents, run,
    sim_agent, sling, spec, status, stop, task, trace, up, watch, worktree,
};

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
    Init(init::InitArgs),
    /// Watch a whole fleet work on a scratch repository, end to end (no API key needed).
    Demo(demo::DemoArgs),
    /// Initialise if needed and start the coordinator.
    Up(up::UpArgs),
    /// Stop the root agents (coordinator, supervisors, monitor, gateway).
    Down(up::DownArgs),
    /// The fleet at a glance (reads only).
    Status(status::StatusArgs),
    /// Put an agent to work on a task, in its own worktree and session.
    Sling(sling::SlingArgs),
    /// End agents' sessions, deepest first.
    Stop(stop::StopArgs),
    /// Type a message into an agent's session, and check it arrived.
    Nudge(nudge::NudgeArgs),
    /// Print the context of an agent, or of the orchestrator.
    Prime(prime::PrimeArgs),
    /// The built-in task tracker.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Task specs.
    #[command(subcommand)]
    Spec(spec::SpecCommand),
    /// Mail between agents and the orchestrator.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Who works on what.
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    /// The coordinator: the persistent agent that turns objectives into work.
    #[command(subcommand)]
    Coordinator(root_agents::RootCommand),
    /// Supervisors: persistent agents that run one batch of work.
    #[command(subcommand)]
    Supervisor(root_agents::SupervisorCommand),
    /// The monitor: the persistent agent that patrols the fleet.
    #[command(subcommand)]
    Monitor(root_agents::RootCommand),
    /// The gateway: the persistent planning companion you talk to.
    #[command(subcommand)]
    Gateway(root_agents::RootCommand),
    /// Agent worktrees.
    #[command(subcommand)]
    Worktree(worktree::WorktreeCommand),
    /// Merge agents' branches into the target branch through the merge queue.
    Merge(merge::MergeArgs),
    /// Watch the fleet: find dead and stalled agents, escalate, recover (the watchdog daemon).
    Watch(watch::WatchArgs),
    /// The fleet on one screen: agents, mail, merge queue, events and costs (q quits).
    Dashboard(dashboard::DashboardArgs),
    /// One agent in depth: state, task, current file, recent tool calls, output.
    Inspect(inspect::InspectArgs),
    /// An agent's (or a task's agents') events as a timeline.
    Trace(trace::TraceArgs),
    /// The fleet's events as they happen (`--follow` to keep watching).
    Feed(feed::FeedArgs),
    /// What happened across agents, in time order (default: the current run).
    Replay(replay::ReplayArgs),
    /// Recent errors across the fleet, newest first.
    Errors(errors::ErrorsArgs),
    /// What the agents printed, and legio's own error log (`--follow` to keep watching).
    Logs(logs::LogsArgs),
    /// Recorded agent sessions: totals, durations, recent sessions.
    Metrics(metrics::MetricsArgs),
    /// Tokens and dollars per agent, from the agents' Claude Code transcripts.
    Costs(costs::CostsArgs),
    /// Runs: the current one, `list`, `show <id>`, `complete`.
    Run(run::RunArgs),
    /// Task groups that close themselves when their tasks are done.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Check the project's health; `--fix` repairs what is safe to repair.
    Doctor(doctor::DoctorArgs),
    /// Remove legio's state; refuses dirty worktrees and unmerged branches without --force.
    Clean(clean::CleanArgs),
    /// legio's hooks in the project root's Claude Code settings.
    #[command(subcommand)]
    Hooks(hooks::HooksCommand),
    /// Handle one Claude Code hook event (called by agents' hooks; reads the payload on stdin).
    Hook(hook::HookArgs),
    /// Record a hook event (legio 0.1.0 compatibility; prefer `legio hook`).
    Log(hook::LogArgs),
    /// Print the decision the PreToolUse guard makes for a payload on stdin.
    Guard(guard::GuardArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// A deterministic stand-in for Claude Code, for tests and the demo only.
    #[command(hide = true)]
    SimAgent(sim_agent::SimAgentArgs),
}
