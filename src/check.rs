//! Checking a text, as a use case every shell shares: analyse locally, escalate to an LLM when the policy wants it
//! (or say why not), and record the redacted check in the history of whoever it was checked for.
//!
//! The CLI, the bridge and the desktop app each used to assemble this from [`Analyzer`], [`Escalator`], a
//! [`Redactor`] and the [`Store`], and the copies drifted (the bridge recorded history without the operator's
//! names). A [`Checker`] is built once from the [`Config`] and the shell's overrides and owns those parts; the
//! shells keep only what is theirs: reading input and rendering (CLI), threads, queues and metrics (bridge),
//! windows and live checks (desktop).
//!
//! Whether escalation is on is a type ([`Escalation`]): `On` holds the escalator, `Off` the reason, worded by the
//! core and, where a shell has better words for its users, by the shell.

use std::sync::Arc;

use crate::config::{Config, Policy};
use crate::escalate::{self, Escalator, Outbound};
use crate::llm::LlmError;
use crate::redact::Redactor;
use crate::store::{Owner, Purged, SqliteStore, Store, StoreError};
use crate::{Analysis, Analyzer, Input, Result};

/// Why a checker never asks an LLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Off {
    /// The person asked for it (`--offline`).
    Offline,
    /// The escalation policy is `never`.
    PolicyNever,
    /// No API key and no `llm.base_url`.
    NotConfigured,
    /// The LLM settings cannot be used (a bad URL, an unreadable key...): the message says which.
    Unusable(String),
}

impl std::fmt::Display for Off {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Off::Offline => f.write_str("--offline: nothing leaves this machine"),
            Off::PolicyNever => f.write_str("the escalation policy is `never`"),
            Off::NotConfigured => {
                f.write_str("no LLM endpoint is configured (set OPENAI_API_KEY, or llm.base_url for a local server)")
            }
            Off::Unusable(why) => f.write_str(why),
        }
    }
}

/// Whether this checker escalates.
#[derive(Debug)]
pub enum Escalation {
    On(Arc<Escalator>),
    /// Never touches the network: why, and the sentence each verdict carries about it.
    Off {
        why: Off,
        worded: String,
    },
}

/// Who a check is made for, and through which channel.
#[derive(Debug, Clone, Copy)]
pub struct CheckFor<'a> {
    /// `cli`, `desktop`, `whatsapp`, `sms`, `telegram` or `api`.
    pub channel: &'a str,
    /// `None` for the person at this machine; a bridge sender's id otherwise (budgets and history are theirs).
    pub user: Option<&'a str>,
}

/// The check service: one per process, shared by reference (or `Arc`) across threads and tasks.
#[derive(Debug)]
pub struct Checker {
    analyzer: Arc<Analyzer>,
    escalation: Escalation,
    store: Option<Arc<dyn Store>>,
    redactor: Redactor,
    record: bool,
    /// How long checks are kept (`None`: until deleted) and cached LLM verdicts stay usable.
    retention: (Option<std::time::Duration>, std::time::Duration),
}

impl Checker {
    /// A checker for `config`. `store` holds the history, the LLM cache, the spend ledger and the switched-off
    /// state (`None`: nothing is cached or recorded); `offline` keeps every check on this machine.
    pub fn new(analyzer: Arc<Analyzer>, config: &Config, store: Option<Arc<dyn Store>>, offline: bool) -> Checker {
        let escalation = match escalation_off(config, offline) {
            Some(why) => Escalation::Off { worded: why.to_string(), why },
            // A broken endpoint setting must not cost the person their local verdict: it is said on each verdict.
            None => match Escalator::new(config, store.clone()) {
                Ok(escalator) => Escalation::On(Arc::new(escalator)),
                Err(e) => {
                    let why = Off::Unusable(e.to_string());
                    Escalation::Off { worded: why.to_string(), why }
                }
            },
        };
        Checker {
            analyzer,
            escalation,
            store,
            // The operator's or the person's own names are redacted in the history whether or not an LLM is used.
            redactor: Redactor::new(&config.names),
            record: config.history_enabled,
            retention: (config.history_retention, config.cache_ttl),
        }
    }

    /// Word the reason escalation is off for this shell's users ("no LLM is configured for this bridge").
    pub fn word_off(mut self, word: impl Fn(&Off) -> Option<String>) -> Checker {
        if let Escalation::Off { why, worded } = &mut self.escalation
            && let Some(better) = word(why)
        {
            *worded = better;
        }
        self
    }

    /// Do not record checks in the history (`--no-history`, batch runs).
    pub fn without_history(mut self) -> Checker {
        self.record = false;
        self
    }

    /// Whether checks are recorded (the history is on and there is a store).
    pub fn records(&self) -> bool {
        self.record && self.store.is_some()
    }

    pub fn escalation(&self) -> &Escalation {
        &self.escalation
    }

    pub fn escalates(&self) -> bool {
        matches!(self.escalation, Escalation::On(_))
    }

    /// The escalator, or the worded reason there is none (the desktop's "Ask AI" preview and switch-back-on).
    pub fn escalator(&self) -> std::result::Result<&Arc<Escalator>, &str> {
        match &self.escalation {
            Escalation::On(escalator) => Ok(escalator),
            Escalation::Off { worded, .. } => Err(worded),
        }
    }

    pub fn analyzer(&self) -> &Arc<Analyzer> {
        &self.analyzer
    }

    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The local tiers only: rules and model, about a millisecond, CPU-bound.
    pub fn analyze(&self, input: &Input) -> Result<Analysis> {
        self.analyzer.analyze(input)
    }

    /// Ask the LLM about `a` if escalation is on and the policy wants it; otherwise say on `a` why not. Returns
    /// whether an LLM was asked (or its cache answered).
    pub async fn escalate(&self, a: &mut Analysis, user: Option<&str>) -> bool {
        match &self.escalation {
            Escalation::On(escalator) => {
                let wanted = escalator.wants(a);
                escalator.escalate(a, user).await;
                wanted
            }
            Escalation::Off { .. } => {
                self.note_off(a);
                false
            }
        }
    }

    /// When escalation is off, say why on `a` and return `true`; when it is on, leave `a` alone and return `false`.
    /// Synchronous, so a shell without a runtime needs one only when it may call out.
    pub fn note_off(&self, a: &mut Analysis) -> bool {
        match &self.escalation {
            Escalation::On(_) => false,
            Escalation::Off { worded, .. } => {
                escalate::offline(a, worded);
                true
            }
        }
    }

    /// Record `a` in the history of `who`, redacted, when the history is on and there is a store. A failure is
    /// logged, not returned: the verdict matters more than its record.
    pub fn record(&self, a: &Analysis, who: CheckFor<'_>) -> Option<i64> {
        let store = self.store.as_ref().filter(|_| self.record)?;
        match store.record_check(a, &self.redactor, who.channel, who.user) {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!("this check was not saved in the history: {e}");
                None
            }
        }
    }

    /// Record `a`, a second opinion on a check recorded as `replaces`, in its place: the history keeps one row per
    /// check, the latest verdict. Returns the row that now holds it (the old one if recording failed).
    pub fn record_again(&self, a: &Analysis, who: CheckFor<'_>, replaces: Option<i64>) -> Option<i64> {
        let id = self.record(a, who);
        if let (Some(_), Some(old), Some(store)) = (id, replaces, self.store.as_ref()) {
            let owner = who.user.map_or(Owner::Local, |u| Owner::User(u.to_string()));
            if let Err(e) = store.history_delete(old, &owner) {
                tracing::warn!("the earlier verdict's row was not removed from the history: {e}");
            }
        }
        id.or(replaces)
    }

    /// Apply the retention settings now: old checks and expired cached verdicts go. Shells that run for months
    /// (the bridge) call this periodically; opening the store ([`open_store`]) does it once.
    pub fn purge(&self) -> std::result::Result<Purged, StoreError> {
        match &self.store {
            Some(store) => store.purge_expired(self.retention.0, self.retention.1, crate::time::unix_now()),
            None => Ok(Purged::default()),
        }
    }

    /// The whole use case: analyse, escalate or say why not, record.
    pub async fn check(&self, input: &Input, who: CheckFor<'_>) -> Result<Analysis> {
        let mut a = self.analyze(input)?;
        self.escalate(&mut a, who.user).await;
        self.record(&a, who);
        Ok(a)
    }
}

/// What escalating `a` under `config` would send (`check --show-outbound`), built even when escalation is off so
/// the person can see it before configuring an endpoint; nothing is sent.
#[derive(Debug)]
pub struct Preview {
    pub outbound: Outbound,
    /// An endpoint is configured and the policy would ask about `a`.
    pub would_send: bool,
}

pub fn preview(config: &Config, a: &Analysis) -> std::result::Result<Preview, LlmError> {
    let escalator = Escalator::new(config, None)?;
    Ok(Preview { would_send: config.llm_configured && escalator.wants(a), outbound: escalator.outbound(a) })
}

/// Switch escalation back on for `config`'s endpoint after a permanent refusal (bad key, empty quota) was fixed
/// without changing the endpoint, model or key.
pub fn enable_escalation(config: &Config, store: &dyn Store) -> std::result::Result<(), StoreError> {
    store.enable_llm(&config.llm_fingerprint())
}

/// Why `config` (with the shell's `offline`) never escalates, if it does not.
fn escalation_off(config: &Config, offline: bool) -> Option<Off> {
    // Without an endpoint the policy defaults to `never`; the missing endpoint is the reason worth telling.
    if offline {
        Some(Off::Offline)
    } else if !config.llm_configured {
        Some(Off::NotConfigured)
    } else if config.policy == Policy::Never {
        Some(Off::PolicyNever)
    } else {
        None
    }
}

/// Make `analyzer` match the indicators synced from a hub into `store` (none if there are none). A store that
/// cannot say leaves the analyzer as it was: the local verdict must not depend on it. Returns how many it holds.
pub fn load_synced_indicators(analyzer: &Analyzer, store: &dyn Store) -> usize {
    match store.indicator_set() {
        Ok(set) => {
            let n = set.len();
            analyzer.set_indicators((!set.is_empty()).then(|| Arc::new(set)));
            n
        }
        Err(e) => {
            tracing::warn!("the indicators synced from the hub could not be read, so they are not matched: {e}");
            0
        }
    }
}

/// The database file in force: `REDFLAG_DB` / `--db`, `[store] path`, or the platform data directory.
pub fn db_path(config: &Config) -> Option<std::path::PathBuf> {
    config.db_path.clone().or_else(crate::store::default_path)
}

/// Open the database and apply the retention settings (old history and expired cache entries are purged).
pub fn open_store(path: &std::path::Path, config: &Config) -> std::result::Result<Arc<dyn Store>, StoreError> {
    let store = SqliteStore::open(path)?;
    // Clean-up is housekeeping: a busy or read-only database still serves the cache and the ledger.
    if let Err(e) = store.purge_expired(config.history_retention, config.cache_ttl, crate::time::unix_now()) {
        tracing::warn!("old history or expired cache entries were not purged: {e}");
    }
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HistoryQuery, Owner};

    fn config(toml: &str) -> Config {
        Config::from_toml_with(toml, std::path::Path::new("test.toml"), |_| None).expect("config")
    }

    fn checker(toml: &str, offline: bool) -> Checker {
        let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let analyzer = Arc::new(Analyzer::new(crate::RuleSet::builtin().expect("rules")));
        Checker::new(analyzer, &config(toml), Some(store), offline)
    }

    fn off(c: &Checker) -> Option<&Off> {
        match c.escalation() {
            Escalation::Off { why, .. } => Some(why),
            Escalation::On(_) => None,
        }
    }

    #[test]
    fn escalation_is_off_for_a_reason_the_verdict_carries() {
        assert_eq!(off(&checker("", false)), Some(&Off::NotConfigured));
        let local = "[llm]\nbase_url = \"http://127.0.0.1:9/v1\"\n";
        assert_eq!(off(&checker(local, true)), Some(&Off::Offline));
        assert_eq!(
            off(&checker(&format!("{local}[escalation]\npolicy = \"never\"\n"), false)),
            Some(&Off::PolicyNever)
        );
        assert!(checker(local, false).escalates());

        let c = checker("", false).word_off(|why| (*why == Off::NotConfigured).then(|| "no LLM here".to_string()));
        let mut a =
            c.analyze(&Input::text("Pay the $85 training fee by Cash App before your first shift.")).expect("a");
        let asked = block_on(c.escalate(&mut a, None));
        assert!(!asked);
        assert_eq!(a.escalation.outcome.as_deref(), Some("no LLM here"));
    }

    #[test]
    fn a_check_is_recorded_redacted_for_whom_it_was_made() {
        let c = checker("[privacy]\nnames = [\"Amara Okafor\"]\n", true);
        let input = Input::text("Amara Okafor, you are hired. Pay the $85 training fee by Cash App today.");
        let who = CheckFor { channel: "whatsapp", user: Some("whatsapp:+14155550123") };
        block_on(c.check(&input, who)).expect("check");
        let store = c.store().expect("store");
        assert!(store.history_list(&HistoryQuery::default()).expect("local").is_empty(), "not the local user's");
        let theirs = HistoryQuery { owner: Owner::User("whatsapp:+14155550123".into()), ..Default::default() };
        let rows = store.history_list(&theirs).expect("theirs");
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].redacted_text.contains("Amara"), "{}", rows[0].redacted_text);

        let quiet = checker("", true).without_history();
        block_on(quiet.check(&input, CheckFor { channel: "cli", user: None })).expect("check");
        let everyone = HistoryQuery { owner: Owner::Anyone, ..Default::default() };
        assert!(quiet.store().expect("store").history_list(&everyone).expect("list").is_empty());
    }

    #[test]
    fn a_second_opinion_takes_the_place_of_the_first_verdict_in_its_owners_history() {
        let c = checker("", true);
        let input = Input::text("Pay the $85 training fee by Cash App before your first shift.");
        let who = CheckFor { channel: "desktop", user: None };
        let a = c.analyze(&input).expect("a");
        let first = c.record(&a, who).expect("recorded");
        let second = c.record_again(&a, who, Some(first)).expect("recorded again");
        assert_ne!(first, second);
        let rows = c.store().expect("store").history_list(&HistoryQuery::default()).expect("list");
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [second], "one row per check");
    }

    #[test]
    fn purge_applies_the_configured_retention() {
        let c = checker("[history]\nretention_days = 1\n", true);
        let store = c.store().expect("store");
        let a = c.analyze(&Input::text("Pay the $85 training fee by Cash App.")).expect("a");
        let old = crate::store::NewHistory {
            created_at: crate::time::unix_now() - 3 * 86_400,
            channel: "cli",
            user_id: None,
            input_hash: "h",
            redacted_text: "t",
            indicators: &[],
            analysis: &a,
            cost_usd: 0.0,
        };
        store.history_add(&old).expect("an old check");
        c.record(&a, CheckFor { channel: "cli", user: None }).expect("a new check");
        let purged = c.purge().expect("purge");
        assert_eq!(purged.history, 1);
        assert_eq!(store.history_list(&HistoryQuery::default()).expect("list").len(), 1, "the new one stays");
    }

    /// The checks above never wait on I/O (escalation is off), so a current-thread runtime runs them to the end.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
    }
}
