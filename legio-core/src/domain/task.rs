//! Tasks of the built-in tracker (`tasks.db`).

use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::names::TaskId;
use crate::time::Timestamp;

string_enum! {
    /// A task's status (the values bd uses).
    pub enum TaskStatus ("task status") {
        /// Not started.
        Open => "open",
        /// Someone works on it.
        InProgress => "in_progress",
        /// Waiting on something outside its dependencies.
        Blocked => "blocked",
        /// Done.
        Closed => "closed",
    }
}

impl TaskStatus {
    /// Open or in progress: an agent may be slung onto it.
    pub const fn is_workable(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// One-line title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Status.
    pub status: TaskStatus,
    /// 0 (highest) to 4 (lowest), as in bd.
    pub priority: u8,
    /// Kind (`task`, `bug`, `feature`, `epic`, ...).
    #[serde(rename = "type")]
    pub task_type: String,
    /// Parent task (epics).
    pub parent: Option<TaskId>,
    /// Tasks that must be closed before this one is ready.
    pub depends_on: Vec<TaskId>,
    /// Who works on it.
    pub assignee: Option<String>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Closed.
    pub closed_at: Option<Timestamp>,
}

/// A task to create. `id: None` lets the tracker generate one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewTask {
    /// A chosen id.
    pub id: Option<TaskId>,
    /// Title (required, non-blank).
    pub title: String,
    /// Description.
    pub description: String,
    /// 0..=4; the CLI defaults to 2.
    pub priority: u8,
    /// Kind; the CLI defaults to `task`.
    pub task_type: String,
    /// Parent.
    pub parent: Option<TaskId>,
    /// Dependencies.
    pub depends_on: Vec<TaskId>,
    /// Assignee.
    pub assignee: Option<String>,
}

/// Changes to a task; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New status (closing goes through `close`).
    pub status: Option<TaskStatus>,
    /// New priority.
    pub priority: Option<u8>,
    /// New assignee (`Some(None)` clears it).
    pub assignee: Option<Option<String>>,
    /// Dependencies to add.
    pub add_depends_on: Vec<TaskId>,
    /// Dependencies to remove.
    pub remove_depends_on: Vec<TaskId>,
}
