//! Mail logic independent of storage: group addresses, reply addressing, and the text that
//! injects unread mail into an agent's context.

use std::fmt::Write as _;

use crate::domain::agent::{AgentSession, Capability};
use crate::domain::mail::{MailMessage, NewMail, Priority};

/// A group address that resolved to nobody, or is not a group legio knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// Not a known group.
    #[error("unknown group address {address:?}; known groups: {known}")]
    Unknown {
        /// The address.
        address: String,
        /// The accepted groups.
        known: String,
    },
    /// No active agent is in the group.
    #[error(
        "group address {address:?} matches no active agent (besides the sender); check `legio status`"
    )]
    Empty {
        /// The address.
        address: String,
    },
}

/// Whether `address` names a group (`@all`, `@builders`, ...).
pub fn is_group_address(address: &str) -> bool {
    address.starts_with('@')
}

/// Every group address legio accepts: `@all` and each role, singular and plural.
pub fn known_groups() -> Vec<String> {
    let mut out = vec!["@all".to_owned()];
    for c in Capability::ALL {
        out.push(format!("@{c}"));
        out.push(format!("@{c}s"));
    }
    out
}

/// The agents a group address reaches among `active`, excluding `sender`, in `active`'s order.
pub fn resolve_group(
    address: &str,
    active: &[AgentSession],
    sender: &str,
) -> Result<Vec<String>, GroupError> {
    let key = address.trim_start_matches('@').to_ascii_lowercase();
    let role = if key == "all" {
        None
    } else {
        let singular = key.strip_suffix('s').unwrap_or(&key);
        let parsed = singular
            .parse::<Capability>()
            .or_else(|_| key.parse::<Capability>());
        match parsed {
            Ok(c) => Some(c),
            Err(_) => {
                return Err(GroupError::Unknown {
                    address: address.to_owned(),
                    known: known_groups().join(", "),
                });
            }
        }
    };
    let names: Vec<String> = active
        .iter()
        .filter(|s| s.agent_name.as_str() != sender)
        .filter(|s| role.is_none_or(|r| s.capability == r))
        .map(|s| s.agent_name.to_string())
        .collect();
    if names.is_empty() {
        return Err(GroupError::Empty {
            address: address.to_owned(),
        });
    }
    Ok(names)
}

/// A reply to `original` from `replier` with `body`: to the original sender (or, when the
/// replier is that sender, to the original recipient), subject prefixed `Re:` once, same type,
/// priority and audience, in the original's thread.
pub fn reply_to(original: &MailMessage, replier: &str, body: &str) -> NewMail {
    let to = if replier == original.from {
        original.to.clone()
    } else {
        original.from.clone()
    };
    let subject = if original.subject.starts_with("Re: ") {
        original.subject.clone()
    } else {
        format!("Re: {}", original.subject)
    };
    NewMail {
        id: None,
        from: replier.to_owned(),
        to,
        subject,
        body: body.to_owned(),
        mail_type: original.mail_type,
        priority: original.priority,
        audience: Some(original.audience),
        thread_id: Some(
            original
                .thread_id
                .clone()
                .unwrap_or_else(|| original.id.clone()),
        ),
        payload: None,
    }
}

/// The text that puts `messages` into an agent's context (empty when there are none).
///
/// Urgent and high-priority messages are announced first; each message shows its sender,
/// priority, type, subject, body, payload (protocol types) and how to reply.
pub fn injection_text(messages: &[MailMessage]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let pressing: Vec<&MailMessage> = messages
        .iter()
        .filter(|m| m.priority.is_pressing())
        .collect();
    for m in &pressing {
        let _ = writeln!(
            out,
            "🚨 PRIORITY: {} {} message from {} — \"{}\"",
            m.priority.as_str().to_uppercase(),
            m.mail_type,
            m.from,
            m.subject
        );
    }
    if !pressing.is_empty() {
        out.push('\n');
    }
    let n = messages.len();
    let _ = writeln!(
        out,
        "📬 You have {n} new message{}:",
        if n == 1 { "" } else { "s" }
    );
    out.push('\n');
    for m in messages {
        let priority = match m.priority {
            Priority::Normal => String::new(),
            p => format!(" [{}]", p.as_str().to_uppercase()),
        };
        let _ = writeln!(out, "--- From: {}{priority} ({}) ---", m.from, m.mail_type);
        let _ = writeln!(out, "Subject: {}", m.subject);
        let _ = writeln!(out, "{}", m.body);
        if let Some(payload) = m.payload.as_deref().filter(|_| m.mail_type.is_protocol()) {
            let _ = writeln!(out, "Payload: {payload}");
        }
        let _ = writeln!(
            out,
            "[Reply with: legio mail reply {} --body \"...\"]",
            m.id
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mail::{Audience, MailType};
    use crate::time::Timestamp;

    fn session(name: &str, cap: Capability) -> AgentSession {
        AgentSession::example(name, cap)
    }

    fn message(id: &str, priority: Priority, mail_type: MailType) -> MailMessage {
        MailMessage {
            id: id.into(),
            from: "lead-1".into(),
            to: "builder-1".into(),
            subject: "Check the spec".into(),
            body: "Line one\nLine two".into(),
            priority,
            mail_type,
            audience: Audience::Agent,
            thread_id: None,
            payload: Some(r#"{"beadId":"t-1"}"#.into()),
            read: false,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn groups_resolve_by_role_excluding_the_sender() {
        let fleet = [
            session("lead-1", Capability::Lead),
            session("b1", Capability::Builder),
            session("b2", Capability::Builder),
            session("s1", Capability::Scout),
        ];
        assert_eq!(
            resolve_group("@all", &fleet, "lead-1").unwrap(),
            ["b1", "b2", "s1"]
        );
        assert_eq!(
            resolve_group("@Builders", &fleet, "x").unwrap(),
            ["b1", "b2"]
        );
        assert_eq!(resolve_group("@builder", &fleet, "b1").unwrap(), ["b2"]);
        assert!(matches!(
            resolve_group("@reviewers", &fleet, "x"),
            Err(GroupError::Empty { .. })
        ));
        let err = resolve_group("@wizards", &fleet, "x").unwrap_err();
        assert!(err.to_string().contains("@gateways"), "{err}");
    }

    #[test]
    fn replies_go_back_to_the_other_party_in_the_same_thread() {
        let mut original = message("msg-1", Priority::High, MailType::Question);
        let r = reply_to(&original, "builder-1", "yes");
        assert_eq!(
            (r.to.as_str(), r.subject.as_str()),
            ("lead-1", "Re: Check the spec")
        );
        assert_eq!(r.thread_id.as_deref(), Some("msg-1"));
        assert_eq!(
            (r.priority, r.mail_type),
            (Priority::High, MailType::Question)
        );
        let own = reply_to(&original, "lead-1", "more");
        assert_eq!(own.to, "builder-1");
        original.thread_id = Some("msg-0".into());
        original.subject = "Re: Check the spec".into();
        let again = reply_to(&original, "builder-1", "ok");
        assert_eq!(again.thread_id.as_deref(), Some("msg-0"));
        assert_eq!(again.subject, "Re: Check the spec");
    }

    #[test]
    fn injection_text_lists_every_message_with_a_reply_hint() {
        assert_eq!(injection_text(&[]), "");
        let text = injection_text(&[
            message("msg-a", Priority::Normal, MailType::Status),
            message("msg-b", Priority::Urgent, MailType::Dispatch),
        ]);
        insta::assert_snapshot!(text);
    }
}
