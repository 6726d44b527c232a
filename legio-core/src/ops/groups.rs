//! Task groups (`.legio/groups.json`): named sets of tasks of the built-in tracker that close
//! themselves when all their tasks are closed.
//!
//! The file keeps legio 0.1.0's format (a JSON array of `{id, name, memberIssueIds, status,
//! createdAt, completedAt}`, tab-indented, ending in a newline) and is tracked in git. Unlike
//! legio 0.1.0:
//! - every change is a read-modify-write under an exclusive lock (`groups.json.lock`), written
//!   to a temporary file and renamed into place, so concurrent changes are never lost and a
//!   reader never sees half a file;
//! - a file that cannot be read is an error naming it, never an empty list that the next write
//!   would save over the groups;
//! - a group is completed on the **write** path: when `legio task close` closes its last open
//!   task ([`settle_after_task_closed`]), or when a group change leaves every task closed. Reading
//!   (`list`, `load`, [`progress`]) never changes anything. The caller then mails the coordinator
//!   with [`announce`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::mail::{MailType, NewMail};
use crate::domain::string_enum;
use crate::domain::task::TaskStatus;
use crate::layout::Layout;
use crate::names::TaskId;
use crate::ops::checkpoint::write_atomic;
use crate::ops::lock::FileLock;
use crate::ports::{MailStore, StoreError, TaskStore};
use crate::time::Timestamp;

/// The sender of the mail announcing a completed group.
pub const ANNOUNCER: &str = "system";
/// The recipient of that mail.
pub const ANNOUNCE_TO: &str = "coordinator";

string_enum! {
    /// Whether a group still has work.
    pub enum GroupStatus ("group status") {
        /// Some task is not closed yet (or the group was just changed).
        Active => "active",
        /// Every task was closed.
        Completed => "completed",
    }
}

/// A task group as stored in `groups.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskGroup {
    /// `group-` and 8 characters of `[a-z0-9]`.
    pub id: String,
    /// What the group is for.
    pub name: String,
    /// Its tasks, in the order they were added.
    pub member_issue_ids: Vec<String>,
    /// Active or completed.
    pub status: GroupStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its last task was closed.
    pub completed_at: Option<Timestamp>,
}

/// How far a group's tasks are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupProgress {
    /// The group.
    pub group: TaskGroup,
    /// Its tasks.
    pub total: usize,
    /// Closed tasks.
    pub completed: usize,
    /// Tasks in progress.
    pub in_progress: usize,
    /// Blocked tasks.
    pub blocked: usize,
    /// Open tasks.
    pub open: usize,
    /// Members the tracker does not know (deleted, or ids of another tracker).
    pub missing: Vec<String>,
}

/// Why a group operation failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The file or its lock could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a list of groups.
    #[error("{} is not a valid list of task groups ({reason}); fix it by hand or restore it from git", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No group has this id.
    #[error("no task group {0}; list the groups with `legio group list`")]
    NotFound(String),
    /// A blank group name.
    #[error("the group name is empty")]
    EmptyName,
    /// No task ids given.
    #[error("no task ids given")]
    NoMembers,
    /// An id given twice.
    #[error("task {0} is given more than once")]
    Duplicate(String),
    /// Not a task id.
    #[error("{0:?} is not a task id ({1})")]
    BadId(String, String),
    /// The tracker has no such task.
    #[error(
        "task {0} does not exist; create it with `legio task create`, or pass --skip-validation"
    )]
    UnknownTask(String),
    /// Adding a task that is already a member.
    #[error("task {task} is already in group {group}")]
    AlreadyMember {
        /// The group.
        group: String,
        /// The task.
        task: String,
    },
    /// Removing a task that is not a member.
    #[error("task {task} is not in group {group}")]
    NotMember {
        /// The group.
        group: String,
        /// The task.
        task: String,
    },
    /// Removing every task.
    #[error("cannot remove every task from group {0}; a group needs at least one task")]
    WouldBeEmpty(String),
    /// The task tracker failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a change: the group as saved, and the groups the change completed (to be
/// announced with [`announce`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The changed group, as saved.
    pub group: TaskGroup,
    /// Groups this change completed (the changed group, when its tasks are all closed).
    pub completed: Vec<TaskGroup>,
}

/// What a change needs besides its arguments.
pub struct ChangeContext<'a> {
    /// The project.
    pub layout: &'a Layout,
    /// The task tracker (members are validated against it and their statuses read from it).
    pub tasks: &'a dyn TaskStore,
    /// Now.
    pub now: Timestamp,
    /// Check that every new member exists in the tracker.
    pub validate: bool,
}

/// `.legio/groups.json`.
pub fn groups_file(layout: &Layout) -> PathBuf {
    layout.file("groups.json")
}

/// Every group, in creation order. A missing file is no groups; an unreadable one is an error.
pub fn load(layout: &Layout) -> Result<Vec<TaskGroup>, GroupError> {
    let path = groups_file(layout);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(GroupError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&text).map_err(|e| GroupError::Corrupt {
        path,
        reason: e.to_string(),
    })
}

/// One group.
pub fn get(layout: &Layout, id: &str) -> Result<TaskGroup, GroupError> {
    load(layout)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| GroupError::NotFound(id.to_owned()))
}

/// The progress of `group`, read from the tracker (`None`: there is no tracker yet, so every
/// member is missing). Changes nothing, even when every task is closed.
pub fn progress(
    group: &TaskGroup,
    tasks: Option<&dyn TaskStore>,
) -> Result<GroupProgress, GroupError> {
    let mut p = GroupProgress {
        group: group.clone(),
        total: group.member_issue_ids.len(),
        completed: 0,
        in_progress: 0,
        blocked: 0,
        open: 0,
        missing: Vec::new(),
    };
    for id in &group.member_issue_ids {
        let status = match tasks {
            Some(tasks) => status_of(tasks, id)?,
            None => None,
        };
        match status {
            Some(TaskStatus::Closed) => p.completed += 1,
            Some(TaskStatus::InProgress) => p.in_progress += 1,
            Some(TaskStatus::Blocked) => p.blocked += 1,
            Some(TaskStatus::Open) => p.open += 1,
            None => p.missing.push(id.clone()),
        }
    }
    Ok(p)
}

/// Creates a group of `ids` named `name`.
pub fn create(ctx: &ChangeContext<'_>, name: &str, ids: &[String]) -> Result<Change, GroupError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(GroupError::EmptyName);
    }
    let ids = new_members(ctx, ids)?;
    update(ctx.layout, |groups| {
        let mut id = crate::ids::group_id();
        while groups.iter().any(|g| g.id == id) {
            id = crate::ids::group_id();
        }
        groups.push(TaskGroup {
            id: id.clone(),
            name: name.to_owned(),
            member_issue_ids: ids,
            status: GroupStatus::Active,
            created_at: ctx.now,
            completed_at: None,
        });
        finish_change(ctx, groups, &id)
    })
}

/// Adds `ids` to group `group_id`. A completed group becomes active again (unless every task,
/// old and new, is closed).
pub fn add(ctx: &ChangeContext<'_>, group_id: &str, ids: &[String]) -> Result<Change, GroupError> {
    let ids = new_members(ctx, ids)?;
    update(ctx.layout, |groups| {
        let group = find_mut(groups, group_id)?;
        if let Some(dup) = ids.iter().find(|i| group.member_issue_ids.contains(i)) {
            return Err(GroupError::AlreadyMember {
                group: group_id.to_owned(),
                task: dup.clone(),
            });
        }
        group.member_issue_ids.extend(ids);
        group.status = GroupStatus::Active;
        group.completed_at = None;
        finish_change(ctx, groups, group_id)
    })
}

/// Removes `ids` from group `group_id`; at least one task must remain.
pub fn remove(
    ctx: &ChangeContext<'_>,
    group_id: &str,
    ids: &[String],
) -> Result<Change, GroupError> {
    let ids = distinct(ids)?;
    update(ctx.layout, |groups| {
        let group = find_mut(groups, group_id)?;
        if let Some(stranger) = ids.iter().find(|i| !group.member_issue_ids.contains(i)) {
            return Err(GroupError::NotMember {
                group: group_id.to_owned(),
                task: stranger.clone(),
            });
        }
        if ids.len() == group.member_issue_ids.len() {
            return Err(GroupError::WouldBeEmpty(group_id.to_owned()));
        }
        group.member_issue_ids.retain(|m| !ids.contains(m));
        finish_change(ctx, groups, group_id)
    })
}

/// After `task` was closed: completes every active group containing it whose tasks are now
/// all closed, and returns those groups (to be announced). Without a groups file this reads
/// nothing more and writes nothing.
pub fn settle_after_task_closed(
    layout: &Layout,
    tasks: &dyn TaskStore,
    task: &TaskId,
    now: Timestamp,
) -> Result<Vec<TaskGroup>, GroupError> {
    let affected = |groups: &[TaskGroup]| {
        groups.iter().any(|g| {
            g.status == GroupStatus::Active && g.member_issue_ids.iter().any(|m| m == task.as_str())
        })
    };
    // Cheap unlocked look first: most task closes touch no group.
    if !affected(&load(layout)?) {
        return Ok(Vec::new());
    }
    let mut completed = Vec::new();
    update(layout, |groups| {
        for g in groups.iter_mut() {
            let member = g.member_issue_ids.iter().any(|m| m == task.as_str());
            if g.status == GroupStatus::Active && member && all_closed(g, tasks)? {
                g.status = GroupStatus::Completed;
                g.completed_at = Some(now);
                completed.push(g.clone());
            }
        }
        Ok(())
    })?;
    Ok(completed)
}

/// The mail that announces a completed group to the coordinator.
pub fn completion_mail(group: &TaskGroup) -> NewMail {
    NewMail::new(
        ANNOUNCER,
        ANNOUNCE_TO,
        MailType::Status,
        format!("Group auto-closed: {}", group.name),
        format!(
            "Task group {} (\"{}\") completed. All {} member tasks are closed.",
            group.id,
            group.name,
            group.member_issue_ids.len()
        ),
    )
}

/// Mails the coordinator about each completed group. Returns, per group, the message id or
/// why it could not be sent (the group stays completed either way).
pub fn announce(
    mail: &dyn MailStore,
    completed: &[TaskGroup],
    now: Timestamp,
) -> Vec<(TaskGroup, Result<String, StoreError>)> {
    completed
        .iter()
        .map(|g| {
            let sent = mail.send(&completion_mail(g), now).map(|m| m.id);
            (g.clone(), sent)
        })
        .collect()
}

fn status_of(tasks: &dyn TaskStore, id: &str) -> Result<Option<TaskStatus>, GroupError> {
    let Ok(task_id) = TaskId::new(id) else {
        return Ok(None);
    };
    Ok(tasks.get(&task_id)?.map(|t| t.status))
}

fn all_closed(group: &TaskGroup, tasks: &dyn TaskStore) -> Result<bool, GroupError> {
    for id in &group.member_issue_ids {
        if status_of(tasks, id)? != Some(TaskStatus::Closed) {
            return Ok(false);
        }
    }
    Ok(!group.member_issue_ids.is_empty())
}

/// Marks the group `id` completed when all its tasks are closed; returns what the change did.
fn finish_change(
    ctx: &ChangeContext<'_>,
    groups: &mut [TaskGroup],
    id: &str,
) -> Result<Change, GroupError> {
    let group = find_mut(groups, id)?;
    let mut completed = Vec::new();
    if group.status == GroupStatus::Active && all_closed(group, ctx.tasks)? {
        group.status = GroupStatus::Completed;
        group.completed_at = Some(ctx.now);
        completed.push(group.clone());
    }
    Ok(Change {
        group: group.clone(),
        completed,
    })
}

fn find_mut<'g>(groups: &'g mut [TaskGroup], id: &str) -> Result<&'g mut TaskGroup, GroupError> {
    groups
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| GroupError::NotFound(id.to_owned()))
}

/// `ids` without repeats (a repeat is an error), as given.
fn distinct(ids: &[String]) -> Result<Vec<String>, GroupError> {
    if ids.is_empty() {
        return Err(GroupError::NoMembers);
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(GroupError::Duplicate(id.clone()));
        }
    }
    Ok(ids.to_vec())
}

/// New members: distinct, valid task ids, and (when validating) known to the tracker.
fn new_members(ctx: &ChangeContext<'_>, ids: &[String]) -> Result<Vec<String>, GroupError> {
    let ids = distinct(ids)?;
    for id in &ids {
        let task = TaskId::new(id.clone()).map_err(|e| GroupError::BadId(id.clone(), e.problem))?;
        if ctx.validate && ctx.tasks.get(&task)?.is_none() {
            return Err(GroupError::UnknownTask(id.clone()));
        }
    }
    Ok(ids)
}

/// Runs `change` on the groups under the file lock and saves the result if it succeeded.
fn update<T>(
    layout: &Layout,
    change: impl FnOnce(&mut Vec<TaskGroup>) -> Result<T, GroupError>,
) -> Result<T, GroupError> {
    let path = groups_file(layout);
    let lock_path = path.with_extension("json.lock");
    let _lock = FileLock::acquire(&lock_path, Duration::from_secs(10)).map_err(|source| {
        GroupError::Io {
            action: "lock",
            path: lock_path.clone(),
            source,
        }
    })?;
    let mut groups = load(layout)?;
    let value = change(&mut groups)?;
    save(&path, &groups)?;
    Ok(value)
}

fn save(path: &Path, groups: &[TaskGroup]) -> Result<(), GroupError> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    groups
        .serialize(&mut ser)
        .map_err(|e| GroupError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("cannot encode the groups: {e}"),
        })?;
    let mut text = String::from_utf8(buf).map_err(|e| GroupError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("cannot encode the groups: {e}"),
    })?;
    text.push('\n');
    write_atomic(path, &text).map_err(|source| GroupError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, members: &[&str]) -> TaskGroup {
        TaskGroup {
            id: id.into(),
            name: "g".into(),
            member_issue_ids: members.iter().map(|m| (*m).to_owned()).collect(),
            status: GroupStatus::Active,
            created_at: Timestamp::from_millis(0),
            completed_at: None,
        }
    }

    #[test]
    fn the_file_keeps_legio_0_1_0_s_shape_with_tabs_and_a_final_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("groups.json");
        save(&path, &[group("group-abc12345", &["t-1"])]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "[\n\t{\n\t\t\"id\": \"group-abc12345\",\n\t\t\"name\": \"g\",\n\t\t\"memberIssueIds\": [\n\t\t\t\"t-1\"\n\t\t],\n\t\t\"status\": \"active\",\n\t\t\"createdAt\": \"1970-01-01T00:00:00.000Z\",\n\t\t\"completedAt\": null\n\t}\n]\n"
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        std::fs::create_dir_all(layout.legio_dir()).unwrap();
        std::fs::write(groups_file(&layout), "[{\"id\": 3").unwrap();
        let err = load(&layout).unwrap_err();
        assert!(matches!(err, GroupError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("groups.json"), "{err}");
    }

    #[test]
    fn repeated_ids_are_refused() {
        let err = distinct(&["a-1".into(), "a-1".into()]).unwrap_err();
        assert!(matches!(err, GroupError::Duplicate(ref d) if d == "a-1"));
        assert!(matches!(distinct(&[]), Err(GroupError::NoMembers)));
    }
}
