//! The SQLite [`Hub`], in the bridge's file and on its connection ([`redflag::store::Db`]); its tables are part of
//! the `bridge` schema (`queue/schema.rs`). Its cases run in `tests/hub_store.rs`, with PostgreSQL's.

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
