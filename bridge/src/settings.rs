//! The bridge's settings: defaults, then `bridge.toml`, then environment variables, like the core's
//! [`redflag::config::Config`] whose sections (`[llm]`, `[escalation]`, `[budget]`, ...) the same file may hold.
//!
//! The environment variable names are a contract with every deployment (systemd units, containers, the tests),
//! so they are listed once in [`ENV_VARS`] and documented in bridge/README.md. Secrets are [`SecretString`]s and
//! never appear in `Debug` output. [`Settings::check`] refuses a production configuration that would accept
//! unsigned webhooks or could not reply, so a mistake stops the start instead of showing up as silent users.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use redflag::config::Config;
use redflag::store::db::FileKey;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

/// Every environment variable the bridge reads itself (the core reads the LLM ones).
pub const ENV_VARS: &[&str] = &[
    "REDFLAG_BRIDGE_CONFIG",
    "REDFLAG_ENV",
    "REDFLAG_BRIDGE_ADDR",
    "REDFLAG_PUBLIC_URL",
    "REDFLAG_DB",
    "REDFLAG_DATABASE_URL",
    "REDFLAG_HUB_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_API_BASE",
    "TWILIO_TEMPLATE_CONTENT_SID",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_SECRET_TOKEN",
    "TELEGRAM_API_BASE",
    "REDFLAG_BRIDGE_VALIDATE_SIGNATURES",
    "REDFLAG_DATA_KEY",
    "REDFLAG_METRICS_TOKEN",
];

/// The bridge's history retention when `[history] retention_days` is not set.
pub const HISTORY_RETENTION_DAYS: u64 = 90;

/// The signing token in development when no Twilio auth token is set. Public on purpose: it protects nothing, and
/// production refuses to start without a real token.
pub const DEV_AUTH_TOKEN: &str = "redflag-development-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Twilio {
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    /// Our sender, e.g. `whatsapp:+14155238886`; replies to SMS use it without the prefix.
    pub from: Option<String>,
    pub api_base: String,
    /// An approved WhatsApp template (`HX...`) sent when a reply falls outside the 24-hour window.
    pub template_content_sid: Option<String>,
    /// Ask Twilio for delivery status callbacks on `/webhooks/twilio/status`.
    pub status_callbacks: bool,
}

impl Twilio {
    /// Replies go to the real REST API only with both credentials; otherwise (development only) they are logged.
    pub fn can_send(&self) -> bool {
        self.account_sid.is_some() && self.auth_token.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct Telegram {
    pub bot_token: Option<SecretString>,
    pub secret_token: Option<SecretString>,
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted; Twilio's biggest webhook (1,600 characters and ten media URLs) is ~10 KB.
    pub max_body_bytes: usize,
    pub request_timeout_secs: f64,
    /// Messages one sender may send per minute before webhooks are dropped (a token bucket: `rate_burst` at once).
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// Analyses per user per UTC day; the first message over it gets one polite reply, the rest none.
    pub daily_quota: u32,
    /// A connection that has not sent a request's complete headers within this long is closed (slow or idle
    /// clients otherwise hold a file descriptor each, for ever).
    pub header_read_timeout_secs: f64,
    /// Connections served at once; more wait in the kernel's queue until one closes. Below the process's file
    /// limit (1,024 by default), so the database and the outbound connections always have descriptors.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            // Above the LLM's 30 s deadline, so a synchronous /v1/analyze that escalates is not cut off; webhooks
            // answer in milliseconds whatever this says.
            request_timeout_secs: 45.0,
            rate_per_minute: 20,
            rate_burst: 10,
            daily_quota: 50,
            header_read_timeout_secs: 30.0,
            max_connections: 512,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workers {
    /// Jobs processed at once (each waits on the network most of the time).
    pub count: usize,
    /// Threads that run the local model; 0 means one per core.
    pub analysis_threads: usize,
    /// How long a claimed job stays invisible to other workers; a crashed worker's jobs come back after this.
    pub lease_secs: f64,
    /// A sender's messages are analysed together once none has arrived for this long (forwarded postings arrive
    /// as several webhooks within a second or two)...
    pub coalesce_quiet_ms: u64,
    /// ...or once the oldest has waited this long, so a chatty sender is not put off forever.
    pub coalesce_max_ms: u64,
    /// Delivery attempts before a reply is given up as failed.
    pub max_attempts: u32,
    /// Finished messages (done or failed: the sender's address, the event log, delivery statuses) are deleted
    /// after this many days, and so is a sender's last-message time.
    pub keep_finished_days: u32,
    /// Messages waiting for review (their text and reply kept for a person) are deleted after this many days
    /// untouched, so nothing is kept forever.
    pub keep_review_days: u32,
    /// The first retry waits about this long, each later one twice as long (capped at 10 minutes).
    pub retry_base_ms: u64,
    /// While Twilio or Telegram refuses the bridge's credentials, sending to it pauses this long between tries
    /// ([`crate::pause`]); the replies wait, none goes to review for it.
    pub auth_pause_secs: f64,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            count: 4,
            analysis_threads: 0,
            lease_secs: 60.0,
            coalesce_quiet_ms: 1500,
            coalesce_max_ms: 6000,
            max_attempts: 8,
            keep_finished_days: 7,
            keep_review_days: 30,
            retry_base_ms: 2000,
            auth_pause_secs: 60.0,
        }
    }
}

/// The hub's publishing policy (`[hub]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubPolicy {
    /// How many different devices must report a value in a scam before the hub publishes it: one person's mistake
    /// (or one troll's device) must not put a stranger's number on everyone's screen.
    pub report_threshold: u32,
}

impl Default for HubPolicy {
    fn default() -> Self {
        HubPolicy { report_threshold: 3 }
    }
}

/// The built-in notifier (`[alerts]`, [`crate::alerts`]): off unless a webhook or a Telegram chat is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// Each alert that starts or ends is POSTed here as JSON.
    pub webhook_url: Option<String>,
    /// ... and/or sent to this Telegram chat by the bridge's bot (`[telegram] bot_token`).
    pub telegram_chat_id: Option<i64>,
    /// How often the rules are evaluated.
    pub interval_secs: f64,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts { webhook_url: None, telegram_chat_id: None, interval_secs: 30.0 }
    }
}

impl Alerts {
    pub fn enabled(&self) -> bool {
        self.webhook_url.is_some() || self.telegram_chat_id.is_some()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Origins allowed to call `/v1/analyze` from a browser; empty means any (the API needs a bearer key anyway).
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub addr: SocketAddr,
    /// The base URL Twilio calls (`https://example.ngrok.app`); signatures are computed over it, not the Host.
    pub public_url: Option<String>,
    pub db: PathBuf,
    /// PostgreSQL for the queue, users and API keys of a bridge on several nodes (`REDFLAG_DATABASE_URL`,
    /// `database_url`); unset, they stay in the SQLite file at `db`. A secret: the URL may hold the password.
    pub database_url: Option<SecretString>,
    /// The hub's Ed25519 signing key file (created on first use): `REDFLAG_HUB_KEY`, `hub_key`, or beside the
    /// database.
    pub hub_key: PathBuf,
    /// The data key (`REDFLAG_DATA_KEY`, 64 hex characters, or the file `data_key_file` holding them): encrypts
    /// the SQLite file ([`redflag::store::db::cipher`]) and keys the senders' pseudonyms ([`crate::pseudonym`]).
    /// Production needs one; unset in development, the file is plain and a generated pseudonym key is kept in it.
    pub data_key: Option<DataKey>,
    /// `REDFLAG_METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>` (what
    /// Prometheus sends with `authorization: {credentials: ...}`). A secret.
    pub metrics_token: Option<SecretString>,
    pub twilio: Twilio,
    pub telegram: Telegram,
    pub validate_signatures: bool,
    pub limits: Limits,
    pub workers: Workers,
    pub api: Api,
    pub hub: HubPolicy,
    pub alerts: Alerts,
    /// Show full phone numbers in mock-mode reply logs (off by default: logs get shared in bug reports).
    pub log_personal_data: bool,
    /// The core's settings: LLM endpoint, escalation policy, budgets, cache, history.
    pub core: Config,
    pub source: Option<PathBuf>,
}

/// A 32-byte secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct DataKey(pub [u8; 32]);

impl DataKey {
    /// The key of the bridge's SQLite file: derived, so that the data key serves each purpose with a key of its
    /// own and the file's key never meets the pseudonyms' HMAC.
    pub fn file_key(&self) -> FileKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"redflag-bridge database file v1");
        FileKey::new(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The file's own keys; every other top-level table belongs to the core.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    environment: Option<Environment>,
    addr: Option<String>,
    public_url: Option<String>,
    db: Option<PathBuf>,
    database_url: Option<SecretString>,
    hub_key: Option<PathBuf>,
    data_key_file: Option<PathBuf>,
    validate_signatures: Option<bool>,
    log_personal_data: Option<bool>,
    #[serde(default)]
    twilio: FileTwilio,
    #[serde(default)]
    telegram: FileTelegram,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    workers: Workers,
    #[serde(default)]
    api: Api,
    #[serde(default)]
    hub: HubPolicy,
    #[serde(default)]
    alerts: Alerts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTwilio {
    account_sid: Option<String>,
    auth_token: Option<SecretString>,
    from: Option<String>,
    api_base: Option<String>,
    template_content_sid: Option<String>,
    status_callbacks: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTelegram {
    bot_token: Option<SecretString>,
    secret_token: Option<SecretString>,
    api_base: Option<String>,
}

const BRIDGE_KEYS: &[&str] = &[
    "environment",
    "addr",
    "public_url",
    "db",
    "database_url",
    "validate_signatures",
    "log_personal_data",
    "twilio",
    "telegram",
    "limits",
    "workers",
    "api",
    "hub_key",
    "hub",
    "data_key_file",
    "alerts",
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the bridge settings {}: {source}; check the path given to --config", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bridge settings {} are not valid TOML for Redflag: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{name} is not valid: {message}")]
    Env { name: &'static str, message: String },
    #[error(transparent)]
    Core(#[from] redflag::config::ConfigError),
    #[error("production needs {what}: {fix}")]
    Production { what: &'static str, fix: &'static str },
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Load from `path` (if any) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_with(path, |name| std::env::var(name).ok())
    }

    /// Load for the admin commands (`keys`, `jobs`), which only need the database: the serving checks (Twilio
    /// token, public URL) do not apply, so an operator need not hold the service's secrets to list the queue.
    pub fn load_for_admin(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::read(path, |name| std::env::var(name).ok())
    }

    pub fn load_with(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let settings = Self::read(path, env)?;
        settings.check()?;
        Ok(settings)
    }

    fn read(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let env = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let (file, core) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| SettingsError::Read { path: path.to_path_buf(), source })?;
                split(&text, path, &env)?
            }
            // Without a file the core still reads its own default config file and the environment.
            None => (File::default(), Config::load_with(None, env)?),
        };
        let mut core = core;
        // The core keeps a person's own history until they clear it; a bridge keeps other people's checks, so
        // nothing stays forever unless the operator says how long.
        core.history_retention.get_or_insert(Duration::from_secs(HISTORY_RETENTION_DAYS * 86_400));

        let environment = match env("REDFLAG_ENV") {
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Environment::Development,
                "production" | "prod" => Environment::Production,
                _ => {
                    return Err(SettingsError::Env {
                        name: "REDFLAG_ENV",
                        message: format!("{v:?}: use development or production"),
                    });
                }
            },
            None => file.environment.unwrap_or(Environment::Development),
        };
        let addr_text = env("REDFLAG_BRIDGE_ADDR").or(file.addr).unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let addr = addr_text.parse().map_err(|e| SettingsError::Env {
            name: "REDFLAG_BRIDGE_ADDR",
            message: format!("{addr_text:?} is not an address like 127.0.0.1:8080 ({e})"),
        })?;
        let public_url = env("REDFLAG_PUBLIC_URL").or(file.public_url).map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            let parsed = url::Url::parse(u).map_err(|e| SettingsError::Env {
                name: "REDFLAG_PUBLIC_URL",
                message: format!("{u:?} is not a URL ({e}); use the base URL Twilio calls, e.g. https://abc.ngrok.app"),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                return Err(SettingsError::Env {
                    name: "REDFLAG_PUBLIC_URL",
                    message: "use an http(s) base URL without a query, e.g. https://abc.ngrok.app".into(),
                });
            }
        }
        let db = env("REDFLAG_DB")
            .map(PathBuf::from)
            .or(file.db)
            .or_else(|| core.db_path.clone())
            .or_else(redflag::store::default_path)
            .ok_or_else(|| {
                SettingsError::Invalid("no home directory to keep the database in: set REDFLAG_DB".into())
            })?;

        let database_url = env("REDFLAG_DATABASE_URL").map(SecretString::from).or(file.database_url);
        if let Some(url) = &database_url
            && !redflag::store::pg::is_postgres_url(url.expose_secret())
        {
            return Err(SettingsError::Env {
                name: "REDFLAG_DATABASE_URL",
                message: "use a PostgreSQL URL, postgres://USER:PASSWORD@HOST:5432/DATABASE (unset it to keep \
                          everything in the SQLite file at REDFLAG_DB)"
                    .into(),
            });
        }

        let data_key = match (env("REDFLAG_DATA_KEY"), &file.data_key_file) {
            (Some(hex), _) => Some(
                crate::pseudonym::parse_key(&hex)
                    .map(DataKey)
                    .map_err(|message| SettingsError::Env { name: "REDFLAG_DATA_KEY", message })?,
            ),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    SettingsError::Invalid(format!("cannot read data_key_file {}: {e}", path.display()))
                })?;
                let key = crate::pseudonym::parse_key(&text)
                    .map_err(|e| SettingsError::Invalid(format!("data_key_file {}: {e}", path.display())))?;
                Some(DataKey(key))
            }
            (None, None) => None,
        };

        let hub_key = env("REDFLAG_HUB_KEY")
            .map(PathBuf::from)
            .or(file.hub_key)
            .unwrap_or_else(|| crate::hub::default_key_path(&db));

        let twilio = Twilio {
            account_sid: env("TWILIO_ACCOUNT_SID").or(file.twilio.account_sid),
            auth_token: env("TWILIO_AUTH_TOKEN").map(SecretString::from).or(file.twilio.auth_token),
            from: env("TWILIO_FROM").or(file.twilio.from),
            api_base: env("TWILIO_API_BASE")
                .or(file.twilio.api_base)
                .unwrap_or_else(|| "https://api.twilio.com".into())
                .trim_end_matches('/')
                .to_string(),
            template_content_sid: env("TWILIO_TEMPLATE_CONTENT_SID").or(file.twilio.template_content_sid),
            status_callbacks: file.twilio.status_callbacks.unwrap_or(true),
        };
        let telegram = Telegram {
            bot_token: env("TELEGRAM_BOT_TOKEN").map(SecretString::from).or(file.telegram.bot_token),
            secret_token: env("TELEGRAM_SECRET_TOKEN").map(SecretString::from).or(file.telegram.secret_token),
            api_base: env("TELEGRAM_API_BASE")
                .or(file.telegram.api_base)
                .unwrap_or_else(|| "https://api.telegram.org".into())
                .trim_end_matches('/')
                .to_string(),
        };
        let validate_signatures = match env("REDFLAG_BRIDGE_VALIDATE_SIGNATURES") {
            Some(v) => parse_bool(&v).ok_or(SettingsError::Env {
                name: "REDFLAG_BRIDGE_VALIDATE_SIGNATURES",
                message: format!("{v:?}: use true or false"),
            })?,
            None => file.validate_signatures.unwrap_or(true),
        };
        let settings = Settings {
            environment,
            addr,
            public_url,
            db,
            database_url,
            hub_key,
            data_key,
            metrics_token: env("REDFLAG_METRICS_TOKEN").map(SecretString::from),
            twilio,
            telegram,
            validate_signatures,
            limits: file.limits,
            workers: file.workers,
            api: file.api,
            hub: file.hub,
            alerts: file.alerts,
            log_personal_data: file.log_personal_data.unwrap_or(false),
            core,
            source: path.map(Path::to_path_buf),
        };
        Ok(settings)
    }

    /// Refuse settings that cannot work, production's stricter rules included.
    pub fn check(&self) -> Result<(), SettingsError> {
        let l = &self.limits;
        if l.max_body_bytes < 1024 || l.rate_per_minute == 0 || l.rate_burst == 0 {
            return Err(SettingsError::Invalid(
                "[limits] max_body_bytes must be at least 1024, rate_per_minute and rate_burst at least 1".into(),
            ));
        }
        let a = &self.alerts;
        if !(a.interval_secs >= 0.05 && a.interval_secs <= 3600.0) {
            return Err(SettingsError::Invalid("[alerts] interval_secs must be between 0.05 and 3600 seconds".into()));
        }
        if let Some(url) = &a.webhook_url
            && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        {
            return Err(SettingsError::Invalid(
                "[alerts] webhook_url must be an http:// or https:// URL (https unless the receiver is on this machine)"
                    .into(),
            ));
        }
        if a.telegram_chat_id.is_some() && self.telegram.bot_token.is_none() {
            return Err(SettingsError::Invalid(
                "[alerts] telegram_chat_id needs the bridge's bot: set TELEGRAM_BOT_TOKEN (or [telegram] bot_token)"
                    .into(),
            ));
        }
        if self.hub.report_threshold == 0 {
            return Err(SettingsError::Invalid(
                "[hub] report_threshold must be at least 1 (the number of devices whose reports publish a value)"
                    .into(),
            ));
        }
        if !(l.header_read_timeout_secs > 0.0 && l.header_read_timeout_secs <= 3600.0) || l.max_connections == 0 {
            return Err(SettingsError::Invalid(
                "[limits] header_read_timeout_secs must be between 0 and 3600 seconds and max_connections at least 1"
                    .into(),
            ));
        }
        if !(l.request_timeout_secs.is_finite() && l.request_timeout_secs > 0.0) {
            return Err(SettingsError::Invalid("[limits] request_timeout_secs must be a positive number".into()));
        }
        let w = &self.workers;
        if w.count == 0
            || w.max_attempts == 0
            || w.keep_review_days == 0
            || !(w.lease_secs.is_finite() && w.lease_secs >= 1.0)
            || !(w.auth_pause_secs.is_finite() && w.auth_pause_secs >= 0.1 && w.auth_pause_secs <= 86_400.0)
        {
            return Err(SettingsError::Invalid(
                "[workers] count, max_attempts and keep_review_days must be at least 1, lease_secs at least 1, \
                 auth_pause_secs between 0.1 and 86400"
                    .into(),
            ));
        }
        // A lease shorter than one escalated analysis plus a send would let a second worker take the job over
        // mid-flight and answer it twice.
        let needed = self.core.llm.timeout.as_secs_f64() + 20.0;
        if self.core.llm_configured && w.lease_secs < needed {
            return Err(SettingsError::Invalid(format!(
                "[workers] lease_secs ({}) must be at least {needed:.0} with an LLM configured: the LLM timeout plus \
                 time to send the reply",
                w.lease_secs
            )));
        }
        if let Some(secret) = &self.telegram.secret_token {
            let s = secret.expose_secret();
            let ok =
                (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(SettingsError::Env {
                    name: "TELEGRAM_SECRET_TOKEN",
                    message: "Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -".into(),
                });
            }
        }
        // Without the secret, anyone who finds the webhook URL can post an update that makes the bot message any
        // chat id: in development too.
        if self.telegram.bot_token.is_some() && self.telegram.secret_token.is_none() {
            return Err(SettingsError::Invalid(
                "a Telegram bot token needs a secret: set TELEGRAM_SECRET_TOKEN and pass it as secret_token to \
                 setWebhook"
                    .into(),
            ));
        }
        // Development signs with a public token (or not at all): reachable from other machines, anyone could post
        // messages as anybody.
        if self.environment == Environment::Development
            && !self.addr.ip().is_loopback()
            && (self.twilio.auth_token.is_none() || !self.validate_signatures)
        {
            return Err(SettingsError::Invalid(format!(
                "development on {} listens beyond this machine but checks webhook signatures with a public test \
                 token (or not at all): set TWILIO_AUTH_TOKEN and keep signature validation on, or listen on \
                 127.0.0.1",
                self.addr
            )));
        }
        if self.environment == Environment::Production {
            if self.twilio.auth_token.is_none() {
                return Err(SettingsError::Production {
                    what: "a Twilio auth token",
                    fix: "set TWILIO_AUTH_TOKEN (Twilio console, Account info) so webhook signatures can be checked",
                });
            }
            if self.public_url.is_none() {
                return Err(SettingsError::Production {
                    what: "a public URL",
                    fix: "set REDFLAG_PUBLIC_URL to the https base URL Twilio calls; signatures are computed over it",
                });
            }
            if self.public_url.as_deref().is_some_and(|u| !u.starts_with("https://")) {
                return Err(SettingsError::Production {
                    what: "an https public URL",
                    fix: "set REDFLAG_PUBLIC_URL to the https:// address Twilio calls (a TLS proxy in front of the \
                          bridge); over http the messages and their signatures cross the network in clear",
                });
            }
            if !self.validate_signatures {
                return Err(SettingsError::Production {
                    what: "webhook signature validation",
                    fix: "remove validate_signatures = false / REDFLAG_BRIDGE_VALIDATE_SIGNATURES; it is for development only",
                });
            }
            if self.data_key.is_none() {
                return Err(SettingsError::Production {
                    what: "a data key",
                    fix: "set REDFLAG_DATA_KEY to 64 hex characters (openssl rand -hex 32), or data_key_file to a \
                          file holding them; it encrypts the database file and keys the senders' pseudonyms. Keep \
                          it apart from the database and its backups. An existing plain file is encrypted once \
                          with `redflag-bridge data-key encrypt`",
                });
            }
            if self.twilio.account_sid.is_none() || self.twilio.from.is_none() {
                return Err(SettingsError::Production {
                    what: "a Twilio sender",
                    fix: "set TWILIO_ACCOUNT_SID and TWILIO_FROM (e.g. whatsapp:+14155238886) so replies can be sent",
                });
            }
        }
        Ok(())
    }

    /// The token webhook signatures are checked (and, by `simulate`, made) with: the configured auth token, or
    /// in development without one the public [`DEV_AUTH_TOKEN`], so the signed path is exercised even in mock
    /// mode. Production always has a real one ([`Settings::check`]).
    pub fn signing_token(&self) -> String {
        match &self.twilio.auth_token {
            Some(t) => t.expose_secret().to_string(),
            None => DEV_AUTH_TOKEN.to_string(),
        }
    }

    /// The key of the bridge's SQLite file; `None` (a plain file) without a data key.
    pub fn file_key(&self) -> Option<FileKey> {
        self.data_key.as_ref().map(DataKey::file_key)
    }

    /// Development without Twilio credentials: replies are logged, not sent.
    pub fn mock_twilio(&self) -> bool {
        !self.twilio.can_send()
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.limits.request_timeout_secs)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.workers.lease_secs)
    }

    /// The URL Twilio signed for a request to `path_and_query` on this server.
    pub fn signed_url(&self, path_and_query: &str) -> Option<String> {
        self.public_url.as_ref().map(|base| format!("{base}{path_and_query}"))
    }
}

/// Split one TOML file into the bridge's keys and the core's sections.
fn split(text: &str, path: &Path, env: &impl Fn(&str) -> Option<String>) -> Result<(File, Config), SettingsError> {
    let parse_err = |message: String| SettingsError::Parse { path: path.to_path_buf(), message };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.message().to_string()))?;
    let mut ours = toml::Table::new();
    for key in BRIDGE_KEYS {
        if let Some(v) = table.remove(*key) {
            ours.insert((*key).to_string(), v);
        }
    }
    let file: File = ours.try_into().map_err(|e: toml::de::Error| parse_err(e.message().to_string()))?;
    let core_text = toml::to_string(&table).map_err(|e| parse_err(e.to_string()))?;
    let core = Config::from_toml_with(&core_text, path, env)?;
    Ok((file, core))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml_text: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |name: &str| vars.get(name).cloned();
        match toml_text {
            Some(t) => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let path = dir.path().join("bridge.toml");
                std::fs::write(&path, t).expect("write settings");
                Settings::load_with(Some(&path), env)
            }
            None => Settings::load_with(None, env),
        }
    }

    #[test]
    fn defaults_are_development_on_loopback() {
        let s = load(None, &[("REDFLAG_DB", "/tmp/x.db")]).expect("defaults load");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.addr.to_string(), "127.0.0.1:8080");
        assert!(s.mock_twilio());
        assert!(s.validate_signatures);
        assert_eq!(s.db, PathBuf::from("/tmp/x.db"));
        assert_eq!((s.limits.header_read_timeout_secs, s.limits.max_connections), (30.0, 512));
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "environment = \"development\"\naddr = \"127.0.0.1:9000\"\n[twilio]\nfrom = \"whatsapp:+1\"\n";
        let s = load(Some(file), &[("REDFLAG_BRIDGE_ADDR", "127.0.0.1:9001"), ("TWILIO_FROM", "+15550001111")])
            .expect("loads");
        assert_eq!(s.addr.port(), 9001);
        assert_eq!(s.twilio.from.as_deref(), Some("+15550001111"));
    }

    #[test]
    fn core_sections_share_the_file() {
        let file = "[llm]\nmodel = \"llama3.2\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n[limits]\ndaily_quota = 3\n";
        let s = load(Some(file), &[]).expect("loads");
        assert_eq!(s.core.llm.model, "llama3.2");
        assert_eq!(s.limits.daily_quota, 3);
    }

    #[test]
    fn the_hubs_key_file_and_policy_are_bridge_settings() {
        let s = load(Some("hub_key = \"/tmp/hub.key\"\n[hub]\nreport_threshold = 5\n"), &[]).expect("loads");
        assert_eq!((s.hub_key, s.hub.report_threshold), (PathBuf::from("/tmp/hub.key"), 5));
        let err = load(Some("[hub]\nreport_threshold = 0\n"), &[]).expect_err("no report could ever count");
        assert!(err.to_string().contains("report_threshold"), "{err}");
    }

    #[test]
    fn the_history_is_kept_90_days_unless_configured() {
        let s = load(None, &[]).expect("loads");
        assert_eq!(s.core.history_retention, Some(Duration::from_secs(90 * 86_400)));
        let s = load(Some("[history]\nretention_days = 7\n"), &[]).expect("loads");
        assert_eq!(s.core.history_retention, Some(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn typos_are_errors_not_ignored() {
        let err = load(Some("[limits]\ndaily_qouta = 3\n"), &[]).expect_err("a typo is refused");
        assert!(err.to_string().contains("daily_qouta"), "{err}");
        let err = load(Some("[llmm]\nmodel = \"x\"\n"), &[]).expect_err("an unknown core section is refused");
        assert!(err.to_string().contains("llmm"), "{err}");
    }

    #[test]
    fn production_refuses_without_token_public_url_or_data_key() {
        let err = load(None, &[("REDFLAG_ENV", "production")]).expect_err("no token");
        assert!(err.to_string().contains("TWILIO_AUTH_TOKEN"), "{err}");
        let err = load(None, &[("REDFLAG_ENV", "production"), ("TWILIO_AUTH_TOKEN", "t")]).expect_err("no url");
        assert!(err.to_string().contains("REDFLAG_PUBLIC_URL"), "{err}");
        let complete = [
            ("REDFLAG_ENV", "production"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("REDFLAG_PUBLIC_URL", "https://bridge.example.com/"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_FROM", "whatsapp:+14155238886"),
        ];
        let err = load(None, &complete).expect_err("no data key");
        assert!(err.to_string().contains("REDFLAG_DATA_KEY") && err.to_string().contains("openssl rand"), "{err}");
        let key = "0f".repeat(32);
        let ok = load(None, &[&complete[..], &[("REDFLAG_DATA_KEY", key.as_str())]].concat())
            .expect("complete production settings load");
        assert_eq!(ok.signed_url("/webhooks/twilio").as_deref(), Some("https://bridge.example.com/webhooks/twilio"));
        // The file's key is the data key's, derived: the same every time, never the data key itself.
        let file_key = ok.file_key().expect("a file key");
        assert_eq!(Some(&file_key), ok.file_key().as_ref());
        assert_ne!(file_key, FileKey::new([0x0f; 32]));
    }

    #[test]
    fn production_cannot_switch_signatures_off() {
        let vars = [
            ("REDFLAG_ENV", "production"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("REDFLAG_PUBLIC_URL", "https://b.example.com"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_FROM", "+15550001111"),
            ("REDFLAG_BRIDGE_VALIDATE_SIGNATURES", "false"),
        ];
        let err = load(None, &vars).expect_err("refused");
        assert!(err.to_string().contains("development only"), "{err}");
    }

    #[test]
    fn settings_that_would_let_strangers_in_are_refused() {
        // Production over plain http.
        let production = [
            ("REDFLAG_ENV", "production"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_FROM", "+15550001111"),
        ];
        let http = [&production[..], &[("REDFLAG_PUBLIC_URL", "http://b.example.com")]].concat();
        assert!(load(None, &http).expect_err("http").to_string().contains("https"));
        // A Telegram bot without its webhook secret, in development too.
        let err = load(None, &[("TELEGRAM_BOT_TOKEN", "123:abc")]).expect_err("no secret");
        assert!(err.to_string().contains("TELEGRAM_SECRET_TOKEN"), "{err}");
        // Development beyond loopback with the public test token.
        let err = load(None, &[("REDFLAG_BRIDGE_ADDR", "0.0.0.0:8080")]).expect_err("open dev");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        load(None, &[("REDFLAG_BRIDGE_ADDR", "0.0.0.0:8080"), ("TWILIO_AUTH_TOKEN", "real")]).expect("a real token");
        load(None, &[("REDFLAG_BRIDGE_ADDR", "127.0.0.1:8080")]).expect("loopback is fine");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let vars = [
            ("TWILIO_AUTH_TOKEN", "sekret-token-123"),
            ("TELEGRAM_BOT_TOKEN", "123:bot-sekret"),
            ("TELEGRAM_SECRET_TOKEN", "sekret_webhook"),
            ("REDFLAG_DATABASE_URL", "postgres://bridge:sekret-pw@db:5432/redflag"),
        ];
        let s = load(None, &vars).expect("loads");
        let shown = format!("{s:?}");
        assert!(!shown.contains("sekret"), "{shown}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = load(None, &[("REDFLAG_BRIDGE_ADDR", "localhost")]).expect_err("not a socket address");
        assert!(err.to_string().contains("REDFLAG_BRIDGE_ADDR"), "{err}");
        let err = load(None, &[("TELEGRAM_SECRET_TOKEN", "has space")]).expect_err("bad secret");
        assert!(err.to_string().contains("TELEGRAM_SECRET_TOKEN"), "{err}");
    }

    #[test]
    fn the_data_key_is_64_hex_characters_from_the_environment_or_a_file() {
        assert!(load(None, &[]).expect("loads").data_key.is_none());
        let hex = "0f".repeat(32);
        let s = load(None, &[("REDFLAG_DATA_KEY", &hex)]).expect("a good key");
        assert_eq!(s.data_key.as_ref().map(|k| k.0), Some([0x0f; 32]));
        assert!(!format!("{s:?}").contains(&hex) && !format!("{s:?}").contains("15, 15"), "the key is not shown");
        let err = load(None, &[("REDFLAG_DATA_KEY", "short")]).expect_err("too short");
        assert!(err.to_string().contains("REDFLAG_DATA_KEY") && err.to_string().contains("openssl rand"), "{err}");

        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("data.key");
        std::fs::write(&file, format!("{}\n", "a1".repeat(32))).expect("write the key");
        let s = load(Some(&format!("data_key_file = {:?}\n", file)), &[]).expect("from the file");
        assert_eq!(s.data_key.map(|k| k.0), Some([0xa1; 32]));
        let missing = load(Some("data_key_file = \"/nonexistent/data.key\"\n"), &[]).expect_err("missing file");
        assert!(missing.to_string().contains("/nonexistent/data.key"), "{missing}");
    }

    #[test]
    fn a_database_url_selects_postgres_and_must_be_one() {
        assert!(load(None, &[]).expect("loads").database_url.is_none(), "SQLite unless a URL is given");
        let s = load(Some("database_url = \"postgres://b@file-host/r\"\n"), &[]).expect("from the file");
        assert_eq!(s.database_url.map(|u| u.expose_secret().to_string()).as_deref(), Some("postgres://b@file-host/r"));
        let s = load(
            Some("database_url = \"postgres://b@file-host/r\"\n"),
            &[("REDFLAG_DATABASE_URL", "postgresql://e@env/r")],
        )
        .expect("the environment wins");
        assert_eq!(s.database_url.map(|u| u.expose_secret().to_string()).as_deref(), Some("postgresql://e@env/r"));
        let err =
            load(None, &[("REDFLAG_DATABASE_URL", "/var/lib/redflag/bridge.db")]).expect_err("a path is not a URL");
        assert!(err.to_string().contains("REDFLAG_DATABASE_URL") && err.to_string().contains("postgres://"), "{err}");
    }
}
