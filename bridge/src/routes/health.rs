//! Liveness (`/healthz`: the process answers), readiness (`/readyz`: the database takes a write and the model is
//! loaded, so a load balancer only sends traffic that can be queued) and Prometheus metrics.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
