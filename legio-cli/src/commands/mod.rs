//! One module per subcommand; each parses nothing (clap did) and delegates to library code.

pub mod clean;
pub mod completions;
pub mod dashboard;
pub mod doctor;
pub mod guard;
pub mod hook;
pub mod init;
mod machine;
pub mod mail;
pub mod task;

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
        Command::Hook(args) => hook::run(&args, ctx, out),
        Command::Dashboard(args) => dashboard::run(&args, ctx, out),
        Command::Doctor(args) => doctor::run(&args, ctx, out),
        Command::Clean(args) => clean::run(&args, ctx, out),
        Command::Log(args) => {
            hook::run_log(&args, ctx, out);
            Ok(())
        }
        Command::Guard(args) => guard::run(&args, ctx, out),
    }
}
