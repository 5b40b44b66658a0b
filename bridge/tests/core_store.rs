//! The core's store seen through its traits (history, LLM cache, spend ledger, switched-off state), the same cases
//! against SQLite and against PostgreSQL, the two stores a bridge can run on. The SQLite store's own finer cases
//! (query plans, files, the device's sync state) stay in the core; what several nodes on one PostgreSQL database
//! must get right (spend caps across nodes) is at the end.

mod common;

use std::sync::{Arc, Barrier};

use redflag::store::pg::{Pg, PgStore};
use redflag::store::{
    CapKind, Caps, HistoryQuery, NewHistory, Owner, Reserve, SpendLedger, Spent, SqliteStore, Store, StoreError,
    SyncState, Tokens,
};
use redflag::{Analysis, Label};

/// 2024-01-15 12:00:00 UTC, and the edges of that day and month.
const NOW: i64 = 1_705_320_000;
const JAN_15_LAST_SECOND: i64 = 1_705_363_199;
const JAN_16_FIRST_SECOND: i64 = 1_705_363_200;
const JAN_31_LAST_SECOND: i64 = 1_706_745_599;
const FEB_1_FIRST_SECOND: i64 = 1_706_745_600;

fn analysis(label: Label, flags: &[&str]) -> Analysis {
    let flags: Vec<serde_json::Value> = flags
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "title": id, "explanation": "test flag", "weight": 0.5,
                "evidence": [{"start": 0, "end": 4, "snippet": "test"}]
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "label": label, "score": 0.8125, "summary": "test summary", "flags": flags,
        "tiers": ["rules", "model"], "tier_scores": {"rules": 0.75, "model": 0.875},
        "escalation": {"recommended": false, "reason": "confident"},
        "versions": {"core": "0.0.0-test", "rules": "test"},
        "timing": {"normalize_us": 1, "rules_us": 2, "total_us": 3},
    }))
    .expect("a test analysis")
}

fn add(s: &dyn Store, at: i64, user: Option<&str>, text: &str, a: &Analysis) -> i64 {
    s.history_add(&NewHistory {
        created_at: at,
        channel: "whatsapp",
        user_id: user,
        input_hash: "ab12",
        redacted_text: text,
        indicators: &[],
        analysis: a,
        cost_usd: 0.0,
    })
    .expect("add")
}

fn reserved(r: Reserve) -> i64 {
    match r {
        Reserve::Reserved(id) => id,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

fn reached(r: Reserve) -> CapKind {
    match r {
        Reserve::CapReached { cap, .. } => cap,
        other => panic!("expected a cap to be reached, got {other:?}"),
    }
}

fn pg_store(url: &str) -> PgStore {
    PgStore::on(Arc::new(Pg::connect(url, &[]).expect("connect"))).expect("the core's tables")
}

/// Every case, run once per engine by [`suite!`].
mod cases {
    use super::*;

    pub fn history_is_scoped_to_its_owner_and_searchable(s: &dyn Store) {
        let scam = analysis(Label::Scam, &["upfront-fee"]);
        let legit = analysis(Label::Legit, &[]);
        let a = add(s, 100, Some("whatsapp:+1555"), "Pay the 50% Training fee now", &scam);
        let b = add(s, 200, Some("whatsapp:+1666"), "Interview on Thursday", &legit);
        let local = add(s, 300, None, "my own check", &legit);
        let alice = Owner::User("whatsapp:+1555".into());
        let list = |q: HistoryQuery| s.history_list(&q).expect("list").iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(list(HistoryQuery { owner: Owner::Anyone, ..Default::default() }), [local, b, a], "newest first");
        assert_eq!(list(HistoryQuery { owner: alice.clone(), ..Default::default() }), [a]);
        assert_eq!(list(HistoryQuery { owner: Owner::Local, ..Default::default() }), [local]);
        let search =
            |text: &str| list(HistoryQuery { owner: Owner::Anyone, search: Some(text.into()), ..Default::default() });
        assert_eq!(search("training FEE"), [a], "text, whatever the case");
        assert_eq!(search("50%"), [a], "a % is a character, not a wildcard");
        assert_eq!(search("upfront-fee"), [a], "a flag id");
        assert_eq!(search("legit"), [local, b], "a label");
        assert_eq!(list(HistoryQuery { owner: Owner::Anyone, limit: 1, offset: 1, ..Default::default() }), [b]);

        let entry = s.history_get(a, &alice).expect("get").expect("alice's check");
        assert_eq!(
            (entry.label, entry.flags.as_slice(), entry.redacted_text.as_str()),
            (Label::Scam, ["upfront-fee".to_string()].as_slice(), "Pay the 50% Training fee now")
        );
        assert!(s.history_get(a, &Owner::User("whatsapp:+1666".into())).expect("get").is_none(), "not bob's");
        assert!(!s.history_delete(a, &Owner::Local).expect("delete"), "the local user cannot delete alice's");
        assert!(s.history_delete(a, &alice).expect("delete"));
        assert_eq!(s.history_clear(&Owner::Local).expect("clear"), 1);
        assert_eq!(s.history_purge(150).expect("purge"), 0, "bob's is newer");
        assert_eq!(s.history_purge(201).expect("purge"), 1);
    }

    pub fn forgetting_a_user_removes_their_checks_and_unlinks_their_spend(s: &dyn Store) {
        let a = analysis(Label::Scam, &["upfront-fee"]);
        add(s, NOW, Some("u1"), "one", &a);
        add(s, NOW, Some("u1"), "two", &a);
        add(s, NOW, Some("u2"), "other", &a);
        reserved(s.spend_reserve(Some("u1"), "m", 0.5, &Caps::default(), NOW).expect("reserve"));
        assert_eq!(s.forget_user("u1", None).expect("forget"), 3, "two checks deleted, one spend row unlinked");
        assert_eq!(
            s.history_list(&HistoryQuery { owner: Owner::Anyone, ..Default::default() }).expect("list").len(),
            1
        );
        assert_eq!(s.spent(Some("u1"), NOW).expect("spent"), Spent::default());
        assert_eq!(s.spent(None, NOW).expect("spent").day_usd, 0.5, "the cost stays in the operator's totals");
    }

    /// Issue #20, finding 1: erasing one's data must not restart the per-user LLM budget. The spend moves to the
    /// sender's pseudonym and still counts against its caps; nothing names the sender any more.
    pub fn forgetting_a_user_keeps_their_spend_under_a_pseudonym(s: &dyn Store) {
        add(s, NOW, Some("p:1"), "one", &analysis(Label::Scam, &["upfront-fee"]));
        let caps = Caps { user_daily_usd: Some(1.0), ..Caps::default() };
        reserved(s.spend_reserve(Some("whatsapp:+15550001"), "m", 0.5, &caps, NOW).expect("before the upgrade"));
        reserved(s.spend_reserve(Some("p:1"), "m", 0.4, &caps, NOW).expect("under the pseudonym"));
        assert_eq!(s.forget_user("whatsapp:+15550001", Some("p:1")).expect("forget"), 1, "one spend row moved");
        assert_eq!(s.forget_user("p:1", Some("p:1")).expect("forget"), 1, "its check deleted, its spend kept");
        assert!(s.history_list(&HistoryQuery { owner: Owner::Anyone, ..Default::default() }).expect("list").is_empty());
        assert_eq!(s.spent(Some("whatsapp:+15550001"), NOW).expect("spent"), Spent::default(), "no longer named");
        assert!((s.spent(Some("p:1"), NOW).expect("spent").day_usd - 0.9).abs() < 1e-9, "still counted");
        assert_eq!(
            reached(s.spend_reserve(Some("p:1"), "m", 0.2, &caps, NOW).expect("reserve")),
            CapKind::UserDaily,
            "the cap still holds after the erasure"
        );
    }

    pub fn each_kind_of_cap_stops_a_reservation(s: &dyn Store) {
        let cases = [
            (CapKind::Daily, Caps { daily_usd: Some(1.0), ..Caps::default() }),
            (CapKind::Monthly, Caps { monthly_usd: Some(1.0), ..Caps::default() }),
            (CapKind::UserDaily, Caps { user_daily_usd: Some(1.0), ..Caps::default() }),
            (CapKind::UserMonthly, Caps { user_monthly_usd: Some(1.0), ..Caps::default() }),
        ];
        for (i, (kind, caps)) in cases.into_iter().enumerate() {
            // Each kind in a month of its own, so the earlier kinds' spending does not count.
            let now = NOW + i as i64 * 40 * 86_400;
            for k in 0..10 {
                reserved(s.spend_reserve(Some("u1"), "m", 0.1, &caps, now + k).expect("reserve"));
            }
            match s.spend_reserve(Some("u1"), "m", 0.1, &caps, now + 10).expect("reserve") {
                Reserve::CapReached { cap, spent_usd, .. } => {
                    assert_eq!(cap, kind);
                    assert!((spent_usd - 1.0).abs() < 1e-9, "{spent_usd}");
                }
                other => panic!("{kind:?}: expected the cap to be reached, got {other:?}"),
            }
        }
        let calls: u64 = s.spend_report(None).expect("report").iter().map(|r| r.calls).sum();
        assert_eq!(calls, 40, "a refusal writes nothing");
    }

    pub fn a_users_cap_does_not_stop_another_user_or_the_local_user(s: &dyn Store) {
        let caps = Caps { user_daily_usd: Some(0.5), user_monthly_usd: Some(0.5), ..Caps::default() };
        reserved(s.spend_reserve(Some("u1"), "m", 0.5, &caps, NOW).expect("reserve"));
        assert_eq!(reached(s.spend_reserve(Some("u1"), "m", 0.01, &caps, NOW).expect("reserve")), CapKind::UserDaily);
        reserved(s.spend_reserve(Some("u2"), "m", 0.5, &caps, NOW).expect("reserve"));
        reserved(s.spend_reserve(None, "m", 5.0, &caps, NOW).expect("reserve"));
        let global = Caps { daily_usd: Some(6.0), ..caps };
        assert_eq!(reached(s.spend_reserve(Some("u3"), "m", 0.01, &global, NOW).expect("reserve")), CapKind::Daily);
    }

    pub fn days_and_months_roll_over_at_utc_midnight(s: &dyn Store) {
        let caps = Caps { daily_usd: Some(1.0), monthly_usd: Some(1.5), ..Caps::default() };
        reserved(s.spend_reserve(None, "m", 1.0, &caps, JAN_15_LAST_SECOND).expect("reserve"));
        assert_eq!(reached(s.spend_reserve(None, "m", 0.5, &caps, JAN_15_LAST_SECOND).expect("r")), CapKind::Daily);
        reserved(s.spend_reserve(None, "m", 0.5, &caps, JAN_16_FIRST_SECOND).expect("next day"));
        assert_eq!(reached(s.spend_reserve(None, "m", 0.1, &caps, JAN_16_FIRST_SECOND).expect("r")), CapKind::Monthly);
        assert_eq!(s.spent(None, JAN_16_FIRST_SECOND).expect("spent"), Spent { day_usd: 0.5, month_usd: 1.5 });
        reserved(s.spend_reserve(None, "m", 1.0, &caps, FEB_1_FIRST_SECOND).expect("next month"));
        assert_eq!(s.spent(None, JAN_31_LAST_SECOND).expect("spent"), Spent { day_usd: 0.0, month_usd: 1.5 });
    }

    pub fn settling_replaces_the_estimate_once(s: &dyn Store) {
        let caps = Caps { daily_usd: Some(1.5), ..Caps::default() };
        let first = reserved(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve"));
        assert_eq!(reached(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve")), CapKind::Daily);
        s.spend_settle(first, true, Tokens { prompt: 1200, cached: 200, completion: 80 }, 0.25).expect("settle");
        assert!(matches!(s.spend_settle(first, true, Tokens::default(), 0.25), Err(StoreError::Reservation(_))));
        let second = reserved(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve"));
        s.spend_settle(second, false, Tokens::default(), 0.0).expect("settle failed");
        assert_eq!(s.spent(None, NOW).expect("spent").day_usd, 0.25);
        let report = s.spend_report(None).expect("report");
        assert_eq!((report.len(), report[0].calls, report[0].failed, report[0].prompt_tokens), (1, 2, 1, 1200));
        assert!(matches!(s.spend_reserve(None, "m", f64::NAN, &caps, NOW), Err(StoreError::Amount { .. })));
    }

    pub fn the_cache_finds_exact_and_near_verdicts(s: &dyn Store) {
        const BASE: u64 = 0x9E37_79B9_7F4A_7C15;
        s.cache_put("scope", "k1", BASE, r#"{"label":"scam"}"#, NOW).expect("put");
        let hit = s.cache_exact("scope", "k1", NOW - 10).expect("lookup").expect("hit");
        assert_eq!((hit.verdict_json.as_str(), hit.distance), (r#"{"label":"scam"}"#, 0));
        assert!(s.cache_exact("other-scope", "k1", NOW - 10).expect("lookup").is_none(), "scoped by model");
        assert!(s.cache_exact("scope", "k1", NOW + 1).expect("lookup").is_none(), "too old");
        // Three bits apart, one in each of three bands: still found through the fourth.
        let near = BASE ^ (1 | 1 << 17 | 1 << 33);
        assert_eq!(s.cache_near("scope", near, 3, NOW - 10).expect("near").expect("hit").distance, 3);
        assert!(s.cache_near("scope", near, 2, NOW - 10).expect("near").is_none(), "beyond the distance asked");
        assert!(s.cache_near("scope", !BASE, 3, NOW - 10).expect("near").is_none());
        assert!(matches!(s.cache_near("scope", BASE, 4, 0), Err(StoreError::NearDistance { .. })));
        // A high bit set: the fingerprint is stored bit for bit.
        s.cache_put("scope", "k2", u64::MAX - 1, "{}", NOW + 5).expect("put");
        assert_eq!(s.cache_near("scope", u64::MAX, 1, 0).expect("near").expect("hit").created_at, NOW + 5);
        assert_eq!(s.cache_stats().expect("stats").hits, 3);
        assert_eq!(s.cache_purge(NOW + 1).expect("purge"), 1);
        assert_eq!(s.cache_stats().expect("stats").entries, 1);
    }

    pub fn escalation_is_switched_off_per_fingerprint(s: &dyn Store) {
        assert_eq!(s.llm_disabled("cfg-a").expect("query"), None);
        s.disable_llm("cfg-a", "the API key was rejected (401)", 100).expect("disable");
        s.disable_llm("cfg-a", "insufficient_quota", 200).expect("disable again");
        assert_eq!(s.llm_disabled("cfg-a").expect("query").as_deref(), Some("insufficient_quota"));
        assert_eq!(s.llm_disabled("cfg-b").expect("query"), None);
        s.enable_llm("cfg-a").expect("enable");
        assert_eq!(s.llm_disabled("cfg-a").expect("query"), None);
    }

    pub fn a_bridge_store_is_not_paired(s: &dyn Store) {
        assert!(s.hub_link().expect("link").is_none());
        assert_eq!((s.indicator_count().expect("count"), s.reports_waiting().expect("waiting")), (0, 0));
    }
}

/// One `#[test]` per case for an engine, on a fresh store from `$open`.
macro_rules! suite {
    ($engine:ident, $open:expr, [$($case:ident),* $(,)?]) => {
        mod $engine {
            use super::*;

            fn open() -> Box<dyn Store> {
                $open
            }

            $(
                #[test]
                fn $case() {
                    cases::$case(&*open());
                }
            )*
        }
    };
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        suite!(sqlite, Box::new(SqliteStore::open_in_memory().expect("in-memory store")), [$($case),*]);
        suite!(postgres, Box::new(pg_store(&common::postgres::fresh_database())), [$($case),*]);
    };
}

both!(
    history_is_scoped_to_its_owner_and_searchable,
    forgetting_a_user_removes_their_checks_and_unlinks_their_spend,
    forgetting_a_user_keeps_their_spend_under_a_pseudonym,
    each_kind_of_cap_stops_a_reservation,
    a_users_cap_does_not_stop_another_user_or_the_local_user,
    days_and_months_roll_over_at_utc_midnight,
    settling_replaces_the_estimate_once,
    the_cache_finds_exact_and_near_verdicts,
    escalation_is_switched_off_per_fingerprint,
    a_bridge_store_is_not_paired,
);

/// Three nodes (stores with pools of their own) racing for one daily budget: exactly as many reservations as the
/// cap allows win, whichever node makes them.
#[test]
fn spend_caps_are_exact_across_nodes() {
    const ALLOWED: usize = 60;
    const PRICE: f64 = 0.25; // exact in binary, so the cap allows exactly ALLOWED calls
    let url = common::postgres::fresh_database();
    let nodes: Vec<PgStore> = (0..3).map(|_| pg_store(&url)).collect();
    let caps = Caps { daily_usd: Some(PRICE * ALLOWED as f64), user_daily_usd: Some(PRICE * 5.0), ..Caps::default() };
    let start = Barrier::new(9);
    let won: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..9)
            .map(|t| {
                let (node, start, caps) = (&nodes[t % 3], &start, &caps);
                s.spawn(move || {
                    start.wait();
                    let mut won = 0;
                    for round in 0..20 {
                        // Nine senders per round; each may spend five calls' worth a day.
                        let user = format!("user-{}", (t * 20 + round) % 30);
                        if let Reserve::Reserved(id) =
                            node.spend_reserve(Some(&user), "m", PRICE, caps, NOW).expect("reserve")
                        {
                            won += 1;
                            node.spend_settle(id, true, Tokens::default(), PRICE).expect("settle");
                        }
                    }
                    won
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker")).sum()
    });
    assert_eq!(won, ALLOWED, "180 attempts on three nodes, and exactly the daily cap's worth won");
    assert_eq!(nodes[0].spent(None, NOW).expect("spent").day_usd, PRICE * ALLOWED as f64);
    for u in 0..30 {
        let user = format!("user-{u}");
        assert!(nodes[1].spent(Some(&user), NOW).expect("spent").day_usd <= PRICE * 5.0, "{user} over their cap");
    }
}

#[test]
fn a_bridge_store_refuses_to_pair() {
    let s = pg_store(&common::postgres::fresh_database());
    let link = redflag::store::HubLink {
        url: "https://hub.example".into(),
        token: "t".into(),
        key: redflag::sync::feed::HubKey { public_key: "k".into(), fingerprint: "f".into() },
        cursor: String::new(),
        last_sync: None,
    };
    let err = s.pair_hub(&link).expect_err("a bridge is a hub").to_string();
    assert!(err.contains("never pairs"), "{err}");
}
