//! Opening the real (SQLite) stores. Commands open exactly the stores they need.

use legio_core::Layout;
use legio_core::ports::{EventStore, MailStore, SessionStore, TaskStore};

use crate::error::{CliError, CliResult};

fn pending(what: &str) -> CliError {
    CliError::failure(format!("the {what} store is not wired yet"))
}

/// `sessions.db`.
pub fn sessions(_layout: &Layout) -> CliResult<Box<dyn SessionStore>> {
    Err(pending("sessions"))
}

/// `mail.db`.
pub fn mail(_layout: &Layout) -> CliResult<Box<dyn MailStore>> {
    Err(pending("mail"))
}

/// `events.db`.
pub fn events(_layout: &Layout) -> CliResult<Box<dyn EventStore>> {
    Err(pending("events"))
}

/// `tasks.db`.
pub fn tasks(_layout: &Layout) -> CliResult<Box<dyn TaskStore>> {
    Err(pending("tasks"))
}
