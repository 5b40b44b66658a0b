//! Escalation switched off per LLM configuration.
//!
//! When the endpoint rejects a configuration for good (HTTP 401, `insufficient_quota`), every further call would
//! fail the same way, so escalation is switched off for that configuration's fingerprint (a hash of endpoint,
//! model and key, computed by the caller) and the reason is shown instead. Changing any part of the configuration
//! changes the fingerprint, which is enabled again by construction; nothing has to be cleared by hand.

use rusqlite::{OptionalExtension, params};

use super::{EscalationState, SqliteStore, StoreError};

impl EscalationState for SqliteStore {
    /// The reason escalation was switched off for this configuration, or `None` when it is on.
    fn llm_disabled(&self, fingerprint: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let reason = conn
            .query_row("SELECT reason FROM llm_disabled WHERE fingerprint = ?1", [fingerprint], |row| row.get(0))
            .optional()?;
        Ok(reason)
    }

    /// Switch escalation off for this configuration; a second call replaces the reason.
    fn disable_llm(&self, fingerprint: &str, reason: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO llm_disabled (fingerprint, reason, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (fingerprint) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at",
                params![fingerprint, reason, now],
            )?;
            Ok(())
        })
    }

    /// Switch escalation back on for this configuration (for example after the user topped up their quota).
    fn enable_llm(&self, fingerprint: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM llm_disabled WHERE fingerprint = ?1", [fingerprint])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabling_is_per_fingerprint_and_reversible() {
        let store = SqliteStore::open_in_memory().expect("in-memory store");
        assert_eq!(store.llm_disabled("cfg-a").expect("query"), None);

        store.disable_llm("cfg-a", "the API key was rejected (401)", 100).expect("disable");
        assert_eq!(store.llm_disabled("cfg-a").expect("query").as_deref(), Some("the API key was rejected (401)"));
        // A changed configuration has another fingerprint and is not disabled.
        assert_eq!(store.llm_disabled("cfg-b").expect("query"), None);

        store.disable_llm("cfg-a", "insufficient_quota", 200).expect("disable again");
        assert_eq!(store.llm_disabled("cfg-a").expect("query").as_deref(), Some("insufficient_quota"));

        store.enable_llm("cfg-a").expect("enable");
        assert_eq!(store.llm_disabled("cfg-a").expect("query"), None);
        // Enabling what was never disabled is not an error.
        store.enable_llm("cfg-b").expect("enable unknown");
    }
}
