//! One module per subcommand; each parses nothing (clap did) and delegates to library code.

pub mod completions;
pub mod guard;
pub mod hook;
pub mod init;
pub mod mail;
pub mod merge;
pub mod task;
pub mod watch;

use crate::cli::Command;
use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::Printer;

/// Runs one command.
pub fn run(command: Command, ctx: &mut Ctx<'_>, out: &mut Printer) -> CliResult {
    match command {
        Command::Completions(args) => {
            completions::run(&args, out);
            Ok(())
        }
        Command::Init(args) => init::run(&args, ctx, out),
        Command::Task(cmd) => task::run(cmd, ctx, out),
        Command::Mail(cmd) => mail::run(cmd, ctx, out),
        Command::Merge(args) => merge::run(&args, ctx, out),
        Command::Hook(args) => hook::run(&args, ctx, out),
        Command::Watch(args) => watch::run(&args, ctx, out),
        Command::Log(args) => {
            hook::run_log(&args, ctx, out);
            Ok(())
        }
        Command::Guard(args) => guard::run(&args, ctx, out),
    }
}
