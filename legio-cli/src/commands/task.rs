//! `legio task create|list|show|update|close|ready`: the built-in tracker.

use legio_core::TaskId;
use legio_core::domain::task::{NewTask, Task, TaskPatch, TaskStatus};
use legio_core::ports::{TaskFilter, TaskStore};
use legio_core::time::{Clock, format_duration_ms};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, GREEN, Printer, YELLOW, paint};
use crate::stores;
use clap::{Args, Subcommand, ValueEnum};

/// `legio task ...`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task.
    Create(TaskCreateArgs),
    /// List tasks (open ones by default).
    List(TaskListArgs),
    /// Show one task.
    Show {
        /// The task id.
        id: String,
    },
    /// Change a task.
    Update(TaskUpdateArgs),
    /// Close a task.
    Close {
        /// The task id.
        id: String,
        /// Why it was closed.
        #[arg(long)]
        reason: Option<String>,
    },
    /// List open tasks whose dependencies are all closed.
    Ready {
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// `legio task create`.
#[derive(Debug, Args)]
pub struct TaskCreateArgs {
    /// One-line title.
    pub title: String,
    /// Longer description.
    #[arg(short, long, default_value = "")]
    pub description: String,
    /// 0 (highest) to 4 (lowest).
    #[arg(short, long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: u8,
    /// Kind of task (task, bug, feature, epic, ...).
    #[arg(short = 't', long = "type", default_value = "task")]
    pub task_type: String,
    /// Parent task.
    #[arg(long)]
    pub parent: Option<String>,
    /// A task that must be closed first (repeatable).
    #[arg(long = "depends-on", value_name = "ID")]
    pub depends_on: Vec<String>,
    /// Who works on it.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Use this id instead of a generated one.
    #[arg(long)]
    pub id: Option<String>,
}

/// Task statuses on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TaskStatusArg {
    /// Not started.
    Open,
    /// Someone works on it.
    InProgress,
    /// Waiting.
    Blocked,
    /// Done.
    Closed,
}

/// `legio task list`.
#[derive(Debug, Args)]
pub struct TaskListArgs {
    /// Only this status (repeatable).
    #[arg(long, value_enum)]
    pub status: Vec<TaskStatusArg>,
    /// Include closed tasks.
    #[arg(long)]
    pub all: bool,
    /// Only tasks of this assignee.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Only children of this task.
    #[arg(long)]
    pub parent: Option<String>,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `legio task update`.
#[derive(Debug, Args)]
pub struct TaskUpdateArgs {
    /// The task id.
    pub id: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(short, long)]
    pub description: Option<String>,
    /// New status.
    #[arg(long, value_enum)]
    pub status: Option<TaskStatusArg>,
    /// New priority.
    #[arg(short, long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: Option<u8>,
    /// New assignee.
    #[arg(long, conflicts_with = "unassign")]
    pub assignee: Option<String>,
    /// Clear the assignee.
    #[arg(long)]
    pub unassign: bool,
    /// Add a dependency (repeatable).
    #[arg(long = "add-dep", value_name = "ID")]
    pub add_dep: Vec<String>,
    /// Remove a dependency (repeatable).
    #[arg(long = "remove-dep", value_name = "ID")]
    pub remove_dep: Vec<String>,
}

/// Runs a task subcommand.
pub fn run(cmd: TaskCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let config = crate::context::load_config(&layout, out)?;
    let store = stores::tasks(&layout, &config.project.name)?;
    let now = ctx.clock.now();
    match cmd {
        TaskCommand::Create(args) => {
            let task = store.create(&new_task(args)?, now)?;
            if out.json_mode() {
                return out.json(&task);
            }
            out.line(format!(
                "{} {} {}",
                paint(GREEN, "Created task"),
                paint(BOLD, &task.id),
                task.title
            ));
        }
        TaskCommand::List(args) => {
            let tasks = store.list(&filter(&args))?;
            print_tasks(&tasks, out, now.millis())?;
        }
        TaskCommand::Show { id } => {
            let id = TaskId::new(id)?;
            let task = get(&*store, &id)?;
            if out.json_mode() {
                return out.json(&task);
            }
            print_task(&task, out);
        }
        TaskCommand::Update(args) => {
            let id = TaskId::new(args.id.clone())?;
            get(&*store, &id)?;
            let task = store.update(&id, &patch(args)?, now)?;
            if out.json_mode() {
                return out.json(&task);
            }
            out.line(format!("Updated {}", paint(BOLD, &task.id)));
            print_task(&task, out);
        }
        TaskCommand::Close { id, reason } => {
            let id = TaskId::new(id)?;
            get(&*store, &id)?;
            let task = store.close(&id, reason.as_deref(), now)?;
            if out.json_mode() {
                out.json(&task)?;
            } else {
                out.line(format!(
                    "{} {}",
                    paint(GREEN, "Closed"),
                    paint(BOLD, &task.id)
                ));
            }
            // A group whose last open task this was completes itself now (the write path).
            super::group::after_task_closed(&layout, &*store, &id, now, out);
        }
        TaskCommand::Ready { limit } => {
            let tasks = store.ready(limit)?;
            print_tasks(&tasks, out, now.millis())?;
        }
    }
    Ok(())
}

fn get(store: &dyn TaskStore, id: &TaskId) -> CliResult<Task> {
    store.get(id)?.ok_or_else(|| {
        CliError::failure(format!("task {id} not found"))
            .hint("list tasks with `legio task list --all`")
    })
}

fn status(arg: TaskStatusArg) -> TaskStatus {
    match arg {
        TaskStatusArg::Open => TaskStatus::Open,
        TaskStatusArg::InProgress => TaskStatus::InProgress,
        TaskStatusArg::Blocked => TaskStatus::Blocked,
        TaskStatusArg::Closed => TaskStatus::Closed,
    }
}

fn task_ids(ids: Vec<String>) -> CliResult<Vec<TaskId>> {
    ids.into_iter()
        .map(|i| TaskId::new(i).map_err(CliError::from))
        .collect()
}

fn new_task(args: TaskCreateArgs) -> CliResult<NewTask> {
    if args.title.trim().is_empty() {
        return Err(CliError::usage("the task title is empty"));
    }
    Ok(NewTask {
        id: args.id.map(TaskId::new).transpose()?,
        title: args.title.trim().to_owned(),
        description: args.description,
        priority: args.priority,
        task_type: args.task_type,
        parent: args.parent.map(TaskId::new).transpose()?,
        depends_on: task_ids(args.depends_on)?,
        assignee: args.assignee,
    })
}

fn patch(args: TaskUpdateArgs) -> CliResult<TaskPatch> {
    if matches!(args.status, Some(TaskStatusArg::Closed)) {
        return Err(CliError::usage("use `legio task close` to close a task"));
    }
    if let Some(t) = &args.title
        && t.trim().is_empty()
    {
        return Err(CliError::usage("the task title is empty"));
    }
    Ok(TaskPatch {
        title: args.title.map(|t| t.trim().to_owned()),
        description: args.description,
        status: args.status.map(status),
        priority: args.priority,
        assignee: if args.unassign {
            Some(None)
        } else {
            args.assignee.map(Some)
        },
        add_depends_on: task_ids(args.add_dep)?,
        remove_depends_on: task_ids(args.remove_dep)?,
    })
}

fn filter(args: &TaskListArgs) -> TaskFilter {
    TaskFilter {
        statuses: args.status.iter().copied().map(status).collect(),
        include_closed: args.all,
        assignee: args.assignee.clone(),
        parent: args.parent.clone().and_then(|p| TaskId::new(p).ok()),
        limit: args.limit,
    }
}

fn status_badge(s: TaskStatus) -> String {
    let style = match s {
        TaskStatus::Open => BOLD,
        TaskStatus::InProgress => YELLOW,
        TaskStatus::Blocked => crate::output::RED,
        TaskStatus::Closed => DIM,
    };
    paint(style, format!("{:<11}", s.as_str()))
}

fn print_tasks(tasks: &[Task], out: &mut Printer, now_ms: i64) -> CliResult {
    if out.json_mode() {
        return out.json(tasks);
    }
    if tasks.is_empty() {
        out.line("No tasks.");
        return Ok(());
    }
    for t in tasks {
        let age = format_duration_ms(now_ms - t.created_at.millis());
        let who = t
            .assignee
            .as_deref()
            .map(|a| format!(" @{a}"))
            .unwrap_or_default();
        out.line(format!(
            "{} P{} {} {}{} {}",
            paint(BOLD, format!("{:<16}", t.id)),
            t.priority,
            status_badge(t.status),
            t.title,
            paint(DIM, who),
            paint(DIM, format!("({age} ago)"))
        ));
    }
    Ok(())
}

fn print_task(t: &Task, out: &mut Printer) {
    out.line(format!("{} {}", paint(BOLD, &t.id), t.title));
    out.line(format!("  Status:   {}", t.status));
    out.line(format!(
        "  Priority: P{}  Type: {}",
        t.priority, t.task_type
    ));
    if let Some(p) = &t.parent {
        out.line(format!("  Parent:   {p}"));
    }
    if !t.depends_on.is_empty() {
        let deps: Vec<&str> = t.depends_on.iter().map(TaskId::as_str).collect();
        out.line(format!("  Depends:  {}", deps.join(", ")));
    }
    if let Some(a) = &t.assignee {
        out.line(format!("  Assignee: {a}"));
    }
    out.line(format!("  Created:  {}", t.created_at));
    if let Some(c) = t.closed_at {
        let reason = t
            .close_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        out.line(format!("  Closed:   {c}{reason}"));
    }
    if !t.description.is_empty() {
        out.line("");
        for l in t.description.lines() {
            out.line(format!("  {l}"));
        }
    }
}
