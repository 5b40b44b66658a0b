//! "Ask AI": first show exactly what would be sent and what it may cost ([`ai_preview`]), then ask
//! ([`ai_ask`]) with progress events and a cancel ([`ai_cancel`]). The core's escalator does the redaction,
//! caching, budgets and merging; this module only drives it for one check at a time.

use std::sync::Arc;

use redflag::check::CheckFor;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime, State};

use super::blocking;
use crate::error::{Error, Result};
use crate::state::{Ai, Check, Desktop};

/// What would leave the machine for one check.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The exact text that is sent, personal details replaced.
    pub redacted: String,
    pub redactions: usize,
    /// At most this, in US dollars (0 for a local server).
    pub estimate_usd: f64,
    pub model: String,
    pub endpoint: String,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Progress {
    check_id: u64,
    /// `sending` or `merging`.
    stage: &'static str,
}

#[tauri::command]
pub async fn ai_preview(state: State<'_, Desktop>, check_id: u64) -> Result<Preview> {
    let loaded = state.loaded();
    let escalator = loaded.checker.escalator().map_err(|why| Error::Llm(why.to_string()))?;
    let (analysis, _) = state.recent(check_id)?;
    let out = escalator.outbound(&analysis);
    state.previewed(check_id, loaded.config.llm_fingerprint());
    Ok(Preview {
        redactions: out.redacted.pieces.len(),
        redacted: out.redacted.text,
        estimate_usd: out.estimate_usd,
        model: loaded.config.llm.model.clone(),
        endpoint: loaded.config.llm.base_url.clone(),
        truncated: out.truncated,
    })
}

/// Ask the LLM about check `check_id` and return the merged verdict. A failure is not an error: the core keeps the
/// local verdict and says why in `analysis.escalation.outcome`.
#[tauri::command]
pub async fn ai_ask<R: Runtime>(app: AppHandle<R>, state: State<'_, Desktop>, check_id: u64) -> Result<Check> {
    let loaded = state.loaded();
    let checker = Arc::clone(&loaded.checker);
    checker.escalator().map_err(|why| Error::Llm(why.to_string()))?;
    let (mut analysis, old_history) = state.recent(check_id)?;
    let cancel = state.start_ask(check_id, &loaded.config.llm_fingerprint())?;
    progress(&app, check_id, "sending");
    let asked = tokio::select! {
        _ = checker.escalate(&mut analysis, None) => true,
        () = cancel.notified() => false,
    };
    if !asked {
        state.finish_ask(check_id, None);
        return Err(Error::Cancelled);
    }
    progress(&app, check_id, "merging");
    // A second opinion costs money, so it is always saved, in place of the local verdict if that was saved.
    let history_id = {
        let stored = analysis.clone();
        let who = CheckFor { channel: "desktop", user: None };
        blocking(move || Ok(checker.record_again(&stored, who, old_history))).await.unwrap_or_else(|e| {
            tracing::warn!("the second opinion was not saved in the history: {e}");
            old_history
        })
    };
    state.finish_ask(check_id, Some((analysis.clone(), history_id)));
    let reason = analysis.escalation.outcome.clone().unwrap_or_default();
    Ok(Check { check_id: Some(check_id), analysis, ai: Ai { state: "done", reason, auto: false }, image: None })
}

/// Stop asking about `check_id`; the pending [`ai_ask`] then fails with `cancelled`. Returns whether one ran.
#[tauri::command]
pub fn ai_cancel(state: State<'_, Desktop>, check_id: u64) -> bool {
    state.cancel_ask(check_id)
}

fn progress<R: Runtime>(app: &AppHandle<R>, check_id: u64, stage: &'static str) {
    if let Err(e) = app.emit("ai-progress", Progress { check_id, stage }) {
        tracing::debug!("progress event not delivered: {e}");
    }
}
