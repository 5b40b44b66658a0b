//! Route handlers, one module per caller, and the one error type they return.
//!
//! Bad input is the caller's problem: a 4xx with a plain sentence saying what to fix, logged at `info` at most.
//! Internal failures are ours: logged once at `error` with the cause, answered with a bare 500/503 so internals
//! (paths, SQL) never reach a client. A webhook whose message could not be queued answers 503, so Twilio or
//! Telegram retries it later: nothing is lost.

pub mod admin;
pub mod api;
pub mod health;
pub mod sync;
pub mod telegram;
pub mod twilio;
pub mod web;

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::queue::{Enqueued, NewMessage};
use crate::tasks::blocking;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("the body is larger than this server accepts")]
    PayloadTooLarge,
    #[error("too many requests; slow down and retry later")]
    TooManyRequests,
    /// Ours, and temporary: the message was not accepted, so the sender should retry.
    #[error("temporarily unavailable; retry later")]
    Unavailable(#[source] anyhow::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response =
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{self}\n")).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

pub async fn not_found() -> AppError {
    AppError::NotFound("no such route; see bridge/README.md for the routes")
}

/// The credential of `Authorization: Bearer <credential>`; the scheme is case-insensitive (RFC 9110).
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

/// Whether a request's `Content-Type` is `expected` (parameters such as `charset` ignored).
fn content_type_is(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Persist an inbound message (the one write a webhook does) and wake a worker if it is new.
async fn persist(state: &AppState, message: NewMessage) -> Result<Enqueued, AppError> {
    let store = Arc::clone(state.store());
    let channel = message.channel.as_str();
    let enqueued =
        blocking(move || store.enqueue(&message)).await.and_then(|r| r.map_err(Into::into)).map_err(|e| {
            metrics::counter!(crate::metrics::WEBHOOKS, "channel" => channel, "outcome" => "unavailable").increment(1);
            AppError::Unavailable(e)
        })?;
    let outcome = match enqueued {
        Enqueued::New(id) => {
            tracing::info!(job = id, channel, "queued");
            state.shared.wake.notify_one();
            "queued"
        }
        Enqueued::Duplicate => {
            tracing::info!(channel, "duplicate delivery ignored");
            "duplicate"
        }
    };
    metrics::counter!(crate::metrics::WEBHOOKS, "channel" => channel, "outcome" => outcome).increment(1);
    Ok(enqueued)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_credential_required() {
        assert_eq!(super::bearer(&with("Bearer rfk_1")), Some("rfk_1"));
        assert_eq!(super::bearer(&with("bearer rfk_1")), Some("rfk_1"));
        assert_eq!(super::bearer(&with("BEARER  rfk_1 ")), Some("rfk_1"));
        assert_eq!(super::bearer(&with("Basic rfk_1")), None);
        assert_eq!(super::bearer(&with("Bearer ")), None);
        assert_eq!(super::bearer(&HeaderMap::new()), None);
    }
}
