//! What the app holds between commands, managed once by Tauri: the analyser (rules and model, loaded once at
//! start-up), the configuration as the settings page last saved it with the core's check service built from it,
//! and the recent checks that "Ask AI" can still refer to. Settings changes swap the whole [`Loaded`] snapshot, so a command in
//! flight keeps the configuration it started with.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use redflag::check::{Checker, Off};
use redflag::config::Config;
use redflag::store::Store;
use redflag::{Analysis, Analyzer};
use secrecy::ExposeSecret;
use serde::Serialize;
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::secrets::SecretStore;
use crate::settings::{self, DesktopPrefs, Paths, Settings};

/// "Ask AI" works on one of the last few checks; older ones have scrolled out of the person's view anyway.
const RECENT_CHECKS: usize = 32;

/// The configuration in force, and everything built from it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub prefs: DesktopPrefs,
    pub db_path: Option<PathBuf>,
    /// The check service for this configuration: escalation (or the sentence saying why verdicts are local only),
    /// the redactor and the history.
    pub checker: Arc<Checker>,
    /// Why the config files could not be used, when the app runs on defaults instead.
    pub config_error: Option<String>,
}

/// What the page is told about the LLM tier for one check.
#[derive(Debug, Clone, Serialize)]
pub struct Ai {
    /// `offered`, `not_needed`, `unavailable` or `done`.
    pub state: &'static str,
    pub reason: String,
    /// Ask without the confirmation step.
    pub auto: bool,
}

/// One check as the page sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check_id: Option<u64>,
    pub analysis: Analysis,
    pub ai: Ai,
    /// The picture that was checked, as a `data:image/png;base64,` URL, when the page did not send it itself (a
    /// screenshot taken from the clipboard by the shortcut), so it can show the image with its boxes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug)]
struct Recent {
    id: u64,
    analysis: Analysis,
    history_id: Option<i64>,
    /// SHA-256 of the text as the person gave it, the key of [`Checks::last_saved`].
    hash: String,
    /// Set while the LLM is being asked; `ai_cancel` notifies it.
    cancel: Option<Arc<Notify>>,
    /// The LLM configuration (fingerprint) the person saw in the preview; asking with another is refused.
    previewed: Option<String>,
}

#[derive(Debug, Default)]
struct Checks {
    next_id: u64,
    recent: VecDeque<Recent>,
    /// The text saved last (its hash) and its history row, so a typing pause, a blur or a repeat of the same text
    /// is not saved twice, and a live check of that text still knows its row (for "Ask AI" to replace).
    last_saved: Option<(String, Option<i64>)>,
}

impl Checks {
    fn saved_row(&self, hash: &str) -> Option<i64> {
        self.last_saved.as_ref().filter(|(h, _)| h == hash).and_then(|(_, row)| *row)
    }
}

/// Reads an environment variable; tests pass an empty environment so a developer's `OPENAI_API_KEY` stays out.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Desktop {
    pub analyzer: Arc<Analyzer>,
    pub paths: Paths,
    pub secrets: SecretStore,
    env: Env,
    loaded: RwLock<Arc<Loaded>>,
    checks: Mutex<Checks>,
    /// Held across a settings write and the reload after it, so two saves cannot interleave and leave the older
    /// configuration in force.
    pub saving: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop").field("paths", &self.paths).field("secrets", &self.secrets).finish_non_exhaustive()
    }
}

impl Desktop {
    /// The app as a person runs it: the built-in rules and model, the CLI's config file (or `REDFLAG_CONFIG`),
    /// and the keyring (or `REDFLAG_SECRET_STORE=file`).
    pub fn from_env() -> anyhow::Result<Desktop> {
        let analyzer = Analyzer::builtin()?;
        let paths = Paths::from_env()?;
        let forced = std::env::var("REDFLAG_SECRET_STORE").ok();
        let secrets = SecretStore::detect(paths.key_file.clone(), forced.as_deref());
        Ok(Desktop::new(analyzer, paths, secrets, Arc::new(|name| std::env::var(name).ok()))?)
    }

    pub fn new(analyzer: Analyzer, paths: Paths, secrets: SecretStore, env: Env) -> Result<Desktop> {
        let analyzer = Arc::new(analyzer);
        let loaded = load(&analyzer, &paths, &secrets, &env)?;
        Ok(Desktop {
            analyzer,
            paths,
            secrets,
            env,
            loaded: RwLock::new(Arc::new(loaded)),
            checks: Mutex::new(Checks { next_id: 1, ..Checks::default() }),
            saving: tokio::sync::Mutex::new(()),
        })
    }

    /// The first analysis pays for lazy set-up (the phone-number metadata, the model's first allocations, the
    /// regex engines' caches): about 90 ms on the release build, which the first paste would otherwise wait for.
    /// It is done on a thread of its own while the window loads, on a sample that has every kind of entity.
    pub fn warm_up(&self) {
        let analyzer = Arc::clone(&self.analyzer);
        let spawned = std::thread::Builder::new().name("warm-up".into()).spawn(move || {
            let sample = "Part-time job from home: rate products, earn $300 a day, pay a 50 USDT deposit first. \
                          WhatsApp +1 415 555 0132, hr@example.com, https://example.com/apply";
            if let Err(e) = analyzer.analyze(&redflag::Input::text(sample)) {
                tracing::warn!("the warm-up analysis failed: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("no warm-up thread: {e}");
        }
    }

    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Read the files again after the settings page changed them.
    pub fn reload(&self) -> Result<()> {
        let fresh = Arc::new(load(&self.analyzer, &self.paths, &self.secrets, &self.env)?);
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// What the settings page shows: the files' values (see [`settings::for_page`]) and where things are kept.
    pub fn settings(&self) -> Settings {
        let loaded = self.loaded();
        let key = self.secrets.get().unwrap_or_else(|e| {
            tracing::warn!("{e}");
            None
        });
        let key = key.as_ref().map(|k| k.expose_secret());
        let mut s = settings::for_page(&self.paths, key, loaded.prefs, &*self.env)
            .unwrap_or_else(|_| Settings::from_config(&loaded.config, loaded.prefs, &*self.env));
        s.key_storage = self.secrets.kind().into();
        s.key_storage_detail = self.secrets.describe();
        s.config_path = self.paths.config.display().to_string();
        s.db_path = loaded.db_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        s.config_error = loaded.config_error.clone();
        s
    }

    /// After the settings changed: an endpoint that was switched off after a refusal (bad key, no quota) is
    /// tried again, since saving is how the person says they fixed it.
    pub fn retry_escalation(&self) {
        let loaded = self.loaded();
        if let (true, Some(store)) = (loaded.checker.escalates(), loaded.checker.store()) {
            if let Err(e) = redflag::check::enable_escalation(&loaded.config, &**store) {
                tracing::warn!("cannot switch escalation back on: {e}");
            }
        }
    }

    fn checks(&self) -> MutexGuard<'_, Checks> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The history row of this text if it is the text saved last.
    pub fn saved_row(&self, hash: &str) -> Option<i64> {
        self.checks().saved_row(hash)
    }

    /// Whether a check of this text should be saved: not when the same text was the last one saved (or is being
    /// saved right now). A `true` must be followed by [`Desktop::saved`].
    pub fn claim_save(&self, hash: &str) -> bool {
        let mut checks = self.checks();
        if checks.last_saved.as_ref().is_some_and(|(h, _)| h == hash) {
            return false;
        }
        checks.last_saved = Some((hash.to_string(), None));
        true
    }

    /// The text claimed by [`Desktop::claim_save`] was saved as row `id`, or (`None`) could not be saved, in
    /// which case a later check of it tries again.
    pub fn saved(&self, hash: &str, id: Option<i64>) {
        let mut checks = self.checks();
        if checks.last_saved.as_ref().is_some_and(|(h, _)| h == hash) {
            checks.last_saved = id.map(|id| (hash.to_string(), Some(id)));
        }
    }

    /// History rows were deleted (`None`: all of them): the same text pasted again must be saved again.
    pub fn forget_saved(&self, id: Option<i64>) {
        let mut checks = self.checks();
        if id.is_none() || checks.last_saved.as_ref().is_some_and(|(_, row)| *row == id) {
            checks.last_saved = None;
        }
    }

    /// Keep `analysis` for "Ask AI" and describe it to the page.
    pub fn remember(&self, analysis: Analysis, hash: String, history_id: Option<i64>) -> Check {
        let ai = self.ai_for(&analysis);
        let mut checks = self.checks();
        let id = checks.next_id;
        checks.next_id += 1;
        if checks.recent.len() == RECENT_CHECKS {
            checks.recent.pop_front();
        }
        checks.recent.push_back(Recent {
            id,
            analysis: analysis.clone(),
            history_id,
            hash,
            cancel: None,
            previewed: None,
        });
        Check { check_id: Some(id), analysis, ai, image: None }
    }

    fn ai_for(&self, a: &Analysis) -> Ai {
        let loaded = self.loaded();
        let escalator = match loaded.checker.escalator() {
            Err(why) => return Ai { state: "unavailable", reason: why.to_string(), auto: false },
            Ok(e) => e,
        };
        if !escalator.wants(a) {
            let reason = "Redflag is confident, so nothing was sent to an AI.".into();
            return Ai { state: "not_needed", reason, auto: false };
        }
        // An endpoint that refused the key or the quota stays off until the settings change; offering it would
        // only fail again.
        let refused = loaded.checker.store().and_then(|s| s.llm_disabled(&loaded.config.llm_fingerprint()).ok());
        if let Some(Some(why)) = refused {
            let reason = format!(
                "Local verdict only: the AI service refused the last request ({why}). Check the key and the model \
                 in Settings; saving them tries again."
            );
            return Ai { state: "unavailable", reason, auto: false };
        }
        Ai {
            state: "offered",
            reason: "Redflag is not sure about this one; an AI can give a second opinion.".into(),
            auto: loaded.prefs.auto_ask,
        }
    }

    /// A copy of a recent check and its history row: its own, or the row its text was saved as after it was
    /// checked (a live check while typing, saved by the pause that followed).
    pub fn recent(&self, id: u64) -> Result<(Analysis, Option<i64>)> {
        let checks = self.checks();
        let r = checks.recent.iter().find(|r| r.id == id).ok_or_else(gone)?;
        Ok((r.analysis.clone(), r.history_id.or_else(|| checks.saved_row(&r.hash))))
    }

    /// Remember which LLM configuration the person saw in the preview of check `id`.
    pub fn previewed(&self, id: u64, fingerprint: String) {
        if let Some(r) = self.checks().recent.iter_mut().find(|r| r.id == id) {
            r.previewed = Some(fingerprint);
        }
    }

    /// Mark check `id` as being asked about with the configuration `fingerprint`; the returned signal fires if
    /// the person cancels. Refused when the preview showed another configuration: what was shown is what is sent.
    pub fn start_ask(&self, id: u64, fingerprint: &str) -> Result<Arc<Notify>> {
        let mut checks = self.checks();
        let r = checks.recent.iter_mut().find(|r| r.id == id).ok_or_else(gone)?;
        if r.cancel.is_some() {
            return Err(Error::Input("the AI is already being asked about this text".into()));
        }
        if r.previewed.as_deref().is_some_and(|p| p != fingerprint) {
            r.previewed = None;
            return Err(Error::Llm(
                "the AI settings changed after the preview; look at what would be sent again before sending".into(),
            ));
        }
        let cancel = Arc::new(Notify::new());
        r.cancel = Some(cancel.clone());
        Ok(cancel)
    }

    /// The ask is over: store the merged verdict (when there is one) in place of the local one.
    pub fn finish_ask(&self, id: u64, merged: Option<(Analysis, Option<i64>)>) {
        let mut checks = self.checks();
        let Some(r) = checks.recent.iter_mut().find(|r| r.id == id) else { return };
        r.cancel = None;
        let Some((analysis, history_id)) = merged else { return };
        r.analysis = analysis;
        r.history_id = history_id;
        let hash = r.hash.clone();
        // The merged verdict's row replaced the local one: later checks of the same text point at it.
        if let Some(last) = checks.last_saved.as_mut().filter(|(h, _)| *h == hash) {
            last.1 = history_id;
        }
    }

    /// Cancel the ask about check `id`, if one is running. `notify_one` keeps a permit, so a cancel that lands
    /// before the ask starts waiting still counts.
    pub fn cancel_ask(&self, id: u64) -> bool {
        let checks = self.checks();
        match checks.recent.iter().find(|r| r.id == id).and_then(|r| r.cancel.as_ref()) {
            Some(cancel) => {
                cancel.notify_one();
                true
            }
            None => false,
        }
    }

    /// The store, or an error the page can show.
    pub fn store(&self) -> Result<Arc<dyn Store>> {
        self.loaded()
            .checker
            .store()
            .cloned()
            .ok_or_else(|| Error::Store("it could not be opened at start-up; see the log, then restart Redflag".into()))
    }
}

fn gone() -> Error {
    Error::NotFound("that check is no longer open: check the text again".into())
}

/// Read the configuration and build what depends on it. A config file the core refuses (a typo, a key from a newer
/// version) does not keep the app from opening: it runs on the defaults and the settings page shows why.
fn load(analyzer: &Arc<Analyzer>, paths: &Paths, secrets: &SecretStore, env: &Env) -> Result<Loaded> {
    let key = secrets.get().unwrap_or_else(|e| {
        tracing::warn!("{e}");
        None
    });
    let key = key.as_ref().map(|k| k.expose_secret());
    let mut config_error = None;
    let config = settings::load_config(&paths.config, key, |n| env(n)).or_else(|e| {
        tracing::error!("the config file is not used: {e}");
        config_error = Some(format!("{e}. Redflag is using its default settings until this is fixed."));
        settings::config_from("", &paths.config, key, |n| env(n))
    })?;
    let prefs = DesktopPrefs::load(&paths.prefs).unwrap_or_else(|e| {
        tracing::error!("{e}");
        config_error.get_or_insert_with(|| format!("{e}. Saving the settings replaces it."));
        DesktopPrefs::default()
    });
    let db_path = redflag::check::db_path(&config);
    // Without the store the app still checks texts; history and the LLM cache say why they are missing.
    let store = db_path.as_ref().and_then(|p| {
        redflag::check::open_store(p, &config)
            .map_err(|e| tracing::error!("the Redflag database cannot be opened: {e}"))
            .ok()
    });
    // Indicators a hub published, synced into the same file (`redflag sync`): matched here too, locally.
    if let Some(store) = &store {
        redflag::check::load_synced_indicators(analyzer, &**store);
    }
    let checker = Checker::new(Arc::clone(analyzer), &config, store, prefs.offline_only).word_off(|why| {
        Some(match why {
            Off::Offline => "Local verdict only: offline mode is on, so nothing leaves this computer.".into(),
            Off::NotConfigured => {
                "Local verdict only: no AI service is set up. Add an API key or a local server in Settings.".into()
            }
            Off::PolicyNever => "Local verdict only: asking an AI is switched off in Settings.".into(),
            Off::Unusable(e) => format!("Local verdict only: the AI settings cannot be used ({e})."),
        })
    });
    Ok(Loaded { config, prefs, db_path, checker: Arc::new(checker), config_error })
}
