//! `redflag-bridge migrate-store --to postgres://…` (issue #19): a one-node bridge's SQLite data moves to
//! PostgreSQL, ids and all, and the bridge then runs on it; a second run is refused without writing anything.

mod common;

use std::process::Command;

use redflag::store::pg::PgStore;
use redflag::store::{
    Caps, HistoryQuery, HistoryStore, NewHistory, Owner, Reserve, SpendLedger, SqliteStore, VerdictCache,
};
use redflag::sync::indicators::IndicatorKind;
use redflag_bridge::hub::{Hub, PgHub, Source, SqliteHub};
use redflag_bridge::queue::{
    Admins, ApiKeys, Channel, Coalesce, Enqueued, NewMessage, Outcome, PgQueue, Queue, Quota, Reply, SqliteQueue,
    State, Users, Work,
};

const C: Coalesce = Coalesce { quiet_ms: 0, max_wait_ms: 0, max_messages: 10, max_send_claims: 5 };

fn msg(sid: &str, user: &str, now_ms: i64) -> NewMessage {
    NewMessage {
        channel: Channel::WhatsApp,
        dedupe_key: sid.into(),
        idempotency_key: Some(format!("idem-{sid}")),
        user_key: user.into(),
        reply_to: Some(user.into()),
        body: format!("text of {sid}"),
        media: false,
        media_url: None,
        now_ms,
    }
}

fn migrate(db: &std::path::Path, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .args(["migrate-store", "--to", url])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", db.parent().expect("a directory"))
        .env("REDFLAG_DB", db)
        .output()
        .expect("run redflag-bridge")
}

#[test]
fn a_sqlite_bridge_moves_to_postgres_and_runs_there() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("redflag.db");
    // A bridge's life on one node: a message answered, one waiting, one in review, a key, a quota, checks, spend.
    {
        let q = SqliteQueue::open(&db).expect("sqlite queue");
        q.enqueue(&msg("SM1", "whatsapp:+1555", 1_000)).expect("enqueue");
        let Some(Work::Analyse(group)) = q.claim("w", 5_000, 60_000, C).expect("claim") else { panic!("a group") };
        q.store_reply("w", &[group[0].id], &Reply { parts: vec!["verdict".into()], template: false }, 5_000, 65_000)
            .expect("reply");
        q.part_sent("w", group[0].id, 0, "SMout1", 5_100).expect("sent");
        q.finish("w", &[group[0].id], Outcome::Done, None, 5_200).expect("finish");
        q.enqueue(&msg("SM2", "whatsapp:+1666", 6_000)).expect("enqueue");
        q.count_analysis("whatsapp:+1555", 5_000, 1).expect("count");
        q.add_key("partner", "hash-of-key", 1).expect("key");
        q.add_admin("alice", "operator", "hash-of-password", 1).expect("admin");
        let hub = SqliteHub::on(std::sync::Arc::clone(q.db())).expect("hub");
        hub.add_device("laptop", "hash-of-token", 1).expect("device");
        hub.observe(IndicatorKind::Phone, "+14155550147", Source::Operator, 1).expect("indicator");
        q.open_session("hash-of-token", "alice", "csrf", 1, i64::MAX).expect("session");
        let core = SqliteStore::on(std::sync::Arc::clone(q.db())).expect("core");
        let a: redflag::Analysis = serde_json::from_value(serde_json::json!({
            "label": "scam", "score": 0.9, "summary": "s", "flags": [], "tiers": ["rules"], "tier_scores": {"rules": 0.9},
            "escalation": {"recommended": false, "reason": "confident"},
            "versions": {"core": "t", "rules": "t"}, "timing": {"normalize_us": 1, "rules_us": 1, "total_us": 1},
        }))
        .expect("analysis");
        core.history_add(&NewHistory {
            created_at: 7,
            channel: "whatsapp",
            user_id: Some("whatsapp:+1555"),
            input_hash: "h",
            redacted_text: "Pay the fee to [PHONE]",
            indicators: &[],
            analysis: &a,
            cost_usd: 0.01,
        })
        .expect("history");
        core.spend_reserve(Some("whatsapp:+1555"), "gpt", 0.25, &Caps::default(), 1_705_320_000).expect("spend");
        core.cache_put("scope", "key", u64::MAX, "{}", 8).expect("cache");
    }

    let url = common::postgres::fresh_database();
    let out = migrate(&db, &url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("bridge_jobs\t2") && stdout.contains("history\t1"), "counts per table: {stdout}");

    let pg = PgQueue::connect(&url).expect("postgres queue");
    let jobs = pg.jobs(None, 10).expect("jobs");
    assert_eq!(jobs.iter().map(|j| (j.id, j.state)).collect::<Vec<_>>(), [(2, State::Received), (1, State::Done)]);
    assert_eq!(pg.events(1).expect("events"), [State::Received, State::Analysing, State::Replying, State::Done]);
    assert_eq!(pg.check_key("hash-of-key").expect("key").as_deref(), Some("partner"));
    let hub = PgHub::on(std::sync::Arc::clone(pg.pg()));
    assert_eq!(hub.device("hash-of-token", 2).expect("device").as_deref(), Some("laptop"), "the paired device moved");
    let moved = hub.changes(0, 10).expect("feed");
    assert_eq!(moved.adds.len(), 1, "the indicator moved");
    hub.observe(IndicatorKind::Phone, "+14155550148", Source::Operator, 2).expect("a new indicator");
    let next = hub.changes(moved.last, 10).expect("feed");
    assert_eq!(next.adds.len(), 1, "new changes continue after the copied ones");
    let alice = pg.admin("alice").expect("admin").expect("the console account moved");
    assert_eq!((alice.role.as_str(), alice.secret_hash.as_str()), ("operator", "hash-of-password"));
    assert_eq!(pg.session("hash-of-token", 2).expect("session"), None, "sessions stay behind: log in again");
    assert_eq!(pg.count_analysis("whatsapp:+1555", 5_000, 1).expect("quota"), Quota::JustExceeded, "today's count");
    assert_eq!(pg.last_inbound_ms("whatsapp:+1666").expect("window"), Some(6_000));
    assert_eq!(pg.enqueue(&msg("SM1", "whatsapp:+1555", 9_000)).expect("dedupe"), Enqueued::Duplicate);
    // New ids continue after the copied ones (PostgreSQL may skip a few: a refused duplicate draws one too).
    let new = pg.enqueue(&msg("SM3", "whatsapp:+1777", 9_000)).expect("new");
    assert!(matches!(new, Enqueued::New(id) if id > 2), "ids go on after the copied ones: {new:?}");
    assert!(matches!(pg.claim("w", 10_000, 60_000, C).expect("claim"), Some(Work::Analyse(_))), "the waiting one");
    let core = PgStore::on(std::sync::Arc::clone(pg.pg())).expect("core");
    let history = core.history_list(&HistoryQuery { owner: Owner::Anyone, ..Default::default() }).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].redacted_text, "Pay the fee to [PHONE]");
    assert_eq!(core.spent(Some("whatsapp:+1555"), 1_705_320_000).expect("spent").day_usd, 0.25);
    assert!(matches!(
        core.spend_reserve(None, "gpt", 0.1, &Caps::default(), 1_705_320_000).expect("spend"),
        Reserve::Reserved(id) if id > 1
    ));
    assert!(core.cache_exact("scope", "key", 0).expect("cache").is_some());

    // Again: the target is not empty any more, and nothing is written.
    let again = migrate(&db, &url);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already holds") && stderr.contains("nothing was copied"), "{stderr}");
    assert_eq!(pg.jobs(None, 10).expect("jobs").len(), 3);
}
