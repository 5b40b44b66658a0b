//! The SQLite [`Hub`], in the bridge's file and on its connection ([`redflag::store::Db`]); its tables are part of
//! the `bridge` schema (`queue/schema.rs`).

use std::sync::Arc;

use redflag::store::Db;
use redflag::sync::feed::Published;
use redflag::sync::indicators::{self, IndicatorKind};
use rusqlite::{OptionalExtension, Transaction, params};

use redflag::sync::report::{Report, ReportLabel};

use super::{Changes, Device, Hub, HubError, Indicator, Observed, ReportTaken, ReportedValue, Source, StoredReport};

#[derive(Debug, Clone)]
pub struct SqliteHub {
    db: Arc<Db>,
}

impl SqliteHub {
    /// The hub's tables in a database the bridge's queue has opened (and migrated).
    pub fn on(db: Arc<Db>) -> Result<SqliteHub, HubError> {
        db.migrate(&crate::queue::BRIDGE_SCHEMA)?;
        Ok(SqliteHub { db })
    }
}

/// The next sequence number: every published change takes one.
fn next_seq(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM hub_indicators", [], |r| r.get(0))
}

impl Hub for SqliteHub {
    fn add_device(&self, name: &str, token_hash: &str, now_ms: i64) -> Result<(), HubError> {
        self.db.write(|tx| {
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM hub_devices WHERE name = ?1 AND revoked_at IS NULL)",
                [name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(HubError::DeviceExists(name.to_string()));
            }
            tx.execute(
                "INSERT INTO hub_devices (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, token_hash, now_ms],
            )?;
            Ok(())
        })
    }

    fn device(&self, token_hash: &str, now_ms: i64) -> Result<Option<String>, HubError> {
        // A read for every caller, the write lock only for a real device: a flood of bad tokens must not queue
        // behind (or in front of) the message queue's writes.
        let name: Option<String> = self
            .db
            .conn()
            .query_row("SELECT name FROM hub_devices WHERE token_hash = ?1 AND revoked_at IS NULL", [token_hash], |r| {
                r.get(0)
            })
            .optional()?;
        if name.is_some() {
            self.db.write(|tx| {
                tx.execute(
                    "UPDATE hub_devices SET last_seen_at = ?2 WHERE token_hash = ?1",
                    params![token_hash, now_ms],
                )
            })?;
        }
        Ok(name)
    }

    fn revoke_device(&self, name: &str, now_ms: i64) -> Result<bool, HubError> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE hub_devices SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, now_ms],
            )?;
            Ok(n > 0)
        })
    }

    fn devices(&self) -> Result<Vec<Device>, HubError> {
        let conn = self.db.conn();
        let mut stmt =
            conn.prepare("SELECT name, created_at, revoked_at, last_seen_at FROM hub_devices ORDER BY created_at")?;
        let rows = stmt.query_map([], |r| {
            Ok(Device { name: r.get(0)?, created_at_ms: r.get(1)?, revoked_at_ms: r.get(2)?, last_seen_ms: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn observe(&self, kind: IndicatorKind, value: &str, source: Source, now: i64) -> Result<Observed, HubError> {
        let value = indicators::normalise(kind, value)?;
        let hash = indicators::digest(kind, &value);
        if kind == IndicatorKind::Domain && indicators::is_shared_host(&value) {
            return Ok(Observed::Allowed);
        }
        self.db.write(|tx| {
            let allowed: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM hub_allow WHERE hash = ?1)", [&hash], |r| r.get(0))?;
            if allowed {
                return Ok(Observed::Allowed);
            }
            let seq = next_seq(tx)?;
            let count: u32 = tx.query_row(
                "INSERT INTO hub_indicators (seq, hash, kind, value, count, first_seen, last_seen, source, published)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6, 1)
                 ON CONFLICT (hash) DO UPDATE SET seq = excluded.seq, count = hub_indicators.count + 1,
                     last_seen = excluded.last_seen, published = 1,
                     value = CASE WHEN hub_indicators.value = '' THEN excluded.value ELSE hub_indicators.value END
                 RETURNING count",
                params![seq, hash, kind.as_str(), value, now, source.as_str()],
                |r| r.get(0),
            )?;
            Ok(Observed::Published { count })
        })
    }

    fn sighted(&self, kind: IndicatorKind, value: &str, sender: &str, now: i64) -> Result<Observed, HubError> {
        let normalised = indicators::normalise(kind, value)?;
        if kind == IndicatorKind::Domain && indicators::is_shared_host(&normalised) {
            return Ok(Observed::Allowed);
        }
        let hash = indicators::digest(kind, &normalised);
        let senders: u32 = self.db.write(|tx| {
            tx.execute(
                "INSERT INTO hub_sightings (hash, sender, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![hash, sender, now],
            )?;
            Ok::<_, HubError>(
                tx.query_row("SELECT COUNT(*) FROM hub_sightings WHERE hash = ?1", [&hash], |r| r.get(0))?,
            )
        })?;
        if senders < super::MIN_SENDERS {
            return Ok(Observed::Pending { senders });
        }
        self.observe(kind, &normalised, Source::Bridge, now)
    }

    fn remove(&self, kind: IndicatorKind, value: &str) -> Result<bool, HubError> {
        let (hash, _) = super::named(kind, value)?;
        self.db.write(|tx| unpublish(tx, &hash))
    }

    fn allow(&self, kind: IndicatorKind, value: &str, now: i64) -> Result<(), HubError> {
        let (hash, value) = super::named(kind, value)?;
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO hub_allow (hash, kind, value, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO NOTHING",
                params![hash, kind.as_str(), value, now],
            )?;
            unpublish(tx, &hash)?;
            Ok(())
        })
    }

    fn indicators(&self, limit: usize) -> Result<Vec<Indicator>, HubError> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(
            "SELECT kind, value, count, first_seen, last_seen, source, published, hash FROM hub_indicators
             ORDER BY last_seen DESC, seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, value, count, first_seen, last_seen, source, published, hash) = row?;
            if let Ok(kind) = kind.parse() {
                out.push(Indicator { kind, value, hash, count, first_seen, last_seen, source, published });
            }
        }
        Ok(out)
    }

    fn changes(&self, after: i64, limit: usize) -> Result<Changes, HubError> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, hash, kind, count, last_seen, published FROM hub_indicators WHERE seq > ?1
             ORDER BY seq LIMIT ?2",
        )?;
        // One more than asked says whether more follow.
        let rows = stmt.query_map(params![after, i64::try_from(limit).unwrap_or(i64::MAX) + 1], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut changes = Changes { last: after, ..Changes::default() };
        for row in rows {
            let (seq, hash, kind, count, last_seen, published) = row?;
            if changes.adds.len() + changes.removes.len() == limit {
                changes.more = true;
                break;
            }
            changes.last = seq;
            match kind.parse::<IndicatorKind>() {
                Ok(kind) if published => changes.adds.push(Published { hash, kind, count, last_seen }),
                _ => changes.removes.push(hash),
            }
        }
        Ok(changes)
    }

    fn last_change(&self) -> Result<i64, HubError> {
        Ok(self.db.conn().query_row("SELECT COALESCE(MAX(seq), 0) FROM hub_indicators", [], |r| r.get(0))?)
    }

    fn add_report(&self, device: &str, report: &Report, threshold: u32, now: i64) -> Result<ReportTaken, HubError> {
        let flags = serde_json::to_string(&report.flags)?;
        let verdict = serde_json::to_value(report.verdict)?.as_str().unwrap_or_default().to_string();
        self.db.write(|tx| {
            let id: Option<i64> = tx
                .query_row(
                    "INSERT INTO hub_reports (device, client_id, label, text, verdict, score, flags, checked_at,
                                              received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (device, client_id) DO NOTHING RETURNING id",
                    params![
                        device,
                        report.id,
                        report.label.as_str(),
                        report.text,
                        verdict,
                        f64::from(report.score),
                        flags,
                        report.checked_at,
                        now
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(ReportTaken { duplicate: true, published: 0 }) };
            let mut published = 0;
            for value in &report.indicators {
                let inserted = tx.execute(
                    "INSERT INTO hub_report_values (report, hash, kind) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![id, value.hash, value.kind.as_str()],
                )?;
                if inserted == 0 || report.label != ReportLabel::Scam {
                    continue;
                }
                // One voice per device: a device that named this value in a scam before adds nothing, however
                // many reports it sends.
                let before: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM hub_report_values v JOIN hub_reports r ON r.id = v.report
                      WHERE v.hash = ?1 AND r.device = ?2 AND r.label = 'scam' AND r.id <> ?3)",
                    params![value.hash, device, id],
                    |r| r.get(0),
                )?;
                let allowed: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM hub_allow WHERE hash = ?1)", [&value.hash], |r| {
                        r.get(0)
                    })?;
                if before || allowed {
                    continue;
                }
                let state: Option<bool> = tx
                    .query_row("SELECT published FROM hub_indicators WHERE hash = ?1", [&value.hash], |r| r.get(0))
                    .optional()?;
                match state {
                    // The operator withdrew it: reports do not overrule that (`indicators add` does).
                    Some(false) => continue,
                    // Published already: one more device's report counts like a sighting.
                    Some(true) => {
                        let seq = next_seq(tx)?;
                        tx.execute(
                            "UPDATE hub_indicators SET seq = ?2, count = count + 1, last_seen = ?3 WHERE hash = ?1",
                            params![value.hash, seq, now],
                        )?;
                    }
                    None => {
                        let devices = scam_reporters(tx, &value.hash)?;
                        if devices < threshold {
                            continue;
                        }
                        let seq = next_seq(tx)?;
                        // Over the threshold: published with every device so far. The value stays unknown
                        // (empty) until the bridge or the operator names it.
                        tx.execute(
                            "INSERT INTO hub_indicators (seq, hash, kind, value, count, first_seen, last_seen,
                                                         source, published)
                             VALUES (?1, ?2, ?3, '', ?4, ?5, ?5, ?6, 1)",
                            params![seq, value.hash, value.kind.as_str(), devices, now, Source::Reports.as_str()],
                        )?;
                    }
                }
                published += 1;
            }
            Ok(ReportTaken { duplicate: false, published })
        })
    }

    fn reports(&self, label: Option<ReportLabel>, limit: usize) -> Result<Vec<StoredReport>, HubError> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(
            "SELECT id, device, label, text, verdict, score, flags, checked_at, received_at FROM hub_reports
             WHERE ?1 IS NULL OR label = ?1 ORDER BY received_at DESC, id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![label.map(ReportLabel::as_str), limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut values = conn.prepare_cached(
            "SELECT v.hash, v.kind,
                    (SELECT COUNT(DISTINCT r.device) FROM hub_report_values w JOIN hub_reports r ON r.id = w.report
                      WHERE w.hash = v.hash AND r.label = 'scam'),
                    EXISTS (SELECT 1 FROM hub_indicators i WHERE i.hash = v.hash AND i.published = 1)
             FROM hub_report_values v WHERE v.report = ?1 ORDER BY v.rowid",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, device, label, text, verdict, score, flags, checked_at, received_at) in rows {
            let indicators = values
                .query_map([id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, bool>(3)?))
                })?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter_map(|(hash, kind, devices, published)| {
                    Some(ReportedValue { kind: kind.parse().ok()?, hash, devices, published })
                })
                .collect();
            out.push(StoredReport {
                id,
                device,
                label: label.parse().map_err(|e: String| HubError::Report(e))?,
                text,
                verdict,
                // Written from an f32; narrowing back is exact.
                score: score as f32,
                flags: serde_json::from_str(&flags)?,
                indicators,
                checked_at,
                received_at,
            });
        }
        Ok(out)
    }

    fn publish_bundle(&self, version: &str, rules: &str, now: i64) -> Result<(), HubError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO hub_bundle (id, version, rules, published_at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, rules = excluded.rules,
                     published_at = excluded.published_at",
                params![version, rules, now],
            )?;
            Ok(())
        })
    }

    fn bundle(&self) -> Result<Option<(String, String)>, HubError> {
        self.bundle_row()
    }
}

impl SqliteHub {
    fn bundle_row(&self) -> Result<Option<(String, String)>, HubError> {
        let conn = self.db.conn();
        let row = conn
            .query_row("SELECT version, rules FROM hub_bundle WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row)
    }
}

/// How many different devices reported `hash` in a scam.
fn scam_reporters(tx: &Transaction<'_>, hash: &str) -> rusqlite::Result<u32> {
    tx.query_row(
        "SELECT COUNT(DISTINCT r.device) FROM hub_report_values v JOIN hub_reports r ON r.id = v.report
         WHERE v.hash = ?1 AND r.label = 'scam'",
        [hash],
        |r| r.get(0),
    )
}

/// Withdraw a published value: a change of its own, so devices that hold it drop it.
fn unpublish(tx: &Transaction<'_>, hash: &str) -> Result<bool, HubError> {
    let seq = next_seq(tx)?;
    let n = tx.execute(
        "UPDATE hub_indicators SET published = 0, seq = ?2 WHERE hash = ?1 AND published = 1",
        params![hash, seq],
    )?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> SqliteHub {
        let q = crate::queue::SqliteQueue::open_in_memory().expect("queue");
        SqliteHub::on(Arc::clone(q.db())).expect("hub")
    }

    #[test]
    fn sightings_count_and_every_change_moves_past_the_cursor() {
        let h = hub();
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

    #[test]
    fn a_value_from_judged_scams_is_published_once_two_people_sent_it() {
        let h = hub();
        let number = "+14155550199";
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "a", 1).expect("one"), Observed::Pending { senders: 1 });
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "a", 2).expect("again"), Observed::Pending { senders: 1 });
        assert!(h.changes(0, 10).expect("changes").adds.is_empty(), "one sender publishes nothing");
        assert_eq!(h.sighted(IndicatorKind::Phone, number, "b", 3).expect("two"), Observed::Published { count: 1 });
        assert_eq!(h.changes(0, 10).expect("changes").adds.len(), 1);
    }

    #[test]
    fn shared_hosts_are_never_published() {
        let h = hub();
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

    #[test]
    fn the_allowlist_beats_every_sighting() {
        let h = hub();
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

    #[test]
    fn reports_publish_a_value_once_enough_devices_named_it_and_a_resent_one_counts_once() {
        let h = hub();
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

    #[test]
    fn the_allowlist_beats_reports_and_takes_a_digest() {
        let h = hub();
        h.allow(IndicatorKind::Phone, "+14155550177", 1).expect("allow the number");
        let host = indicators::digest(IndicatorKind::Domain, "pay-talentdesk.example");
        h.allow(IndicatorKind::Domain, &format!("sha256:{}", host.to_uppercase()), 1).expect("allow by digest");
        for device in ["a", "b", "c"] {
            h.add_report(device, &report(ReportLabel::Scam, SCAM), 2, 5).expect("report");
        }
        assert!(h.changes(0, 10).expect("changes").adds.is_empty());
        assert!(h.allow(IndicatorKind::Domain, "sha256:abc", 1).is_err(), "not a digest");
    }

    #[test]
    fn pages_say_when_more_follow() {
        let h = hub();
        for i in 0..5 {
            h.observe(IndicatorKind::Phone, &format!("+1415555010{i}"), Source::Operator, i).expect("add");
        }
        let page = h.changes(0, 3).expect("page");
        assert_eq!((page.adds.len(), page.more), (3, true));
        let rest = h.changes(page.last, 3).expect("rest");
        assert_eq!((rest.adds.len(), rest.more), (2, false));
    }

    #[test]
    fn devices_pair_once_per_name_and_a_revoked_token_stops_working() {
        let h = hub();
        h.add_device("laptop", "hash1", 1).expect("add");
        assert!(matches!(h.add_device("laptop", "hash2", 2), Err(HubError::DeviceExists(_))));
        assert_eq!(h.device("hash1", 3).expect("lookup").as_deref(), Some("laptop"));
        assert!(h.revoke_device("laptop", 4).expect("revoke"));
        assert_eq!(h.device("hash1", 5).expect("lookup"), None);
        assert_eq!(h.devices().expect("list")[0].revoked_at_ms, Some(4));
    }
}
