//! The LLM verdict cache: a paid verdict is reused for the same text, or for a near-duplicate of it.
//!
//! Entries are keyed by `scope` (the LLM model and prompt version: a verdict from another model or prompt is
//! never reused) and `key` (SHA-256 of the normalised, redacted text). The verdict is an opaque JSON string the
//! escalation tier owns; the store never parses it.
//!
//! Near-duplicates are found by SimHash ([`crate::simhash`]): scam messages are mass-sent with small edits (a
//! name, a number), and their 64-bit fingerprints differ in a few bits. Scanning every entry for the Hamming
//! distance would grow with the cache, so each fingerprint is also stored as four 16-bit bands
//! `(h >> 16*i) & 0xFFFF`, each indexed with the scope. By the pigeonhole principle, two fingerprints within
//! distance 3 differ in at most 3 of the 4 bands, so they agree exactly on at least one: the candidates are the
//! rows matching any band (one indexed lookup per band), and the exact distance `(a ^ b).count_ones()` is
//! computed on that short list in Rust. The closest candidate wins; ties go to the newest verdict. At distance 4 two fingerprints
//! can differ in every band and be missed, which is why [`Store::cache_near`] refuses a `max_distance` above 3
//! with [`StoreError::NearDistance`] instead of silently answering wrong.
//!
//! Fingerprints are `u64` stored bit-for-bit in SQLite's signed 64-bit integers. Reading counts as use: a hit
//! bumps the entry's `hits`, which [`Store::cache_stats`] reports. Lookups do not take the write lock unless
//! they hit, so misses never queue behind other writers.

use std::cmp::Reverse;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{SqliteStore, StoreError, VerdictCache, count};

/// The widest near-duplicate search the four-band index answers completely (see the module docs).
pub const MAX_NEAR_DISTANCE: u32 = 3;

/// A cached verdict.
#[derive(Debug, Clone)]
pub struct CacheHit {
    /// The verdict as it was stored.
    pub verdict_json: String,
    /// Hamming distance between the fingerprints; 0 for an exact hit.
    pub distance: u32,
    /// When the verdict was stored (unix seconds).
    pub created_at: i64,
}

/// How much the cache holds and how often it was used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub entries: u64,
    /// Total hits over all entries still in the cache.
    pub hits: u64,
}

/// Every fresh entry in the scope sharing at least one band with the probe: `?1` scope, `?2` not_before,
/// `?3..?6` the probe's bands. One arm per band rather than `band0 = ? OR band1 = ? ...`: without statistics the
/// planner serves that `OR` from the `scope` prefix alone, which scans the whole cache when there is one scope
/// (the usual case). Each arm here is an equality on both columns of its `(scope, bandN)` index. A row matching
/// several bands comes back several times; that is harmless, the duplicates rank the same.
const NEAR_CANDIDATES: &str = "
    SELECT key, simhash, verdict, created_at FROM llm_cache WHERE scope = ?1 AND band0 = ?3 AND created_at >= ?2
    UNION ALL
    SELECT key, simhash, verdict, created_at FROM llm_cache WHERE scope = ?1 AND band1 = ?4 AND created_at >= ?2
    UNION ALL
    SELECT key, simhash, verdict, created_at FROM llm_cache WHERE scope = ?1 AND band2 = ?5 AND created_at >= ?2
    UNION ALL
    SELECT key, simhash, verdict, created_at FROM llm_cache WHERE scope = ?1 AND band3 = ?6 AND created_at >= ?2";

/// A `u64` fingerprint bit-for-bit as SQLite's signed integer, and back.
pub(crate) fn to_sql(h: u64) -> i64 {
    i64::from_ne_bytes(h.to_ne_bytes())
}

pub(crate) fn from_sql(h: i64) -> u64 {
    u64::from_ne_bytes(h.to_ne_bytes())
}

/// The four 16-bit bands of a fingerprint, lowest first.
pub(crate) fn bands(h: u64) -> [i64; 4] {
    [0, 1, 2, 3].map(|i| i64::from(((h >> (16 * i)) & 0xFFFF) as u16))
}

/// Count one more use of an entry. A failure here must not throw away a verdict that was already paid for, so it
/// is logged and ignored (the count is statistics only).
fn bump_hits(conn: &Connection, scope: &str, key: &str) {
    if let Err(e) =
        conn.execute("UPDATE llm_cache SET hits = hits + 1 WHERE scope = ?1 AND key = ?2", params![scope, key])
    {
        tracing::warn!(error = %e, "could not count a cache hit");
    }
}

/// Whether a candidate at `distance`, made at `created_at`, beats `best`: the closest wins, ties go to the newest.
pub(crate) fn closer(best: Option<&CacheHit>, distance: u32, created_at: i64) -> bool {
    let rank = |d: u32, at: i64| (d, Reverse(at));
    best.is_none_or(|b| rank(distance, created_at) < rank(b.distance, b.created_at))
}

impl VerdictCache for SqliteStore {
    /// The verdict stored for exactly this text (`key`) in this scope, if it is not older than `not_before`.
    fn cache_exact(&self, scope: &str, key: &str, not_before: i64) -> Result<Option<CacheHit>, StoreError> {
        let conn = self.conn();
        let hit = conn
            .query_row(
                "SELECT verdict, created_at FROM llm_cache WHERE scope = ?1 AND key = ?2 AND created_at >= ?3",
                params![scope, key, not_before],
                |row| Ok(CacheHit { verdict_json: row.get(0)?, distance: 0, created_at: row.get(1)? }),
            )
            .optional()?;
        if hit.is_some() {
            bump_hits(&conn, scope, key);
        }
        Ok(hit)
    }

    /// The closest verdict in this scope whose fingerprint is within `max_distance` bits of `simhash` (at most
    /// [`MAX_NEAR_DISTANCE`]) and not older than `not_before`; ties go to the newest.
    fn cache_near(
        &self,
        scope: &str,
        simhash: u64,
        max_distance: u32,
        not_before: i64,
    ) -> Result<Option<CacheHit>, StoreError> {
        if max_distance > MAX_NEAR_DISTANCE {
            return Err(StoreError::NearDistance { requested: max_distance, max: MAX_NEAR_DISTANCE });
        }
        let [b0, b1, b2, b3] = bands(simhash);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(NEAR_CANDIDATES)?;
        let mut best: Option<(String, CacheHit)> = None;
        let mut rows = stmt.query(params![scope, not_before, b0, b1, b2, b3])?;
        while let Some(row) = rows.next()? {
            let distance = (from_sql(row.get(1)?) ^ simhash).count_ones();
            let created_at: i64 = row.get(3)?;
            if distance > max_distance {
                continue;
            }
            if closer(best.as_ref().map(|(_, b)| b), distance, created_at) {
                best = Some((row.get(0)?, CacheHit { verdict_json: row.get(2)?, distance, created_at }));
            }
        }
        drop(rows);
        drop(stmt);
        Ok(best.map(|(key, hit)| {
            bump_hits(&conn, scope, &key);
            hit
        }))
    }

    /// Store (or replace) the verdict for this text. Replacing keeps the entry's hit count.
    fn cache_put(&self, scope: &str, key: &str, simhash: u64, verdict_json: &str, now: i64) -> Result<(), StoreError> {
        let [b0, b1, b2, b3] = bands(simhash);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO llm_cache (scope, key, simhash, band0, band1, band2, band3, verdict, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (scope, key) DO UPDATE SET
                     simhash = excluded.simhash, band0 = excluded.band0, band1 = excluded.band1,
                     band2 = excluded.band2, band3 = excluded.band3, verdict = excluded.verdict,
                     created_at = excluded.created_at",
                params![scope, key, to_sql(simhash), b0, b1, b2, b3, verdict_json, now],
            )?;
            Ok(())
        })
    }

    /// Drop entries older than `not_before` (the TTL); returns how many went.
    fn cache_purge(&self, not_before: i64) -> Result<usize, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM llm_cache WHERE created_at < ?1", [not_before])?))
    }

    fn cache_stats(&self) -> Result<CacheStats, StoreError> {
        let conn = self.conn();
        let (entries, hits) = conn.query_row("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM llm_cache", [], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })?;
        Ok(CacheStats { entries: count(entries), hits: count(hits) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "gpt-test/prompt-1";
    const NOW: i64 = 1_700_000_000;

    fn store() -> SqliteStore {
        SqliteStore::open_in_memory().expect("in-memory store")
    }

    /// A fingerprint with the top bit set and every band distinct, so flipping bits in one band is visible.
    const BASE: u64 = 0x9E37_79B9_7F4A_7C15;

    #[test]
    fn exact_hit_and_miss() {
        let s = store();
        s.cache_put(SCOPE, "k1", BASE, r#"{"label":"scam"}"#, NOW).expect("put");
        let hit = s.cache_exact(SCOPE, "k1", NOW - 10).expect("lookup").expect("hit");
        assert_eq!(hit.verdict_json, r#"{"label":"scam"}"#);
        assert_eq!(hit.distance, 0);
        assert_eq!(hit.created_at, NOW);
        assert!(s.cache_exact(SCOPE, "k2", NOW - 10).expect("lookup").is_none());
        assert_eq!(s.cache_stats().expect("stats"), CacheStats { entries: 1, hits: 1 });
    }

    #[test]
    fn put_replaces_the_verdict() {
        let s = store();
        s.cache_put(SCOPE, "k1", BASE, "old", NOW).expect("put");
        s.cache_put(SCOPE, "k1", BASE, "new", NOW + 5).expect("put again");
        let hit = s.cache_exact(SCOPE, "k1", NOW).expect("lookup").expect("hit");
        assert_eq!((hit.verdict_json.as_str(), hit.created_at), ("new", NOW + 5));
        assert_eq!(s.cache_stats().expect("stats").entries, 1);
    }

    #[test]
    fn entries_older_than_not_before_are_not_returned_and_purged() {
        let s = store();
        s.cache_put(SCOPE, "old", BASE, "v-old", NOW - 100).expect("put");
        s.cache_put(SCOPE, "new", BASE ^ 1, "v-new", NOW).expect("put");
        assert!(s.cache_exact(SCOPE, "old", NOW - 50).expect("lookup").is_none());
        assert!(s.cache_exact(SCOPE, "old", NOW - 100).expect("lookup").is_some(), "not_before is inclusive");
        // The near lookup must skip the expired exact match and find the fresh one at distance 1.
        let near = s.cache_near(SCOPE, BASE, 3, NOW - 50).expect("lookup").expect("hit");
        assert_eq!((near.verdict_json.as_str(), near.distance), ("v-new", 1));

        assert_eq!(s.cache_purge(NOW - 50).expect("purge"), 1);
        assert!(s.cache_exact(SCOPE, "old", 0).expect("lookup").is_none());
        assert_eq!(s.cache_stats().expect("stats").entries, 1);
    }

    #[test]
    fn scopes_are_isolated() {
        let s = store();
        s.cache_put("model-a/p1", "k", BASE, "a", NOW).expect("put");
        assert!(s.cache_exact("model-b/p1", "k", 0).expect("lookup").is_none());
        assert!(s.cache_exact("model-a/p2", "k", 0).expect("lookup").is_none());
        assert!(s.cache_near("model-b/p1", BASE, 3, 0).expect("lookup").is_none());
        assert!(s.cache_exact("model-a/p1", "k", 0).expect("lookup").is_some());
    }

    #[test]
    fn near_hits_within_three_bits_wherever_they_fall() {
        // Flipped bits spread over different bands, so no band but one (or none of the flipped ones) matches.
        let cases: &[&[u32]] =
            &[&[0], &[63], &[17], &[5, 40], &[20, 63], &[1, 2], &[0, 16, 32], &[15, 31, 47], &[48, 49, 63]];
        for bits in cases {
            let s = store();
            let stored = bits.iter().fold(BASE, |h, b| h ^ (1u64 << b));
            s.cache_put(SCOPE, "k", stored, "v", NOW).expect("put");
            let hit = s.cache_near(SCOPE, BASE, 3, 0).expect("lookup");
            let hit = hit.unwrap_or_else(|| panic!("no near hit for flipped bits {bits:?}"));
            assert_eq!(hit.distance, bits.len() as u32, "flipped bits {bits:?}");
            // A tighter limit than the distance is a miss.
            let tight = bits.len() as u32 - 1;
            assert!(s.cache_near(SCOPE, BASE, tight, 0).expect("lookup").is_none(), "flipped bits {bits:?}");
        }
    }

    #[test]
    fn misses_at_distance_four_and_more() {
        let s = store();
        // Four bits, one per band: no band agrees, and the distance is over the limit anyway.
        s.cache_put(SCOPE, "four-bands", BASE ^ (1 | 1 << 16 | 1 << 32 | 1 << 48), "v4", NOW).expect("put");
        // Four bits in one band: three bands agree, so it is a candidate, and must be rejected by distance.
        s.cache_put(SCOPE, "one-band", BASE ^ 0xF, "v4b", NOW).expect("put");
        s.cache_put(SCOPE, "far", !BASE, "v64", NOW).expect("put");
        assert!(s.cache_near(SCOPE, BASE, 3, 0).expect("lookup").is_none());
    }

    #[test]
    fn the_closest_wins_and_ties_go_to_the_newest() {
        let s = store();
        s.cache_put(SCOPE, "d3", BASE ^ 0b111, "three", NOW + 9).expect("put");
        s.cache_put(SCOPE, "d1-old", BASE ^ (1 << 20), "one-old", NOW).expect("put");
        s.cache_put(SCOPE, "d1-new", BASE ^ (1 << 40), "one-new", NOW + 1).expect("put");
        s.cache_put(SCOPE, "d2", BASE ^ 0b11, "two", NOW + 9).expect("put");
        let hit = s.cache_near(SCOPE, BASE, 3, 0).expect("lookup").expect("hit");
        assert_eq!((hit.verdict_json.as_str(), hit.distance, hit.created_at), ("one-new", 1, NOW + 1));
        // Only the chosen entry counts the hit.
        let hits: i64 =
            s.conn().query_row("SELECT SUM(hits) FROM llm_cache WHERE key = 'd1-new'", [], |r| r.get(0)).expect("hits");
        assert_eq!(hits, 1);
        assert_eq!(s.cache_stats().expect("stats").hits, 1);
    }

    #[test]
    fn a_distance_above_three_is_refused() {
        let s = store();
        let err = s.cache_near(SCOPE, BASE, 4, 0).expect_err("distance 4 cannot be answered");
        assert!(matches!(err, StoreError::NearDistance { requested: 4, max: 3 }), "{err:?}");
    }

    #[test]
    fn fingerprints_with_the_top_bit_set_round_trip() {
        let s = store();
        for (i, h) in [u64::MAX, 1 << 63, BASE, 0, 1].into_iter().enumerate() {
            let key = format!("k{i}");
            s.cache_put(SCOPE, &key, h, "v", NOW).expect("put");
            let stored: i64 = s
                .conn()
                .query_row("SELECT simhash FROM llm_cache WHERE key = ?1", [&key], |r| r.get(0))
                .expect("read back");
            assert_eq!(from_sql(stored), h);
            let hit = s.cache_near(SCOPE, h, 0, 0).expect("lookup").expect("hit");
            assert_eq!(hit.distance, 0);
        }
    }

    #[test]
    fn near_lookup_uses_the_band_indexes() {
        // The point of the bands is not scanning the table; keep the planner honest.
        let s = store();
        let plan: Vec<String> = {
            let conn = s.conn();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {NEAR_CANDIDATES}")).expect("prepare");
            stmt.query_map(params!["s", 0, 1, 2, 3, 4], |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan rows")
        };
        let plan = plan.join("\n");
        for i in 0..4 {
            let search = format!("USING INDEX llm_cache_band{i} (scope=? AND band{i}=?)");
            assert!(plan.contains(&search), "band {i} index unused:\n{plan}");
        }
    }
}
