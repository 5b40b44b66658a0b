use rusqlite::types::Value;

use super::*;
use crate::store::migrations::{CORE_SCHEMA, MIGRATIONS};

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
    for table in tables(conn).into_iter().filter(|t| t != "redflag_schema" && t != "bridge_schema") {
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
                    // 1 satisfies the one-row tables' `CHECK (id = 1)`.
                    Value::Integer(1)
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

fn assert_kept(conn: &Connection, seeded: &Seeded, since: &str) {
    for (table, rowid, values) in seeded {
        for (column, value) in values {
            let sql = format!("SELECT \"{column}\" FROM \"{table}\" WHERE rowid = ?1");
            let now: Value = conn
                .query_row(&sql, [rowid], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{table}.{column} written {since} is gone after the upgrade: {e}"));
            assert_eq!(&now, value, "{table}.{column} written {since}");
        }
    }
}

fn first(k: usize) -> Schema {
    Schema { name: "core", migrations: &MIGRATIONS[..k] }
}

#[test]
fn open_creates_the_file_and_its_directories_with_the_connection_set_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a").join("b").join("redflag.db");
    let db = Db::open(&path, &[&CORE_SCHEMA]).expect("open");
    assert_eq!(db.schema_version("core").expect("version"), CORE_SCHEMA.version());
    assert_eq!(db.path(), Some(path.as_path()));
    assert!(path.is_file());
    let conn = db.conn();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).expect("fk");
    assert!(fk);
    // synchronous: 1 = NORMAL.
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).expect("sync");
    assert_eq!(sync, 1);
    assert_eq!(user_version(&conn).expect("layout"), LAYOUT);
}

#[test]
fn an_empty_existing_file_is_migrated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").expect("empty file");
    let db = Db::open(&path, &[&CORE_SCHEMA]).expect("open");
    assert_eq!(db.schema_version("core").expect("version"), CORE_SCHEMA.version());
    assert!(tables(&db.conn()).contains(&"history".to_owned()));
}

#[test]
fn every_earlier_version_upgrades_and_keeps_its_data() {
    for k in 0..=MIGRATIONS.len() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        drop(Db::open(&path, &[&first(k)]).expect("apply the first k migrations"));
        let seeded = seed_every_table(&Connection::open(&path).expect("open raw"));
        let db = Db::open(&path, &[&CORE_SCHEMA]).unwrap_or_else(|e| panic!("upgrade from version {k}: {e}"));
        assert_eq!(db.schema_version("core").expect("version"), CORE_SCHEMA.version(), "from version {k}");
        assert_kept(&db.conn(), &seeded, &format!("at version {k}"));
    }
}

/// A file written before the layout: the core's version in `user_version`, the bridge's in `bridge_schema`.
#[test]
fn a_file_from_before_the_shared_runner_is_adopted_with_its_versions_and_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("before.db");
    {
        let conn = Connection::open(&path).expect("open raw");
        conn.execute_batch(MIGRATIONS[0]).expect("the core's first migration, as the old runner applied it");
        conn.pragma_update(None, "user_version", 1).expect("the old core version");
        conn.execute_batch(
            "CREATE TABLE bridge_schema (version INTEGER NOT NULL); INSERT INTO bridge_schema VALUES (2);
             CREATE TABLE bridge_jobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )
        .expect("an old bridge");
    }
    let seeded = seed_every_table(&Connection::open(&path).expect("open raw"));
    let db = Db::open(&path, &[&CORE_SCHEMA]).expect("adopted");
    assert_eq!(db.schema_version("core").expect("core"), CORE_SCHEMA.version());
    assert_eq!(db.schema_version("bridge").expect("bridge"), 2, "the bridge's version moved, not reset");
    let conn = db.conn();
    assert!(!tables(&conn).contains(&"bridge_schema".to_owned()));
    assert_kept(&conn, &seeded, "before the shared runner");
    // A build from before reads user_version as the core's version and refuses a layout it does not know.
    assert!(user_version(&conn).expect("layout") > 1);
}

#[test]
fn each_migration_commits_on_its_own() {
    const BROKEN: Schema = Schema {
        name: "t",
        migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (x INTEGER); CREATE TABLE broken (;"],
    };
    const FIXED: Schema =
        Schema { name: "t", migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (x INTEGER)"] };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("partial.db");
    let err = Db::open(&path, &[&BROKEN]).expect_err("the second migration is broken");
    assert!(matches!(err, StoreError::Migrate { version: 2, part: "t", .. }), "{err:?}");
    // The first stays applied; the second left nothing behind (not even table b).
    let db = Db::open(&path, &[]).expect("open without schemas");
    assert_eq!(db.schema_version("t").expect("version"), 1);
    assert_eq!(tables(&db.conn()), ["a", "redflag_schema"]);
    // Fixed, the upgrade resumes from where it stopped.
    assert_eq!(db.migrate(&FIXED).expect("resume"), 2);
    assert_eq!(tables(&db.conn()), ["a", "b", "redflag_schema"]);
}

#[test]
fn parts_keep_their_own_versions() {
    const OTHER: Schema = Schema { name: "other", migrations: &["CREATE TABLE other_t (x INTEGER)"] };
    let db = Db::open_in_memory(&[&CORE_SCHEMA, &OTHER]).expect("open");
    assert_eq!(db.schema_version("core").expect("core"), CORE_SCHEMA.version());
    assert_eq!(db.schema_version("other").expect("other"), 1);
    assert_eq!(db.schema_version("nobody").expect("unknown"), 0);
}

#[test]
fn a_part_from_a_newer_redflag_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("newer.db");
    let newer = CORE_SCHEMA.version() + 1;
    {
        let db = Db::open(&path, &[]).expect("layout only");
        db.conn()
            .execute("INSERT INTO redflag_schema (name, version) VALUES ('core', ?1)", [newer])
            .expect("a newer core");
    }
    let err = Db::open(&path, &[&CORE_SCHEMA]).expect_err("newer schema");
    match &err {
        StoreError::NewerSchema { part, found, supported, .. } => {
            assert_eq!((*part, *found, *supported), ("core", newer, CORE_SCHEMA.version()));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("newer Redflag") && message.contains("upgrade Redflag"), "{message}");
    // Refusing must not touch it.
    let conn = Connection::open(&path).expect("open raw");
    assert_eq!(tables(&conn), ["redflag_schema"]);
}

#[test]
fn a_newer_file_layout_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("layout.db");
    Connection::open(&path).expect("open raw").pragma_update(None, "user_version", LAYOUT + 1).expect("bump");
    let err = Db::open(&path, &[&CORE_SCHEMA]).expect_err("newer layout");
    assert!(matches!(err, StoreError::NewerSchema { part: "file layout", .. }), "{err:?}");
    assert!(tables(&Connection::open(&path).expect("open raw")).is_empty());
}

#[test]
fn a_file_that_is_not_a_database_says_so_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is not a database, just some text that is long enough ".repeat(20)).expect("write");
    let err = Db::open(&path, &[&CORE_SCHEMA]).expect_err("not a database");
    // Without a key, text and an encrypted file look the same: neither starts with SQLite's header.
    assert!(matches!(err, StoreError::Key { keyed: false, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("notes.txt") && message.contains("REDFLAG_DB"), "{message}");
}

#[test]
fn concurrent_openers_apply_each_migration_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("race.db");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| Db::open(&path, &[&CORE_SCHEMA]).expect("every opener succeeds"));
        }
    });
    let db = Db::open(&path, &[&CORE_SCHEMA]).expect("open");
    assert_eq!(db.schema_version("core").expect("version"), CORE_SCHEMA.version());
}

#[test]
fn db_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Db>();
}

#[cfg(unix)]
#[test]
fn a_new_database_and_its_journal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/redflag.db");
    let db = Db::open(&path, &[&first(2)]).expect("open");
    db.write(|tx| tx.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")).expect("write");
    for file in ["redflag.db", "redflag.db-wal", "redflag.db-shm"] {
        let mode = std::fs::metadata(dir.path().join("nested").join(file)).expect(file).permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

/// The file and its WAL, as bytes, to look for text that must not be there in the clear.
fn on_disk(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("the file");
    bytes.extend(std::fs::read(format!("{}-wal", path.display())).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const SECRET: &str = "whatsapp:+14155550123 sent: pay the USDT deposit";

fn write_secret(db: &Db) {
    db.conn()
        .execute(
            "INSERT INTO history (created_at, channel, input_hash, redacted_text, label, score, flags, tiers, analysis)
             VALUES (1, 'whatsapp', 'h', ?1, 'scam', 0.9, '[]', '[]', '{}')",
            [SECRET],
        )
        .expect("insert");
}

fn read_secret(db: &Db) -> String {
    db.conn().query_row("SELECT redacted_text FROM history", [], |r| r.get(0)).expect("the row")
}

#[test]
fn a_keyed_file_is_unreadable_without_its_key_and_refused_with_the_wrong_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bridge.db");
    let key = FileKey::new([7; 32]);
    let db = Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&key)).expect("create encrypted");
    write_secret(&db);
    assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    let disk = on_disk(&path);
    assert!(!contains(&disk, "14155550123") && !contains(&disk, "USDT"), "the text is on disk in the clear");
    // A backup taken while it is open is a whole copy under the same key, as unreadable without it.
    let backup = dir.path().join("backup.db");
    db.backup(&backup, Some(&key)).expect("back up");
    assert!(!contains(&on_disk(&backup), "USDT"));
    assert_eq!(read_secret(&Db::open_keyed(&backup, &[&CORE_SCHEMA], Some(&key)).expect("open the backup")), SECRET);
    let taken = db.backup(&backup, Some(&key)).expect_err("never overwrites");
    assert!(matches!(taken, StoreError::CreateFile { .. }), "{taken}");
    drop(db);

    let reopened = Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&key)).expect("reopen with the key");
    assert_eq!(read_secret(&reopened), SECRET);
    drop(reopened);
    let keyless = Db::open(&path, &[&CORE_SCHEMA]).expect_err("no key");
    assert!(matches!(keyless, StoreError::Key { keyed: false, .. }), "{keyless}");
    assert!(keyless.to_string().contains("REDFLAG_DATA_KEY"), "{keyless}");
    let wrong = Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&FileKey::new([8; 32]))).expect_err("wrong key");
    assert!(matches!(wrong, StoreError::Key { keyed: true, .. }), "{wrong}");
    // Plain SQLite (the sqlite3 shell, a backup tool) cannot read it either.
    let raw = Connection::open(&path).expect("open raw");
    assert!(raw.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)).is_err());
}

#[test]
fn a_plain_file_given_a_key_is_refused_until_it_is_encrypted_and_a_key_rotates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bridge.db");
    let (old, new) = (FileKey::new([1; 32]), FileKey::new([2; 32]));
    write_secret(&Db::open(&path, &[&CORE_SCHEMA]).expect("a plain file, as before"));
    assert_eq!(file_state(&path).expect("state"), FileState::Plain);
    let refused = Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&old)).expect_err("plain with a key");
    assert!(refused.to_string().contains("data-key encrypt"), "{refused}");

    reencrypt(&path, None, Some(&old)).expect("encrypt in place");
    assert!(!contains(&on_disk(&path), "USDT"));
    let db = Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&old)).expect("open encrypted");
    assert_eq!(read_secret(&db), SECRET, "the data came along");
    assert_eq!(db.schema_version("core").expect("version"), CORE_SCHEMA.version(), "and its schema versions");
    assert_eq!(user_version(&db.conn()).expect("layout"), LAYOUT, "and its layout");
    drop(db);

    reencrypt(&path, Some(&old), Some(&new)).expect("rotate");
    assert!(matches!(Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&old)), Err(StoreError::Key { keyed: true, .. })));
    assert_eq!(read_secret(&Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&new)).expect("new key")), SECRET);
    // A rotation from the wrong key changes nothing.
    assert!(reencrypt(&path, Some(&old), Some(&new)).is_err());
    assert_eq!(read_secret(&Db::open_keyed(&path, &[&CORE_SCHEMA], Some(&new)).expect("still")), SECRET);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("reencrypt"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
