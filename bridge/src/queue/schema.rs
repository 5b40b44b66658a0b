//! The bridge's tables, as an append-only list of migrations.
//!
//! They live in the same SQLite file as the core's history, cache and spend ledger (one `REDFLAG_DB` to back
//! up), applied by the core's one migration runner ([`redflag::store::db`]) under the name `bridge`, with a
//! version of their own: either side can grow without the other knowing. A shipped migration is never edited.

use redflag::store::Schema;

use redflag::store::pg::PgSchema;

/// The bridge's tables.
pub const BRIDGE_SCHEMA: Schema = Schema { name: "bridge", migrations: MIGRATIONS };

const MIGRATIONS: &[&str] = &[
    // 1: the queue with its event log, per-user state, delivery statuses and API keys.
    r"
    CREATE TABLE bridge_jobs (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NULL UNIQUE,
        user_key TEXT NOT NULL,
        reply_to TEXT NULL,
        body TEXT NOT NULL,
        media INTEGER NOT NULL DEFAULT 0,
        received_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        lease_owner TEXT NULL,
        lease_until INTEGER NULL,
        leader INTEGER NULL,
        reply TEXT NULL,
        sent_parts INTEGER NOT NULL DEFAULT 0,
        provider_ids TEXT NOT NULL DEFAULT '[]',
        reason TEXT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX bridge_jobs_state ON bridge_jobs(state, next_at);
    CREATE INDEX bridge_jobs_user ON bridge_jobs(user_key, state);

    CREATE TABLE bridge_events (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NULL
    );
    CREATE INDEX bridge_events_job ON bridge_events(job_id);

    CREATE TABLE bridge_users (
        user_key TEXT PRIMARY KEY,
        last_inbound_at INTEGER NULL,
        quota_day TEXT NULL,
        quota_used INTEGER NOT NULL DEFAULT 0,
        quota_told INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE bridge_deliveries (
        provider_id TEXT PRIMARY KEY,
        job_id INTEGER NULL,
        status TEXT NOT NULL,
        rank INTEGER NOT NULL,
        error_code TEXT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX bridge_deliveries_job ON bridge_deliveries(job_id);

    CREATE TABLE bridge_api_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER NULL
    );
    ",
    // 2: the claim's "which sender is due" question answered from an index of waiting messages alone.
    r"
    CREATE INDEX bridge_jobs_waiting ON bridge_jobs(state, user_key, received_at);
    ",
    // 3: the hub: paired devices, scam indicators with a change sequence for the feed, the operator's allowlist,
    // and the rules bundle it publishes.
    r"
    CREATE TABLE hub_devices (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER NULL,
        last_seen_at INTEGER NULL
    );
    CREATE INDEX hub_devices_name ON hub_devices(name);

    CREATE TABLE hub_indicators (
        seq INTEGER NOT NULL UNIQUE,
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        source TEXT NOT NULL,
        published INTEGER NOT NULL
    );

    CREATE TABLE hub_sightings (
        hash TEXT NOT NULL,
        sender TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (hash, sender)
    );

    CREATE TABLE hub_allow (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );

    CREATE TABLE hub_bundle (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version TEXT NOT NULL,
        rules TEXT NOT NULL,
        published_at INTEGER NOT NULL
    );
    ",
    // 4: reports from devices ("this was a scam" / "not a scam"), one per device and client id, and the digests
    // each carried. A value the hub learns only from reports has no plain-text value: `hub_indicators.value` is
    // empty for it.
    r"
    CREATE TABLE hub_reports (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        client_id TEXT NOT NULL,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        verdict TEXT NOT NULL,
        score REAL NOT NULL,
        flags TEXT NOT NULL,
        checked_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (device, client_id)
    );
    CREATE INDEX hub_reports_received ON hub_reports(received_at);

    CREATE TABLE hub_report_values (
        report INTEGER NOT NULL REFERENCES hub_reports(id) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (report, hash)
    );
    CREATE INDEX hub_report_values_hash ON hub_report_values(hash);
    ",
    // 5: erasure keeps the limits and refuses replays (issue #20): the daily quota under the sender's pseudonym
    // (`bridge_users`' quota columns are unused from here on), the hashed dedupe keys of erased and purged
    // messages, and the generated pseudonym key of a bridge configured without one.
    r"
    CREATE TABLE bridge_quota (
        subject TEXT PRIMARY KEY,
        quota_day TEXT NOT NULL,
        quota_used INTEGER NOT NULL DEFAULT 0,
        quota_told INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE bridge_tombstones (
        key_hash TEXT PRIMARY KEY,
        at INTEGER NOT NULL
    );
    CREATE INDEX bridge_tombstones_at ON bridge_tombstones(at);
    CREATE TABLE bridge_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 6: the audit log (`crate::audit`), append-only by trigger: retention, erasure and hand edits cannot touch it.
    r"
    CREATE TABLE bridge_audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NULL,
        detail TEXT NULL
    );
    CREATE TRIGGER bridge_audit_no_update BEFORE UPDATE ON bridge_audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER bridge_audit_no_delete BEFORE DELETE ON bridge_audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    ", // 7: the image of a message, to be fetched and read (issue #21): where it is, never the image itself.
    r"
    ALTER TABLE bridge_jobs ADD COLUMN media_url TEXT NULL;
    ",
    // 8: who has had the privacy notice (by pseudonym), so it is given once, with the first reply.
    r"
    CREATE TABLE bridge_notices (
        subject TEXT PRIMARY KEY,
        at INTEGER NOT NULL
    );
    ",
    // 9: the operator console's accounts and sessions (hashes only; see queue::admins).
    "
    CREATE TABLE bridge_admins (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE bridge_admin_sessions (
        token_hash TEXT PRIMARY KEY,
        admin TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX bridge_admin_sessions_expiry ON bridge_admin_sessions (expires_at);
    ",
];

/// The same tables in PostgreSQL (`REDFLAG_DATABASE_URL`), with a version history of their own: PostgreSQL
/// started with the tables as they are now. Times are Unix milliseconds (`BIGINT`), as in SQLite, so both stores
/// read the same values; ids are identities a migration from SQLite may set.
pub const BRIDGE_PG_SCHEMA: PgSchema = PgSchema { name: "bridge", migrations: PG_MIGRATIONS };

const PG_MIGRATIONS: &[&str] = &[
    // 1: the queue with its event log, per-user state, delivery statuses and API keys.
    r"
    CREATE TABLE bridge_jobs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        channel TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NULL UNIQUE,
        user_key TEXT NOT NULL,
        reply_to TEXT NULL,
        body TEXT NOT NULL,
        media BOOLEAN NOT NULL DEFAULT FALSE,
        received_at BIGINT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        lease_owner TEXT NULL,
        lease_until BIGINT NULL,
        leader BIGINT NULL,
        reply TEXT NULL,
        sent_parts INTEGER NOT NULL DEFAULT 0,
        provider_ids JSONB NOT NULL DEFAULT '[]',
        reason TEXT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX bridge_jobs_state ON bridge_jobs(state, next_at);
    CREATE INDEX bridge_jobs_user ON bridge_jobs(user_key, state);
    CREATE INDEX bridge_jobs_waiting ON bridge_jobs(state, user_key, received_at);

    CREATE TABLE bridge_events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        job_id BIGINT NOT NULL,
        at BIGINT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NULL
    );
    CREATE INDEX bridge_events_job ON bridge_events(job_id);

    CREATE TABLE bridge_users (
        user_key TEXT PRIMARY KEY,
        last_inbound_at BIGINT NULL,
        quota_day TEXT NULL,
        quota_used INTEGER NOT NULL DEFAULT 0,
        quota_told BOOLEAN NOT NULL DEFAULT FALSE
    );

    CREATE TABLE bridge_deliveries (
        provider_id TEXT PRIMARY KEY,
        job_id BIGINT NULL,
        status TEXT NOT NULL,
        rank INTEGER NOT NULL,
        error_code TEXT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX bridge_deliveries_job ON bridge_deliveries(job_id);

    CREATE TABLE bridge_api_keys (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT NULL
    );
    ",
    // 2: as SQLite's 5: the quota under pseudonyms, tombstones of erased and purged messages, the stored key.
    r"
    CREATE TABLE bridge_quota (
        subject TEXT PRIMARY KEY,
        quota_day TEXT NOT NULL,
        quota_used INTEGER NOT NULL DEFAULT 0,
        quota_told BOOLEAN NOT NULL DEFAULT FALSE,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE bridge_tombstones (
        key_hash TEXT PRIMARY KEY,
        at BIGINT NOT NULL
    );
    CREATE INDEX bridge_tombstones_at ON bridge_tombstones(at);
    CREATE TABLE bridge_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 3: as SQLite's 6: the audit log, append-only by trigger (TRUNCATE included, which skips row triggers).
    r"
    CREATE TABLE bridge_audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NULL,
        detail TEXT NULL
    );
    CREATE FUNCTION bridge_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only';
    END
    $$;
    CREATE TRIGGER bridge_audit_no_change BEFORE UPDATE OR DELETE ON bridge_audit
        FOR EACH ROW EXECUTE FUNCTION bridge_audit_append_only();
    CREATE TRIGGER bridge_audit_no_truncate BEFORE TRUNCATE ON bridge_audit
        FOR EACH STATEMENT EXECUTE FUNCTION bridge_audit_append_only();
    ", // 4: as SQLite's 7: where a message's image is.
    r"
    ALTER TABLE bridge_jobs ADD COLUMN media_url TEXT NULL;
    ",
    // 5: as SQLite's 8: who has had the privacy notice.
    r"
    CREATE TABLE bridge_notices (
        subject TEXT PRIMARY KEY,
        at BIGINT NOT NULL
    );
    ",
    // 6: the operator console's accounts and sessions.
    "
    CREATE TABLE bridge_admins (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until BIGINT,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE bridge_admin_sessions (
        token_hash TEXT PRIMARY KEY,
        admin TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX bridge_admin_sessions_expiry ON bridge_admin_sessions (expires_at);
    ",
    // 7: the hub (devices, indicators and their feed, sightings, the allowlist, the rules bundle, reports), shared
    // by every node as SQLite's 3 and 4 are by one. `hub_seq` hands out the feed's sequence numbers: each writer
    // locks its row until it commits, so changes commit in sequence order (see hub::pg).
    "
    CREATE TABLE hub_devices (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT NULL,
        last_seen_at BIGINT NULL
    );
    CREATE INDEX hub_devices_name ON hub_devices (name);
    CREATE TABLE hub_indicators (
        seq BIGINT NOT NULL UNIQUE,
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        source TEXT NOT NULL,
        published BOOLEAN NOT NULL
    );
    CREATE TABLE hub_seq (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL
    );
    INSERT INTO hub_seq (id, seq) VALUES (1, 0);
    CREATE TABLE hub_sightings (
        hash TEXT NOT NULL,
        sender TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (hash, sender)
    );
    CREATE TABLE hub_allow (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE hub_bundle (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version TEXT NOT NULL,
        rules TEXT NOT NULL,
        published_at BIGINT NOT NULL
    );
    CREATE TABLE hub_reports (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        device TEXT NOT NULL,
        client_id TEXT NOT NULL,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        verdict TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        flags TEXT NOT NULL,
        checked_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        UNIQUE (device, client_id)
    );
    CREATE INDEX hub_reports_received ON hub_reports (received_at);
    CREATE TABLE hub_report_values (
        ord BIGINT GENERATED BY DEFAULT AS IDENTITY,
        report BIGINT NOT NULL REFERENCES hub_reports (id) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (report, hash)
    );
    CREATE INDEX hub_report_values_hash ON hub_report_values (hash);
    ",
];
