//! Mail between agents: types, priorities, audiences, messages and protocol payloads.

use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::time::Timestamp;

string_enum! {
    /// What a message is. The first four are semantic, the rest protocol messages with a payload.
    pub enum MailType ("mail type") {
        /// Progress report.
        Status => "status",
        /// A question to the recipient.
        Question => "question",
        /// A result (scouts, reviewers).
        Result => "result",
        /// Something failed.
        Error => "error",
        /// A worker finished its task.
        WorkerDone => "worker_done",
        /// A branch is ready for the merge queue.
        MergeReady => "merge_ready",
        /// A branch was merged.
        Merged => "merged",
        /// A merge failed.
        MergeFailed => "merge_failed",
        /// An escalation to a supervisor.
        Escalation => "escalation",
        /// A watchdog health notice.
        HealthCheck => "health_check",
        /// Work dispatched to an agent.
        Dispatch => "dispatch",
        /// Work assigned by a supervisor.
        Assign => "assign",
        /// The watchdog found an agent dead.
        WorkerDied => "worker_died",
    }
}

impl MailType {
    /// Protocol types carry a JSON payload and default to the `agent` audience.
    pub const fn is_protocol(self) -> bool {
        !matches!(
            self,
            Self::Status | Self::Question | Self::Result | Self::Error
        )
    }

    /// The audience a message of this type gets when the sender names none.
    pub const fn default_audience(self) -> Audience {
        if self.is_protocol() {
            Audience::Agent
        } else {
            Audience::Both
        }
    }
}

string_enum! {
    /// How urgent a message is.
    pub enum Priority ("priority") {
        /// Can wait.
        Low => "low",
        /// The default.
        Normal => "normal",
        /// Deliver promptly, even to an idle agent.
        High => "high",
        /// Deliver now.
        Urgent => "urgent",
    }
}

impl Priority {
    /// High and urgent mail is pushed to idle agents by the watchdog.
    pub const fn is_pressing(self) -> bool {
        matches!(self, Self::High | Self::Urgent)
    }
}

string_enum! {
    /// Who a message is meant for.
    pub enum Audience ("audience") {
        /// The human (dashboards, chat).
        Human => "human",
        /// Agents only.
        Agent => "agent",
        /// Both.
        Both => "both",
    }
}

/// A stored message (`mail.db`, table `messages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailMessage {
    /// `msg-xxxxxxxxxxxx` or a caller-chosen id.
    pub id: String,
    /// Sender address.
    pub from: String,
    /// Recipient address (one per row; group addresses are fanned out when sent).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Urgency.
    pub priority: Priority,
    /// Kind.
    #[serde(rename = "type")]
    pub mail_type: MailType,
    /// Intended readers.
    pub audience: Audience,
    /// The root message id of the thread, for replies.
    pub thread_id: Option<String>,
    /// JSON text, for protocol types.
    pub payload: Option<String>,
    /// Whether it was delivered (injected into the recipient's context or read explicitly).
    pub read: bool,
    /// When it was sent.
    pub created_at: Timestamp,
}

/// A message to send. `id: None` lets the store generate one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// A caller-chosen id, or `None`.
    pub id: Option<String>,
    /// Sender address.
    pub from: String,
    /// Recipient address (a single agent, `orchestrator`, `human`, ...).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Kind.
    pub mail_type: MailType,
    /// Urgency.
    pub priority: Priority,
    /// Readers; `None` means the type's default.
    pub audience: Option<Audience>,
    /// Thread root id.
    pub thread_id: Option<String>,
    /// JSON text.
    pub payload: Option<String>,
}

impl NewMail {
    /// A normal-priority message of `mail_type` with no thread or payload.
    pub fn new(
        from: impl Into<String>,
        to: impl Into<String>,
        mail_type: MailType,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            id: None,
            from: from.into(),
            to: to.into(),
            subject: subject.into(),
            body: body.into(),
            mail_type,
            priority: Priority::Normal,
            audience: None,
            thread_id: None,
            payload: None,
        }
    }

    /// The audience this message will be stored with.
    pub fn effective_audience(&self) -> Audience {
        self.audience
            .unwrap_or_else(|| self.mail_type.default_audience())
    }
}

/// Payload of `worker_done`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerDonePayload {
    /// The task.
    pub bead_id: String,
    /// The branch holding the work.
    pub branch: String,
    /// 0 when the quality gates passed.
    pub exit_code: i64,
    /// Files changed on the branch.
    pub files_modified: Vec<String>,
}

/// Payload of `merge_ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeReadyPayload {
    /// The branch to merge.
    pub branch: String,
    /// The task.
    pub bead_id: String,
    /// The agent that did the work.
    pub agent_name: String,
    /// Files changed on the branch.
    pub files_modified: Vec<String>,
}

/// Payload of `merged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedPayload {
    /// The merged branch.
    pub branch: String,
    /// The task.
    pub bead_id: String,
    /// How it was merged.
    pub tier: super::merge::ResolutionTier,
}

/// Payload of `merge_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeFailedPayload {
    /// The branch.
    pub branch: String,
    /// The task.
    pub bead_id: String,
    /// Files still conflicting.
    pub conflict_files: Vec<String>,
    /// What went wrong.
    pub error_message: String,
}

/// Payload of `worker_died`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerDiedPayload {
    /// The dead agent.
    pub agent_name: String,
    /// Its task.
    pub bead_id: String,
    /// Why the watchdog considers it dead.
    pub reason: String,
    /// What the watchdog did: `recovered`, `recovery_failed`, `not_recoverable`.
    pub action: String,
    /// Recovery attempts made so far.
    pub attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_defaults_follow_the_type() {
        assert_eq!(MailType::Status.default_audience(), Audience::Both);
        assert_eq!(MailType::WorkerDone.default_audience(), Audience::Agent);
        let m = NewMail::new("a", "b", MailType::Question, "s", "b");
        assert_eq!(m.effective_audience(), Audience::Both);
    }

    #[test]
    fn all_legacy_types_parse() {
        for t in [
            "status",
            "question",
            "result",
            "error",
            "worker_done",
            "merge_ready",
            "merged",
            "merge_failed",
            "escalation",
            "health_check",
            "dispatch",
            "assign",
        ] {
            assert_eq!(t.parse::<MailType>().unwrap().as_str(), t);
        }
    }
}
