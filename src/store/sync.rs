//! A device's side of sync in the SQLite store: the hub it is paired with (URL, token, pinned key, cursor) and
//! the indicators it has read. A page is applied in one transaction together with the cursor after it, so a sync
//! killed halfway resumes from the last whole page and never leaves half a page applied. The outbox keeps the
//! person's reports until a sync delivers them.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, StoreError, SyncState};
use crate::sync::feed::{HubKey, IndicatorPage};
use crate::sync::indicators::{IndicatorKind, IndicatorSet, Known};
use crate::sync::report::{Queued, Report};

/// The hub a device is paired with, and how far it has read.
#[derive(Clone, PartialEq, Eq)]
pub struct HubLink {
    pub url: String,
    /// The device's pairing token (a secret: never logged).
    pub token: String,
    pub key: HubKey,
    /// Where the next sync starts.
    pub cursor: String,
    /// Unix seconds of the last complete sync.
    pub last_sync: Option<i64>,
}

impl std::fmt::Debug for HubLink {
    // Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubLink")
            .field("url", &self.url)
            .field("fingerprint", &self.key.fingerprint)
            .field("cursor", &self.cursor)
            .field("last_sync", &self.last_sync)
            .finish_non_exhaustive()
    }
}

impl SyncState for SqliteStore {
    fn hub_link(&self) -> Result<Option<HubLink>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT url, token, public_key, fingerprint, cursor, last_sync FROM sync_hub WHERE id = 1",
                [],
                |r| {
                    Ok(HubLink {
                        url: r.get(0)?,
                        token: r.get(1)?,
                        key: HubKey { public_key: r.get(2)?, fingerprint: r.get(3)? },
                        cursor: r.get(4)?,
                        last_sync: r.get(5)?,
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    fn pair_hub(&self, link: &HubLink) -> Result<(), StoreError> {
        self.write(|tx| {
            let same: Option<String> = tx
                .query_row("SELECT fingerprint FROM sync_hub WHERE id = 1", [], |r| r.get(0))
                .optional()?
                .filter(|fp| *fp == link.key.fingerprint);
            if same.is_none() {
                // Another hub's indicators, cursor and rules mean nothing to this one; reports not sent yet were
                // meant for the hub the person trusted then, not for whichever comes next.
                tx.execute("DELETE FROM sync_indicators", [])?;
                tx.execute("DELETE FROM sync_bundle", [])?;
                tx.execute("DELETE FROM sync_outbox WHERE sent_at IS NULL", [])?;
            }
            tx.execute(
                "INSERT INTO sync_hub (id, url, token, public_key, fingerprint, cursor, last_sync)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, NULL)
                 ON CONFLICT (id) DO UPDATE SET url = excluded.url, token = excluded.token,
                     public_key = excluded.public_key, fingerprint = excluded.fingerprint,
                     cursor = excluded.cursor,
                     last_sync = CASE WHEN sync_hub.fingerprint = excluded.fingerprint THEN sync_hub.last_sync END",
                params![link.url, link.token, link.key.public_key, link.key.fingerprint, link.cursor],
            )?;
            Ok(())
        })
    }

    fn apply_page(&self, page: &IndicatorPage, now: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let cursor: Option<String> =
                tx.query_row("SELECT cursor FROM sync_hub WHERE id = 1", [], |r| r.get(0)).optional()?;
            if cursor.as_deref() != Some(page.cursor.as_str()) {
                return Ok(false);
            }
            {
                let mut add = tx.prepare_cached(
                    "INSERT INTO sync_indicators (hash, kind, count, last_seen) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, count = excluded.count,
                         last_seen = excluded.last_seen",
                )?;
                for p in &page.adds {
                    add.execute(params![p.hash, p.kind.as_str(), p.count, p.last_seen])?;
                }
                let mut remove = tx.prepare_cached("DELETE FROM sync_indicators WHERE hash = ?1")?;
                for hash in &page.removes {
                    remove.execute([hash])?;
                }
            }
            let done = if page.more { None } else { Some(now) };
            tx.execute(
                "UPDATE sync_hub SET cursor = ?1, last_sync = COALESCE(?2, last_sync) WHERE id = 1",
                params![page.next, done],
            )?;
            Ok(true)
        })
    }

    fn indicator_set(&self) -> Result<IndicatorSet, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT hash, kind, count, last_seen FROM sync_indicators")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut known = HashMap::new();
        for row in rows {
            let (hash, kind, count, last_seen) = row?;
            // A kind this build does not know (a newer hub's) is skipped, not an error: it could never match.
            if let Ok(kind) = kind.parse::<IndicatorKind>() {
                known.insert(hash, Known { kind, count, last_seen });
            }
        }
        Ok(IndicatorSet::new(known))
    }

    fn indicator_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.conn().query_row("SELECT COUNT(*) FROM sync_indicators", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn synced_rules(&self) -> Result<Option<(String, String)>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row("SELECT version, rules FROM sync_bundle WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row)
    }

    fn set_synced_rules(&self, version: &str, rules: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sync_bundle (id, version, rules) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, rules = excluded.rules",
                params![version, rules],
            )?;
            Ok(())
        })
    }

    fn queue_report(&self, queued: &Queued) -> Result<(), StoreError> {
        let body = serde_json::to_string(&queued.report)?;
        self.write(|tx| {
            tx.execute("DELETE FROM sync_outbox WHERE history_id = ?1 AND sent_at IS NULL", [queued.history_id])?;
            tx.execute(
                "INSERT INTO sync_outbox (id, history_id, label, body, created_at, sent_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    queued.report.id,
                    queued.history_id,
                    queued.report.label.as_str(),
                    body,
                    queued.created_at,
                    queued.sent_at
                ],
            )?;
            Ok(())
        })
    }

    fn pending_reports(&self, limit: usize) -> Result<Vec<Queued>, StoreError> {
        outbox(self, "sent_at IS NULL ORDER BY created_at, rowid LIMIT ?1", super::sql_int(limit))
    }

    fn report_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("UPDATE sync_outbox SET sent_at = ?2 WHERE id = ?1 AND sent_at IS NULL", params![id, now])?;
            Ok(())
        })
    }

    fn report_on(&self, history_id: i64) -> Result<Option<Queued>, StoreError> {
        Ok(outbox(self, "history_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1", history_id)?.pop())
    }

    fn reports_waiting(&self) -> Result<usize, StoreError> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM sync_outbox WHERE sent_at IS NULL", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// Outbox rows matching `condition` (with one argument, `?1`).
fn outbox(store: &SqliteStore, condition: &str, arg: i64) -> Result<Vec<Queued>, StoreError> {
    let conn = store.conn();
    let mut stmt =
        conn.prepare(&format!("SELECT history_id, body, created_at, sent_at FROM sync_outbox WHERE {condition}"))?;
    let rows = stmt
        .query_map([arg], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    drop(conn);
    rows.into_iter()
        .map(|(history_id, body, created_at, sent_at)| {
            let report: Report = serde_json::from_str(&body)?;
            Ok(Queued { history_id, report, created_at, sent_at })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HistoryEntry;
    use crate::sync::feed::{Cursor, Published};
    use crate::sync::report::ReportLabel;

    fn link(fingerprint: &str) -> HubLink {
        HubLink {
            url: "http://127.0.0.1:1".into(),
            token: "t".into(),
            key: HubKey { public_key: "k".into(), fingerprint: fingerprint.into() },
            cursor: Cursor::start(fingerprint).to_string(),
            last_sync: None,
        }
    }

    fn page(hub: &str, from: i64, to: i64, adds: &[&str], removes: &[&str], more: bool) -> IndicatorPage {
        IndicatorPage {
            hub: hub.into(),
            cursor: Cursor { hub, seq: from }.to_string(),
            next: Cursor { hub, seq: to }.to_string(),
            more,
            adds: adds
                .iter()
                .map(|h| Published { hash: h.to_string(), kind: IndicatorKind::Phone, count: 2, last_seen: 5 })
                .collect(),
            removes: removes.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn pages_apply_in_order_with_their_cursor_and_a_stale_one_is_ignored() {
        let s = SqliteStore::open_in_memory().expect("store");
        assert_eq!(s.hub_link().expect("link"), None);
        s.pair_hub(&link("fp")).expect("pair");
        assert!(s.apply_page(&page("fp", 0, 2, &["a", "b"], &[], true), 10).expect("first"));
        assert_eq!(s.hub_link().expect("link").expect("paired").last_sync, None, "more pages follow");
        assert!(!s.apply_page(&page("fp", 0, 2, &["a", "b"], &[], true), 10).expect("again"), "already applied");
        assert!(s.apply_page(&page("fp", 2, 3, &[], &["a"], false), 11).expect("second"));
        let l = s.hub_link().expect("link").expect("paired");
        assert_eq!((l.cursor.as_str(), l.last_sync), ("fp.3", Some(11)));
        let set = s.indicator_set().expect("set");
        assert_eq!((set.len(), set.get("b").map(|k| k.count)), (1, Some(2)));
    }

    #[test]
    fn pairing_another_hub_starts_over_and_the_same_hub_keeps_its_place() {
        let s = SqliteStore::open_in_memory().expect("store");
        s.pair_hub(&link("fp")).expect("pair");
        s.apply_page(&page("fp", 0, 1, &["a"], &[], false), 10).expect("page");
        s.pair_hub(&link("fp")).expect("pair again");
        assert_eq!(s.hub_link().expect("link").expect("paired").cursor, "fp.0", "the next sync reads from the start");
        assert_eq!(s.indicator_count().expect("count"), 1, "and the indicators stay meanwhile");
        s.set_synced_rules("2099.1.1.1", "version = \"2099.1.1.1\"").expect("rules");
        s.pair_hub(&link("fp")).expect("pair again");
        assert_eq!(s.synced_rules().expect("rules").map(|(v, _)| v).as_deref(), Some("2099.1.1.1"));
        s.pair_hub(&link("other")).expect("another hub");
        assert_eq!(s.hub_link().expect("link").expect("paired").cursor, "other.0");
        assert_eq!(s.indicator_count().expect("count"), 0);
        assert_eq!(s.synced_rules().expect("rules"), None, "another hub's rules are not this one's");
    }

    fn queued(history_id: i64, label: ReportLabel, at: i64) -> Queued {
        let entry = HistoryEntry {
            id: history_id,
            created_at: at,
            channel: "cli".into(),
            user_id: None,
            input_hash: "ab".into(),
            redacted_text: "pay the fee to [PHONE]".into(),
            label: crate::Label::Uncertain,
            score: 0.6,
            flags: vec!["upfront-payment".into()],
            tiers: vec![],
            cost_usd: 0.0,
            indicators: crate::sync::report::digests("wa.me/447700900123"),
            analysis: serde_json::Value::Null,
        };
        Queued { history_id, report: Report::on(&entry, label), created_at: at, sent_at: None }
    }

    #[test]
    fn the_outbox_keeps_reports_until_sent_and_a_change_of_mind_replaces_an_unsent_one() {
        let s = SqliteStore::open_in_memory().expect("store");
        s.pair_hub(&link("fp")).expect("pair");
        let first = queued(1, ReportLabel::Scam, 10);
        s.queue_report(&first).expect("queue");
        s.queue_report(&queued(2, ReportLabel::Scam, 11)).expect("queue");
        let changed = queued(1, ReportLabel::Legit, 12);
        s.queue_report(&changed).expect("change of mind");
        let waiting = s.pending_reports(10).expect("pending");
        assert_eq!(waiting.iter().map(|q| q.history_id).collect::<Vec<_>>(), [2, 1], "oldest first");
        assert_eq!(waiting[1].report, changed.report, "the unsent scam report on check 1 was replaced");
        assert_eq!(s.reports_waiting().expect("count"), 2);
        s.report_sent(&changed.report.id, 20).expect("sent");
        assert_eq!(s.reports_waiting().expect("count"), 1);
        let on = s.report_on(1).expect("report").expect("kept after sending");
        assert_eq!((on.report.label, on.sent_at), (ReportLabel::Legit, Some(20)));
        // A sent report stays sent: the next one on the check is a new report with a new id.
        s.queue_report(&queued(1, ReportLabel::Scam, 30)).expect("again");
        assert_eq!(s.reports_waiting().expect("count"), 2);
        assert_eq!(s.report_on(1).expect("report").expect("latest").report.label, ReportLabel::Scam);
        // Another hub does not get what was meant for this one.
        s.pair_hub(&link("other")).expect("another hub");
        assert_eq!(s.reports_waiting().expect("count"), 0);
    }
}
