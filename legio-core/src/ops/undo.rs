//! Compensating actions: what a multi-step operation (sling, a root agent's start) has done so
//! far, and how to take each thing back.
//!
//! Every step that creates something pushes the action that removes it. On failure the
//! actions run newest first, and every one runs even if an earlier one failed, so one stuck
//! removal never leaves the rest behind; what could not be undone is reported by name, so the
//! user can finish the cleanup by hand. On success the stack is simply dropped.

/// One compensating action: what it undoes, and how.
struct Action<'a> {
    what: String,
    undo: Box<dyn FnOnce() -> Result<(), String> + 'a>,
}

/// The compensating actions of an operation in progress.
#[derive(Default)]
pub struct Undo<'a> {
    actions: Vec<Action<'a>>,
}

impl std::fmt::Debug for Undo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.actions.iter().map(|a| &a.what))
            .finish()
    }
}

/// What rolling back did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// What was undone, in the order it was undone.
    pub undone: Vec<String>,
    /// What could not be undone, each with the reason.
    pub failed: Vec<String>,
}

impl RollbackReport {
    /// Whether everything was undone.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
}

impl<'a> Undo<'a> {
    /// An empty stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `what` was created and can be removed by `undo`.
    pub fn push(
        &mut self,
        what: impl Into<String>,
        undo: impl FnOnce() -> Result<(), String> + 'a,
    ) {
        self.actions.push(Action {
            what: what.into(),
            undo: Box::new(undo),
        });
    }

    /// How many actions are recorded.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Runs every action, newest first, and reports what happened.
    pub fn rollback(self) -> RollbackReport {
        let mut report = RollbackReport::default();
        for action in self.actions.into_iter().rev() {
            match (action.undo)() {
                Ok(()) => report.undone.push(action.what),
                Err(e) => report.failed.push(format!("{}: {e}", action.what)),
            }
        }
        report
    }

    /// The operation succeeded: nothing is undone.
    pub fn commit(self) {
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn rolls_back_newest_first_and_keeps_going_after_a_failure() {
        let log = RefCell::new(Vec::new());
        let mut undo = Undo::new();
        undo.push("row", || {
            log.borrow_mut().push("row");
            Ok(())
        });
        undo.push("worktree", || Err("directory is busy".into()));
        undo.push("session", || {
            log.borrow_mut().push("session");
            Ok(())
        });
        assert_eq!(undo.len(), 3);
        let report = undo.rollback();
        assert_eq!(*log.borrow(), ["session", "row"]);
        assert_eq!(report.undone, ["session", "row"]);
        assert_eq!(report.failed, ["worktree: directory is busy"]);
        assert!(!report.is_clean());
    }

    #[test]
    fn commit_runs_nothing() {
        let ran = RefCell::new(false);
        let mut undo = Undo::new();
        undo.push("x", || {
            *ran.borrow_mut() = true;
            Ok(())
        });
        undo.commit();
        assert!(!*ran.borrow());
    }
}
