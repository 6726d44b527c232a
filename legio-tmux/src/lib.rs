//! legio-tmux: agent processes. Implements legio-core's `Multiplexer` port on tmux
//! ([`TmuxMultiplexer`], one private socket per project) and on plain detached processes
//! ([`HeadlessMultiplexer`]), the [`ProcessProbe`](legio_core::ports::ProcessProbe)
//! ([`ProcfsProbe`]), and the agent runtimes ([`ClaudeRuntime`], [`ScriptRuntime`]) that say
//! what to run inside a session.
//!
//! Both multiplexers keep the same promises, checked by one shared behavioural test suite:
//! argv is executed without a shell; text arrives literally on one line; a session whose
//! process exited stays listed as not running (with its exit code) until killed; `kill` ends
//! the whole process tree (descendants, process group and session, TERM then KILL, never a
//! recycled pid) and accepts a missing session.
//!
//! Architecture invariant: commands are built from argv, never from a shell string, and only
//! sessions created by legio on the project's own socket (or in its own state directory) are
//! ever touched. The crate reads no environment variable and writes nothing to the terminal:
//! the environment agents start from is a [`BaseEnv`] value.

mod env;
mod headless;
mod probe;
pub mod proctree;
pub mod runtime;
mod spec;
mod text;
mod tmux;

pub use env::BaseEnv;
pub use headless::{HeadlessConfig, HeadlessMultiplexer};
pub use probe::ProcfsProbe;
pub use runtime::{ClaudeRuntime, NESTING_MARKERS, ScriptRuntime};
pub use spec::session_name;
pub use tmux::{TmuxConfig, TmuxMultiplexer, socket_name};
