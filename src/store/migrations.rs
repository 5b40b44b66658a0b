//! The schema, as an append-only list of SQL migrations.
//!
//! Migration `i` (0-based) takes the core's tables from version `i` to `i + 1`; the runner in [`super::db`]
//! applies each in its own immediate transaction together with the version, which it keeps under the name `core`
//! (the bridge keeps its own tables as the `bridge` schema in the same file). A migration that has shipped is
//! never edited or reordered: files already at that version would silently keep the old shape. To change the
//! schema, append a new entry.
//!
//! Values that the store code alone writes (`spend.state`, `history.channel`) carry no `CHECK` constraint on
//! purpose: SQLite cannot alter a constraint without rebuilding the table, and the store validates them anyway.

use super::db::Schema;

/// The core's tables.
pub const CORE_SCHEMA: Schema = Schema { name: "core", migrations: MIGRATIONS };

/// Every migration, oldest first. `MIGRATIONS.len()` is the schema version this build writes.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: history, the LLM verdict cache, the spend ledger, and escalation switched off per configuration.
    r"
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        created_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        user_id TEXT NULL,
        input_hash TEXT NOT NULL,
        redacted_text TEXT NOT NULL,
        label TEXT NOT NULL,
        score REAL NOT NULL,
        flags TEXT NOT NULL,
        tiers TEXT NOT NULL,
        analysis TEXT NOT NULL,
        cost_usd REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX history_created_at ON history(created_at);
    CREATE INDEX history_user_id ON history(user_id);

    CREATE TABLE llm_cache (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        simhash INTEGER NOT NULL,
        band0 INTEGER NOT NULL,
        band1 INTEGER NOT NULL,
        band2 INTEGER NOT NULL,
        band3 INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, key)
    );
    CREATE INDEX llm_cache_band0 ON llm_cache(scope, band0);
    CREATE INDEX llm_cache_band1 ON llm_cache(scope, band1);
    CREATE INDEX llm_cache_band2 ON llm_cache(scope, band2);
    CREATE INDEX llm_cache_band3 ON llm_cache(scope, band3);

    CREATE TABLE spend (
        id INTEGER PRIMARY KEY,
        created_at INTEGER NOT NULL,
        day TEXT NOT NULL,
        month TEXT NOT NULL,
        user_id TEXT NULL,
        model TEXT NOT NULL,
        state TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL
    );
    CREATE INDEX spend_day ON spend(day);
    CREATE INDEX spend_month ON spend(month);
    CREATE INDEX spend_user_day ON spend(user_id, day);

    CREATE TABLE llm_disabled (
        fingerprint TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ",
    // 2: a device's sync with a hub: the pairing (one row), the indicators read from its feed, its rules bundle.
    r"
    CREATE TABLE sync_hub (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        url TEXT NOT NULL,
        token TEXT NOT NULL,
        public_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        cursor TEXT NOT NULL,
        last_sync INTEGER NULL
    );

    CREATE TABLE sync_indicators (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );

    CREATE TABLE sync_bundle (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version TEXT NOT NULL,
        rules TEXT NOT NULL
    );
    ",
    // 3: reports. A local check keeps the digests of its scammer-side values (its redacted text has lost them), and
    // reports wait in the outbox until a sync delivers them; sent ones stay, so the app can say "reported".
    r"
    ALTER TABLE history ADD COLUMN indicators TEXT NOT NULL DEFAULT '[]';

    CREATE TABLE sync_outbox (
        id TEXT PRIMARY KEY,
        history_id INTEGER NOT NULL,
        label TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER NULL
    );
    CREATE INDEX sync_outbox_pending ON sync_outbox(sent_at, created_at);
    CREATE INDEX sync_outbox_history ON sync_outbox(history_id);
    ",
];
