//! The CLI's side of the check service: its configuration overrides, its database, and the async escalation run
//! from synchronous code: one current-thread tokio runtime per process, with at most [`CONCURRENCY`] LLM calls in
//! flight for a batch. Whether to escalate, and why not, is the core's [`Checker`]'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use redflag::Analysis;
use redflag::check::Checker;
use redflag::config::{Config, Policy};
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
    redflag::check::db_path(config)
        .context("no data directory is known for this user; set REDFLAG_DB or pass --db to choose the database file")
}

/// Open the database and apply the retention settings (old history and expired cache entries are purged).
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(redflag::check::open_store(&db_path(config)?, config)?)
}

/// The rules bundle synced from a hub (`redflag sync`) into `store`, when it is newer than `builtin`. A bundle that
/// cannot be read or does not compile is ignored with a warning, never fatal: the built-in rules still decide.
pub fn synced_rules(store: &dyn Store, builtin: &redflag::RuleSet) -> Option<redflag::RuleSet> {
    let (version, text) =
        store.synced_rules().map_err(|e| tracing::warn!("the synced rules could not be read: {e}")).ok()??;
    if redflag::sync::feed::version_order(&version, builtin.version()) != std::cmp::Ordering::Greater {
        return None;
    }
    redflag::RuleSet::from_toml(&text, "the rules synced from the hub")
        .map_err(|e| tracing::warn!("the rules synced from the hub do not compile, so the built-in rules decide: {e}"))
        .ok()
}

/// The check service run from synchronous code: a current-thread runtime for its escalation, and the user the
/// LLM spending is charged to (`--user`).
#[derive(Debug)]
pub struct Plan {
    /// Only when the checker may call out: an offline run starts no runtime.
    runtime: Option<tokio::runtime::Runtime>,
    checker: Arc<Checker>,
    user: Option<String>,
}

impl Plan {
    pub fn new(checker: Arc<Checker>, user: Option<String>) -> anyhow::Result<Plan> {
        let runtime = if checker.escalates() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime for LLM calls")?;
            Some(runtime)
        } else {
            None
        };
        Ok(Plan { runtime, checker, user })
    }

    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Escalate `a` if the checker does and its policy wants it; otherwise note why not.
    pub fn apply(&self, a: &mut Analysis) {
        if let (false, Some(runtime)) = (self.checker.note_off(a), &self.runtime) {
            runtime.block_on(self.checker.escalate(a, self.user.as_deref()));
        }
    }

    /// Escalate many analyses with bounded concurrency; results keep their order.
    pub fn apply_many(&self, analyses: Vec<Analysis>) -> Vec<Analysis> {
        let Some(runtime) = &self.runtime else {
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
            done.extend(self.wave(runtime, wave));
        }
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, a)| a).collect()
    }

    /// One concurrent wave of escalations; results carry their original positions.
    fn wave(&self, runtime: &tokio::runtime::Runtime, items: Vec<(usize, Analysis)>) -> Vec<(usize, Analysis)> {
        runtime.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let mut tasks = tokio::task::JoinSet::new();
            // Kept so a task that dies (it should not) still yields its line, with the local verdict.
            let originals = items.clone();
            for (slot, (_, mut a)) in items.into_iter().enumerate() {
                let (checker, user, permits) = (self.checker.clone(), self.user.clone(), permits.clone());
                tasks.spawn(async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = permits.acquire_owned().await.ok();
                    checker.escalate(&mut a, user.as_deref()).await;
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
