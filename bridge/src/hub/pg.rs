//! The PostgreSQL [`Hub`], for a bridge on several nodes: every node pairs, publishes and serves the same feed. The
//! same statements as SQLite's, with one difference that matters for the feed: the sequence number of a change is
//! taken from a one-row counter (`hub_seq`) that each writing transaction locks until it commits, so changes
//! commit in sequence order and a device reading "the changes after N" can never pass a number whose change is
//! still to commit on another node (`MAX(seq) + 1`, as one SQLite writer can use, would let two nodes take the same
//! number, or commit out of order).

use std::sync::Arc;

use postgres::Transaction;
use redflag::store::pg::Pg;
use redflag::sync::feed::Published;
use redflag::sync::indicators::{self, IndicatorKind};
use redflag::sync::report::{Report, ReportLabel};

use super::{Changes, Device, Hub, HubError, Indicator, Observed, ReportTaken, ReportedValue, Source, StoredReport};

#[derive(Debug, Clone)]
pub struct PgHub {
    pg: Arc<Pg>,
}

impl PgHub {
    /// The hub's tables on the bridge's PostgreSQL pool (migrated with the queue's schema).
    pub fn on(pg: Arc<Pg>) -> PgHub {
        PgHub { pg }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T, HubError>) -> Result<T, HubError> {
        let mut conn = self.pg.conn()?;
        let mut tx = conn.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The next sequence number, locking the counter until the transaction ends.
fn next_seq(tx: &mut Transaction<'_>) -> Result<i64, HubError> {
    Ok(tx.query_one("UPDATE hub_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq", &[])?.get(0))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl Hub for PgHub {
    fn add_device(&self, name: &str, token_hash: &str, now_ms: i64) -> Result<(), HubError> {
        self.write(|tx| {
            // Two nodes pairing the same name at once: the advisory lock on the name makes one wait for the other.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('hub_device:' || $1))", &[&name])?;
            let taken: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM hub_devices WHERE name = $1 AND revoked_at IS NULL)",
                    &[&name],
                )?
                .get(0);
            if taken {
                return Err(HubError::DeviceExists(name.to_string()));
            }
            tx.execute(
                "INSERT INTO hub_devices (name, token_hash, created_at) VALUES ($1, $2, $3)",
                &[&name, &token_hash, &now_ms],
            )?;
            Ok(())
        })
    }

    fn device(&self, token_hash: &str, now_ms: i64) -> Result<Option<String>, HubError> {
        let mut conn = self.pg.conn()?;
        let row = conn.query_opt(
            "UPDATE hub_devices SET last_seen_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL RETURNING name",
            &[&token_hash, &now_ms],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn revoke_device(&self, name: &str, now_ms: i64) -> Result<bool, HubError> {
        let n = self.pg.conn()?.execute(
            "UPDATE hub_devices SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            &[&name, &now_ms],
        )?;
        Ok(n > 0)
    }

    fn devices(&self) -> Result<Vec<Device>, HubError> {
        let rows = self
            .pg
            .conn()?
            .query("SELECT name, created_at, revoked_at, last_seen_at FROM hub_devices ORDER BY created_at, id", &[])?;
        Ok(rows
            .iter()
            .map(|r| Device {
                name: r.get(0),
                created_at_ms: r.get(1),
                revoked_at_ms: r.get(2),
                last_seen_ms: r.get(3),
            })
            .collect())
    }

    fn observe(&self, kind: IndicatorKind, value: &str, source: Source, now: i64) -> Result<Observed, HubError> {
        let value = indicators::normalise(kind, value)?;
        let hash = indicators::digest(kind, &value);
        if kind == IndicatorKind::Domain && indicators::is_shared_host(&value) {
            return Ok(Observed::Allowed);
        }
        self.write(|tx| {
            let seq = next_seq(tx)?;
            let allowed: bool =
                tx.query_one("SELECT EXISTS (SELECT 1 FROM hub_allow WHERE hash = $1)", &[&hash])?.get(0);
            if allowed {
                return Ok(Observed::Allowed);
            }
            let n: i32 = tx
                .query_one(
                    "INSERT INTO hub_indicators (seq, hash, kind, value, count, first_seen, last_seen, source, published)
                     VALUES ($1, $2, $3, $4, 1, $5, $5, $6, TRUE)
                     ON CONFLICT (hash) DO UPDATE SET seq = excluded.seq, count = hub_indicators.count + 1,
                         last_seen = excluded.last_seen, published = TRUE,
                         value = CASE WHEN hub_indicators.value = '' THEN excluded.value ELSE hub_indicators.value END
                     RETURNING count",
                    &[&seq, &hash, &kind.as_str(), &value, &now, &source.as_str()],
                )?
                .get(0);
            Ok(Observed::Published { count: count(n) })
        })
    }

    fn sighted(&self, kind: IndicatorKind, value: &str, sender: &str, now: i64) -> Result<Observed, HubError> {
        let normalised = indicators::normalise(kind, value)?;
        if kind == IndicatorKind::Domain && indicators::is_shared_host(&normalised) {
            return Ok(Observed::Allowed);
        }
        let hash = indicators::digest(kind, &normalised);
        let senders: i64 = self.write(|tx| {
            tx.execute(
                "INSERT INTO hub_sightings (hash, sender, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&hash, &sender, &now],
            )?;
            Ok(tx.query_one("SELECT COUNT(*) FROM hub_sightings WHERE hash = $1", &[&hash])?.get(0))
        })?;
        let senders = u32::try_from(senders).unwrap_or(u32::MAX);
        if senders < super::MIN_SENDERS {
            return Ok(Observed::Pending { senders });
        }
        self.observe(kind, &normalised, Source::Bridge, now)
    }

    fn remove(&self, kind: IndicatorKind, value: &str) -> Result<bool, HubError> {
        let (hash, _) = super::named(kind, value)?;
        self.write(|tx| unpublish(tx, &hash))
    }

    fn allow(&self, kind: IndicatorKind, value: &str, now: i64) -> Result<(), HubError> {
        let (hash, value) = super::named(kind, value)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO hub_allow (hash, kind, value, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hash) DO NOTHING",
                &[&hash, &kind.as_str(), &value, &now],
            )?;
            unpublish(tx, &hash)?;
            Ok(())
        })
    }

    fn indicators(&self, limit: usize) -> Result<Vec<Indicator>, HubError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.pg.conn()?.query(
            "SELECT kind, value, count, first_seen, last_seen, source, published, hash FROM hub_indicators
             ORDER BY last_seen DESC, seq DESC LIMIT $1",
            &[&limit],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(Indicator {
                    kind: r.get::<_, String>(0).parse().ok()?,
                    value: r.get(1),
                    count: count(r.get(2)),
                    first_seen: r.get(3),
                    last_seen: r.get(4),
                    source: r.get(5),
                    published: r.get(6),
                    hash: r.get(7),
                })
            })
            .collect())
    }

    fn changes(&self, after: i64, limit: usize) -> Result<Changes, HubError> {
        // One more than asked says whether more follow.
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let rows = self.pg.conn()?.query(
            "SELECT seq, hash, kind, count, last_seen, published FROM hub_indicators WHERE seq > $1
             ORDER BY seq LIMIT $2",
            &[&after, &fetch],
        )?;
        let mut changes = Changes { last: after, ..Changes::default() };
        for r in &rows {
            if changes.adds.len() + changes.removes.len() == limit {
                changes.more = true;
                break;
            }
            changes.last = r.get(0);
            let (hash, published): (String, bool) = (r.get(1), r.get(5));
            match r.get::<_, String>(2).parse::<IndicatorKind>() {
                Ok(kind) if published => {
                    changes.adds.push(Published { hash, kind, count: count(r.get(3)), last_seen: r.get(4) })
                }
                _ => changes.removes.push(hash),
            }
        }
        Ok(changes)
    }

    fn last_change(&self) -> Result<i64, HubError> {
        Ok(self.pg.conn()?.query_one("SELECT seq FROM hub_seq WHERE id = 1", &[])?.get(0))
    }

    fn add_report(&self, device: &str, report: &Report, threshold: u32, now: i64) -> Result<ReportTaken, HubError> {
        let flags = serde_json::to_string(&report.flags)?;
        let verdict = serde_json::to_value(report.verdict)?.as_str().unwrap_or_default().to_string();
        self.write(|tx| {
            // A scam report can publish: before counting a digest's devices it takes the feed's counter, as every
            // writer of the feed does, so two nodes counting the same digest see each other's reports.
            let mut locked = false;
            let id: Option<i64> = tx
                .query_opt(
                    "INSERT INTO hub_reports (device, client_id, label, text, verdict, score, flags, checked_at,
                                              received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (device, client_id) DO NOTHING RETURNING id",
                    &[
                        &device,
                        &report.id,
                        &report.label.as_str(),
                        &report.text,
                        &verdict,
                        &f64::from(report.score),
                        &flags,
                        &report.checked_at,
                        &now,
                    ],
                )?
                .map(|r| r.get(0));
            let Some(id) = id else { return Ok(ReportTaken { duplicate: true, published: 0 }) };
            let mut published = 0;
            for value in &report.indicators {
                let inserted = tx.execute(
                    "INSERT INTO hub_report_values (report, hash, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&id, &value.hash, &value.kind.as_str()],
                )?;
                if inserted == 0 || report.label != ReportLabel::Scam {
                    continue;
                }
                if !locked {
                    next_seq(tx)?;
                    locked = true;
                }
                let before: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM hub_report_values v JOIN hub_reports r ON r.id = v.report
                          WHERE v.hash = $1 AND r.device = $2 AND r.label = 'scam' AND r.id <> $3)",
                        &[&value.hash, &device, &id],
                    )?
                    .get(0);
                let allowed: bool =
                    tx.query_one("SELECT EXISTS (SELECT 1 FROM hub_allow WHERE hash = $1)", &[&value.hash])?.get(0);
                if before || allowed {
                    continue;
                }
                let state: Option<bool> = tx
                    .query_opt("SELECT published FROM hub_indicators WHERE hash = $1", &[&value.hash])?
                    .map(|r| r.get(0));
                match state {
                    Some(false) => continue,
                    Some(true) => {
                        let seq = next_seq(tx)?;
                        tx.execute(
                            "UPDATE hub_indicators SET seq = $2, count = count + 1, last_seen = $3 WHERE hash = $1",
                            &[&value.hash, &seq, &now],
                        )?;
                    }
                    None => {
                        let devices = scam_reporters(tx, &value.hash)?;
                        if devices < threshold {
                            continue;
                        }
                        let seq = next_seq(tx)?;
                        let devices = i32::try_from(devices).unwrap_or(i32::MAX);
                        tx.execute(
                            "INSERT INTO hub_indicators (seq, hash, kind, value, count, first_seen, last_seen,
                                                         source, published)
                             VALUES ($1, $2, $3, '', $4, $5, $5, $6, TRUE)",
                            &[&seq, &value.hash, &value.kind.as_str(), &devices, &now, &Source::Reports.as_str()],
                        )?;
                    }
                }
                published += 1;
            }
            Ok(ReportTaken { duplicate: false, published })
        })
    }

    fn reports(&self, label: Option<ReportLabel>, limit: usize) -> Result<Vec<StoredReport>, HubError> {
        let mut conn = self.pg.conn()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let label = label.map(ReportLabel::as_str);
        let rows = conn.query(
            "SELECT id, device, label, text, verdict, score, flags, checked_at, received_at FROM hub_reports
             WHERE $1::TEXT IS NULL OR label = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
            &[&label, &limit],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.get(0);
            let values = conn.query(
                "SELECT v.hash, v.kind,
                        (SELECT COUNT(DISTINCT r.device) FROM hub_report_values w JOIN hub_reports r
                           ON r.id = w.report WHERE w.hash = v.hash AND r.label = 'scam'),
                        EXISTS (SELECT 1 FROM hub_indicators i WHERE i.hash = v.hash AND i.published)
                 FROM hub_report_values v WHERE v.report = $1 ORDER BY v.ord",
                &[&id],
            )?;
            let indicators = values
                .iter()
                .filter_map(|v| {
                    Some(ReportedValue {
                        kind: v.get::<_, String>(1).parse().ok()?,
                        hash: v.get(0),
                        devices: u32::try_from(v.get::<_, i64>(2)).unwrap_or(u32::MAX),
                        published: v.get(3),
                    })
                })
                .collect();
            let label: String = r.get(2);
            let flags: String = r.get(6);
            out.push(StoredReport {
                id,
                device: r.get(1),
                label: label.parse().map_err(HubError::Report)?,
                text: r.get(3),
                verdict: r.get(4),
                // Written from an f32; narrowing back is exact.
                score: r.get::<_, f64>(5) as f32,
                flags: serde_json::from_str(&flags)?,
                indicators,
                checked_at: r.get(7),
                received_at: r.get(8),
            });
        }
        Ok(out)
    }

    fn publish_bundle(&self, version: &str, rules: &str, now: i64) -> Result<(), HubError> {
        self.pg.conn()?.execute(
            "INSERT INTO hub_bundle (id, version, rules, published_at) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, rules = excluded.rules,
                 published_at = excluded.published_at",
            &[&version, &rules, &now],
        )?;
        Ok(())
    }

    fn bundle(&self) -> Result<Option<(String, String)>, HubError> {
        let row = self.pg.conn()?.query_opt("SELECT version, rules FROM hub_bundle WHERE id = 1", &[])?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}

/// How many different devices reported `hash` in a scam.
fn scam_reporters(tx: &mut Transaction<'_>, hash: &str) -> Result<u32, HubError> {
    let n: i64 = tx
        .query_one(
            "SELECT COUNT(DISTINCT r.device) FROM hub_report_values v JOIN hub_reports r ON r.id = v.report
             WHERE v.hash = $1 AND r.label = 'scam'",
            &[&hash],
        )?
        .get(0);
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Withdraw a published value: a change of its own, so devices that hold it drop it.
fn unpublish(tx: &mut Transaction<'_>, hash: &str) -> Result<bool, HubError> {
    let seq = next_seq(tx)?;
    let n = tx.execute(
        "UPDATE hub_indicators SET published = FALSE, seq = $2 WHERE hash = $1 AND published",
        &[&hash, &seq],
    )?;
    Ok(n > 0)
}
