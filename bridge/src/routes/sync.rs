//! The hub's feed for paired devices: `GET /v1/sync/key` (the public key a device pins when it pairs) and
//! `GET /v1/sync/indicators?cursor=…` (signed pages of changes) and `GET /v1/sync/bundle?have=VERSION` (the rules
//! file the operator published, signed; `204` when the device has that version already). Devices authenticate with
//! `Authorization: Bearer <token>` from `redflag-bridge devices add`; tokens are stored as SHA-256 hashes.
//!
//! Reading the feed, a device sends nothing about what its person checked: the cursor and the token are all.
//! `POST /v1/sync/reports` is the exception the person chooses: a report on one check ("scam" / "legit") with its
//! redacted text and the digests of its values, kept once per device and report id (a resent report is a `200`
//! saying `duplicate`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use redflag::sync::feed::{Bundle, Cursor, HubKey, IndicatorPage, PAGE_SIZE, SIGNATURE_HEADER};
use redflag::sync::report::Report;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::app::AppState;
use crate::hub::{Hub, HubError};
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
        let name = on_hub(state, move |hub| hub.device(&hash, now_ms())).await?;
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
    let (last, changes) = on_hub(&state, move |hub| Ok((hub.last_change()?, hub.changes(after, PAGE_SIZE)?))).await?;
    // A device further along than the hub has ever been: the hub's database was restored from a backup, and the
    // changes made since would be skipped. Pairing again reads the feed from the start.
    if after > last {
        return Err(AppError::BadRequest(
            "this hub's feed is behind this device's place (the hub was restored from a backup): pair again".into(),
        ));
    }
    let page = IndicatorPage {
        hub: fingerprint.clone(),
        cursor: raw,
        next: Cursor { hub: &fingerprint, seq: changes.last }.to_string(),
        more: changes.more,
        adds: changes.adds,
        removes: changes.removes,
    };
    signed(hub, &page)
}

#[derive(Debug, Deserialize)]
pub struct BundleQuery {
    have: Option<String>,
}

pub async fn bundle(
    State(state): State<AppState>,
    PairedDevice(_): PairedDevice,
    Query(query): Query<BundleQuery>,
) -> Result<Response, AppError> {
    let published = on_hub(&state, |hub| hub.bundle()).await?;
    let hub = state.hub();
    let Some((version, rules)) = published else {
        return Err(AppError::NotFound("this hub publishes no rules bundle"));
    };
    if query.have.as_deref() == Some(version.as_str()) {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    signed(hub, &Bundle { hub: hub.signer.public().fingerprint.clone(), version, rules })
}

/// What the hub answers a report.
#[derive(Debug, Serialize)]
pub struct ReportAnswer {
    pub id: String,
    /// This device had sent this report already; it was not counted again.
    pub duplicate: bool,
}

pub async fn report(
    State(state): State<AppState>,
    PairedDevice(device): PairedDevice,
    body: Result<Json<Report>, JsonRejection>,
) -> Result<Json<ReportAnswer>, AppError> {
    let Json(report) = body.map_err(|e| {
        AppError::BadRequest(format!("send a report as JSON (Content-Type: application/json): {}", e.body_text()))
    })?;
    if let Some(problem) = report.problem() {
        return Err(AppError::BadRequest(problem));
    }
    // A device is one person: the same bucket as a sender's messages keeps a runaway client from filling the
    // review list.
    if !state.allow(&format!("device:{device}")) {
        return Err(AppError::TooManyRequests);
    }
    let threshold = state.settings.hub.report_threshold;
    let id = report.id.clone();
    let taken = on_hub(&state, move |hub| hub.add_report(&device, &report, threshold, now_ms() / 1000)).await?;
    metrics::counter!(crate::metrics::REPORTS, "outcome" => if taken.duplicate { "duplicate" } else { "new" })
        .increment(1);
    Ok(Json(ReportAnswer { id, duplicate: taken.duplicate }))
}

/// Run `f` on the hub's store on the blocking pool; a failure is ours (503), never the device's.
async fn on_hub<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Hub) -> Result<T, HubError> + Send + 'static,
) -> Result<T, AppError> {
    let hub = Arc::clone(&state.hub().store);
    blocking(move || f(&*hub)).await.map_err(AppError::Unavailable)?.map_err(|e| AppError::Unavailable(e.into()))
}

/// `value` as JSON with its signature in [`SIGNATURE_HEADER`].
fn signed(hub: &crate::hub::HubState, value: &impl serde::Serialize) -> Result<Response, AppError> {
    let body = serde_json::to_vec(value).map_err(|e| AppError::Unavailable(e.into()))?;
    let signature = hub.signer.sign(&body);
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let value = HeaderValue::from_str(&signature).map_err(|e| AppError::Unavailable(e.into()))?;
    response.headers_mut().insert(SIGNATURE_HEADER, value);
    Ok(response)
}
