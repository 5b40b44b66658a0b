//! `POST /v1/analyze`: JSON in (`{"text": ...}` or posting fields, the CLI's batch format), the full `Analysis`
//! out, synchronously. Callers authenticate with `Authorization: Bearer <key>`; keys are created with
//! `redflag-bridge keys add` and stored as SHA-256 hashes, so the database never holds a usable key. A device
//! paired with the hub (`redflag-bridge devices add`) may call it with its token too: a second opinion for a
//! desktop without an API key of its own, charged to `device:NAME` (its own rate limit and per-user LLM budget).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use redflag::{Analysis, Input};

use super::{AppError, content_type_is};
use crate::app::AppState;
use crate::engine::EngineError;
use crate::metrics as m;
use crate::tasks::blocking;

/// Who is calling, once the bearer credential checked out: the user the rate limit and LLM budget are charged to
/// (`api:NAME` for an API key, `device:NAME` for a paired device).
#[derive(Debug)]
pub struct ApiKey(pub String);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let key = super::bearer(&parts.headers).ok_or(AppError::Unauthorized(
            "send Authorization: Bearer <key> (create one with redflag-bridge keys add)",
        ))?;
        let hash = redflag::hash::sha256_hex(key);
        let (store, hub) = (Arc::clone(state.store()), Arc::clone(&state.hub().store));
        let caller = blocking(move || -> anyhow::Result<Option<String>> {
            if let Some(name) = store.check_key(&hash)? {
                return Ok(Some(format!("api:{name}")));
            }
            Ok(hub.device(&hash, crate::tasks::now_ms())?.map(|name| format!("device:{name}")))
        })
        .await
        .map_err(AppError::Unavailable)?
        .map_err(AppError::Unavailable)?;
        caller.map(ApiKey).ok_or(AppError::Unauthorized("unknown or revoked API key or device token"))
    }
}

pub async fn analyze(
    State(state): State<AppState>,
    ApiKey(user): ApiKey,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Analysis>, AppError> {
    if !state.allow(&user) {
        metrics::counter!(m::WEBHOOKS, "channel" => "api", "outcome" => "rate_limited").increment(1);
        metrics::counter!(m::LIMITED, "kind" => "rate").increment(1);
        return Err(AppError::TooManyRequests);
    }
    if !content_type_is(&headers, "application/json") {
        return Err(AppError::UnsupportedMediaType("send application/json, e.g. {\"text\": \"...\"}"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
    let (input, warnings): (Input, Vec<String>) =
        Input::from_json(value).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut analysis = state.shared.engine.analyze(input, "api", Some(&user), None).await.map_err(|e| match e {
        EngineError::Input(why) => AppError::BadRequest(why),
        EngineError::Stopped | EngineError::Crashed => AppError::Unavailable(e.into()),
    })?;
    analysis.notes.extend(warnings);
    metrics::counter!(m::WEBHOOKS, "channel" => "api", "outcome" => "answered").increment(1);
    Ok(Json(analysis))
}
