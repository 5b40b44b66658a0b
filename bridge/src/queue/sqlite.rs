//! The SQLite implementation of [`Queue`], [`Users`] and [`ApiKeys`], in the same file as the core's store and on
//! the same foundation ([`redflag::store::Db`]: connection set-up, migrations as the `bridge` schema).
//!
//! One connection behind a mutex, shared with the core's store in the same process; every write is an `IMMEDIATE`
//! transaction (it takes the write lock up front and waits on the busy timeout, where a deferred one would fail
//! with "database is locked" on upgrade), and no network call ever happens inside one. WAL with `synchronous = NORMAL`: a commit survives the process being
//! killed (the SIGKILL test relies on it); a power cut of the machine may lose the last few commits, and with them
//! messages already acknowledged to Twilio (`synchronous = FULL` would close that at the cost of an fsync per
//! webhook; see bridge/README.md).

use std::path::Path;
use std::sync::{Arc, MutexGuard};

use redflag::store::db::FileKey;
use redflag::store::{CORE_SCHEMA, Db};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::schema::BRIDGE_SCHEMA;
use super::{
    ApiKeys, Audit, Channel, Coalesce, Depth, Enqueued, Job, JobSummary, KeptAbout, MAX_ANALYSIS_ATTEMPTS, NewMessage,
    Outcome, Queue, QueueError, Quota, Reply, Settle, State, StoredMessage, TOMBSTONE_RETENTION_MS, Users, Work,
    tombstone,
};
use crate::audit::{AuditEntry, AuditRecord};

/// The event detail of a job reopened to send the WhatsApp template (at most once per job).
const REOPENED: &str = "Twilio refused the reply as outside the 24-hour window (63016)";

/// A bridge's SQLite file (created if missing) with every table it holds: the core's and the bridge's (queue and
/// hub), encrypted with `key` when the bridge has a data key ([`crate::settings::Settings::file_key`]). The hub
/// keeps using it when the queue and the core's store are in PostgreSQL.
pub fn bridge_db(path: &Path, key: Option<&FileKey>) -> Result<Arc<Db>, QueueError> {
    Ok(Arc::new(Db::open_keyed(path, &[&CORE_SCHEMA, &BRIDGE_SCHEMA], key)?))
}

#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Arc<Db>,
    /// Enqueues go through one writer thread that commits whatever has arrived as one transaction.
    batcher: Arc<Batcher>,
}

/// Group commit for webhooks: each enqueue waits for its own answer, but while one transaction commits, the
/// enqueues that arrive meanwhile gather and go in the next one together. One commit per burst instead of one per
/// webhook, and one hand-over of the connection's mutex instead of many; an enqueue that arrives alone is written at
/// once, so quiet traffic waits for nothing.
#[derive(Debug)]
struct Batcher {
    tx: std::sync::mpsc::Sender<Pending>,
}

#[derive(Debug)]
struct Pending {
    message: NewMessage,
    reply: std::sync::mpsc::SyncSender<Result<Enqueued, String>>,
}

/// At most this many enqueues in one transaction, so a huge burst still answers its first webhooks quickly.
const MAX_BATCH: usize = 256;

impl Batcher {
    fn start(db: Arc<Db>) -> Result<Batcher, QueueError> {
        let (tx, rx) = std::sync::mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("sqlite-enqueue".into())
            .spawn(move || {
                // Ends when every queue handle (and so every sender) is gone.
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(more) => batch.push(more),
                            Err(_) => break,
                        }
                    }
                    let written = db.write(|tx| {
                        batch.iter().map(|p| insert(tx, &p.message)).collect::<Result<Vec<_>, QueueError>>()
                    });
                    match written {
                        Ok(results) => {
                            for (p, result) in batch.iter().zip(results) {
                                let _ = p.reply.send(Ok(result));
                            }
                        }
                        // Nothing of the batch was written: every webhook in it is answered with an error (503), and
                        // Twilio delivers it again.
                        Err(e) => {
                            let e = e.to_string();
                            for p in &batch {
                                let _ = p.reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })
            .map_err(|e| QueueError::Write(format!("cannot start the bridge queue's writer thread: {e}")))?;
        Ok(Batcher { tx })
    }

    fn enqueue(&self, message: &NewMessage) -> Result<Enqueued, QueueError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let pending = Pending { message: message.clone(), reply };
        self.tx.send(pending).map_err(|_| {
            QueueError::Write("the bridge queue's writer thread has stopped; restart the bridge".into())
        })?;
        answer
            .recv()
            .map_err(|_| {
                QueueError::Write(
                    "the bridge queue's writer thread stopped before answering; restart the bridge".into(),
                )
            })?
            .map_err(QueueError::Write)
    }
}

impl SqliteQueue {
    /// Open (or create) the plain database at `path` with the core's tables and the bridge's: a bridge's file
    /// always holds both. The bridge itself opens its file through [`bridge_db`], with its key.
    pub fn open(path: &Path) -> Result<SqliteQueue, QueueError> {
        SqliteQueue::on(bridge_db(path, None)?)
    }

    pub fn open_in_memory() -> Result<SqliteQueue, QueueError> {
        SqliteQueue::on(Arc::new(Db::open_in_memory(&[&CORE_SCHEMA, &BRIDGE_SCHEMA])?))
    }

    /// The bridge's tables in a database already open (the process's one connection, shared with the core's
    /// store).
    pub fn on(db: Arc<Db>) -> Result<SqliteQueue, QueueError> {
        db.migrate(&BRIDGE_SCHEMA)?;
        let batcher = Arc::new(Batcher::start(Arc::clone(&db))?);
        Ok(SqliteQueue { db, batcher })
    }

    /// The database under this queue, to open the core's store on the same connection.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.db.conn()
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, QueueError>) -> Result<T, QueueError> {
        self.db.write(f)
    }
}

impl SqliteQueue {
    fn anything_due(&self, now_ms: i64, c: Coalesce) -> Result<bool, QueueError> {
        let conn = self.conn();
        let due: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM bridge_jobs WHERE state IN ('analysing', 'replying') AND lease_until < ?1)
                 OR EXISTS (SELECT 1 FROM bridge_jobs WHERE state = 'replying' AND lease_until IS NULL AND next_at <= ?1)
                 OR EXISTS (SELECT 1 FROM bridge_jobs WHERE state = 'received' GROUP BY user_key
                            HAVING MAX(received_at) <= ?1 - ?2 OR MIN(received_at) <= ?1 - ?3)",
            params![now_ms, c.quiet_ms, c.max_wait_ms],
            |r| r.get(0),
        )?;
        Ok(due)
    }
}

fn event(tx: &Transaction<'_>, job: i64, state: State, detail: Option<&str>, now_ms: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO bridge_events (job_id, at, state, detail) VALUES (?1, ?2, ?3, ?4)",
        params![job, now_ms, state.as_str(), detail],
    )?;
    Ok(())
}

/// Write one inbound message in the writer's transaction: the job, its first event and the sender's last inbound
/// time. One statement decides new-or-duplicate: a retry racing the first delivery hits the UNIQUE index, and a
/// message erased or purged since has left a tombstone.
fn insert(tx: &Transaction<'_>, m: &NewMessage) -> Result<Enqueued, QueueError> {
    let id: Option<i64> = tx
        .query_row(
            "INSERT INTO bridge_jobs (channel, dedupe_key, idempotency_key, user_key, reply_to, body, media,
                 received_at, state, next_at, updated_at, media_url)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'received', ?8, ?8, ?11
             WHERE NOT EXISTS (SELECT 1 FROM bridge_tombstones WHERE key_hash IN (?9, ?10))
             ON CONFLICT DO NOTHING RETURNING id",
            params![
                m.channel.as_str(),
                m.dedupe_key,
                m.idempotency_key,
                m.user_key,
                m.reply_to,
                m.body,
                m.media,
                m.now_ms,
                tombstone(&m.dedupe_key),
                m.idempotency_key.as_deref().map(tombstone),
                m.media_url,
            ],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(Enqueued::Duplicate) };
    event(tx, id, State::Received, None, m.now_ms)?;
    tx.execute(
        "INSERT INTO bridge_users (user_key, last_inbound_at) VALUES (?1, ?2)
         ON CONFLICT(user_key) DO UPDATE SET last_inbound_at = MAX(COALESCE(last_inbound_at, 0), excluded.last_inbound_at)",
        params![m.user_key, m.now_ms],
    )?;
    Ok(Enqueued::New(id))
}

const JOB_COLUMNS: &str =
    "id, channel, user_key, reply_to, body, media, state, attempts, received_at, reply, sent_parts, media_url";

fn job_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Job, Option<String>)> {
    let channel: String = row.get(1)?;
    let state: String = row.get(6)?;
    Ok((
        Job {
            id: row.get(0)?,
            // Unknown values cannot be written by this code; default rather than fail a whole claim on them.
            channel: Channel::parse(&channel).unwrap_or(Channel::Sms),
            user_key: row.get(2)?,
            reply_to: row.get(3)?,
            body: row.get(4)?,
            media: row.get(5)?,
            media_url: row.get(11)?,
            state: State::parse(&state).unwrap_or(State::Received),
            attempts: row.get(7)?,
            received_at_ms: row.get(8)?,
            reply: None,
            sent_parts: row.get::<_, i64>(10)? as usize,
        },
        row.get(9)?,
    ))
}

fn with_reply((mut job, reply): (Job, Option<String>)) -> Result<Job, QueueError> {
    job.reply = reply.map(|r| serde_json::from_str::<Reply>(&r)).transpose()?;
    Ok(job)
}

/// Check that `owner` still holds `job`; a worker whose lease ran out must not touch what another now owns.
fn held(tx: &Transaction<'_>, owner: &str, job: i64) -> Result<(), QueueError> {
    let mine: Option<i64> = tx
        .query_row("SELECT id FROM bridge_jobs WHERE id = ?1 AND lease_owner = ?2", params![job, owner], |r| r.get(0))
        .optional()?;
    mine.map(|_| ()).ok_or(QueueError::LostLease(job))
}

impl Queue for SqliteQueue {
    fn enqueue(&self, m: &NewMessage) -> Result<Enqueued, QueueError> {
        self.batcher.enqueue(m)
    }

    fn claim(&self, owner: &str, now_ms: i64, lease_ms: i64, c: Coalesce) -> Result<Option<Work>, QueueError> {
        // Idle workers poll, and every enqueue wakes one while its sender is still inside the quiet period, so most
        // claims find nothing due. Find that out with a read, which never waits for the write lock the webhooks
        // need; only real work takes it (and the write transaction below re-checks everything).
        if !self.anything_due(now_ms, c)? {
            return Ok(None);
        }
        self.write(|tx| {
            let until = now_ms + lease_ms;
            // Groups whose worker died mid-analysis start over: their messages are received again, unless they
            // have already taken down several workers (a poison message), which is given up for review.
            let expired: Vec<(i64, u32)> = tx
                .prepare("SELECT id, attempts FROM bridge_jobs WHERE state = 'analysing' AND lease_until < ?1")?
                .query_map([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, attempts) in expired {
                let (state, detail) = if attempts >= MAX_ANALYSIS_ATTEMPTS {
                    (State::Review, "analysis never finished; check the logs")
                } else {
                    (State::Received, "lease expired during analysis")
                };
                tx.execute(
                    "UPDATE bridge_jobs SET state = ?2, lease_owner = NULL, lease_until = NULL, leader = NULL,
                         reason = ?3, updated_at = ?4 WHERE id = ?1",
                    params![id, state.as_str(), detail, now_ms],
                )?;
                event(tx, id, state, Some(detail), now_ms)?;
            }

            // A reply whose worker keeps dying mid-send (claimed again and again, never finished) is given up
            // rather than resent forever.
            let stuck: Vec<i64> = tx
                .prepare("SELECT id FROM bridge_jobs WHERE state = 'replying' AND lease_until < ?1 AND attempts >= ?2")?
                .query_map(params![now_ms, c.max_send_claims], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in stuck {
                let detail = "the reply was claimed too often without finishing; check the logs";
                tx.execute(
                    "UPDATE bridge_jobs SET state = 'failed', lease_owner = NULL, lease_until = NULL, reason = ?2,
                         updated_at = ?3 WHERE id = ?1",
                    params![id, detail, now_ms],
                )?;
                event(tx, id, State::Failed, Some(detail), now_ms)?;
            }

            // Finishing a reply beats starting a new analysis.
            let send = tx
                .query_row(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM bridge_jobs WHERE state = 'replying' AND next_at <= ?1
                         AND (lease_until IS NULL OR lease_until < ?1) ORDER BY next_at, id LIMIT 1"
                    ),
                    [now_ms],
                    job_row,
                )
                .optional()?;
            if let Some(row) = send {
                let job = with_reply(row)?;
                tx.execute(
                    "UPDATE bridge_jobs SET lease_owner = ?2, lease_until = ?3, attempts = attempts + 1, updated_at = ?4
                     WHERE id = ?1",
                    params![job.id, owner, until, now_ms],
                )?;
                return Ok(Some(Work::Send(Job { attempts: job.attempts + 1, ..job })));
            }

            // The sender who has waited longest among those who have gone quiet (or waited long enough).
            let user: Option<String> = tx
                .query_row(
                    // One group per sender at a time: a second one (say "delete my data" while a posting is
                    // being analysed) waits, so replies keep their order and nothing is recorded after an erase.
                    "SELECT user_key FROM bridge_jobs WHERE state = 'received'
                     AND user_key NOT IN (SELECT user_key FROM bridge_jobs WHERE state = 'analysing')
                     GROUP BY user_key
                     HAVING MAX(received_at) <= ?1 - ?2 OR MIN(received_at) <= ?1 - ?3
                     ORDER BY MIN(received_at) LIMIT 1",
                    params![now_ms, c.quiet_ms, c.max_wait_ms],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(user) = user else { return Ok(None) };
            let rows: Vec<(Job, Option<String>)> = tx
                .prepare(&format!(
                    "SELECT {JOB_COLUMNS} FROM bridge_jobs WHERE state = 'received' AND user_key = ?1
                     ORDER BY id LIMIT ?2"
                ))?
                .query_map(params![user, c.max_messages as i64], job_row)?
                .collect::<Result<_, _>>()?;
            let leader = rows.first().map(|(j, _)| j.id);
            let mut group = Vec::with_capacity(rows.len());
            for row in rows {
                let job = with_reply(row)?;
                tx.execute(
                    "UPDATE bridge_jobs SET state = 'analysing', lease_owner = ?2, lease_until = ?3, leader = ?4,
                         attempts = attempts + 1, updated_at = ?5 WHERE id = ?1",
                    params![job.id, owner, until, leader, now_ms],
                )?;
                event(tx, job.id, State::Analysing, None, now_ms)?;
                group.push(Job { state: State::Analysing, attempts: job.attempts + 1, ..job });
            }
            Ok(Some(Work::Analyse(group)))
        })
    }

    fn store_reply(
        &self,
        owner: &str,
        group: &[i64],
        reply: &Reply,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<(), QueueError> {
        let Some((&leader, rest)) = group.split_first() else { return Ok(()) };
        let json = serde_json::to_string(reply)?;
        self.write(|tx| {
            for id in group {
                held(tx, owner, *id)?;
            }
            tx.execute(
                "UPDATE bridge_jobs SET state = 'replying', reply = ?2, sent_parts = 0, next_at = ?3, updated_at = ?3,
                     lease_until = ?4 WHERE id = ?1",
                params![leader, json, now_ms, until_ms],
            )?;
            event(tx, leader, State::Replying, None, now_ms)?;
            let detail = format!("answered with job {leader}");
            for id in rest {
                tx.execute(
                    "UPDATE bridge_jobs SET state = 'done', body = '', media_url = NULL, lease_owner = NULL, lease_until = NULL,
                         reason = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, detail, now_ms],
                )?;
                event(tx, *id, State::Done, Some(&detail), now_ms)?;
            }
            Ok(())
        })
    }

    fn renew(&self, owner: &str, job: i64, until_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            tx.execute(
                "UPDATE bridge_jobs SET lease_until = MAX(lease_until, ?2) WHERE id = ?1",
                params![job, until_ms],
            )?;
            Ok(())
        })
    }

    fn part_sent(&self, owner: &str, job: i64, index: usize, provider_id: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            tx.execute(
                "UPDATE bridge_jobs SET sent_parts = MAX(sent_parts, ?2 + 1),
                     provider_ids = json_insert(provider_ids, '$[#]', ?3), updated_at = ?4 WHERE id = ?1",
                params![job, index as i64, provider_id, now_ms],
            )?;
            tx.execute(
                "INSERT INTO bridge_deliveries (provider_id, job_id, status, rank, updated_at) VALUES (?1, ?2, 'accepted', 0, ?3)
                 ON CONFLICT(provider_id) DO UPDATE SET job_id = excluded.job_id",
                params![provider_id, job, now_ms],
            )?;
            Ok(())
        })
    }

    fn retry_at(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            tx.execute(
                "UPDATE bridge_jobs SET next_at = ?2, lease_owner = NULL, lease_until = NULL, reason = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![job, at_ms, reason, now_ms],
            )?;
            event(tx, job, State::Replying, Some(reason), now_ms)?;
            Ok(())
        })
    }

    fn postpone(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            let before: Option<String> =
                tx.query_row("SELECT reason FROM bridge_jobs WHERE id = ?1", [job], |r| r.get(0))?;
            tx.execute(
                "UPDATE bridge_jobs SET next_at = ?2, lease_owner = NULL, lease_until = NULL, reason = ?3,
                 attempts = MAX(attempts - 1, 0), updated_at = ?4 WHERE id = ?1",
                params![job, at_ms, reason, now_ms],
            )?;
            if before.as_deref() != Some(reason) {
                event(tx, job, State::Replying, Some(reason), now_ms)?;
            }
            Ok(())
        })
    }

    fn finish(
        &self,
        owner: &str,
        jobs: &[i64],
        outcome: Outcome,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let state = outcome.state();
        self.write(|tx| {
            for &job in jobs {
                held(tx, owner, job)?;
                // A finished message's text and reply (which quotes it) are no longer needed: the verdict is in the
                // history, redacted. A message for review keeps both so a person can look.
                let clear = outcome == Outcome::Done;
                tx.execute(
                    "UPDATE bridge_jobs SET state = ?2, lease_owner = NULL, lease_until = NULL, reason = ?3,
                         body = CASE WHEN ?4 THEN '' ELSE body END, media_url = CASE WHEN ?4 THEN NULL ELSE media_url END, reply = CASE WHEN ?4 THEN NULL ELSE reply END,
                         updated_at = ?5 WHERE id = ?1",
                    params![job, state.as_str(), reason, clear, now_ms],
                )?;
                event(tx, job, state, reason, now_ms)?;
            }
            Ok(())
        })
    }

    fn job(&self, id: i64) -> Result<Option<(Job, Option<String>)>, QueueError> {
        let conn = self.conn();
        let row = conn
            .query_row(&format!("SELECT {JOB_COLUMNS}, reason FROM bridge_jobs WHERE id = ?1"), [id], |r| {
                Ok((job_row(r)?, r.get::<_, Option<String>>(12)?))
            })
            .optional()?;
        row.map(|(job, reason)| Ok((with_reply(job)?, reason))).transpose()
    }

    fn settle(&self, job: i64, action: Settle, reason: &str, now_ms: i64) -> Result<Option<State>, QueueError> {
        self.write(|tx| {
            let has_reply: Option<bool> = tx
                .query_row(
                    "SELECT reply IS NOT NULL FROM bridge_jobs WHERE id = ?1 AND state IN ('review', 'failed')",
                    [job],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(has_reply) = has_reply else { return Ok(None) };
            let state = match (action, has_reply) {
                (Settle::Resolve, _) => State::Done,
                (Settle::Requeue, true) => State::Replying,
                (Settle::Requeue, false) => State::Received,
            };
            let clear = state == State::Done;
            tx.execute(
                "UPDATE bridge_jobs SET state = ?2, reason = ?3, next_at = ?4, attempts = 0, leader = NULL,
                     lease_owner = NULL, lease_until = NULL,
                     body = CASE WHEN ?5 THEN '' ELSE body END, media_url = CASE WHEN ?5 THEN NULL ELSE media_url END,
                     reply = CASE WHEN ?5 THEN NULL ELSE reply END, updated_at = ?4
                 WHERE id = ?1",
                params![job, state.as_str(), reason, now_ms, clear],
            )?;
            event(tx, job, state, Some(reason), now_ms)?;
            Ok(Some(state))
        })
    }

    fn reply_by_hand(&self, job: i64, reply: &Reply, reason: &str, now_ms: i64) -> Result<bool, QueueError> {
        let reply = serde_json::to_string(reply)?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE bridge_jobs SET state = 'replying', reply = ?2, sent_parts = 0, provider_ids = '[]',
                     reason = ?3, next_at = ?4, attempts = 0, leader = NULL, lease_owner = NULL, lease_until = NULL,
                     updated_at = ?4
                 WHERE id = ?1 AND state IN ('review', 'failed') AND reply_to IS NOT NULL",
                params![job, reply, reason, now_ms],
            )?;
            if changed == 1 {
                event(tx, job, State::Replying, Some(reason), now_ms)?;
            }
            Ok(changed == 1)
        })
    }

    fn release(&self, owner: &str, now_ms: i64) -> Result<usize, QueueError> {
        self.write(|tx| {
            let analysing = tx.execute(
                "UPDATE bridge_jobs SET state = 'received', lease_owner = NULL, lease_until = NULL, leader = NULL,
                     updated_at = ?2 WHERE lease_owner = ?1 AND state = 'analysing'",
                params![owner, now_ms],
            )?;
            let replying = tx.execute(
                "UPDATE bridge_jobs SET lease_owner = NULL, lease_until = NULL, next_at = ?2, updated_at = ?2
                 WHERE lease_owner = ?1 AND state = 'replying'",
                params![owner, now_ms],
            )?;
            Ok(analysing + replying)
        })
    }

    fn probe_write(&self) -> Result<(), QueueError> {
        // Rewrites one row with its own value: a real write (the write lock, a WAL frame, a commit) that changes
        // nothing.
        self.db.write(|tx| {
            tx.execute("UPDATE redflag_schema SET version = version WHERE name = 'bridge'", [])?;
            Ok(())
        })
    }

    fn depth(&self, now_ms: i64) -> Result<Depth, QueueError> {
        let conn = self.conn();
        let (pending, oldest): (i64, Option<i64>) = conn.query_row(
            "SELECT COUNT(*), MIN(received_at) FROM bridge_jobs WHERE state IN ('received', 'analysing', 'replying')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let review: i64 =
            conn.query_row("SELECT COUNT(*) FROM bridge_jobs WHERE state = 'review'", [], |r| r.get(0))?;
        Ok(Depth {
            pending: pending as u64,
            oldest_age_ms: oldest.map_or(0, |t| (now_ms - t).max(0)),
            review: review as u64,
        })
    }

    fn received_per_hour(&self, since_ms: i64) -> Result<Vec<(i64, u64)>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT received_at / 3600000, COUNT(*) FROM bridge_jobs WHERE received_at >= ?1 GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([since_ms], |r| Ok((r.get::<_, i64>(0)? * 3_600_000, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn events(&self, job: i64) -> Result<Vec<State>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT state FROM bridge_events WHERE job_id = ?1 ORDER BY id")?;
        let states = stmt.query_map([job], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(states.iter().filter_map(|s| State::parse(s)).collect())
    }

    fn jobs(&self, state: Option<State>, limit: usize) -> Result<Vec<JobSummary>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, channel, state, attempts, received_at, reason FROM bridge_jobs
             WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![state.map(State::as_str), limit as i64], |r| {
            let channel: String = r.get(1)?;
            let state: String = r.get(2)?;
            Ok(JobSummary {
                id: r.get(0)?,
                channel: Channel::parse(&channel).unwrap_or(Channel::Sms),
                state: State::parse(&state).unwrap_or(State::Received),
                attempts: r.get(3)?,
                received_at_ms: r.get(4)?,
                reason: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn purge_finished(&self, before_ms: i64, review_before_ms: i64) -> Result<usize, QueueError> {
        self.write(|tx| {
            let old = "SELECT id FROM bridge_jobs WHERE (state IN ('done', 'failed') AND updated_at < ?1)
                       OR (state = 'review' AND updated_at < ?2)";
            bury(tx, &format!("WHERE id IN ({old})"), params![before_ms, review_before_ms])?;
            tx.execute(
                "DELETE FROM bridge_tombstones WHERE at < ?1",
                [before_ms.saturating_sub(TOMBSTONE_RETENTION_MS)],
            )?;
            // A quota row counts one UTC day; two days on it counts nothing.
            tx.execute("DELETE FROM bridge_quota WHERE updated_at < ?1", [before_ms.saturating_sub(2 * DAY_MS)])?;
            tx.execute("DELETE FROM bridge_users WHERE last_inbound_at IS NULL OR last_inbound_at < ?1", [before_ms])?;
            tx.execute("DELETE FROM bridge_notices WHERE at < ?1", [before_ms.saturating_sub(TOMBSTONE_RETENTION_MS)])?;
            tx.execute(
                &format!("DELETE FROM bridge_deliveries WHERE job_id IN ({old})"),
                params![before_ms, review_before_ms],
            )?;
            tx.execute(
                &format!("DELETE FROM bridge_events WHERE job_id IN ({old})"),
                params![before_ms, review_before_ms],
            )?;
            Ok(tx.execute(
                &format!("DELETE FROM bridge_jobs WHERE id IN ({old})"),
                params![before_ms, review_before_ms],
            )?)
        })
    }

    fn reopen_for_template(&self, provider_id: &str, now_ms: i64) -> Result<Option<i64>, QueueError> {
        let reply = serde_json::to_string(&Reply { parts: Vec::new(), template: true })?;
        self.write(|tx| {
            let job: Option<i64> = tx
                .query_row(
                    // Once per job: a multi-part reply gets one 63016 callback per part.
                    "SELECT j.id FROM bridge_deliveries d JOIN bridge_jobs j ON j.id = d.job_id
                     WHERE d.provider_id = ?1 AND j.state = 'done' AND j.channel = 'whatsapp'
                     AND NOT EXISTS (SELECT 1 FROM bridge_events e WHERE e.job_id = j.id AND e.detail = ?2)",
                    params![provider_id, REOPENED],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(job) = job else { return Ok(None) };
            let detail = REOPENED;
            tx.execute(
                "UPDATE bridge_jobs SET state = 'replying', reply = ?2, sent_parts = 0, next_at = ?3,
                     lease_owner = NULL, lease_until = NULL, reason = ?4, updated_at = ?3 WHERE id = ?1",
                params![job, reply, now_ms, detail],
            )?;
            event(tx, job, State::Replying, Some(detail), now_ms)?;
            Ok(Some(job))
        })
    }

    fn delivery_status(
        &self,
        provider_id: &str,
        status: &str,
        rank: u8,
        error_code: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, QueueError> {
        self.write(|tx| {
            let changed = tx.execute(
                "INSERT INTO bridge_deliveries (provider_id, status, rank, error_code, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(provider_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
                     error_code = COALESCE(excluded.error_code, error_code), updated_at = excluded.updated_at
                 WHERE excluded.rank > bridge_deliveries.rank",
                params![provider_id, status, rank, error_code, now_ms],
            )?;
            Ok(changed > 0)
        })
    }
}

impl Users for SqliteQueue {
    fn last_inbound_ms(&self, user_key: &str) -> Result<Option<i64>, QueueError> {
        let conn = self.conn();
        Ok(conn
            .query_row("SELECT last_inbound_at FROM bridge_users WHERE user_key = ?1", [user_key], |r| r.get(0))
            .optional()?
            .flatten())
    }

    fn count_analysis(&self, subject: &str, now_ms: i64, limit: u32) -> Result<Quota, QueueError> {
        self.write(|tx| {
            let day: String =
                tx.query_row("SELECT strftime('%Y-%m-%d', ?1 / 1000, 'unixepoch')", [now_ms], |r| r.get(0))?;
            // A new day resets the count; then one more analysis is counted only while under the limit.
            tx.execute(
                "INSERT INTO bridge_quota (subject, quota_day, quota_used, quota_told, updated_at) VALUES (?1, ?2, 0, 0, ?3)
                 ON CONFLICT(subject) DO UPDATE SET quota_day = ?2, quota_used = 0, quota_told = 0
                 WHERE quota_day IS NOT ?2",
                params![subject, day, now_ms],
            )?;
            let (used, told): (i64, bool) =
                tx.query_row("SELECT quota_used, quota_told FROM bridge_quota WHERE subject = ?1", [subject], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            if used < i64::from(limit) {
                tx.execute(
                    "UPDATE bridge_quota SET quota_used = quota_used + 1, updated_at = ?2 WHERE subject = ?1",
                    params![subject, now_ms],
                )?;
                Ok(Quota::Allowed)
            } else if !told {
                tx.execute("UPDATE bridge_quota SET quota_told = 1 WHERE subject = ?1", [subject])?;
                Ok(Quota::JustExceeded)
            } else {
                Ok(Quota::Exceeded)
            }
        })
    }

    fn forget(&self, user_key: &str, keep: Option<i64>) -> Result<usize, QueueError> {
        self.write(|tx| {
            let keep = keep.unwrap_or(-1);
            bury(tx, "WHERE user_key = ?1 AND id != ?2", params![user_key, keep])?;
            let mut removed = tx.execute(
                "DELETE FROM bridge_deliveries WHERE job_id IN
                     (SELECT id FROM bridge_jobs WHERE user_key = ?1 AND id != ?2)",
                params![user_key, keep],
            )?;
            removed += tx.execute(
                "DELETE FROM bridge_events WHERE job_id IN (SELECT id FROM bridge_jobs WHERE user_key = ?1 AND id != ?2)",
                params![user_key, keep],
            )?;
            removed += tx.execute("DELETE FROM bridge_jobs WHERE user_key = ?1 AND id != ?2", params![user_key, keep])?;
            removed += tx.execute("DELETE FROM bridge_users WHERE user_key = ?1", [user_key])?;
            // The kept job keeps its text ("delete my data") until it is done: if the process dies before the
            // confirmation is stored, the retried job must still read as the command.
            Ok(removed)
        })
    }

    fn stored_secret(&self, name: &str, fresh: &str) -> Result<String, QueueError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO bridge_secrets (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                [name, fresh],
            )?;
            Ok(tx.query_row("SELECT value FROM bridge_secrets WHERE name = ?1", [name], |r| r.get(0))?)
        })
    }

    fn put_secret(&self, name: &str, value: &str) -> Result<(), QueueError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO bridge_secrets (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [name, value],
            )?;
            Ok(())
        })
    }

    fn first_notice(&self, subject: &str, now_ms: i64) -> Result<bool, QueueError> {
        self.write(|tx| {
            Ok(tx.execute(
                "INSERT INTO bridge_notices (subject, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![subject, now_ms],
            )? == 1)
        })
    }

    fn secret(&self, name: &str) -> Result<Option<String>, QueueError> {
        let conn = self.conn();
        Ok(conn.query_row("SELECT value FROM bridge_secrets WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    fn kept_about(&self, user_key: &str, subject: &str, now_ms: i64) -> Result<KeptAbout, QueueError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, channel, state, received_at, body FROM bridge_jobs WHERE user_key = ?1 ORDER BY id")?;
        let messages = stmt
            .query_map([user_key], |r| {
                let (channel, state): (String, String) = (r.get(1)?, r.get(2)?);
                Ok(StoredMessage {
                    id: r.get(0)?,
                    channel: Channel::parse(&channel).unwrap_or(Channel::Sms),
                    state: State::parse(&state).unwrap_or(State::Received),
                    received_at_ms: r.get(3)?,
                    text: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let last_inbound_ms = conn
            .query_row("SELECT last_inbound_at FROM bridge_users WHERE user_key = ?1", [user_key], |r| r.get(0))
            .optional()?
            .flatten();
        let analyses_today: Option<i64> = conn
            .query_row(
                "SELECT quota_used FROM bridge_quota
                 WHERE subject = ?1 AND quota_day = strftime('%Y-%m-%d', ?2 / 1000, 'unixepoch')",
                params![subject, now_ms],
                |r| r.get(0),
            )
            .optional()?;
        let analyses_today = analyses_today.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        Ok(KeptAbout { last_inbound_ms, messages, analyses_today })
    }
}

impl Audit for SqliteQueue {
    fn audit(&self, at_ms: i64, e: &AuditEntry) -> Result<(), QueueError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO bridge_audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![at_ms, e.actor, e.action, e.target, e.detail],
            )?;
            Ok(())
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, QueueError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, at, actor, action, target, detail FROM bridge_audit ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Leave tombstones for the jobs `filter` selects (a `WHERE` clause over `bridge_jobs`), before they are deleted:
/// their dedupe and idempotency keys, hashed, dated by the job's last change.
fn bury(tx: &Transaction<'_>, filter: &str, args: impl rusqlite::Params) -> Result<(), QueueError> {
    let mut keys = tx.prepare(&format!("SELECT dedupe_key, idempotency_key, updated_at FROM bridge_jobs {filter}"))?;
    let rows = keys.query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get(2)?)))?;
    let mut insert =
        tx.prepare("INSERT INTO bridge_tombstones (key_hash, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?;
    for row in rows {
        let (dedupe, idempotency, at): (String, Option<String>, i64) = row?;
        for key in std::iter::once(dedupe).chain(idempotency) {
            insert.execute(params![tombstone(&key), at])?;
        }
    }
    Ok(())
}

impl ApiKeys for SqliteQueue {
    fn add_key(&self, name: &str, key_hash: &str, now_ms: i64) -> Result<i64, QueueError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO bridge_api_keys (name, key_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, key_hash, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn check_key(&self, key_hash: &str) -> Result<Option<String>, QueueError> {
        let conn = self.conn();
        Ok(conn
            .query_row("SELECT name FROM bridge_api_keys WHERE key_hash = ?1 AND revoked_at IS NULL", [key_hash], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn revoke_key(&self, name: &str, now_ms: i64) -> Result<usize, QueueError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE bridge_api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, now_ms],
            )?)
        })
    }

    fn list_keys(&self) -> Result<Vec<(String, i64, Option<i64>)>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, created_at, revoked_at FROM bridge_api_keys ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

mod admins;
#[cfg(test)]
mod tests;
