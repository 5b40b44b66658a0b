//! The manual-review list as one use case: look at a message waiting for a person, send it again once its cause is
//! fixed, answer it by hand, or close it. The command line (`redflag-bridge jobs show|requeue|resolve|reply`) and
//! the operator console call the same functions, so both record the same audit entries and settle messages the
//! same way.
//!
//! Looking at a message is recorded too (`job.show`): it shows a person's text and number to whoever asks.

use crate::audit::AuditEntry;
use crate::queue::{BridgeStore, Job, QueueError, Reply, Settle, State};

/// A message as the person reviewing it sees it.
#[derive(Debug, Clone)]
pub struct Item {
    pub job: Job,
    /// Why it is where it is (the last provider error, "requeued by an operator", ...).
    pub reason: Option<String>,
    /// The states it went through, oldest first.
    pub events: Vec<State>,
}

/// What settling several messages did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Each settled message and its new state.
    pub moved: Vec<(i64, State)>,
    /// Ids that were not in review or failed (moved on meanwhile, or wrong), left as they were.
    pub skipped: Vec<i64>,
}

/// Message `id` with its reason and events, recorded as looked at by `actor`; `None` if there is no such message.
pub fn show(store: &dyn BridgeStore, actor: &str, id: i64, now_ms: i64) -> Result<Option<Item>, QueueError> {
    let Some((job, reason)) = store.job(id)? else {
        return Ok(None);
    };
    store.audit(now_ms, &AuditEntry::new(actor, "job.show").target(id.to_string()))?;
    let events = store.events(id)?;
    Ok(Some(Item { job, reason, events }))
}

/// Requeue or resolve each of `ids` that is in review or failed, each recorded with `note` (an operator's reason:
/// it is kept in the event and audit logs, so no personal data).
pub fn settle(
    store: &dyn BridgeStore,
    actor: &str,
    ids: &[i64],
    how: Settle,
    note: Option<&str>,
    now_ms: i64,
) -> Result<Settled, QueueError> {
    let (verb, action) = match how {
        Settle::Requeue => ("requeued", "job.requeue"),
        Settle::Resolve => ("resolved", "job.resolve"),
    };
    let reason = match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("{verb} by an operator: {n}"),
        None => format!("{verb} by an operator"),
    };
    let mut settled = Settled::default();
    for &id in ids {
        match store.settle(id, how, &reason, now_ms)? {
            Some(state) => {
                store.audit(now_ms, &AuditEntry::new(actor, action).target(id.to_string()).detail(&reason))?;
                settled.moved.push((id, state));
            }
            None => settled.skipped.push(id),
        }
    }
    Ok(settled)
}

/// Why [`reply`] refused.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply is empty; write what the person should read")]
    Empty,
    #[error("the reply is {0} characters; keep it under 4,000 (it is split into parts for the channel)")]
    TooLong(usize),
    #[error("message {0} is not in review or failed (it moved on, or does not exist), or has no address to reply to")]
    NotInReview(i64),
    #[error(transparent)]
    Store(#[from] QueueError),
}

/// Answer message `id` (in review or failed) with `text`, written by a person: it replaces the stored reply and is
/// sent like any reply, from its first part. Audited with the reply's length, not its words.
pub fn reply(store: &dyn BridgeStore, actor: &str, id: i64, text: &str, now_ms: i64) -> Result<usize, ReplyError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(ReplyError::Empty);
    }
    if chars > 4000 {
        return Err(ReplyError::TooLong(chars));
    }
    let Some((job, _)) = store.job(id)? else {
        return Err(ReplyError::NotInReview(id));
    };
    let parts = crate::reply::by_hand(text, crate::worker::style(job.channel));
    let count = parts.len();
    let reason = "replied by hand by an operator";
    if !store.reply_by_hand(id, &Reply { parts, template: false }, reason, now_ms)? {
        return Err(ReplyError::NotInReview(id));
    }
    let detail = format!("{chars} characters in {count} part(s)");
    store.audit(now_ms, &AuditEntry::new(actor, "job.reply").target(id.to_string()).detail(detail))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Audit, Channel, Coalesce, NewMessage, Outcome, Queue, SqliteQueue, Work};

    #[test]
    fn looking_and_settling_are_audited_and_unknown_ids_are_named() {
        let q = SqliteQueue::open_in_memory().expect("queue");
        let message = NewMessage {
            channel: Channel::Sms,
            dedupe_key: "twilio:SM1".into(),
            idempotency_key: None,
            user_key: "+14155550100".into(),
            reply_to: Some("+14155550100".into()),
            body: "Is this job real?".into(),
            media: false,
            media_url: None,
            now_ms: 0,
        };
        q.enqueue(&message).expect("enqueue");
        let coalesce = Coalesce { quiet_ms: 1000, max_wait_ms: 5000, max_messages: 10, max_send_claims: 5 };
        let Some(Work::Analyse(group)) = q.claim("w", 10_000, 30_000, coalesce).expect("claim") else {
            panic!("a group to analyse")
        };
        let id = group[0].id;
        q.finish("w", &[id], Outcome::Review, Some("permanent error 21211"), 10_001).expect("review");

        let item = show(&q, "cli:ops", id, 20_000).expect("show").expect("the message");
        assert_eq!(
            (item.job.body.as_str(), item.reason.as_deref()),
            ("Is this job real?", Some("permanent error 21211"))
        );
        assert_eq!(item.events, [State::Received, State::Analysing, State::Review]);
        assert!(show(&q, "cli:ops", 999, 20_000).expect("show").is_none());

        let settled =
            settle(&q, "cli:ops", &[id, 999], Settle::Resolve, Some(" wrong number "), 30_000).expect("settle");
        assert_eq!(settled, Settled { moved: vec![(id, State::Done)], skipped: vec![999] });
        let log = q.audit_log(10).expect("audit");
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["job.resolve", "job.show"], "newest first; nothing for the unknown ids");
        assert_eq!(log[0].detail.as_deref(), Some("resolved by an operator: wrong number"));
    }
}
