//! The audit log: every operator action and every erasure, in an append-only table that retention and erasure do
//! not touch (`bridge_audit`; the database itself refuses an UPDATE or DELETE on it, by trigger, so a bug or a
//! hurried `sqlite3` session cannot rewrite it either).
//!
//! An entry names who acted (`cli:USER` for the command line, `sender` for a person's own "delete my data"), what
//! they did (`key.create`, `user.erase`...) and on what. A person is named by their pseudonym, never their address:
//! the log outlives the erasure it records.

use serde::Serialize;

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
