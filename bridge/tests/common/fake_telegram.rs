//! A fake Telegram Bot API speaking real HTTP on loopback, for the client's tests and for tests that run the real
//! `redflag-bridge` binary.
//!
//! Same shape as the fake Twilio: axum on its own thread and runtime, every request recorded before it is answered,
//! stopped on drop. `POST /bot<token>/sendMessage` is checked the way Telegram checks it (token when
//! [`FakeTelegram::require_token`] was called, `chat_id`, 1 to 4096 characters of text, `parse_mode`), then answered
//! by a per-chat rule ([`FakeTelegram::fail_chat`]), else the next scripted failure ([`FakeTelegram::fail_next`]),
//! else `{"ok":true,"result":{"message_id":N,…}}` with a fresh id. `getMe`, `setWebhook`, `deleteWebhook` and
//! `getWebhookInfo` succeed so a bridge can set itself up; other methods get Telegram's 404. Bodies may be JSON or a
//! form, as Telegram accepts both. Shapes follow `../shared/protocol/telegram_fixtures.json`, which also gives the
//! update builders ([`text_update`], [`media_update`]) for webhook tests.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A token for tests; any other well-formed one is accepted too unless [`FakeTelegram::require_token`] says
/// otherwise.
pub const BOT_TOKEN: &str = "7000000001:AAFakeTelegramTokenForTests_0123456789";
/// The fake bot's own user id (the number before the colon of [`BOT_TOKEN`]).
pub const BOT_ID: i64 = 7000000001;

/// How the fake answers a `sendMessage` instead of sending it.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// 429 with `parameters.retry_after` (the fixture's exact body).
    RateLimited { retry_after: u32 },
    /// 403 "Forbidden: bot was blocked by the user".
    Blocked,
    /// 400 "Bad Request: chat not found".
    ChatNotFound,
    /// Any Bot API error: `{"ok":false,"error_code":code,"description":…}` with HTTP status `code`.
    Error { code: u16, description: String },
    /// 502 with nginx's HTML page, as Telegram's front end sends when the back end is down.
    BadGateway,
    /// Sends the message, but only after this delay (for client timeouts).
    Slow(Duration),
    /// Accepts the request and never answers.
    Hang,
}

/// How the fake answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `ok: true`; for `sendMessage`, the new message's id.
    Ok {
        message_id: Option<i64>,
    },
    /// `ok: false` (or a non-JSON error page) with this status.
    Failed {
        status: u16,
    },
    Hung,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct TelegramRequest {
    pub http_method: String,
    pub path: String,
    /// From `/bot<token>/<method>`.
    pub token: Option<String>,
    /// The Bot API method, e.g. `sendMessage`.
    pub method: Option<String>,
    /// The JSON body, or a form body as a JSON object of strings; `Value::Null` if neither.
    pub body: Value,
    pub at: Instant,
    pub answer: Answer,
}

impl TelegramRequest {
    /// `chat_id`, whether sent as a number or a string.
    pub fn chat_id(&self) -> Option<i64> {
        match &self.body["chat_id"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        self.body["text"].as_str()
    }

    pub fn parse_mode(&self) -> Option<&str> {
        self.body["parse_mode"].as_str()
    }

    pub fn message_id(&self) -> Option<i64> {
        match self.answer {
            Answer::Ok { message_id } => message_id,
            _ => None,
        }
    }

    fn is_send(&self) -> bool {
        self.method.as_deref() == Some("sendMessage")
    }
}

#[derive(Debug, Default)]
struct Shared {
    requests: Vec<TelegramRequest>,
    script: VecDeque<Failure>,
    rules: Vec<(i64, Failure)>,
    token: Option<String>,
    next_message_id: i64,
    /// Files `getFile` hands over: file id to (file path, bytes).
    files: std::collections::HashMap<String, (String, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Inner {
    shared: Mutex<Shared>,
    /// Signalled on every recorded request, for [`FakeTelegram::wait_for`].
    changed: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A test that panicked while holding the lock must not hide its own failure behind a poison error.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running server; dropping it stops the server.
#[derive(Debug)]
pub struct FakeTelegram {
    base_url: String,
    inner: Arc<Inner>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeTelegram {
    pub fn start() -> Self {
        let inner = Arc::new(Inner::default());
        inner.lock().next_message_id = 1000;
        // Bound here, not on the server thread, so the port is known (and listening) before `start` returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener for tokio");
        let port = listener.local_addr().expect("bound address").port();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle_request).with_state(inner.clone());
        let thread = std::thread::Builder::new()
            .name("fake-telegram".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the fake server");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    // Not a graceful shutdown: a `Hang` request would hold it forever.
                    tokio::select! {
                        _ = async { axum::serve(listener, app).await } => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the fake server thread");
        FakeTelegram {
            base_url: format!("http://127.0.0.1:{port}"),
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for the Telegram `api_base`.
    /// Hand over `bytes` as the file `file_id` (a photo someone sent): `getFile` gives its path, and the download
    /// URL serves it, as Telegram does.
    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>) {
        let mut s = self.inner.lock();
        let path = format!("photos/file_{}.jpg", s.files.len());
        s.files.insert(file_id.to_string(), (path, bytes));
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Answers 401 "Unauthorized" to any request whose path token is not exactly `token`.
    pub fn require_token(&self, token: &str) {
        self.inner.lock().token = Some(token.to_string());
    }

    /// The next `n` valid `sendMessage` calls to chats without a rule fail with `failure`, after those already
    /// scripted.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.inner.lock().script.extend(std::iter::repeat_n(failure, n));
    }

    /// Every `sendMessage` to `chat_id` fails with `failure`, before any script (e.g. a user who blocked the bot).
    pub fn fail_chat(&self, chat_id: i64, failure: Failure) {
        let mut s = self.inner.lock();
        s.rules.retain(|(c, _)| *c != chat_id);
        s.rules.push((chat_id, failure));
    }

    pub fn clear_failures(&self) {
        let mut s = self.inner.lock();
        s.rules.clear();
        s.script.clear();
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<TelegramRequest> {
        self.inner.lock().requests.clone()
    }

    /// Every `sendMessage`, whatever the answer: retries show up as several calls.
    pub fn messages(&self) -> Vec<TelegramRequest> {
        self.inner.lock().requests.iter().filter(|r| r.is_send()).cloned().collect()
    }

    /// The `sendMessage` calls the fake answered with `ok: true`.
    pub fn sent(&self) -> Vec<TelegramRequest> {
        self.messages().into_iter().filter(|r| r.message_id().is_some()).collect()
    }

    /// Blocks until at least `n` `sendMessage` calls were recorded and returns all of them; panics after
    /// `timeout`, listing what came. From async code use [`FakeTelegram::wait_for_async`].
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<TelegramRequest> {
        let deadline = Instant::now() + timeout;
        let mut s = self.inner.lock();
        loop {
            let sends: Vec<TelegramRequest> = s.requests.iter().filter(|r| r.is_send()).cloned().collect();
            if sends.len() >= n {
                return sends;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("expected {n} sendMessage calls within {timeout:?}, got {}: {sends:#?}", sends.len());
            }
            s = self.inner.changed.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    pub async fn wait_for_async(&self, n: usize, timeout: Duration) -> Vec<TelegramRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let sends = self.messages();
            if sends.len() >= n {
                return sends;
            }
            if Instant::now() >= deadline {
                panic!("expected {n} sendMessage calls within {timeout:?}, got {}: {sends:#?}", sends.len());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A text message update shaped like the fixture's `update_text_message.body`, from user `chat_id` in the private
/// chat `chat_id`.
pub fn text_update(update_id: i64, chat_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1_000_000,
            "from": { "id": chat_id, "is_bot": false, "first_name": "Ana", "language_code": "en" },
            "chat": { "id": chat_id, "first_name": "Ana", "type": "private" },
            "date": 1732450000,
            "text": text,
        }
    })
}

/// A photo update with an optional caption (no `text`).
pub fn media_update(update_id: i64, chat_id: i64, caption: Option<&str>) -> Value {
    let mut update = text_update(update_id, chat_id, "");
    let message = &mut update["message"];
    if let Some(m) = message.as_object_mut() {
        m.remove("text");
    }
    message["photo"] = json!([{ "file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90 }]);
    if let Some(caption) = caption {
        message["caption"] = caption.into();
    }
    update
}

enum Plan {
    Reply(Response),
    Sent { request: TelegramRequest, delay: Option<Duration> },
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
        Plan::Sent { request, delay } => {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            sent(&request)
        }
    }
}

fn decide(s: &mut Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (TelegramRequest, Plan) {
    let (token, api_method) = match uri.path().strip_prefix("/bot").and_then(|rest| rest.split_once('/')) {
        Some((token, m)) => (Some(token.to_string()), Some(m.to_string())),
        None => (None, None),
    };
    let mut request = TelegramRequest {
        http_method: method.to_string(),
        path: uri.path().to_string(),
        token,
        method: api_method,
        body: parse_body(headers, body, uri.query()),
        at: Instant::now(),
        answer: Answer::Hung,
    };
    let plan = plan(s, &request);
    request.answer = match &plan {
        Plan::Reply(r) if r.status().is_success() => Answer::Ok { message_id: None },
        Plan::Reply(r) => Answer::Failed { status: r.status().as_u16() },
        Plan::Sent { request, .. } => Answer::Ok { message_id: request.message_id() },
        Plan::Hang => Answer::Hung,
    };
    (request, plan)
}

/// JSON, else a form, else the query string: the three ways the Bot API takes parameters.
fn parse_body(headers: &HeaderMap, body: &[u8], query: Option<&str>) -> Value {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("application/json") {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    }
    let pairs: Vec<(String, String)> = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(body).into_owned().collect()
    } else {
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
    };
    if pairs.is_empty() {
        return Value::Null;
    }
    Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

fn plan(s: &mut Shared, r: &TelegramRequest) -> Plan {
    // A file download: `/file/bot<token>/<file_path>`, with the path `getFile` gave.
    if let Some((token, path)) = r.path.strip_prefix("/file/bot").and_then(|rest| rest.split_once('/')) {
        if s.token.as_ref().is_some_and(|t| t != token) {
            return Plan::Reply(error(401, "Unauthorized", None));
        }
        return match s.files.values().find(|(p, _)| p == path) {
            Some((_, bytes)) => Plan::Reply(bytes.clone().into_response()),
            None => Plan::Reply(error(404, "Not Found", None)),
        };
    }
    let (Some(token), Some(method)) = (&r.token, &r.method) else {
        return Plan::Reply(error(404, "Not Found", None));
    };
    let well_formed = token.split_once(':').is_some_and(|(id, _)| id.parse::<i64>().is_ok());
    let expected = s.token.as_ref().is_none_or(|t| t == token);
    if !well_formed || !expected {
        return Plan::Reply(error(401, "Unauthorized", None));
    }
    match method.as_str() {
        "sendMessage" => {}
        "getMe" => {
            return Plan::Reply(ok(
                json!({ "id": BOT_ID, "is_bot": true, "first_name": "ScamCheck", "username": "scamcheck_bot" }),
            ));
        }
        "getFile" => {
            let id = r.body.get("file_id").and_then(Value::as_str).unwrap_or_default();
            return Plan::Reply(match s.files.get(id) {
                Some((path, bytes)) => ok(json!({
                    "file_id": id, "file_unique_id": format!("u{id}"), "file_size": bytes.len(), "file_path": path,
                })),
                None => error(400, "Bad Request: invalid file_id", None),
            });
        }
        "setWebhook" => return Plan::Reply(ok_described(json!(true), "Webhook was set")),
        "deleteWebhook" => return Plan::Reply(ok_described(json!(true), "Webhook was deleted")),
        "getWebhookInfo" => {
            return Plan::Reply(ok(json!({ "url": "", "has_custom_certificate": false, "pending_update_count": 0 })));
        }
        _ => return Plan::Reply(error(404, "Not Found", None)),
    }
    // Telegram's own checks, in the order it reports them.
    let Some(chat_id) = r.chat_id() else {
        return Plan::Reply(error(400, "Bad Request: chat_id is empty", None));
    };
    let text = r.text().unwrap_or_default();
    if text.trim().is_empty() {
        return Plan::Reply(error(400, "Bad Request: message text is empty", None));
    }
    if text.chars().count() > 4096 {
        return Plan::Reply(error(400, "Bad Request: message is too long", None));
    }
    if let Some(mode) = r.parse_mode() {
        if !["HTML", "Markdown", "MarkdownV2"].contains(&mode) {
            return Plan::Reply(error(400, &format!("Bad Request: unsupported parse_mode \"{mode}\""), None));
        }
    }
    let failure = match s.rules.iter().find(|(c, _)| *c == chat_id) {
        Some((_, f)) => Some(f.clone()),
        None => s.script.pop_front(),
    };
    let delay = match failure {
        None => None,
        Some(Failure::Slow(d)) => Some(d),
        Some(Failure::Hang) => return Plan::Hang,
        Some(f) => return Plan::Reply(failure_response(&f)),
    };
    s.next_message_id += 1;
    let mut sent = r.clone();
    sent.answer = Answer::Ok { message_id: Some(s.next_message_id) };
    Plan::Sent { request: sent, delay }
}

fn failure_response(f: &Failure) -> Response {
    match f {
        Failure::RateLimited { retry_after } => error(
            429,
            &format!("Too Many Requests: retry after {retry_after}"),
            Some(json!({ "retry_after": retry_after })),
        ),
        Failure::Blocked => error(403, "Forbidden: bot was blocked by the user", None),
        Failure::ChatNotFound => error(400, "Bad Request: chat not found", None),
        Failure::Error { code, description } => error(*code, description, None),
        Failure::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>\
             </center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
        )
            .into_response(),
        // Handled by the caller; answered like a server error should one get here.
        Failure::Slow(_) | Failure::Hang => error(500, "Internal Server Error", None),
    }
}

/// The fixture's `send_message.response_ok`, for this request.
fn sent(r: &TelegramRequest) -> Response {
    let date = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    ok(json!({
        "message_id": r.message_id(),
        "from": { "id": BOT_ID, "is_bot": true, "first_name": "ScamCheck", "username": "scamcheck_bot" },
        "chat": { "id": r.chat_id(), "type": if r.chat_id().is_some_and(|c| c < 0) { "group" } else { "private" } },
        "date": date,
        "text": r.text(),
    }))
}

fn ok(result: Value) -> Response {
    reply(200, &json!({ "ok": true, "result": result }))
}

fn ok_described(result: Value, description: &str) -> Response {
    reply(200, &json!({ "ok": true, "result": result, "description": description }))
}

fn error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    reply(code, &body)
}

fn reply(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}
