//! Tier 4, reimagine: a branch no enabled tier could merge is abandoned (the target is left
//! as it was) and its work handed to a new builder on a fresh branch from the target. Here
//! the hand-off becomes a task of the tracker and a spec file (`.legio/specs/<task>.md`) whose
//! core is the old branch's diff; slinging the builder is the caller's.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::domain::task::NewTask;
use crate::ids::random_base36;
use crate::layout::Layout;
use crate::names::TaskId;
use crate::ops::checkpoint::write_atomic;
use crate::ports::{StoreError, TaskStore};
use crate::time::Timestamp;

/// What the merge engine handed over (its `Handoff`, field for field).
#[derive(Debug, Clone, Copy)]
pub struct Brief<'a> {
    /// The abandoned branch.
    pub branch: &'a str,
    /// Its agent.
    pub agent: &'a str,
    /// Its task.
    pub task: &'a str,
    /// The target the new branch starts from.
    pub target: &'a str,
    /// The target's commit at the time.
    pub target_commit: &'a str,
    /// The files the old branch changed.
    pub files: &'a [String],
    /// The files that conflicted.
    pub conflict_files: &'a [String],
    /// The old branch's changes, as a unified diff from where it forked.
    pub diff: &'a str,
}

/// The new task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandedOff {
    /// Its id.
    pub task: TaskId,
    /// Its spec file.
    pub spec: PathBuf,
}

/// Why the hand-off could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    /// The spec file.
    #[error("cannot write the spec {} for the reimagined task: {source}", path.display())]
    Spec {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The tracker.
    #[error("cannot create the reimagined task (its spec {} was removed again): {source}", spec.display())]
    Task {
        /// The spec that was written first.
        spec: PathBuf,
        /// The store's error.
        source: StoreError,
    },
}

/// A fresh id for the redo of `task`: `<task>-redo-xxxx`, or `redo-xxxxxx` when that is not
/// a valid id.
fn redo_id(task: &str) -> TaskId {
    TaskId::new(format!("{task}-redo-{}", random_base36(4)))
        .or_else(|_| TaskId::new(format!("redo-{}", random_base36(6))))
        .expect("redo-<base36> is a valid task id")
}

/// The new task's spec: what to do, the files, and the old diff.
pub fn spec_text(brief: &Brief<'_>, task: &TaskId) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {task}: redo {} on {}\n", brief.task, brief.target);
    let _ = writeln!(
        s,
        "## Objective\n\nBranch `{}` (agent {}, task {}) could not be merged into `{}`: {} \
         conflicted in ways no automatic tier could resolve. Re-implement its changes, shown \
         below, on a fresh branch from `{}` (commit {}). Keep the intent; adapt to what `{}` \
         has now.\n",
        brief.branch,
        brief.agent,
        brief.task,
        brief.target,
        list(brief.conflict_files),
        brief.target,
        brief.target_commit,
        brief.target,
    );
    let _ = writeln!(s, "## Files\n\n{}\n", list(brief.files));
    let fence = fence_for(brief.diff);
    let _ = writeln!(
        s,
        "## The old branch's changes\n\n{fence}diff\n{}{fence}",
        ensure_newline(brief.diff)
    );
    s
}

/// A code fence longer than any run of backticks in `text`, so the diff cannot close it.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn list(files: &[String]) -> String {
    if files.is_empty() {
        return "(none recorded)".to_owned();
    }
    files
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ensure_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

/// Writes the spec, then creates the task (open, priority 1, a child of the old task when the
/// tracker knows it). If the task cannot be created the spec is removed: nothing half-written
/// is left.
pub fn hand_off(
    tasks: &dyn TaskStore,
    layout: &Layout,
    brief: &Brief<'_>,
    now: Timestamp,
) -> Result<HandedOff, HandOffError> {
    let id = redo_id(brief.task);
    let spec = layout.spec(&id);
    write_atomic(&spec, &spec_text(brief, &id)).map_err(|source| HandOffError::Spec {
        path: spec.clone(),
        source,
    })?;
    let parent = TaskId::new(brief.task)
        .ok()
        .filter(|p| tasks.get(p).ok().flatten().is_some());
    let created = tasks.create(
        &NewTask {
            id: Some(id.clone()),
            title: format!(
                "Redo {} on {} (reimagine {})",
                brief.task, brief.target, brief.branch
            ),
            description: format!(
                "{} could not be merged into {}; re-implement it from the spec {}.",
                brief.branch,
                brief.target,
                spec.display()
            ),
            priority: 1,
            task_type: "task".to_owned(),
            parent,
            depends_on: Vec::new(),
            assignee: None,
        },
        now,
    );
    match created {
        Ok(t) => Ok(HandedOff { task: t.id, spec }),
        Err(source) => {
            let _ = std::fs::remove_file(&spec);
            Err(HandOffError::Task { spec, source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_carries_the_old_diff_and_the_files() {
        let files = vec!["src/a.rs".to_owned(), "src/b.rs".to_owned()];
        let conflicts = vec!["src/a.rs".to_owned()];
        let brief = Brief {
            branch: "legio/builder-1/t-1",
            agent: "builder-1",
            task: "t-1",
            target: "main",
            target_commit: "abc123",
            files: &files,
            conflict_files: &conflicts,
            diff: "--- a/src/a.rs\n+++ b/src/a.rs\n+new line",
        };
        let id = TaskId::new("t-1-redo-abcd").unwrap();
        insta::assert_snapshot!(spec_text(&brief, &id));
    }

    #[test]
    fn a_diff_with_fences_cannot_close_the_spec_fence() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }

    #[test]
    fn redo_ids_are_valid_even_for_long_or_odd_task_names() {
        assert!(redo_id("t-1").as_str().starts_with("t-1-redo-"));
        assert!(redo_id(&"x".repeat(64)).as_str().starts_with("redo-"));
        assert!(redo_id("unknown").as_str().starts_with("unknown-redo-"));
    }
}
