//! The one SQLite file shared by the CLI, the desktop app and the bridge (issue #4): the history of checks, the
//! LLM verdict cache, the spend ledger with its budgets, and escalation switched off per configuration.
//!
//! Several processes (a CLI run beside the desktop app, bridge workers) open the same file at once, so every
//! connection is set up the same way in [`Store::open`]: WAL (readers never block the writer), `synchronous =
//! NORMAL` (durable across application crashes, and a power cut loses at most the last commits, never the file),
//! foreign keys on, and a 5 s busy timeout so a writer waits for another instead of failing. Every write runs in
//! an `IMMEDIATE` transaction (`Store::write`): it takes the write lock up front, so two writers queue on the
//! busy timeout; a deferred transaction that reads first and upgrades later gets `SQLITE_BUSY` at once instead,
//! because waiting could not help it. Write transactions stay short: no network call ever happens inside one.
//!
//! One `Store` holds one connection behind a mutex, which makes it `Send + Sync` so an `Arc<Store>` can be shared
//! by threads; processes (or workers that want parallel reads) open their own `Store` on the same file.
//!
//! The schema is an append-only list of migrations (`migrations.rs`) tracked by `PRAGMA user_version`; each is
//! applied in its own transaction with its version bump, so an interrupted upgrade resumes where it stopped. A file
//! written by a newer Redflag is refused rather than read with the wrong idea of its shape.
//!
//! Time is always passed in by the caller as unix seconds (`now`), so tests control it; UTC days and months are
//! computed by SQLite (`strftime(..., 'unixepoch')`). Nothing here logs text, user ids or secrets.

mod cache;
mod history;
mod migrations;
mod spend;
mod state;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

pub use cache::{CacheHit, CacheStats, MAX_NEAR_DISTANCE};
pub use history::{HistoryEntry, HistoryQuery, NewHistory, Owner};
pub use spend::{CapKind, Caps, Reserve, SpendRow, Spent, Tokens};

use migrations::MIGRATIONS;

/// The schema version this build reads and writes (the number of known migrations).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a connection waits for another writer before giving up with "database is locked". Writes are short
/// (milliseconds), so 5 s only runs out when something is really stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
        "cannot open the Redflag database at {}: {source}; check the directory is writable or set REDFLAG_DB / --db to another file",
        path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the Redflag database at {} was written by a newer Redflag (schema {found}, this build knows {supported}): upgrade Redflag or point REDFLAG_DB elsewhere",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: u32, supported: u32 },
    #[error(
        "cannot upgrade the Redflag database at {} to schema {version}: {source}; the file is unchanged from schema {}, back it up and report this, or point REDFLAG_DB elsewhere",
        path.display(),
        version - 1
    )]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    /// A caller asked for a near-duplicate search wider than the band index can answer (see [`Store::cache_near`]).
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
    #[error("Redflag database error: {0}; if it persists, check free disk space and the file's permissions")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored Redflag record is not the JSON this build expects: {0}")]
    Json(#[from] serde_json::Error),
}

/// The SQLite store. Cheap to share behind an `Arc`; see the module docs for the concurrency model.
pub struct Store {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl fmt::Debug for Store {
    // The connection has nothing useful to show, and the derive would need it to be `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Open (or create) the database at `path`, creating its parent directories, and upgrade it to the latest
    /// schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrate(&mut conn, MIGRATIONS, path)?;
        Ok(Store { conn: Mutex::new(conn), path: Some(path.to_path_buf()) })
    }

    /// Apply the retention settings: history older than `history` (if set) and cache entries older than
    /// `cache_ttl` are deleted. Every program that opens the store calls this, so old data goes whichever is used.
    pub fn purge_expired(
        &self,
        history: Option<std::time::Duration>,
        cache_ttl: std::time::Duration,
        now: i64,
    ) -> Result<(), StoreError> {
        let before = |d: std::time::Duration| now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Some(keep) = history {
            self.history_purge(before(keep))?;
        }
        self.cache_purge(before(cache_ttl))?;
        Ok(())
    }

    /// A private database that lives as long as this value (tests, or a session that must leave no trace).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = Path::new(":memory:");
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrate(&mut conn, MIGRATIONS, path)?;
        Ok(Store { conn: Mutex::new(conn), path: None })
    }

    /// Where the database lives by default: the platform's data directory (`$XDG_DATA_HOME/redflag/redflag.db`
    /// on Linux). `None` when the platform has no home directory.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "Redflag", "redflag").map(|dirs| dirs.data_dir().join("redflag.db"))
    }

    /// The file behind this store; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database (always [`SCHEMA_VERSION`] once open succeeded).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(user_version(&self.conn())?)
    }

    /// The connection. A panic while it was held cannot leave a transaction open (`Transaction` rolls back on
    /// drop), so a poisoned lock is safe to take over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` in one `IMMEDIATE` transaction and commit it; any error rolls it back.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Per-connection settings; none of them is stored in the file except the journal mode.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // First, so that everything below waits for other connections.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    enable_wal(conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Switch the file to WAL. The journal mode is persistent, so only the first opener of a new file switches it,
/// which spares every later open a lock; in-memory databases answer "memory" and stay that way.
///
/// Switching needs an exclusive lock, and SQLite does not call the busy handler for it (a connection waiting
/// while it holds a shared lock could deadlock), so two processes creating the file at once would fail with
/// "database is locked" despite the busy timeout. Hence the retry loop, bounded by the same timeout; the mode is
/// re-read each time because the other opener has usually just switched it.
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") || mode.eq_ignore_ascii_case("memory") {
            return Ok(());
        }
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
            Ok(now) if now.eq_ignore_ascii_case("wal") => return Ok(()),
            // Some file systems (network shares) cannot do WAL. The store still works, with writers blocking
            // readers, so this is worth a warning rather than a refusal.
            Ok(now) => {
                tracing::warn!(mode = %now, "the database could not be switched to WAL; concurrent use will be slower");
                return Ok(());
            }
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Bring the database up to `migrations.len()`, one migration per transaction, and return the final version.
/// Concurrent openers are safe: the version is re-read inside each write transaction, so a migration another
/// process applied meanwhile is not applied twice.
fn migrate(conn: &mut Connection, migrations: &[&str], path: &Path) -> Result<u32, StoreError> {
    let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
    let newer = |found| StoreError::NewerSchema { path: path.to_path_buf(), found, supported };
    // The common case (already up to date) needs no write lock at all.
    let found = user_version(conn).map_err(open_err)?;
    if found == supported {
        return Ok(found);
    }
    if found > supported {
        return Err(newer(found));
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_err)?;
        let version = user_version(&tx).map_err(open_err)?;
        if version > supported {
            return Err(newer(version));
        }
        let Some(sql) = migrations.get(version as usize) else {
            return Ok(version);
        };
        let next = version + 1;
        let migrate_err = |source| StoreError::Migrate { path: path.to_path_buf(), version: next, source };
        tx.execute_batch(sql).map_err(migrate_err)?;
        tx.pragma_update(None, "user_version", next).map_err(migrate_err)?;
        tx.commit().map_err(migrate_err)?;
        tracing::info!(version = next, "database schema upgraded");
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
    use rusqlite::types::Value;

    use super::*;

    /// One synthetic row per table: (table, rowid, column name -> value).
    type Seeded = Vec<(String, i64, Vec<(String, Value)>)>;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .expect("list tables");
        stmt.query_map([], |r| r.get(0)).expect("tables").collect::<Result<_, _>>().expect("table names")
    }

    /// Insert one row into every table that exists, with a plausible value per declared column type. This knows
    /// nothing about the schema, so it keeps testing upgrades as migrations are appended. (A future table with a
    /// foreign key would need its parent row first; foreign keys are off while seeding for that reason.)
    fn seed_every_table(conn: &Connection) -> Seeded {
        conn.pragma_update(None, "foreign_keys", false).expect("fk off");
        let mut seeded = Vec::new();
        for table in tables(conn) {
            let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")")).expect("table_info");
            let columns: Vec<(String, String)> = stmt
                .query_map([], |r| Ok((r.get(1)?, r.get::<_, String>(2)?.to_uppercase())))
                .expect("columns")
                .collect::<Result<_, _>>()
                .expect("column rows");
            let values: Vec<(String, Value)> = columns
                .into_iter()
                .map(|(name, ty)| {
                    let value = if ty.contains("INT") {
                        Value::Integer(7)
                    } else if ty.contains("REAL") {
                        Value::Real(0.5)
                    } else {
                        // Valid JSON as well as text, for the columns that hold JSON.
                        Value::Text(format!("[\"{table}.{name}\"]"))
                    };
                    (name, value)
                })
                .collect();
            let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
            let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
            let sql = format!("INSERT INTO \"{table}\" ({}) VALUES ({})", names.join(", "), marks.join(", "));
            conn.execute(&sql, rusqlite::params_from_iter(values.iter().map(|(_, v)| v))).expect("seed row");
            seeded.push((table, conn.last_insert_rowid(), values));
        }
        conn.pragma_update(None, "foreign_keys", true).expect("fk on");
        seeded
    }

    fn apply_first(path: &Path, k: usize) {
        let mut conn = Connection::open(path).expect("open raw");
        let v = migrate(&mut conn, &MIGRATIONS[..k], path).expect("apply the first k migrations");
        assert_eq!(v as usize, k);
    }

    #[test]
    fn open_creates_the_file_and_its_directories_at_the_latest_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a").join("b").join("redflag.db");
        let store = Store::open(&path).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(store.path(), Some(path.as_path()));
        assert!(path.is_file());
        let conn = store.conn();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).expect("fk");
        assert!(fk);
        // synchronous: 1 = NORMAL.
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).expect("sync");
        assert_eq!(sync, 1);
    }

    #[test]
    fn an_empty_existing_file_is_migrated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("empty.db");
        std::fs::write(&path, b"").expect("empty file");
        let store = Store::open(&path).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert!(tables(&store.conn()).contains(&"history".to_owned()));
    }

    #[test]
    fn every_earlier_version_upgrades_and_keeps_its_data() {
        for k in 0..=MIGRATIONS.len() {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("old.db");
            apply_first(&path, k);
            let seeded = seed_every_table(&Connection::open(&path).expect("open raw"));

            let store = Store::open(&path).unwrap_or_else(|e| panic!("upgrade from version {k}: {e}"));
            assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION, "from version {k}");
            let conn = store.conn();
            for (table, rowid, values) in &seeded {
                for (column, value) in values {
                    let sql = format!("SELECT \"{column}\" FROM \"{table}\" WHERE rowid = ?1");
                    let now: Value = conn.query_row(&sql, [rowid], |r| r.get(0)).unwrap_or_else(|e| {
                        panic!("{table}.{column} written at version {k} is gone after the upgrade: {e}")
                    });
                    assert_eq!(&now, value, "{table}.{column} written at version {k}");
                }
            }
        }
    }

    #[test]
    fn each_migration_commits_on_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("partial.db");
        let mut conn = Connection::open(&path).expect("open raw");
        let list = ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (x INTEGER); CREATE TABLE broken (;"];
        let err = migrate(&mut conn, &list, &path).expect_err("the second migration is broken");
        assert!(matches!(err, StoreError::Migrate { version: 2, .. }), "{err:?}");
        // The first stays applied; the second left nothing behind (not even table b).
        assert_eq!(user_version(&conn).expect("version"), 1);
        assert_eq!(tables(&conn), ["a"]);
        // Fixed, the upgrade resumes from where it stopped.
        let fixed = ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (x INTEGER)"];
        assert_eq!(migrate(&mut conn, &fixed, &path).expect("resume"), 2);
        assert_eq!(tables(&conn), ["a", "b"]);
    }

    #[test]
    fn a_file_from_a_newer_redflag_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("newer.db");
        {
            let conn = Connection::open(&path).expect("open raw");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("bump");
        }
        let err = Store::open(&path).expect_err("newer schema");
        match &err {
            StoreError::NewerSchema { found, supported, .. } => {
                assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("newer Redflag") && message.contains("upgrade Redflag"), "{message}");
        // Refusing must not touch it.
        let conn = Connection::open(&path).expect("open raw");
        assert_eq!(user_version(&conn).expect("version"), SCHEMA_VERSION + 1);
        assert!(tables(&conn).is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_database_says_so_with_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "this is not a database, just some text that is long enough ".repeat(20)).expect("write");
        let err = Store::open(&path).expect_err("not a database");
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("notes.txt") && message.contains("REDFLAG_DB"), "{message}");
    }

    #[test]
    fn in_memory_store_is_migrated_and_has_no_path() {
        let store = Store::open_in_memory().expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(store.path(), None);
        assert!(format!("{store:?}").contains("Store"));
    }

    #[test]
    fn default_path_is_a_redflag_db_file() {
        // Only `None` when the platform has no home directory at all.
        if let Some(path) = Store::default_path() {
            assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("redflag.db"));
            assert!(path.to_string_lossy().to_lowercase().contains("redflag"));
        }
    }

    #[test]
    fn store_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Store>();
    }
}
