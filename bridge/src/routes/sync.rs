//! The hub's feed for paired devices: `GET /v1/sync/key` (the public key a device pins when it pairs) and
//! `GET /v1/sync/indicators?cursor=…` (signed pages of changes). Devices authenticate with
//! `Authorization: Bearer <token>` from `redflag-bridge devices add`; tokens are stored as SHA-256 hashes.
//!
//! Nothing a device sends says what its person checked: the cursor and the token are all.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use redflag::sync::feed::{Cursor, HubKey, IndicatorPage, PAGE_SIZE, SIGNATURE_HEADER};
use serde::Deserialize;

use super::AppError;
use crate::app::AppState;
use crate::tasks::{blocking, now_ms};

/// A paired device, once its token checked out.
#[derive(Debug)]
pub struct PairedDevice(pub String);

impl FromRequestParts<AppState> for PairedDevice {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = super::bearer(&parts.headers).ok_or(AppError::Unauthorized(
            "send Authorization: Bearer <token> (the operator creates one with redflag-bridge devices add)",
        ))?;
        let hash = redflag::hash::sha256_hex(token);
        let hub = Arc::clone(&state.hub().store);
        let name = blocking(move || hub.device(&hash, now_ms()))
            .await
            .map_err(AppError::Unavailable)?
            .map_err(|e| AppError::Unavailable(e.into()))?;
        name.map(PairedDevice).ok_or(AppError::Unauthorized("unknown or revoked device token; pair again"))
    }
}

pub async fn key(State(state): State<AppState>, PairedDevice(_): PairedDevice) -> Json<HubKey> {
    Json(state.hub().signer.public().clone())
}

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    cursor: Option<String>,
}

pub async fn indicators(
    State(state): State<AppState>,
    PairedDevice(_): PairedDevice,
    Query(query): Query<FeedQuery>,
) -> Result<Response, AppError> {
    let hub = state.hub();
    let fingerprint = hub.signer.public().fingerprint.clone();
    let start = Cursor::start(&fingerprint).to_string();
    let raw = query.cursor.unwrap_or(start);
    let cursor =
        Cursor::parse(&raw).ok_or_else(|| AppError::BadRequest("the cursor is malformed; pair again".into()))?;
    if cursor.hub != fingerprint {
        return Err(AppError::BadRequest("this cursor is from another hub; pair with this one again".into()));
    }
    let after = cursor.seq;
    let store = Arc::clone(&hub.store);
    let changes = blocking(move || store.changes(after, PAGE_SIZE))
        .await
        .map_err(AppError::Unavailable)?
        .map_err(|e| AppError::Unavailable(e.into()))?;
    let page = IndicatorPage {
        hub: fingerprint.clone(),
        cursor: raw,
        next: Cursor { hub: &fingerprint, seq: changes.last }.to_string(),
        more: changes.more,
        adds: changes.adds,
        removes: changes.removes,
    };
    let body = serde_json::to_vec(&page).map_err(|e| AppError::Unavailable(e.into()))?;
    let signature = hub.signer.sign(&body);
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let value = HeaderValue::from_str(&signature).map_err(|e| AppError::Unavailable(e.into()))?;
    response.headers_mut().insert(SIGNATURE_HEADER, value);
    Ok(response)
}
