//! The queue's producers: `merge_ready` and `worker_done` mail (spec 2, section 9.11).
//!
//! - `merge_ready` (payload `{branch, beadId, agentName, filesModified}`, each field optional;
//!   missing ones come from the sender's session row) always queues its branch.
//! - `worker_done` queues the sender's branch when no reviewer stands between it and the merge:
//!   its parent is the orchestrator, the coordinator, a supervisor (anything but a lead). A
//!   lead's child is not queued: the lead reviews, then sends `merge_ready`. A non-zero
//!   `exitCode` (its quality gates failed) is not queued either.
//!
//! [`intake`] decides before the mail is stored, so a `merge_ready` that cannot be queued is
//! refused with nothing written; [`enqueue`] queues after the mail is stored.

use serde::Deserialize;

use crate::domain::agent::{AgentSession, Capability};
use crate::domain::mail::MailType;
use crate::domain::merge::{MergeEntry, NewMergeEntry};
use crate::names::AgentName;
use crate::ops::hook::ORCHESTRATOR;
use crate::ports::git::parse_agent_branch;
use crate::ports::{GitError, MergeQueue, SessionStore, StoreError, StoreResult, Worktrees};
use crate::time::Timestamp;

/// A message that may put a branch in the queue.
#[derive(Debug, Clone, Copy)]
pub struct BranchMail<'a> {
    /// `merge_ready` or `worker_done` (anything else is never queued).
    pub mail_type: MailType,
    /// The sender.
    pub from: &'a str,
    /// The recipient (the sender's parent, when the sender has no session row).
    pub to: &'a str,
    /// The JSON payload, if any.
    pub payload: Option<&'a str>,
}

/// What the queue needs to decide.
pub struct IntakeContext<'a> {
    /// `sessions.db`: the sender and its parent.
    pub sessions: &'a dyn SessionStore,
    /// The repository: does the branch exist, which files does it change.
    pub worktrees: &'a dyn Worktrees,
    /// The merge target (files are counted from where the branch forked from it).
    pub target: &'a str,
    /// When.
    pub now: Timestamp,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// Queue this branch.
    Queue(NewMergeEntry),
    /// Do not queue; why (said to the sender).
    Skip(String),
}

/// Why a message's branch cannot be queued.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The payload is JSON of the wrong shape.
    #[error(
        "the {mail_type} payload cannot be read ({reason}); it is an object with optional fields branch, beadId, agentName (strings) and filesModified (a list of strings)"
    )]
    BadPayload {
        /// The message type.
        mail_type: MailType,
        /// What serde said.
        reason: String,
    },
    /// Neither the payload nor the sender's session names a branch.
    #[error(
        "{mail_type} from {from} names no branch, and {from} has no agent session with one; add --payload '{{\"branch\": \"legio/<agent>/<task>\"}}'"
    )]
    NoBranch {
        /// The message type.
        mail_type: MailType,
        /// The sender.
        from: String,
    },
    /// The branch does not exist.
    #[error(
        "{mail_type} names branch {branch}, which does not exist; `git branch --list 'legio/*'` lists agent branches"
    )]
    NoSuchBranch {
        /// The message type.
        mail_type: MailType,
        /// The branch.
        branch: String,
    },
    /// The branch is the merge target itself.
    #[error(
        "{mail_type} names {branch}, which is the merge target itself; name the agent's branch (legio/<agent>/<task>)"
    )]
    IsTarget {
        /// The message type.
        mail_type: MailType,
        /// The branch.
        branch: String,
    },
    /// Reading the repository failed.
    #[error("cannot queue {branch}: {source}")]
    Git {
        /// The branch.
        branch: String,
        /// git's error.
        source: GitError,
    },
    /// Reading the sessions failed.
    #[error("cannot queue the branch: {0}")]
    Store(#[from] StoreError),
}

/// Whether mail of this type may queue a branch.
pub const fn is_merge_request(mail_type: MailType) -> bool {
    matches!(mail_type, MailType::MergeReady | MailType::WorkerDone)
}

/// The payload fields legio reads, each optional (`worker_done` and `merge_ready` share them).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BranchPayload {
    branch: Option<String>,
    bead_id: Option<String>,
    agent_name: Option<String>,
    files_modified: Option<Vec<String>>,
    exit_code: Option<i64>,
}

fn parse_payload(mail: &BranchMail<'_>) -> Result<BranchPayload, IntakeError> {
    let Some(text) = mail.payload.filter(|t| !t.trim().is_empty()) else {
        return Ok(BranchPayload::default());
    };
    serde_json::from_str(text).map_err(|e| IntakeError::BadPayload {
        mail_type: mail.mail_type,
        reason: e.to_string(),
    })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Decides whether `mail` queues a branch, and builds the entry. Reads the sender's (and for
/// `worker_done` its parent's) session and the repository; writes nothing.
pub fn intake(mail: &BranchMail<'_>, cx: &IntakeContext<'_>) -> Result<Intake, IntakeError> {
    if !is_merge_request(mail.mail_type) {
        return Ok(Intake::Skip(format!(
            "{} mail does not queue branches",
            mail.mail_type
        )));
    }
    let payload = parse_payload(mail)?;
    let sender = match AgentName::new(mail.from) {
        Ok(name) => cx.sessions.get(&name)?,
        Err(_) => None,
    };
    let payload_branch = non_empty(payload.branch.clone());
    if mail.mail_type == MailType::WorkerDone {
        if let Some(why) = worker_done_skip(mail, &payload, sender.as_ref(), cx)? {
            return Ok(Intake::Skip(why));
        }
        if payload_branch.is_none()
            && sender
                .as_ref()
                .is_some_and(|s| s.capability.works_at_root())
        {
            return Ok(Intake::Skip(format!(
                "{} works at the project root and has no branch of its own",
                mail.from
            )));
        }
    }
    let from_sender = payload_branch.is_none();
    let branch = payload_branch
        .or_else(|| {
            sender
                .as_ref()
                .and_then(|s| non_empty(Some(s.branch_name.clone())))
        })
        .ok_or_else(|| IntakeError::NoBranch {
            mail_type: mail.mail_type,
            from: mail.from.to_owned(),
        })?;
    if branch == cx.target {
        return Err(IntakeError::IsTarget {
            mail_type: mail.mail_type,
            branch,
        });
    }
    let git = |source| IntakeError::Git {
        branch: branch.clone(),
        source,
    };
    if !cx.worktrees.branch_exists(&branch).map_err(git)? {
        return Err(IntakeError::NoSuchBranch {
            mail_type: mail.mail_type,
            branch,
        });
    }
    // The sender's row describes the branch only when the branch is the sender's own.
    let owner = sender
        .as_ref()
        .filter(|s| from_sender || s.branch_name == branch);
    let parsed = parse_agent_branch(&branch);
    let agent_name = non_empty(payload.agent_name)
        .or_else(|| parsed.map(|(a, _)| a.to_owned()))
        .or_else(|| owner.map(|s| s.agent_name.to_string()))
        .unwrap_or_else(|| "unknown".to_owned());
    let bead_id = non_empty(payload.bead_id)
        .or_else(|| parsed.map(|(_, t)| t.to_owned()))
        .or_else(|| owner.and_then(|s| non_empty(Some(s.bead_id.clone()))))
        .unwrap_or_else(|| "unknown".to_owned());
    let files_modified = match payload.files_modified.filter(|f| !f.is_empty()) {
        Some(files) => files,
        None => cx
            .worktrees
            .changed_files(&branch, cx.target)
            .map_err(git)?,
    };
    Ok(Intake::Queue(NewMergeEntry {
        branch_name: branch,
        bead_id,
        agent_name,
        files_modified,
        enqueued_at: cx.now,
    }))
}

/// Why a `worker_done` is not queued, if it is not: failed gates, or a parent that reviews.
fn worker_done_skip(
    mail: &BranchMail<'_>,
    payload: &BranchPayload,
    sender: Option<&AgentSession>,
    cx: &IntakeContext<'_>,
) -> Result<Option<String>, IntakeError> {
    if let Some(code) = payload.exit_code.filter(|c| *c != 0) {
        return Ok(Some(format!(
            "worker_done reports exit code {code} (its quality gates failed); fix them and send worker_done again, or merge_ready once reviewed"
        )));
    }
    // The parent: the sender's recorded parent (none: the orchestrator), else the recipient.
    let parent = match sender {
        Some(s) => s
            .parent_agent
            .as_ref()
            .map_or_else(|| ORCHESTRATOR.to_owned(), ToString::to_string),
        None => mail.to.to_owned(),
    };
    if parent == ORCHESTRATOR || parent == "human" {
        return Ok(None);
    }
    let parent_row = match AgentName::new(parent.as_str()) {
        Ok(name) => cx.sessions.get(&name)?,
        Err(_) => None,
    };
    Ok(match parent_row {
        Some(p) if p.capability == Capability::Lead => Some(format!(
            "{}'s parent {parent} is a lead: it reviews the branch, then sends merge_ready",
            mail.from
        )),
        Some(_) => None,
        None => Some(format!(
            "{parent}, the parent of {}, is not a known agent, so legio cannot tell whether a lead reviews this branch first; send merge_ready once it is reviewed, or run `legio merge --branch <branch>`",
            mail.from
        )),
    })
}

/// A queued branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its active entry.
    pub entry: MergeEntry,
    /// It was already queued (pending or merging) before this message.
    pub already: bool,
}

/// Queues `entry`, or finds the branch's active entry. Idempotent: a branch has at most one
/// pending or merging entry (the queue guarantees it, also between concurrent senders).
pub fn enqueue(queue: &dyn MergeQueue, entry: &NewMergeEntry) -> StoreResult<Queued> {
    let before = queue.active_for_branch(&entry.branch_name)?;
    let queued = queue.enqueue(entry)?;
    Ok(Queued {
        already: before.is_some_and(|b| b.id == queued.id),
        entry: queued,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::agent::{AgentState, Run, RunStatus};
    use crate::ports::{
        Admission, AdmissionLimits, GitError, Removal, RemoveOptions, Worktree, WorktreeSpec,
    };

    /// Only `get` answers; anything else intake must not call.
    struct Sessions(Vec<AgentSession>);

    fn unused<T>() -> StoreResult<T> {
        Err(StoreError::Invalid("intake only reads sessions".into()))
    }

    impl SessionStore for Sessions {
        fn register(&self, _: &AgentSession, _: &AdmissionLimits) -> StoreResult<Admission> {
            unused()
        }
        fn upsert(&self, _: &AgentSession) -> StoreResult<()> {
            unused()
        }
        fn remove(&self, _: &AgentName) -> StoreResult<bool> {
            unused()
        }
        fn get(&self, agent: &AgentName) -> StoreResult<Option<AgentSession>> {
            Ok(self.0.iter().find(|s| &s.agent_name == agent).cloned())
        }
        fn list(&self) -> StoreResult<Vec<AgentSession>> {
            unused()
        }
        fn list_active(&self) -> StoreResult<Vec<AgentSession>> {
            unused()
        }
        fn transition(&self, _: &AgentName, _: &[AgentState], _: AgentState) -> StoreResult<bool> {
            unused()
        }
        fn record_activity(&self, _: &AgentName, _: Timestamp) -> StoreResult<Option<AgentState>> {
            unused()
        }
        fn set_escalation(&self, _: &AgentName, _: u32, _: Option<Timestamp>) -> StoreResult<()> {
            unused()
        }
        fn set_pid(&self, _: &AgentName, _: Option<u32>) -> StoreResult<()> {
            unused()
        }
        fn create_run(&self, _: &Run) -> StoreResult<()> {
            unused()
        }
        fn get_run(&self, _: &str) -> StoreResult<Option<Run>> {
            unused()
        }
        fn list_runs(&self, _: Option<RunStatus>, _: Option<u32>) -> StoreResult<Vec<Run>> {
            unused()
        }
        fn increment_run_agents(&self, _: &str) -> StoreResult<()> {
            unused()
        }
        fn finish_run(&self, _: &str, _: RunStatus, _: Timestamp) -> StoreResult<bool> {
            unused()
        }
    }

    /// Branches that exist, with the files each changes; only the two reads intake needs.
    struct Repo(Vec<(&'static str, Vec<String>)>);

    fn refused<T>() -> Result<T, GitError> {
        Err(GitError::Failed {
            operation: "anything but reading branches".into(),
            message: "intake only reads branches".into(),
        })
    }

    impl Worktrees for Repo {
        fn create(&self, _: &WorktreeSpec) -> Result<Worktree, GitError> {
            refused()
        }
        fn list(&self) -> Result<Vec<Worktree>, GitError> {
            refused()
        }
        fn remove(&self, _: &Path, _: &RemoveOptions) -> Result<Removal, GitError> {
            refused()
        }
        fn is_merged(&self, _: &str, _: &str) -> Result<bool, GitError> {
            refused()
        }
        fn branch_exists(&self, branch: &str) -> Result<bool, GitError> {
            Ok(self.0.iter().any(|(b, _)| *b == branch))
        }
        fn current_branch(&self) -> Result<Option<String>, GitError> {
            refused()
        }
        fn dirty_files(&self, _: &Path) -> Result<Vec<String>, GitError> {
            refused()
        }
        fn changed_files(&self, branch: &str, base: &str) -> Result<Vec<String>, GitError> {
            assert_eq!(base, "main", "files are counted against the target");
            self.0
                .iter()
                .find(|(b, _)| *b == branch)
                .map(|(_, f)| f.clone())
                .ok_or_else(|| GitError::NoSuchBranch(branch.into()))
        }
    }

    fn session(name: &str, role: Capability, parent: Option<&str>, branch: &str) -> AgentSession {
        AgentSession {
            worktree_path: format!("/p/.legio/worktrees/{name}"),
            branch_name: branch.into(),
            bead_id: "t-1".into(),
            tmux_session: format!("legio-p-{name}"),
            parent_agent: parent.map(|p| AgentName::new(p).unwrap()),
            depth: 1,
            ..AgentSession::example(name, role)
        }
    }

    fn fleet() -> Sessions {
        Sessions(vec![
            session("lead-1", Capability::Lead, None, "legio/lead-1/t-0"),
            session("coordinator", Capability::Coordinator, None, "main"),
            session(
                "b-lead",
                Capability::Builder,
                Some("lead-1"),
                "legio/b-lead/t-1",
            ),
            session(
                "b-coord",
                Capability::Builder,
                Some("coordinator"),
                "legio/b-coord/t-1",
            ),
            session("b-orch", Capability::Builder, None, "legio/b-orch/t-1"),
            session(
                "b-ghost",
                Capability::Builder,
                Some("ghost"),
                "legio/b-ghost/t-1",
            ),
        ])
    }

    fn repo() -> Repo {
        let files = || vec!["src/a.rs".to_owned()];
        Repo(vec![
            ("legio/lead-1/t-0", files()),
            ("legio/b-lead/t-1", files()),
            ("legio/b-coord/t-1", files()),
            ("legio/b-orch/t-1", files()),
            ("legio/b-ghost/t-1", files()),
            ("feature/x", files()),
            ("main", vec![]),
        ])
    }

    fn run(
        mail_type: MailType,
        from: &str,
        to: &str,
        payload: Option<&str>,
    ) -> Result<Intake, IntakeError> {
        let (sessions, worktrees) = (fleet(), repo());
        let cx = IntakeContext {
            sessions: &sessions,
            worktrees: &worktrees,
            target: "main",
            now: Timestamp::from_millis(7),
        };
        intake(
            &BranchMail {
                mail_type,
                from,
                to,
                payload,
            },
            &cx,
        )
    }

    fn queued(r: Result<Intake, IntakeError>) -> NewMergeEntry {
        match r {
            Ok(Intake::Queue(e)) => e,
            other => panic!("expected a queued branch, got {other:?}"),
        }
    }

    fn skipped(r: Result<Intake, IntakeError>) -> String {
        match r {
            Ok(Intake::Skip(why)) => why,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    #[test]
    fn worker_done_queues_unless_a_lead_reviews_first() {
        let e = queued(run(MailType::WorkerDone, "b-orch", "orchestrator", None));
        assert_eq!(e.branch_name, "legio/b-orch/t-1");
        assert_eq!(
            (e.agent_name.as_str(), e.bead_id.as_str()),
            ("b-orch", "t-1")
        );
        assert_eq!(e.files_modified, ["src/a.rs"]);
        assert_eq!(e.enqueued_at, Timestamp::from_millis(7));
        queued(run(MailType::WorkerDone, "b-coord", "coordinator", None));
        let why = skipped(run(MailType::WorkerDone, "b-lead", "lead-1", None));
        assert!(why.contains("lead-1 is a lead"), "{why}");
        let why = skipped(run(MailType::WorkerDone, "b-ghost", "ghost", None));
        assert!(
            why.contains("ghost, the parent of b-ghost, is not a known agent"),
            "{why}"
        );
        let why = skipped(run(
            MailType::WorkerDone,
            "b-orch",
            "orchestrator",
            Some(r#"{"exitCode": 1}"#),
        ));
        assert!(why.contains("exit code 1"), "{why}");
        let why = skipped(run(
            MailType::WorkerDone,
            "coordinator",
            "orchestrator",
            None,
        ));
        assert!(why.contains("project root"), "{why}");
    }

    #[test]
    fn worker_done_without_a_session_row_takes_the_recipient_as_the_parent() {
        let p = Some(r#"{"branch": "feature/x"}"#);
        let e = queued(run(MailType::WorkerDone, "stranger", "orchestrator", p));
        assert_eq!(
            (
                e.branch_name.as_str(),
                e.agent_name.as_str(),
                e.bead_id.as_str()
            ),
            ("feature/x", "unknown", "unknown")
        );
        skipped(run(MailType::WorkerDone, "stranger", "lead-1", p));
    }

    #[test]
    fn merge_ready_always_queues_the_named_branch_with_the_payload_first() {
        // A lead announces its builder's branch: the payload wins over the lead's own row.
        let e = queued(run(
            MailType::MergeReady,
            "lead-1",
            "coordinator",
            Some(
                r#"{"branch":"legio/b-lead/t-1","beadId":"t-9","agentName":"b-lead","filesModified":["x.txt"],"extra":1}"#,
            ),
        ));
        assert_eq!(e.branch_name, "legio/b-lead/t-1");
        assert_eq!(
            (e.agent_name.as_str(), e.bead_id.as_str()),
            ("b-lead", "t-9")
        );
        assert_eq!(e.files_modified, ["x.txt"]);
        // No payload: the sender's own branch, agent and task, files from git.
        let e = queued(run(MailType::MergeReady, "b-lead", "lead-1", None));
        assert_eq!(e.branch_name, "legio/b-lead/t-1");
        assert_eq!(e.files_modified, ["src/a.rs"]);
        // A lead's merge_ready is not subject to the review rule of worker_done.
        queued(run(
            MailType::MergeReady,
            "lead-1",
            "coordinator",
            Some("{}"),
        ));
    }

    #[test]
    fn merge_ready_that_cannot_be_queued_says_why() {
        let err = run(MailType::MergeReady, "stranger", "coordinator", None).unwrap_err();
        assert!(matches!(err, IntakeError::NoBranch { .. }), "{err}");
        assert!(err.to_string().contains("--payload"), "{err}");
        let err = run(
            MailType::MergeReady,
            "b-lead",
            "lead-1",
            Some(r#"{"branch":"legio/nope/t"}"#),
        )
        .unwrap_err();
        assert!(matches!(err, IntakeError::NoSuchBranch { .. }), "{err}");
        let err = run(
            MailType::MergeReady,
            "b-lead",
            "lead-1",
            Some(r#"{"branch":"main"}"#),
        )
        .unwrap_err();
        assert!(matches!(err, IntakeError::IsTarget { .. }), "{err}");
        let err = run(
            MailType::MergeReady,
            "b-lead",
            "lead-1",
            Some(r#"{"filesModified":"a.txt"}"#),
        )
        .unwrap_err();
        assert!(matches!(err, IntakeError::BadPayload { .. }), "{err}");
        assert!(err.to_string().contains("filesModified"), "{err}");
    }

    #[test]
    fn other_mail_never_queues() {
        skipped(run(MailType::Status, "b-orch", "orchestrator", None));
        assert!(!is_merge_request(MailType::Merged));
    }
}
