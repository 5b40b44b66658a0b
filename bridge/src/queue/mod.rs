//! The durable queue and the little the bridge remembers about its users, behind traits: SQLite on one node
//! ([`SqliteQueue`]), PostgreSQL when the bridge runs on several ([`PgQueue`]), with the same semantics.
//!
//! A message's life is an explicit state machine, each change recorded as an event:
//!
//! ```text
//! received ──claim──▶ analysing ──reply stored──▶ replying ──all parts sent──▶ done
//!    ▲                   │ lease expired               │ retryable error: back to replying later
//!    └───────────────────┘                             ├─ permanent error ──▶ review (manual, with the reason)
//!                                                      └─ attempts used up ──▶ failed
//! ```
//!
//! * **Enqueue is one `INSERT ... ON CONFLICT DO NOTHING`** on the provider's id (`MessageSid`, Telegram
//!   `update_id`) and Twilio's idempotency token, so a webhook retried while the first delivery is still being
//!   written can never queue twice; there is no check-then-insert race.
//! * **Claims are leases.** A worker that dies leaves its jobs claimed until the lease runs out; then an `analysing`
//!   group goes back to `received` and a `replying` job is sent by someone else. Nothing is lost by a crash.
//! * **Coalescing.** A forwarded posting arrives as several webhooks within a second or two, so a sender's
//!   `received` messages are claimed together once the sender has been quiet for a moment (or the oldest has
//!   waited long enough); the first becomes the group's leader and carries the reply, the others are done with it.
//! * **Answer once.** The reply is stored before sending, and each part's provider id (Twilio's message SID) is
//!   recorded as soon as the provider accepts it, before anything else happens; a restart resends only parts with
//!   no id. The one window left: a crash after the provider accepted a part and before its id was written resends
//!   that part once. That window is one REST round trip long per send in flight (typically 100-300 ms with
//!   Twilio), so a crash can duplicate at most one part per worker; Twilio's Messages API has no idempotency key
//!   that would close it (`tests/crash.rs` measures it).
//!
//! The traits are synchronous: SQLite calls take microseconds to a few milliseconds, and callers on the async
//! runtime wrap them in `spawn_blocking`. Times are Unix milliseconds passed in by the caller, so tests control them.

mod admins;
mod pg;
pub mod schema;
mod sqlite;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditRecord};

pub use admins::{AdminAccount, AdminSession, Admins};
pub use pg::PgQueue;
pub use schema::{BRIDGE_PG_SCHEMA, BRIDGE_SCHEMA};
pub use sqlite::{SqliteQueue, bridge_db};

/// A message whose analysis lost its lease this many times (each a worker crash or hang) goes to review instead
/// of taking down the next worker too.
pub const MAX_ANALYSIS_ATTEMPTS: u32 = 3;

/// A message's state; see the module docs for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Received,
    Analysing,
    Replying,
    Done,
    Failed,
    Review,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Analysing => "analysing",
            State::Replying => "replying",
            State::Done => "done",
            State::Failed => "failed",
            State::Review => "review",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "received" => State::Received,
            "analysing" => State::Analysing,
            "replying" => State::Replying,
            "done" => State::Done,
            "failed" => State::Failed,
            "review" => State::Review,
            _ => return None,
        })
    }
}

/// The channel a message came in on and its reply goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    WhatsApp,
    Sms,
    Telegram,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "whatsapp" => Channel::WhatsApp,
            "sms" => Channel::Sms,
            "telegram" => Channel::Telegram,
            _ => return None,
        })
    }
}

/// An inbound message, as the webhook handler hands it over (owned: it crosses to the blocking pool).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel: Channel,
    /// The provider's id for this message, unique per provider: `twilio:SM...`, `telegram:412345678`.
    pub dedupe_key: String,
    /// Twilio's `I-Twilio-Idempotency-Token`, the same on every retry of one event.
    pub idempotency_key: Option<String>,
    /// A stable id for the sender (quotas, history, "delete my data").
    pub user_key: String,
    /// Where the reply goes; `None` when the sender's address cannot be replied to (never sent to).
    pub reply_to: Option<String>,
    pub body: String,
    /// The message carried media (images, voice notes).
    pub media: bool,
    /// Where to fetch the message's image to read it (Twilio's `MediaUrl0`, on its API host); `None` for no image
    /// or media the bridge does not read (voice notes). Cleared with the text once the message is done.
    pub media_url: Option<String>,
    pub now_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New(i64),
    /// The provider delivered this message before; nothing was written.
    Duplicate,
}

/// A stored reply: the rendered parts and how to send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub parts: Vec<String>,
    /// Send the configured WhatsApp template instead of the parts: Twilio reported (in a status callback) that
    /// the free-form reply fell outside the 24-hour window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub channel: Channel,
    pub user_key: String,
    pub reply_to: Option<String>,
    pub body: String,
    pub media: bool,
    /// See [`NewMessage::media_url`].
    pub media_url: Option<String>,
    pub state: State,
    /// Claims of this job so far (analysis and delivery attempts).
    pub attempts: u32,
    pub received_at_ms: i64,
    pub reply: Option<Reply>,
    /// How many of the reply's parts the provider has accepted.
    pub sent_parts: usize,
}

/// Work a worker claimed.
#[derive(Debug)]
pub enum Work {
    /// One sender's messages to analyse together; the first is the leader that will carry the reply.
    Analyse(Vec<Job>),
    /// A stored reply (still) to send.
    Send(Job),
}

/// How to group a sender's messages.
#[derive(Debug, Clone, Copy)]
pub struct Coalesce {
    pub quiet_ms: i64,
    pub max_wait_ms: i64,
    /// At most this many messages in one group.
    pub max_messages: usize,
    /// A reply claimed this many times without finishing (a worker that keeps dying mid-send) is given up as
    /// failed instead of being resent forever.
    pub max_send_claims: u32,
}

/// Where a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    Review,
}

impl Outcome {
    fn state(self) -> State {
        match self {
            Outcome::Done => State::Done,
            Outcome::Failed => State::Failed,
            Outcome::Review => State::Review,
        }
    }
}

/// An operator's decision on a message waiting in `review` (or given up as `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Try again: a stored reply is sent again (its unsent parts), a message without one is analysed again; the
    /// attempts start over. For when the cause is fixed (a sandbox joined, credentials corrected).
    Requeue,
    /// Close it: `done`, its text and reply forgotten as for any answered message.
    Resolve,
}

/// Queue depth for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Depth {
    /// Messages not finished yet (received, analysing or replying).
    pub pending: u64,
    pub oldest_age_ms: i64,
    pub review: u64,
}

/// A job as the operator sees it (`redflag-bridge jobs`).
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    pub id: i64,
    pub channel: Channel,
    pub state: State,
    pub attempts: u32,
    pub received_at_ms: i64,
    pub reason: Option<String>,
}

/// One message as a sender's export shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub channel: Channel,
    pub state: State,
    pub received_at_ms: i64,
    /// Empty once the message is done (its text is cleared then).
    pub text: String,
}

/// What the bridge's own tables keep about one sender ([`crate::privacy::export`] adds the core's).
#[derive(Debug, Clone, PartialEq)]
pub struct KeptAbout {
    pub last_inbound_ms: Option<i64>,
    pub messages: Vec<StoredMessage>,
    /// Today's count under the pseudonym (0 when there is none for today).
    pub analyses_today: u32,
}

/// What the daily quota says about one more analysis for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Allowed,
    /// Over the quota for the first time today: tell them once.
    JustExceeded,
    /// Over the quota and told already: stay silent.
    Exceeded,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Opening the file, or its schema (refused when written by a newer build), worded by the core's store.
    #[error(transparent)]
    Store(#[from] redflag::store::StoreError),
    #[error("bridge queue database error: {0}; if it persists, check free disk space and the file's permissions")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored reply is not the JSON this build expects: {0}")]
    Json(#[from] serde_json::Error),
    #[error("job {0} is not claimed by this worker any more (its lease ran out and another worker took it)")]
    LostLease(i64),
    /// Connecting to PostgreSQL or migrating it, worded by [`redflag::store::pg`].
    #[error(transparent)]
    Pg(#[from] redflag::store::pg::PgError),
    #[error("bridge database (PostgreSQL) error: {}; if it persists, check the server's log", redflag::store::pg::reason(.0))]
    Postgres(#[from] postgres::Error),
    #[error("no PostgreSQL connection free within 10 s ({0}); check that the server is up and not out of connections")]
    Pool(#[from] r2d2::Error),
    #[error("cannot start the PostgreSQL notification listener: {0}")]
    Listen(String),
    /// A write that went through the SQLite queue's writer thread: its error, already worded for the operator.
    #[error("{0}")]
    Write(String),
    /// The pseudonym key: unreadable as stored, or no randomness to make one.
    #[error("cannot set up sender pseudonyms: {0}")]
    Secret(String),
}

/// The durable message queue.
pub trait Queue: Send + Sync + fmt::Debug {
    fn enqueue(&self, m: &NewMessage) -> Result<Enqueued, QueueError>;

    /// Claim the next piece of work for `owner` until `now_ms + lease_ms`: a stored reply that is due first
    /// (finishing work beats starting it), else one sender's group of received messages.
    fn claim(&self, owner: &str, now_ms: i64, lease_ms: i64, coalesce: Coalesce) -> Result<Option<Work>, QueueError>;

    /// The group was analysed: the leader stores the reply and moves to `replying` (its lease renewed until
    /// `until_ms` for the sending), the rest are done with it.
    fn store_reply(
        &self,
        owner: &str,
        group: &[i64],
        reply: &Reply,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<(), QueueError>;

    /// Extend `owner`'s lease on `job` to `until_ms` before a slow step (each reply part), failing with
    /// [`QueueError::LostLease`] if another worker has taken it meanwhile: then this worker must not send.
    fn renew(&self, owner: &str, job: i64, until_ms: i64) -> Result<(), QueueError>;

    /// The provider accepted part `index` of a job's reply and named it `provider_id`.
    fn part_sent(&self, owner: &str, job: i64, index: usize, provider_id: &str, now_ms: i64) -> Result<(), QueueError>;

    /// Try sending again at `at_ms` (a retryable failure), releasing the lease.
    fn retry_at(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError>;

    /// Put a send off until `at_ms` without counting the attempt its claim counted (sending is paused, through
    /// no fault of the message), releasing the lease. The event is recorded once per reason, not per postponement.
    fn postpone(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError>;

    /// End a job (and, for `Done`, forget its text: the verdict is in the history, redacted).
    fn finish(
        &self,
        owner: &str,
        jobs: &[i64],
        outcome: Outcome,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<(), QueueError>;

    /// Apply an operator's decision to `job` if it is in `review` or `failed`; returns its new state, or `None`
    /// when there is no such job in either state (it moved on, or the id is wrong).
    fn settle(&self, job: i64, action: Settle, reason: &str, now_ms: i64) -> Result<Option<State>, QueueError>;
    /// Replace the reply of a message in review (or failed) with one an operator wrote, and send it: `replying`,
    /// from its first part, the attempts starting over. False if the message is not in review or failed, or has
    /// no address to reply to.
    fn reply_by_hand(&self, job: i64, reply: &Reply, reason: &str, now_ms: i64) -> Result<bool, QueueError>;

    /// Give back every job `owner` holds (graceful shutdown): analysing ones become received again, replying ones
    /// are due at once.
    fn release(&self, owner: &str, now_ms: i64) -> Result<usize, QueueError>;

    fn depth(&self, now_ms: i64) -> Result<Depth, QueueError>;
    /// Messages received since `since_ms`, by hour (Unix ms of the hour's start, count), oldest first: the
    /// console's traffic chart, from every node.
    fn received_per_hour(&self, since_ms: i64) -> Result<Vec<(i64, u64)>, QueueError>;

    /// Prove the store takes writes now: one small write transaction. Readiness asks this, because a full disk or a
    /// database another process has locked still answers reads while every webhook's write fails.
    fn probe_write(&self) -> Result<(), QueueError>;

    /// The states a job went through, oldest first (for tests and `redflag-bridge jobs`).
    fn events(&self, job: i64) -> Result<Vec<State>, QueueError>;

    fn jobs(&self, state: Option<State>, limit: usize) -> Result<Vec<JobSummary>, QueueError>;

    /// One message with its text, stored reply and last reason, for the person reviewing it
    /// (`redflag-bridge jobs show`).
    fn job(&self, id: i64) -> Result<Option<(Job, Option<String>)>, QueueError>;

    /// Delete finished (done, failed) messages last changed before `before_ms` and messages left in review since
    /// before `review_before_ms`, with their events and delivery statuses (their dedupe keys stay as tombstones), and
    /// the last-message time of senders not heard from since `before_ms` (only needed for WhatsApp's 24 hours).
    /// Returns the number of messages deleted.
    fn purge_finished(&self, before_ms: i64, review_before_ms: i64) -> Result<usize, QueueError>;

    /// Twilio reported (status callback, error 63016) that a reply part was refused as outside WhatsApp's 24-hour
    /// window: reopen its finished job to send the template instead. Returns the job, if it was reopened.
    fn reopen_for_template(&self, provider_id: &str, now_ms: i64) -> Result<Option<i64>, QueueError>;

    /// A delivery status callback; statuses only move forward by `rank` (callbacks arrive out of order).
    /// Returns whether the stored status changed.
    fn delivery_status(
        &self,
        provider_id: &str,
        status: &str,
        rank: u8,
        error_code: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, QueueError>;
}

/// What the bridge keeps per user: the last inbound time (WhatsApp's 24-hour window) under the address, and the
/// daily quota under the sender's pseudonym ([`crate::pseudonym`]), which "delete my data" leaves in place.
pub trait Users: Send + Sync + fmt::Debug {
    fn last_inbound_ms(&self, user_key: &str) -> Result<Option<i64>, QueueError>;

    /// Count one analysis for `subject` (a sender's pseudonym) against `limit` per UTC day (the day of `now_ms`).
    fn count_analysis(&self, subject: &str, now_ms: i64, limit: u32) -> Result<Quota, QueueError>;

    /// Erase everything kept about a user's address except the job `keep` (it carries the confirmation), whose
    /// text is cleared. Their messages' dedupe keys stay behind as tombstones, hashed, so a captured webhook
    /// replayed later is still a duplicate; the quota, kept under the pseudonym, is untouched. Returns the number
    /// of records removed.
    fn forget(&self, user_key: &str, keep: Option<i64>) -> Result<usize, QueueError>;

    /// The secret stored under `name`, storing `fresh` first if there is none: one value for every node.
    fn stored_secret(&self, name: &str, fresh: &str) -> Result<String, QueueError>;

    /// The secret stored under `name`, if any.
    fn secret(&self, name: &str) -> Result<Option<String>, QueueError>;
    /// Set a stored value (the settings' fingerprint: [`crate::audit::record_config_change`]).
    fn put_secret(&self, name: &str, value: &str) -> Result<(), QueueError>;

    /// Whether `subject` (a sender's pseudonym) is due the privacy notice: true once, the first time it is asked
    /// (recorded then), false after, through "delete my data" too. Forgotten after a year of the tombstones'
    /// retention, so a person back after a long silence is told again.
    fn first_notice(&self, subject: &str, now_ms: i64) -> Result<bool, QueueError>;

    /// What is kept about `user_key` (its messages, oldest first, and last inbound time) and its pseudonym
    /// `subject` (today's quota count, today being the UTC day of `now_ms`).
    fn kept_about(&self, user_key: &str, subject: &str, now_ms: i64) -> Result<KeptAbout, QueueError>;
}

/// The audit log ([`crate::audit`]): appended to, never changed.
pub trait Audit: Send + Sync + fmt::Debug {
    fn audit(&self, at_ms: i64, entry: &AuditEntry) -> Result<(), QueueError>;

    /// The newest `limit` entries, newest first.
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, QueueError>;
}

/// How long the hashed dedupe keys of erased and purged messages are kept: Twilio's webhooks carry no timestamp,
/// so a captured one can be replayed at any time, and the tombstone is what refuses it. A year of them is a few
/// dozen bytes a message.
pub const TOMBSTONE_RETENTION_MS: i64 = 365 * 24 * 3600 * 1000;

/// The tombstone of a dedupe or idempotency key: its SHA-256, so no key (a Telegram update id, a client's
/// idempotency key) outlives its message in readable form.
pub fn tombstone(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything the bridge keeps, in one object: [`SqliteQueue`] on one node, [`PgQueue`] on several.
pub trait BridgeStore: Queue + Users + ApiKeys + Audit + Admins {}

impl<T: Queue + Users + ApiKeys + Audit + Admins> BridgeStore for T {}

/// API keys for `/v1/analyze`, stored as SHA-256 hashes: a leaked database does not leak keys.
pub trait ApiKeys: Send + Sync + fmt::Debug {
    fn add_key(&self, name: &str, key_hash: &str, now_ms: i64) -> Result<i64, QueueError>;
    /// The key's name when the hash belongs to a key that is not revoked.
    fn check_key(&self, key_hash: &str) -> Result<Option<String>, QueueError>;
    fn revoke_key(&self, name: &str, now_ms: i64) -> Result<usize, QueueError>;
    fn list_keys(&self) -> Result<Vec<(String, i64, Option<i64>)>, QueueError>;
}
