//! The review list in the console: the list without text, one message read (audited), requeue or resolve, and a
//! reply written by hand; all through [`crate::review`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{Need, authorize, db};
use crate::admin;
use crate::app::AppState;
use crate::queue::{JobSummary, Settle, State as JobState};
use crate::routes::AppError;
use crate::tasks::{blocking, now_ms};

#[derive(Debug, Deserialize)]
pub struct ReviewQuery {
    state: Option<String>,
}

/// `GET /admin/api/review?state=review|failed`: the list, without the messages' text.
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<Vec<JobSummary>>, AppError> {
    authorize(&state, &headers, Need::View).await?;
    let wanted = match q.state.as_deref().unwrap_or("review") {
        "review" => JobState::Review,
        "failed" => JobState::Failed,
        _ => return Err(AppError::BadRequest("state is review or failed".into())),
    };
    let store = Arc::clone(state.store());
    Ok(Json(db(move || store.jobs(Some(wanted), 500)).await?))
}

#[derive(Debug, Serialize)]
pub struct JobView {
    id: i64,
    channel: &'static str,
    state: &'static str,
    attempts: u32,
    received_at_ms: i64,
    reason: Option<String>,
    reply_to: Option<String>,
    text: String,
    reply: Option<Vec<String>>,
    sent_parts: usize,
    events: Vec<&'static str>,
}

/// `GET /admin/api/jobs/{id}`: one message for the person reviewing it (audited as `job.show`).
pub async fn job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<JobView>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Personal).await?;
    let store = Arc::clone(state.store());
    let item = db(move || crate::review::show(&*store, &admin::actor(&session.admin), id, now_ms()))
        .await?
        .ok_or(AppError::NotFound("no such message; it may have been resolved or purged"))?;
    let job = item.job;
    Ok(Json(JobView {
        id,
        channel: job.channel.as_str(),
        state: job.state.as_str(),
        attempts: job.attempts,
        received_at_ms: job.received_at_ms,
        reason: item.reason,
        reply_to: job.reply_to,
        text: job.body,
        reply: job.reply.map(|r| r.parts),
        sent_parts: job.sent_parts,
        events: item.events.iter().map(|s| s.as_str()).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct SettleForm {
    /// `requeue` or `resolve`.
    action: String,
    ids: Vec<i64>,
    note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SettledView {
    moved: Vec<(i64, &'static str)>,
    skipped: Vec<i64>,
}

/// `POST /admin/api/jobs/settle` with `{"action": "requeue"|"resolve", "ids": [...], "note"}`.
pub async fn settle(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<SettleForm>,
) -> Result<Json<SettledView>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let how = match f.action.as_str() {
        "requeue" => Settle::Requeue,
        "resolve" => Settle::Resolve,
        _ => return Err(AppError::BadRequest("action is requeue or resolve".into())),
    };
    if f.ids.is_empty() || f.ids.len() > 500 {
        return Err(AppError::BadRequest("give between 1 and 500 message ids".into()));
    }
    let store = Arc::clone(state.store());
    let actor = admin::actor(&session.admin);
    let settled = db(move || crate::review::settle(&*store, &actor, &f.ids, how, f.note.as_deref(), now_ms())).await?;
    if settled.moved.iter().any(|(_, s)| *s == JobState::Received || *s == JobState::Replying) {
        state.shared.wake.notify_one();
    }
    Ok(Json(SettledView {
        moved: settled.moved.into_iter().map(|(id, s)| (id, s.as_str())).collect(),
        skipped: settled.skipped,
    }))
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    id: i64,
    text: String,
}

/// `POST /admin/api/jobs/reply` with `{"id", "text"}`: answer a message in review by hand.
pub async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<ReplyForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let store = Arc::clone(state.store());
    let (actor, id) = (admin::actor(&session.admin), f.id);
    let sent = blocking(move || crate::review::reply(&*store, &actor, id, &f.text, now_ms()))
        .await
        .map_err(AppError::Unavailable)?;
    match sent {
        Ok(parts) => {
            state.shared.wake.notify_one();
            Ok(Json(serde_json::json!({ "id": id, "parts": parts })))
        }
        Err(crate::review::ReplyError::Store(e)) => Err(AppError::Unavailable(e.into())),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}
