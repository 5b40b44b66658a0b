//! How the CLI decides whether to escalate, and runs the async escalation tier from synchronous code: one
//! current-thread tokio runtime per process, with at most [`CONCURRENCY`] LLM calls in flight for a batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use redflag::Analysis;
use redflag::config::{Config, Policy};
use redflag::escalate::{self, Escalator};
use redflag::store::Store;

/// LLM calls in flight at once in batch mode: enough to hide network latency, few enough not to trip rate limits.
const CONCURRENCY: usize = 4;

/// The configuration with the command line's overrides applied.
pub fn load_config(path: Option<&Path>, db: Option<&Path>, policy: Option<Policy>) -> anyhow::Result<Config> {
    let mut config = Config::load(path)?;
    if let Some(db) = db {
        config.db_path = Some(db.to_path_buf());
    }
    if let Some(policy) = policy {
        config.policy = policy;
    }
    Ok(config)
}

/// The database file in force: `--db`, `REDFLAG_DB`, `[store] path`, or the platform data directory.
pub fn db_path(config: &Config) -> anyhow::Result<PathBuf> {
    config
        .db_path
        .clone()
        .or_else(Store::default_path)
        .context("no data directory is known for this user; set REDFLAG_DB or pass --db to choose the database file")
}

/// Open the database and apply the retention settings (old history and expired cache entries are purged).
pub fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let path = db_path(config)?;
    let store = Store::open(&path)?;
    // Clean-up is housekeeping: a busy or read-only database still serves the cache and the ledger.
    if let Err(e) = store.purge_expired(config.history_retention, config.cache_ttl, escalate::unix_now()) {
        tracing::warn!("old history or expired cache entries were not purged: {e}");
    }
    Ok(Arc::new(store))
}

/// Whether and how this run escalates.
#[derive(Debug)]
pub enum Plan {
    /// Never touch the network, for this reason.
    Off(String),
    On {
        runtime: tokio::runtime::Runtime,
        escalator: Arc<Escalator>,
        user: Option<String>,
    },
}

impl Plan {
    pub fn new(
        config: &Config,
        offline: bool,
        store: Option<Arc<Store>>,
        user: Option<String>,
    ) -> anyhow::Result<Plan> {
        if offline {
            return Ok(Plan::Off("--offline: nothing leaves this machine".into()));
        }
        if config.policy == Policy::Never {
            return Ok(Plan::Off("the escalation policy is `never`".into()));
        }
        if !config.llm_configured {
            return Ok(Plan::Off(
                "no LLM endpoint is configured (set OPENAI_API_KEY, or llm.base_url for a local server)".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime for LLM calls")?;
        // A broken endpoint setting must not cost the person their local verdict: it is reported on each verdict.
        match Escalator::new(config, store) {
            Ok(escalator) => Ok(Plan::On { runtime, escalator: Arc::new(escalator), user }),
            Err(e) => Ok(Plan::Off(e.to_string())),
        }
    }

    pub fn apply(&self, a: &mut Analysis) {
        match self {
            Plan::Off(why) => escalate::offline(a, why),
            Plan::On { runtime, escalator, user } => runtime.block_on(escalator.escalate(a, user.as_deref())),
        }
    }

    /// Escalate many analyses with bounded concurrency; results keep their order.
    pub fn apply_many(&self, analyses: Vec<Analysis>) -> Vec<Analysis> {
        let Plan::On { runtime, escalator, user } = self else {
            return analyses
                .into_iter()
                .map(|mut a| {
                    self.apply(&mut a);
                    a
                })
                .collect();
        };
        // Identical texts are asked once: the first copy goes in the first wave and its answer is cached before the
        // copies run, so a batch never pays twice for the same text.
        let mut seen = std::collections::HashSet::new();
        let (mut first, mut repeats) = (Vec::new(), Vec::new());
        for (i, a) in analyses.into_iter().enumerate() {
            if seen.insert(a.text.clone()) { first.push((i, a)) } else { repeats.push((i, a)) }
        }
        let mut done = Vec::with_capacity(first.len() + repeats.len());
        for wave in [first, repeats] {
            done.extend(self.wave(runtime, escalator, user, wave));
        }
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, a)| a).collect()
    }

    /// One concurrent wave of escalations; results carry their original positions.
    fn wave(
        &self,
        runtime: &tokio::runtime::Runtime,
        escalator: &Arc<Escalator>,
        user: &Option<String>,
        items: Vec<(usize, Analysis)>,
    ) -> Vec<(usize, Analysis)> {
        runtime.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let mut tasks = tokio::task::JoinSet::new();
            // Kept so a task that dies (it should not) still yields its line, with the local verdict.
            let originals = items.clone();
            for (slot, (_, mut a)) in items.into_iter().enumerate() {
                let (escalator, user, permits) = (escalator.clone(), user.clone(), permits.clone());
                tasks.spawn(async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = permits.acquire_owned().await.ok();
                    escalator.escalate(&mut a, user.as_deref()).await;
                    (slot, a)
                });
            }
            let mut done: Vec<Option<Analysis>> = (0..originals.len()).map(|_| None).collect();
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((slot, a)) => done[slot] = Some(a),
                    Err(e) => tracing::error!(error = %e, "an escalation task failed; keeping the local verdict"),
                }
            }
            done.into_iter().zip(originals).map(|(a, (i, original))| (i, a.unwrap_or(original))).collect()
        })
    }
}
