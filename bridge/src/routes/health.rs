//! Liveness (`/healthz`: the process answers), readiness (`/readyz`: the database takes a write and the model is
//! loaded, so a load balancer only sends traffic that can be queued) and Prometheus metrics (behind a bearer
//! token when `REDFLAG_METRICS_TOKEN` is set).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::app::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = crate::worker::database_ready(Arc::clone(state.store())).await;
    let model = state.shared.engine.threads() > 0;
    let status = if database && model { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "database": if database { "ok" } else { "unavailable" },
        "model": if model { "loaded" } else { "missing" },
        "escalation": state.shared.engine.escalates(),
        // Not a readiness failure: webhooks are still queued, and the replies wait (see `crate::pause`).
        "sending_paused": state.shared.pauses.refusing(),
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.settings.metrics_token {
        let given = super::bearer(&headers).unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
            let refusal = "metrics need Authorization: Bearer <REDFLAG_METRICS_TOKEN>\n";
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], refusal).into_response();
        }
    }
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
