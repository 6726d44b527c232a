//! [`WatchdogError`]: why a tick could not judge the fleet at all.
//!
//! Failures that concern one agent (a store write, a kill, a mail) never stop a tick; they are
//! listed in [`TickReport::problems`](crate::TickReport::problems).

use legio_core::ports::{MuxError, StoreError};

/// Why a tick could not run.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    /// `sessions.db` could not be read.
    #[error("cannot read the agents from sessions.db: {0}")]
    ListAgents(#[source] StoreError),
    /// The multiplexer could not list its sessions; without that no agent can be judged, so
    /// none was.
    #[error("cannot list the agents' sessions, so no agent was judged this tick: {0}")]
    ListSessions(#[source] MuxError),
}
