//! legio-cli: the `legio` binary. Parses arguments (clap), reads the environment (only in
//! `env.rs`), picks the real implementations of the ports, runs the command, prints through a
//! `Printer`, and maps errors to a message, hints and an exit code (0 ok, 1 failure, 2 usage).

mod cli;
mod commands;
mod context;
mod env;
mod error;
mod output;
mod stores;
mod wiring;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let env = env::Env::capture();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let color = if env.no_color {
        anstream::ColorChoice::Never
    } else if env.force_color {
        anstream::ColorChoice::AlwaysAnsi
    } else {
        anstream::ColorChoice::Auto
    };
    let mut printer = output::Printer::new(cli.json, cli.quiet, color);
    let result = context::Ctx::new(&env, cli.dir.clone())
        .and_then(|mut ctx| commands::run(cli.command, &mut ctx, &mut printer));
    printer.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            printer.error(&e);
            ExitCode::from(e.code)
        }
    }
}
