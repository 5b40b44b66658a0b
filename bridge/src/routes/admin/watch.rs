//! What an operator watches: the overview ([`crate::admin::overview`]) and the audit log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::{Need, authorize, db};
use crate::admin;
use crate::app::AppState;
use crate::audit::AuditRecord;
use crate::queue::BridgeStore;
use crate::routes::AppError;
use crate::tasks::now_ms;

/// `GET /admin/api/overview`.
pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<admin::overview::Overview>, AppError> {
    authorize(&state, &headers, Need::View).await?;
    let metrics = state.metrics.as_ref().map(|h| h.render());
    let budget = &state.settings.core.budget;
    let caps = (budget.daily_usd, budget.monthly_usd);
    let shared = Arc::clone(&state.shared);
    let overview = db(move || -> anyhow::Result<_> {
        let now = now_ms();
        let spent = shared.core_store.spent(None, now / 1000)?;
        Ok(admin::overview::gather(&*shared.store, spent, caps, metrics.as_deref(), now)?)
    })
    .await?;
    Ok(Json(overview))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /admin/api/audit?limit=N`: the newest entries (200 by default, at most 10,000), for the page and its
/// JSON download.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, AppError> {
    authorize(&state, &headers, Need::View).await?;
    let limit = q.limit.unwrap_or(200).clamp(1, 10_000);
    let store: Arc<dyn BridgeStore> = Arc::clone(state.store());
    Ok(Json(db(move || store.audit_log(limit)).await?))
}
