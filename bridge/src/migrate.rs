//! `redflag-bridge migrate-store --to postgres://…`: move a one-node bridge's data from its SQLite file to
//! PostgreSQL, to grow it into several nodes.
//!
//! Everything the nodes will share is copied, with its ids, in one PostgreSQL transaction: the queue (messages in
//! every state, events, delivery statuses), users (quota, 24-hour window), API keys, and the core's history, LLM
//! cache, spend ledger and switched-off LLM configurations. The hub's tables stay in the file, which each node
//! keeps for its hub (see bridge/README.md). The target must be empty (a second run, or a database in use, is
//! refused), and the bridge must be stopped meanwhile: a message queued during the copy would stay behind.
//!
//! Hand-written rather than a generic copier because the two engines store a few columns differently (SQLite's
//! 0/1 for booleans, JSON in text where PostgreSQL has `jsonb`) and each column's type must be named to bind a NULL.

use std::path::Path;

use postgres::types::ToSql;
use redflag::store::StoreError;
use redflag::store::db::FileKey;
use redflag::store::pg::{Pg, PgStore};
use rusqlite::types::Value;

use crate::queue::{PgQueue, QueueError, SqliteQueue};

/// How a column is read from SQLite and bound for PostgreSQL.
#[derive(Clone, Copy)]
enum Col {
    /// BIGINT in PostgreSQL.
    Int,
    /// INTEGER in PostgreSQL (counters and bands).
    Int4,
    /// SQLite INTEGER 0/1, PostgreSQL BOOLEAN.
    Bool,
    Real,
    Text,
    /// Text holding JSON, PostgreSQL JSONB.
    Json,
}

use Col::{Bool, Int, Int4, Json, Real, Text};

/// The tables that move, in an order that satisfies nothing in particular (there are no foreign keys among them),
/// with their columns; `id` columns are identities whose sequences are moved past the copied ids.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    (
        "bridge_jobs",
        &[
            ("id", Int),
            ("channel", Text),
            ("dedupe_key", Text),
            ("idempotency_key", Text),
            ("user_key", Text),
            ("reply_to", Text),
            ("body", Text),
            ("media", Bool),
            ("media_url", Text),
            ("received_at", Int),
            ("state", Text),
            ("attempts", Int4),
            ("next_at", Int),
            ("lease_owner", Text),
            ("lease_until", Int),
            ("leader", Int),
            ("reply", Text),
            ("sent_parts", Int4),
            ("provider_ids", Json),
            ("reason", Text),
            ("updated_at", Int),
        ],
    ),
    ("bridge_events", &[("id", Int), ("job_id", Int), ("at", Int), ("state", Text), ("detail", Text)]),
    ("bridge_notices", &[("subject", Text), ("at", Int)]),
    // Console accounts move; their sessions do not (people log in again on the new store).
    (
        "bridge_admins",
        &[
            ("name", Text),
            ("role", Text),
            ("secret_hash", Text),
            ("failed_logins", Int4),
            ("locked_until", Int),
            ("created_at", Int),
        ],
    ),
    (
        "bridge_users",
        &[
            ("user_key", Text),
            ("last_inbound_at", Int),
            ("quota_day", Text),
            ("quota_used", Int4),
            ("quota_told", Bool),
        ],
    ),
    (
        "bridge_deliveries",
        &[
            ("provider_id", Text),
            ("job_id", Int),
            ("status", Text),
            ("rank", Int4),
            ("error_code", Text),
            ("updated_at", Int),
        ],
    ),
    (
        "bridge_quota",
        &[("subject", Text), ("quota_day", Text), ("quota_used", Int4), ("quota_told", Bool), ("updated_at", Int)],
    ),
    ("bridge_tombstones", &[("key_hash", Text), ("at", Int)]),
    ("bridge_secrets", &[("name", Text), ("value", Text)]),
    (
        "bridge_audit",
        &[("id", Int), ("at", Int), ("actor", Text), ("action", Text), ("target", Text), ("detail", Text)],
    ),
    ("bridge_api_keys", &[("id", Int), ("name", Text), ("key_hash", Text), ("created_at", Int), ("revoked_at", Int)]),
    (
        "history",
        &[
            ("id", Int),
            ("created_at", Int),
            ("channel", Text),
            ("user_id", Text),
            ("input_hash", Text),
            ("redacted_text", Text),
            ("label", Text),
            ("score", Real),
            ("flags", Text),
            ("tiers", Text),
            ("analysis", Text),
            ("cost_usd", Real),
            ("indicators", Text),
        ],
    ),
    (
        "llm_cache",
        &[
            ("scope", Text),
            ("key", Text),
            ("simhash", Int),
            ("band0", Int4),
            ("band1", Int4),
            ("band2", Int4),
            ("band3", Int4),
            ("verdict", Text),
            ("created_at", Int),
            ("hits", Int),
        ],
    ),
    (
        "spend",
        &[
            ("id", Int),
            ("created_at", Int),
            ("day", Text),
            ("month", Text),
            ("user_id", Text),
            ("model", Text),
            ("state", Text),
            ("prompt_tokens", Int),
            ("cached_tokens", Int),
            ("completion_tokens", Int),
            ("cost_usd", Real),
        ],
    ),
    ("llm_disabled", &[("fingerprint", Text), ("reason", Text), ("created_at", Int)]),
    // The hub, shared by the nodes like the rest (reports before the values that reference them).
    (
        "hub_devices",
        &[
            ("id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("revoked_at", Int),
            ("last_seen_at", Int),
        ],
    ),
    (
        "hub_indicators",
        &[
            ("seq", Int),
            ("hash", Text),
            ("kind", Text),
            ("value", Text),
            ("count", Int4),
            ("first_seen", Int),
            ("last_seen", Int),
            ("source", Text),
            ("published", Bool),
        ],
    ),
    ("hub_sightings", &[("hash", Text), ("sender", Text), ("at", Int)]),
    ("hub_allow", &[("hash", Text), ("kind", Text), ("value", Text), ("created_at", Int)]),
    ("hub_bundle", &[("id", Int4), ("version", Text), ("rules", Text), ("published_at", Int)]),
    (
        "hub_reports",
        &[
            ("id", Int),
            ("device", Text),
            ("client_id", Text),
            ("label", Text),
            ("text", Text),
            ("verdict", Text),
            ("score", Real),
            ("flags", Text),
            ("checked_at", Int),
            ("received_at", Int),
        ],
    ),
    ("hub_report_values", &[("report", Int), ("hash", Text), ("kind", Text)]),
];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {table} from the SQLite file: {source}")]
    Read {
        table: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot copy {table} into PostgreSQL: {}", redflag::store::pg::reason(.source))]
    Write {
        table: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "the PostgreSQL database already holds {rows} row(s) in {table}; migrate into an empty database (nothing was \
         copied)"
    )]
    NotEmpty { table: &'static str, rows: i64 },
    #[error("a value in {table}.{column} does not fit PostgreSQL's column: {value:?}")]
    Value { table: &'static str, column: &'static str, value: String },
}

/// Copy everything the nodes share from the SQLite file at `sqlite` (encrypted with `key`, if given) into the
/// empty PostgreSQL database at `url`. Returns the rows copied per table.
pub fn to_postgres(
    sqlite: &Path,
    key: Option<&FileKey>,
    url: &str,
) -> Result<Vec<(&'static str, usize)>, MigrateError> {
    let source = SqliteQueue::on(crate::queue::bridge_db(sqlite, key)?)?;
    let queue = PgQueue::connect(url)?;
    PgStore::on(std::sync::Arc::clone(queue.pg()))?;
    copy(&source, queue.pg())
}

fn copy(source: &SqliteQueue, pg: &Pg) -> Result<Vec<(&'static str, usize)>, MigrateError> {
    let mut conn = pg.conn().map_err(QueueError::from)?;
    let mut tx = conn.transaction().map_err(QueueError::from)?;
    for (table, _) in TABLES {
        let rows: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .map_err(|e| MigrateError::Write { table, source: e })?
            .get(0);
        if rows > 0 {
            return Err(MigrateError::NotEmpty { table, rows });
        }
    }
    let mut copied = Vec::with_capacity(TABLES.len());
    let sqlite = source.db().conn();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let read = |e| MigrateError::Read { table, source: e };
        let mut stmt = sqlite.prepare(&select).map_err(read)?;
        let rows: Vec<Vec<Value>> = stmt
            .query_map([], |row| (0..columns.len()).map(|i| row.get::<_, Value>(i)).collect())
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        let placeholders: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, col))| match col {
                Json => format!("${}::text::jsonb", i + 1),
                _ => format!("${}", i + 1),
            })
            .collect();
        let insert = format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), placeholders.join(", "));
        let statement = tx.prepare(&insert).map_err(|e| MigrateError::Write { table, source: e })?;
        for row in &rows {
            let values = row
                .iter()
                .zip(columns.iter())
                .map(|(value, (column, col))| bind(value, *col).ok_or_else(|| bad(table, column, value)))
                .collect::<Result<Vec<_>, _>>()?;
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            tx.execute(&statement, &params).map_err(|e| MigrateError::Write { table, source: e })?;
        }
        if names.contains(&"id") {
            // New rows continue after the copied ids.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) \
                     FROM {table}"
                ),
                &[],
            )
            .map_err(|e| MigrateError::Write { table, source: e })?;
        }
        copied.push((*table, rows.len()));
    }
    // The hub's next change numbers continue after the copied ones, as ids do.
    tx.execute("UPDATE hub_seq SET seq = (SELECT COALESCE(MAX(seq), 0) FROM hub_indicators) WHERE id = 1", &[])
        .map_err(|e| MigrateError::Write { table: "hub_seq", source: e })?;
    tx.commit().map_err(QueueError::from)?;
    Ok(copied)
}

/// A SQLite value bound as `col` for PostgreSQL; `None` when it does not fit.
fn bind(value: &Value, col: Col) -> Option<Box<dyn ToSql + Sync>> {
    Some(match (value, col) {
        (Value::Null, Int) => Box::new(None::<i64>),
        (Value::Null, Int4) => Box::new(None::<i32>),
        (Value::Null, Bool) => Box::new(None::<bool>),
        (Value::Null, Real) => Box::new(None::<f64>),
        (Value::Null, Text | Json) => Box::new(None::<String>),
        (Value::Integer(n), Int) => Box::new(*n),
        (Value::Integer(n), Int4) => Box::new(i32::try_from(*n).ok()?),
        (Value::Integer(n), Bool) => Box::new(*n != 0),
        (Value::Integer(n), Real) => Box::new(*n as f64),
        (Value::Real(x), Real) => Box::new(*x),
        (Value::Text(s), Text | Json) => Box::new(s.clone()),
        _ => return None,
    })
}

fn bad(table: &'static str, column: &'static str, value: &Value) -> MigrateError {
    MigrateError::Value { table, column, value: format!("{value:?}") }
}
