//! One module per subcommand; each parses nothing (clap did) and delegates to library code.

pub mod agents;
pub mod clean;
pub mod completions;
pub mod costs;
pub mod dashboard;
pub mod demo;
pub mod doctor;
pub mod errors;
pub mod feed;
pub mod group;
pub mod guard;
pub mod hook;
pub mod hooks;
pub mod init;
pub mod inspect;
pub mod logs;
mod machine;
pub mod mail;
pub mod merge;
pub mod metrics;
pub mod nudge;
pub mod prime;
pub mod replay;
pub mod root_agents;
pub mod run;
pub mod sim_agent;
pub mod sling;
pub mod spec;
pub mod status;
pub mod stop;
pub mod task;
pub mod trace;
pub mod up;
pub mod view;
pub mod watch;
pub mod worktree;

use legio_core::Capability;

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
        Command::Demo(args) => demo::run(&args, ctx, out),
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
        Command::Sling(args) => sling::run(&args, ctx, out),
        Command::Stop(args) => stop::run(&args, ctx, out),
        Command::Nudge(args) => nudge::run(&args, ctx, out),
        Command::Prime(args) => prime::run(&args, ctx, out),
        Command::Spec(cmd) => spec::run(cmd, ctx, out),
        Command::Agents(cmd) => agents::run(cmd, ctx, out),
        Command::Coordinator(cmd) => root_agents::run(Capability::Coordinator, cmd, ctx, out),
        Command::Supervisor(cmd) => root_agents::run_supervisor(cmd, ctx, out),
        Command::Monitor(cmd) => root_agents::run(Capability::Monitor, cmd, ctx, out),
        Command::Gateway(cmd) => root_agents::run(Capability::Gateway, cmd, ctx, out),
        Command::Worktree(cmd) => worktree::run(cmd, ctx, out),
        Command::Status(args) => status::run(&args, ctx, out),
        Command::Up(args) => up::up(&args, ctx, out),
        Command::Down(args) => up::down(&args, ctx, out),
        Command::Hooks(cmd) => hooks::run(cmd, ctx, out),
        Command::SimAgent(args) => sim_agent::run(&args, ctx, out),
        Command::Guard(args) => guard::run(&args, ctx, out),
    }
}
