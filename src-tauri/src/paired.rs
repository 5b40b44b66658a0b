//! The store as the sync client sees it on the desktop: the same, except that the hub's pairing token lives in the
//! secret store (the OS keyring, or a private file), like the API key, instead of the database.
//!
//! Why an adapter here and not a change in the core: the sync client reads the token with the rest of the pairing
//! ([`SyncState::hub_link`]) and the CLI keeps it in its database (a server or a terminal has no unlocked keyring
//! to count on). So `hub_link` fills the token in from the secret store, and `pair_hub` puts it there and stores the
//! pairing without it; everything else passes through. A token already in the database (paired by the CLI on this
//! machine, or by an earlier version of the app) is used as it is.

use redflag::store::{HubLink, StoreError, SyncState};
use redflag::sync::feed::IndicatorPage;
use redflag::sync::indicators::IndicatorSet;
use redflag::sync::report::Queued;
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::SecretStore;

#[derive(Debug)]
pub struct Paired<'a, S: SyncState + ?Sized> {
    pub store: &'a S,
    /// Where the pairing token is kept ([`SecretStore::hub_token`]).
    pub token: &'a SecretStore,
}

impl<S: SyncState + ?Sized> SyncState for Paired<'_, S> {
    fn hub_link(&self) -> Result<Option<HubLink>, StoreError> {
        let Some(mut link) = self.store.hub_link()? else { return Ok(None) };
        if link.token.is_empty() {
            let token = self.token.get().map_err(|e| StoreError::Secret(e.to_string()))?;
            link.token = token.map(|t| t.expose_secret().to_string()).unwrap_or_default();
        }
        Ok(Some(link))
    }

    fn pair_hub(&self, link: &HubLink) -> Result<(), StoreError> {
        self.token.set(&SecretString::from(link.token.clone())).map_err(|e| StoreError::Secret(e.to_string()))?;
        self.store.pair_hub(&HubLink { token: String::new(), ..link.clone() })
    }

    fn apply_page(&self, page: &IndicatorPage, now: i64) -> Result<bool, StoreError> {
        self.store.apply_page(page, now)
    }

    fn indicator_set(&self) -> Result<IndicatorSet, StoreError> {
        self.store.indicator_set()
    }

    fn indicator_count(&self) -> Result<usize, StoreError> {
        self.store.indicator_count()
    }

    fn synced_rules(&self) -> Result<Option<(String, String)>, StoreError> {
        self.store.synced_rules()
    }

    fn set_synced_rules(&self, version: &str, rules: &str) -> Result<(), StoreError> {
        self.store.set_synced_rules(version, rules)
    }

    fn queue_report(&self, queued: &Queued) -> Result<(), StoreError> {
        self.store.queue_report(queued)
    }

    fn pending_reports(&self, limit: usize) -> Result<Vec<Queued>, StoreError> {
        self.store.pending_reports(limit)
    }

    fn report_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.store.report_sent(id, now)
    }

    fn report_on(&self, history_id: i64) -> Result<Option<Queued>, StoreError> {
        self.store.report_on(history_id)
    }

    fn reports_waiting(&self) -> Result<usize, StoreError> {
        self.store.reports_waiting()
    }
}
