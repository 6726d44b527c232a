use legio_core::domain::task::{NewTask, Task, TaskPatch, TaskStatus};
use legio_core::names::TaskId;
use legio_core::ports::StoreError;
use legio_core::ports::store::{TaskFilter, TaskStore};
use legio_store::SqliteTaskStore;

use crate::common::{at, tmp};

fn store(dir: &tempfile::TempDir) -> SqliteTaskStore {
    SqliteTaskStore::open(dir.path().join("tasks.db")).expect("open tasks.db")
}

fn id(s: &str) -> TaskId {
    TaskId::new(s).expect("a valid task id")
}

fn new(task_id: &str, title: &str, priority: u8) -> NewTask {
    NewTask {
        id: Some(id(task_id)),
        title: title.into(),
        priority,
        task_type: "task".into(),
        ..NewTask::default()
    }
}

fn ids(list: &[Task]) -> Vec<&str> {
    list.iter().map(|t| t.id.as_str()).collect()
}

#[test]
fn create_generates_ids_and_round_trips() {
    let dir = tmp();
    let s = store(&dir).with_id_prefix("proj").unwrap();
    let parent = s.create(&new("epic-1", "Epic", 1), at(0)).unwrap();
    let dep = s.create(&new("t-dep", "Dependency", 2), at(1)).unwrap();
    let task = NewTask {
        id: None,
        title: "  Build the thing ".into(),
        description: "details".into(),
        priority: 0,
        task_type: String::new(),
        parent: Some(parent.id.clone()),
        depends_on: vec![dep.id.clone()],
        assignee: Some("builder-1".into()),
    };
    let made = s.create(&task, at(2)).unwrap();
    assert!(
        made.id.as_str().starts_with("proj-") && made.id.as_str().len() == 11,
        "{}",
        made.id
    );
    assert_eq!(
        made,
        Task {
            id: made.id.clone(),
            title: "Build the thing".into(),
            description: "details".into(),
            status: TaskStatus::Open,
            priority: 0,
            task_type: "task".into(),
            parent: Some(parent.id),
            depends_on: vec![dep.id],
            assignee: Some("builder-1".into()),
            close_reason: None,
            created_at: at(2),
            updated_at: at(2),
            closed_at: None,
        }
    );
    assert_eq!(s.get(&made.id).unwrap(), Some(made));
    assert_eq!(s.get(&id("nope")).unwrap(), None);
    assert!(matches!(
        store(&dir).with_id_prefix("bad prefix"),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let dir = tmp();
    let s = store(&dir);
    s.create(&new("t-1", "One", 2), at(0)).unwrap();
    assert!(
        matches!(s.create(&new("t-1", "Again", 2), at(1)), Err(StoreError::Conflict(m)) if m.contains("t-1"))
    );
    assert!(
        matches!(s.create(&new("t-2", "   ", 2), at(1)), Err(StoreError::Invalid(m)) if m.contains("title"))
    );
    assert!(
        matches!(s.create(&new("t-2", "Two", 5), at(1)), Err(StoreError::Invalid(m)) if m.contains("priority 5"))
    );
    let orphan = NewTask {
        parent: Some(id("ghost")),
        ..new("t-2", "Two", 2)
    };
    assert!(matches!(
        s.create(&orphan, at(1)),
        Err(StoreError::NotFound {
            what: "parent task",
            ..
        })
    ));
    let dangling = NewTask {
        depends_on: vec![id("ghost")],
        ..new("t-2", "Two", 2)
    };
    assert!(matches!(
        s.create(&dangling, at(1)),
        Err(StoreError::NotFound {
            what: "dependency task",
            ..
        })
    ));
    let all = TaskFilter {
        include_closed: true,
        ..Default::default()
    };
    assert_eq!(
        ids(&s.list(&all).unwrap()),
        ["t-1"],
        "failed creates left nothing behind"
    );
}

#[test]
fn list_orders_by_priority_then_age_and_filters() {
    let dir = tmp();
    let s = store(&dir);
    s.create(&new("low", "Low", 3), at(0)).unwrap();
    s.create(&new("high-late", "High late", 1), at(5)).unwrap();
    s.create(&new("high-early", "High early", 1), at(1))
        .unwrap();
    let child = NewTask {
        parent: Some(id("low")),
        assignee: Some("b1".into()),
        ..new("child", "Child", 2)
    };
    s.create(&child, at(2)).unwrap();
    s.close(&id("high-late"), Some("done"), at(6)).unwrap();
    s.update(
        &id("low"),
        &TaskPatch {
            status: Some(TaskStatus::Blocked),
            ..Default::default()
        },
        at(7),
    )
    .unwrap();

    let list = |f: TaskFilter| {
        ids(&s.list(&f).unwrap())
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(TaskFilter::default()), ["high-early", "child", "low"]);
    assert_eq!(
        list(TaskFilter {
            include_closed: true,
            ..Default::default()
        }),
        ["high-early", "high-late", "child", "low"]
    );
    assert_eq!(
        list(TaskFilter {
            statuses: vec![TaskStatus::Closed, TaskStatus::Blocked],
            ..Default::default()
        }),
        ["high-late", "low"]
    );
    assert_eq!(
        list(TaskFilter {
            assignee: Some("b1".into()),
            ..Default::default()
        }),
        ["child"]
    );
    assert_eq!(
        list(TaskFilter {
            parent: Some(id("low")),
            ..Default::default()
        }),
        ["child"]
    );
    assert_eq!(
        list(TaskFilter {
            limit: Some(1),
            ..Default::default()
        }),
        ["high-early"]
    );
}

#[test]
fn ready_means_open_with_every_dependency_closed() {
    let dir = tmp();
    let s = store(&dir);
    s.create(&new("a", "A", 2), at(0)).unwrap();
    s.create(&new("b", "B", 2), at(1)).unwrap();
    s.create(
        &NewTask {
            depends_on: vec![id("a"), id("b")],
            ..new("c", "C", 0)
        },
        at(2),
    )
    .unwrap();
    s.create(&new("busy", "Busy", 0), at(3)).unwrap();
    s.update(
        &id("busy"),
        &TaskPatch {
            status: Some(TaskStatus::InProgress),
            ..Default::default()
        },
        at(4),
    )
    .unwrap();

    assert_eq!(ids(&s.ready(None).unwrap()), ["a", "b"]);
    s.close(&id("a"), None, at(5)).unwrap();
    assert_eq!(ids(&s.ready(None).unwrap()), ["b"]);
    s.close(&id("b"), None, at(6)).unwrap();
    assert_eq!(ids(&s.ready(None).unwrap()), ["c"]);
    assert!(s.ready(Some(0)).unwrap().is_empty());
}

#[test]
fn update_patches_fields_and_dependencies_and_refuses_cycles() {
    let dir = tmp();
    let s = store(&dir);
    for (t, ms) in [("a", 0), ("b", 1), ("c", 2)] {
        s.create(&new(t, t, 2), at(ms)).unwrap();
    }
    let patched = s
        .update(
            &id("a"),
            &TaskPatch {
                title: Some("A2".into()),
                description: Some("more".into()),
                priority: Some(4),
                assignee: Some(Some("b1".into())),
                add_depends_on: vec![id("b")],
                ..Default::default()
            },
            at(10),
        )
        .unwrap();
    assert_eq!(
        (
            patched.title.as_str(),
            patched.description.as_str(),
            patched.priority,
            patched.assignee.as_deref()
        ),
        ("A2", "more", 4, Some("b1"))
    );
    assert_eq!(
        (
            patched.depends_on.clone(),
            patched.updated_at,
            patched.created_at
        ),
        (vec![id("b")], at(10), at(0))
    );
    let cleared = s
        .update(
            &id("a"),
            &TaskPatch {
                assignee: Some(None),
                ..Default::default()
            },
            at(11),
        )
        .unwrap();
    assert_eq!((cleared.assignee, cleared.title.as_str()), (None, "A2"));

    s.update(
        &id("b"),
        &TaskPatch {
            add_depends_on: vec![id("c")],
            ..Default::default()
        },
        at(12),
    )
    .unwrap();
    let cycle = TaskPatch {
        add_depends_on: vec![id("a")],
        ..Default::default()
    };
    assert!(
        matches!(s.update(&id("c"), &cycle, at(13)), Err(StoreError::Conflict(m)) if m.contains("cycle"))
    );
    assert!(matches!(
        s.update(
            &id("b"),
            &TaskPatch {
                add_depends_on: vec![id("a")],
                ..Default::default()
            },
            at(13)
        ),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(s.update(&id("a"), &TaskPatch { add_depends_on: vec![id("a")], ..Default::default() }, at(13)), Err(StoreError::Conflict(m)) if m.contains("itself"))
    );
    assert!(
        s.get(&id("c")).unwrap().unwrap().depends_on.is_empty(),
        "a refused patch changes nothing"
    );
    assert_eq!(s.get(&id("c")).unwrap().unwrap().updated_at, at(2));

    let removed = s
        .update(
            &id("a"),
            &TaskPatch {
                remove_depends_on: vec![id("b")],
                ..Default::default()
            },
            at(14),
        )
        .unwrap();
    assert!(removed.depends_on.is_empty());
    assert!(matches!(
        s.update(
            &id("a"),
            &TaskPatch {
                priority: Some(9),
                ..Default::default()
            },
            at(15)
        ),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.update(&id("ghost"), &TaskPatch::default(), at(15)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.update(&id("a"), &TaskPatch { status: Some(TaskStatus::Closed), ..Default::default() }, at(15)),
        Err(StoreError::Invalid(m)) if m.contains("close")
    ));
}

#[test]
fn close_records_why_and_when_once_and_reopening_clears_it() {
    let dir = tmp();
    let s = store(&dir);
    s.create(&new("t", "T", 2), at(0)).unwrap();
    let closed = s.close(&id("t"), Some("merged"), at(5)).unwrap();
    assert_eq!(
        (
            closed.status,
            closed.close_reason.as_deref(),
            closed.closed_at,
            closed.updated_at
        ),
        (TaskStatus::Closed, Some("merged"), Some(at(5)), at(5))
    );
    assert_eq!(
        s.close(&id("t"), Some("again"), at(9)).unwrap(),
        closed,
        "closing twice is a no-op"
    );
    let reopened = s
        .update(
            &id("t"),
            &TaskPatch {
                status: Some(TaskStatus::Open),
                ..Default::default()
            },
            at(10),
        )
        .unwrap();
    assert_eq!(
        (reopened.status, reopened.close_reason, reopened.closed_at),
        (TaskStatus::Open, None, None)
    );
    assert!(matches!(
        s.close(&id("ghost"), None, at(1)),
        Err(StoreError::NotFound { what: "task", .. })
    ));
}
