//! `redflag-bridge serve`: open the store, load the model once, start the workers, serve HTTP, and shut down
//! gracefully on SIGTERM or Ctrl-C (stop accepting, let workers finish the job in hand, hand back the rest).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redflag::check::{Checker, Escalation, Off};
use redflag::store::pg::PgStore;
use redflag::store::{SqliteStore, Store};

use crate::hub::{Hub, HubSigner, HubState, PgHub, SqliteHub};
use secrecy::SecretString;
use tokio::sync::{Notify, watch};

use crate::app::{AppState, app};
use crate::engine::Engine;
use crate::outbox::{self, Outbox};
use crate::pseudonym::{KeySource, Pseudonyms};
use crate::queue::{BridgeStore, Coalesce, PgQueue, SqliteQueue, bridge_db};
use crate::settings::{Environment, Settings};
use crate::tasks::now_ms;
use crate::telegram::TelegramClient;
use crate::twilio::client::TwilioClient;
use crate::worker::{self, Shared, WorkerConfig};

/// How long workers get to finish the job in hand after a shutdown signal before the process exits anyway (their
/// jobs then come back when the lease runs out).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Timeout of one REST call to Twilio or Telegram.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    warn_about(&settings);

    // One file, one connection: the bridge's queue, the core's store and the hub share it. With a PostgreSQL URL,
    // all three live there instead, shared by every node (which then also share the hub's key file).
    let postgres = match &settings.database_url {
        Some(url) => Some(connect_postgres(url).await?),
        None => None,
    };
    let (store, core_store, hub_store): (Arc<dyn BridgeStore>, Arc<dyn Store>, Arc<dyn Hub>) = match &postgres {
        Some((pg, core)) => (Arc::new(pg.clone()), Arc::new(core.clone()), Arc::new(PgHub::on(Arc::clone(pg.pg())))),
        None => {
            let db = bridge_db(&settings.db, settings.file_key().as_ref())?;
            let hub = Arc::new(SqliteHub::on(Arc::clone(&db))?);
            (Arc::new(SqliteQueue::on(Arc::clone(&db))?), Arc::new(SqliteStore::on(db)?), hub)
        }
    };
    let hub = HubState { store: hub_store, signer: Arc::new(HubSigner::load_or_create(&settings.hub_key)?) };
    let pseudonyms = {
        let (store, key) = (Arc::clone(&store), settings.data_key.as_ref().map(|k| k.0));
        tokio::task::spawn_blocking(move || Pseudonyms::load(key.as_ref(), &*store)).await??
    };
    // Production cannot get here without a data key (`Settings::check`).
    if pseudonyms.source == KeySource::Database {
        tracing::info!(
            "no REDFLAG_DATA_KEY (development): the database file is plain, and senders' pseudonyms are keyed by a \
             key kept in it"
        );
    }
    // An operator changes the settings by editing files, not through a command: a start that finds them changed
    // records what changed (names only) in the audit log.
    let fingerprint =
        crate::audit::config_fingerprint(settings.source.as_deref(), |n| std::env::var(n).ok(), &pseudonyms);
    let changed = {
        let store = Arc::clone(&store);
        tokio::task::spawn_blocking(move || crate::audit::record_config_change(&*store, &fingerprint, now_ms()))
            .await??
    };
    if !changed.is_empty() {
        tracing::info!(changed = %changed.join(", "), "the settings changed since the last start (see the audit log)");
    }
    let analyzer = redflag::Analyzer::builtin().context("cannot load the built-in rules and model")?;
    let checker = Checker::new(Arc::new(analyzer), &settings.core, Some(Arc::clone(&core_store)), false).word_off(
        |why| match why {
            Off::NotConfigured => Some("no LLM is configured for this bridge".into()),
            _ => None,
        },
    );
    // Unusable LLM settings stop the bridge: an operator who configured an endpoint wants to know now.
    if let (Escalation::Off { why: Off::Unusable(e), .. }, true) = (checker.escalation(), settings.core.llm_configured)
    {
        anyhow::bail!("the LLM settings are unusable: {e}");
    }
    let engine = Arc::new(Engine::start(checker, settings.workers.analysis_threads).with_hub(Arc::clone(&hub.store)));

    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("cannot listen on {}; set REDFLAG_BRIDGE_ADDR to a free address", settings.addr))?;
    let local = listener.local_addr()?;
    // In development without a public URL, Twilio's role is played by `simulate` on this machine, which calls
    // (and signs) the loopback address even when the bridge listens on all interfaces.
    let public_url = settings.public_url.clone().unwrap_or_else(|| {
        let mut shown = local;
        if shown.ip().is_unspecified() {
            shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{shown}")
    });

    let outbox = outbox(&settings, &public_url)?;
    let w = &settings.workers;
    let config = WorkerConfig {
        lease_ms: settings.lease().as_millis() as i64,
        coalesce: Coalesce {
            quiet_ms: w.coalesce_quiet_ms as i64,
            max_wait_ms: w.coalesce_max_ms as i64,
            max_messages: 20,
            max_send_claims: w.max_attempts,
        },
        max_attempts: w.max_attempts,
        retry_base: Duration::from_millis(w.retry_base_ms),
        daily_quota: settings.limits.daily_quota,
    };
    // The recorder first: gauges set before it exists (the pauses' zeros) would be lost.
    let metrics = crate::metrics::install();
    let pauses = crate::pause::Pauses::new((w.auth_pause_secs * 1000.0) as i64);
    let shared = Arc::new(Shared {
        store: Arc::clone(&store),
        core_store,
        engine,
        outbox,
        config,
        pseudonyms,
        pauses,
        wake: Notify::new(),
    });
    if let Some((pg, _)) = &postgres {
        // A message queued on another node wakes an idle worker here.
        let woken = Arc::clone(&shared);
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.listen(move || woken.wake.notify_one()))
            .await
            .context("the PostgreSQL listener's start-up panicked")??;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    // Each process gets its own owner prefix, so a restarted bridge never mistakes its predecessor's leases for
    // its own.
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..w.count {
        workers.spawn(worker::run(Arc::clone(&shared), format!("{}-{i}", &instance[..8]), stop_rx.clone()));
    }
    workers.spawn(worker::gauges(Arc::clone(&store), stop_rx.clone()));
    workers.spawn(worker::maintenance(
        store,
        Arc::clone(shared.engine.checker()),
        Duration::from_secs(u64::from(settings.workers.keep_finished_days) * 86_400),
        Duration::from_secs(u64::from(settings.workers.keep_review_days) * 86_400),
        stop_rx.clone(),
    ));

    if let (true, Some(handle)) = (settings.alerts.enabled(), &metrics) {
        let sinks = alert_sinks(&settings, &public_url)?;
        let every = Duration::from_secs_f64(settings.alerts.interval_secs);
        workers.spawn(crate::alerts::run(handle.clone(), sinks, every, stop_rx.clone()));
    }
    let state = AppState::new(Arc::clone(&settings), &public_url, Arc::clone(&shared), metrics, hub);
    let budget = &settings.core.budget;
    for (window, cap) in [("day", budget.daily_usd), ("month", budget.monthly_usd)] {
        if let Some(cap) = cap {
            metrics::gauge!(crate::metrics::LLM_CAP_USD, "window" => window).set(cap);
        }
    }
    // The per-sender limiter keeps a cell per sender ever seen; forget the ones whose bucket has refilled so a
    // long-running bridge does not grow without bound.
    let limiter = Arc::clone(&state.limiter);
    let mut stop = stop_rx.clone();
    workers.spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(60)) => {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
                _ = stop.changed() => return,
            }
        }
    });
    // Tests and scripts read this line to find the port when REDFLAG_BRIDGE_ADDR ends in :0.
    println!("redflag-bridge listening on http://{local}");
    tracing::info!(
        addr = %local,
        public_url = %public_url,
        environment = ?settings.environment,
        mock_twilio = settings.mock_twilio(),
        telegram = settings.telegram.bot_token.is_some(),
        escalation = shared.engine.escalates(),
        workers = w.count,
        analysis_threads = shared.engine.threads(),
        "redflag-bridge started"
    );

    // Workers hear the signal at the same moment as the HTTP server, not after it has drained its connections,
    // so they stop claiming new work at once and only finish the job in hand.
    let stop = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    let l = &settings.limits;
    let header_read_timeout = Duration::from_secs_f64(l.header_read_timeout_secs);
    crate::listen::serve(listener, app(state), header_read_timeout, l.max_connections, stop).await;
    tracing::info!("stopped accepting requests; waiting for workers to finish the job in hand");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while workers.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("workers did not finish in time; their jobs come back when their leases run out");
    }
    tracing::info!("redflag-bridge stopped");
    Ok(())
}

fn outbox(settings: &Settings, public_url: &str) -> anyhow::Result<Outbox> {
    let t = &settings.twilio;
    let twilio = match (&t.account_sid, &t.auth_token) {
        (Some(sid), Some(token)) => {
            let client = TwilioClient::new(&t.api_base, sid, token.clone(), SEND_TIMEOUT)?;
            let from =
                t.from.clone().context("set TWILIO_FROM (e.g. whatsapp:+14155238886) so replies have a sender")?;
            Some(outbox::Twilio {
                client,
                from,
                status_callback: t.status_callbacks.then(|| format!("{public_url}/webhooks/twilio/status")),
                template_content_sid: t.template_content_sid.clone(),
            })
        }
        _ => None,
    };
    let telegram = match &settings.telegram.bot_token {
        Some(token) => {
            Some(TelegramClient::new(&settings.telegram.api_base, SecretString::clone(token), SEND_TIMEOUT)?)
        }
        None => None,
    };
    Ok(Outbox {
        twilio,
        telegram,
        log_personal_data: settings.log_personal_data,
        mock_template: t.template_content_sid.clone(),
    })
}

/// The built-in notifier's receivers (`[alerts]`).
fn alert_sinks(settings: &Settings, public_url: &str) -> anyhow::Result<crate::alerts::Sinks> {
    let a = &settings.alerts;
    let webhook = match &a.webhook_url {
        Some(url) => Some((reqwest::Client::builder().timeout(SEND_TIMEOUT).build()?, url.clone())),
        None => None,
    };
    let telegram = match (a.telegram_chat_id, &settings.telegram.bot_token) {
        (Some(chat), Some(token)) => {
            Some((TelegramClient::new(&settings.telegram.api_base, SecretString::clone(token), SEND_TIMEOUT)?, chat))
        }
        _ => None,
    };
    Ok(crate::alerts::Sinks { webhook, telegram, instance: public_url.to_string() })
}

/// Connect to PostgreSQL and migrate the bridge's and the core's tables, on the blocking pool (the synchronous
/// client drives a runtime of its own). One pool serves both stores.
async fn connect_postgres(url: &SecretString) -> anyhow::Result<(PgQueue, PgStore)> {
    use secrecy::ExposeSecret;
    let url = url.expose_secret().to_string();
    if redflag::store::pg::plain_to_remote(&url) {
        tracing::warn!(
            "the PostgreSQL connection is not encrypted; add ?sslmode=require to REDFLAG_DATABASE_URL unless the \
             network to the database is private"
        );
    }
    let (queue, core) = tokio::task::spawn_blocking(move || -> anyhow::Result<(PgQueue, PgStore)> {
        let queue = PgQueue::connect(&url)?;
        let core = PgStore::on(Arc::clone(queue.pg()))?;
        Ok((queue, core))
    })
    .await
    .context("connecting to PostgreSQL panicked")??;
    tracing::info!(
        database = %queue.pg().target(),
        "queue, users, API keys, history, LLM cache, spend ledger and the hub in PostgreSQL (every node needs the \
         same hub_key file)"
    );
    Ok((queue, core))
}

fn warn_about(settings: &Settings) {
    if settings.environment == Environment::Development {
        if !settings.validate_signatures {
            tracing::warn!(
                "!!! WEBHOOK SIGNATURE VALIDATION IS OFF: anyone who can reach this server can post fake messages. \
                 Development only; production refuses this setting. !!!"
            );
        }
        if settings.mock_twilio() {
            tracing::warn!(
                "no Twilio credentials: MOCK MODE, replies are logged instead of sent (redflag-bridge simulate posts \
                 signed test messages)"
            );
        }
    }
    if settings.log_personal_data {
        tracing::warn!("log_personal_data is on: full phone numbers will appear in the mock-mode log");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
