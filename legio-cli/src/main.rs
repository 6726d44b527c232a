//! legio-cli: the `legio` binary. Parses arguments (clap), reads the environment (only in
//! `env.rs`), picks the real implementations of the ports, runs the command, prints through an
//! injected writer, and maps errors to a message, a hint and an exit code (0 ok, 1 failure,
//! 2 usage).

fn main() {
    println!("legio {}", env!("CARGO_PKG_VERSION"));
}
