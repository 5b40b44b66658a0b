//! The hub: what the bridge publishes to paired desktops. Scam indicators (scammer-side values: phone numbers,
//! link hosts, chat handles, e-mail addresses and domains, wallets) with their counts and sources, the operator's
//! allowlist that beats everything, the paired devices, and the reports people send from them (the review list;
//! digests named by enough devices are published). The feed itself (signed pages of changes after a
//! cursor) is written by `routes::sync` with the types in [`redflag::sync::feed`].
//!
//! Every change to what is published (a new value, a count going up, a removal, an allowance) gives the row the
//! next sequence number, so "the changes after cursor N" is one indexed range read and a device that resumes
//! from N misses nothing. Rows are never deleted: a removal is a published change too.
//!
//! Behind a trait like the queue: [`SqliteHub`] in one node's file, [`PgHub`] shared by several nodes.

mod key;
mod pg;
mod sqlite;

use std::fmt;

use redflag::sync::feed::Published;
use redflag::sync::indicators::{self, IndicatorError, IndicatorKind};
use redflag::sync::report::{Report, ReportLabel};
use redflag::{Analysis, Label};

pub use key::{HubSigner, default_path as default_key_path};
pub use pg::PgHub;
pub use sqlite::SqliteHub;

/// How many different people must have sent a value in messages judged scams before the hub publishes it: one
/// person (or one attacker) cannot put a stranger's number on every device by texting it in a scam's words.
pub const MIN_SENDERS: u32 = 2;

/// Where an indicator came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `redflag-bridge indicators add`.
    Operator,
    /// A message the bridge judged a scam with evidence.
    Bridge,
    /// Devices' reports, once enough of them named it.
    Reports,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Operator => "operator",
            Source::Bridge => "bridge",
            Source::Reports => "reports",
        }
    }
}

/// What [`Hub::observe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Published (new, or seen again and counted).
    Published { count: u32 },
    /// Noted, not published yet: fewer than [`MIN_SENDERS`] people sent it.
    Pending { senders: u32 },
    /// The operator allows this value; it is never published.
    Allowed,
}

/// One indicator as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// The value itself (the feed carries only its digest); empty when the hub learnt it only from reports,
    /// which carry digests.
    pub value: String,
    /// Its digest, as published.
    pub hash: String,
    pub count: u32,
    pub first_seen: i64,
    pub last_seen: i64,
    pub source: String,
    pub published: bool,
}

/// One paired device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
}

/// What [`Hub::add_report`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportTaken {
    /// This device sent this report before; nothing changed.
    pub duplicate: bool,
    /// Values this report took past the threshold (or counted again once published).
    pub published: usize,
}

/// One report as the operator reviews it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredReport {
    pub id: i64,
    pub device: String,
    pub label: ReportLabel,
    /// The redacted text the person checked.
    pub text: String,
    /// What Redflag had said.
    pub verdict: String,
    pub score: f32,
    pub flags: Vec<String>,
    /// The digests it carried, each with how many devices have reported it in a scam.
    pub indicators: Vec<ReportedValue>,
    pub checked_at: i64,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportedValue {
    pub kind: IndicatorKind,
    pub hash: String,
    /// Devices that reported it in a scam.
    pub devices: u32,
    /// Whether the hub publishes it now.
    pub published: bool,
}

/// Changes after a sequence number, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub adds: Vec<Published>,
    pub removes: Vec<String>,
    /// The sequence number of the last change returned (the cursor to continue from).
    pub last: i64,
    pub more: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
    #[error("a device named {0:?} exists already; pick another name or revoke it first")]
    DeviceExists(String),
    #[error(transparent)]
    Store(#[from] redflag::store::StoreError),
    #[error("{0}")]
    Report(String),
    #[error("a stored report is not the JSON this build expects: {0}")]
    Json(#[from] serde_json::Error),
    #[error("hub database error: {0}; if it persists, check free disk space and the file's permissions")]
    Sqlite(#[from] rusqlite::Error),
    #[error("hub database (PostgreSQL) error: {}; if it persists, check the server's log", redflag::store::pg::reason(.0))]
    Postgres(#[from] postgres::Error),
    #[error("no PostgreSQL connection free within 10 s ({0}); check that the server is up and not out of connections")]
    Pool(#[from] r2d2::Error),
}

/// What the hub keeps.
pub trait Hub: Send + Sync + fmt::Debug {
    /// Pair a device; the token is stored only as `token_hash`.
    fn add_device(&self, name: &str, token_hash: &str, now_ms: i64) -> Result<(), HubError>;
    /// The name of the active device with this token, noting that it was seen.
    fn device(&self, token_hash: &str, now_ms: i64) -> Result<Option<String>, HubError>;
    /// Whether an active device of that name was revoked.
    fn revoke_device(&self, name: &str, now_ms: i64) -> Result<bool, HubError>;
    fn devices(&self) -> Result<Vec<Device>, HubError>;

    /// One more sighting of `value` (raw; normalised here) from `source`, at `now` (unix seconds). Allowed values
    /// and shared hosts ([`indicators::is_shared_host`]: mail providers, shorteners, chat apps, big platforms) are
    /// never published.
    fn observe(&self, kind: IndicatorKind, value: &str, source: Source, now: i64) -> Result<Observed, HubError>;
    /// A value found in a message from `sender` (a digest of the sender's key, never the key) that the bridge judged
    /// a scam. Published once [`MIN_SENDERS`] different senders sent it; after that every sighting counts.
    fn sighted(&self, kind: IndicatorKind, value: &str, sender: &str, now: i64) -> Result<Observed, HubError>;
    /// Stop publishing `value`; whether it was published.
    fn remove(&self, kind: IndicatorKind, value: &str) -> Result<bool, HubError>;
    /// Never publish `value` (a brand's real domain, a bank's number), and withdraw it if it was.
    fn allow(&self, kind: IndicatorKind, value: &str, now: i64) -> Result<(), HubError>;
    /// The indicators, most recently seen first.
    fn indicators(&self, limit: usize) -> Result<Vec<Indicator>, HubError>;
    /// The published changes after `after`, at most `limit`.
    fn changes(&self, after: i64, limit: usize) -> Result<Changes, HubError>;
    /// The sequence number of the last change (0 when there is none).
    fn last_change(&self) -> Result<i64, HubError>;

    /// Take a device's report (already checked with [`Report::problem`]). A scam report's digests count towards
    /// publication: once `threshold` different devices reported one in scams, it is published (unless allowed),
    /// and every later report counts. A "not a scam" report only goes to the review list.
    fn add_report(&self, device: &str, report: &Report, threshold: u32, now: i64) -> Result<ReportTaken, HubError>;
    /// Reports for review, newest first, optionally only one label's.
    fn reports(&self, label: Option<ReportLabel>, limit: usize) -> Result<Vec<StoredReport>, HubError>;

    /// Publish a rules file (already checked to compile) as `version`, replacing the one before.
    fn publish_bundle(&self, version: &str, rules: &str, now: i64) -> Result<(), HubError>;
    /// The published rules file: its version and text.
    fn bundle(&self) -> Result<Option<(String, String)>, HubError>;
}

/// The prefix that names a value by its digest, as `indicators list` shows a value the hub learnt only from
/// reports: `sha256:` and 64 hex digits.
pub const DIGEST_PREFIX: &str = "sha256:";

/// The digest and the plain value (empty when named by digest) of a value the operator names, either way.
fn named(kind: IndicatorKind, value: &str) -> Result<(String, String), HubError> {
    if let Some(hex) = value.trim().strip_prefix(DIGEST_PREFIX) {
        let hex = hex.to_ascii_lowercase();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HubError::Report(format!("`{value}` is not {DIGEST_PREFIX} and 64 hex digits")));
        }
        return Ok((hex, String::new()));
    }
    let value = indicators::normalise(kind, value)?;
    Ok((indicators::digest(kind, &value), value))
}

/// What the hub's routes reach: its store and its signing key.
#[derive(Debug, Clone)]
pub struct HubState {
    pub store: std::sync::Arc<dyn Hub>,
    pub signer: std::sync::Arc<HubSigner>,
}

/// Note the scammer-side values of a message a person sent the bridge and the bridge judged a scam: a `scam` label,
/// which the core gives only with evidence the person can see. Only messages from people (WhatsApp, SMS, Telegram),
/// not API callers or devices, whose text is theirs to choose; never the sender's own number (the person who
/// forwarded the message is its victim), never an e-mail's domain (`hotmail.co.uk` is everybody's; the address is
/// the scammer's), never a shared host ([`Hub::observe`]); and published only once [`MIN_SENDERS`] people sent it.
/// Returns how many values were published or counted.
pub fn publish_judged_scam(
    hub: &dyn Hub,
    a: &Analysis,
    sender: Option<&str>,
    reporter: Option<&str>,
    now: i64,
) -> Result<usize, HubError> {
    let Some(sender) = sender.filter(|s| !s.starts_with("api:") && !s.starts_with("device:")) else { return Ok(0) };
    if a.label != Label::Scam || !a.has_visible_evidence() {
        return Ok(0);
    }
    let Some(text) = a.text.as_deref() else { return Ok(0) };
    // Distinct reporters are counted by a hash of their pseudonym when there is one, so the sightings table holds
    // nothing a list of phone numbers could be matched against.
    let reporter = redflag::hash::sha256_hex(reporter.unwrap_or(sender));
    let sender = Some(sender);
    // `whatsapp:+14155550123`, `sms:+...`: the sender's number, normalised like the values found.
    let own =
        sender.and_then(|s| s.rsplit(':').next()).and_then(|n| indicators::normalise(IndicatorKind::Phone, n).ok());
    let found = indicators::find_in_text(text);
    let mail_domains: Vec<String> = found
        .iter()
        .filter(|f| f.kind == IndicatorKind::Email)
        .filter_map(|f| f.value.rsplit_once('@').map(|(_, d)| d.to_string()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut counted = 0;
    for found in found {
        let own_number = found.kind == IndicatorKind::Phone && own.as_deref() == Some(found.value.as_str());
        let mail_domain = found.kind == IndicatorKind::Domain && mail_domains.contains(&found.value);
        // One sighting per value per message, however often it is repeated in it.
        if own_number || mail_domain || !seen.insert((found.kind, found.value.clone())) {
            continue;
        }
        if let Observed::Published { .. } = hub.sighted(found.kind, &found.value, &reporter, now)? {
            counted += 1;
        }
    }
    Ok(counted)
}
