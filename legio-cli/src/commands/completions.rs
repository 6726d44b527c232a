//! `legio completions <shell>`: completion scripts generated from the same clap definitions
//! that parse the flags, so they never drift.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs, ShellArg};
use crate::output::Printer;

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
