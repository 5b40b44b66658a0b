//! Settings for the parts of Redflag that reach outside the machine or keep state: the LLM endpoint, escalation
//! policy, budgets, cache and history. Layered as defaults -> TOML file -> environment variables; secrets are
//! [`SecretString`]s so they never show in `Debug` output or logs.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Prices in US dollars per million tokens, as the provider bills them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

impl Prices {
    /// gpt-4o-mini's list prices (../shared/protocol/openai_fixtures.json, `cost_accounting`).
    pub const GPT_4O_MINI: Prices = Prices { input: 0.15, cached_input: 0.075, output: 0.6 };
}

/// How to reach an OpenAI-compatible Chat Completions endpoint.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1` (Ollama). The client appends `/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer ...` when present; local servers often need none.
    pub api_key: Option<SecretString>,
    pub connect_timeout: Duration,
    /// Deadline for one escalation, retries included.
    pub timeout: Duration,
    /// Retries after the first attempt, for rate limits (429 `rate_limit_exceeded`), 5xx and network errors only.
    pub max_retries: u32,
    pub max_completion_tokens: u32,
    pub prices: Prices,
}

impl LlmConfig {
    pub const OPENAI_BASE_URL: &'static str = "https://api.openai.com/v1";
    pub const DEFAULT_MODEL: &'static str = "gpt-4o-mini";

    /// OpenAI's endpoint and gpt-4o-mini with the issue's failure policy: connect 5 s, 30 s in all, 2 retries.
    pub fn openai_default() -> Self {
        LlmConfig {
            base_url: Self::OPENAI_BASE_URL.to_string(),
            model: Self::DEFAULT_MODEL.to_string(),
            api_key: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_retries: 2,
            max_completion_tokens: 400,
            prices: Prices::GPT_4O_MINI,
        }
    }
}

/// When the LLM tier is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Only inputs the local tiers label `uncertain` (the default when an endpoint is configured).
    #[default]
    Auto,
    /// Never touch the network.
    Never,
    /// Every input, for comparisons.
    Always,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Policy::Auto),
            "never" => Ok(Policy::Never),
            "always" => Ok(Policy::Always),
            other => Err(format!("unknown escalation policy {other:?}: use auto, never or always")),
        }
    }
}

/// Spending caps in US dollars; `None` means no cap of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    /// Per user id (the bridge passes the sender; the CLI and desktop app have one local user).
    pub user_daily_usd: Option<f64>,
    pub user_monthly_usd: Option<f64>,
}

/// Everything Redflag reads from the config file and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub llm: LlmConfig,
    /// True when an endpoint was configured (an API key, or an explicit base URL such as a local Ollama).
    pub llm_configured: bool,
    pub policy: Policy,
    pub budget: Budget,
    /// How long a cached LLM verdict is reused.
    pub cache_ttl: Duration,
    pub near_duplicates: bool,
    pub history_enabled: bool,
    /// History older than this is purged; `None` keeps it until deleted.
    pub history_retention: Option<Duration>,
    /// The user's own names, redacted before anything is sent.
    pub names: Vec<String>,
    /// The database file; `None` means the platform data directory.
    pub db_path: Option<std::path::PathBuf>,
    /// Where the file layer came from, for `redflag config show`.
    pub source: Option<std::path::PathBuf>,
}

/// The TOML file's shape. Every key is optional; unknown keys are an error so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    llm: FileLlm,
    #[serde(default)]
    escalation: FileEscalation,
    #[serde(default)]
    budget: Budget,
    #[serde(default)]
    cache: FileCache,
    #[serde(default)]
    history: FileHistory,
    #[serde(default)]
    privacy: FilePrivacy,
    #[serde(default)]
    store: FileStore,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLlm {
    base_url: Option<String>,
    model: Option<String>,
    api_key: Option<SecretString>,
    connect_timeout_secs: Option<f64>,
    timeout_secs: Option<f64>,
    max_retries: Option<u32>,
    max_completion_tokens: Option<u32>,
    prices: Option<Prices>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEscalation {
    policy: Option<Policy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    ttl_days: Option<f64>,
    near_duplicates: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHistory {
    enabled: Option<bool>,
    retention_days: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePrivacy {
    #[serde(default)]
    names: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStore {
    path: Option<std::path::PathBuf>,
}

/// A configuration that cannot be used; the message says which setting and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is invalid: {message}")]
    Parse { path: std::path::PathBuf, message: String },
    #[error("the environment variable {name} is invalid: {message}")]
    Env { name: &'static str, message: String },
    #[error("the setting {key} is invalid: {message}")]
    Value { key: &'static str, message: String },
}

/// Known list prices (USD per million tokens) for OpenAI models; other models need `[llm.prices]`.
fn known_prices(model: &str) -> Option<Prices> {
    match model {
        "gpt-4o-mini" => Some(Prices::GPT_4O_MINI),
        "gpt-4.1-mini" => Some(Prices { input: 0.4, cached_input: 0.1, output: 1.6 }),
        "gpt-4.1-nano" => Some(Prices { input: 0.1, cached_input: 0.025, output: 0.4 }),
        _ => None,
    }
}

impl Config {
    /// The default location of the config file: `config.toml` in the platform config directory
    /// (`~/.config/redflag/` on Linux).
    pub fn default_path() -> Option<std::path::PathBuf> {
        directories::ProjectDirs::from("org", "Redflag", "redflag").map(|d| d.config_dir().join("config.toml"))
    }

    /// Defaults, then the file (`path`, or the default location if it exists), then the process environment.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        Self::load_with(path, |name| std::env::var(name).ok())
    }

    /// [`Config::load`] with an explicit environment, so tests do not touch the process's.
    pub fn load_with(
        path: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (file, source) = match path {
            Some(p) => (read_file(p)?, Some(p.to_path_buf())),
            None => match Self::default_path().filter(|p| p.is_file()) {
                Some(p) => (read_file(&p)?, Some(p)),
                None => (File::default(), None),
            },
        };
        Self::build(file, source, env)
    }

    /// The same layers from TOML text that another program already read: the bridge keeps these sections in its
    /// own settings file, beside its own keys. `source` names that file in error messages and `config show`.
    pub fn from_toml_with(
        text: &str,
        source: &std::path::Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: source.into(), message: e.message().to_string() })?;
        Self::build(file, Some(source.to_path_buf()), env)
    }

    fn build(
        file: File,
        source: Option<std::path::PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let secs = |name: &'static str, file: Option<f64>| -> Result<Option<f64>, ConfigError> {
            match env(name) {
                Some(v) => {
                    v.trim().parse::<f64>().map(Some).map_err(|e| ConfigError::Env { name, message: e.to_string() })
                }
                None => Ok(file),
            }
        };

        let mut llm = LlmConfig::openai_default();
        let base_url = env("REDFLAG_LLM_BASE_URL").or(file.llm.base_url);
        if let Some(url) = &base_url {
            llm.base_url = url.trim_end_matches('/').to_string();
        }
        if let Some(model) = env("REDFLAG_LLM_MODEL").or(file.llm.model) {
            llm.model = model;
        }
        // REDFLAG_LLM_API_KEY is for whatever endpoint is configured. OPENAI_API_KEY, often exported for other
        // tools, only stands in for a key when the file names none or the endpoint is OpenAI's: an OpenAI secret must
        // not be sent to another provider just because it is in the shell.
        let on_openai = llm.base_url.contains("api.openai.com");
        llm.api_key = match (env("REDFLAG_LLM_API_KEY"), env("OPENAI_API_KEY"), file.llm.api_key) {
            (Some(key), _, _) => Some(SecretString::from(key)),
            (None, Some(key), file_key) if on_openai || file_key.is_none() => Some(SecretString::from(key)),
            (None, _, file_key) => file_key,
        };
        if let Some(s) = secs("REDFLAG_LLM_CONNECT_TIMEOUT_SECS", file.llm.connect_timeout_secs)? {
            llm.connect_timeout = duration("llm.connect_timeout_secs / REDFLAG_LLM_CONNECT_TIMEOUT_SECS", s)?;
        }
        if let Some(s) = secs("REDFLAG_LLM_TIMEOUT_SECS", file.llm.timeout_secs)? {
            llm.timeout = duration("llm.timeout_secs / REDFLAG_LLM_TIMEOUT_SECS", s)?;
        }
        if let Some(n) = file.llm.max_retries {
            llm.max_retries = n;
        }
        if let Some(n) = file.llm.max_completion_tokens {
            llm.max_completion_tokens = n;
        }
        llm.prices = match file.llm.prices {
            Some(p) => p,
            // A known model is billed at its list price wherever it is served. A server on this machine (Ollama,
            // llama.cpp) costs nothing per token. Anything else is billed at gpt-4o-mini's prices as a stand-in,
            // never at zero, so a budget still stops a hosted endpoint whose prices were not configured; `config
            // show` says so.
            None => known_prices(&llm.model).unwrap_or(if is_loopback(&llm.base_url) {
                Prices { input: 0.0, cached_input: 0.0, output: 0.0 }
            } else {
                Prices::GPT_4O_MINI
            }),
        };
        if let Some(p) = secs("REDFLAG_LLM_PRICE_INPUT", None)? {
            llm.prices.input = p;
        }
        if let Some(p) = secs("REDFLAG_LLM_PRICE_CACHED_INPUT", None)? {
            llm.prices.cached_input = p;
        }
        if let Some(p) = secs("REDFLAG_LLM_PRICE_OUTPUT", None)? {
            llm.prices.output = p;
        }

        let llm_configured = llm.api_key.is_some() || base_url.is_some();
        let policy = match env("REDFLAG_ESCALATE") {
            Some(v) => v.parse().map_err(|message| ConfigError::Env { name: "REDFLAG_ESCALATE", message })?,
            None => file.escalation.policy.unwrap_or(if llm_configured { Policy::Auto } else { Policy::Never }),
        };
        let mut budget = file.budget;
        if let Some(v) = secs("REDFLAG_BUDGET_DAILY_USD", None)? {
            budget.daily_usd = Some(v);
        }
        if let Some(v) = secs("REDFLAG_BUDGET_MONTHLY_USD", None)? {
            budget.monthly_usd = Some(v);
        }
        let days = |key: &'static str, d: f64| -> Result<Duration, ConfigError> {
            if d.is_finite() && (0.0..=36_500.0).contains(&d) {
                Ok(Duration::from_secs_f64(d * 86_400.0))
            } else {
                Err(ConfigError::Value { key, message: format!("{d} is not a number of days between 0 and 36500") })
            }
        };
        Ok(Config {
            llm,
            llm_configured,
            policy,
            budget,
            cache_ttl: days("cache.ttl_days", file.cache.ttl_days.unwrap_or(30.0))?,
            near_duplicates: file.cache.near_duplicates.unwrap_or(true),
            history_enabled: file.history.enabled.unwrap_or(true),
            history_retention: file.history.retention_days.map(|d| days("history.retention_days", d)).transpose()?,
            names: file.privacy.names,
            db_path: env("REDFLAG_DB").map(Into::into).or(file.store.path),
            source,
        })
    }

    /// Identifies the endpoint, model and key (hashed) so a permanent rejection (bad key, no quota) switches
    /// escalation off for this configuration only: change any of them and it is tried again.
    pub fn llm_fingerprint(&self) -> String {
        use secrecy::ExposeSecret;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.llm.base_url.as_bytes());
        h.update([0]);
        h.update(self.llm.model.as_bytes());
        h.update([0]);
        if let Some(key) = &self.llm.api_key {
            h.update(key.expose_secret().as_bytes());
        }
        h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The effective settings as TOML-like lines with the API key masked, for `redflag config show`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let opt = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v}"));
        let key = match &self.llm.api_key {
            Some(_) => "set (hidden)".to_string(),
            None => "not set".to_string(),
        };
        let mut out = vec![
            ("config file".into(), self.source.as_ref().map_or("none (defaults)".into(), |p| p.display().to_string())),
            ("llm.configured".into(), self.llm_configured.to_string()),
            ("llm.base_url".into(), self.llm.base_url.clone()),
            ("llm.model".into(), self.llm.model.clone()),
            ("llm.api_key".into(), key),
            ("llm.connect_timeout_secs".into(), format!("{}", self.llm.connect_timeout.as_secs_f64())),
            ("llm.timeout_secs".into(), format!("{}", self.llm.timeout.as_secs_f64())),
            ("llm.max_retries".into(), self.llm.max_retries.to_string()),
            ("llm.max_completion_tokens".into(), self.llm.max_completion_tokens.to_string()),
            (
                "llm.prices (USD per 1M tokens)".into(),
                format!(
                    "input {} · cached input {} · output {}",
                    self.llm.prices.input, self.llm.prices.cached_input, self.llm.prices.output
                ),
            ),
            ("escalation.policy".into(), format!("{:?}", self.policy).to_lowercase()),
            ("budget.daily_usd".into(), opt(self.budget.daily_usd)),
            ("budget.monthly_usd".into(), opt(self.budget.monthly_usd)),
            ("budget.user_daily_usd".into(), opt(self.budget.user_daily_usd)),
            ("budget.user_monthly_usd".into(), opt(self.budget.user_monthly_usd)),
            ("cache.ttl_days".into(), format!("{}", self.cache_ttl.as_secs_f64() / 86_400.0)),
            ("cache.near_duplicates".into(), self.near_duplicates.to_string()),
            ("history.enabled".into(), self.history_enabled.to_string()),
            (
                "history.retention_days".into(),
                self.history_retention.map_or("keep".into(), |d| format!("{}", d.as_secs_f64() / 86_400.0)),
            ),
            ("privacy.names".into(), format!("{} configured", self.names.len())),
        ];
        if !is_loopback(&self.llm.base_url) && known_prices(&self.llm.model).is_none() {
            out.push(("warning".into(), format!("no known prices for {}: set [llm.prices]", self.llm.model)));
        }
        out
    }
}

/// Whether a base URL points at this machine.
fn is_loopback(url: &str) -> bool {
    let host = crate::extract::host_of(url);
    let host = host.trim_start_matches('[').split(']').next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

fn read_file(path: &std::path::Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.message().to_string() })
}

fn duration(key: &'static str, secs: f64) -> Result<Duration, ConfigError> {
    if secs.is_finite() && secs > 0.0 && secs < 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(ConfigError::Value { key, message: format!("{secs} is not a number of seconds between 0 and 86400") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        // An empty file stands for "no file" so the developer's own ~/.config/redflag is never read.
        std::fs::write(&path, file.unwrap_or("")).expect("write config");
        Config::load_with(Some(&path), lookup)
    }

    #[test]
    fn without_an_endpoint_escalation_is_off() {
        let c = load(None, &[]).expect("defaults");
        assert!(!c.llm_configured);
        assert_eq!(c.policy, Policy::Never);
        assert_eq!(c.llm.model, "gpt-4o-mini");
        assert_eq!(c.llm.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.llm.timeout, Duration::from_secs(30));
        assert_eq!(c.llm.max_retries, 2);
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = r#"
            [llm]
            base_url = "http://127.0.0.1:11434/v1/"
            model = "llama3.1"
            [budget]
            daily_usd = 1.0
            [history]
            retention_days = 30
            [privacy]
            names = ["Jane Doe"]
        "#;
        let c = load(Some(file), &[]).expect("file");
        assert!(c.llm_configured, "an explicit base URL is an endpoint");
        assert_eq!(c.policy, Policy::Auto);
        assert_eq!(c.llm.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(c.llm.prices.input, 0.0, "a model on a local server is free");
        let hosted =
            load(Some("[llm]\nbase_url = \"https://proxy.example/v1\"\nmodel = \"mystery\"\n"), &[]).expect("hosted");
        assert_eq!(hosted.llm.prices, Prices::GPT_4O_MINI, "an unknown hosted model is never free");
        assert!(hosted.describe().iter().any(|(k, _)| k == "warning"));
        assert_eq!(c.budget.daily_usd, Some(1.0));
        assert_eq!(c.history_retention, Some(Duration::from_secs(30 * 86_400)));
        let c = load(
            Some(file),
            &[("REDFLAG_LLM_MODEL", "qwen2.5"), ("OPENAI_API_KEY", "sk-test-123"), ("REDFLAG_ESCALATE", "always")],
        )
        .expect("env");
        assert_eq!(c.llm.model, "qwen2.5");
        assert_eq!(c.llm.api_key.as_ref().map(|k| k.expose_secret().to_string()), Some("sk-test-123".into()));
        assert_eq!(c.policy, Policy::Always);
    }

    #[test]
    fn secrets_never_show_in_debug_or_describe() {
        let c = load(Some("[llm]\napi_key = \"sk-very-secret\"\n"), &[]).expect("file");
        assert!(!format!("{c:?}").contains("sk-very-secret"));
        assert!(!format!("{:?}", c.describe()).contains("sk-very-secret"));
        assert_eq!(c.llm.prices, Prices::GPT_4O_MINI);
    }

    #[test]
    fn an_openai_key_in_the_shell_is_not_sent_to_another_provider() {
        let file = "[llm]\nbase_url = \"https://api.together.example/v1\"\napi_key = \"tg-key\"\n";
        let c = load(Some(file), &[("OPENAI_API_KEY", "sk-openai")]).expect("file");
        assert_eq!(c.llm.api_key.as_ref().map(|k| k.expose_secret().to_string()), Some("tg-key".into()));
        let c = load(Some(file), &[("OPENAI_API_KEY", "sk-openai"), ("REDFLAG_LLM_API_KEY", "tg-2")]).expect("env");
        assert_eq!(c.llm.api_key.as_ref().map(|k| k.expose_secret().to_string()), Some("tg-2".into()));
        let c = load(Some("[llm]\napi_key = \"sk-file\"\n"), &[("OPENAI_API_KEY", "sk-env")]).expect("openai");
        assert_eq!(c.llm.api_key.as_ref().map(|k| k.expose_secret().to_string()), Some("sk-env".into()));
    }

    #[test]
    fn fingerprint_changes_with_the_key_model_or_endpoint() {
        let a = load(None, &[("OPENAI_API_KEY", "sk-a")]).expect("a");
        let b = load(None, &[("OPENAI_API_KEY", "sk-b")]).expect("b");
        let c = load(None, &[("OPENAI_API_KEY", "sk-a"), ("REDFLAG_LLM_MODEL", "gpt-4.1-mini")]).expect("c");
        assert_eq!(a.llm_fingerprint(), load(None, &[("OPENAI_API_KEY", "sk-a")]).expect("a2").llm_fingerprint());
        assert_ne!(a.llm_fingerprint(), b.llm_fingerprint());
        assert_ne!(a.llm_fingerprint(), c.llm_fingerprint());
        assert_eq!(c.llm.prices.input, 0.4);
    }

    #[test]
    fn typos_and_bad_values_are_clear_errors() {
        let e = load(Some("[llm]\nbase_ur = \"x\"\n"), &[]).expect_err("typo");
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = load(None, &[("REDFLAG_ESCALATE", "sometimes")]).expect_err("policy");
        assert!(e.to_string().contains("REDFLAG_ESCALATE"), "{e}");
        let e = load(None, &[("REDFLAG_LLM_TIMEOUT_SECS", "soon")]).expect_err("timeout");
        assert!(e.to_string().contains("REDFLAG_LLM_TIMEOUT_SECS"), "{e}");
        let e = load(Some("[cache]\nttl_days = inf\n"), &[]).expect_err("infinite ttl");
        assert!(e.to_string().contains("cache.ttl_days"), "{e}");
        let e = load(Some("[history]\nretention_days = 1e15\n"), &[]).expect_err("huge retention");
        assert!(e.to_string().contains("history.retention_days"), "{e}");
    }
}
