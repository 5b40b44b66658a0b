//! The one SQLite foundation under everything Redflag keeps on a machine: the core's history, cache, spend ledger
//! and switched-off state, and the bridge's queue, users, keys and events, all in one file (one `REDFLAG_DB` to
//! back up).
//!
//! Several processes (a CLI run beside the desktop app, bridge workers) open the same file at once, so every
//! connection is set up the same way in [`Db::open`]: WAL (readers never block the writer), `synchronous =
//! NORMAL` (durable across application crashes, and a power cut loses at most the last commits, never the file),
//! foreign keys on, and a 5 s busy timeout so a writer waits for another instead of failing. Every write runs in
//! an `IMMEDIATE` transaction ([`Db::write`]): it takes the write lock up front, so two writers queue on the
//! busy timeout; a deferred transaction that reads first and upgrades later gets `SQLITE_BUSY` at once instead,
//! because waiting could not help it. Write transactions stay short: no network call ever happens inside one.
//!
//! One `Db` holds one connection behind a mutex, which makes it `Send + Sync`: the core's store and the bridge's
//! queue in one process share one `Arc<Db>`; processes open their own.
//!
//! **Schemas.** Each part that keeps tables here (the core, the bridge) brings a [`Schema`]: its name and an
//! append-only list of migrations. One runner applies them, each in its own immediate transaction together with
//! its version in the `redflag_schema` table, so an interrupted upgrade resumes where it stopped and concurrent
//! openers never apply one twice. A part whose stored version is newer than the build knows is refused rather
//! than read with the wrong idea of its shape.
//!
//! `PRAGMA user_version` says which layout the file itself has: [`LAYOUT`] since the versions moved into
//! `redflag_schema`. Files written before kept the core's version there and the bridge's in a `bridge_schema`
//! table; they are adopted once, in one transaction. Builds from before answer "written by a newer Redflag" to a
//! file with this layout, which is exactly what they should say.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};

use super::StoreError;

pub mod cipher;

pub use cipher::{FileKey, FileState, file_state, reencrypt};

/// How long a connection waits for another writer before giving up with "database is locked". Writes are short
/// (milliseconds), so 5 s only runs out when something is really stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA user_version` of a file whose schema versions live in `redflag_schema`. Before, the core's version (1)
/// was kept there, so a build from before reads 2 as "newer than I know" and refuses the file.
pub const LAYOUT: u32 = 2;

/// The tables one part of Redflag keeps in the file.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Its name in `redflag_schema` (`core`, `bridge`).
    pub name: &'static str,
    /// Migration `i` (0-based) takes the part from version `i` to `i + 1`. A migration that has shipped is never
    /// edited or reordered: files already at that version would silently keep the old shape.
    pub migrations: &'static [&'static str],
}

impl Schema {
    /// The version this build reads and writes (the number of known migrations).
    pub fn version(&self) -> u32 {
        u32::try_from(self.migrations.len()).unwrap_or(u32::MAX)
    }
}

/// One SQLite file with its connection set up; see the module docs.
pub struct Db {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl fmt::Debug for Db {
    // The connection has nothing useful to show, and the derive would need it to be `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Create `path` empty with mode 0600 unless it exists; an existing file keeps the permissions its owner gave it.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Db {
    /// Open (or create) the database at `path`, creating its parent directories, and bring each of `schemas` up
    /// to date. A new file is readable by its owner only (SQLite gives its `-wal` and `-shm` files the same
    /// permissions): it holds people's checks and, on a bridge, their messages.
    pub fn open(path: &Path, schemas: &[&Schema]) -> Result<Db, StoreError> {
        Db::open_keyed(path, schemas, None)
    }

    /// [`Db::open`] for a file encrypted with `key` (see [`cipher`]); a new file is created encrypted. A plain
    /// file given a key is refused rather than read: it is converted once, by [`reencrypt`].
    pub fn open_keyed(path: &Path, schemas: &[&Schema], key: Option<&FileKey>) -> Result<Db, StoreError> {
        if key.is_some() && file_state(path)? == FileState::Plain {
            return Err(StoreError::NotEncrypted { path: path.to_path_buf() });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        create_private(path).map_err(|source| StoreError::CreateFile { path: path.to_path_buf(), source })?;
        let conn = Connection::open(path).map_err(open_err)?;
        cipher::unlock(&conn, path, key)?;
        Db::setup(conn, Some(path.to_path_buf()), schemas)
    }

    /// A private database that lives as long as this value (tests, or a session that must leave no trace).
    pub fn open_in_memory(schemas: &[&Schema]) -> Result<Db, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: PathBuf::from(":memory:"), source })?;
        Db::setup(conn, None, schemas)
    }

    fn setup(conn: Connection, path: Option<PathBuf>, schemas: &[&Schema]) -> Result<Db, StoreError> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(":memory:"));
        configure(&conn).map_err(|source| StoreError::Open { path: shown.clone(), source })?;
        let db = Db { conn: Mutex::new(conn), path };
        db.adopt_layout()?;
        for schema in schemas {
            db.migrate(schema)?;
        }
        Ok(db)
    }

    /// A consistent copy of the whole database in the new file `dest`, encrypted with `key` (a backup, while
    /// other processes go on writing: a WAL snapshot). `dest` must not exist; it is created `0600`.
    pub fn backup(&self, dest: &Path, key: Option<&FileKey>) -> Result<(), StoreError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(dest).map_err(|source| StoreError::CreateFile { path: dest.to_path_buf(), source })?;
        let result = cipher::copy_into(&self.conn(), &self.shown_path(), dest, key, "DEFERRED");
        if result.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    /// The file behind this database; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn shown_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(":memory:"))
    }

    /// The connection. A panic while it was held cannot leave a transaction open (`Transaction` rolls back on
    /// drop), so a poisoned lock is safe to take over.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` in one `IMMEDIATE` transaction and commit it; any error rolls it back.
    pub fn write<T, E: From<rusqlite::Error>>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// The stored version of the part called `name` (0 when it has no tables here yet).
    pub fn schema_version(&self, name: &str) -> Result<u32, StoreError> {
        Ok(stored_version(&self.conn(), name)?)
    }

    /// Bring `schema` up to date, one migration per transaction, and return its version. Cheap when nothing is
    /// due (one read, no write lock), so a part sharing an open `Db` calls it on its own.
    pub fn migrate(&self, schema: &Schema) -> Result<u32, StoreError> {
        let supported = schema.version();
        let path = self.shown_path();
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        let newer = |found| StoreError::NewerSchema { path: path.clone(), part: schema.name, found, supported };
        let found = stored_version(&self.conn(), schema.name).map_err(open_err)?;
        if found == supported {
            return Ok(found);
        }
        if found > supported {
            return Err(newer(found));
        }
        let mut conn = self.conn();
        loop {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_err)?;
            // Re-read under the write lock: another process may have applied it meanwhile.
            let version = stored_version(&tx, schema.name).map_err(open_err)?;
            if version > supported {
                return Err(newer(version));
            }
            let Some(sql) = schema.migrations.get(version as usize) else {
                return Ok(version);
            };
            let next = version + 1;
            let migrate_err =
                |source| StoreError::Migrate { path: path.clone(), part: schema.name, version: next, source };
            tx.execute_batch(sql).map_err(migrate_err)?;
            tx.execute(
                "INSERT INTO redflag_schema (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                rusqlite::params![schema.name, next],
            )
            .map_err(migrate_err)?;
            tx.commit().map_err(migrate_err)?;
            tracing::info!(part = schema.name, version = next, "database schema upgraded");
        }
    }

    /// Give the file this build's layout: the `redflag_schema` table, with the versions a file written before
    /// kept elsewhere moved into it. Once per file; later opens only read `user_version`.
    fn adopt_layout(&self) -> Result<(), StoreError> {
        let path = self.shown_path();
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        let found = user_version(&self.conn()).map_err(open_err)?;
        if found == LAYOUT {
            return Ok(());
        }
        if found > LAYOUT {
            return Err(StoreError::NewerSchema { path, part: "file layout", found, supported: LAYOUT });
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_err)?;
        let migrate_err =
            |source| StoreError::Migrate { path: path.clone(), part: "file layout", version: LAYOUT, source };
        // Re-read under the write lock: a concurrent opener may have done it.
        let found = user_version(&tx).map_err(open_err)?;
        if found == LAYOUT {
            return Ok(());
        }
        tx.execute_batch("CREATE TABLE redflag_schema (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            .map_err(migrate_err)?;
        // Before: the core's version in user_version (0 or 1), the bridge's in bridge_schema.
        if found > 0 {
            tx.execute("INSERT INTO redflag_schema (name, version) VALUES ('core', ?1)", [found])
                .map_err(migrate_err)?;
        }
        let bridge: Option<i64> = tx
            .query_row("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'bridge_schema'", [], |_| Ok(()))
            .optional()
            .map_err(migrate_err)?
            .map(|()| tx.query_row("SELECT COALESCE(MAX(version), 0) FROM bridge_schema", [], |r| r.get(0)))
            .transpose()
            .map_err(migrate_err)?;
        if let Some(version) = bridge {
            tx.execute("INSERT INTO redflag_schema (name, version) VALUES ('bridge', ?1)", [version])
                .map_err(migrate_err)?;
            tx.execute_batch("DROP TABLE bridge_schema").map_err(migrate_err)?;
        }
        tx.pragma_update(None, "user_version", LAYOUT).map_err(migrate_err)?;
        tx.commit().map_err(migrate_err)?;
        Ok(())
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

fn stored_version(conn: &Connection, name: &str) -> rusqlite::Result<u32> {
    let version: Option<u32> =
        conn.query_row("SELECT version FROM redflag_schema WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests;
