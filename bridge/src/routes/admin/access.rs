//! Who may call the bridge: API keys for `/v1/analyze` and the desktops paired with this hub. Secrets are shown
//! once, at creation, and kept as hashes.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::{Need, authorize, db};
use crate::admin;
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::routes::AppError;
use crate::tasks::now_ms;

#[derive(Debug, Serialize)]
pub struct KeyView {
    name: String,
    active: bool,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

/// `GET /admin/api/keys`: API keys by name (never the keys: only their hashes are kept).
pub async fn keys(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<KeyView>>, AppError> {
    authorize(&state, &headers, Need::View).await?;
    let store = Arc::clone(state.store());
    let keys = db(move || store.list_keys()).await?;
    Ok(Json(
        keys.into_iter()
            .map(|(name, created_at_ms, revoked_at_ms)| KeyView {
                name,
                active: revoked_at_ms.is_none(),
                created_at_ms,
                revoked_at_ms,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    name: String,
}

/// `POST /admin/api/keys/create` with `{"name"}`: the key, shown this once. Rotation with overlap: create the new
/// key under a new name (`shop-2026-12`), move the client to it, then revoke the old name; both work meanwhile.
pub async fn key_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let name = named(&f.name, "key")?;
    let key = format!("rfk_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let (store, hash, named) = (Arc::clone(state.store()), redflag::hash::sha256_hex(&key), name.clone());
    db(move || -> anyhow::Result<()> {
        store.add_key(&named, &hash, now_ms())?;
        store.audit(now_ms(), &AuditEntry::new(admin::actor(&session.admin), "key.create").target(&named))?;
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::json!({ "name": name, "key": key })))
}

/// `POST /admin/api/keys/revoke` with `{"name"}`: every active key of that name stops working.
pub async fn key_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let store = Arc::clone(state.store());
    let name = f.name.clone();
    let revoked = db(move || -> anyhow::Result<usize> {
        let n = store.revoke_key(&name, now_ms())?;
        if n > 0 {
            let entry =
                AuditEntry::new(admin::actor(&session.admin), "key.revoke").target(&name).detail(format!("{n} keys"));
            store.audit(now_ms(), &entry)?;
        }
        Ok(n)
    })
    .await?;
    if revoked == 0 {
        return Err(AppError::NotFound("no active key with that name"));
    }
    Ok(Json(serde_json::json!({ "name": f.name, "revoked": revoked })))
}

#[derive(Debug, Serialize)]
pub struct DeviceView {
    name: String,
    active: bool,
    created_at_ms: i64,
    last_seen_ms: Option<i64>,
}

/// `GET /admin/api/devices`: the desktops paired with this hub.
pub async fn devices(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<DeviceView>>, AppError> {
    authorize(&state, &headers, Need::View).await?;
    let hub = Arc::clone(&state.hub.store);
    let devices = db(move || hub.devices()).await?;
    Ok(Json(
        devices
            .into_iter()
            .map(|d| DeviceView {
                name: d.name,
                active: d.revoked_at_ms.is_none(),
                created_at_ms: d.created_at_ms,
                last_seen_ms: d.last_seen_ms,
            })
            .collect(),
    ))
}

/// `POST /admin/api/devices/pair` with `{"name"}`: the device's token, shown this once, and the hub's key
/// fingerprint for the person to compare.
pub async fn device_pair(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let name = named(&f.name, "device")?;
    let token = format!("rfd_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let (hub, store, hash, named) =
        (Arc::clone(&state.hub.store), Arc::clone(state.store()), redflag::hash::sha256_hex(&token), name.clone());
    db(move || -> anyhow::Result<()> {
        hub.add_device(&named, &hash, now_ms())?;
        store.audit(now_ms(), &AuditEntry::new(admin::actor(&session.admin), "device.pair").target(&named))?;
        Ok(())
    })
    .await?;
    let fingerprint = state.hub.signer.public().fingerprint.clone();
    Ok(Json(serde_json::json!({ "device": name, "token": token, "fingerprint": fingerprint })))
}

/// `POST /admin/api/devices/revoke` with `{"name"}`: its token gets 401 from now on.
pub async fn device_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<StatusCode, AppError> {
    let (_, session) = authorize(&state, &headers, Need::Change).await?;
    let (hub, store) = (Arc::clone(&state.hub.store), Arc::clone(state.store()));
    let revoked = db(move || -> anyhow::Result<bool> {
        let revoked = hub.revoke_device(&f.name, now_ms())?;
        if revoked {
            store.audit(now_ms(), &AuditEntry::new(admin::actor(&session.admin), "device.revoke").target(&f.name))?;
        }
        Ok(revoked)
    })
    .await?;
    if revoked { Ok(StatusCode::NO_CONTENT) } else { Err(AppError::NotFound("no active device with that name")) }
}

/// A new key's or device's name: 1 to 64 printable characters, trimmed.
fn named(name: &str, what: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!("a {what}'s name is 1 to 64 printable characters")));
    }
    Ok(name.to_string())
}
