//! The PostgreSQL implementation of [`Queue`], [`Users`] and [`ApiKeys`], for several bridge nodes on one
//! database: the same states, events and answers as the SQLite queue (the same test suite runs on both,
//! `bridge/tests/store.rs`), with claims that hold across nodes.
//!
//! * **Enqueue** is the same single `INSERT ... ON CONFLICT DO NOTHING` on the provider's id and Twilio's
//!   idempotency token, so a webhook retried to another node is still queued once; it notifies `redflag_jobs` so
//!   idle workers on every node wake (see [`PgQueue::listen`]).
//! * **Claims** lock rows with `FOR UPDATE SKIP LOCKED`: two nodes never claim the same job and never wait on
//!   each other's claims. A sender's group is claimed under a transaction-scoped advisory lock on the sender, so two
//!   nodes cannot both start a group for one sender (one group per sender at a time, as in SQLite, where the
//!   single writer gives this for free), and a burst is coalesced on one node.
//! * **Leases** are columns in the row, as in SQLite: a node that dies leaves leases that run out, and any node's
//!   next claim takes the work over.
//! * Everything else is one short transaction at READ COMMITTED with the rows it changes locked (`held` takes the
//!   job's row lock before checking the lease). A deadlock or serialization failure the server reports is retried.

use std::sync::Arc;

use postgres::error::SqlState;
use postgres::{Row, Transaction};

use super::schema::BRIDGE_PG_SCHEMA;
use super::{
    ApiKeys, Audit, Channel, Coalesce, Depth, Enqueued, Job, JobSummary, KeptAbout, MAX_ANALYSIS_ATTEMPTS, NewMessage,
    Outcome, Queue, QueueError, Quota, Reply, Settle, State, StoredMessage, TOMBSTONE_RETENTION_MS, Users, Work,
    tombstone,
};
use crate::audit::{AuditEntry, AuditRecord};
use redflag::store::pg::{Pg, PgConn};

mod admins;

/// The event detail of a job reopened to send the WhatsApp template (at most once per job); as in SQLite.
const REOPENED: &str = "Twilio refused the reply as outside the 24-hour window (63016)";

/// The first key of the per-sender advisory locks (the second is the sender's hash), so they cannot collide with
/// the migration lock, which uses the single-key space.
const SENDER_LOCK: i32 = 0x7266;

/// The channel idle workers listen on.
pub const JOBS_CHANNEL: &str = "redflag_jobs";

/// How many due senders a claim tries before giving up to the next poll (the others are locked by other nodes).
const SENDER_CANDIDATES: i64 = 8;

/// How often a transaction the server aborted (deadlock, serialization failure) is tried again.
const RETRIES: usize = 3;

#[derive(Debug, Clone)]
pub struct PgQueue {
    pg: Arc<Pg>,
}

impl PgQueue {
    /// Connect to `url` and bring the bridge's tables up to date (once, however many nodes start together).
    pub fn connect(url: &str) -> Result<PgQueue, QueueError> {
        Ok(PgQueue { pg: Arc::new(Pg::connect(url, &[&BRIDGE_PG_SCHEMA])?) })
    }

    pub fn pg(&self) -> &Arc<Pg> {
        &self.pg
    }

    /// Call `wake` whenever a message is queued on any node, until the process ends, from a thread of its own with
    /// a connection of its own. Idle workers then wait to be woken instead of polling the database hard. Listening
    /// has begun when this returns; a lost connection is re-established (and `wake` called, since notifications
    /// may have been missed meanwhile).
    pub fn listen(&self, wake: impl Fn() + Send + 'static) -> Result<(), QueueError> {
        let first = listening(&self.pg)?;
        let pg = Arc::clone(&self.pg);
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || {
                let mut conn = Some(first);
                loop {
                    if let Some(c) = conn.as_mut()
                        && let Err(e) = forward(c, &wake)
                    {
                        tracing::warn!(error = %e, "lost the PostgreSQL notification connection; reconnecting");
                    }
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    conn = listening(&pg).inspect_err(|e| tracing::warn!(error = %e, "cannot listen yet")).ok();
                    wake();
                }
            })
            .map_err(|e| QueueError::Listen(e.to_string()))?;
        Ok(())
    }

    /// One short transaction, tried again when the server aborts it for a deadlock or a serialization failure.
    fn write<T>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, QueueError>) -> Result<T, QueueError> {
        let mut conn = self.pg.conn()?;
        let mut attempt = 0;
        loop {
            let result = conn.transaction().map_err(QueueError::from).and_then(|mut tx| {
                let out = f(&mut tx)?;
                tx.commit()?;
                Ok(out)
            });
            match result {
                Err(QueueError::Postgres(e)) if attempt < RETRIES && retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    fn anything_due(&self, now_ms: i64, c: Coalesce) -> Result<bool, QueueError> {
        let mut conn = self.pg.conn()?;
        let row = conn.query_one(
            "SELECT EXISTS (SELECT 1 FROM bridge_jobs WHERE state IN ('analysing', 'replying') AND lease_until < $1)
                 OR EXISTS (SELECT 1 FROM bridge_jobs WHERE state = 'replying' AND lease_until IS NULL AND next_at <= $1)
                 OR EXISTS (SELECT 1 FROM bridge_jobs WHERE state = 'received' GROUP BY user_key
                            HAVING MAX(received_at) <= $1::BIGINT - $2::BIGINT
                                OR MIN(received_at) <= $1::BIGINT - $3::BIGINT)",
            &[&now_ms, &c.quiet_ms, &c.max_wait_ms],
        )?;
        Ok(row.get(0))
    }
}

fn listening(pg: &Pg) -> Result<PgConn, QueueError> {
    let mut conn = pg.conn()?;
    conn.batch_execute(&format!("LISTEN {JOBS_CHANNEL}"))?;
    Ok(conn)
}

/// Call `wake` for each notification until the connection fails.
fn forward(conn: &mut PgConn, wake: &impl Fn()) -> Result<(), QueueError> {
    let mut notifications = conn.notifications();
    let mut iter = notifications.blocking_iter();
    while postgres::fallible_iterator::FallibleIterator::next(&mut iter)?.is_some() {
        wake();
    }
    Ok(())
}

fn retryable(e: &postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

fn event(
    tx: &mut Transaction<'_>,
    job: i64,
    state: State,
    detail: Option<&str>,
    now_ms: i64,
) -> Result<(), QueueError> {
    tx.execute(
        "INSERT INTO bridge_events (job_id, at, state, detail) VALUES ($1, $2, $3, $4)",
        &[&job, &now_ms, &state.as_str(), &detail],
    )?;
    Ok(())
}

const JOB_COLUMNS: &str =
    "id, channel, user_key, reply_to, body, media, state, attempts, received_at, reply, sent_parts, media_url";

fn job(row: &Row) -> Result<Job, QueueError> {
    let reply: Option<String> = row.get(9);
    Ok(Job {
        id: row.get(0),
        // Unknown values cannot be written by this code; default rather than fail a whole claim on them.
        channel: Channel::parse(row.get(1)).unwrap_or(Channel::Sms),
        user_key: row.get(2),
        reply_to: row.get(3),
        body: row.get(4),
        media: row.get(5),
        media_url: row.get(11),
        state: State::parse(row.get(6)).unwrap_or(State::Received),
        attempts: row.get::<_, i32>(7).max(0) as u32,
        received_at_ms: row.get(8),
        reply: reply.map(|r| serde_json::from_str::<Reply>(&r)).transpose()?,
        sent_parts: row.get::<_, i32>(10).max(0) as usize,
    })
}

/// Check that `owner` still holds `job`, locking its row until the transaction ends: a worker whose lease ran out
/// must not touch what another node now owns, and no other node can take it between this check and the write.
fn held(tx: &mut Transaction<'_>, owner: &str, job: i64) -> Result<(), QueueError> {
    let mine =
        tx.query_opt("SELECT id FROM bridge_jobs WHERE id = $1 AND lease_owner = $2 FOR UPDATE", &[&job, &owner])?;
    mine.map(|_| ()).ok_or(QueueError::LostLease(job))
}

impl Queue for PgQueue {
    fn enqueue(&self, m: &NewMessage) -> Result<Enqueued, QueueError> {
        // One statement, so one round trip and an implicit transaction: the job (new or duplicate, decided on
        // either unique key whichever node the retry reached), its first event, the sender's last inbound time,
        // and the notification to idle workers on every node (delivered at commit), the last three only when the
        // job is new. A message erased or purged since has left a tombstone and is a duplicate too. The webhook's
        // acknowledgement waits for this, so it is the path to keep short.
        let row = self.pg.conn()?.query_opt(
            "WITH job AS (
                 INSERT INTO bridge_jobs (channel, dedupe_key, idempotency_key, user_key, reply_to, body, media,
                     received_at, state, next_at, updated_at, media_url)
                 SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::TEXT, $5::TEXT, $6::TEXT, $7::BOOLEAN, $8::BIGINT,
                     'received', $8::BIGINT, $8::BIGINT, $12::TEXT
                 WHERE NOT EXISTS (SELECT 1 FROM bridge_tombstones WHERE key_hash IN ($10::TEXT, $11::TEXT))
                 ON CONFLICT DO NOTHING RETURNING id
             ), event AS (
                 INSERT INTO bridge_events (job_id, at, state) SELECT id, $8, 'received' FROM job
             ), sender AS (
                 INSERT INTO bridge_users (user_key, last_inbound_at) SELECT $4, $8 FROM job
                 ON CONFLICT (user_key) DO UPDATE SET last_inbound_at =
                     GREATEST(COALESCE(bridge_users.last_inbound_at, 0), excluded.last_inbound_at)
             )
             SELECT id, pg_notify($9, '')::TEXT FROM job",
            &[
                &m.channel.as_str(),
                &m.dedupe_key,
                &m.idempotency_key,
                &m.user_key,
                &m.reply_to,
                &m.body,
                &m.media,
                &m.now_ms,
                &JOBS_CHANNEL,
                &tombstone(&m.dedupe_key),
                &m.idempotency_key.as_deref().map(tombstone),
                &m.media_url,
            ],
        )?;
        Ok(row.map_or(Enqueued::Duplicate, |r| Enqueued::New(r.get(0))))
    }

    fn claim(&self, owner: &str, now_ms: i64, lease_ms: i64, c: Coalesce) -> Result<Option<Work>, QueueError> {
        // As in SQLite: most polls find nothing due, which a plain read answers without locking anything.
        if !self.anything_due(now_ms, c)? {
            return Ok(None);
        }
        self.write(|tx| {
            let until = now_ms + lease_ms;
            // Groups whose worker died mid-analysis start over, or go to review after several deaths.
            let review = "analysis never finished; check the logs";
            let expired = "lease expired during analysis";
            let rows = tx.query(
                "UPDATE bridge_jobs SET
                     state = CASE WHEN attempts >= $2 THEN 'review' ELSE 'received' END,
                     reason = CASE WHEN attempts >= $2 THEN $3 ELSE $4 END,
                     lease_owner = NULL, lease_until = NULL, leader = NULL, updated_at = $1
                 WHERE id IN (SELECT id FROM bridge_jobs WHERE state = 'analysing' AND lease_until < $1
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, state, reason",
                &[&now_ms, &(MAX_ANALYSIS_ATTEMPTS as i32), &review, &expired],
            )?;
            for r in rows {
                let state = State::parse(r.get(1)).unwrap_or(State::Received);
                event(tx, r.get(0), state, r.get(2), now_ms)?;
            }

            // A reply whose worker keeps dying mid-send is given up rather than resent forever.
            let stuck = "the reply was claimed too often without finishing; check the logs";
            let rows = tx.query(
                "UPDATE bridge_jobs SET state = 'failed', lease_owner = NULL, lease_until = NULL, reason = $3,
                     updated_at = $1
                 WHERE id IN (SELECT id FROM bridge_jobs WHERE state = 'replying' AND lease_until < $1
                              AND attempts >= $2 FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                &[&now_ms, &(c.max_send_claims as i32), &stuck],
            )?;
            for r in rows {
                event(tx, r.get(0), State::Failed, Some(stuck), now_ms)?;
            }

            // Finishing a reply beats starting a new analysis.
            let send = tx.query_opt(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM bridge_jobs WHERE state = 'replying' AND next_at <= $1
                     AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at, id LIMIT 1
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&now_ms],
            )?;
            if let Some(row) = send {
                let job = job(&row)?;
                tx.execute(
                    "UPDATE bridge_jobs SET lease_owner = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4
                     WHERE id = $1",
                    &[&job.id, &owner, &until, &now_ms],
                )?;
                return Ok(Some(Work::Send(Job { attempts: job.attempts + 1, ..job })));
            }

            // The senders who have waited longest among those gone quiet (or waited long enough).
            let users: Vec<String> = tx
                .query(
                    "SELECT user_key FROM bridge_jobs WHERE state = 'received'
                     AND user_key NOT IN (SELECT user_key FROM bridge_jobs WHERE state = 'analysing')
                     GROUP BY user_key
                     HAVING MAX(received_at) <= $1::BIGINT - $2::BIGINT OR MIN(received_at) <= $1::BIGINT - $3::BIGINT
                     ORDER BY MIN(received_at) LIMIT $4",
                    &[&now_ms, &c.quiet_ms, &c.max_wait_ms, &SENDER_CANDIDATES],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for user in users {
                // One group per sender at a time, across nodes: the sender's lock, held until this transaction
                // ends, then a fresh look (READ COMMITTED: this statement sees what other nodes committed).
                let locked: bool =
                    tx.query_one("SELECT pg_try_advisory_xact_lock($1, hashtext($2))", &[&SENDER_LOCK, &user])?.get(0);
                if !locked {
                    continue;
                }
                let busy: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM bridge_jobs WHERE user_key = $1 AND state = 'analysing')",
                        &[&user],
                    )?
                    .get(0);
                if busy {
                    continue;
                }
                let rows = tx.query(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM bridge_jobs WHERE state = 'received' AND user_key = $1
                         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"
                    ),
                    &[&user, &(c.max_messages as i64)],
                )?;
                let Some(leader) = rows.first().map(|r| r.get::<_, i64>(0)) else { continue };
                let mut group = Vec::with_capacity(rows.len());
                for row in &rows {
                    let job = job(row)?;
                    tx.execute(
                        "UPDATE bridge_jobs SET state = 'analysing', lease_owner = $2, lease_until = $3, leader = $4,
                             attempts = attempts + 1, updated_at = $5 WHERE id = $1",
                        &[&job.id, &owner, &until, &leader, &now_ms],
                    )?;
                    event(tx, job.id, State::Analysing, None, now_ms)?;
                    group.push(Job { state: State::Analysing, attempts: job.attempts + 1, ..job });
                }
                return Ok(Some(Work::Analyse(group)));
            }
            Ok(None)
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
                "UPDATE bridge_jobs SET state = 'replying', reply = $2, sent_parts = 0, next_at = $3, updated_at = $3,
                     lease_until = $4 WHERE id = $1",
                &[&leader, &json, &now_ms, &until_ms],
            )?;
            event(tx, leader, State::Replying, None, now_ms)?;
            let detail = format!("answered with job {leader}");
            for id in rest {
                tx.execute(
                    "UPDATE bridge_jobs SET state = 'done', body = '', media_url = NULL, lease_owner = NULL,
                         lease_until = NULL,
                         reason = $2, updated_at = $3 WHERE id = $1",
                    &[id, &detail, &now_ms],
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
                "UPDATE bridge_jobs SET lease_until = GREATEST(lease_until, $2) WHERE id = $1",
                &[&job, &until_ms],
            )?;
            Ok(())
        })
    }

    fn part_sent(&self, owner: &str, job: i64, index: usize, provider_id: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            tx.execute(
                "UPDATE bridge_jobs SET sent_parts = GREATEST(sent_parts, $2::INTEGER + 1),
                     provider_ids = provider_ids || to_jsonb($3::TEXT), updated_at = $4 WHERE id = $1",
                &[&job, &(index as i32), &provider_id, &now_ms],
            )?;
            tx.execute(
                "INSERT INTO bridge_deliveries (provider_id, job_id, status, rank, updated_at)
                 VALUES ($1, $2, 'accepted', 0, $3)
                 ON CONFLICT (provider_id) DO UPDATE SET job_id = excluded.job_id",
                &[&provider_id, &job, &now_ms],
            )?;
            Ok(())
        })
    }

    fn retry_at(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            tx.execute(
                "UPDATE bridge_jobs SET next_at = $2, lease_owner = NULL, lease_until = NULL, reason = $3, updated_at = $4
                 WHERE id = $1",
                &[&job, &at_ms, &reason, &now_ms],
            )?;
            event(tx, job, State::Replying, Some(reason), now_ms)
        })
    }

    fn postpone(&self, owner: &str, job: i64, at_ms: i64, reason: &str, now_ms: i64) -> Result<(), QueueError> {
        self.write(|tx| {
            held(tx, owner, job)?;
            let before: Option<String> = tx.query_one("SELECT reason FROM bridge_jobs WHERE id = $1", &[&job])?.get(0);
            tx.execute(
                "UPDATE bridge_jobs SET next_at = $2, lease_owner = NULL, lease_until = NULL, reason = $3,
                 attempts = GREATEST(attempts - 1, 0), updated_at = $4 WHERE id = $1",
                &[&job, &at_ms, &reason, &now_ms],
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
        // As in SQLite: a finished message's text and reply are no longer needed; one for review keeps both.
        let clear = outcome == Outcome::Done;
        self.write(|tx| {
            for &job in jobs {
                held(tx, owner, job)?;
                tx.execute(
                    "UPDATE bridge_jobs SET state = $2, lease_owner = NULL, lease_until = NULL, reason = $3,
                         body = CASE WHEN $4 THEN '' ELSE body END, reply = CASE WHEN $4 THEN NULL ELSE reply END,
                         media_url = CASE WHEN $4 THEN NULL ELSE media_url END,
                         updated_at = $5 WHERE id = $1",
                    &[&job, &state.as_str(), &reason, &clear, &now_ms],
                )?;
                event(tx, job, state, reason, now_ms)?;
            }
            Ok(())
        })
    }

    fn job(&self, id: i64) -> Result<Option<(Job, Option<String>)>, QueueError> {
        let mut conn = self.pg.conn()?;
        let row = conn.query_opt(&format!("SELECT {JOB_COLUMNS}, reason FROM bridge_jobs WHERE id = $1"), &[&id])?;
        row.map(|r| Ok((job(&r)?, r.get(12)))).transpose()
    }

    fn settle(&self, job: i64, action: Settle, reason: &str, now_ms: i64) -> Result<Option<State>, QueueError> {
        self.write(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT reply IS NOT NULL FROM bridge_jobs WHERE id = $1 AND state IN ('review', 'failed') FOR UPDATE",
                &[&job],
            )?
            else {
                return Ok(None);
            };
            let state = match (action, row.get::<_, bool>(0)) {
                (Settle::Resolve, _) => State::Done,
                (Settle::Requeue, true) => State::Replying,
                (Settle::Requeue, false) => State::Received,
            };
            let clear = state == State::Done;
            tx.execute(
                "UPDATE bridge_jobs SET state = $2, reason = $3, next_at = $4, attempts = 0, leader = NULL,
                     lease_owner = NULL, lease_until = NULL,
                     body = CASE WHEN $5 THEN '' ELSE body END, media_url = CASE WHEN $5 THEN NULL ELSE media_url END,
                     reply = CASE WHEN $5 THEN NULL ELSE reply END, updated_at = $4
                 WHERE id = $1",
                &[&job, &state.as_str(), &reason, &now_ms, &clear],
            )?;
            event(tx, job, state, Some(reason), now_ms)?;
            Ok(Some(state))
        })
    }

    fn reply_by_hand(&self, job: i64, reply: &Reply, reason: &str, now_ms: i64) -> Result<bool, QueueError> {
        let reply = serde_json::to_string(reply)?;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE bridge_jobs SET state = 'replying', reply = $2, sent_parts = 0, provider_ids = '[]'::jsonb,
                     reason = $3, next_at = $4, attempts = 0, leader = NULL, lease_owner = NULL, lease_until = NULL,
                     updated_at = $4
                 WHERE id = $1 AND state IN ('review', 'failed') AND reply_to IS NOT NULL",
                &[&job, &reply, &reason, &now_ms],
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
                     updated_at = $2 WHERE lease_owner = $1 AND state = 'analysing'",
                &[&owner, &now_ms],
            )?;
            let replying = tx.execute(
                "UPDATE bridge_jobs SET lease_owner = NULL, lease_until = NULL, next_at = $2, updated_at = $2
                 WHERE lease_owner = $1 AND state = 'replying'",
                &[&owner, &now_ms],
            )?;
            Ok((analysing + replying) as usize)
        })
    }

    fn depth(&self, now_ms: i64) -> Result<Depth, QueueError> {
        let mut conn = self.pg.conn()?;
        let row = conn.query_one(
            "SELECT COUNT(*) FILTER (WHERE state IN ('received', 'analysing', 'replying')),
                    MIN(received_at) FILTER (WHERE state IN ('received', 'analysing', 'replying')),
                    COUNT(*) FILTER (WHERE state = 'review')
             FROM bridge_jobs WHERE state IN ('received', 'analysing', 'replying', 'review')",
            &[],
        )?;
        let (pending, oldest, review): (i64, Option<i64>, i64) = (row.get(0), row.get(1), row.get(2));
        Ok(Depth {
            pending: pending as u64,
            oldest_age_ms: oldest.map_or(0, |t| (now_ms - t).max(0)),
            review: review as u64,
        })
    }

    fn received_per_hour(&self, since_ms: i64) -> Result<Vec<(i64, u64)>, QueueError> {
        let rows = self.pg.conn()?.query(
            "SELECT received_at / 3600000, COUNT(*) FROM bridge_jobs WHERE received_at >= $1 GROUP BY 1 ORDER BY 1",
            &[&since_ms],
        )?;
        Ok(rows.iter().map(|r| (r.get::<_, i64>(0) * 3_600_000, r.get::<_, i64>(1) as u64)).collect())
    }

    fn probe_write(&self) -> Result<(), QueueError> {
        // A real write that changes nothing, as in SQLite: a read-only replica or a full disk fails it.
        self.write(|tx| {
            tx.execute("UPDATE redflag_schema SET version = version WHERE name = 'bridge'", &[])?;
            Ok(())
        })
    }

    fn events(&self, job: i64) -> Result<Vec<State>, QueueError> {
        let mut conn = self.pg.conn()?;
        let rows = conn.query("SELECT state FROM bridge_events WHERE job_id = $1 ORDER BY id", &[&job])?;
        Ok(rows.iter().filter_map(|r| State::parse(r.get(0))).collect())
    }

    fn jobs(&self, state: Option<State>, limit: usize) -> Result<Vec<JobSummary>, QueueError> {
        let mut conn = self.pg.conn()?;
        let rows = conn.query(
            "SELECT id, channel, state, attempts, received_at, reason FROM bridge_jobs
             WHERE $1::TEXT IS NULL OR state = $1 ORDER BY id DESC LIMIT $2",
            &[&state.map(State::as_str), &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| JobSummary {
                id: r.get(0),
                channel: Channel::parse(r.get(1)).unwrap_or(Channel::Sms),
                state: State::parse(r.get(2)).unwrap_or(State::Received),
                attempts: r.get::<_, i32>(3).max(0) as u32,
                received_at_ms: r.get(4),
                reason: r.get(5),
            })
            .collect())
    }

    fn purge_finished(&self, before_ms: i64, review_before_ms: i64) -> Result<usize, QueueError> {
        self.write(|tx| {
            let old = "SELECT id FROM bridge_jobs WHERE (state IN ('done', 'failed') AND updated_at < $1)
                       OR (state = 'review' AND updated_at < $2)";
            let when: [&(dyn postgres::types::ToSql + Sync); 2] = [&before_ms, &review_before_ms];
            bury(tx, &format!("WHERE id IN ({old})"), &when)?;
            let stale = before_ms.saturating_sub(TOMBSTONE_RETENTION_MS);
            tx.execute("DELETE FROM bridge_tombstones WHERE at < $1", &[&stale])?;
            // A quota row counts one UTC day; two days on it counts nothing.
            tx.execute("DELETE FROM bridge_quota WHERE updated_at < $1", &[&before_ms.saturating_sub(2 * DAY_MS)])?;
            tx.execute(
                "DELETE FROM bridge_users WHERE last_inbound_at IS NULL OR last_inbound_at < $1",
                &[&before_ms],
            )?;
            tx.execute("DELETE FROM bridge_notices WHERE at < $1", &[&stale])?;
            tx.execute(&format!("DELETE FROM bridge_deliveries WHERE job_id IN ({old})"), &when)?;
            tx.execute(&format!("DELETE FROM bridge_events WHERE job_id IN ({old})"), &when)?;
            let n = tx.execute(&format!("DELETE FROM bridge_jobs WHERE id IN ({old})"), &when)?;
            Ok(n as usize)
        })
    }

    fn reopen_for_template(&self, provider_id: &str, now_ms: i64) -> Result<Option<i64>, QueueError> {
        let reply = serde_json::to_string(&Reply { parts: Vec::new(), template: true })?;
        self.write(|tx| {
            // Once per job: a multi-part reply gets one 63016 callback per part, perhaps on different nodes.
            let job: Option<i64> = tx
                .query_opt(
                    "SELECT j.id FROM bridge_deliveries d JOIN bridge_jobs j ON j.id = d.job_id
                     WHERE d.provider_id = $1 AND j.state = 'done' AND j.channel = 'whatsapp'
                     AND NOT EXISTS (SELECT 1 FROM bridge_events e WHERE e.job_id = j.id AND e.detail = $2)
                     FOR UPDATE OF j",
                    &[&provider_id, &REOPENED],
                )?
                .map(|r| r.get(0));
            let Some(job) = job else { return Ok(None) };
            tx.execute(
                "UPDATE bridge_jobs SET state = 'replying', reply = $2, sent_parts = 0, next_at = $3,
                     lease_owner = NULL, lease_until = NULL, reason = $4, updated_at = $3 WHERE id = $1",
                &[&job, &reply, &now_ms, &REOPENED],
            )?;
            event(tx, job, State::Replying, Some(REOPENED), now_ms)?;
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
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (provider_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
                     error_code = COALESCE(excluded.error_code, bridge_deliveries.error_code),
                     updated_at = excluded.updated_at
                 WHERE excluded.rank > bridge_deliveries.rank",
                &[&provider_id, &status, &i32::from(rank), &error_code, &now_ms],
            )?;
            Ok(changed > 0)
        })
    }
}

impl Users for PgQueue {
    fn last_inbound_ms(&self, user_key: &str) -> Result<Option<i64>, QueueError> {
        let mut conn = self.pg.conn()?;
        let row = conn.query_opt("SELECT last_inbound_at FROM bridge_users WHERE user_key = $1", &[&user_key])?;
        Ok(row.and_then(|r| r.get(0)))
    }

    fn count_analysis(&self, subject: &str, now_ms: i64, limit: u32) -> Result<Quota, QueueError> {
        self.write(|tx| {
            // A new day (UTC) resets the count; the row stays locked from here to the commit, so two nodes
            // counting the same sender at once take turns and the quota is exact.
            tx.execute(
                "INSERT INTO bridge_quota (subject, quota_day, quota_used, quota_told, updated_at)
                 VALUES ($1, to_char(to_timestamp($2::BIGINT / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, FALSE,
                     $2::BIGINT)
                 ON CONFLICT (subject) DO UPDATE SET quota_day = excluded.quota_day, quota_used = 0,
                     quota_told = FALSE
                 WHERE bridge_quota.quota_day IS DISTINCT FROM excluded.quota_day",
                &[&subject, &now_ms],
            )?;
            let row = tx.query_one(
                "SELECT quota_used, quota_told FROM bridge_quota WHERE subject = $1 FOR UPDATE",
                &[&subject],
            )?;
            let (used, told): (i32, bool) = (row.get(0), row.get(1));
            if i64::from(used) < i64::from(limit) {
                tx.execute(
                    "UPDATE bridge_quota SET quota_used = quota_used + 1, updated_at = $2 WHERE subject = $1",
                    &[&subject, &now_ms],
                )?;
                Ok(Quota::Allowed)
            } else if !told {
                tx.execute("UPDATE bridge_quota SET quota_told = TRUE WHERE subject = $1", &[&subject])?;
                Ok(Quota::JustExceeded)
            } else {
                Ok(Quota::Exceeded)
            }
        })
    }

    fn forget(&self, user_key: &str, keep: Option<i64>) -> Result<usize, QueueError> {
        let keep = keep.unwrap_or(-1);
        self.write(|tx| {
            bury(tx, "WHERE user_key = $1 AND id != $2", &[&user_key, &keep])?;
            let mut removed = tx.execute(
                "DELETE FROM bridge_deliveries WHERE job_id IN
                     (SELECT id FROM bridge_jobs WHERE user_key = $1 AND id != $2)",
                &[&user_key, &keep],
            )?;
            removed += tx.execute(
                "DELETE FROM bridge_events WHERE job_id IN (SELECT id FROM bridge_jobs WHERE user_key = $1 AND id != $2)",
                &[&user_key, &keep],
            )?;
            removed += tx.execute("DELETE FROM bridge_jobs WHERE user_key = $1 AND id != $2", &[&user_key, &keep])?;
            removed += tx.execute("DELETE FROM bridge_users WHERE user_key = $1", &[&user_key])?;
            Ok(removed as usize)
        })
    }

    fn stored_secret(&self, name: &str, fresh: &str) -> Result<String, QueueError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO bridge_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &fresh],
            )?;
            Ok(tx.query_one("SELECT value FROM bridge_secrets WHERE name = $1", &[&name])?.get(0))
        })
    }

    fn put_secret(&self, name: &str, value: &str) -> Result<(), QueueError> {
        self.pg.conn()?.execute(
            "INSERT INTO bridge_secrets (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )?;
        Ok(())
    }

    fn first_notice(&self, subject: &str, now_ms: i64) -> Result<bool, QueueError> {
        let mut conn = self.pg.conn()?;
        let inserted = conn.execute(
            "INSERT INTO bridge_notices (subject, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&subject, &now_ms],
        )?;
        Ok(inserted == 1)
    }

    fn secret(&self, name: &str) -> Result<Option<String>, QueueError> {
        let mut conn = self.pg.conn()?;
        Ok(conn.query_opt("SELECT value FROM bridge_secrets WHERE name = $1", &[&name])?.map(|r| r.get(0)))
    }

    fn kept_about(&self, user_key: &str, subject: &str, now_ms: i64) -> Result<KeptAbout, QueueError> {
        let mut conn = self.pg.conn()?;
        let messages = conn
            .query(
                "SELECT id, channel, state, received_at, body FROM bridge_jobs WHERE user_key = $1 ORDER BY id",
                &[&user_key],
            )?
            .iter()
            .map(|r| StoredMessage {
                id: r.get(0),
                channel: Channel::parse(r.get(1)).unwrap_or(Channel::Sms),
                state: State::parse(r.get(2)).unwrap_or(State::Received),
                received_at_ms: r.get(3),
                text: r.get(4),
            })
            .collect();
        let last_inbound_ms = conn
            .query_opt("SELECT last_inbound_at FROM bridge_users WHERE user_key = $1", &[&user_key])?
            .and_then(|r| r.get(0));
        let analyses_today = conn
            .query_opt(
                "SELECT quota_used FROM bridge_quota WHERE subject = $1
                 AND quota_day = to_char(to_timestamp($2::BIGINT / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                &[&subject, &now_ms],
            )?
            .map_or(0, |r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(0));
        Ok(KeptAbout { last_inbound_ms, messages, analyses_today })
    }
}

impl Audit for PgQueue {
    fn audit(&self, at_ms: i64, e: &AuditEntry) -> Result<(), QueueError> {
        self.pg.conn()?.execute(
            "INSERT INTO bridge_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
            &[&at_ms, &e.actor, &e.action, &e.target, &e.detail],
        )?;
        Ok(())
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.pg.conn()?.query(
            "SELECT id, at, actor, action, target, detail FROM bridge_audit ORDER BY id DESC LIMIT $1",
            &[&limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                target: r.get(4),
                detail: r.get(5),
            })
            .collect())
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Leave tombstones for the jobs `filter` selects (a `WHERE` clause over `bridge_jobs`), before they are deleted:
/// their dedupe and idempotency keys hashed as [`tombstone`] hashes them, dated by the job's last change.
fn bury(
    tx: &mut postgres::Transaction<'_>,
    filter: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<(), QueueError> {
    tx.execute(
        &format!(
            "INSERT INTO bridge_tombstones (key_hash, at)
             SELECT encode(sha256(convert_to(key, 'UTF8')), 'hex'), updated_at
             FROM (SELECT dedupe_key AS key, updated_at FROM bridge_jobs {filter}
                   UNION ALL SELECT idempotency_key, updated_at FROM bridge_jobs {filter}) AS keys
             WHERE key IS NOT NULL
             ON CONFLICT DO NOTHING"
        ),
        args,
    )?;
    Ok(())
}

impl ApiKeys for PgQueue {
    fn add_key(&self, name: &str, key_hash: &str, now_ms: i64) -> Result<i64, QueueError> {
        self.write(|tx| {
            let row = tx.query_one(
                "INSERT INTO bridge_api_keys (name, key_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&name, &key_hash, &now_ms],
            )?;
            Ok(row.get(0))
        })
    }

    fn check_key(&self, key_hash: &str) -> Result<Option<String>, QueueError> {
        let mut conn = self.pg.conn()?;
        let row = conn
            .query_opt("SELECT name FROM bridge_api_keys WHERE key_hash = $1 AND revoked_at IS NULL", &[&key_hash])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn revoke_key(&self, name: &str, now_ms: i64) -> Result<usize, QueueError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE bridge_api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                &[&name, &now_ms],
            )?;
            Ok(n as usize)
        })
    }

    fn list_keys(&self) -> Result<Vec<(String, i64, Option<i64>)>, QueueError> {
        let mut conn = self.pg.conn()?;
        let rows = conn.query("SELECT name, created_at, revoked_at FROM bridge_api_keys ORDER BY id", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }
}
