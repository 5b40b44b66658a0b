//! The whole file encrypted, for a bridge that keeps people's messages and numbers (issue #20).
//!
//! SQLite is built with SQLCipher (`rusqlite`'s `bundled-sqlcipher`, OpenSSL's libcrypto): every page of the file
//! and of its WAL is encrypted with AES-256 and authenticated with HMAC-SHA512, indexes and free pages included,
//! so nothing the bridge writes (bodies, reply addresses, the core's history, the hub's sightings) can be read from
//! the file or a backup of it without the key. Chosen over sealing chosen columns because a column list is only
//! as good as its last review: the history's redacted text, the analyses' quoted evidence and the hub's sightings
//! hold message text and numbers too, and a column-by-column scheme would have to find and keep finding them all.
//! PostgreSQL deployments are not covered by this; see the bridge's README.
//!
//! The key is given raw (`x'…'`), so SQLCipher skips its passphrase derivation (256,000 PBKDF2 rounds on every
//! open). A file without a key is plain SQLite, as the desktop and the CLI keep theirs.
//!
//! A file is never keyed in place: [`reencrypt`] copies it with `sqlcipher_export` into a new file under the new
//! key (or none) and renames that over the old one, which is how a plain file gets encrypted and how a key is
//! rotated. Nothing else may have the file open meanwhile.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use super::super::StoreError;

/// A plain SQLite file begins with this; an encrypted one with 16 random bytes of salt.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The 32-byte key of an encrypted file.
#[derive(Clone, PartialEq, Eq)]
pub struct FileKey([u8; 32]);

impl FileKey {
    pub fn new(bytes: [u8; 32]) -> FileKey {
        FileKey(bytes)
    }

    /// SQLCipher's raw-key literal, `"x'…'"` with 64 hex digits.
    fn literal(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("\"x'{hex}'\"")
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileKey(..)")
    }
}

/// What a file on disk holds, read from its first bytes without opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Missing or empty: whoever opens it first decides.
    New,
    Plain,
    Encrypted,
}

/// Whether `path` is a plain SQLite file, an encrypted one, or not written yet.
pub fn file_state(path: &Path) -> Result<FileState, StoreError> {
    let mut header = [0u8; 16];
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::New),
        Err(source) => return Err(StoreError::CreateFile { path: path.to_path_buf(), source }),
    };
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => return Err(StoreError::CreateFile { path: path.to_path_buf(), source }),
        }
    }
    Ok(match read {
        0 => FileState::New,
        _ if &header == PLAIN_HEADER => FileState::Plain,
        _ => FileState::Encrypted,
    })
}

/// Give a new connection its key, before anything reads the file, and prove it fits: SQLCipher only finds out
/// at the first read, and "file is not a database" would then surface from wherever that happens to be.
pub(super) fn unlock(conn: &Connection, path: &Path, key: Option<&FileKey>) -> Result<(), StoreError> {
    // SQLCipher writes its own line to stderr on a wrong key; the error below says it better, in our log.
    let _ = conn.query_row("PRAGMA cipher_log = off", [], |_| Ok(()));
    if let Some(key) = key {
        conn.execute_batch(&format!("PRAGMA key = {}", key.literal()))
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    }
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            Err(StoreError::Key { path: path.to_path_buf(), keyed: key.is_some() })
        }
        Err(source) => Err(StoreError::Open { path: path.to_path_buf(), source }),
    }
}

/// Rewrite the file at `path`, readable with `from`, so that it is readable with `to` instead (`None`: plain).
/// The copy is written beside it, checked, synced and renamed over the original, so a failure at any point
/// leaves the original as it was. Every process using the file must be stopped first.
pub fn reencrypt(path: &Path, from: Option<&FileKey>, to: Option<&FileKey>) -> Result<(), StoreError> {
    let copy = with_suffix(path, ".reencrypt");
    let _ = std::fs::remove_file(&copy);
    super::create_private(&copy).map_err(|source| StoreError::CreateFile { path: copy.clone(), source })?;
    if let Err(e) = export(path, from, &copy, to) {
        let _ = std::fs::remove_file(&copy);
        return Err(e);
    }
    // The old file's WAL is empty after the checkpoint, and its index describes the old file.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
    std::fs::rename(&copy, path).map_err(|source| StoreError::CreateFile { path: path.to_path_buf(), source })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself must survive a power cut.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Copy everything in `path` (read with `from`) into the empty file `copy`, encrypted with `to`, and sync it.
fn export(path: &Path, from: Option<&FileKey>, copy: &Path, to: Option<&FileKey>) -> Result<(), StoreError> {
    let err = |source| StoreError::Open { path: path.to_path_buf(), source };
    let source = Connection::open(path).map_err(err)?;
    source.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
    unlock(&source, path, from)?;
    // Everything in the WAL into the file first.
    source.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(err)?;
    // The write lock is held through the copy, so a process that was not stopped after all waits instead of
    // writing into a file that is about to be replaced.
    copy_into(&source, path, copy, to, "IMMEDIATE")
}

/// Copy the database `conn` has open (the file at `path`) into the new file `copy` under `to`, in one
/// transaction begun with `begin` (`DEFERRED`: a snapshot that lets writers go on, in WAL mode), then check that
/// the copy opens with its key and sync it.
pub(super) fn copy_into(
    conn: &Connection,
    path: &Path,
    copy: &Path,
    to: Option<&FileKey>,
    begin: &str,
) -> Result<(), StoreError> {
    let err = |source| StoreError::Open { path: path.to_path_buf(), source };
    let copy_text = copy.to_str().ok_or_else(|| StoreError::CreateFile {
        path: copy.to_path_buf(),
        source: std::io::Error::other("the path is not UTF-8"),
    })?;
    // SQLCipher reads a key of the form x'…' as raw however it is passed; an empty one means plain.
    let target_key = to.map_or_else(String::new, |k| k.literal().trim_matches('"').to_string());
    conn.execute("ATTACH DATABASE ?1 AS target KEY ?2", [copy_text, target_key.as_str()]).map_err(err)?;
    let copied = conn.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0)).and_then(|version| {
        conn.execute_batch(&format!(
            "BEGIN {begin}; SELECT sqlcipher_export('target'); PRAGMA target.user_version = {version}; COMMIT;"
        ))
    });
    if copied.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let detached = conn.execute_batch("DETACH DATABASE target");
    copied.and(detached).map_err(err)?;
    // Proof that the copy opens with its key before anyone relies on it.
    unlock(&Connection::open(copy).map_err(err)?, copy, to)?;
    std::fs::File::open(copy)
        .and_then(|f| f.sync_all())
        .map_err(|source| StoreError::CreateFile { path: copy.to_path_buf(), source })
}

/// `path` with `suffix` appended to its file name, as SQLite names its `-wal` and `-shm` files.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}
