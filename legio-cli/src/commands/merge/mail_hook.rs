//! The merge queue's hook in `legio mail send`: a `merge_ready` or `worker_done` message
//! queues its branch (see `legio_core::ops::merge_flow::intake`).

use legio_core::Layout;
use legio_core::domain::mail::MailType;
use legio_core::domain::merge::{MergeEntry, NewMergeEntry};
use legio_core::ops::merge_flow::intake::{self, BranchMail, Intake, IntakeContext};
use legio_core::ops::merge_flow::merge_target;
use legio_core::time::Clock;
use legio_merge::GitWorktrees;
use serde_json::{Value, json};

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::stores;

/// What `legio mail send` does about the merge queue for one message.
pub enum MailIntake {
    /// Queue this entry once the mail is stored.
    Queue(NewMergeEntry),
    /// Not queued, and why (printed).
    Skip(String),
}

/// Decides, before a `merge_ready` / `worker_done` message is stored, whether it queues a
/// branch. A `merge_ready` that cannot be queued is refused (nothing is sent); a `worker_done`
/// always goes out (it is also the agent's "finished"), with a warning saying why it was not
/// queued.
pub fn mail_intake(
    mail_type: MailType,
    from: &str,
    to: &str,
    payload: Option<&str>,
    ctx: &Ctx<'_>,
    layout: &Layout,
    out: &mut Printer,
) -> CliResult<Option<MailIntake>> {
    if !intake::is_merge_request(mail_type) {
        return Ok(None);
    }
    let decided = decide_intake(mail_type, from, to, payload, ctx, layout, out);
    match (decided, mail_type) {
        (Ok(Intake::Queue(e)), _) => Ok(Some(MailIntake::Queue(e))),
        (Ok(Intake::Skip(why)), _) => Ok(Some(MailIntake::Skip(why))),
        (Err(e), MailType::MergeReady) => {
            Err(CliError::usage(format!("nothing was sent: {}", e.message)))
        }
        (Err(e), _) => Ok(Some(MailIntake::Skip(e.message))),
    }
}

fn decide_intake(
    mail_type: MailType,
    from: &str,
    to: &str,
    payload: Option<&str>,
    ctx: &Ctx<'_>,
    layout: &Layout,
    out: &mut Printer,
) -> CliResult<Intake> {
    let config = load_config(layout, out)?;
    let target = merge_target(layout, &config.project.canonical_branch, None);
    let sessions = stores::sessions(layout)?;
    let worktrees = GitWorktrees::open(layout.root())?;
    let cx = IntakeContext {
        sessions: &*sessions,
        worktrees: &worktrees,
        target: &target.branch,
        now: ctx.clock.now(),
    };
    let mail = BranchMail {
        mail_type,
        from,
        to,
        payload,
    };
    intake::intake(&mail, &cx).map_err(|e| CliError::failure(e.to_string()))
}

/// Queues the entry of a message that was just stored. Returns the JSON fragment describing
/// what happened, for `--json` output. A failure is a warning: the message went out.
pub fn mail_enqueue(intake: &MailIntake, layout: &Layout, out: &mut Printer) -> Value {
    let entry = match intake {
        MailIntake::Skip(why) => {
            if !out.json_mode() {
                out.info(format!("Not queued for merging: {why}"));
            }
            return json!({ "queued": false, "reason": why });
        }
        MailIntake::Queue(e) => e,
    };
    let queued = stores::merge_queue(layout)
        .and_then(|q| intake::enqueue(&*q, entry).map_err(CliError::from));
    match queued {
        Ok(q) => {
            if !out.json_mode() {
                out.line(describe_queued(&q.entry, q.already));
            }
            json!({ "queued": true, "entryId": q.entry.id, "branch": q.entry.branch_name, "already": q.already })
        }
        Err(e) => {
            out.warn(format!(
                "the message was sent, but {} could not be queued for merging: {}",
                entry.branch_name, e.message
            ));
            out.warn(format!(
                "queue it by hand: legio merge --branch {}",
                entry.branch_name
            ));
            json!({ "queued": false, "reason": e.message })
        }
    }
}

fn describe_queued(e: &MergeEntry, already: bool) -> String {
    if already {
        format!(
            "📥 {} was already queued for merging (entry #{}, {})",
            e.branch_name, e.id, e.status
        )
    } else {
        format!(
            "📥 Queued {} for merging (entry #{}, {} file(s))",
            e.branch_name,
            e.id,
            e.files_modified.len()
        )
    }
}
