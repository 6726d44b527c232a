//! `legio group create|status|add|remove|list`: task groups (`.legio/groups.json`).
//!
//! Members are task ids of the built-in tracker, checked on `create` and `add` (unless
//! `--skip-validation`). A group completes itself when its last open task is closed: `legio task
//! close` calls [`after_task_closed`], and a group change that leaves every task closed does the
//! same; the coordinator is then mailed. `status` and `list` only read.

use clap::{Args, Subcommand};
use legio_core::Layout;
use legio_core::TaskId;
use legio_core::ops::groups::{
    self, Change, ChangeContext, GroupError, GroupProgress, GroupStatus, TaskGroup,
};
use legio_core::ports::TaskStore;
use legio_core::time::{Clock, Timestamp};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, paint};
use crate::stores;

/// `legio group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group of tasks.
    Create(GroupCreateArgs),
    /// Show the progress of one group, or of every active group.
    Status {
        /// The group id (default: every active group).
        id: Option<String>,
    },
    /// Add tasks to a group.
    Add(GroupAddArgs),
    /// Remove tasks from a group.
    Remove {
        /// The group id.
        id: String,
        /// The task ids.
        #[arg(required = true, value_name = "TASK")]
        tasks: Vec<String>,
    },
    /// List every group.
    List,
}

/// `legio group create`.
#[derive(Debug, Args)]
pub struct GroupCreateArgs {
    /// What the group is for.
    pub name: String,
    /// Its tasks.
    #[arg(required = true, value_name = "TASK")]
    pub tasks: Vec<String>,
    /// Do not check that the tasks exist in the tracker.
    #[arg(long)]
    pub skip_validation: bool,
}

/// `legio group add`.
#[derive(Debug, Args)]
pub struct GroupAddArgs {
    /// The group id.
    pub id: String,
    /// The task ids.
    #[arg(required = true, value_name = "TASK")]
    pub tasks: Vec<String>,
    /// Do not check that the tasks exist in the tracker.
    #[arg(long)]
    pub skip_validation: bool,
}

/// Runs a group subcommand.
pub fn run(cmd: GroupCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let now = ctx.clock.now();
    match cmd {
        GroupCommand::List => {
            let all = groups::load(&layout).map_err(error)?;
            if out.json_mode() {
                return out.json(&all);
            }
            if all.is_empty() {
                out.line("No groups.");
            }
            for g in &all {
                out.line(format!(
                    "{} {} \"{}\" ({})",
                    paint(BOLD, &g.id),
                    status_tag(g.status),
                    g.name,
                    super::view::count(g.member_issue_ids.len(), "task", "tasks")
                ));
            }
            Ok(())
        }
        GroupCommand::Status { id } => {
            let chosen: Vec<TaskGroup> = match &id {
                Some(id) => vec![groups::get(&layout, id).map_err(error)?],
                None => groups::load(&layout)
                    .map_err(error)?
                    .into_iter()
                    .filter(|g| g.status == GroupStatus::Active)
                    .collect(),
            };
            let tasks = tasks_if_present(&layout)?;
            let mut progress = Vec::new();
            for g in &chosen {
                progress.push(groups::progress(g, tasks.as_deref()).map_err(error)?);
            }
            if out.json_mode() {
                return match (id, progress.pop()) {
                    (Some(_), Some(one)) => out.json(&one),
                    (_, last) => {
                        progress.extend(last);
                        out.json(&progress)
                    }
                };
            }
            if progress.is_empty() {
                out.line("No active groups.");
            }
            for (i, p) in progress.iter().enumerate() {
                if i > 0 {
                    out.line("");
                }
                print_progress(p, out);
            }
            Ok(())
        }
        GroupCommand::Create(args) => {
            let tasks = stores::tasks(&layout, "")?;
            let change = groups::create(
                &change_ctx(&layout, &*tasks, now, !args.skip_validation),
                &args.name,
                &args.tasks,
            )
            .map_err(error)?;
            report(&change, &layout, now, out, |g| {
                format!("Created group \"{}\" ({})", g.name, g.id)
            })
        }
        GroupCommand::Add(args) => {
            let tasks = stores::tasks(&layout, "")?;
            let n = args.tasks.len();
            let change = groups::add(
                &change_ctx(&layout, &*tasks, now, !args.skip_validation),
                &args.id,
                &args.tasks,
            )
            .map_err(error)?;
            report(&change, &layout, now, out, |g| {
                format!(
                    "Added {} to \"{}\"",
                    super::view::count(n, "task", "tasks"),
                    g.name
                )
            })
        }
        GroupCommand::Remove { id, tasks: ids } => {
            let tasks = stores::tasks(&layout, "")?;
            let n = ids.len();
            let change = groups::remove(&change_ctx(&layout, &*tasks, now, false), &id, &ids)
                .map_err(error)?;
            report(&change, &layout, now, out, |g| {
                format!(
                    "Removed {} from \"{}\"",
                    super::view::count(n, "task", "tasks"),
                    g.name
                )
            })
        }
    }
}

/// After `legio task close` closed `task`: completes the groups it finished and mails the
/// coordinator. The task is closed whatever happens here, so problems are warnings.
pub fn after_task_closed(
    layout: &Layout,
    tasks: &dyn TaskStore,
    task: &TaskId,
    now: Timestamp,
    out: &mut Printer,
) {
    match groups::settle_after_task_closed(layout, tasks, task, now) {
        Ok(completed) => announce(layout, &completed, now, out),
        Err(e) => out.warn(format!(
            "{task} is closed, but its task groups could not be updated: {e}"
        )),
    }
}

fn change_ctx<'a>(
    layout: &'a Layout,
    tasks: &'a dyn TaskStore,
    now: Timestamp,
    validate: bool,
) -> ChangeContext<'a> {
    ChangeContext {
        layout,
        tasks,
        now,
        validate,
    }
}

/// Prints a change: the group as JSON, or `headline` and the members; then announces any group
/// it completed.
fn report(
    change: &Change,
    layout: &Layout,
    now: Timestamp,
    out: &mut Printer,
    headline: impl FnOnce(&TaskGroup) -> String,
) -> CliResult {
    if out.json_mode() {
        out.json(&change.group)?;
    } else {
        out.line(format!("{} {}", paint(GREEN, "✓"), headline(&change.group)));
        out.line(format!(
            "  Members: {}",
            change.group.member_issue_ids.join(", ")
        ));
    }
    announce(layout, &change.completed, now, out);
    Ok(())
}

/// Mails the coordinator about completed groups, and says so (on stderr in `--json` mode, so
/// stdout stays one JSON document).
fn announce(layout: &Layout, completed: &[TaskGroup], now: Timestamp, out: &mut Printer) {
    if completed.is_empty() {
        return;
    }
    let mail = match stores::mail(layout) {
        Ok(m) => m,
        Err(e) => {
            for g in completed {
                out.warn(format!(
                    "group \"{}\" ({}) is completed, but the coordinator could not be told: {}",
                    g.name, g.id, e.message
                ));
            }
            return;
        }
    };
    for (g, sent) in groups::announce(&*mail, completed, now) {
        match sent {
            Ok(id) => {
                let text = format!(
                    "Group \"{}\" ({}) completed: all its tasks are closed; told the coordinator ({id})",
                    g.name, g.id
                );
                if out.json_mode() {
                    out.progress(text);
                } else {
                    out.line(text);
                }
            }
            Err(e) => out.warn(format!(
                "group \"{}\" ({}) is completed, but the coordinator could not be told: {e}",
                g.name, g.id
            )),
        }
    }
}

fn status_tag(status: GroupStatus) -> String {
    match status {
        GroupStatus::Active => "[active]".to_owned(),
        GroupStatus::Completed => paint(GREEN, "[completed]"),
    }
}

fn print_progress(p: &GroupProgress, out: &mut Printer) {
    let g = &p.group;
    out.line(format!(
        "{} ({}) {}",
        paint(BOLD, &g.name),
        g.id,
        status_tag(g.status)
    ));
    out.line(format!(
        "  Tasks: {} total | {} completed | {} in_progress | {} blocked | {} open",
        p.total, p.completed, p.in_progress, p.blocked, p.open
    ));
    if !p.missing.is_empty() {
        out.line(paint(
            DIM,
            format!("  Not in the tracker: {}", p.missing.join(", ")),
        ));
    }
    if let Some(at) = g.completed_at {
        out.line(format!("  Completed: {at}"));
    }
}

/// The tracker, if `tasks.db` exists (reads never create it).
fn tasks_if_present(layout: &Layout) -> CliResult<Option<Box<dyn TaskStore>>> {
    if layout.tasks_db().is_file() {
        stores::tasks(layout, "").map(Some)
    } else {
        Ok(None)
    }
}

/// A group error for the user: bad input is a usage error (exit 2), the rest failures.
fn error(e: GroupError) -> CliError {
    match e {
        GroupError::EmptyName
        | GroupError::NoMembers
        | GroupError::Duplicate(_)
        | GroupError::BadId(..) => CliError::usage(e.to_string()),
        other => CliError::failure(other.to_string()),
    }
}
