//! The history page: list and search, open one, delete one or all, export everything as JSON. The store keeps
//! only redacted text, so what the page shows here is redacted too.

use redflag::store::{HistoryEntry, HistoryQuery, Owner};
use serde::Serialize;
use tauri::State;

use super::blocking;
use crate::error::{Error, Result};
use crate::state::Desktop;

/// One row of the list.
#[derive(Debug, Serialize)]
pub struct HistoryItem {
    pub id: i64,
    pub created_at: i64,
    pub label: redflag::Label,
    pub score: f32,
    pub summary: String,
    /// The redacted text.
    pub text: String,
    /// Flag titles, strongest first.
    pub flags: Vec<String>,
    pub channel: String,
    /// The verdict in the core's words ([`redflag::advice`]), so the page keeps no vocabulary of its own.
    pub verdict: String,
}

impl From<HistoryEntry> for HistoryItem {
    fn from(e: HistoryEntry) -> Self {
        let titles = e.analysis["flags"]
            .as_array()
            .map(|flags| flags.iter().filter_map(|f| f["title"].as_str().map(str::to_string)).collect::<Vec<_>>());
        HistoryItem {
            id: e.id,
            created_at: e.created_at,
            label: e.label,
            score: e.score,
            summary: e.analysis["summary"].as_str().unwrap_or_default().to_string(),
            text: e.redacted_text,
            flags: titles.unwrap_or(e.flags),
            channel: e.channel,
            verdict: e.label.words().to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Exported {
    pub path: String,
    pub count: usize,
}

#[tauri::command]
pub async fn history_list(
    state: State<'_, Desktop>,
    query: Option<String>,
    limit: Option<usize>,
) -> Result<Vec<HistoryItem>> {
    let store = state.store()?;
    let search = query.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
    // The person's own checks: a bridge on the same machine may share the file, and its senders' are not theirs.
    let q = HistoryQuery { search, limit: limit.unwrap_or(200), owner: Owner::Local, ..HistoryQuery::default() };
    blocking(move || Ok(store.history_list(&q)?.into_iter().map(HistoryItem::from).collect())).await
}

/// One stored check, as an analysis whose `text` is the redacted text and whose evidence points into it.
#[tauri::command]
pub async fn history_get(state: State<'_, Desktop>, id: i64) -> Result<serde_json::Value> {
    let store = state.store()?;
    let entry = blocking(move || store.history_get(id, &Owner::Local).map_err(Error::from)).await?;
    let entry = entry.ok_or_else(|| Error::NotFound("that check is no longer in the history".into()))?;
    let advice = serde_json::to_value(entry.advice()).unwrap_or_default();
    let mut analysis = with_redacted_text(entry.analysis, &entry.redacted_text);
    if let Some(fields) = analysis.as_object_mut() {
        fields.insert("advice".into(), advice);
    }
    Ok(analysis)
}

#[tauri::command]
pub async fn history_delete(state: State<'_, Desktop>, id: i64) -> Result<bool> {
    let store = state.store()?;
    let deleted = blocking(move || Ok(store.history_delete(id, &Owner::Local)?)).await?;
    state.forget_saved(Some(id));
    Ok(deleted)
}

#[tauri::command]
pub async fn history_clear(state: State<'_, Desktop>) -> Result<usize> {
    let store = state.store()?;
    let deleted = blocking(move || Ok(store.history_clear(&Owner::Local)?)).await?;
    state.forget_saved(None);
    Ok(deleted)
}

/// Write every check to `redflag-history-<date>.json` in the Downloads folder (or `REDFLAG_EXPORT_DIR`). The app
/// has no file-system permission in the page, so the backend picks the place and says where.
#[tauri::command]
pub async fn history_export(state: State<'_, Desktop>) -> Result<Exported> {
    let store = state.store()?;
    let dir = state
        .paths
        .export_dir
        .clone()
        .or_else(|| directories::UserDirs::new().and_then(|d| d.download_dir().map(|p| p.to_path_buf())))
        .or_else(|| directories::UserDirs::new().map(|d| d.home_dir().to_path_buf()))
        .ok_or_else(|| Error::Config("no Downloads or home folder is known; set REDFLAG_EXPORT_DIR".into()))?;
    blocking(move || {
        let entries = store.history_list(&HistoryQuery { owner: Owner::Local, ..HistoryQuery::default() })?;
        let day = &redflag::time::utc(redflag::time::unix_now())[..10];
        let path = dir.join(format!("redflag-history-{day}.json"));
        let json = serde_json::to_vec_pretty(&entries).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, json))
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok(Exported { path: path.display().to_string(), count: entries.len() })
    })
    .await
}

/// The stored evidence offsets point into the original text, which was never stored. Point each piece of
/// evidence at its (redacted) snippet in the redacted text instead: the occurrence nearest the original offset, so
/// a phrase that appears twice keeps both highlights. Evidence whose snippet is not there is dropped.
fn with_redacted_text(mut analysis: serde_json::Value, text: &str) -> serde_json::Value {
    let repoint = |evidence: &mut serde_json::Value| {
        let Some(e) = evidence.as_object_mut() else { return false };
        let snippet = e.get("snippet").and_then(|s| s.as_str()).unwrap_or_default().to_string();
        let was = e.get("start").and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
        let nearest = text.match_indices(snippet.as_str()).map(|(i, _)| i).min_by_key(|i| i.abs_diff(was));
        match nearest.filter(|_| !snippet.is_empty()) {
            Some(start) => {
                e.insert("start".into(), start.into());
                e.insert("end".into(), (start + snippet.len()).into());
                true
            }
            None => false,
        }
    };
    if let Some(flags) = analysis.get_mut("flags").and_then(|f| f.as_array_mut()) {
        for flag in flags {
            if let Some(list) = flag.get_mut("evidence").and_then(|e| e.as_array_mut()) {
                list.retain_mut(repoint);
            }
        }
    }
    if let Some(reasons) = analysis.pointer_mut("/llm/reasons").and_then(|r| r.as_array_mut()) {
        for reason in reasons.iter_mut().filter_map(|r| r.as_object_mut()) {
            if reason.get_mut("evidence").is_some_and(|e| !repoint(e)) {
                reason.remove("evidence");
            }
        }
    }
    if let Some(a) = analysis.as_object_mut() {
        a.insert("text".into(), text.into());
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_repointed_into_the_redacted_text() {
        let analysis = serde_json::json!({
            "flags": [{"evidence": [
                {"start": 20, "end": 29, "snippet": "pay a fee"},
                {"start": 1, "end": 2, "snippet": "gone"},
                {"start": 50, "end": 59, "snippet": "pay a fee"},
                "not an object"
            ]}],
            "llm": {"reasons": [{"reason": "r", "evidence": {"start": 0, "end": 3, "snippet": "[PHONE]"}}]}
        });
        let out = with_redacted_text(analysis, "Call [PHONE] and pay a fee. Then pay a fee again.");
        assert_eq!(
            out["flags"][0]["evidence"],
            serde_json::json!([
                {"start": 17, "end": 26, "snippet": "pay a fee"},
                {"start": 33, "end": 42, "snippet": "pay a fee"}
            ]),
            "each snippet goes to the occurrence nearest where it was; broken entries are dropped"
        );
        assert_eq!(
            with_redacted_text(serde_json::json!(["not an analysis"]), "x"),
            serde_json::json!(["not an analysis"])
        );
        assert_eq!(out["llm"]["reasons"][0]["evidence"]["start"], 5);
        assert_eq!(out["text"], "Call [PHONE] and pay a fee. Then pay a fee again.");
    }
}
