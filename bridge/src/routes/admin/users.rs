//! One sender's data in the console: export and erase, through [`crate::privacy`] as the command line does.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{Need, authorize, db};
use crate::admin;
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::routes::AppError;
use crate::tasks::now_ms;

#[derive(Debug, Deserialize)]
pub struct AddressForm {
    address: String,
}

/// `POST /admin/api/users/export` with `{"address"}` (a POST: the number stays out of URLs and histories).
pub async fn user_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<AddressForm>,
) -> Result<Json<Vec<crate::privacy::Export>>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let addresses = crate::privacy::addresses(&f.address).map_err(AppError::BadRequest)?;
    let shared = Arc::clone(&state.shared);
    let exports = db(move || -> anyhow::Result<_> {
        let mut out = Vec::new();
        for address in &addresses {
            let s = &*shared;
            let export = crate::privacy::export(&*s.store, &*s.core_store, &s.pseudonyms, address, now_ms())?;
            let entry = AuditEntry::new(admin::actor(&session.admin), "user.export").target(&export.pseudonym);
            s.store.audit(now_ms(), &entry)?;
            out.push(export);
        }
        Ok(out)
    })
    .await?;
    Ok(Json(exports))
}

#[derive(Debug, Serialize)]
pub struct Erased {
    address: String,
    records: usize,
}

/// `POST /admin/api/users/erase` with `{"address"}`.
pub async fn user_erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<AddressForm>,
) -> Result<Json<Vec<Erased>>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let addresses = crate::privacy::addresses(&f.address).map_err(AppError::BadRequest)?;
    let shared = Arc::clone(&state.shared);
    let erased = db(move || -> anyhow::Result<_> {
        let mut out = Vec::new();
        for address in addresses {
            let s = &*shared;
            let records = crate::privacy::erase(&*s.store, &*s.core_store, &s.pseudonyms, &address, None)?;
            let entry = AuditEntry::new(admin::actor(&session.admin), "user.erase")
                .target(s.pseudonyms.of(&address))
                .detail(format!("{records} records"));
            s.store.audit(now_ms(), &entry)?;
            out.push(Erased { address, records });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(erased))
}
