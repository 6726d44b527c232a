//! The command line, declared once: parsing, help text and shell completions all come from
//! these definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{clean, completions, dashboard, doctor, guard, hook, init, mail, task};

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
    /// The built-in task tracker.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Mail between agents and the orchestrator.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Handle one Claude Code hook event (called by agents' hooks; reads the payload on stdin).
    Hook(hook::HookArgs),
    /// Record a hook event (legio 0.1.0 compatibility; prefer `legio hook`).
    Log(hook::LogArgs),
    /// Print the decision the PreToolUse guard makes for a payload on stdin.
    Guard(guard::GuardArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// The fleet on one screen: agents, mail, merge queue, events and costs (q quits).
    Dashboard(dashboard::DashboardArgs),
    /// Check the project's health; `--fix` repairs what is safe to repair.
    Doctor(doctor::DoctorArgs),
    /// Remove legio's state; refuses dirty worktrees and unmerged branches without --force.
    Clean(clean::CleanArgs),
}
