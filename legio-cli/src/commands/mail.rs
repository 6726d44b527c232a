//! `legio mail send|check|list|read|reply|purge`.

use legio_core::Layout;
use legio_core::domain::agent::AgentState;
use legio_core::domain::event::{EventType, NewEvent};
use legio_core::domain::mail::{Audience, MailMessage, MailType, NewMail, Priority};
use legio_core::mail::{injection_text, is_group_address, reply_to, resolve_group};
use legio_core::names::{AgentName, RESERVED_AGENT_NAMES};
use legio_core::ops::checkpoint::write_atomic;
use legio_core::ops::hook::ORCHESTRATOR;
use legio_core::ports::{EventStore, MailFilter, PurgeCriteria, SessionStore};
use legio_core::time::{Clock, Timestamp};
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, DIM, Printer, RED, YELLOW, paint};
use crate::stores;
use clap::{Args, Subcommand};

/// `legio mail ...`.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a message (to an agent, `orchestrator`, or a group such as `@builders`).
    Send(MailSendArgs),
    /// Deliver unread mail: print it and mark it read.
    Check(MailCheckArgs),
    /// List messages, newest first.
    List(MailListArgs),
    /// Mark one message read.
    Read {
        /// The message id.
        id: String,
    },
    /// Reply to a message in its thread.
    Reply(MailReplyArgs),
    /// Delete messages.
    Purge(MailPurgeArgs),
}

/// `legio mail send`.
#[derive(Debug, Args)]
pub struct MailSendArgs {
    /// Recipient: an agent, `orchestrator`, `human`, or `@all`, `@builders`, `@leads`, ...
    #[arg(long)]
    pub to: String,
    /// Subject line.
    #[arg(long)]
    pub subject: String,
    /// Body text.
    #[arg(long)]
    pub body: String,
    /// Sender (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long, visible_alias = "agent")]
    pub from: Option<String>,
    /// Message type.
    #[arg(long = "type", default_value = "status", value_name = "TYPE")]
    pub mail_type: String,
    /// low, normal, high or urgent.
    #[arg(long, default_value = "normal")]
    pub priority: String,
    /// human, agent or both (default: agent for protocol types, both otherwise).
    #[arg(long)]
    pub audience: Option<String>,
    /// JSON payload (protocol types).
    #[arg(long)]
    pub payload: Option<String>,
}

/// `legio mail check`.
#[derive(Debug, Args)]
pub struct MailCheckArgs {
    /// Whose mail (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long)]
    pub agent: Option<String>,
    /// Print in the form injected into an agent's context.
    #[arg(long)]
    pub inject: bool,
    /// Only messages for this audience (others stay unread).
    #[arg(long)]
    pub audience: Option<String>,
    /// Do nothing if the last check of this agent was less than this many ms ago.
    #[arg(long, value_name = "MS")]
    pub debounce: Option<u64>,
}

/// `legio mail list`.
#[derive(Debug, Args)]
pub struct MailListArgs {
    /// Only from this sender.
    #[arg(long)]
    pub from: Option<String>,
    /// Only to this recipient.
    #[arg(long, visible_alias = "agent")]
    pub to: Option<String>,
    /// Only unread messages.
    #[arg(long)]
    pub unread: bool,
    /// Only this audience.
    #[arg(long)]
    pub audience: Option<String>,
    /// At most this many (newest kept).
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `legio mail reply`.
#[derive(Debug, Args)]
pub struct MailReplyArgs {
    /// The message replied to.
    pub id: String,
    /// Body text.
    #[arg(long)]
    pub body: String,
    /// Replier (default: $LEGIO_AGENT_NAME, else orchestrator).
    #[arg(long, visible_alias = "agent")]
    pub from: Option<String>,
}

/// `legio mail purge`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["all", "days", "agent"])))]
pub struct MailPurgeArgs {
    /// Every message.
    #[arg(long)]
    pub all: bool,
    /// Messages older than this many days.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,
    /// Messages from or to this agent.
    #[arg(long)]
    pub agent: Option<String>,
}

/// Runs a mail subcommand.
pub fn run(cmd: MailCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    match cmd {
        MailCommand::Send(args) => send(&args, ctx, &layout, out),
        MailCommand::Check(args) => check(&args, ctx, &layout, out),
        MailCommand::List(args) => list(&args, &layout, out),
        MailCommand::Read { id } => {
            let already = stores::mail(&layout)?
                .mark_read(&id)
                .map_err(|e| not_found(e, &id))?;
            if out.json_mode() {
                return out.json(&json!({ "id": id, "alreadyRead": already }));
            }
            out.line(if already {
                format!("Message {id} was already read.")
            } else {
                format!("Marked {id} as read.")
            });
            Ok(())
        }
        MailCommand::Reply(args) => reply(&args, ctx, &layout, out),
        MailCommand::Purge(args) => purge(&args, ctx, &layout, out),
    }
}

fn not_found(e: legio_core::ports::StoreError, id: &str) -> CliError {
    match e {
        legio_core::ports::StoreError::NotFound { .. } => {
            CliError::failure(format!("message {id} not found"))
                .hint("list messages with `legio mail list`")
        }
        other => other.into(),
    }
}

/// The acting agent: an explicit flag, else `$LEGIO_AGENT_NAME`, else the orchestrator.
pub fn acting_agent(flag: Option<&str>, ctx: &Ctx<'_>) -> CliResult<String> {
    let who = flag
        .map(str::to_owned)
        .or_else(|| ctx.env.agent_name.clone())
        .unwrap_or_else(|| ORCHESTRATOR.to_owned());
    validate_address(&who)?;
    Ok(who)
}

/// A single-recipient address: an agent name or one of the reserved addresses.
fn validate_address(address: &str) -> CliResult {
    if RESERVED_AGENT_NAMES.contains(&address) && address != "all" {
        return Ok(());
    }
    AgentName::new(address)?;
    Ok(())
}

fn parse<T: std::str::FromStr<Err = legio_core::UnknownValue>>(text: &str) -> CliResult<T> {
    text.parse().map_err(CliError::from)
}

fn send(args: &MailSendArgs, ctx: &Ctx<'_>, layout: &Layout, out: &mut Printer) -> CliResult {
    let mail_type: MailType = parse(&args.mail_type)?;
    let priority: Priority = parse(&args.priority)?;
    let audience: Option<Audience> = args.audience.as_deref().map(parse).transpose()?;
    if let Some(p) = &args.payload {
        serde_json::from_str::<serde_json::Value>(p)
            .map_err(|e| CliError::usage(format!("--payload is not valid JSON: {e}")))?;
    }
    let from = acting_agent(args.from.as_deref(), ctx)?;
    let merge_intake = super::merge::mail_intake(
        mail_type,
        &from,
        &args.to,
        args.payload.as_deref(),
        ctx,
        layout,
        out,
    )?;
    let sessions = stores::sessions(layout)?;
    let recipients = if is_group_address(&args.to) {
        let active = sessions.list_active()?;
        resolve_group(&args.to, &active, &from).map_err(|e| CliError::failure(e.to_string()))?
    } else {
        validate_address(&args.to)?;
        vec![args.to.clone()]
    };
    let mail = stores::mail(layout)?;
    let events = stores::events(layout)?;
    let now = ctx.clock.now();
    let run_id = layout.read_current_run();
    let mut sent = Vec::new();
    for to in &recipients {
        let message = NewMail {
            id: None,
            from: from.clone(),
            to: to.clone(),
            subject: args.subject.clone(),
            body: args.body.clone(),
            mail_type,
            priority,
            audience,
            thread_id: None,
            payload: args.payload.clone(),
        };
        let stored = mail.send(&message, now)?;
        record_sent(&*events, &stored, run_id.clone(), recipients.len() > 1, now);
        sent.push(stored);
    }
    if mail_type == MailType::WorkerDone {
        complete_sender(&*sessions, &*events, &from, run_id, now, out);
    }
    if out.json_mode() {
        let merge_queue = merge_intake
            .as_ref()
            .map(|i| super::merge::mail_enqueue(i, layout, out));
        let mut doc = if recipients.len() == 1 && !is_group_address(&args.to) {
            json!({ "id": sent[0].id })
        } else {
            let ids: Vec<&str> = sent.iter().map(|m| m.id.as_str()).collect();
            json!({ "messageIds": ids, "recipientCount": ids.len() })
        };
        if let Some(q) = merge_queue {
            doc["mergeQueue"] = q;
        }
        return out.json(&doc);
    }
    if is_group_address(&args.to) {
        out.line(format!(
            "📢 Broadcast sent to {} recipient(s) ({})",
            sent.len(),
            args.to
        ));
        for m in &sent {
            out.line(format!("   → {} ({})", m.to, m.id));
        }
    } else {
        out.line(format!("✉️  Sent message {} to {}", sent[0].id, sent[0].to));
    }
    if let Some(i) = &merge_intake {
        super::merge::mail_enqueue(i, layout, out);
    }
    Ok(())
}

fn record_sent(
    events: &dyn EventStore,
    m: &MailMessage,
    run_id: Option<String>,
    broadcast: bool,
    now: Timestamp,
) {
    let mut e = NewEvent::new(m.from.clone(), EventType::MailSent, now);
    e.run_id = run_id;
    let mut data = json!({
        "to": m.to, "subject": m.subject, "type": m.mail_type, "priority": m.priority, "messageId": m.id,
    });
    if broadcast {
        data["broadcast"] = json!(true);
    }
    e.data = Some(data.to_string());
    // The message is stored; a failed event write must not turn the send into a failure.
    let _ = events.insert(&e);
}

/// `worker_done` is the agent saying it finished: it becomes completed.
fn complete_sender(
    sessions: &dyn SessionStore,
    events: &dyn EventStore,
    from: &str,
    run_id: Option<String>,
    now: Timestamp,
    out: &mut Printer,
) {
    let Ok(agent) = AgentName::new(from) else {
        return;
    };
    match sessions.transition(
        &agent,
        &[AgentState::Booting, AgentState::Working, AgentState::Idle],
        AgentState::Completed,
    ) {
        Ok(true) => {
            let mut e = NewEvent::new(from, EventType::StateChange, now);
            e.run_id = run_id;
            e.data = Some(json!({ "to": "completed", "reason": "worker_done" }).to_string());
            let _ = events.insert(&e);
        }
        Ok(false) => {}
        Err(e) => out.warn(format!(
            "the message was sent, but {from} could not be marked completed: {e}"
        )),
    }
}

fn check(args: &MailCheckArgs, ctx: &Ctx<'_>, layout: &Layout, out: &mut Printer) -> CliResult {
    let agent = acting_agent(args.agent.as_deref(), ctx)?;
    let audience: Option<Audience> = args.audience.as_deref().map(parse).transpose()?;
    let now = ctx.clock.now();
    if let Some(ms) = args.debounce
        && debounced(layout, &agent, ms, now)
    {
        return Ok(());
    }
    let messages = stores::mail(layout)?.claim_unread(&agent, audience)?;
    if args.debounce.is_some() {
        remember_check(layout, &agent, now);
    }
    if out.json_mode() {
        return out.json(&messages);
    }
    if args.inject {
        out.raw(&injection_text(&messages));
        return Ok(());
    }
    if messages.is_empty() {
        out.line("No new messages.");
        return Ok(());
    }
    out.line(format!("📬 {} new message(s):", messages.len()));
    out.line("");
    for m in &messages {
        print_message(m, out);
        out.line("");
    }
    Ok(())
}

fn debounce_file(layout: &Layout, agent: &str) -> std::path::PathBuf {
    layout.file("mail-check-state").join(agent)
}

fn debounced(layout: &Layout, agent: &str, ms: u64, now: Timestamp) -> bool {
    std::fs::read_to_string(debounce_file(layout, agent))
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .is_some_and(|last| now.millis() - last < ms as i64)
}

fn remember_check(layout: &Layout, agent: &str, now: Timestamp) {
    // Best effort: a lost debounce record only means the next check is not skipped.
    let _ = write_atomic(&debounce_file(layout, agent), &now.millis().to_string());
}

fn list(args: &MailListArgs, layout: &Layout, out: &mut Printer) -> CliResult {
    let filter = MailFilter {
        from: args.from.clone(),
        to: args.to.clone(),
        unread: args.unread.then_some(true),
        audience: args.audience.as_deref().map(parse).transpose()?,
        limit: args.limit,
    };
    let messages = stores::mail(layout)?.list(&filter)?;
    if out.json_mode() {
        return out.json(&messages);
    }
    if messages.is_empty() {
        out.line("No messages found.");
        return Ok(());
    }
    for m in &messages {
        print_message(m, out);
        out.line("");
    }
    out.line(format!("Total: {} message(s)", messages.len()));
    Ok(())
}

fn print_message(m: &MailMessage, out: &mut Printer) {
    let unread = if m.read { " " } else { "*" };
    let priority = match m.priority {
        Priority::Normal => String::new(),
        Priority::Urgent => format!(" {}", paint(RED.bold(), "[URGENT]")),
        Priority::High => format!(" {}", paint(YELLOW, "[HIGH]")),
        Priority::Low => format!(" {}", paint(DIM, "[LOW]")),
    };
    out.line(format!(
        "{unread} {}  From: {} → To: {}{priority}",
        paint(BOLD, &m.id),
        m.from,
        m.to
    ));
    let audience = if m.audience == Audience::Agent {
        String::new()
    } else {
        format!(" [{}]", m.audience)
    };
    out.line(format!(
        "  Subject: {}  ({}{audience})",
        m.subject, m.mail_type
    ));
    for l in m.body.lines() {
        out.line(format!("  {l}"));
    }
    if let Some(p) = &m.payload {
        out.line(format!("  Payload: {p}"));
    }
    out.line(paint(DIM, format!("  {}", m.created_at)));
}

fn reply(args: &MailReplyArgs, ctx: &Ctx<'_>, layout: &Layout, out: &mut Printer) -> CliResult {
    let from = acting_agent(args.from.as_deref(), ctx)?;
    let mail = stores::mail(layout)?;
    let original = mail.get(&args.id)?.ok_or_else(|| {
        CliError::failure(format!("message {} not found", args.id))
            .hint("list messages with `legio mail list`")
    })?;
    let stored = mail.send(&reply_to(&original, &from, &args.body), ctx.clock.now())?;
    if out.json_mode() {
        return out.json(&json!({ "id": stored.id }));
    }
    out.line(format!("✉️  Reply sent: {} (to {})", stored.id, stored.to));
    Ok(())
}

fn purge(args: &MailPurgeArgs, ctx: &Ctx<'_>, layout: &Layout, out: &mut Printer) -> CliResult {
    let criteria = PurgeCriteria {
        all: args.all,
        older_than: args
            .days
            .map(|d| ctx.clock.now().plus_millis(-i64::from(d) * 86_400_000)),
        agent: args.agent.clone(),
    };
    let purged = stores::mail(layout)?.purge(&criteria)?;
    if out.json_mode() {
        return out.json(&json!({ "purged": purged }));
    }
    out.line(format!("Purged {purged} message(s)."));
    Ok(())
}
