//! `legio completions <shell>`: completion scripts generated from the same clap definitions
//! that parse the flags, so they never drift.

use clap::CommandFactory;

use crate::cli::Cli;
use clap_complete::Shell;

use crate::output::Printer;
use clap::{Args, ValueEnum};

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

/// Prints the completion script for the chosen shell.
pub fn run(args: &CompletionsArgs, out: &mut Printer) {
    let shell = match args.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "legio", &mut buf);
    out.raw(&String::from_utf8_lossy(&buf));
}
