//! Sorting failed HTTP answers into what to do next, and how long to wait before a retry.
//!
//! The policy follows openai-python (`_base_client.py`): retry 408, 409, 429, 5xx and network errors; obey
//! `x-should-retry`; wait `retry-after-ms`, else `Retry-After`, else 0.5 s doubling up to 8 s with up to 25 %
//! jitter taken off. It departs from it where retrying is known to be useless: a 429 `insufficient_quota` is an
//! empty account and a 429 "Request too large" is a text over the per-minute token limit, neither of which time
//! fixes. Error bodies are read as loose JSON because compatible servers differ: llama.cpp sends `code` as an
//! integer, Ollama's native API sends `error` as a plain string, a proxy may send HTML.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// openai-python's backoff: first delay, cap, and the largest server-requested wait still worth honouring.
const INITIAL_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
const MAX_SERVER_WAIT: Duration = Duration::from_secs(120);
/// Error messages are quoted to people; a whole HTML error page is not a message.
const MAX_MESSAGE_CHARS: usize = 300;

/// The `error` object of a failed response, as far as it could be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ApiError {
    pub message: String,
    pub code: Option<String>,
    pub kind: Option<String>,
    pub param: Option<String>,
}

impl ApiError {
    pub(crate) fn parse(body: &[u8]) -> ApiError {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let mut e = match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let err = if v["error"].is_object() { &v["error"] } else { &v };
                ApiError {
                    message: text(&err["message"]).or_else(|| text(&v["error"])).unwrap_or_default(),
                    code: text(&err["code"]),
                    kind: text(&err["type"]),
                    param: text(&err["param"]),
                }
            }
            Err(_) => ApiError { message: String::from_utf8_lossy(body).into_owned(), ..ApiError::default() },
        };
        let message = e.message.split_whitespace().collect::<Vec<_>>().join(" ");
        e.message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
            Some((i, _)) => format!("{}…", &message[..i]),
            None if message.is_empty() => "no error message".to_string(),
            None => message,
        };
        e
    }

    /// Whether the error is about `response_format` (a server without structured outputs, or a model without
    /// `json_schema`), judged from every field since servers put it in different places.
    fn is_about_format(&self) -> bool {
        [Some(&self.message), self.code.as_ref(), self.kind.as_ref(), self.param.as_ref()].into_iter().flatten().any(
            |s| {
                let s = s.to_ascii_lowercase();
                ["response_format", "json_schema", "json_object"].iter().any(|w| s.contains(w))
            },
        )
    }

    fn is_quota(&self) -> bool {
        self.code.as_deref() == Some("insufficient_quota") || self.kind.as_deref() == Some("insufficient_quota")
    }

    fn is_too_large(&self) -> bool {
        self.message.to_ascii_lowercase().contains("request too large")
    }
}

/// What to do after a failed HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// The server cannot honour the `response_format` sent: try the next format at once (not a retry).
    NextFormat,
    /// Transient: retry after the server's wait if it gave one, else after the backoff.
    Retry { wait: Option<Duration> },
    /// Transient, but the server said not to retry (or asked for an absurd wait): unavailable now.
    GiveUp,
    /// The configuration is refused for good (key, model, quota).
    Config,
    /// This request can never succeed.
    Rejected,
}

/// Decides from the status, headers and error body. `format_sent` is false for `PromptOnly`, where an error
/// mentioning `response_format` cannot be about ours.
pub(crate) fn decide(status: u16, headers: &HeaderMap, err: &ApiError, format_sent: bool) -> Decision {
    let base = match status {
        400 | 422 if format_sent && err.is_about_format() => Decision::NextFormat,
        401 | 403 | 404 => Decision::Config,
        429 if err.is_quota() => Decision::Config,
        429 if err.is_too_large() => Decision::Rejected,
        408 | 409 | 429 | 500..=599 => Decision::Retry { wait: server_wait(headers) },
        _ => Decision::Rejected,
    };
    // The server's own verdict on retrying wins, except over a configuration it has just refused: retrying a
    // revoked key or an empty account only spends the deadline.
    match (base, should_retry(headers)) {
        (Decision::Retry { wait: Some(w) }, _) if w > MAX_SERVER_WAIT => Decision::GiveUp,
        (Decision::Retry { .. }, Some(false)) => Decision::GiveUp,
        (Decision::Rejected, Some(true)) => Decision::Retry { wait: server_wait(headers) },
        (d, _) => d,
    }
}

/// `x-should-retry: true|false`, the server's override of the client's decision.
fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers.get("x-should-retry")?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The wait the server asked for: `retry-after-ms` (non-standard, OpenAI's), else `Retry-After` in seconds,
/// integer or fractional. An HTTP-date `Retry-After` is not parsed and falls back to the backoff.
pub(crate) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v)
    };
    number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// The wait before retry number `retry + 1` when the server named none: 0.5 s * 2^retry capped at 8 s, times
/// (1 - 0.25 * `rand`) so clients that failed together do not retry together. `rand` is in [0, 1).
pub(crate) fn backoff(retry: u32, rand: f64) -> Duration {
    let delay = INITIAL_DELAY.saturating_mul(1u32 << retry.min(16)).min(MAX_DELAY);
    delay.mul_f64(1.0 - 0.25 * rand.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn err(body: Value) -> ApiError {
        ApiError::parse(body.to_string().as_bytes())
    }

    fn openai(message: &str, kind: &str, code: Option<&str>) -> ApiError {
        err(json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
    }

    #[test]
    fn fixture_errors_are_sorted() {
        let none = HeaderMap::new();
        let rate = openai(
            "Rate limit reached for gpt-4o-mini ... Please try again in 1.574s.",
            "tokens",
            Some("rate_limit_exceeded"),
        );
        assert_eq!(decide(429, &none, &rate, true), Decision::Retry { wait: None });
        let big = openai(
            "Request too large for gpt-4o in organization org-XXXX on tokens per min (TPM)",
            "tokens",
            Some("rate_limit_exceeded"),
        );
        assert_eq!(decide(429, &none, &big, true), Decision::Rejected);
        let quota = openai("You exceeded your current quota", "insufficient_quota", Some("insufficient_quota"));
        assert_eq!(decide(429, &none, &quota, true), Decision::Config);
        let key = openai("Incorrect API key provided: sk-abc***.", "invalid_request_error", Some("invalid_api_key"));
        assert_eq!(decide(401, &none, &key, true), Decision::Config);
        assert_eq!(decide(403, &none, &key, true), Decision::Config);
        assert_eq!(decide(404, &none, &key, true), Decision::Config);
        let server = openai("The server had an error", "server_error", None);
        assert_eq!(decide(500, &none, &server, true), Decision::Retry { wait: None });
        assert_eq!(decide(503, &none, &server, true), Decision::Retry { wait: None });
        assert_eq!(decide(408, &none, &server, true), Decision::Retry { wait: None });
        assert_eq!(decide(409, &none, &server, true), Decision::Retry { wait: None });
        assert_eq!(decide(413, &none, &server, true), Decision::Rejected);
        assert_eq!(
            decide(400, &none, &openai("bad messages", "invalid_request_error", None), true),
            Decision::Rejected
        );
    }

    #[test]
    fn format_errors_move_to_the_next_format() {
        let none = HeaderMap::new();
        let e = err(
            json!({"error": {"message": "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", "type": "invalid_request_error", "param": "response_format", "code": null}}),
        );
        assert_eq!(decide(400, &none, &e, true), Decision::NextFormat);
        // Nothing was sent, so it cannot be about our format.
        assert_eq!(decide(400, &none, &e, false), Decision::Rejected);
        // llama.cpp: integer code, the word only in the message.
        let e = err(
            json!({"error": {"code": 400, "message": "Unsupported response_format type", "type": "invalid_request_error"}}),
        );
        assert_eq!(e.code.as_deref(), Some("400"));
        assert_eq!(decide(400, &none, &e, true), Decision::NextFormat);
    }

    #[test]
    fn should_retry_header_overrides() {
        let e = openai("x", "server_error", None);
        assert_eq!(decide(500, &headers(&[("x-should-retry", "false")]), &e, true), Decision::GiveUp);
        assert_eq!(decide(400, &headers(&[("x-should-retry", "true")]), &e, true), Decision::Retry { wait: None });
        let quota = openai("quota", "insufficient_quota", Some("insufficient_quota"));
        assert_eq!(decide(429, &headers(&[("x-should-retry", "true")]), &quota, true), Decision::Config);
    }

    #[test]
    fn server_waits() {
        let wait = |h: &[(&'static str, &'static str)]| server_wait(&headers(h));
        assert_eq!(wait(&[("retry-after-ms", "50"), ("retry-after", "3")]), Some(Duration::from_millis(50)));
        assert_eq!(wait(&[("retry-after", "2")]), Some(Duration::from_secs(2)));
        assert_eq!(wait(&[("retry-after", "1.5")]), Some(Duration::from_millis(1500)));
        assert_eq!(wait(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]), None);
        assert_eq!(wait(&[("retry-after", "-1")]), None);
        assert_eq!(wait(&[]), None);
        let e = openai("x", "tokens", Some("rate_limit_exceeded"));
        assert_eq!(
            decide(429, &headers(&[("retry-after-ms", "50")]), &e, true),
            Decision::Retry { wait: Some(Duration::from_millis(50)) }
        );
        assert_eq!(decide(429, &headers(&[("retry-after", "600")]), &e, true), Decision::GiveUp);
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_down() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(40, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(375));
        for _ in 0..100 {
            let d = backoff(2, fastrand::f64());
            assert!(d > Duration::from_millis(1500) && d <= Duration::from_secs(2), "{d:?}");
        }
    }

    #[test]
    fn odd_error_bodies() {
        assert_eq!(ApiError::parse(br#"{"error": "model 'llama9' not found"}"#).message, "model 'llama9' not found");
        assert_eq!(ApiError::parse(b"").message, "no error message");
        let html = format!("<html>{}</html>", "bad gateway ".repeat(100));
        let e = ApiError::parse(html.as_bytes());
        assert!(e.message.chars().count() <= MAX_MESSAGE_CHARS + 1 && e.message.ends_with('…'), "{}", e.message);
    }
}
