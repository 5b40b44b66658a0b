//! The operator console's accounts and sessions, as stored ([`crate::admin`] holds the rules: roles, lockout,
//! how secrets are made). Only hashes of passwords and session tokens are kept, so a copy of the database logs
//! nobody in.

use std::fmt;

use serde::Serialize;

use super::QueueError;

/// One console account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAccount {
    pub name: String,
    /// `viewer` or `operator` ([`crate::admin::Role`]).
    pub role: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// Failed logins since the last good one.
    pub failed_logins: u32,
    /// Unix ms until which logins are refused, after too many failures.
    pub locked_until_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// A logged-in console session, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub admin: String,
    pub role: String,
    /// The token every state-changing request must echo in `X-CSRF-Token`.
    pub csrf: String,
    pub expires_at_ms: i64,
}

/// Console accounts and their sessions.
pub trait Admins: Send + Sync + fmt::Debug {
    /// Add an account; false if the name is taken.
    fn add_admin(&self, name: &str, role: &str, secret_hash: &str, now_ms: i64) -> Result<bool, QueueError>;
    /// Give an account a new password: its failures and lock are cleared and its sessions ended. False if there
    /// is no such account.
    fn reset_admin(&self, name: &str, secret_hash: &str) -> Result<bool, QueueError>;
    /// Remove an account and end its sessions; false if there was none.
    fn remove_admin(&self, name: &str) -> Result<bool, QueueError>;
    fn admins(&self) -> Result<Vec<AdminAccount>, QueueError>;
    fn admin(&self, name: &str) -> Result<Option<AdminAccount>, QueueError>;
    /// Count a failed login; at `lock_after` failures in a row the account is locked until `lock_until_ms` (and
    /// again at every further failure). Returns the failures so far; 0 if there is no such account.
    fn login_failed(&self, name: &str, lock_after: u32, lock_until_ms: i64) -> Result<u32, QueueError>;
    /// A good login: the failure count starts over.
    fn login_succeeded(&self, name: &str) -> Result<(), QueueError>;
    /// Record a new session (and forget expired ones).
    fn open_session(
        &self,
        token_hash: &str,
        admin: &str,
        csrf: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), QueueError>;
    /// The live session with this token hash, with its account's current role.
    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<AdminSession>, QueueError>;
    fn close_session(&self, token_hash: &str) -> Result<(), QueueError>;
}
