//! "Connect to a Redflag hub" (Settings): pair with a hub using the token its operator gave, sync now, and the
//! status line; and "Report" on a verdict ([`report_check`]). The core's sync client does the work
//! ([`redflag::sync::client`], [`redflag::sync::report`]); after each sync the analyser takes the new indicators
//! at once, so the next check matches them. The app also syncs at start and every few hours while it runs
//! ([`background`]), which also sends the reports made while the hub was out of reach; without a pairing none of
//! this touches the network.

use std::time::Duration;

use redflag::store::Store;
use redflag::sync::client::{self, SyncError};
use redflag::sync::report::{self, ReportError, ReportLabel};
use serde::Serialize;
use tauri::{Manager, Runtime, State};

use crate::error::{Error, Result};
use crate::paired::Paired;
use crate::state::Desktop;

/// How often a running app syncs with its hub.
const EVERY: Duration = Duration::from_secs(4 * 3600);

/// What the settings page shows about sync.
#[derive(Debug, Serialize)]
pub struct SyncStatus {
    pub paired: bool,
    pub hub: Option<String>,
    /// The hub's key fingerprint, for the person to compare with the operator's.
    pub fingerprint: Option<String>,
    /// Unix seconds of the last complete sync.
    pub last_sync: Option<i64>,
    pub indicators: usize,
    /// The version of the rules the hub published, when this machine took them (the CLI's `check` uses them; the
    /// app keeps its built-in rules for now).
    pub rules: Option<String>,
    /// Reports made while the hub was out of reach, waiting for the next sync.
    pub reports_waiting: usize,
}

/// What became of a report.
#[derive(Debug, Serialize)]
pub struct Reported {
    pub label: ReportLabel,
    /// The hub has it; otherwise it waits for the next sync.
    pub sent: bool,
    /// One sentence for the page.
    pub message: String,
}

/// Report a check as a scam or not: the one shown (`check_id`) or one opened from the history (`history_id`).
/// The report is kept first, then sent; a hub out of reach gets it at the next sync.
#[tauri::command]
pub async fn report_check(
    state: State<'_, Desktop>,
    check_id: Option<u64>,
    history_id: Option<i64>,
    label: String,
) -> Result<Reported> {
    let label: ReportLabel = label.parse().map_err(Error::Input)?;
    let history_id = match (history_id, check_id) {
        (Some(id), _) => Some(id),
        (None, Some(check)) => state.recent(check)?.1,
        (None, None) => None,
    };
    let Some(history_id) = history_id else {
        return Err(Error::Input(
            "This check is not in your history, so there is nothing to report: turn the history on in Settings and \
             check the text again."
                .into(),
        ));
    };
    let store = state.store()?;
    report::queue(&*store, history_id, label, redflag::time::unix_now()).map_err(|e| match e {
        ReportError::NotPaired => {
            Error::Hub("Connect to a Redflag hub in Settings first: reports go to the people who run it.".into())
        }
        ReportError::NoSuchCheck(_) => Error::Input("This check is no longer in your history.".into()),
        ReportError::Store(e) => Error::from(e),
    })?;
    let http = client::http_client().map_err(hub_error)?;
    let token = state.secrets.hub_token();
    let (sent, message) = match client::push_reports(&http, &Paired { store: &*store, token: &token }).await {
        Ok(pushed) if pushed.reports_refused > 0 => {
            return Err(Error::Hub("The hub refused the report as malformed, so it was not kept.".into()));
        }
        Ok(pushed) if pushed.reports_waiting == 0 => (true, "Thank you: the report was sent.".to_string()),
        Ok(_) => (false, "Saved: the report goes with the next sync.".to_string()),
        Err(e) if e.is_unreachable() => {
            (false, "Saved: the hub could not be reached, so the report goes with the next sync.".to_string())
        }
        Err(e) => return Err(hub_error(e)),
    };
    Ok(Reported { label, sent, message })
}

#[tauri::command]
pub async fn sync_status(state: State<'_, Desktop>) -> Result<SyncStatus> {
    status(&*state.store()?)
}

#[tauri::command]
pub async fn sync_pair(state: State<'_, Desktop>, url: String, token: String) -> Result<SyncStatus> {
    let token = token.trim();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(Error::Input("paste the pairing token alone, without spaces".into()));
    }
    let store = state.store()?;
    let http = client::http_client().map_err(hub_error)?;
    // The page shows the fingerprint after pairing for the person to compare; there is no field to type one in.
    // The token goes to the keyring (or the private file), not the database.
    let keeper = state.secrets.hub_token();
    client::pair(&http, &Paired { store: &*store, token: &keeper }, &url, token, None).await.map_err(hub_error)?;
    sync(&state, &*store, &http).await
}

#[tauri::command]
pub async fn sync_now(state: State<'_, Desktop>) -> Result<SyncStatus> {
    let store = state.store()?;
    let http = client::http_client().map_err(hub_error)?;
    sync(&state, &*store, &http).await
}

/// Sync at start and every [`EVERY`] while the app runs, when it is paired. Failures are logged, never shown: the
/// status line on the settings page says when the last sync was.
pub fn background<R: Runtime>(app: &tauri::AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let state = app.state::<Desktop>();
            if let Ok(store) = state.store()
                && store.hub_link().is_ok_and(|l| l.is_some())
                && let Ok(http) = client::http_client()
                && let Err(e) = sync(&state, &*store, &http).await
            {
                tracing::info!("sync with the hub did not complete: {e}");
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}

/// Send waiting reports and pull, then let the analyser match what was pulled.
async fn sync(state: &Desktop, store: &dyn Store, http: &reqwest::Client) -> Result<SyncStatus> {
    // The client's store writes are one short transaction per page; they run on this async task.
    let token = state.secrets.hub_token();
    let result = client::sync(http, &Paired { store, token: &token }).await;
    // Even a refused or interrupted sync may have applied whole pages before it stopped.
    redflag::check::load_synced_indicators(&state.analyzer, store);
    result.map_err(hub_error)?;
    status(store)
}

fn status(store: &dyn Store) -> Result<SyncStatus> {
    let link = store.hub_link()?;
    Ok(SyncStatus {
        paired: link.is_some(),
        fingerprint: link.as_ref().map(|l| l.key.fingerprint.clone()),
        last_sync: link.as_ref().and_then(|l| l.last_sync),
        hub: link.map(|l| l.url),
        indicators: store.indicator_count()?,
        rules: store.synced_rules()?.map(|(v, _)| v),
        reports_waiting: store.reports_waiting()?,
    })
}

fn hub_error(e: SyncError) -> Error {
    match e {
        SyncError::Store(e) => Error::from(e),
        // The core words this for the command line.
        SyncError::NotPaired => Error::Hub("Connect to a hub first: enter its address and your pairing token.".into()),
        SyncError::TokenElsewhere => Error::Hub(
            "The pairing token is missing from the system keyring: connect to the hub again with the token you were \
             given."
                .into(),
        ),
        other => Error::Hub(other.to_string()),
    }
}
