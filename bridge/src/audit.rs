//! The audit log: every operator action and every erasure, in an append-only table that retention and erasure do
//! not touch (`bridge_audit`; the database itself refuses an UPDATE or DELETE on it, by trigger, so a bug or a
//! hurried `sqlite3` session cannot rewrite it either).
//!
//! A change of the bridge's settings between two starts is recorded too (`config.change`, naming what changed: the
//! settings file or an environment variable, never a value), since an operator edits files rather than running a
//! command for it.
//!
//! An entry names who acted (`cli:USER` for the command line, `sender` for a person's own "delete my data"), what
//! they did (`key.create`, `user.erase`...) and on what. A person is named by their pseudonym, never their address:
//! the log outlives the erasure it records.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::pseudonym::Pseudonyms;
use crate::queue::{BridgeStore, QueueError};

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub detail: Option<String>,
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
}

/// The command line's actor: the operating-system user who ran it.
pub fn cli_actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let user: String = user.chars().filter(|c| c.is_alphanumeric() || "._-".contains(*c)).take(64).collect();
    if user.is_empty() { "cli".into() } else { format!("cli:{user}") }
}

impl AuditEntry {
    pub fn new(actor: impl Into<String>, action: &'static str) -> Self {
        AuditEntry { actor: actor.into(), action, target: None, detail: None }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Every environment variable the bridge's settings come from: its own and the core's.
const CONFIG_VARS: &[&str] =
    &["OPENAI_API_KEY", "REDFLAG_ESCALATE", "REDFLAG_LLM_API_KEY", "REDFLAG_LLM_BASE_URL", "REDFLAG_LLM_MODEL"];

/// Where the settings' fingerprint is kept between starts.
const FINGERPRINT: &str = "config_fingerprint";

/// The settings as a fingerprint: for the file and each environment variable set, a keyed hash of its content
/// (keyed with the pseudonym key, so a copy of the database cannot test guesses of a secret against it).
pub fn config_fingerprint(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    keys: &Pseudonyms,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(path) = file {
        let content = std::fs::read(path).unwrap_or_default();
        let name = path.file_name().map_or_else(|| "settings file".into(), |n| n.to_string_lossy().into_owned());
        out.insert(name.clone(), keys.of(&format!("config:{name}:{}", String::from_utf8_lossy(&content))));
    }
    for name in crate::settings::ENV_VARS.iter().chain(CONFIG_VARS) {
        if let Some(value) = env(name) {
            out.insert((*name).to_string(), keys.of(&format!("config:{name}={value}")));
        }
    }
    out
}

/// Compare the settings with those of the last start and record what changed as `config.change` (nothing on the
/// first start, which has nothing to compare with). Returns the names that changed.
pub fn record_config_change(
    store: &dyn BridgeStore,
    now: &BTreeMap<String, String>,
    at_ms: i64,
) -> Result<Vec<String>, QueueError> {
    let before: Option<BTreeMap<String, String>> =
        store.secret(FINGERPRINT)?.and_then(|json| serde_json::from_str(&json).ok());
    let changed: Vec<String> = match &before {
        None => Vec::new(),
        Some(before) => {
            let mut names: Vec<String> =
                now.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
            names.extend(before.keys().filter(|k| !now.contains_key(*k)).cloned());
            names.sort();
            names
        }
    };
    if !changed.is_empty() {
        let detail = format!("changed since the last start: {}", changed.join(", "));
        store.audit(at_ms, &AuditEntry::new("system", "config.change").detail(detail))?;
    }
    if before.as_ref() != Some(now) {
        store.put_secret(FINGERPRINT, &serde_json::to_string(now)?)?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Audit, SqliteQueue, Users};

    #[test]
    fn a_changed_setting_is_named_and_its_value_is_not() {
        let q = SqliteQueue::open_in_memory().expect("store");
        let keys = Pseudonyms::load(Some(&[7; 32]), &q).expect("keys");
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let first = config_fingerprint(None, env(&[("TWILIO_AUTH_TOKEN", "t0k3n"), ("REDFLAG_ENV", "prod")]), &keys);
        assert!(record_config_change(&q, &first, 1).expect("first start").is_empty(), "nothing to compare with");
        assert!(record_config_change(&q, &first, 2).expect("same").is_empty());
        let second =
            config_fingerprint(None, env(&[("TWILIO_AUTH_TOKEN", "n3w-t0k3n"), ("OPENAI_API_KEY", "sk-1")]), &keys);
        let changed = record_config_change(&q, &second, 3).expect("changed");
        assert_eq!(changed, ["OPENAI_API_KEY", "REDFLAG_ENV", "TWILIO_AUTH_TOKEN"], "added, removed and changed");
        let log = q.audit_log(10).expect("audit");
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].actor.as_str(), log[0].action.as_str()), ("system", "config.change"));
        let stored = q.secret(FINGERPRINT).expect("secret").expect("kept");
        for secret in ["t0k3n", "sk-1", "prod"] {
            assert!(!stored.contains(secret) && !format!("{log:?}").contains(secret), "{secret} is not kept");
        }
    }
}
