//! Fleet operations: the work behind legio's commands, written against the ports so that the
//! CLI only parses, wires real implementations and prints.

pub mod checkpoint;
pub mod hook;
pub mod merge_flow;
pub mod settings;
