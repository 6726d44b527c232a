//! Fleet operations: the work behind legio's commands, written against the ports so that the
//! CLI only parses, wires real implementations and prints.

pub mod checkpoint;
pub mod clean;
pub mod dashboard;
pub mod doctor;
pub mod hook;
pub mod pidfile;
pub mod settings;
