//! The settings page's model, read from and written to the files the CLI reads too: `config.toml` (the core's
//! `[llm]`, `[escalation]`, `[budget]`, `[history]` sections) and, for the two choices only the app makes,
//! `desktop.toml` beside it. The config file is edited with toml_edit so a person's comments and other keys
//! survive, checked by the core's own parser before it replaces the old file, and replaced atomically.

use std::path::{Path, PathBuf};

use redflag::config::{Config, LlmConfig, Policy};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variables that override the files; the page says when one is set, or a saved change would seem to
/// be ignored.
const OVERRIDES: &[&str] = &[
    "REDFLAG_LLM_BASE_URL",
    "REDFLAG_LLM_MODEL",
    "REDFLAG_LLM_API_KEY",
    "OPENAI_API_KEY",
    "REDFLAG_ESCALATE",
    "REDFLAG_BUDGET_DAILY_USD",
    "REDFLAG_BUDGET_MONTHLY_USD",
    "REDFLAG_DB",
];

/// What the settings page shows and sends back. Fields after `retention_days` are read-only facts; `api_key_set`
/// means a key saved by this app (in the keyring or the key file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub base_url: String,
    pub model: String,
    pub policy: Policy,
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub offline_only: bool,
    pub auto_ask: bool,
    pub history_enabled: bool,
    pub retention_days: Option<f64>,
    #[serde(default)]
    pub api_key_set: bool,
    #[serde(default)]
    pub key_storage: String,
    #[serde(default)]
    pub key_storage_detail: String,
    #[serde(default)]
    pub config_path: String,
    #[serde(default)]
    pub db_path: String,
    #[serde(default)]
    pub env_overrides: Vec<String>,
    /// Where a key comes from when it is not (only) the saved one, as a sentence; empty otherwise.
    #[serde(default)]
    pub api_key_note: String,
    /// Why the config files could not be used at start-up (the app then runs on defaults).
    #[serde(default)]
    pub config_error: Option<String>,
}

/// The app-only choices, in `desktop.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DesktopPrefs {
    /// Nothing leaves the machine, whatever the escalation policy says.
    pub offline_only: bool,
    /// Ask the LLM without the confirmation step (the page still shows what was sent).
    pub auto_ask: bool,
}

impl DesktopPrefs {
    pub fn load(path: &Path) -> Result<DesktopPrefs> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                Error::Config(format!("{} is invalid: {}; fix or delete it", path.display(), e.message()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DesktopPrefs::default()),
            Err(e) => Err(Error::Config(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|e| Error::Internal(e.to_string()))?;
        write_atomically(path, &text)
    }
}

/// Where the app keeps its files: the CLI's config file (or `REDFLAG_CONFIG`), with `desktop.toml` and the
/// fallback key file beside it, and where exports go (`REDFLAG_EXPORT_DIR`, else Downloads).
#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub prefs: PathBuf,
    pub key_file: PathBuf,
    /// Where "Export JSON" writes; `None` means the Downloads folder.
    pub export_dir: Option<PathBuf>,
}

impl Paths {
    pub fn from_env() -> Result<Paths> {
        let config = std::env::var_os("REDFLAG_CONFIG")
            .map(PathBuf::from)
            .or_else(Config::default_path)
            .ok_or_else(|| Error::Config("no config directory is known for this user; set REDFLAG_CONFIG".into()))?;
        let export_dir = std::env::var_os("REDFLAG_EXPORT_DIR").map(PathBuf::from);
        Ok(Paths { export_dir, ..Paths::beside(config) })
    }

    pub fn beside(config: PathBuf) -> Paths {
        let dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
        Paths { prefs: dir.join("desktop.toml"), key_file: dir.join("api-key"), export_dir: None, config }
    }
}

/// The core's configuration from `path` (defaults if it does not exist yet), with the saved `key` standing in as
/// `REDFLAG_LLM_API_KEY` unless the environment sets that: the saved key then counts as a configured endpoint in
/// the core's own rules, and it wins over a shell's `OPENAI_API_KEY`, which is meant for other tools and must not
/// go to whatever endpoint the person chose here.
pub fn load_config(path: &Path, key: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
    config_from(&read_or_empty(path)?, path, key, env)
}

/// [`load_config`] on text already read (`""` gives the defaults).
pub fn config_from(text: &str, path: &Path, key: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
    let env = |name: &str| match name {
        "REDFLAG_LLM_API_KEY" => env(name).or_else(|| key.map(str::to_string)),
        _ => env(name),
    };
    Ok(Config::from_toml_with(text, path, env)?)
}

/// What the settings page shows: the files' values, not the environment's (those would be written into the file
/// by the next save), with `auto` as the policy when the file names none (the core's `never` then only means "no
/// endpoint yet", and saving it would keep the AI off once one is set up).
pub fn for_page(
    paths: &Paths,
    key: Option<&str>,
    prefs: DesktopPrefs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings> {
    let text = read_or_empty(&paths.config)?;
    let files = config_from(&text, &paths.config, key, |_| None)?;
    let mut s = Settings::from_config(&files, prefs, env);
    let doc: toml_edit::DocumentMut = text.parse().unwrap_or_default();
    if doc.get("escalation").and_then(|t| t.get("policy")).is_none() {
        s.policy = Policy::Auto;
    }
    s.api_key_set = key.is_some();
    let file_key = doc.get("llm").and_then(|t| t.get("api_key")).is_some();
    let on_openai = files.llm.base_url.contains("api.openai.com");
    s.api_key_note = match (key.is_some(), env("REDFLAG_LLM_API_KEY").is_some(), env("OPENAI_API_KEY").is_some()) {
        (true, true, _) => "REDFLAG_LLM_API_KEY from the environment is used instead of the saved key.".into(),
        (false, true, _) => "REDFLAG_LLM_API_KEY from the environment is used while no key is saved here.".into(),
        (false, false, _) if file_key => {
            format!("The api_key in {} is used while no key is saved here.", paths.config.display())
        }
        (false, false, true) if on_openai => {
            "OPENAI_API_KEY from the environment is used while no key is saved here.".into()
        }
        _ => String::new(),
    };
    Ok(s)
}

impl Settings {
    /// The page's view of `config`; `env` tells which settings the environment overrides.
    pub fn from_config(config: &Config, prefs: DesktopPrefs, env: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {
            base_url: config.llm.base_url.clone(),
            model: config.llm.model.clone(),
            policy: config.policy,
            daily_usd: config.budget.daily_usd,
            monthly_usd: config.budget.monthly_usd,
            offline_only: prefs.offline_only,
            auto_ask: prefs.auto_ask,
            history_enabled: config.history_enabled,
            retention_days: config.history_retention.map(|d| d.as_secs_f64() / 86_400.0),
            api_key_set: false,
            key_storage: String::new(),
            key_storage_detail: String::new(),
            config_path: String::new(),
            db_path: String::new(),
            env_overrides: OVERRIDES
                .iter()
                .filter(|n| env(n).is_some_and(|v| !v.trim().is_empty()))
                .map(|n| n.to_string())
                .collect(),
            api_key_note: String::new(),
            config_error: None,
        }
    }

    /// Write these settings into the config file and `desktop.toml`. The new config file is parsed by the core
    /// first, so an invalid value is refused here with the core's message and the old file stays.
    pub fn save(&self, paths: &Paths) -> Result<()> {
        self.validate()?;
        let old = read_or_empty(&paths.config)?;
        let mut doc: toml_edit::DocumentMut = old.parse().map_err(|e: toml_edit::TomlError| {
            Error::Config(format!("{} is not valid TOML ({}); fix or delete it", paths.config.display(), e.message()))
        })?;
        let base_url = self.base_url.trim().trim_end_matches('/');
        // OpenAI's endpoint is the default: writing it would count as "an endpoint is configured" without a key.
        set(&mut doc, "llm", "base_url", (base_url != LlmConfig::OPENAI_BASE_URL).then(|| base_url.into()));
        let model = self.model.trim();
        set(&mut doc, "llm", "model", (model != LlmConfig::DEFAULT_MODEL).then(|| model.into()));
        let policy = match self.policy {
            Policy::Auto => "auto",
            Policy::Never => "never",
            Policy::Always => "always",
        };
        set(&mut doc, "escalation", "policy", Some(policy.into()));
        set(&mut doc, "budget", "daily_usd", self.daily_usd.map(Into::into));
        set(&mut doc, "budget", "monthly_usd", self.monthly_usd.map(Into::into));
        set(&mut doc, "history", "enabled", Some(self.history_enabled.into()));
        set(&mut doc, "history", "retention_days", self.retention_days.map(Into::into));
        let text = doc.to_string();
        Config::from_toml_with(&text, &paths.config, |_| None)?;
        write_atomically(&paths.config, &text)?;
        DesktopPrefs { offline_only: self.offline_only, auto_ask: self.auto_ask }.save(&paths.prefs)
    }

    fn validate(&self) -> Result<()> {
        let url = self.base_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "the endpoint {url:?} is not a web address: use https://api.openai.com/v1 or a local server such as \
                 http://127.0.0.1:11434/v1"
            )));
        }
        if self.model.trim().is_empty() {
            return Err(Error::Config("name the model to ask, e.g. gpt-4o-mini or llama3.2".into()));
        }
        for (name, v) in [("daily budget", self.daily_usd), ("monthly budget", self.monthly_usd)] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(Error::Config(format!("the {name} must be a number of dollars, 0 or more, or empty")));
            }
        }
        Ok(())
    }
}

/// The config file's text; a file that does not exist yet reads as empty (the defaults).
fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::Config(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Set `[table] key = value`, or remove the key when `value` is `None`.
fn set(doc: &mut toml_edit::DocumentMut, table: &str, key: &str, value: Option<toml_edit::Value>) {
    match value {
        Some(v) => {
            let t = doc.entry(table).or_insert_with(toml_edit::table);
            if let Some(t) = t.as_table_like_mut() {
                t.insert(key, toml_edit::Item::Value(v));
            }
        }
        None => {
            if let Some(t) = doc.get_mut(table).and_then(toml_edit::Item::as_table_like_mut) {
                t.remove(key);
            }
        }
    }
}

/// Replace `path` with `text` so a reader sees the old file or the new one, never half of each. A symlinked
/// dotfile stays a symlink (its target is replaced) and the file keeps its permissions: a config holding an
/// `api_key` may be private.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let fail = |e: std::io::Error| Error::Config(format!("cannot save {}: {e}", path.display()));
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(&dir).map_err(fail)?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("config");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, text).and_then(|()| match std::fs::metadata(&path) {
        Ok(old) => std::fs::set_permissions(&tmp, old.permissions()),
        Err(_) => Ok(()),
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_keeps_comments_and_round_trips_through_the_core() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let paths = Paths::beside(dir.path().join("config.toml"));
        std::fs::write(&paths.config, "# mine\n[privacy]\nnames = [\"Ada Lovelace\"]\n").expect("writes");
        let config = load_config(&paths.config, None, |_| None).expect("loads");
        let mut s = Settings::from_config(&config, DesktopPrefs::default(), &|_| None);
        assert_eq!(s.policy, Policy::Never, "no endpoint, so the core's default is never");
        s.base_url = "http://127.0.0.1:11434/v1/".into();
        s.model = "llama3.2".into();
        s.policy = Policy::Auto;
        s.daily_usd = Some(0.5);
        s.retention_days = Some(30.0);
        s.offline_only = true;
        s.save(&paths).expect("saves");

        let text = std::fs::read_to_string(&paths.config).expect("reads");
        assert!(text.contains("# mine") && text.contains("Ada Lovelace"), "{text}");
        let config = load_config(&paths.config, None, |_| None).expect("loads");
        assert_eq!(config.llm.base_url, "http://127.0.0.1:11434/v1");
        assert!(config.llm_configured);
        assert_eq!(config.budget.daily_usd, Some(0.5));
        let back = Settings::from_config(&config, DesktopPrefs::load(&paths.prefs).expect("prefs"), &|_| None);
        assert!(back.offline_only);
        assert_eq!(back.retention_days, Some(30.0));

        // Back to OpenAI's defaults: the keys go, so the core's defaults apply again.
        s.base_url = LlmConfig::OPENAI_BASE_URL.into();
        s.model = LlmConfig::DEFAULT_MODEL.into();
        s.daily_usd = None;
        s.save(&paths).expect("saves");
        let text = std::fs::read_to_string(&paths.config).expect("reads");
        assert!(!text.contains("base_url") && !text.contains("daily_usd"), "{text}");
    }

    #[test]
    fn a_saved_key_configures_the_endpoint_and_wins_over_a_shell_openai_key() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[llm]\nbase_url = \"https://api.groq.com/openai/v1\"\n").expect("writes");
        let config = load_config(&path, Some("gsk-saved"), |_| None).expect("loads");
        assert!(config.llm_configured);
        assert_eq!(config.policy, Policy::Auto);
        let env = |n: &str| (n == "OPENAI_API_KEY").then(|| "sk-openai".to_string());
        let config = load_config(&path, Some("gsk-saved"), env).expect("loads");
        assert_eq!(config.llm.api_key.expect("a key").expose_secret(), "gsk-saved");
        let env = |n: &str| (n == "REDFLAG_LLM_API_KEY").then(|| "gsk-env".to_string());
        let config = load_config(&path, Some("gsk-saved"), env).expect("loads");
        assert_eq!(config.llm.api_key.expect("a key").expose_secret(), "gsk-env", "the environment still wins");
    }

    #[test]
    fn the_page_shows_the_files_not_the_environment() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let paths = Paths::beside(dir.path().join("config.toml"));
        let env = |n: &str| match n {
            "REDFLAG_LLM_MODEL" => Some("gpt-from-env".to_string()),
            "OPENAI_API_KEY" => Some("sk-env".to_string()),
            _ => None,
        };
        let s = for_page(&paths, None, DesktopPrefs::default(), &env).expect("the page");
        assert_eq!(s.model, LlmConfig::DEFAULT_MODEL, "an override is not shown, so it is not saved into the file");
        assert_eq!(s.env_overrides, ["REDFLAG_LLM_MODEL", "OPENAI_API_KEY"]);
        assert_eq!(s.policy, Policy::Auto, "no policy in the file: the one that applies once an AI is set up");
        assert!(!s.api_key_set);
        assert!(s.api_key_note.contains("OPENAI_API_KEY"), "{}", s.api_key_note);
    }

    #[cfg(unix)]
    #[test]
    fn saving_keeps_a_private_config_private_and_a_symlink_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temp dir");
        let real = dir.path().join("dotfiles/redflag.toml");
        std::fs::create_dir_all(real.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&real, "[llm]\napi_key = \"sk-in-file\"\n").expect("writes");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let paths = Paths::beside(link.clone());
        let mut s = for_page(&paths, None, DesktopPrefs::default(), &|_| None).expect("the page");
        assert!(s.api_key_note.contains("api_key"), "{}", s.api_key_note);
        s.daily_usd = Some(1.0);
        s.save(&paths).expect("saves");
        assert!(std::fs::symlink_metadata(&link).expect("exists").file_type().is_symlink());
        assert_eq!(std::fs::metadata(&real).expect("exists").permissions().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&real).expect("reads").contains("daily_usd = 1.0"));
    }

    #[test]
    fn invalid_settings_are_refused_and_the_file_is_kept() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let paths = Paths::beside(dir.path().join("config.toml"));
        let config = load_config(&paths.config, None, |_| None).expect("loads");
        let mut s = Settings::from_config(&config, DesktopPrefs::default(), &|_| None);
        s.base_url = "api.openai.com".into();
        assert_eq!(s.save(&paths).expect_err("refused").kind(), "config");
        s.base_url = LlmConfig::OPENAI_BASE_URL.into();
        s.retention_days = Some(-3.0);
        let e = s.save(&paths).expect_err("the core refuses negative days");
        assert!(e.to_string().contains("retention_days"), "{e}");
        assert!(!paths.config.exists());
    }
}
