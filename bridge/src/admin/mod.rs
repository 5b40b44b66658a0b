//! The operator console's accounts as one use case: who may log in, with which role, and the rules that keep
//! guessing out. The command line (`redflag-bridge admins ...`) and the console's login call these functions, so
//! both record the same audit entries.
//!
//! **Passwords are made by the bridge, never chosen**: 144 random bits, shown once. A secret that long cannot be
//! guessed offline from its hash, so it is stored as SHA-256, like API keys and device tokens, and a slow password
//! hash (argon2) would only cost every login time; online guessing meets the lockout (five failures in a row lock
//! the account for 15 minutes, and every further failure locks it again). Sessions are random tokens held in an
//! HttpOnly cookie and stored as their hash; each has its own CSRF token, which every state-changing request echoes
//! in a header.
//!
//! Roles: a **viewer** sees the overview, the review list (no message text), API key names and the audit log; an
//! **operator** also reads messages, settles them, exports and erases a sender's data and manages API keys.

pub mod overview;

use base64::Engine as _;

use crate::audit::AuditEntry;
use crate::queue::{AdminSession, BridgeStore, QueueError};

/// Failed logins in a row that lock an account.
pub const LOCK_AFTER: u32 = 5;
/// How long a locked account refuses logins.
pub const LOCK_FOR_MS: i64 = 15 * 60 * 1000;
/// A session's lifetime: a working day, then log in again.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "{0:?} is not an admin name: use 1 to 64 letters, digits, '.', '_', '-' or '@' (for example alice or \
         ops@example.org)"
    )]
    BadName(String),
    #[error("there is already an admin named {0:?}; `redflag-bridge admins reset {0}` gives it a new password")]
    Exists(String),
    #[error("no admin named {0:?}; see `redflag-bridge admins list`")]
    Unknown(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] QueueError),
}

/// The audit log's name for a console user.
pub fn actor(admin: &str) -> String {
    format!("admin:{admin}")
}

fn check_name(name: &str) -> Result<(), AdminError> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok { Ok(()) } else { Err(AdminError::BadName(name.to_string())) }
}

/// `bytes` random bytes as URL-safe base64: passwords (18 bytes, 24 characters), session and CSRF tokens (32).
fn random(bytes: usize) -> Result<String, AdminError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AdminError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

fn hash(secret: &str) -> String {
    redflag::hash::sha256_hex(secret)
}

/// Create an account and return its password, which is not kept.
pub fn create(store: &dyn BridgeStore, actor: &str, name: &str, role: Role, now_ms: i64) -> Result<String, AdminError> {
    check_name(name)?;
    let password = random(18)?;
    if !store.add_admin(name, role.as_str(), &hash(&password), now_ms)? {
        return Err(AdminError::Exists(name.to_string()));
    }
    store.audit(now_ms, &AuditEntry::new(actor, "admin.create").target(name).detail(role.as_str()))?;
    Ok(password)
}

/// A new password for an account (forgotten, or after a lockout): its sessions end.
pub fn reset(store: &dyn BridgeStore, actor: &str, name: &str, now_ms: i64) -> Result<String, AdminError> {
    let password = random(18)?;
    if !store.reset_admin(name, &hash(&password))? {
        return Err(AdminError::Unknown(name.to_string()));
    }
    store.audit(now_ms, &AuditEntry::new(actor, "admin.reset").target(name))?;
    Ok(password)
}

pub fn remove(store: &dyn BridgeStore, actor: &str, name: &str, now_ms: i64) -> Result<(), AdminError> {
    if !store.remove_admin(name)? {
        return Err(AdminError::Unknown(name.to_string()));
    }
    store.audit(now_ms, &AuditEntry::new(actor, "admin.remove").target(name))?;
    Ok(())
}

/// What a login attempt got.
#[derive(Debug)]
pub enum Login {
    /// The cookie's token (kept by the browser only) and the session.
    In { token: String, session: AdminSession },
    /// A wrong name or password: the same answer for both, so names cannot be probed.
    Refused,
    /// Too many failures; refused, even with the right password, until then (Unix ms).
    Locked { until_ms: i64 },
}

/// Check a name and password. Logins, failures against an account and locks are audited.
pub fn login(store: &dyn BridgeStore, name: &str, password: &str, now_ms: i64) -> Result<Login, AdminError> {
    // What is audited is bounded by the accounts, not by the attempts: the audit log is append-only and never
    // purged, so a flood of logins must not grow it. Unknown names are only logged (without the name: a password
    // typed in the wrong field stays out of the log); a locked account's refusals are not recorded one by one (the
    // lock is), and an account's failures lock it after a few.
    let account = if check_name(name).is_ok() { store.admin(name)? } else { None };
    let Some(account) = account else {
        tracing::info!("console login refused: unknown name");
        return Ok(Login::Refused);
    };
    if let Some(until_ms) = account.locked_until_ms.filter(|&until| until > now_ms) {
        tracing::info!(admin = %account.name, "console login refused: the account is locked");
        return Ok(Login::Locked { until_ms });
    }
    if !same(&hash(password), &account.secret_hash) {
        let failures = store.login_failed(name, LOCK_AFTER, now_ms + LOCK_FOR_MS)?;
        store.audit(
            now_ms,
            &AuditEntry::new(actor(name), "admin.login_failed").detail(format!("{failures} in a row")),
        )?;
        if failures >= LOCK_AFTER {
            store.audit(now_ms, &AuditEntry::new(actor(name), "admin.locked").detail("15 minutes"))?;
        }
        return Ok(Login::Refused);
    }
    store.login_succeeded(name)?;
    let (token, csrf) = (random(32)?, random(32)?);
    let expires_at_ms = now_ms + SESSION_MS;
    store.open_session(&hash(&token), name, &csrf, now_ms, expires_at_ms)?;
    store.audit(now_ms, &AuditEntry::new(actor(name), "admin.login"))?;
    let session = AdminSession { admin: account.name, role: account.role, csrf, expires_at_ms };
    Ok(Login::In { token, session })
}

/// The live session a cookie's token stands for.
pub fn session(store: &dyn BridgeStore, token: &str, now_ms: i64) -> Result<Option<AdminSession>, QueueError> {
    store.session(&hash(token), now_ms)
}

pub fn logout(store: &dyn BridgeStore, token: &str, admin: &str, now_ms: i64) -> Result<(), QueueError> {
    store.close_session(&hash(token))?;
    store.audit(now_ms, &AuditEntry::new(actor(admin), "admin.logout"))
}

/// Constant-time comparison of two hex digests or tokens.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Audit, SqliteQueue};

    #[test]
    fn five_failures_lock_even_the_right_password_and_a_reset_opens_it() {
        let q = SqliteQueue::open_in_memory().expect("store");
        let password = create(&q, "cli:ops", "alice", Role::Operator, 0).expect("created");
        assert_eq!(password.len(), 24);
        assert!(matches!(create(&q, "cli:ops", "alice", Role::Viewer, 0), Err(AdminError::Exists(_))));
        assert!(matches!(create(&q, "cli:ops", "al ice", Role::Viewer, 0), Err(AdminError::BadName(_))));

        let Login::In { token, session: s } = login(&q, "alice", &password, 1_000).expect("login") else {
            panic!("the right password logs in")
        };
        assert_eq!((s.admin.as_str(), s.role.as_str()), ("alice", "operator"));
        assert_eq!(session(&q, &token, 2_000).expect("session").expect("live").csrf, s.csrf);
        assert!(session(&q, &token, 1_000 + SESSION_MS).expect("session").is_none(), "expired");
        assert!(session(&q, "forged", 2_000).expect("session").is_none());

        for _ in 0..LOCK_AFTER {
            assert!(matches!(login(&q, "alice", "guess", 3_000).expect("login"), Login::Refused));
        }
        let locked = login(&q, "alice", &password, 4_000).expect("login");
        assert!(matches!(locked, Login::Locked { until_ms } if until_ms == 3_000 + LOCK_FOR_MS), "{locked:?}");
        assert!(matches!(login(&q, "bob", "guess", 4_000).expect("login"), Login::Refused), "unknown name");
        // A flood against a locked account or unknown names adds nothing to the append-only log.
        let logged = q.audit_log(1000).expect("audit").len();
        for _ in 0..50 {
            login(&q, "alice", "guess", 4_500).expect("login");
            login(&q, "nobody", "guess", 4_500).expect("login");
        }
        assert_eq!(q.audit_log(1000).expect("audit").len(), logged, "no entry per refused attempt");

        let fresh = reset(&q, "cli:ops", "alice", 5_000).expect("reset");
        assert!(session(&q, &token, 5_000).expect("session").is_none(), "a reset ends sessions");
        assert!(matches!(login(&q, "alice", &password, 6_000).expect("login"), Login::Refused), "old password");
        assert!(matches!(login(&q, "alice", &fresh, 6_000).expect("login"), Login::In { .. }));

        let actions: Vec<String> = q.audit_log(100).expect("audit").into_iter().map(|e| e.action).collect();
        for action in ["admin.create", "admin.login", "admin.login_failed", "admin.locked", "admin.reset"] {
            assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
        }
        assert!(!format!("{:?}", q.audit_log(100).expect("audit")).contains(&password), "no secret in the log");
    }
}
