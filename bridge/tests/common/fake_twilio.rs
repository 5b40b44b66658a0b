//! A fake Twilio Messages API speaking real HTTP on loopback, for the client's tests and for tests that run the real
//! `redflag-bridge` binary.
//!
//! It runs axum on its own thread with its own tokio runtime, so it serves async tests and sync tests that spawn the
//! binary alike, and it stops when dropped (hanging requests included). Every request is recorded before it is
//! answered. `POST /2010-04-01/Accounts/{sid}/Messages.json` is checked the way Twilio checks it (credentials when
//! [`FakeTwilio::require_auth`] was called, form body, `To`, `From`, a body or template, 1,600 characters), then
//! answered by the first rule that applies: a per-recipient rule ([`FakeTwilio::fail_to`]), else the next scripted
//! failure ([`FakeTwilio::fail_next`]), else success: 201 with the fixture's message resource and a fresh `SM` sid.
//!
//! After a success it can also play Twilio's status callbacks ([`FakeTwilio::set_callbacks`]) to the message's
//! `StatusCallback`, signed with the auth token the request used, and [`Failure::FailLater`] reports a failure
//! that way, as Twilio does for most WhatsApp errors (63016 included). Shapes follow
//! `../shared/protocol/twilio_fixtures.json`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::Mac as _;
use serde_json::{Value, json};

/// Credentials for tests; any others are accepted too unless [`FakeTwilio::require_auth`] says otherwise.
pub const ACCOUNT_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const AUTH_TOKEN: &str = "fake-twilio-auth-token-0123456789";

/// How the fake answers a send instead of taking the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A Twilio error in the legacy shape `{code, message, more_info, status}`.
    Error { status: u16, code: u32, message: String },
    /// A Twilio error in the RFC 9457 shape `{type, title, status, code, detail, instance}`.
    Problem { status: u16, code: u32, detail: String },
    /// 429 with code 20429, and `Retry-After: <secs>` when set.
    RateLimited { retry_after: Option<u32> },
    /// 500 with code 20500.
    ServerError,
    /// Any status with any body, e.g. a proxy's HTML 502 page.
    Raw { status: u16, content_type: String, body: String },
    /// Takes the message, but only after this delay (for client timeouts).
    Slow(Duration),
    /// Accepts the request and never answers.
    Hang,
    /// Takes the message (201 `queued`), then posts a `failed` status callback with this `ErrorCode` to its
    /// `StatusCallback`, if it has one. This is how Twilio reports most WhatsApp failures, 63016 included.
    FailLater { code: u32 },
}

impl Failure {
    /// 400, 21211: "The 'To' number … is not a valid phone number."
    pub fn invalid_number() -> Self {
        Failure::Error { status: 400, code: 21211, message: "The 'To' number is not a valid phone number.".into() }
    }

    /// 400, 63016: a free-form WhatsApp message outside the 24-hour window, refused at once.
    pub fn outside_window() -> Self {
        Failure::Error {
            status: 400,
            code: 63016,
            message: "Failed to send freeform message because you are outside the allowed window. If you are using \
                      WhatsApp, please use a Message Template."
                .into(),
        }
    }

    /// 400, 21610: the recipient replied STOP.
    pub fn unsubscribed() -> Self {
        Failure::Error { status: 400, code: 21610, message: "Attempt to send to unsubscribed recipient".into() }
    }

    /// 401, 20003: wrong account SID or auth token.
    pub fn auth_failed() -> Self {
        Failure::Error { status: 401, code: 20003, message: "Authenticate".into() }
    }
}

/// How the fake answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 201 with this message sid.
    Created { sid: String },
    /// An error status with this Twilio code (`None` for [`Failure::Raw`]).
    Failed { status: u16, code: Option<u32> },
    /// [`Failure::Hang`]: no answer.
    Hung,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct TwilioRequest {
    pub method: String,
    pub path: String,
    /// The `{AccountSid}` of a Messages path.
    pub account_sid: Option<String>,
    /// Decoded from `Authorization: Basic`.
    pub auth_user: Option<String>,
    pub auth_password: Option<String>,
    pub content_type: Option<String>,
    /// The form body, in order, repeated names included.
    pub params: Vec<(String, String)>,
    pub at: Instant,
    pub answer: Answer,
}

impl TwilioRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn to(&self) -> Option<&str> {
        self.param("To")
    }

    pub fn body(&self) -> Option<&str> {
        self.param("Body")
    }

    /// The sid the fake gave the message, if it took it.
    pub fn sid(&self) -> Option<&str> {
        match &self.answer {
            Answer::Created { sid } => Some(sid),
            _ => None,
        }
    }

    pub fn is_send(&self) -> bool {
        self.method == "POST" && self.account_sid.is_some()
    }
}

/// One status callback the fake posted.
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: String,
    pub params: Vec<(String, String)>,
    /// The receiver's HTTP status; `None` if it could not be reached.
    pub status: Option<u16>,
}

impl Callback {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Shared {
    requests: Vec<TwilioRequest>,
    script: VecDeque<Failure>,
    rules: Vec<(String, Failure)>,
    auth: Option<(String, String)>,
    callbacks: Vec<&'static str>,
    posted: Vec<Callback>,
    next_sid: u64,
    /// Media served at their path: the bytes and their content type.
    media: std::collections::HashMap<String, (Vec<u8>, String)>,
}

#[derive(Debug, Default)]
struct Inner {
    shared: Mutex<Shared>,
    /// Signalled on every recorded request and posted callback, for the `wait_for` helpers.
    changed: Condvar,
    http: reqwest::Client,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A test that panicked while holding the lock must not hide its own failure behind a poison error.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running server; dropping it stops the server.
#[derive(Debug)]
pub struct FakeTwilio {
    base_url: String,
    inner: Arc<Inner>,
    runtime: tokio::runtime::Handle,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeTwilio {
    pub fn start() -> Self {
        let inner = Arc::new(Inner::default());
        // Bound here, not on the server thread, so the port is known (and listening) before `start` returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener for tokio");
        let port = listener.local_addr().expect("bound address").port();
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the fake server");
        let handle = runtime.handle().clone();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle_request).with_state(inner.clone());
        let thread = std::thread::Builder::new()
            .name("fake-twilio".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    // Not a graceful shutdown: a `Hang` request would hold it forever. Dropping the runtime at the
                    // end of this thread cancels the connections and callbacks still open.
                    tokio::select! {
                        _ = async { axum::serve(listener, app).await } => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the fake server thread");
        FakeTwilio {
            base_url: format!("http://127.0.0.1:{port}"),
            inner,
            runtime: handle,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for the Twilio `api_base`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Answers 401/20003 to any send whose basic auth is not exactly `user:password`.
    pub fn require_auth(&self, user: &str, password: &str) {
        self.inner.lock().auth = Some((user.to_string(), password.to_string()));
    }

    /// The next `n` sends that pass validation and no recipient rule fail with `failure`, after those already
    /// scripted.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        let mut s = self.inner.lock();
        s.script.extend(std::iter::repeat_n(failure, n));
    }

    /// Every send to `to` (compared exactly, e.g. `whatsapp:+14155550123`) fails with `failure`, before any script.
    /// A later rule for the same `to` replaces the earlier one.
    pub fn fail_to(&self, to: &str, failure: Failure) {
        let mut s = self.inner.lock();
        s.rules.retain(|(t, _)| t != to);
        s.rules.push((to.to_string(), failure));
    }

    /// Removes the recipient rules and the scripted failures that are left.
    pub fn clear_failures(&self) {
        let mut s = self.inner.lock();
        s.rules.clear();
        s.script.clear();
    }

    /// Statuses posted, in order, to the `StatusCallback` of every message taken from now on, e.g.
    /// `&["sent", "delivered", "read"]`. None by default.
    pub fn set_callbacks(&self, statuses: &[&'static str]) {
        self.inner.lock().callbacks = statuses.to_vec();
    }

    /// Serve `bytes` as an inbound message's media, as Twilio does at its `MediaUrl0`, to callers with the
    /// account's credentials (Twilio's "HTTP basic auth for media"); returns the URL.
    pub fn add_media(&self, name: &str, bytes: Vec<u8>, content_type: &str) -> String {
        let path = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{name}/Media/ME{name}");
        self.inner.lock().media.insert(path.clone(), (bytes, content_type.to_string()));
        format!("{}{path}", self.base_url)
    }

    /// Every request, sends or not, in arrival order.
    pub fn requests(&self) -> Vec<TwilioRequest> {
        self.inner.lock().requests.clone()
    }

    /// Every send (POST to a Messages path), whatever the answer: retries show up as several sends.
    pub fn messages(&self) -> Vec<TwilioRequest> {
        self.inner.lock().requests.iter().filter(|r| r.is_send()).cloned().collect()
    }

    /// The sends the fake took (201).
    pub fn sent(&self) -> Vec<TwilioRequest> {
        self.messages().into_iter().filter(|r| r.sid().is_some()).collect()
    }

    /// Status callbacks posted so far (their delivery finished, whatever the outcome).
    pub fn callbacks(&self) -> Vec<Callback> {
        self.inner.lock().posted.clone()
    }

    /// Blocks until at least `n` sends were recorded and returns all of them; panics after `timeout`, listing what
    /// came. For sync tests; from async code use [`FakeTwilio::wait_for_async`], which does not block the runtime.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<TwilioRequest> {
        let deadline = Instant::now() + timeout;
        let mut s = self.inner.lock();
        loop {
            let sends: Vec<TwilioRequest> = s.requests.iter().filter(|r| r.is_send()).cloned().collect();
            if sends.len() >= n {
                return sends;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("expected {n} sends to the fake Twilio within {timeout:?}, got {}: {sends:#?}", sends.len());
            }
            s = self.inner.changed.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    pub async fn wait_for_async(&self, n: usize, timeout: Duration) -> Vec<TwilioRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let sends = self.messages();
            if sends.len() >= n {
                return sends;
            }
            if Instant::now() >= deadline {
                panic!("expected {n} sends to the fake Twilio within {timeout:?}, got {}: {sends:#?}", sends.len());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Posts one status callback for a message the fake took, as Twilio would: to its `StatusCallback`, signed
    /// with the auth token it was sent with. For out-of-order and failure scenarios. Returns the receiver's status.
    pub async fn post_callback(&self, sid: &str, status: &str, error_code: Option<u32>) -> Option<u16> {
        let request = self.sent().into_iter().find(|r| r.sid() == Some(sid)).expect("a message the fake took");
        let inner = self.inner.clone();
        let status = status.to_string();
        // Run on the fake's own runtime, so the caller's runtime (maybe a current-thread test runtime) only awaits.
        let task = self.runtime.spawn(async move { post_status(&inner, &request, &status, error_code).await });
        task.await.expect("the callback task")
    }

    /// [`FakeTwilio::post_callback`] for sync tests.
    pub fn post_callback_blocking(&self, sid: &str, status: &str, error_code: Option<u32>) -> Option<u16> {
        let request = self.sent().into_iter().find(|r| r.sid() == Some(sid)).expect("a message the fake took");
        let inner = self.inner.clone();
        let status = status.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(post_status(&inner, &request, &status, error_code).await);
        });
        rx.recv().expect("the callback task")
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What to do with a request, decided under the lock when it is recorded.
enum Plan {
    Reply(Response),
    Created { request: TwilioRequest, delay: Option<Duration>, callbacks: Vec<(String, Option<u32>)> },
    Hang,
}

async fn handle_request(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plan = {
        let mut s = inner.lock();
        let (request, plan) = decide(&mut s, &method, &uri, &headers, &body);
        s.requests.push(request);
        inner.changed.notify_all();
        plan
    };
    match plan {
        Plan::Reply(response) => response,
        Plan::Hang => std::future::pending::<Response>().await,
        Plan::Created { request, delay, callbacks } => {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let response = created(&request);
            if !callbacks.is_empty() {
                tokio::spawn(async move {
                    // After the 201 has gone out, the way Twilio's callbacks follow its answer.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    for (status, code) in callbacks {
                        post_status(&inner, &request, &status, code).await;
                    }
                });
            }
            response
        }
    }
}

fn decide(s: &mut Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (TwilioRequest, Plan) {
    let (auth_user, auth_password) = basic_auth(headers);
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let is_form = content_type.as_deref().is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params: Vec<(String, String)> =
        if is_form { form_urlencoded::parse(body).into_owned().collect() } else { Vec::new() };
    let account_sid = uri
        .path()
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|rest| rest.strip_suffix("/Messages.json"))
        .filter(|sid| !sid.is_empty() && !sid.contains('/'))
        .map(str::to_string);
    let mut request = TwilioRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        account_sid,
        auth_user,
        auth_password,
        content_type,
        params,
        at: Instant::now(),
        answer: Answer::Hung,
    };
    let plan = plan(s, &request, is_form);
    request.answer = match &plan {
        Plan::Reply(r) => Answer::Failed { status: r.status().as_u16(), code: reply_code(r) },
        Plan::Created { request: created, .. } => Answer::Created { sid: created.sid().unwrap_or_default().into() },
        Plan::Hang => Answer::Hung,
    };
    (request, plan)
}

fn plan(s: &mut Shared, r: &TwilioRequest, is_form: bool) -> Plan {
    if r.method == "GET"
        && let Some((bytes, content_type)) = s.media.get(&r.path)
    {
        let authorised = r.auth_user.as_deref() == Some(ACCOUNT_SID) && r.auth_password.as_deref() == Some(AUTH_TOKEN);
        if !authorised {
            return Plan::Reply(legacy(401, 20003, "Authenticate", &[]));
        }
        return Plan::Reply(([("content-type", content_type.clone())], bytes.clone()).into_response());
    }
    if !r.is_send() {
        let message = format!("The requested resource {} was not found", r.path);
        return Plan::Reply(legacy(404, 20404, &message, &[]));
    }
    if let Some((user, password)) = &s.auth {
        if r.auth_user.as_ref() != Some(user) || r.auth_password.as_ref() != Some(password) {
            return Plan::Reply(failure_response(&Failure::auth_failed()));
        }
    }
    // Twilio's own checks, in the order it reports them; a JSON body reads as a form without `To` (21604).
    let body_chars = r.param("Body").map_or(0, |b| b.chars().count());
    let invalid = if !is_form || r.to().is_none_or(str::is_empty) {
        Some((21604, "A 'To' phone number is required."))
    } else if r.param("From").is_none() && r.param("MessagingServiceSid").is_none() {
        Some((21603, "A 'From' phone number is required."))
    } else if ["Body", "ContentSid", "MediaUrl"].iter().all(|k| r.param(k).is_none_or(str::is_empty)) {
        Some((21619, "A text message body or media urls must be specified."))
    } else if body_chars > 1600 {
        Some((21617, "The concatenated message body exceeds the 1600 character limit."))
    } else {
        None
    };
    if let Some((code, message)) = invalid {
        return Plan::Reply(legacy(400, code, message, &[]));
    }
    let to = r.to().unwrap_or_default();
    let failure = match s.rules.iter().find(|(t, _)| t == to) {
        Some((_, f)) => Some(f.clone()),
        None => s.script.pop_front(),
    };
    let mut statuses: Vec<(String, Option<u32>)> = s.callbacks.iter().map(|c| (c.to_string(), None)).collect();
    let delay = match failure {
        None => None,
        Some(Failure::Slow(d)) => Some(d),
        Some(Failure::Hang) => return Plan::Hang,
        Some(Failure::FailLater { code }) => {
            statuses = vec![("failed".to_string(), Some(code))];
            None
        }
        Some(f) => return Plan::Reply(failure_response(&f)),
    };
    if r.param("StatusCallback").is_none() {
        statuses.clear();
    }
    s.next_sid += 1;
    let mut created = r.clone();
    created.answer = Answer::Created { sid: format!("SM{:032x}", s.next_sid) };
    Plan::Created { request: created, delay, callbacks: statuses }
}

fn failure_response(f: &Failure) -> Response {
    match f {
        Failure::Error { status, code, message } => legacy(*status, *code, message, &[]),
        Failure::Problem { status, code, detail } => {
            let body = json!({
                "type": format!("https://www.twilio.com/docs/errors/{code}"),
                "title": reason_phrase(*status),
                "status": status,
                "code": code,
                "detail": detail,
                "instance": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json",
            });
            json_reply(*status, &[("content-type", "application/problem+json")], &body)
        }
        Failure::RateLimited { retry_after } => {
            let header = retry_after.map(|s| s.to_string());
            let headers: Vec<(&str, &str)> = header.as_deref().map(|h| ("retry-after", h)).into_iter().collect();
            legacy(429, 20429, "Too Many Requests", &headers)
        }
        Failure::ServerError => legacy(500, 20500, "An internal server error has occurred", &[]),
        Failure::Raw { status, content_type, body } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [("content-type", content_type.clone())], body.clone()).into_response()
        }
        // Handled by the caller; answered like a server error should one get here.
        Failure::Slow(_) | Failure::Hang | Failure::FailLater { .. } => {
            legacy(500, 20500, "An internal server error has occurred", &[])
        }
    }
}

/// The 201 body of `rest_send.response_201_example`, for this request.
fn created(r: &TwilioRequest) -> Response {
    let sid = r.sid().unwrap_or_default();
    let account = r.account_sid.as_deref().unwrap_or(ACCOUNT_SID);
    let uri = format!("/2010-04-01/Accounts/{account}/Messages/{sid}");
    let date = "Thu, 24 Aug 2023 05:01:45 +0000";
    let body = json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": r.body().unwrap_or_default(),
        "date_created": date,
        "date_sent": null,
        "date_updated": date,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": r.param("From"),
        "messaging_service_sid": r.param("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": null,
        "sid": sid,
        "status": "queued",
        "subresource_uris": { "media": format!("{uri}/Media.json") },
        "to": r.to(),
        "uri": format!("{uri}.json"),
    });
    json_reply(201, &[], &body)
}

/// Posts one status callback for `r` (a request the fake took) and records it.
async fn post_status(inner: &Inner, r: &TwilioRequest, status: &str, error_code: Option<u32>) -> Option<u16> {
    let url = r.param("StatusCallback").unwrap_or_default().to_string();
    let sid = r.sid().unwrap_or_default();
    let to = r.to().unwrap_or_default();
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", r.account_sid.as_deref().unwrap_or(ACCOUNT_SID)),
        ("From", r.param("From").unwrap_or_default()),
        ("To", to),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(address) = to.strip_prefix("whatsapp:") {
        params.push(("ChannelPrefix".into(), "whatsapp".into()));
        params.push(("ChannelToAddress".into(), address.into()));
    }
    if let Some(code) = error_code {
        params.push(("ErrorCode".into(), code.to_string()));
        params.push(("ErrorMessage".into(), format!("Twilio error {code}")));
    }
    let token = inner.lock().auth.as_ref().map(|(_, p)| p.clone()).or_else(|| r.auth_password.clone());
    let signature = sign(token.as_deref().unwrap_or_default(), &url, &params);
    let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
    let result = inner
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
        .header("x-twilio-signature", signature)
        .header("i-twilio-idempotency-token", format!("{sid}-{status}"))
        .body(form)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let code = result.ok().map(|r| r.status().as_u16());
    inner.lock().posted.push(Callback { url, params, status: code });
    inner.changed.notify_all();
    code
}

/// Twilio's request signature (`../shared/protocol/twilio_vectors.json`): base64(HMAC-SHA1(auth token, the URL
/// without its fragment + each distinct name and value, sorted by name then value)).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut data = url.split('#').next().unwrap_or_default().to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn basic_auth(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let decoded = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, password)) => (Some(user.to_string()), Some(password.to_string())),
        None => (decoded, None),
    }
}

fn legacy(status: u16, code: u32, message: &str, headers: &[(&str, &str)]) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    });
    json_reply(status, headers, &body)
}

fn json_reply(status: u16, headers: &[(&str, &str)], body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [("content-type", "application/json")], body.to_string()).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (name.parse::<axum::http::HeaderName>(), value.parse()) {
            response.headers_mut().insert(name, value);
        }
    }
    // The Twilio code, kept for the request record without parsing the body back.
    if let Some(code) = body["code"].as_u64() {
        response.extensions_mut().insert(TwilioCode(code as u32));
    }
    response
}

#[derive(Debug, Clone, Copy)]
struct TwilioCode(u32);

fn reply_code(r: &Response) -> Option<u32> {
    r.extensions().get::<TwilioCode>().map(|c| c.0)
}

fn reason_phrase(status: u16) -> &'static str {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error")
}
