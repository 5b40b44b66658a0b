//! What Redflag keeps on a machine, behind small traits: the history of checks ([`HistoryStore`]), the LLM
//! verdict cache ([`VerdictCache`]), the spend ledger with its budgets ([`SpendLedger`]), escalation switched
//! off per configuration ([`EscalationState`]) and a device's sync with a hub ([`SyncState`]). [`Store`] is all
//! five, which is what the check service and the escalator hold (`Arc<dyn Store>`).
//!
//! [`SqliteStore`] is the embedded implementation, one SQLite file shared by the CLI, the desktop app and the
//! bridge, on the foundation in [`db`] (connection set-up, immediate writes, one migration runner for the core's
//! and the bridge's schemas). A PostgreSQL implementation for bridges on several nodes adds another `impl`, not
//! another caller.
//!
//! Time is always passed in by the caller as unix seconds (`now`), so tests control it; UTC days and months are
//! computed by the database. Nothing here logs text, user ids or secrets.

mod cache;
pub mod db;
mod history;
mod migrations;
#[cfg(feature = "postgres")]
pub mod pg;
mod spend;
mod state;
mod sync;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use rusqlite::{Connection, Transaction};

pub use cache::{CacheHit, CacheStats, MAX_NEAR_DISTANCE};
pub use db::{Db, Schema};
pub use history::{HistoryEntry, HistoryQuery, NewHistory, Owner};
pub use migrations::CORE_SCHEMA;
pub use spend::{CapKind, Caps, Reserve, SpendRow, Spent, Tokens};
pub use sync::HubLink;

use crate::analysis::Analysis;
use crate::redact::Redactor;

/// What went wrong, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the directory {} for the Redflag database: {source}; check it is writable or set REDFLAG_DB / --db to another file",
        path.display()
    )]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot create the Redflag database file {}: {source}; check the directory is writable or set REDFLAG_DB / --db to another file",
        path.display()
    )]
    CreateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot open the Redflag database at {}: {source}; check the directory is writable or set REDFLAG_DB / --db to another file",
        path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the Redflag database at {} {}",
        path.display(),
        if *keyed {
            "cannot be read with this key: it was encrypted with another one (after a rotation, use the new key), or it is damaged"
        } else {
            "is encrypted or is not a database: if a bridge encrypted it, give its key (REDFLAG_DATA_KEY or data_key_file); otherwise set REDFLAG_DB / --db to another file"
        }
    )]
    Key { path: PathBuf, keyed: bool },
    #[error(
        "the Redflag database at {} is not encrypted, but a key was given: stop the bridge and run `redflag-bridge data-key encrypt` once to encrypt it in place, or unset the key",
        path.display()
    )]
    NotEncrypted { path: PathBuf },
    #[error(
        "the Redflag database at {} was written by a newer Redflag ({part} schema {found}, this build knows {supported}): upgrade Redflag or point REDFLAG_DB elsewhere",
        path.display()
    )]
    NewerSchema { path: PathBuf, part: &'static str, found: u32, supported: u32 },
    #[error(
        "cannot upgrade the Redflag database at {} to {part} schema {version}: {source}; the file is unchanged from schema {}, back it up and report this, or point REDFLAG_DB elsewhere",
        path.display(),
        version - 1
    )]
    Migrate {
        path: PathBuf,
        part: &'static str,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    /// A caller asked for a near-duplicate search wider than the band index can answer (see
    /// [`VerdictCache::cache_near`]).
    #[error(
        "near-duplicate cache lookups support a distance of at most {max}, got {requested}: this is a bug in the caller"
    )]
    NearDistance { requested: u32, max: u32 },
    /// A money amount that would break the budget arithmetic (NaN compares false, so it would slip past a cap).
    #[error("{what} must be a finite, non-negative number of US dollars, got {value}: this is a bug in the caller")]
    Amount { what: &'static str, value: f64 },
    /// Settling a reservation that does not exist or was settled already.
    #[error("spend reservation {0} is not open (never made, or settled already): this is a bug in the caller")]
    Reservation(i64),
    /// A secret kept beside the store (the desktop keeps the hub's pairing token in the OS keyring), worded by its
    /// keeper.
    #[error("{0}")]
    Secret(String),
    #[error("Redflag database error: {0}; if it persists, check free disk space and the file's permissions")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored Redflag record is not the JSON this build expects: {0}")]
    Json(#[from] serde_json::Error),
    /// Connecting to PostgreSQL or migrating it, worded by [`pg`].
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Pg(#[from] pg::PgError),
    #[cfg(feature = "postgres")]
    #[error("Redflag database (PostgreSQL) error: {}; if it persists, check the server's log", pg::reason(.0))]
    Postgres(#[from] postgres::Error),
    #[cfg(feature = "postgres")]
    #[error("no PostgreSQL connection free within 10 s ({0}); check that the server is up and not out of connections")]
    Pool(#[from] r2d2::Error),
    /// A device's sync state asked of a store that is not a device's (a bridge's PostgreSQL store).
    #[error("this store belongs to a bridge, which is a hub and never pairs with one: {0} is for desktops and the CLI")]
    NotADevice(&'static str),
}

/// The history of checks. Every read and deletion is scoped to an [`Owner`]: the desktop and the CLI reach their
/// local user's checks, the bridge one sender's, only an operator's tools everyone's.
pub trait HistoryStore: Send + Sync + fmt::Debug {
    /// Record one check as given; returns its id. Callers want [`Store::record_check`], which redacts.
    fn history_add(&self, h: &NewHistory<'_>) -> Result<i64, StoreError>;
    /// Checks matching `q`, newest first.
    fn history_list(&self, q: &HistoryQuery) -> Result<Vec<HistoryEntry>, StoreError>;
    fn history_get(&self, id: i64, owner: &Owner) -> Result<Option<HistoryEntry>, StoreError>;
    /// Whether a check of this owner's with this id was there to delete.
    fn history_delete(&self, id: i64, owner: &Owner) -> Result<bool, StoreError>;
    /// Delete every check of this owner's; returns how many.
    fn history_clear(&self, owner: &Owner) -> Result<usize, StoreError>;
    /// Delete every check made before `older_than` (unix seconds), whoever made it: retention.
    fn history_purge(&self, older_than: i64) -> Result<usize, StoreError>;
    /// "Delete my data": a sender's checks go, and their spend rows stop naming them. With `spend_to` (a keyed
    /// pseudonym of the sender, as the bridge records spend under) the rows move to it instead of losing their
    /// owner, so the per-user caps keep counting what was spent for the rest of their window: erasing one's data
    /// must not buy a fresh budget. Without it they are unlinked and count only in the operator's totals.
    fn forget_user(&self, user_id: &str, spend_to: Option<&str>) -> Result<usize, StoreError>;
}

/// LLM verdicts by the hash of the redacted text sent, and by its SimHash for near-duplicates, per `scope` (the
/// endpoint, model and prompt that answered).
pub trait VerdictCache: Send + Sync + fmt::Debug {
    /// The verdict stored for exactly this key, if written at or after `not_before`.
    fn cache_exact(&self, scope: &str, key: &str, not_before: i64) -> Result<Option<CacheHit>, StoreError>;
    /// The closest verdict whose SimHash is within `max_distance` bits (at most [`MAX_NEAR_DISTANCE`]).
    fn cache_near(
        &self,
        scope: &str,
        simhash: u64,
        max_distance: u32,
        not_before: i64,
    ) -> Result<Option<CacheHit>, StoreError>;
    fn cache_put(&self, scope: &str, key: &str, simhash: u64, verdict_json: &str, now: i64) -> Result<(), StoreError>;
    /// Delete entries written before `not_before`; returns how many.
    fn cache_purge(&self, not_before: i64) -> Result<usize, StoreError>;
    fn cache_stats(&self) -> Result<CacheStats, StoreError>;
}

/// What LLM calls cost: reserve an estimate against the caps before a call, settle the real cost after it, so
/// concurrent callers can never overspend together.
pub trait SpendLedger: Send + Sync + fmt::Debug {
    fn spend_reserve(
        &self,
        user_id: Option<&str>,
        model: &str,
        estimate_usd: f64,
        caps: &Caps,
        now: i64,
    ) -> Result<Reserve, StoreError>;
    /// Replace a reservation's estimate with what the call really cost (`ok` false: it failed and cost nothing).
    fn spend_settle(&self, reservation: i64, ok: bool, tokens: Tokens, cost_usd: f64) -> Result<(), StoreError>;
    /// Spend by UTC day, model and user, newest first, since `since` (unix seconds) if given.
    fn spend_report(&self, since: Option<i64>) -> Result<Vec<SpendRow>, StoreError>;
    /// Spent today and this month (UTC), overall and by `user_id`.
    fn spent(&self, user_id: Option<&str>, now: i64) -> Result<Spent, StoreError>;
}

/// Escalation switched off for an LLM configuration the endpoint rejected for good (bad key, no quota), by the
/// configuration's fingerprint, until the configuration changes or someone switches it back on.
pub trait EscalationState: Send + Sync + fmt::Debug {
    /// Why it was switched off, if it is.
    fn llm_disabled(&self, fingerprint: &str) -> Result<Option<String>, StoreError>;
    fn disable_llm(&self, fingerprint: &str, reason: &str, now: i64) -> Result<(), StoreError>;
    fn enable_llm(&self, fingerprint: &str) -> Result<(), StoreError>;
}

/// A device's side of sync ([`crate::sync`]): the hub it is paired with and the indicators it has read.
pub trait SyncState: Send + Sync + fmt::Debug {
    fn hub_link(&self) -> Result<Option<HubLink>, StoreError>;
    /// Pair with a hub, replacing any earlier pairing, and read its feed from the start at the next sync. Re-pairing
    /// the same hub (same key) keeps the indicators until that sync has brought them up to date (a hub restored
    /// from a backup is fixed this way); another hub's are dropped, since its digests and rules mean nothing here.
    fn pair_hub(&self, link: &HubLink) -> Result<(), StoreError>;
    /// Apply one verified page and move the cursor past it, all at once. `false` (nothing changed) when the page
    /// does not start at the stored cursor: another sync applied it already.
    fn apply_page(&self, page: &crate::sync::feed::IndicatorPage, now: i64) -> Result<bool, StoreError>;
    /// Every synced indicator, for local matching.
    fn indicator_set(&self) -> Result<crate::sync::indicators::IndicatorSet, StoreError>;
    fn indicator_count(&self) -> Result<usize, StoreError>;
    /// The rules bundle taken from the hub: its version and the rules file.
    fn synced_rules(&self) -> Result<Option<(String, String)>, StoreError>;
    fn set_synced_rules(&self, version: &str, rules: &str) -> Result<(), StoreError>;

    /// Put a report in the outbox, replacing any report on the same check that has not been sent yet (the person
    /// changed their mind before it went).
    fn queue_report(&self, queued: &crate::sync::report::Queued) -> Result<(), StoreError>;
    /// Reports not sent yet, oldest first, at most `limit`.
    fn pending_reports(&self, limit: usize) -> Result<Vec<crate::sync::report::Queued>, StoreError>;
    /// The hub took report `id` (or refused it for good): it leaves the outbox.
    fn report_sent(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// The latest report on a check, sent or waiting.
    fn report_on(&self, history_id: i64) -> Result<Option<crate::sync::report::Queued>, StoreError>;
    /// How many reports wait to be sent.
    fn reports_waiting(&self) -> Result<usize, StoreError>;
}

/// Everything the core keeps: what the check service, the escalator and the shells hold.
pub trait Store: HistoryStore + VerdictCache + SpendLedger + EscalationState + SyncState {
    /// Record one check: the redacted text only (the original may hold personal data), its hash, and the verdict
    /// without the text, every quote of the text in it redacted the same way. `channel` is `cli`, `desktop`,
    /// `whatsapp`, `sms`, `telegram` or `api`; `user_id` is `None` for the local user.
    fn record_check(
        &self,
        a: &Analysis,
        redactor: &Redactor,
        channel: &str,
        user_id: Option<&str>,
    ) -> Result<i64, StoreError> {
        history::record(self, a, redactor, channel, user_id)
    }

    /// Apply the retention settings: history older than `history` (if set) and cache entries older than
    /// `cache_ttl` are deleted. Every program that opens the store calls this, so old data goes whichever is used.
    fn purge_expired(
        &self,
        history: Option<std::time::Duration>,
        cache_ttl: std::time::Duration,
        now: i64,
    ) -> Result<Purged, StoreError> {
        let before = |d: std::time::Duration| now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let history = match history {
            Some(keep) => self.history_purge(before(keep))?,
            None => 0,
        };
        Ok(Purged { history, cache: self.cache_purge(before(cache_ttl))? })
    }
}

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub history: usize,
    pub cache: usize,
}

impl<T: HistoryStore + VerdictCache + SpendLedger + EscalationState + SyncState> Store for T {}

/// Where the database lives by default: the platform's data directory (`$XDG_DATA_HOME/redflag/redflag.db` on
/// Linux). `None` when the platform has no home directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "Redflag", "redflag").map(|dirs| dirs.data_dir().join("redflag.db"))
}

/// The core's tables in a SQLite file ([`Db`]), possibly shared with the bridge's.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl SqliteStore {
    /// Open (or create) the database at `path`, creating its parent directories, and upgrade the core's tables to
    /// the latest schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore { db: Arc::new(Db::open(path, &[&CORE_SCHEMA])?) })
    }

    /// A private database that lives as long as this value (tests, or a session that must leave no trace).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore { db: Arc::new(Db::open_in_memory(&[&CORE_SCHEMA])?) })
    }

    /// The core's tables in a database already open for other parts too (the bridge's queue): one connection,
    /// one file.
    pub fn on(db: Arc<Db>) -> Result<SqliteStore, StoreError> {
        db.migrate(&CORE_SCHEMA)?;
        Ok(SqliteStore { db })
    }

    /// The file behind this store; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.db.path()
    }

    /// The core's schema version in the open database (always `CORE_SCHEMA.version()` once open succeeded).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.db.schema_version(CORE_SCHEMA.name)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.db.conn()
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.db.write(f)
    }
}

/// `usize` counts (limits, offsets) as SQLite integers; nothing real comes near the bound, so saturating is fine.
fn sql_int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// SQLite counts (never negative) as `u64`.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A realistic [`crate::Analysis`] for tests, built from JSON so that fields added to it later (with serde
/// defaults) do not break these tests.
#[cfg(test)]
pub(crate) fn sample_analysis(label: crate::Label, flags: &[&str], text: Option<&str>) -> crate::Analysis {
    let flags: Vec<serde_json::Value> = flags
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "title": id, "explanation": "test flag", "weight": 0.5,
                "evidence": [{"start": 0, "end": 4, "snippet": "test"}]
            })
        })
        .collect();
    let value = serde_json::json!({
        "label": label,
        "score": 0.8125,
        "summary": "test summary",
        "flags": flags,
        "tiers": ["rules", "model"],
        "tier_scores": {"rules": 0.75, "model": 0.875},
        "escalation": {"recommended": false, "reason": "confident"},
        "versions": {"core": "0.0.0-test", "rules": "test"},
        "timing": {"normalize_us": 1, "rules_us": 2, "total_us": 3},
        "text": text,
    });
    serde_json::from_value(value).expect("sample analysis matches crate::Analysis")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_store_is_migrated_and_has_no_path() {
        let store = SqliteStore::open_in_memory().expect("open");
        assert_eq!(store.schema_version().expect("version"), CORE_SCHEMA.version());
        assert_eq!(store.path(), None);
        assert!(format!("{store:?}").contains("SqliteStore"));
    }

    #[test]
    fn default_path_is_a_redflag_db_file() {
        // Only `None` when the platform has no home directory at all.
        if let Some(path) = default_path() {
            assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("redflag.db"));
            assert!(path.to_string_lossy().to_lowercase().contains("redflag"));
        }
    }

    #[test]
    fn the_store_is_shareable_as_a_trait_object() {
        fn shareable<T: Send + Sync + ?Sized>() {}
        shareable::<dyn Store>();
        let _: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("open"));
    }
}
