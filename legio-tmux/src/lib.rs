//! legio-tmux: agent processes. Implements legio-core's `Multiplexer` port on tmux (one private
//! socket per project) and on plain detached processes (headless), the `ProcessProbe`, and the
//! agent runtimes (`claude`, `script`) that say what to run inside a session.
//!
//! Architecture invariant: commands are built from argv, never from a shell string, and only
//! sessions created by legio on the project's own socket are ever touched.
