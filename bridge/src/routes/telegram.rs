//! `POST /webhooks/telegram`: Bot API updates, authenticated by the `X-Telegram-Bot-Api-Secret-Token` header that
//! Telegram sends when the webhook was set with a `secret_token`. Same queue and analysis as Twilio; dedupe on
//! `update_id`. Only private chats are answered: a bot that replied to every message in a group would be spam.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::{AppError, content_type_is, persist};
use crate::app::AppState;
use crate::metrics as m;
use crate::queue::{Channel, NewMessage};
use crate::tasks::now_ms;
use crate::telegram::Update;

fn webhook(outcome: &'static str) {
    metrics::counter!(m::WEBHOOKS, "channel" => "telegram", "outcome" => outcome).increment(1);
}

pub async fn update(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, AppError> {
    let tg = &state.settings.telegram;
    if tg.bot_token.is_none() {
        return Err(AppError::NotFound("Telegram is not configured on this bridge (TELEGRAM_BOT_TOKEN)"));
    }
    if let Some(secret) = &tg.secret_token {
        let given = headers.get("x-telegram-bot-api-secret-token").map(|v| v.as_bytes()).unwrap_or_default();
        if !bool::from(given.ct_eq(secret.expose_secret().as_bytes())) {
            webhook("bad_secret");
            tracing::warn!("rejected a Telegram update with a wrong secret token");
            return Err(AppError::Forbidden("invalid X-Telegram-Bot-Api-Secret-Token"));
        }
    }
    if !content_type_is(&headers, "application/json") {
        webhook("bad_request");
        return Err(AppError::UnsupportedMediaType("Telegram updates are application/json"));
    }
    let update: Update = serde_json::from_slice(&body).map_err(|e| {
        webhook("bad_request");
        AppError::BadRequest(format!("not a Telegram Update: {e}"))
    })?;
    let Some(msg) = update.text_message() else {
        webhook("ignored");
        return Ok(StatusCode::OK);
    };
    if msg.from_bot || !msg.private {
        webhook("ignored");
        return Ok(StatusCode::OK);
    }
    let user_key = format!("telegram:{}", msg.user_id.unwrap_or(msg.chat_id));
    if !state.allow(&user_key) {
        webhook("rate_limited");
        metrics::counter!(m::LIMITED, "kind" => "rate").increment(1);
        // 200: a non-2xx makes Telegram redeliver, which is the opposite of slowing down.
        return Ok(StatusCode::OK);
    }
    let message = NewMessage {
        channel: Channel::Telegram,
        dedupe_key: format!("telegram:{}", msg.update_id),
        idempotency_key: None,
        user_key,
        reply_to: Some(msg.chat_id.to_string()),
        body: msg.text.unwrap_or_default().to_string(),
        media: msg.has_media,
        // Read later by the worker through `getFile`; the file id is not a URL, so it is marked as Telegram's.
        media_url: msg.image.map(|id| format!("{}{id}", crate::telegram::TELEGRAM_FILE)),
        now_ms: now_ms(),
    };
    persist(&state, message).await?;
    Ok(StatusCode::OK)
}
