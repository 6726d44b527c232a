use legio_core::domain::mail::{Audience, MailMessage, MailType, NewMail, Priority};
use legio_core::ports::StoreError;
use legio_core::ports::store::{MailFilter, MailStore, PurgeCriteria};
use legio_store::SqliteMailStore;

use crate::common::{at, tmp};

fn store(dir: &tempfile::TempDir) -> SqliteMailStore {
    SqliteMailStore::open(dir.path().join("mail.db")).expect("open mail.db")
}

fn mail(from: &str, to: &str, subject: &str) -> NewMail {
    NewMail::new(from, to, MailType::Status, subject, "body")
}

fn subjects(list: &[MailMessage]) -> Vec<&str> {
    list.iter().map(|m| m.subject.as_str()).collect()
}

#[test]
fn send_stores_and_returns_the_whole_message() {
    let dir = tmp();
    let s = store(&dir);
    let mut m = NewMail::new(
        "lead-1",
        "builder-1",
        MailType::WorkerDone,
        "done",
        "all green",
    );
    m.priority = Priority::High;
    m.thread_id = Some("msg-root".into());
    m.payload = Some(r#"{"beadId":"t-1"}"#.into());
    let sent = s.send(&m, at(5)).unwrap();
    assert!(
        sent.id.starts_with("msg-") && sent.id.len() == 16,
        "{}",
        sent.id
    );
    assert_eq!(
        sent.audience,
        Audience::Agent,
        "protocol types default to agents"
    );
    assert!(!sent.read);
    assert_eq!(sent.created_at, at(5));
    assert_eq!(s.get(&sent.id).unwrap(), Some(sent.clone()));

    let semantic = s.send(&mail("a", "b", "q"), at(6)).unwrap();
    assert_eq!(semantic.audience, Audience::Both);
    let died = NewMail::new("watchdog", "lead-1", MailType::WorkerDied, "b1 died", "");
    assert_eq!(
        s.send(&died, at(7)).unwrap().mail_type,
        MailType::WorkerDied
    );
    assert_eq!(s.get("msg-nope").unwrap(), None);
}

#[test]
fn chosen_ids_are_kept_empty_ones_generated_and_duplicates_refused() {
    let dir = tmp();
    let s = store(&dir);
    let mut m = mail("a", "b", "s");
    m.id = Some("dispatch-1-b".into());
    assert_eq!(s.send(&m, at(0)).unwrap().id, "dispatch-1-b");
    let err = s.send(&m, at(1)).unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(msg) if msg.contains("dispatch-1-b")),
        "{err}"
    );
    m.id = Some(String::new());
    assert!(s.send(&m, at(2)).unwrap().id.starts_with("msg-"));
    assert_eq!(s.list(&MailFilter::default()).unwrap().len(), 2);
}

#[test]
fn claim_delivers_each_message_once_oldest_first_to_its_recipient_only() {
    let dir = tmp();
    let s = store(&dir);
    s.send(&mail("x", "b1", "second"), at(20)).unwrap();
    s.send(&mail("x", "b1", "first"), at(10)).unwrap();
    s.send(&mail("x", "b1", "third"), at(20)).unwrap(); // same instant: insertion order
    s.send(&mail("x", "b2", "other inbox"), at(15)).unwrap();
    assert_eq!(s.count_unread("b1").unwrap(), 3);
    assert_eq!(
        subjects(&s.peek_unread("b1").unwrap()),
        ["first", "second", "third"]
    );
    assert_eq!(s.count_unread("b1").unwrap(), 3, "peeking marks nothing");

    let claimed = s.claim_unread("b1", None).unwrap();
    assert_eq!(subjects(&claimed), ["first", "second", "third"]);
    assert!(claimed.iter().all(|m| m.read));
    assert!(s.claim_unread("b1", None).unwrap().is_empty());
    assert_eq!(s.count_unread("b1").unwrap(), 0);
    assert_eq!(s.count_unread("b2").unwrap(), 1);
    assert_eq!(s.count_unread("B1").unwrap(), 0, "addresses are exact");
}

#[test]
fn a_claim_for_one_audience_leaves_the_others_unread() {
    let dir = tmp();
    let s = store(&dir);
    for (subject, audience) in [
        ("for humans", Audience::Human),
        ("for agents", Audience::Agent),
        ("for all", Audience::Both),
    ] {
        let mut m = mail("x", "lead", subject);
        m.audience = Some(audience);
        s.send(&m, at(0)).unwrap();
    }
    let agents_only = s.claim_unread("lead", Some(Audience::Agent)).unwrap();
    assert_eq!(subjects(&agents_only), ["for agents"]);
    assert_eq!(
        subjects(&s.peek_unread("lead").unwrap()),
        ["for humans", "for all"]
    );
    assert!(
        s.claim_unread("lead", Some(Audience::Agent))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        subjects(&s.claim_unread("lead", None).unwrap()),
        ["for humans", "for all"]
    );
}

#[test]
fn list_filters_and_keeps_the_newest() {
    let dir = tmp();
    let s = store(&dir);
    for i in 0..5 {
        s.send(&mail("a", "b", &format!("a->b {i}")), at(i))
            .unwrap();
    }
    let mut to_a = mail("b", "a", "b->a");
    to_a.audience = Some(Audience::Human);
    let to_a = s.send(&to_a, at(10)).unwrap();
    s.mark_read(&to_a.id).unwrap();

    let all = s.list(&MailFilter::default()).unwrap();
    assert_eq!(
        subjects(&all),
        ["b->a", "a->b 4", "a->b 3", "a->b 2", "a->b 1", "a->b 0"]
    );
    let newest = s
        .list(&MailFilter {
            to: Some("b".into()),
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(subjects(&newest), ["a->b 4", "a->b 3"]);
    let from_b = s
        .list(&MailFilter {
            from: Some("b".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(subjects(&from_b), ["b->a"]);
    let read = s
        .list(&MailFilter {
            unread: Some(false),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(subjects(&read), ["b->a"]);
    let unread = s
        .list(&MailFilter {
            unread: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(unread.len(), 5);
    let human = s
        .list(&MailFilter {
            audience: Some(Audience::Human),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(subjects(&human), ["b->a"]);
    let none = s
        .list(&MailFilter {
            from: Some("a".into()),
            to: Some("a".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn a_thread_is_its_root_and_replies_oldest_first() {
    let dir = tmp();
    let s = store(&dir);
    let root = s.send(&mail("a", "b", "question"), at(0)).unwrap();
    let mut reply = mail("b", "a", "Re: question");
    reply.thread_id = Some(root.id.clone());
    s.send(&reply, at(5)).unwrap();
    s.send(&mail("a", "b", "unrelated"), at(3)).unwrap();
    let mut again = mail("a", "b", "Re: Re: question");
    again.thread_id = Some(root.id.clone());
    s.send(&again, at(9)).unwrap();
    assert_eq!(
        subjects(&s.thread(&root.id).unwrap()),
        ["question", "Re: question", "Re: Re: question"]
    );
}

#[test]
fn mark_read_says_whether_it_already_was() {
    let dir = tmp();
    let s = store(&dir);
    let m = s.send(&mail("a", "b", "s"), at(0)).unwrap();
    assert!(!s.mark_read(&m.id).unwrap());
    assert!(s.mark_read(&m.id).unwrap());
    assert!(s.get(&m.id).unwrap().unwrap().read);
    assert!(matches!(
        s.mark_read("msg-missing"),
        Err(StoreError::NotFound { what: "message", key }) if key == "msg-missing"
    ));
}

#[test]
fn purge_combines_age_and_agent_and_counts_what_it_deleted() {
    let dir = tmp();
    let s = store(&dir);
    s.send(&mail("a", "b", "old a->b"), at(0)).unwrap();
    s.send(&mail("c", "a", "old c->a"), at(1)).unwrap();
    s.send(&mail("c", "d", "old c->d"), at(2)).unwrap();
    s.send(&mail("a", "b", "new a->b"), at(100)).unwrap();
    assert_eq!(s.purge(&PurgeCriteria::default()).unwrap(), 0);
    let old_of_a = PurgeCriteria {
        older_than: Some(at(50)),
        agent: Some("a".into()),
        all: false,
    };
    assert_eq!(s.purge(&old_of_a).unwrap(), 2);
    assert_eq!(
        subjects(&s.list(&MailFilter::default()).unwrap()),
        ["new a->b", "old c->d"]
    );
    let old = PurgeCriteria {
        older_than: Some(at(50)),
        ..Default::default()
    };
    assert_eq!(s.purge(&old).unwrap(), 1);
    let everything = PurgeCriteria {
        all: true,
        agent: Some("nobody".into()),
        ..Default::default()
    };
    assert_eq!(s.purge(&everything).unwrap(), 1);
    assert!(s.list(&MailFilter::default()).unwrap().is_empty());
}

#[test]
fn delete_removes_exactly_one_message() {
    let dir = tmp();
    let s = store(&dir);
    let keep = s.send(&mail("a", "b", "keep"), at(0)).unwrap();
    let gone = s.send(&mail("a", "b", "gone"), at(1)).unwrap();
    assert!(s.delete(&gone.id).unwrap());
    assert!(!s.delete(&gone.id).unwrap(), "already deleted");
    assert!(s.get(&gone.id).unwrap().is_none());
    assert_eq!(s.get(&keep.id).unwrap().unwrap().subject, "keep");
}

#[test]
fn a_second_handle_sees_the_first_ones_writes() {
    let dir = tmp();
    let writer = store(&dir);
    let reader = store(&dir);
    writer.send(&mail("a", "b", "s"), at(0)).unwrap();
    assert_eq!(reader.count_unread("b").unwrap(), 1);
    assert_eq!(reader.claim_unread("b", None).unwrap().len(), 1);
    assert!(writer.claim_unread("b", None).unwrap().is_empty());
}
