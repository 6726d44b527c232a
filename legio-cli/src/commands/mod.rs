//! One module per subcommand; each parses nothing (clap did) and delegates to library code.

pub mod clean;
pub mod completions;
pub mod costs;
pub mod dashboard;
pub mod doctor;
pub mod errors;
pub mod feed;
pub mod group;
pub mod guard;
pub mod hook;
pub mod init;
pub mod inspect;
pub mod logs;
mod machine;
pub mod mail;
pub mod merge;
pub mod metrics;
pub mod replay;
pub mod run;
pub mod task;
pub mod trace;
pub mod view;
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
        Command::Dashboard(args) => dashboard::run(&args, ctx, out),
        Command::Doctor(args) => doctor::run(&args, ctx, out),
        Command::Clean(args) => clean::run(&args, ctx, out),
        Command::Log(args) => {
            hook::run_log(&args, ctx, out);
            Ok(())
        }
        Command::Inspect(args) => inspect::run(&args, ctx, out),
        Command::Trace(args) => trace::run(&args, ctx, out),
        Command::Feed(args) => feed::run(&args, ctx, out),
        Command::Replay(args) => replay::run(&args, ctx, out),
        Command::Errors(args) => errors::run(&args, ctx, out),
        Command::Logs(args) => logs::run(&args, ctx, out),
        Command::Metrics(args) => metrics::run(&args, ctx, out),
        Command::Run(args) => run::run(args, ctx, out),
        Command::Costs(args) => costs::run(&args, ctx, out),
        Command::Group(cmd) => group::run(cmd, ctx, out),
        Command::Guard(args) => guard::run(&args, ctx, out),
    }
}
