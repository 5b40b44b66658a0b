//! The store's trait-level suite: the same cases against SQLite and against PostgreSQL (a throw-away cluster,
//! `common/postgres.rs`), so the two implementations of [`BridgeStore`] cannot drift apart. Times are passed in,
//! as the traits take them. Cases that only one engine can have (a file shared with the core's store, several nodes
//! on one server) live beside their implementation or in `multinode.rs`.

mod common;

use redflag_bridge::audit::AuditEntry;
use redflag_bridge::queue::{
    BridgeStore, Channel, Coalesce, Enqueued, Job, MAX_ANALYSIS_ATTEMPTS, NewMessage, Outcome, PgQueue, QueueError,
    Quota, Reply, Settle, SqliteQueue, State, Work,
};

const C: Coalesce = Coalesce { quiet_ms: 1000, max_wait_ms: 5000, max_messages: 10, max_send_claims: 5 };
const LEASE: i64 = 30_000;

fn msg(sid: &str, user: &str, body: &str, now_ms: i64) -> NewMessage {
    NewMessage {
        channel: Channel::WhatsApp,
        dedupe_key: sid.into(),
        idempotency_key: None,
        user_key: user.into(),
        reply_to: Some(user.into()),
        body: body.into(),
        media: false,
        media_url: None,
        now_ms,
    }
}

fn analyse(work: Option<Work>) -> Vec<Job> {
    match work {
        Some(Work::Analyse(jobs)) => jobs,
        other => panic!("expected a group to analyse, got {other:?}"),
    }
}

/// Every case, run once per engine by [`suite!`].
mod cases {
    use super::*;

    pub fn duplicates_are_written_once(q: &dyn BridgeStore) {
        assert!(matches!(q.enqueue(&msg("SM1", "u1", "hi", 0)).expect("enqueue"), Enqueued::New(_)));
        assert_eq!(q.enqueue(&msg("SM1", "u1", "hi", 5)).expect("enqueue"), Enqueued::Duplicate);
        // The idempotency token alone also identifies a retried event.
        let mut a = msg("SM2", "u1", "x", 0);
        a.idempotency_key = Some("tok".into());
        let mut b = msg("SM3", "u1", "x", 0);
        b.idempotency_key = Some("tok".into());
        assert!(matches!(q.enqueue(&a).expect("enqueue"), Enqueued::New(_)));
        assert_eq!(q.enqueue(&b).expect("enqueue"), Enqueued::Duplicate);
        assert_eq!(q.depth(0).expect("depth").pending, 2);
    }

    pub fn a_burst_is_claimed_together_once_the_sender_is_quiet(q: &dyn BridgeStore) {
        q.enqueue(&msg("a1", "alice", "part one", 0)).expect("enqueue");
        q.enqueue(&msg("a2", "alice", "part two", 400)).expect("enqueue");
        q.enqueue(&msg("b1", "bob", "bob's", 100)).expect("enqueue");
        // 1,300 ms: Bob has been quiet for 1.2 s, Alice only for 0.9 s.
        let bob = analyse(q.claim("w", 1300, LEASE, C).expect("claim"));
        assert_eq!(bob.iter().map(|j| j.body.as_str()).collect::<Vec<_>>(), ["bob's"]);
        assert!(q.claim("w", 1300, LEASE, C).expect("claim").is_none(), "alice is still typing");
        let alice = analyse(q.claim("w", 1400, LEASE, C).expect("claim"));
        assert_eq!(alice.iter().map(|j| j.body.as_str()).collect::<Vec<_>>(), ["part one", "part two"]);
    }

    pub fn a_chatty_sender_is_answered_after_the_longest_wait(q: &dyn BridgeStore) {
        for i in 0..12 {
            q.enqueue(&msg(&format!("s{i}"), "chatty", "more", i * 500)).expect("enqueue");
        }
        // Never quiet for a second, but the oldest has waited 5 s at t=5000.
        assert!(q.claim("w", 4999, LEASE, C).expect("claim").is_none());
        let group = analyse(q.claim("w", 5000, LEASE, C).expect("claim"));
        assert_eq!(group.len(), 10, "at most max_messages in one group");
    }

    pub fn a_crashed_analysis_comes_back_after_its_lease(q: &dyn BridgeStore) {
        q.enqueue(&msg("m", "u", "text", 0)).expect("enqueue");
        let first = analyse(q.claim("dead", 2000, LEASE, C).expect("claim"));
        assert!(q.claim("live", 2000 + LEASE - 1, LEASE, C).expect("claim").is_none(), "leased");
        let again = analyse(q.claim("live", 2000 + LEASE + 1, LEASE, C).expect("claim"));
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].attempts, 2);
        // The dead worker cannot write over the new owner's work.
        let reply = Reply { parts: vec!["x".into()], template: false };
        let err = q.store_reply("dead", &[first[0].id], &reply, 40_000, 40_000 + LEASE);
        assert!(matches!(err, Err(QueueError::LostLease(_))), "{err:?}");
    }

    pub fn a_poison_message_goes_to_review(q: &dyn BridgeStore) {
        q.enqueue(&msg("m", "u", "text", 0)).expect("enqueue");
        let mut now = 2000;
        for _ in 0..MAX_ANALYSIS_ATTEMPTS {
            analyse(q.claim("w", now, LEASE, C).expect("claim"));
            now += LEASE + 1;
        }
        assert!(q.claim("w", now, LEASE, C).expect("claim").is_none());
        assert_eq!(q.depth(now).expect("depth").review, 1);
    }

    pub fn the_reply_lives_on_the_leader_and_is_resent_only_from_the_unsent_part(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        q.enqueue(&msg("m2", "u", "two", 10)).expect("enqueue");
        let group = analyse(q.claim("w1", 2000, LEASE, C).expect("claim"));
        let ids: Vec<i64> = group.iter().map(|j| j.id).collect();
        let reply = Reply { parts: vec!["p1".into(), "p2".into()], template: false };
        q.store_reply("w1", &ids, &reply, 2100, 2100 + LEASE).expect("store");
        assert!(
            q.claim("w2", 2000 + LEASE + 1, LEASE, C).expect("claim").is_none(),
            "storing the reply renewed the lease"
        );
        q.part_sent("w1", ids[0], 0, "SM-out-1", 2200).expect("part");
        // w1 dies here. After the lease, the job is sent by someone else from part 2.
        let Some(Work::Send(job)) = q.claim("w2", 2100 + LEASE + 1, LEASE, C).expect("claim") else {
            panic!("expected the stored reply to be claimed for sending")
        };
        assert_eq!(job.id, ids[0]);
        assert_eq!(job.sent_parts, 1);
        assert_eq!(job.reply.as_ref(), Some(&reply));
        q.part_sent("w2", job.id, 1, "SM-out-2", 33_000).expect("part");
        q.finish("w2", &[job.id], Outcome::Done, None, 33_001).expect("finish");
        assert_eq!(
            q.events(ids[0]).expect("events"),
            [State::Received, State::Analysing, State::Replying, State::Done]
        );
        assert_eq!(q.events(ids[1]).expect("events"), [State::Received, State::Analysing, State::Done]);
        assert_eq!(q.depth(40_000).expect("depth").pending, 0);
    }

    pub fn retries_wait_and_release_frees_everything(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        let group = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        let reply = Reply { parts: vec!["p".into()], template: false };
        q.store_reply("w", &[group[0].id], &reply, 2000, 2000 + LEASE).expect("store");
        q.retry_at("w", group[0].id, 9000, "twilio 20429", 2001).expect("retry");
        assert!(q.claim("w", 8999, LEASE, C).expect("claim").is_none(), "not due yet");
        assert!(matches!(q.claim("w", 9000, LEASE, C).expect("claim"), Some(Work::Send(_))));
        q.enqueue(&msg("m2", "v", "two", 9000)).expect("enqueue");
        analyse(q.claim("w", 11_000, LEASE, C).expect("claim"));
        assert_eq!(q.release("w", 11_001).expect("release"), 2);
        assert!(q.claim("x", 11_002, LEASE, C).expect("claim").is_some(), "released work is claimable at once");
    }

    /// Sending paused (the provider refused the credentials): however often a send is put off, its attempts
    /// stay as they were and the pause is one event, not one per try.
    pub fn postponed_sends_keep_their_attempts(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        let group = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        let id = group[0].id;
        let reply = Reply { parts: vec!["p".into()], template: false };
        q.store_reply("w", &[id], &reply, 2000, 2000 + LEASE).expect("store");
        let mut now = 3000;
        for _ in 0..20 {
            q.postpone("w", id, now + 100, "sending paused", now).expect("postpone");
            assert!(q.claim("w", now + 99, LEASE, C).expect("claim").is_none(), "not before the pause ends");
            now += 100;
            let Some(Work::Send(job)) = q.claim("w", now, LEASE, C).expect("claim") else { panic!("due again") };
            assert_eq!(job.attempts, 1, "the claim counts one attempt; postponing gives it back");
        }
        let events = q.events(id).expect("events");
        assert_eq!(events.iter().filter(|s| **s == State::Replying).count(), 2, "stored, then paused: {events:?}");
        q.finish("w", &[id], Outcome::Done, None, now).expect("finish");
    }

    /// An operator's requeue sends a stored reply again (attempts start over) or analyses a message without one
    /// again; resolving closes it and forgets its text; neither touches a message that is not in review or failed.
    pub fn review_items_are_requeued_or_resolved(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        q.enqueue(&msg("m2", "v", "two", 0)).expect("enqueue");
        let first = analyse(q.claim("w", 2000, LEASE, C).expect("claim"))[0].id;
        let reply = Reply { parts: vec!["p".into()], template: false };
        q.store_reply("w", &[first], &reply, 2000, 2000 + LEASE).expect("store");
        q.finish("w", &[first], Outcome::Review, Some("permanent error 21610"), 2001).expect("review");
        let second = analyse(q.claim("w", 2002, LEASE, C).expect("claim"))[0].id;
        q.finish("w", &[second], Outcome::Review, Some("cannot be replied to"), 2003).expect("review");
        assert_eq!(q.settle(999, Settle::Requeue, "op", 3000).expect("settle"), None, "no such job");

        assert_eq!(q.settle(first, Settle::Requeue, "requeued", 3000).expect("settle"), Some(State::Replying));
        let Some(Work::Send(job)) = q.claim("w", 3000, LEASE, C).expect("claim") else { panic!("sent again") };
        assert_eq!((job.id, job.attempts, job.reply.as_ref()), (first, 1, Some(&reply)));
        assert_eq!(q.settle(first, Settle::Resolve, "op", 3001).expect("settle"), None, "not in review any more");
        q.finish("w", &[first], Outcome::Done, None, 3002).expect("finish");

        assert_eq!(q.settle(second, Settle::Requeue, "requeued", 4000).expect("settle"), Some(State::Received));
        let again = analyse(q.claim("w", 4000 + 10_000, LEASE, C).expect("claim"));
        assert_eq!(again[0].id, second, "analysed again");
        q.finish("w", &[second], Outcome::Review, Some("cannot be replied to"), 14_001).expect("review");
        assert_eq!(q.settle(second, Settle::Resolve, "resolved", 14_002).expect("settle"), Some(State::Done));
        assert!(q.jobs(Some(State::Review), 10).expect("jobs").is_empty());
        assert_eq!(q.events(second).expect("events").last(), Some(&State::Done));
    }

    pub fn an_operators_reply_replaces_the_stored_one_and_is_sent_from_its_first_part(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        let first = analyse(q.claim("w", 2000, LEASE, C).expect("claim"))[0].id;
        let stored = Reply { parts: vec!["a".into(), "b".into()], template: false };
        q.store_reply("w", &[first], &stored, 2000, 2000 + LEASE).expect("store");
        q.part_sent("w", first, 0, "SM-a", 2001).expect("sent");
        q.finish("w", &[first], Outcome::Review, Some("permanent error 21610"), 2002).expect("review");

        let mine = Reply { parts: vec!["written by a person".into()], template: false };
        assert!(!q.reply_by_hand(999, &mine, "by hand", 3000).expect("reply"), "no such job");
        assert!(q.reply_by_hand(first, &mine, "by hand", 3000).expect("reply"));
        let Some(Work::Send(job)) = q.claim("w", 3000, LEASE, C).expect("claim") else { panic!("to send") };
        assert_eq!((job.id, job.sent_parts, job.reply.as_ref()), (first, 0, Some(&mine)), "from its first part");
        assert!(!q.reply_by_hand(first, &mine, "by hand", 3001).expect("reply"), "not in review any more");
        assert_eq!(q.events(first).expect("events").last(), Some(&State::Replying));
    }

    pub fn daily_quota_tells_once_then_resets_the_next_day(q: &dyn BridgeStore) {
        // 2025-11-25 23:59:00 UTC, then one minute later.
        let (late, next) = (1_764_115_140_000, 1_764_115_200_000);
        let count = |now| q.count_analysis("u", now, 2).expect("count");
        assert_eq!([count(late), count(late)], [Quota::Allowed, Quota::Allowed]);
        assert_eq!(count(late), Quota::JustExceeded);
        assert_eq!(count(late), Quota::Exceeded);
        assert_eq!(count(next), Quota::Allowed, "a new UTC day starts a new count");
    }

    pub fn forget_erases_the_user_but_keeps_the_confirmation(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "secret text", 0)).expect("enqueue");
        q.enqueue(&msg("m2", "other", "other text", 0)).expect("enqueue");
        let Enqueued::New(cmd) = q.enqueue(&msg("m3", "u", "delete my data", 5000)).expect("enqueue") else {
            panic!("new")
        };
        assert!(q.forget("u", Some(cmd)).expect("forget") >= 3);
        assert_eq!(q.jobs(None, 10).expect("jobs").len(), 2, "the other user's job and the confirmation remain");
        assert_eq!(q.last_inbound_ms("u").expect("read"), None);
        assert_eq!(q.last_inbound_ms("other").expect("read"), Some(0));
    }

    /// Issue #20, finding 5: an erased message leaves a tombstone, so its webhook replayed later is a duplicate;
    /// the quota lives under the pseudonym and "delete my data" leaves it counting.
    pub fn an_erased_message_stays_a_duplicate_and_the_quota_stays_counted(q: &dyn BridgeStore) {
        let mut api = msg("api:1", "u", "via the API", 0);
        api.idempotency_key = Some("client-key-1".into());
        q.enqueue(&msg("twilio:SM1", "u", "secret text", 0)).expect("enqueue");
        q.enqueue(&api).expect("enqueue");
        assert_eq!(q.count_analysis("p:u", 0, 1).expect("count"), Quota::Allowed);
        q.forget("u", None).expect("forget");
        assert!(q.jobs(None, 10).expect("jobs").is_empty());
        assert_eq!(q.enqueue(&msg("twilio:SM1", "u", "secret text", 9000)).expect("replay"), Enqueued::Duplicate);
        let mut again = msg("api:2", "u", "via the API", 9000);
        again.idempotency_key = Some("client-key-1".into());
        assert_eq!(q.enqueue(&again).expect("replay"), Enqueued::Duplicate, "by its idempotency key too");
        assert!(matches!(q.enqueue(&msg("twilio:SM2", "u", "new", 9000)).expect("enqueue"), Enqueued::New(_)));
        assert_eq!(q.count_analysis("p:u", 9000, 1).expect("count"), Quota::JustExceeded, "the erasure kept the count");
    }

    /// Purging a finished message leaves its tombstone too; the tombstones themselves go after a year.
    pub fn a_purged_message_stays_a_duplicate_for_a_year(q: &dyn BridgeStore) {
        q.enqueue(&msg("twilio:SM1", "u", "one", 0)).expect("enqueue");
        let a = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        q.finish("w", &[a[0].id], Outcome::Done, None, 3000).expect("finish");
        assert_eq!(q.purge_finished(3001, 0).expect("purge"), 1);
        assert_eq!(q.enqueue(&msg("twilio:SM1", "u", "one", 4000)).expect("replay"), Enqueued::Duplicate);
        let year = redflag_bridge::queue::TOMBSTONE_RETENTION_MS;
        q.purge_finished(3001 + year, 0).expect("purge");
        assert!(matches!(q.enqueue(&msg("twilio:SM1", "u", "one", 4000 + year)).expect("enqueue"), Enqueued::New(_)));
    }

    pub fn the_audit_log_lists_newest_first(q: &dyn BridgeStore) {
        q.audit(1000, &AuditEntry::new("cli:ops", "key.create").target("partner")).expect("append");
        q.audit(2000, &AuditEntry::new("sender", "user.erase").target("p:1").detail("3 records")).expect("append");
        let log = q.audit_log(10).expect("read");
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].at, log[0].actor.as_str(), log[0].action.as_str()), (2000, "sender", "user.erase"));
        assert_eq!((log[0].target.as_deref(), log[0].detail.as_deref()), (Some("p:1"), Some("3 records")));
        assert_eq!((log[1].target.as_deref(), log[1].detail.as_deref()), (Some("partner"), None));
        assert_eq!(q.audit_log(1).expect("read").len(), 1);
    }

    pub fn what_is_kept_about_a_sender_is_theirs_alone(q: &dyn BridgeStore) {
        // 2025-11-25 12:00 UTC, and the next day.
        let (now, tomorrow) = (1_764_072_000_000, 1_764_158_400_000);
        q.enqueue(&msg("m1", "u", "first", now)).expect("enqueue");
        q.enqueue(&msg("m2", "other", "not theirs", now)).expect("enqueue");
        q.enqueue(&msg("m3", "u", "second", now + 5)).expect("enqueue");
        q.count_analysis("p:u", now, 5).expect("count");
        let kept = q.kept_about("u", "p:u", now).expect("read");
        let texts: Vec<&str> = kept.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"], "oldest first, nobody else's");
        assert_eq!((kept.last_inbound_ms, kept.analyses_today), (Some(now + 5), 1));
        assert_eq!(q.kept_about("u", "p:u", tomorrow).expect("read").analyses_today, 0, "a new day");
        let nobody = q.kept_about("nobody", "p:nobody", now).expect("read");
        assert!(nobody.messages.is_empty() && nobody.last_inbound_ms.is_none() && nobody.analyses_today == 0);
    }

    pub fn the_privacy_notice_is_due_once_per_sender_for_a_year(q: &dyn BridgeStore) {
        assert!(q.first_notice("p:a", 1000).expect("notice"), "first contact");
        assert!(!q.first_notice("p:a", 2000).expect("notice"), "told already");
        assert!(q.first_notice("p:b", 2000).expect("notice"), "another sender");
        let year = redflag_bridge::queue::TOMBSTONE_RETENTION_MS;
        q.purge_finished(1001 + year, 0).expect("purge");
        assert!(q.first_notice("p:a", 2000 + year).expect("notice"), "back after a year: told again");
    }

    pub fn a_stored_secret_is_generated_once(q: &dyn BridgeStore) {
        assert_eq!(q.secret("k").expect("read"), None);
        assert_eq!(q.stored_secret("k", "first").expect("store"), "first");
        assert_eq!(q.stored_secret("k", "second").expect("read"), "first", "every node gets the first one");
        assert_eq!(q.secret("k").expect("read").as_deref(), Some("first"));
    }

    pub fn delivery_statuses_only_move_forward(q: &dyn BridgeStore) {
        assert!(q.delivery_status("SM1", "delivered", 4, None, 1).expect("status"));
        assert!(!q.delivery_status("SM1", "sent", 3, None, 2).expect("status"), "out-of-order callback ignored");
        assert!(q.delivery_status("SM1", "read", 5, None, 3).expect("status"));
    }

    pub fn api_keys_are_checked_by_hash_and_revocable(q: &dyn BridgeStore) {
        q.add_key("partner", "hash1", 0).expect("add");
        assert_eq!(q.check_key("hash1").expect("check").as_deref(), Some("partner"));
        assert_eq!(q.check_key("hash2").expect("check"), None);
        assert_eq!(q.revoke_key("partner", 1).expect("revoke"), 1);
        assert_eq!(q.check_key("hash1").expect("check"), None);
    }

    pub fn console_accounts_lock_and_sessions_expire(q: &dyn BridgeStore) {
        assert!(q.add_admin("alice", "operator", "h1", 0).expect("add"));
        assert!(!q.add_admin("alice", "viewer", "h2", 0).expect("add"), "the name is taken");
        assert_eq!(q.login_failed("alice", 3, 100).expect("failed"), 1);
        assert_eq!(q.login_failed("alice", 3, 100).expect("failed"), 2);
        assert_eq!(q.admin("alice").expect("admin").expect("alice").locked_until_ms, None);
        assert_eq!(q.login_failed("alice", 3, 100).expect("failed"), 3);
        let locked = q.admin("alice").expect("admin").expect("alice");
        assert_eq!((locked.failed_logins, locked.locked_until_ms), (3, Some(100)));
        assert_eq!(q.login_failed("nobody", 3, 100).expect("failed"), 0, "an unknown name counts nothing");
        q.login_succeeded("alice").expect("ok");
        assert_eq!(q.admin("alice").expect("admin").expect("alice").failed_logins, 0);

        q.open_session("t1", "alice", "csrf1", 10, 1_000).expect("open");
        let s = q.session("t1", 500).expect("session").expect("live");
        assert_eq!((s.admin.as_str(), s.role.as_str(), s.csrf.as_str()), ("alice", "operator", "csrf1"));
        assert_eq!(q.session("t1", 1_000).expect("session"), None, "expired");
        q.open_session("t2", "alice", "csrf2", 2_000, 3_000).expect("open");
        assert_eq!(q.session("t1", 0).expect("session"), None, "an expired session is forgotten at the next login");
        assert!(q.reset_admin("alice", "h3").expect("reset"));
        assert_eq!(q.session("t2", 2_500).expect("session"), None, "a reset ends the sessions");
        assert_eq!(q.admin("alice").expect("admin").expect("alice").secret_hash, "h3");
        q.open_session("t3", "alice", "csrf3", 2_000, 3_000).expect("open");
        q.close_session("t3").expect("close");
        assert_eq!(q.session("t3", 2_500).expect("session"), None);
        q.open_session("t4", "alice", "csrf4", 2_000, 3_000).expect("open");
        assert!(q.remove_admin("alice").expect("remove"));
        assert_eq!(q.session("t4", 2_500).expect("session"), None, "a removed account's sessions end");
        assert!(!q.remove_admin("alice").expect("remove"));
        assert!(q.admins().expect("admins").is_empty());
    }

    pub fn received_messages_are_counted_by_hour(q: &dyn BridgeStore) {
        const HOUR: i64 = 3_600_000;
        for (i, at) in [HOUR + 5, HOUR + 10, 3 * HOUR + 1, 0].into_iter().enumerate() {
            q.enqueue(&msg(&format!("SM{i}"), &format!("whatsapp:+1415555010{i}"), "hi", at)).expect("enqueue");
        }
        assert_eq!(q.received_per_hour(HOUR).expect("hours"), [(HOUR, 2), (3 * HOUR, 1)]);
    }

    pub fn finished_messages_are_purged_after_their_retention(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        q.enqueue(&msg("m2", "v", "two", 0)).expect("enqueue");
        let a = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        q.finish("w", &[a[0].id], Outcome::Done, None, 3000).expect("finish");
        let b = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        q.finish("w", &[b[0].id], Outcome::Review, Some("21610"), 3000).expect("finish");
        assert_eq!(q.last_inbound_ms("u").expect("last"), Some(0));
        assert_eq!(q.purge_finished(2999, 0).expect("purge"), 0, "not old enough");
        assert_eq!(q.purge_finished(3001, 0).expect("purge"), 1, "done is purged, review is kept longer");
        assert_eq!(q.events(a[0].id).expect("events"), []);
        assert_eq!(q.jobs(None, 10).expect("jobs").len(), 1);
        assert_eq!(q.last_inbound_ms("u").expect("last"), None, "the last-message time goes with its retention");
        // A message left in review goes after its own, longer retention, and stays a duplicate.
        assert_eq!(q.purge_finished(3001, 3001).expect("purge"), 1, "review purged in its turn");
        assert!(q.jobs(None, 10).expect("jobs").is_empty());
        assert_eq!(q.enqueue(&msg("m2", "v", "two", 4000)).expect("replay"), Enqueued::Duplicate);
    }

    pub fn a_sender_has_one_group_in_analysis_at_a_time(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "posting", 0)).expect("enqueue");
        analyse(q.claim("w1", 2000, LEASE, C).expect("claim"));
        q.enqueue(&msg("m2", "u", "delete my data", 2500)).expect("enqueue");
        assert!(q.claim("w2", 5000, LEASE, C).expect("claim").is_none(), "waits for the first group");
    }

    pub fn renew_refuses_a_worker_that_lost_its_lease(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        let group = analyse(q.claim("w1", 2000, LEASE, C).expect("claim"));
        let reply = Reply { parts: vec!["p".into()], template: false };
        q.store_reply("w1", &[group[0].id], &reply, 2000, 2000 + LEASE).expect("store");
        q.renew("w1", group[0].id, 60_000).expect("still mine");
        assert!(q.claim("w2", 2000 + LEASE + 1, LEASE, C).expect("claim").is_none(), "renewed");
        assert!(matches!(q.claim("w2", 60_001, LEASE, C).expect("claim"), Some(Work::Send(_))));
        assert!(matches!(q.renew("w1", group[0].id, 90_000), Err(QueueError::LostLease(_))));
    }

    pub fn a_reply_whose_worker_keeps_dying_is_given_up(q: &dyn BridgeStore) {
        q.enqueue(&msg("m1", "u", "one", 0)).expect("enqueue");
        let group = analyse(q.claim("w", 2000, LEASE, C).expect("claim"));
        let reply = Reply { parts: vec!["p".into()], template: false };
        q.store_reply("w", &[group[0].id], &reply, 2000, 2000 + LEASE).expect("store");
        let mut now = 2000 + LEASE + 1;
        while let Some(Work::Send(_)) = q.claim("dies", now, LEASE, C).expect("claim") {
            now += LEASE + 1;
        }
        assert_eq!(q.jobs(Some(State::Failed), 10).expect("jobs").len(), 1);
        assert_eq!(q.jobs(None, 10).expect("jobs")[0].attempts, C.max_send_claims);
    }
}

/// One `#[test]` per case for an engine, on a fresh store from `$open`.
macro_rules! suite {
    ($engine:ident, $open:expr) => {
        mod $engine {
            use super::*;

            fn open() -> Box<dyn BridgeStore> {
                $open
            }

            #[test]
            fn duplicates_are_written_once() {
                cases::duplicates_are_written_once(&*open());
            }

            #[test]
            fn a_burst_is_claimed_together_once_the_sender_is_quiet() {
                cases::a_burst_is_claimed_together_once_the_sender_is_quiet(&*open());
            }

            #[test]
            fn a_chatty_sender_is_answered_after_the_longest_wait() {
                cases::a_chatty_sender_is_answered_after_the_longest_wait(&*open());
            }

            #[test]
            fn a_crashed_analysis_comes_back_after_its_lease() {
                cases::a_crashed_analysis_comes_back_after_its_lease(&*open());
            }

            #[test]
            fn a_poison_message_goes_to_review() {
                cases::a_poison_message_goes_to_review(&*open());
            }

            #[test]
            fn the_reply_lives_on_the_leader_and_is_resent_only_from_the_unsent_part() {
                cases::the_reply_lives_on_the_leader_and_is_resent_only_from_the_unsent_part(&*open());
            }

            #[test]
            fn retries_wait_and_release_frees_everything() {
                cases::retries_wait_and_release_frees_everything(&*open());
            }

            #[test]
            fn an_operators_reply_replaces_the_stored_one_and_is_sent_from_its_first_part() {
                cases::an_operators_reply_replaces_the_stored_one_and_is_sent_from_its_first_part(&*open());
            }

            #[test]
            fn daily_quota_tells_once_then_resets_the_next_day() {
                cases::daily_quota_tells_once_then_resets_the_next_day(&*open());
            }

            #[test]
            fn forget_erases_the_user_but_keeps_the_confirmation() {
                cases::forget_erases_the_user_but_keeps_the_confirmation(&*open());
            }

            #[test]
            fn an_erased_message_stays_a_duplicate_and_the_quota_stays_counted() {
                cases::an_erased_message_stays_a_duplicate_and_the_quota_stays_counted(&*open());
            }

            #[test]
            fn a_purged_message_stays_a_duplicate_for_a_year() {
                cases::a_purged_message_stays_a_duplicate_for_a_year(&*open());
            }

            #[test]
            fn the_audit_log_lists_newest_first() {
                cases::the_audit_log_lists_newest_first(&*open());
            }

            #[test]
            fn what_is_kept_about_a_sender_is_theirs_alone() {
                cases::what_is_kept_about_a_sender_is_theirs_alone(&*open());
            }

            #[test]
            fn review_items_are_requeued_or_resolved() {
                cases::review_items_are_requeued_or_resolved(&*open());
            }

            #[test]
            fn postponed_sends_keep_their_attempts() {
                cases::postponed_sends_keep_their_attempts(&*open());
            }

            #[test]
            fn the_privacy_notice_is_due_once_per_sender_for_a_year() {
                cases::the_privacy_notice_is_due_once_per_sender_for_a_year(&*open());
            }

            #[test]
            fn a_stored_secret_is_generated_once() {
                cases::a_stored_secret_is_generated_once(&*open());
            }

            #[test]
            fn delivery_statuses_only_move_forward() {
                cases::delivery_statuses_only_move_forward(&*open());
            }

            #[test]
            fn api_keys_are_checked_by_hash_and_revocable() {
                cases::api_keys_are_checked_by_hash_and_revocable(&*open());
            }

            #[test]
            fn console_accounts_lock_and_sessions_expire() {
                cases::console_accounts_lock_and_sessions_expire(&*open());
            }

            #[test]
            fn received_messages_are_counted_by_hour() {
                cases::received_messages_are_counted_by_hour(&*open());
            }

            #[test]
            fn finished_messages_are_purged_after_their_retention() {
                cases::finished_messages_are_purged_after_their_retention(&*open());
            }

            #[test]
            fn a_sender_has_one_group_in_analysis_at_a_time() {
                cases::a_sender_has_one_group_in_analysis_at_a_time(&*open());
            }

            #[test]
            fn renew_refuses_a_worker_that_lost_its_lease() {
                cases::renew_refuses_a_worker_that_lost_its_lease(&*open());
            }

            #[test]
            fn a_reply_whose_worker_keeps_dying_is_given_up() {
                cases::a_reply_whose_worker_keeps_dying_is_given_up(&*open());
            }
        }
    };
}

suite!(sqlite, Box::new(SqliteQueue::open_in_memory().expect("an in-memory queue")));
suite!(postgres, Box::new(PgQueue::connect(&common::postgres::fresh_database()).expect("a PostgreSQL queue")));
