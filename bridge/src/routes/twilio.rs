//! Twilio webhooks: inbound WhatsApp/SMS messages and delivery status callbacks.
//!
//! [`SignedForm`] is the authentication: an extractor that accepts only a form body whose `X-Twilio-Signature`
//! matches the configured public URL, so no handler can forget the check. The inbound handler persists first and
//! answers second: one `INSERT ... ON CONFLICT DO NOTHING` and an empty TwiML `<Response/>`, well inside Twilio's
//! 15-second limit; the reply goes out later through the REST API.

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppError, content_type_is, persist};
use crate::app::AppState;
use crate::metrics as m;
use crate::queue::{Channel, NewMessage};
use crate::tasks::{blocking, now_ms};
use crate::twilio::address::{self, parse_sender};
use crate::twilio::client::{is_failed_status, status_rank};
use crate::twilio::signature::{Payload, verify};

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// Form parameters of a request Twilio signed.
#[derive(Debug)]
pub struct SignedForm(pub Vec<(String, String)>);

impl FromRequest<AppState> for SignedForm {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        if !content_type_is(&parts.headers, "application/x-www-form-urlencoded") {
            webhook("twilio", "bad_request");
            return Err(AppError::UnsupportedMediaType("Twilio webhooks are application/x-www-form-urlencoded"));
        }
        let bytes = axum::body::to_bytes(body, state.settings.limits.max_body_bytes).await.map_err(|e| {
            // A chunked body has no Content-Length for the limit layer to refuse up front: it fails here.
            let inner = e.into_inner();
            if over_the_limit(&*inner) {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest("the body could not be read (cut off)".into())
            }
        })?;
        let params = parse_form(&bytes).inspect_err(|_| webhook("twilio", "bad_request"))?;
        if state.settings.validate_signatures {
            let path = parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str());
            let url = format!("{}{path}", state.public_url);
            let signature = parts.headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !verify(&state.settings.signing_token(), &url, Payload::Form(&params), signature) {
                webhook("twilio", "bad_signature");
                // Worth a warning: either an attacker, or REDFLAG_PUBLIC_URL does not match what Twilio calls. The
                // base and path say which; the query is the caller's to fill (a 60 KB query made a 60 KB log line),
                // so only its length is logged.
                let query_bytes = parts.uri.query().map_or(0, str::len);
                let signed = format!("{}{}", state.public_url, parts.uri.path());
                tracing::warn!(
                    signed_url = %truncated(&signed, 200),
                    query_bytes,
                    present = !signature.is_empty(),
                    "rejected a Twilio webhook with a bad signature; check REDFLAG_PUBLIC_URL matches the webhook URL in the Twilio console"
                );
                return Err(AppError::Forbidden("invalid X-Twilio-Signature"));
            }
        }
        Ok(SignedForm(params))
    }
}

/// Decode a form body strictly: invalid UTF-8, raw or percent-encoded, is refused rather than replaced, since
/// the signature covers the exact decoded text.
fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::BadRequest("the form body is not UTF-8".into()))?;
    let decode = |s: &str| -> Result<String, AppError> {
        let plus = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| AppError::BadRequest("a form field is not valid UTF-8 once decoded".into()))
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn webhook(channel: &'static str, outcome: &'static str) {
    metrics::counter!(m::WEBHOOKS, "channel" => channel, "outcome" => outcome).increment(1);
}

fn twiml() -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], EMPTY_TWIML).into_response()
}

/// `POST /webhooks/twilio`: an inbound WhatsApp or SMS message.
pub async fn inbound(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedForm(params): SignedForm,
) -> Result<Response, AppError> {
    let sid = field(&params, "MessageSid").or_else(|| field(&params, "SmsSid")).unwrap_or("").trim();
    if sid.is_empty() || sid.len() > 64 {
        webhook("twilio", "bad_request");
        return Err(AppError::BadRequest("MessageSid is missing or too long".into()));
    }
    let from = field(&params, "From").unwrap_or("");
    let bsuid = field(&params, "ExternalUserIdentifier").or_else(|| field(&params, "ExternalUserId"));
    let (channel, user_key, reply_to) = match parse_sender(from, bsuid) {
        Ok(sender) => {
            let channel = match sender.channel {
                address::Channel::WhatsApp => Channel::WhatsApp,
                address::Channel::Sms => Channel::Sms,
            };
            (channel, sender.user_key, sender.reply_to)
        }
        Err(e) => {
            // Queued all the same (nothing is dropped silently), but never replied to: see the worker.
            tracing::info!(reason = %e, "inbound message from an address that cannot be replied to");
            let channel =
                if from.to_ascii_lowercase().starts_with("whatsapp:") { Channel::WhatsApp } else { Channel::Sms };
            (channel, format!("unreplyable:{}", &redflag::hash::sha256_hex(from)[..16]), None)
        }
    };
    let label = channel.as_str();
    if !state.allow(&user_key) {
        webhook(label, "rate_limited");
        metrics::counter!(m::LIMITED, "kind" => "rate").increment(1);
        // 200, not 429: Twilio would retry a refusal, which is the opposite of slowing down.
        return Ok(twiml());
    }
    let body = field(&params, "Body").unwrap_or("").to_string();
    let media = field(&params, "NumMedia").and_then(|n| n.trim().parse::<u32>().ok()).unwrap_or(0) > 0;
    // The first image is read (a screenshot is one image); a voice note or a video keeps the "send the text" reply.
    // Only a URL on Twilio's own API host is kept, so a forged form cannot make the bridge fetch from elsewhere.
    let media_url = field(&params, "MediaContentType0")
        .filter(|t| media && t.trim().to_ascii_lowercase().starts_with("image/"))
        .and_then(|_| field(&params, "MediaUrl0"))
        .and_then(|url| crate::twilio::media::allowed_url(url, &state.settings.twilio.api_base));
    let idempotency =
        headers.get("i-twilio-idempotency-token").and_then(|v| v.to_str().ok()).map(|t| format!("twilio-idem:{t}"));
    let message = NewMessage {
        channel,
        dedupe_key: format!("twilio:{sid}"),
        idempotency_key: idempotency,
        user_key,
        reply_to,
        body,
        media,
        media_url,
        now_ms: now_ms(),
    };
    persist(&state, message).await?;
    Ok(twiml())
}

/// `POST /webhooks/twilio/status`: a delivery status callback for one of our replies.
pub async fn status(State(state): State<AppState>, SignedForm(params): SignedForm) -> Result<Response, AppError> {
    let (Some(sid), Some(status)) = (field(&params, "MessageSid"), field(&params, "MessageStatus")) else {
        webhook("twilio_status", "bad_request");
        return Err(AppError::BadRequest("MessageSid and MessageStatus are required".into()));
    };
    let Some(rank) = status_rank(status) else {
        // A status newer than this build: accept it (Twilio would retry a 4xx) and ignore it.
        webhook("twilio_status", "unknown_status");
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let code = field(&params, "ErrorCode").filter(|c| !c.is_empty()).map(str::to_string);
    if is_failed_status(status) {
        let code = code.clone().unwrap_or_default();
        tracing::warn!(status, code = %code, "a reply was not delivered");
    }
    metrics::counter!(m::DELIVERY, "status" => status.to_string()).increment(1);
    // Twilio usually accepts a WhatsApp reply outside the 24-hour window and reports 63016 here, afterwards.
    let outside_window = is_failed_status(status) && code.as_deref() == Some("63016");
    let (store, sid, status) = (Arc::clone(state.store()), sid.to_string(), status.to_string());
    let reopened = blocking(move || -> Result<Option<i64>, crate::queue::QueueError> {
        // Only the callback that moved the status on reopens: Twilio repeats callbacks.
        let changed = store.delivery_status(&sid, &status, rank, code.as_deref(), now_ms())?;
        if changed && outside_window { store.reopen_for_template(&sid, now_ms()) } else { Ok(None) }
    })
    .await
    .map_err(AppError::Unavailable)?
    .map_err(|e| AppError::Unavailable(e.into()))?;
    if let Some(job) = reopened {
        tracing::info!(job, "reply was outside the 24-hour window; trying the template");
        state.shared.wake.notify_one();
    }
    webhook("twilio_status", "recorded");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Whether a body error is, somewhere in its chain, the size limit (the limit layer's or `to_bytes`' own).
fn over_the_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|e| e.is::<http_body_util::LengthLimitError>())
}

/// At most `max` bytes of `s`, cut on a character boundary, for logs.
fn truncated(s: &str, max: usize) -> &str {
    redflag::normalize::truncate_at_char_boundary(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_strictly() {
        let p = parse_form(b"Body=Hello+world%21&From=whatsapp%3A%2B1&Empty=&Flag").expect("valid");
        assert_eq!(p[0], ("Body".into(), "Hello world!".into()));
        assert_eq!(p[1].1, "whatsapp:+1");
        assert_eq!(p[2], ("Empty".into(), String::new()));
        assert_eq!(p[3], ("Flag".into(), String::new()));
        assert!(parse_form(b"Body=%FF%FE").is_err(), "percent-encoded invalid UTF-8");
        assert!(parse_form(b"Body=\xff").is_err(), "raw invalid UTF-8");
        assert_eq!(parse_form(b"").expect("empty").len(), 0);
    }
}
