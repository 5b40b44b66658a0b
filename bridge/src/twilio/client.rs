//! The Twilio REST client that sends the bridge's replies (WhatsApp and SMS) through the Messages API.
//!
//! One call is one HTTP request: [`TwilioClient::send`] never retries. Replies go out from a durable queue whose
//! worker owns the retry schedule, so a retry survives a restart and is spaced by the worker's backoff rather than
//! by a loop hidden in here. What the client does instead is sort every failure: [`SendError::retry`] says whether
//! and when the same message can be tried again ([`Retry`], shared with the Telegram client so one worker handles
//! both), [`SendError::code`] gives Twilio's error code for the record, and [`SendError::is_outside_window`] flags
//! the WhatsApp 24-hour window, where the worker must switch to an approved template.
//!
//! Two things never leave this module in text: the auth token (it travels only in the basic-auth header, and the
//! client's `Debug` redacts it) and the recipient's number, which Twilio quotes in some error messages
//! ("The 'To' number 5551234567 is not a valid phone number"): every server message is scrubbed of long digit runs
//! before it is stored in an error, so errors can be logged as they are.
//!
//! Status callbacks arrive out of order (a `delivered` after a `read`), so [`status_rank`] orders the statuses and
//! the queue lets a stored status only move forward.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::debug;

/// Twilio's production REST API; tests point the client at a fake instead.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// A success body larger than this is not a message resource; stop reading rather than buffer it.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Server messages are kept in errors for diagnosis; a whole HTML error page is not a message.
const MAX_MESSAGE_CHARS: usize = 200;
/// Digit runs at least this long are treated as phone numbers and masked. Twilio error codes have five digits.
const MIN_NUMBER_DIGITS: usize = 6;

/// What the caller should do with a message whose send failed. Shared by the Twilio and Telegram clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The failure is transient: try again, after the server's requested wait when it gave one (else the worker's
    /// own backoff).
    After(Option<Duration>),
    /// Sending this message again cannot succeed (or could send it twice); give up on it.
    Never,
}

impl Retry {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Retry::After(_))
    }

    /// The server's requested wait, if it is retryable and the server named one.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            Retry::After(wait) => *wait,
            Retry::Never => None,
        }
    }
}

/// One outgoing message. `to` and `from` are `+E164` for SMS or `whatsapp:+E164` for WhatsApp; at least one of
/// `body` and `content_sid` must be set (a `content_sid` template is what WhatsApp requires outside the 24-hour
/// window).
#[derive(Debug, Clone, Copy, Default)]
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// Free-form text, at most 1,600 characters (Twilio error 21617 beyond).
    pub body: Option<&'a str>,
    /// An approved Content template (`HX…`).
    pub content_sid: Option<&'a str>,
    /// The template's variables as a JSON object string, e.g. `{"1":"12/1"}`.
    pub content_variables: Option<&'a str>,
    /// Where Twilio posts the delivery status of this message.
    pub status_callback: Option<&'a str>,
}

/// The message resource Twilio created.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sent {
    /// `SM…`, the key of the later status callbacks.
    pub sid: String,
    /// Usually `queued` (or `accepted`/`scheduled` through a Messaging Service).
    pub status: String,
}

/// Why a message was not sent. Messages say what to do; none contains the auth token or the recipient's number.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Twilio answered with an error status. `message` is Twilio's text (or the start of a non-JSON body), with
    /// phone numbers masked.
    #[error("{}", api_text(*.status, *.code, .message, *.retry_after))]
    Api { status: u16, code: Option<u32>, message: String, retry_after: Option<Duration> },
    /// No answer: connection refused or reset, DNS, TLS, or no answer within the timeout. After a timeout Twilio
    /// may have taken the message anyway, so a retry can, rarely, send it twice.
    #[error("{}", network_text(.api_base, .cause, *.timeout))]
    Network { api_base: String, cause: String, timeout: bool },
    /// A success status without a readable message resource. The message was probably taken, so it is not retried.
    #[error(
        "Twilio answered HTTP {status} but not with a message resource ({detail}): check that the Twilio api_base \
         points at the Twilio REST API; the message may have been sent, so it is not retried"
    )]
    BadResponse { status: u16, detail: String },
    /// The client or the message is unusable as configured; nothing was sent.
    #[error("{0}")]
    Config(String),
}

impl SendError {
    /// Whether and when to try this message again. 429 (or code 20429), 5xx and 408 answers and network failures
    /// are transient; everything else is permanent for this message.
    pub fn retry(&self) -> Retry {
        match self {
            SendError::Api { status, code, retry_after, .. } if transient(*status, *code) => Retry::After(*retry_after),
            SendError::Api { .. } => Retry::Never,
            SendError::Network { .. } => Retry::After(None),
            SendError::BadResponse { .. } | SendError::Config(_) => Retry::Never,
        }
    }

    /// Twilio's error code (e.g. 21211), else the HTTP status; `None` when there was no answer.
    pub fn code(&self) -> Option<u32> {
        match self {
            SendError::Api { status, code, .. } => code.or(Some(u32::from(*status))),
            SendError::BadResponse { status, .. } => Some(u32::from(*status)),
            SendError::Network { .. } | SendError::Config(_) => None,
        }
    }

    /// A short fixed phrase for logs and metrics labels (no server text, so nothing private).
    pub fn reason(&self) -> &'static str {
        match self {
            SendError::Api { status, code, .. } => match code.and_then(known_code) {
                Some((reason, _)) => reason,
                None => status_reason(*status),
            },
            SendError::Network { timeout: true, .. } => "timed out",
            SendError::Network { .. } => "network error",
            SendError::BadResponse { .. } => "unreadable response",
            SendError::Config(_) => "misconfigured",
        }
    }

    /// Twilio error 63016: a free-form WhatsApp message outside the 24-hour customer-service window. The worker
    /// should send an approved template (`content_sid`) instead. The same code can also arrive later, in a status
    /// callback's `ErrorCode`.
    pub fn is_outside_window(&self) -> bool {
        matches!(self, SendError::Api { code: Some(63016), .. })
    }

    /// The credentials are wrong (401, code 20003): every message will fail the same way until the configuration
    /// is fixed, so the worker may pause rather than burn through its queue.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, SendError::Api { status: 401, .. } | SendError::Api { code: Some(20003), .. })
    }
}

/// A Twilio Messages API client. Cheap to share (`Send + Sync`); keep one so its connection pool is reused.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    /// For media, which Twilio serves through a redirect to its CDN.
    media_http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: SecretString,
    messages_url: String,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("api_base", &self.api_base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    /// `api_base` is [`DEFAULT_API_BASE`] in production. `timeout` bounds each request, connection included.
    pub fn new(
        api_base: &str,
        account_sid: &str,
        auth_token: SecretString,
        timeout: Duration,
    ) -> Result<Self, SendError> {
        let api_base = check_api_base(api_base, "Twilio").map_err(SendError::Config)?;
        // The SID goes into the URL path, so anything but letters and digits would change the path.
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SendError::Config(
                "the Twilio account SID must be letters and digits (AC followed by 32 hex digits): copy it from the \
                 Twilio console"
                    .into(),
            ));
        }
        if auth_token.expose_secret().is_empty() {
            return Err(SendError::Config("the Twilio auth token is empty: set it in the bridge configuration".into()));
        }
        let http = build_http(timeout).map_err(|e| SendError::Config(format!("cannot set up HTTP: {e}")))?;
        let media_http =
            super::media::client(timeout).map_err(|e| SendError::Config(format!("cannot set up HTTP: {e}")))?;
        let messages_url = format!("{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json");
        Ok(TwilioClient { http, media_http, api_base, account_sid: account_sid.to_string(), auth_token, messages_url })
    }

    /// The image at `url` (a `MediaUrl0` the webhook checked is on this API's host), at most `max_bytes`.
    pub async fn fetch_media(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, super::media::MediaError> {
        super::media::fetch(&self.media_http, &self.account_sid, &self.auth_token, url, max_bytes).await
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Creates the message with one POST. See the module documentation: no retries here.
    pub async fn send(&self, msg: &Outgoing<'_>) -> Result<Sent, SendError> {
        if msg.body.is_none() && msg.content_sid.is_none() {
            return Err(SendError::Config("a Twilio message needs a body or a content_sid; nothing was sent".into()));
        }
        let form = form_body(msg);
        let response = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await;
        let (status, headers, bytes) = match read(response).await {
            Ok(reply) => reply,
            Err(e) => return Err(self.network_error(&e)),
        };
        if status.is_success() {
            return match serde_json::from_slice::<Sent>(&bytes) {
                Ok(sent) => {
                    debug!(sid = %sent.sid, status = %sent.status, "Twilio took the message");
                    Ok(sent)
                }
                // serde quotes the values it could not read, and those could be the recipient's number.
                Err(e) => Err(SendError::BadResponse {
                    status: status.as_u16(),
                    detail: truncate(&mask_numbers(&e.to_string()), MAX_MESSAGE_CHARS),
                }),
            };
        }
        let (code, message) = parse_error(&bytes);
        let message = self.scrub(&message, msg);
        let err = SendError::Api { status: status.as_u16(), code, message, retry_after: retry_after(&headers) };
        debug!(status = status.as_u16(), code = ?code, reason = err.reason(), "Twilio refused the message");
        Err(err)
    }

    fn network_error(&self, e: &reqwest::Error) -> SendError {
        let cause = root_cause(e).replace(self.auth_token.expose_secret(), "[REDACTED]");
        SendError::Network { api_base: self.api_base.clone(), cause, timeout: e.is_timeout() }
    }

    /// The recipient's number in every form Twilio might quote it, then any other long digit run, then (in case a
    /// proxy echoes the request) the token.
    fn scrub(&self, message: &str, msg: &Outgoing<'_>) -> String {
        let mut text = message.to_string();
        let bare = msg.to.strip_prefix("whatsapp:").unwrap_or(msg.to);
        for form in [msg.to, bare, bare.trim_start_matches('+')] {
            if !form.is_empty() {
                text = text.replace(form, "[number]");
            }
        }
        let token = self.auth_token.expose_secret();
        if !token.is_empty() {
            text = text.replace(token, "[REDACTED]");
        }
        truncate(&mask_numbers(&text), MAX_MESSAGE_CHARS)
    }
}

fn form_body(msg: &Outgoing<'_>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", msg.to).append_pair("From", msg.from);
    let optional = [
        ("Body", msg.body),
        ("ContentSid", msg.content_sid),
        ("ContentVariables", msg.content_variables),
        ("StatusCallback", msg.status_callback),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            form.append_pair(name, value);
        }
    }
    form.finish()
}

/// Rank of a message status for "only move forward" updates: accepted/scheduled < queued < sending < sent <
/// delivered (or partially delivered) < read < failed/undelivered/canceled. The failures rank last because nothing
/// follows them. `None` for inbound statuses (`receiving`, `received`) and anything unknown.
pub fn status_rank(status: &str) -> Option<u8> {
    Some(match status {
        "accepted" | "scheduled" => 1,
        "queued" => 2,
        "sending" => 3,
        "sent" => 4,
        "delivered" | "partially_delivered" => 5,
        "read" => 6,
        "failed" | "undelivered" | "canceled" => 7,
        _ => return None,
    })
}

/// True for `failed`, `undelivered` and `canceled`; the callback's `ErrorCode` says why (63016: outside the
/// WhatsApp window).
pub fn is_failed_status(status: &str) -> bool {
    status_rank(status) == Some(7)
}

/// Codes the bridge meets, with a log-safe reason and what to do. The rest fall back to the HTTP status.
fn known_code(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        20003 => ("authentication failed", "check the Twilio account SID and auth token in the bridge configuration"),
        20429 => ("rate limited", "Twilio did not process it; retry later"),
        21211 => ("invalid recipient number", "the number is not a valid phone number; the message cannot be sent"),
        21408 => (
            "region not enabled",
            "enable the recipient's country in the Twilio console's SMS geo permissions, then retry",
        ),
        21604 => ("recipient missing", "the request had no To; this is a bridge bug, please report it"),
        21608 => ("recipient not verified", "a trial account can only send to verified numbers; upgrade the account"),
        21610 => ("recipient unsubscribed", "the recipient replied STOP; nothing can be sent until they reply START"),
        21614 => ("not a mobile number", "the number cannot receive SMS; the message cannot be sent"),
        21617 => ("body too long", "split the text below 1,600 characters before sending"),
        63003 => ("recipient not on WhatsApp", "the number is inactive or not on WhatsApp; the message cannot be sent"),
        63007 => ("sender not found", "check the WhatsApp sender (From) configured for the bridge in Twilio"),
        63015 => ("recipient not in sandbox", "the recipient must join the Twilio WhatsApp sandbox first"),
        63016 => (
            "outside the WhatsApp 24-hour window",
            "free-form text is refused more than 24 hours after the user's last message; send an approved template \
             (ContentSid) instead",
        ),
        63038 => ("daily limit reached", "the account's daily message limit is spent; raise it or wait a day"),
        _ => return None,
    })
}

fn status_reason(status: u16) -> &'static str {
    match status {
        401 => "authentication failed",
        403 => "forbidden",
        404 => "not found",
        408 => "request timeout",
        429 => "rate limited",
        500..=599 => "server error",
        300..=399 => "redirected",
        _ => "rejected",
    }
}

/// Twilio did not process the request, and the same request may succeed later.
fn transient(status: u16, code: Option<u32>) -> bool {
    code == Some(20429) || matches!(status, 408 | 429 | 500..=599)
}

fn api_text(status: u16, code: Option<u32>, message: &str, retry_after: Option<Duration>) -> String {
    let code_text = code.map(|c| format!(", code {c}")).unwrap_or_default();
    if transient(status, code) {
        let when = retry_after.map(|d| format!(" after {} s", d.as_secs_f64())).unwrap_or_default();
        return format!(
            "Twilio could not take the message now (HTTP {status}{code_text}: {message}); retry it later{when}"
        );
    }
    let advice = match code.and_then(known_code) {
        Some((_, advice)) => advice,
        None => match status {
            401 => "check the Twilio account SID and auth token in the bridge configuration",
            404 => "check the Twilio api_base and account SID in the bridge configuration",
            300..=399 => "check the Twilio api_base (it should be https://api.twilio.com)",
            _ => "the message cannot be sent as it is; see Twilio's error code documentation",
        },
    };
    format!("Twilio refused the message (HTTP {status}{code_text}: {message}): {advice}")
}

fn network_text(api_base: &str, cause: &str, timeout: bool) -> String {
    if timeout {
        format!(
            "no answer from {api_base} in time ({cause}); retry later (Twilio may have taken the message, so a retry \
             can rarely send it twice)"
        )
    } else {
        format!("cannot reach {api_base} ({cause}); check the network and the configured api_base, then retry")
    }
}

/// Reads Twilio's two error shapes: legacy `{code, message, more_info, status}` and RFC 9457
/// `{type, title, status, code, detail}`. A body that is not JSON (a proxy's HTML page) becomes the message.
fn parse_error(body: &[u8]) -> (Option<u32>, String) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        return (None, if text.is_empty() { "empty body".into() } else { format!("non-JSON body: {text}") });
    };
    let code = match &v["code"] {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let message = ["message", "detail", "title"]
        .iter()
        .find_map(|k| v[*k].as_str().filter(|s| !s.trim().is_empty()))
        .unwrap_or("no error message");
    (code, message.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Masks every run of at least [`MIN_NUMBER_DIGITS`] digits, counting the separators people write inside phone
/// numbers (`+`, space, `-`, `.`, parentheses), so numbers in any format disappear and error codes stay.
fn mask_numbers(text: &str) -> String {
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // A run starts at a digit or `+` only, so an opening parenthesis before a number is kept with its pair.
        if !(chars[i].is_ascii_digit() || chars[i] == '+') {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i;
        let mut digits = 0;
        let mut last_digit = i;
        while end < chars.len() && is_part(chars[end]) {
            if chars[end].is_ascii_digit() {
                digits += 1;
                last_digit = end;
            }
            end += 1;
        }
        if digits >= MIN_NUMBER_DIGITS {
            out.push_str("[number]");
            // Separators after the last digit (a trailing space or full stop) are kept.
            i = last_digit + 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

// Helpers shared with the Telegram client, which has the same needs.

/// Checks a configured API base and returns it without a trailing slash. `service` names it in the message.
pub(crate) fn check_api_base(api_base: &str, service: &str) -> Result<String, String> {
    let base = api_base.trim_end_matches('/');
    match url::Url::parse(base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            // Credentials in the URL would end up in error messages; they belong in the token settings.
            if !u.username().is_empty() || u.password().is_some() {
                return Err(format!(
                    "the {service} api_base must not contain credentials; configure the token separately"
                ));
            }
            Ok(base.to_string())
        }
        _ => Err(format!("the {service} api_base {base:?} is not an http(s) URL")),
    }
}

/// A client with one timeout for the whole request and no redirects: a redirected POST would be replayed as a GET
/// elsewhere, and an API that redirects is a misconfigured base URL.
pub(crate) fn build_http(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("redflag-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Status, headers and at most [`MAX_BODY_BYTES`] of the body. Errors lose their URL, which for Telegram holds the
/// bot token.
pub(crate) async fn read(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), reqwest::Error> {
    let mut response = response.map_err(reqwest::Error::without_url)?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(reqwest::Error::without_url)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BODY_BYTES {
            break;
        }
    }
    Ok((status, headers, bytes))
}

/// The innermost error ("Connection refused"), where reqwest's own message is generic.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `Retry-After` in seconds (integer or fractional). An HTTP-date is not parsed: the worker's backoff applies.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read() {
        let legacy = br#"{"code":21211,"message":"The 'To' number 5551234567 is not a valid phone number.",
            "more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;
        let (code, message) = parse_error(legacy);
        assert_eq!(code, Some(21211));
        assert!(message.starts_with("The 'To' number"), "{message}");
        let rfc = br#"{"type":"https://www.twilio.com/docs/errors/20429","title":"Too Many Requests","status":429,
            "code":20429,"detail":"Account exceeded the concurrency limit"}"#;
        assert_eq!(parse_error(rfc), (Some(20429), "Account exceeded the concurrency limit".to_string()));
        let (code, message) = parse_error(b"<html><body>Bad Gateway</body></html>");
        assert_eq!(code, None);
        assert!(message.contains("Bad Gateway"), "{message}");
        assert_eq!(parse_error(b""), (None, "empty body".to_string()));
    }

    #[test]
    fn numbers_are_masked_and_codes_kept() {
        assert_eq!(
            mask_numbers("The 'To' number 5551234567 is not valid (21211)."),
            "The 'To' number [number] is not valid (21211)."
        );
        assert_eq!(mask_numbers("to whatsapp:+1 (415) 555-0123, see"), "to whatsapp:[number], see");
        assert_eq!(mask_numbers("number (4155550123) is"), "number ([number]) is");
        assert_eq!(
            mask_numbers("https://www.twilio.com/docs/errors/63016"),
            "https://www.twilio.com/docs/errors/63016"
        );
    }

    #[test]
    fn failures_are_sorted() {
        let api = |status, code| SendError::Api { status, code, message: "m".into(), retry_after: None };
        assert_eq!(api(400, Some(21211)).retry(), Retry::Never);
        assert_eq!(api(429, Some(20429)).retry(), Retry::After(None));
        assert_eq!(api(503, None).retry(), Retry::After(None));
        assert_eq!(api(401, Some(20003)).retry(), Retry::Never);
        assert!(api(401, Some(20003)).is_auth_failure());
        assert!(api(400, Some(63016)).is_outside_window());
        assert_eq!(api(400, Some(63016)).reason(), "outside the WhatsApp 24-hour window");
        assert_eq!(api(502, None).code(), Some(502));
        assert!(api(400, Some(21610)).to_string().contains("START"));
    }

    #[test]
    fn statuses_only_move_forward() {
        let rank = |s| status_rank(s).expect("a known status");
        assert!(rank("queued") < rank("sent") && rank("sent") < rank("read") && rank("read") > rank("delivered"));
        assert!(rank("undelivered") > rank("delivered") && rank("failed") > rank("read"));
        assert_eq!(status_rank("bogus"), None);
        assert!(is_failed_status("failed") && !is_failed_status("read"));
        assert_eq!(status_rank("received"), None);
    }

    #[test]
    fn bad_configuration_is_refused_without_the_token() {
        let token = || SecretString::from("tok-secret-123456");
        let t = Duration::from_secs(5);
        let e = TwilioClient::new("api.twilio.com", "AC1", token(), t).expect_err("no scheme");
        assert!(e.to_string().contains("api_base"), "{e}");
        let e = TwilioClient::new("https://u:p@api.twilio.com", "AC1", token(), t).expect_err("credentials");
        assert!(!e.to_string().contains(":p@"), "{e}");
        let e = TwilioClient::new(DEFAULT_API_BASE, "AC/../x", token(), t).expect_err("path characters");
        assert!(e.to_string().contains("account SID"), "{e}");
        let client = TwilioClient::new("https://api.twilio.com/", "AC1", token(), t).expect("valid");
        assert_eq!(client.messages_url, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json");
        assert!(!format!("{client:?}").contains("tok-secret"));
    }
}
