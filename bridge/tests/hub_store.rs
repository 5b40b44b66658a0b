//! The hub's trait-level suite: the same cases against SQLite (one node) and PostgreSQL (several nodes, a
//! throw-away cluster: `common/postgres.rs`), so the two implementations of [`Hub`] cannot drift apart.

mod common;

use redflag::sync::indicators::{self, IndicatorKind};
use redflag::sync::report::{Report, ReportLabel};
use redflag_bridge::hub::{Hub, HubError, Observed, PgHub, ReportTaken, Source, SqliteHub};
use redflag_bridge::queue::{PgQueue, SqliteQueue};

/// Every case, run once per engine by [`suite!`].
mod cases {
    use super::*;

    pub fn sightings_count_and_every_change_moves_past_the_cursor(h: &dyn Hub) {
        assert_eq!(
            h.observe(IndicatorKind::Phone, "+1 415 555 0147", Source::Operator, 10).expect("add"),
            Observed::Published { count: 1 }
        );
        h.observe(IndicatorKind::Domain, "deloitte-talentglobal.com", Source::Bridge, 11).expect("add");
        let first = h.changes(0, 10).expect("changes");
        assert_eq!((first.adds.len(), first.removes.len(), first.more), (2, 0, false));
        let cursor = first.last;
        assert!(h.changes(cursor, 10).expect("none").adds.is_empty());
        assert_eq!(
            h.observe(IndicatorKind::Phone, "+14155550147", Source::Bridge, 12).expect("again"),
            Observed::Published { count: 2 }
        );
        let next = h.changes(cursor, 10).expect("changes");
        assert_eq!(next.adds.len(), 1, "the count went up: a change");
        assert_eq!(next.adds[0].count, 2);
        assert!(h.remove(IndicatorKind::Phone, "+14155550147").expect("remove"));
        let removed = h.changes(next.last, 10).expect("changes");
        assert_eq!(removed.removes, [indicators::digest(IndicatorKind::Phone, "+14155550147")]);
    }

    pub fn a_value_from_judged_scams_is_published_once_two_people_sent_it(h: &dyn Hub) {
        let number = "+14155550199";
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "a", 1).expect("one"), Observed::Pending { senders: 1 });
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "a", 2).expect("again"), Observed::Pending { senders: 1 });
        assert!(h.changes(0, 10).expect("changes").adds.is_empty(), "one sender publishes nothing");
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "b", 3).expect("two"), Observed::Published { count: 1 });
        assert_eq!(h.changes(0, 10).expect("changes").adds.len(), 1);
    }

    pub fn shared_hosts_are_never_published(h: &dyn Hub) {
        for host in ["gmail.com", "t.me", "docs.google.com", "bit.ly"] {
            assert_eq!(h.observe(IndicatorKind::Domain, host, Source::Bridge, 1).expect("seen"), Observed::Allowed);
        }
        assert_eq!(
            h.observe(IndicatorKind::Email, "nova.hr.team@gmail.com", Source::Bridge, 1).expect("seen"),
            Observed::Published { count: 1 },
            "the address is the scammer's own"
        );
        assert_eq!(h.changes(0, 10).expect("changes").adds.len(), 1);
    }

    pub fn the_allowlist_beats_every_sighting(h: &dyn Hub) {
        h.observe(IndicatorKind::Domain, "acmebank.example", Source::Bridge, 1).expect("seen in a scam");
        h.allow(IndicatorKind::Domain, "https://www.AcmeBank.example/", 2).expect("allow");
        assert_eq!(
            h.observe(IndicatorKind::Domain, "acmebank.example", Source::Bridge, 3).expect("again"),
            Observed::Allowed
        );
        let all = h.changes(0, 10).expect("changes");
        assert!(all.adds.is_empty());
        assert_eq!(all.removes.len(), 1, "devices that had it drop it");
    }

    fn report(label: ReportLabel, text: &str) -> Report {
        Report {
            id: uuid::Uuid::new_v4().to_string(),
            label,
            text: "pay the training fee to [PHONE]".into(),
            verdict: redflag::Label::Uncertain,
            score: 0.7,
            flags: vec!["upfront-payment".into()],
            indicators: redflag::sync::report::digests(text),
            checked_at: 1,
        }
    }

    const SCAM: &str = "WhatsApp +1 415 555 0177 and pay at https://pay-talentdesk.example";

    pub fn reports_publish_a_value_once_enough_devices_named_it_and_a_resent_one_counts_once(h: &dyn Hub) {
        let first = report(ReportLabel::Scam, SCAM);
        assert_eq!(h.add_report("a", &first, 2, 10).expect("a"), ReportTaken { duplicate: false, published: 0 });
        assert_eq!(h.add_report("a", &first, 2, 11).expect("resent"), ReportTaken { duplicate: true, published: 0 });
        assert_eq!(
            h.add_report("a", &report(ReportLabel::Scam, SCAM), 2, 12).expect("a again").published,
            0,
            "one device is one voice however often it reports"
        );
        assert_eq!(h.add_report("b", &report(ReportLabel::Legit, SCAM), 2, 13).expect("b").published, 0);
        assert!(h.changes(0, 10).expect("changes").adds.is_empty(), "a legit report publishes nothing");
        assert_eq!(h.add_report("c", &report(ReportLabel::Scam, SCAM), 2, 14).expect("c").published, 2);
        let published = h.changes(0, 10).expect("changes");
        assert_eq!(published.adds.len(), 2, "the number and the host");
        assert!(published.adds.iter().all(|p| p.count == 2), "published with both devices' reports");
        let listed = h.indicators(10).expect("list");
        assert!(listed.iter().all(|i| i.value.is_empty() && i.source == "reports"), "the hub never saw the values");

        assert_eq!(h.add_report("c", &report(ReportLabel::Scam, SCAM), 2, 15).expect("c again").published, 0);
        assert_eq!(h.changes(published.last, 10).expect("changes").adds.len(), 0, "no new change for the same device");
        // Once the operator withdraws it, reports do not bring it back; naming it fills in the value.
        assert!(h.remove(IndicatorKind::Phone, "+14155550177").expect("remove"));
        h.add_report("d", &report(ReportLabel::Scam, SCAM), 2, 16).expect("d");
        let listed = h.indicators(10).expect("list");
        assert!(listed.iter().any(|i| i.kind == IndicatorKind::Phone && !i.published), "{listed:?}");
        h.observe(IndicatorKind::Domain, "pay-talentdesk.example", Source::Operator, 17).expect("named");
        let listed = h.indicators(10).expect("list");
        assert!(listed.iter().any(|i| i.value == "pay-talentdesk.example"), "{listed:?}");

        let reviews = h.reports(None, 10).expect("reports");
        assert_eq!(reviews.len(), 6, "the resent report is not listed twice");
        assert_eq!(reviews[2].device, "c");
        assert!(reviews[2].indicators.iter().all(|v| v.devices == 3), "{:?}", reviews[2]);
        assert_eq!(h.reports(Some(ReportLabel::Legit), 10).expect("legit")[0].device, "b");
    }

    pub fn the_allowlist_beats_reports_and_takes_a_digest(h: &dyn Hub) {
        h.allow(IndicatorKind::Phone, "+14155550177", 1).expect("allow the number");
        let host = indicators::digest(IndicatorKind::Domain, "pay-talentdesk.example");
        h.allow(IndicatorKind::Domain, &format!("sha256:{}", host.to_uppercase()), 1).expect("allow by digest");
        for device in ["a", "b", "c"] {
            h.add_report(device, &report(ReportLabel::Scam, SCAM), 2, 5).expect("report");
        }
        assert!(h.changes(0, 10).expect("changes").adds.is_empty());
        assert!(h.allow(IndicatorKind::Domain, "sha256:abc", 1).is_err(), "not a digest");
    }

    pub fn pages_say_when_more_follow(h: &dyn Hub) {
        for i in 0..5 {
            h.observe(IndicatorKind::Phone, &format!("+1415555010{i}"), Source::Operator, i).expect("add");
        }
        let page = h.changes(0, 3).expect("page");
        assert_eq!((page.adds.len(), page.more), (3, true));
        let rest = h.changes(page.last, 3).expect("rest");
        assert_eq!((rest.adds.len(), rest.more), (2, false));
    }

    pub fn devices_pair_once_per_name_and_a_revoked_token_stops_working(h: &dyn Hub) {
        h.add_device("laptop", "hash1", 1).expect("add");
        assert!(matches!(h.add_device("laptop", "hash2", 2), Err(HubError::DeviceExists(_))));
        assert_eq!(h.device("hash1", 3).expect("lookup").as_deref(), Some("laptop"));
        assert!(h.revoke_device("laptop", 4).expect("revoke"));
        assert_eq!(h.device("hash1", 5).expect("lookup"), None);
        assert_eq!(h.devices().expect("list")[0].revoked_at_ms, Some(4));
    }

    /// Writers on several threads (in PostgreSQL, several connections, as on several nodes): every change gets
    /// its own number, and the feed read from the start lists each value once.
    pub fn concurrent_writers_get_distinct_numbers_and_the_feed_misses_nothing(h: &dyn Hub) {
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in 0..25 {
                        let number = format!("+1415555{t}{i:03}");
                        h.observe(IndicatorKind::Phone, &number, Source::Operator, i64::from(i)).expect("add");
                    }
                });
            }
        });
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let page = h.changes(cursor, 30).expect("page");
            for add in &page.adds {
                assert!(seen.insert(add.hash.clone()), "listed twice");
            }
            assert!(page.last > cursor || !page.more, "the cursor moves on");
            cursor = page.last;
            if !page.more {
                break;
            }
        }
        assert_eq!(seen.len(), 100, "every value once");
        assert!(h.last_change().expect("last") >= cursor);
    }
}

macro_rules! suite {
    ($engine:ident, $open:expr) => {
        mod $engine {
            use super::*;

            fn open() -> Box<dyn Hub> {
                $open
            }

            #[test]
            fn sightings_count_and_every_change_moves_past_the_cursor() {
                cases::sightings_count_and_every_change_moves_past_the_cursor(&*open());
            }

            #[test]
            fn a_value_from_judged_scams_is_published_once_two_people_sent_it() {
                cases::a_value_from_judged_scams_is_published_once_two_people_sent_it(&*open());
            }

            #[test]
            fn shared_hosts_are_never_published() {
                cases::shared_hosts_are_never_published(&*open());
            }

            #[test]
            fn the_allowlist_beats_every_sighting() {
                cases::the_allowlist_beats_every_sighting(&*open());
            }

            #[test]
            fn reports_publish_a_value_once_enough_devices_named_it_and_a_resent_one_counts_once() {
                cases::reports_publish_a_value_once_enough_devices_named_it_and_a_resent_one_counts_once(&*open());
            }

            #[test]
            fn the_allowlist_beats_reports_and_takes_a_digest() {
                cases::the_allowlist_beats_reports_and_takes_a_digest(&*open());
            }

            #[test]
            fn pages_say_when_more_follow() {
                cases::pages_say_when_more_follow(&*open());
            }

            #[test]
            fn devices_pair_once_per_name_and_a_revoked_token_stops_working() {
                cases::devices_pair_once_per_name_and_a_revoked_token_stops_working(&*open());
            }
            #[test]
            fn concurrent_writers_get_distinct_numbers_and_the_feed_misses_nothing() {
                cases::concurrent_writers_get_distinct_numbers_and_the_feed_misses_nothing(&*open());
            }
        }
    };
}

suite!(sqlite, {
    let q = SqliteQueue::open_in_memory().expect("an in-memory queue");
    Box::new(SqliteHub::on(std::sync::Arc::clone(q.db())).expect("a hub"))
});
suite!(postgres, {
    let q = PgQueue::connect(&common::postgres::fresh_database()).expect("a PostgreSQL queue");
    Box::new(PgHub::on(std::sync::Arc::clone(q.pg())))
});
