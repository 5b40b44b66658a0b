//! Workers: claim work from the queue, analyse, store the reply, send it, record every step.
//!
//! A worker is a loop on the async runtime; the model runs on the engine's own threads and SQLite calls go
//! through `spawn_blocking`, so no runtime thread is ever blocked. Each step writes its state before the next one
//! starts (see [`crate::queue`] for why that makes a crash lose nothing and answer once). Between jobs a worker
//! checks for shutdown; on the way out it hands back whatever it still holds.

use std::sync::Arc;
use std::time::Duration;

use redflag::Input;
use tokio::sync::{Notify, watch};

use crate::audit::AuditEntry;
use crate::engine::{Content, Engine, EngineError};
use crate::metrics as m;
use crate::outbox::{Delivery, Outbox};
use crate::pause::Provider;
use crate::queue::{BridgeStore, Channel, Coalesce, Job, Outcome, Quota, Reply, Work};
use crate::reply::{self, Command, Style};
use crate::tasks::{blocking, now_ms};
use crate::twilio::media::MediaError;

/// WhatsApp only allows free-form replies within 24 hours of the user's last message.
pub const WHATSAPP_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// How often an idle worker looks for due work (retries, quiet senders) when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub lease_ms: i64,
    pub coalesce: Coalesce,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub daily_quota: u32,
}

/// What every worker shares.
#[derive(Debug)]
pub struct Shared {
    pub store: Arc<dyn BridgeStore>,
    pub core_store: Arc<dyn redflag::store::Store>,
    pub engine: Arc<Engine>,
    pub outbox: Outbox,
    pub config: WorkerConfig,
    /// What senders are known by wherever their address is not needed: quota, spend, history.
    pub pseudonyms: crate::pseudonym::Pseudonyms,
    /// Providers that refused the credentials, whose replies wait.
    pub pauses: crate::pause::Pauses,
    /// Woken by the webhook handlers when something was queued.
    pub wake: Notify,
}

pub async fn run(shared: Arc<Shared>, id: String, mut shutdown: watch::Receiver<bool>) {
    tracing::debug!(worker = %id, "worker started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let claimed = {
            let (store, id, cfg) = (Arc::clone(&shared.store), id.clone(), shared.config.clone());
            blocking(move || store.claim(&id, now_ms(), cfg.lease_ms, cfg.coalesce)).await
        };
        match claimed {
            Ok(Ok(Some(work))) => {
                if let Err(e) = process(&shared, &id, work).await {
                    // The job keeps its lease and comes back when it runs out: nothing is lost.
                    tracing::error!(worker = %id, error = %format!("{e:#}"), "job failed; it will be retried after its lease");
                }
            }
            Ok(Ok(None)) => {
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(Err(e)) => {
                tracing::error!(worker = %id, error = %e, "cannot claim work");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(worker = %id, error = %format!("{e:#}"), "cannot claim work");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    let (store, owner) = (Arc::clone(&shared.store), id.clone());
    match blocking(move || store.release(&owner, now_ms())).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(worker = %id, released = n, "released unfinished work"),
        Ok(Err(e)) => {
            tracing::warn!(worker = %id, error = %e, "cannot release work; it returns when its lease runs out")
        }
        Err(e) => tracing::warn!(worker = %id, error = %e, "cannot release work"),
    }
}

async fn process(shared: &Shared, owner: &str, work: Work) -> anyhow::Result<()> {
    match work {
        Work::Analyse(group) => analyse(shared, owner, group).await,
        Work::Send(job) => send(shared, owner, job).await,
    }
}

pub(crate) fn style(channel: Channel) -> Style {
    match channel {
        Channel::WhatsApp => Style::WhatsApp,
        Channel::Sms => Style::Sms,
        Channel::Telegram => Style::Telegram,
    }
}

fn max_chars(channel: Channel) -> usize {
    match channel {
        Channel::Telegram => reply::TELEGRAM_MAX_CHARS,
        Channel::WhatsApp | Channel::Sms => reply::TWILIO_MAX_CHARS,
    }
}

/// What reading an image may add to a group's lease: the download (bounded by the send timeout) and the OCR.
const IMAGE_MS: i64 = 60_000;

/// Analyse one sender's group of messages and store the one reply, then send it.
async fn analyse(shared: &Shared, owner: &str, group: Vec<Job>) -> anyhow::Result<()> {
    let Some(leader) = group.first().cloned() else { return Ok(()) };
    let style = style(leader.channel);
    let mut ids: Vec<i64> = group.iter().map(|j| j.id).collect();

    let mut texts = Vec::new();
    let (mut help, mut forget, mut media) = (false, false, false);
    // The first image of the burst is read (one screenshot is the usual case; more would multiply the cost).
    let mut image: Option<&str> = None;
    for job in &group {
        match reply::command(&job.body) {
            Some(Command::Help) => help = true,
            Some(Command::DeleteMyData) => forget = true,
            None => {
                media |= job.media;
                image = image.or(job.media_url.as_deref());
                if !job.body.trim().is_empty() {
                    texts.push(job.body.as_str());
                }
            }
        }
    }

    // The sender as the quota, the spend ledger and the history know them: their address is needed only to reply.
    let subject = shared.pseudonyms.of(&leader.user_key);
    let mut sections = Vec::new();
    if forget {
        // Everything goes, the rest of this burst included; only the leader stays, to carry the confirmation.
        let (store, core, pseudonyms) =
            (Arc::clone(&shared.store), Arc::clone(&shared.core_store), shared.pseudonyms.clone());
        let (user, keep) = (leader.user_key.clone(), leader.id);
        let removed = blocking(move || -> anyhow::Result<usize> {
            // If anything fails on the way, the command is retried whole: the kept job still reads "delete my data".
            let removed = crate::privacy::erase(&*store, &*core, &pseudonyms, &user, Some(keep))?;
            let entry = AuditEntry::new("sender", "user.erase").target(subject).detail(format!("{removed} records"));
            store.audit(now_ms(), &entry)?;
            Ok(removed)
        })
        .await??;
        tracing::info!(job = leader.id, removed, "erased a user's data on request");
        ids.truncate(1);
        sections.push(reply::deleted(removed, style));
    } else {
        if help {
            sections.push(reply::help(style));
        }
        // Fetched before the quota is counted: a fetch that fails for now leaves the job to be retried whole. An
        // image takes longer than a text (a download, then OCR), so the group's lease is extended first: otherwise
        // another worker could take the group over and read the image a second time.
        if image.is_some() {
            let (store, owner, jobs) = (Arc::clone(&shared.store), owner.to_string(), ids.clone());
            let until = now_ms() + shared.config.lease_ms + IMAGE_MS;
            blocking(move || jobs.iter().try_for_each(|&id| store.renew(&owner, id, until))).await??;
        }
        let picture = match image {
            Some(url) => match shared.outbox.fetch_image(url).await {
                Ok(bytes) => Some(bytes),
                Err(MediaError::Retry(why)) => anyhow::bail!("fetching the image: {why}"),
                Err(MediaError::Refused(why)) => {
                    tracing::info!(job = leader.id, reason = %why, "image not read");
                    sections.push(reply::image_unreadable(&why, style));
                    None
                }
            },
            None => None,
        };
        if !texts.is_empty() || picture.is_some() {
            let (store, who, limit) = (Arc::clone(&shared.store), subject.clone(), shared.config.daily_quota);
            let quota = blocking(move || store.count_analysis(&who, now_ms(), limit)).await??;
            match quota {
                Quota::Allowed => {
                    let text = texts.join("\n\n");
                    let channel = leader.channel.as_str();
                    let is_image = picture.is_some();
                    let content = match picture {
                        Some(bytes) => Content::Image { bytes, caption: text },
                        None => Content::Text(Input::text(text)),
                    };
                    match shared.engine.analyze(content, channel, Some(&subject), Some(&leader.user_key)).await {
                        Ok(analysis) => {
                            tracing::info!(job = leader.id, messages = group.len(), label = ?analysis.label, is_image, "analysed");
                            sections.push(reply::verdict(&analysis, style));
                        }
                        Err(EngineError::Input(why)) if is_image => {
                            tracing::info!(job = leader.id, reason = %why, "image not read");
                            sections.push(reply::image_unreadable(&why, style));
                        }
                        Err(EngineError::Input(why)) => {
                            tracing::info!(job = leader.id, reason = %why, "nothing to analyse");
                            sections.push(reply::empty(style));
                        }
                        Err(e @ (EngineError::Stopped | EngineError::Crashed)) => return Err(e.into()),
                    }
                }
                Quota::JustExceeded => {
                    metrics::counter!(m::LIMITED, "kind" => "quota").increment(1);
                    sections.push(reply::quota_reached(style));
                }
                Quota::Exceeded => metrics::counter!(m::LIMITED, "kind" => "quota").increment(1),
            }
        } else if image.is_some() {
            // The image could not be read and nothing else came with it: the reason is already in `sections`.
        } else if media {
            sections.push(reply::media_not_supported(style));
        } else if !help {
            sections.push(reply::empty(style));
        }
        // Once per sender (by pseudonym), with the first reply they get; silence (an exceeded quota) is not one.
        if !sections.is_empty() {
            let (store, who) = (Arc::clone(&shared.store), subject.clone());
            if blocking(move || store.first_notice(&who, now_ms())).await?? {
                sections.push(reply::privacy_notice(style));
            }
        }
    }

    if sections.is_empty() {
        // Over the quota and told so already: silence, on purpose.
        let (store, owner) = (Arc::clone(&shared.store), owner.to_string());
        blocking(move || store.finish(&owner, &ids, Outcome::Done, Some("daily quota used up"), now_ms())).await??;
        return Ok(());
    }
    let parts = reply::split(&sections.join("\n\n"), max_chars(leader.channel));
    let reply = Reply { parts, template: false };
    {
        let (store, owner, reply, ids) = (Arc::clone(&shared.store), owner.to_string(), reply.clone(), ids.clone());
        let until = now_ms() + shared.config.lease_ms;
        blocking(move || store.store_reply(&owner, &ids, &reply, now_ms(), until)).await??;
    }
    send(shared, owner, Job { reply: Some(reply), sent_parts: 0, ..leader }).await
}

/// Send the parts of a stored reply that the provider has not accepted yet.
async fn send(shared: &Shared, owner: &str, job: Job) -> anyhow::Result<()> {
    let finish = |outcome: Outcome, reason: Option<String>| {
        let (store, owner, id) = (Arc::clone(&shared.store), owner.to_string(), job.id);
        async move {
            blocking(move || store.finish(&owner, &[id], outcome, reason.as_deref(), now_ms())).await??;
            anyhow::Ok(())
        }
    };
    let Some(reply) = job.reply.clone() else {
        return finish(Outcome::Review, Some("no reply stored".into())).await;
    };
    let Some(to) = job.reply_to.clone() else {
        // An address we could not parse is never sent to: that is how 21211 loops start.
        return finish(Outcome::Review, Some("the sender's address cannot be replied to".into())).await;
    };
    let channel = job.channel;
    if reply.template {
        return outside_window(shared, owner, &job, &to, "Twilio reported the reply outside the 24-hour window").await;
    }

    if channel == Channel::WhatsApp {
        let (store, user) = (Arc::clone(&shared.store), job.user_key.clone());
        // The message being answered is itself an inbound one (and "delete my data" erased the stored time).
        let last = blocking(move || store.last_inbound_ms(&user)).await??.unwrap_or(0).max(job.received_at_ms);
        if now_ms() - last > WHATSAPP_WINDOW_MS {
            return outside_window(shared, owner, &job, &to, "the 24-hour window had closed before sending").await;
        }
    }

    let provider = Provider::of(channel);
    if let Some(until) = shared.pauses.paused_until(provider, now_ms()) {
        return postpone(shared, owner, &job, until).await;
    }

    for index in job.sent_parts..reply.parts.len() {
        // A send can take a while (timeouts, a slow provider); make sure nobody else sends this part meanwhile.
        let (store, owner_s, id, until) =
            (Arc::clone(&shared.store), owner.to_string(), job.id, now_ms() + shared.config.lease_ms);
        blocking(move || store.renew(&owner_s, id, until)).await??;
        match shared.outbox.send_text(channel, &to, &reply.parts[index]).await {
            Delivery::Sent(provider_id) => {
                shared.pauses.accepted(provider);
                metrics::counter!(m::REPLIES, "channel" => channel.as_str(), "outcome" => "sent", "code" => "")
                    .increment(1);
                let (store, owner, id) = (Arc::clone(&shared.store), owner.to_string(), job.id);
                blocking(move || store.part_sent(&owner, id, index, &provider_id, now_ms())).await??;
            }
            Delivery::Retry { after, code } => {
                if job.attempts >= shared.config.max_attempts {
                    count(channel, "failed", &code);
                    let why = format!("gave up after {} attempts; last error {code}", job.attempts);
                    tracing::warn!(job = job.id, code = %code, "reply failed for good");
                    return finish(Outcome::Failed, Some(why)).await;
                }
                count(channel, "retry", &code);
                let wait = backoff(shared.config.retry_base, job.attempts).max(after.unwrap_or_default());
                tracing::info!(job = job.id, code = %code, wait_ms = wait.as_millis() as u64, "reply will be retried");
                let (store, owner, id) = (Arc::clone(&shared.store), owner.to_string(), job.id);
                let at = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                blocking(move || store.retry_at(&owner, id, at, &format!("retryable error {code}"), now_ms()))
                    .await??;
                return Ok(());
            }
            Delivery::Unauthorized { code } => {
                count(channel, "paused", &code);
                let until = shared.pauses.refused(provider, &code, now_ms());
                return postpone(shared, owner, &job, until).await;
            }
            Delivery::Permanent { code, outside_window: true } if channel == Channel::WhatsApp => {
                count(channel, "review", &code);
                return outside_window(shared, owner, &job, &to, "Twilio refused a free-form reply (63016)").await;
            }
            Delivery::Permanent { code, .. } => {
                count(channel, "review", &code);
                tracing::warn!(job = job.id, code = %code, "reply refused for good; sent to manual review");
                return finish(Outcome::Review, Some(format!("permanent error {code}"))).await;
            }
        }
    }
    let waited = (now_ms() - job.received_at_ms).max(0) as f64 / 1000.0;
    metrics::histogram!(m::REPLY_SECONDS, "channel" => channel.as_str()).record(waited);
    finish(Outcome::Done, None).await
}

/// Outside WhatsApp's window a free-form reply is refused; an approved template may still be sent.
async fn outside_window(shared: &Shared, owner: &str, job: &Job, to: &str, why: &str) -> anyhow::Result<()> {
    let (store, owner_s, id) = (Arc::clone(&shared.store), owner.to_string(), job.id);
    let finish = |outcome: Outcome, reason: String| async move {
        blocking(move || store.finish(&owner_s, &[id], outcome, Some(&reason), now_ms())).await??;
        anyhow::Ok(())
    };
    match shared.outbox.send_template(to).await {
        None => finish(Outcome::Review, format!("{why}; no template (ContentSid) is configured")).await,
        Some(Delivery::Unauthorized { code }) => {
            count(Channel::WhatsApp, "paused", &code);
            let until = shared.pauses.refused(Provider::Twilio, &code, now_ms());
            postpone(shared, owner, job, until).await
        }
        Some(Delivery::Sent(provider_id)) => {
            shared.pauses.accepted(Provider::Twilio);
            count(Channel::WhatsApp, "template", "");
            let (store, owner) = (Arc::clone(&shared.store), owner.to_string());
            let index = job.sent_parts;
            blocking(move || store.part_sent(&owner, id, index, &provider_id, now_ms())).await??;
            finish(Outcome::Done, format!("{why}; sent the template instead")).await
        }
        Some(Delivery::Retry { code, .. } | Delivery::Permanent { code, .. }) => {
            count(Channel::WhatsApp, "review", &code);
            finish(Outcome::Review, format!("{why}; the template failed too ({code})")).await
        }
    }
}

/// Leave `job` waiting until `until` while its provider is paused; its attempt does not count.
async fn postpone(shared: &Shared, owner: &str, job: &Job, until: i64) -> anyhow::Result<()> {
    let reason = format!("sending paused: {} refused the bridge's credentials", Provider::of(job.channel).as_str());
    let (store, owner, id) = (Arc::clone(&shared.store), owner.to_string(), job.id);
    blocking(move || store.postpone(&owner, id, until, &reason, now_ms())).await??;
    Ok(())
}

fn count(channel: Channel, outcome: &'static str, code: &str) {
    metrics::counter!(m::REPLIES, "channel" => channel.as_str(), "outcome" => outcome, "code" => code.to_string())
        .increment(1);
}

/// `base`, 2·`base`, 4·`base` ... up to 10 minutes, with ±25 % jitter so a provider outage does not end in a
/// thundering herd.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 2f64.powi(attempts.clamp(1, 20) as i32 - 1);
    let secs = (base.as_secs_f64() * factor).min(600.0);
    Duration::from_secs_f64(secs * (0.75 + fastrand::f64() * 0.5))
}

/// Apply the retention settings at start-up and every hour after: finished messages (their addresses and event
/// logs) and senders' last-message times after `keep_finished`, messages left in review after `keep_review`, and
/// the core's history and cache as the check service's settings say (the CLI does this when it opens the
/// database; a bridge may run for months without restarting).
pub async fn maintenance(
    store: Arc<dyn BridgeStore>,
    checker: Arc<redflag::check::Checker>,
    keep_finished: Duration,
    keep_review: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    loop {
        let (store, checker) = (Arc::clone(&store), Arc::clone(&checker));
        let purged = blocking(move || -> anyhow::Result<(usize, redflag::store::Purged)> {
            let now = now_ms();
            let jobs =
                store.purge_finished(now.saturating_sub(ms(keep_finished)), now.saturating_sub(ms(keep_review)))?;
            Ok((jobs, checker.purge()?))
        })
        .await;
        match purged {
            Ok(Ok((0, core))) if core == redflag::store::Purged::default() => {}
            Ok(Ok((jobs, core))) => {
                tracing::info!(jobs, history = core.history, cache = core.cache, "purged data past its retention");
            }
            Ok(Err(e)) | Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot purge old data; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Whether the database takes a write (a read is not enough: with the disk full or the file locked, reads still
/// work and every webhook gets 503). Sets the readiness gauge on the way.
pub async fn database_ready(store: Arc<dyn BridgeStore>) -> bool {
    let ready = matches!(blocking(move || store.depth(now_ms()).and_then(|_| store.probe_write())).await, Ok(Ok(())));
    metrics::gauge!(m::READY).set(if ready { 1.0 } else { 0.0 });
    ready
}

/// Keep the queue gauges current, and the readiness gauge every fifth time (a write each time would be waste).
pub async fn gauges(store: Arc<dyn BridgeStore>, mut shutdown: watch::Receiver<bool>) {
    for round in 0u64.. {
        let s = Arc::clone(&store);
        if let Ok(Ok(depth)) = blocking(move || s.depth(now_ms())).await {
            metrics::gauge!(m::QUEUE_DEPTH).set(depth.pending as f64);
            metrics::gauge!(m::QUEUE_AGE).set(depth.oldest_age_ms as f64 / 1000.0);
            metrics::gauge!(m::QUEUE_REVIEW).set(depth.review as f64);
        }
        if round % 5 == 0 {
            database_ready(Arc::clone(&store)).await;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        for attempts in 1..30 {
            let d = backoff(base, attempts).as_secs_f64();
            let expected = (2.0 * 2f64.powi(attempts.clamp(1, 20) as i32 - 1)).min(600.0);
            assert!(d >= expected * 0.75 && d <= expected * 1.25, "attempt {attempts}: {d}");
        }
        assert!(backoff(base, 30) <= Duration::from_secs(750));
    }
}
