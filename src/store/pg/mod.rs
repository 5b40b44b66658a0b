//! The store on PostgreSQL, for a bridge that runs on several nodes (`REDFLAG_DATABASE_URL`): the connection pool, TLS, and
//! migrations that run once however many nodes start together.
//!
//! The store traits are synchronous and run on the blocking pool, so this is the synchronous `postgres` client
//! behind an r2d2 pool, not an async driver: one blocking call per store call, as with SQLite. The client must
//! never be used on an async worker thread (it drives a runtime of its own); every caller is on the blocking pool
//! or in the CLI.
//!
//! * **TLS** through rustls against the system's CA store (a managed database's CA goes there, e.g. with
//!   `update-ca-certificates`), when the URL asks for it: `sslmode=require` (or `verify-ca`/`verify-full`, which
//!   mean the same here, since rustls always verifies). Without it the connection is plain, as on loopback; a
//!   plain connection to another host is warned about at start-up.
//! * **Migrations** are per schema (`bridge`, and the core's when it moves here), versioned in `redflag_schema`
//!   as in SQLite, applied in one transaction under an advisory lock, so nodes starting at the same moment apply
//!   each migration once; a database newer than the binary is refused, as the SQLite store does.
//! * **Errors** name what is wrong (cannot connect, refused password, missing privileges, newer schema) and never
//!   show the password.

mod store;

use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use store::{CORE_PG_SCHEMA, PgStore};

/// A versioned, append-only list of PostgreSQL migrations for one part of the store. A shipped migration is never
/// edited.
#[derive(Debug, Clone, Copy)]
pub struct PgSchema {
    pub name: &'static str,
    pub migrations: &'static [&'static str],
}

impl PgSchema {
    pub fn version(&self) -> usize {
        self.migrations.len()
    }
}

/// The advisory lock every node takes to migrate (one bigint key, "redflag" in ASCII).
const MIGRATION_LOCK: i64 = 0x0072_6564_666c_6167;

/// Connections a node keeps at most: its workers, the webhooks being enqueued and the gauges, with room to spare.
const POOL_SIZE: u32 = 16;

/// How long a store call waits for a free connection (or a new one) before it fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

type Manager = PostgresConnectionManager<MakeRustlsConnect>;

/// A connection lent by the pool; back to the pool when dropped.
pub type PgConn = PooledConnection<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "the database URL is not one PostgreSQL understands ({0}); write it as \
         postgres://USER:PASSWORD@HOST:5432/DATABASE (optionally ?sslmode=require)"
    )]
    Url(String),
    #[error(
        "cannot connect to PostgreSQL at {target}: {reason}; check that the server is running and reachable, the \
         host, port, user and password in REDFLAG_DATABASE_URL, and sslmode"
    )]
    Connect { target: String, reason: String },
    #[error(
        "the PostgreSQL user may not change the schema of {target} ({reason}); grant it CREATE on the database \
         (and USAGE, CREATE on schema public), or run this version once as the database's owner"
    )]
    Privileges { target: String, reason: String },
    #[error(
        "the PostgreSQL database {target} holds the {name} tables at version {found}, newer than this build knows \
         ({known}); upgrade redflag-bridge on this node to the version the other nodes run"
    )]
    Newer { target: String, name: &'static str, found: usize, known: usize },
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Tls(String),
    #[error("PostgreSQL error in {target}: {reason}")]
    Query { target: String, reason: String },
}

/// The pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Pg {
    pool: Arc<Closing>,
    /// `user@host:port/database`, for messages: never the password.
    target: String,
}

/// The pool, closed on a thread of its own when the last [`Pg`] goes. Closing a connection of the synchronous client
/// runs the client's own runtime, which panics on an async runtime's thread, and that is where a bridge drops its
/// stores when it shuts down.
struct Closing(Option<Pool<Manager>>);

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Pg {
    /// Connect to `url` and migrate `schemas` (each once, in order). Blocking.
    pub fn connect(url: &str, schemas: &[&PgSchema]) -> Result<Pg, PgError> {
        let (config, tls) = parse(url)?;
        let target = describe(&config);
        // One connection first, for an error that says what is wrong at once (r2d2 would retry until its timeout
        // and then report only "timed out").
        let mut first =
            config.connect(tls.clone()).map_err(|e| PgError::Connect { target: target.clone(), reason: reason(&e) })?;
        for schema in schemas {
            migrate(&mut first, schema, &target)?;
        }
        drop(first);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            // A broken connection shows itself as an error on its next use, which the caller retries; a round trip
            // before every checkout would cost more than it saves.
            .test_on_check_out(false)
            .build(PostgresConnectionManager::new(config, tls))
            .map_err(|e| PgError::Connect { target: target.clone(), reason: e.to_string() })?;
        Ok(Pg { pool: Arc::new(Closing(Some(pool))), target })
    }

    /// A connection from the pool (blocking, at most [`CHECKOUT_TIMEOUT`]).
    pub fn conn(&self) -> Result<PgConn, r2d2::Error> {
        // `Closing` holds the pool until it is dropped, and it is dropped only after the last `Pg`.
        self.pool
            .0
            .as_ref()
            .map_or_else(|| unreachable!("the pool is taken only when the last Pg is dropped"), Pool::get)
    }

    /// Bring `schema`'s tables up to date, as [`Pg::connect`] does for the schemas it is given.
    pub fn migrate(&self, schema: &PgSchema) -> Result<(), PgError> {
        let mut conn = self.conn().map_err(|e| self.query_error(e.to_string()))?;
        migrate(&mut conn, schema, &self.target)
    }

    /// `user@host:port/database`, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The version of `schema` in the database (0 when it has never been migrated).
    pub fn schema_version(&self, name: &str) -> Result<usize, PgError> {
        let mut conn = self.conn().map_err(|e| self.query_error(e.to_string()))?;
        let row = conn
            .query_opt("SELECT version FROM redflag_schema WHERE name = $1", &[&name])
            .map_err(|e| self.query_error(reason(&e)))?;
        Ok(row.map_or(0, |r| r.get::<_, i32>(0) as usize))
    }

    fn query_error(&self, reason: String) -> PgError {
        PgError::Query { target: self.target.clone(), reason }
    }
}

/// Whether the URL names a PostgreSQL database (as opposed to a SQLite path).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn parse(url: &str) -> Result<(postgres::Config, MakeRustlsConnect), PgError> {
    if !is_postgres_url(url) {
        return Err(PgError::Url("it does not start with postgres://".into()));
    }
    // libpq's verify-ca and verify-full are what rustls always does; tokio-postgres knows only "require".
    let url = url.replace("sslmode=verify-full", "sslmode=require").replace("sslmode=verify-ca", "sslmode=require");
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| PgError::Url(reason(&e)))?;
    config.application_name("redflag-bridge");
    // A webhook is acknowledged once its row is committed, and Twilio does not send it again: the commit must be on
    // disk, whatever the server's default says. With `synchronous_commit = off` a crash of the database server
    // (not only of the machine) loses the last commits; the load bench's throw-away cluster showed it.
    let options = match config.get_options() {
        Some(given) => format!("{given} -c synchronous_commit=on"),
        None => "-c synchronous_commit=on".to_string(),
    };
    config.options(&options);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    // "prefer" (the default) would try TLS and then refuse a server whose certificate rustls cannot verify (a
    // default Debian cluster's snakeoil one), where libpq's "prefer" would not verify at all: without an explicit
    // sslmode=require, connect in plain text, as libpq effectively does with a self-signed server.
    if config.get_ssl_mode() == postgres::config::SslMode::Prefer {
        config.ssl_mode(postgres::config::SslMode::Disable);
    }
    Ok((config, tls()?))
}

fn tls() -> Result<MakeRustlsConnect, PgError> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the system store holds but rustls cannot parse is skipped, as a browser would.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Whether the connection is plain text to a host other than this machine: worth a warning at start-up.
pub fn plain_to_remote(url: &str) -> bool {
    let Ok((config, _)) = parse(url) else { return false };
    let remote = config.get_hosts().iter().any(|h| match h {
        postgres::config::Host::Tcp(name) => !matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1"),
        postgres::config::Host::Unix(_) => false,
    });
    remote && config.get_ssl_mode() == postgres::config::SslMode::Disable
}

fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("?");
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{db}")
}

/// The server's own message when there is one ("password authentication failed for user ..."), else the client's.
pub fn reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

fn migrate(client: &mut postgres::Client, schema: &PgSchema, target: &str) -> Result<(), PgError> {
    let failed = |e: postgres::Error| {
        if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            PgError::Privileges { target: target.to_string(), reason: reason(&e) }
        } else {
            PgError::Query { target: target.to_string(), reason: reason(&e) }
        }
    };
    let mut tx = client.transaction().map_err(failed)?;
    // Every node migrates under the same lock: the second to start waits, then finds the work done.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(failed)?;
    // "relation already exists, skipping" on every start but the first is not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning").map_err(failed)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS redflag_schema (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        .map_err(failed)?;
    let found = tx
        .query_opt("SELECT version FROM redflag_schema WHERE name = $1", &[&schema.name])
        .map_err(failed)?
        .map_or(0, |r| r.get::<_, i32>(0) as usize);
    let known = schema.version();
    if found > known {
        return Err(PgError::Newer { target: target.to_string(), name: schema.name, found, known });
    }
    if found == known {
        return Ok(());
    }
    for (i, migration) in schema.migrations.iter().enumerate().skip(found) {
        tx.batch_execute(migration).map_err(|e| {
            let mut err = failed(e);
            if let PgError::Query { reason, .. } = &mut err {
                *reason = format!("migration {} of {}: {reason}", i + 1, schema.name);
            }
            err
        })?;
    }
    tx.execute(
        "INSERT INTO redflag_schema (name, version) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version",
        &[&schema.name, &(known as i32)],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)
}
