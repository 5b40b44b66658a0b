//! A fake OpenAI-compatible Chat Completions server speaking real HTTP on loopback, for the LLM client's tests and
//! the CLI's integration tests.
//!
//! It runs axum on its own thread with its own tokio runtime, so it serves async library tests and sync tests that
//! spawn the `redflag` binary alike, and it stops when dropped (a hanging request included). Every request is
//! recorded before it is answered, so a test can assert what went on the wire and how many calls were made. The
//! answer follows a [`Behaviour`]: the next one in the script if any, else the default. Bodies use the exact shapes
//! of `../shared/protocol/openai_fixtures.json`.

#![allow(dead_code)] // each test file uses a different part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the fake answers one call.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A good structured answer with usage {prompt 120, cached 0, completion 40}; content is a JSON string.
    Verdict { label: &'static str, probability: f64, reasons: Vec<(String, String)> },
    /// 400 about `response_format` `json_schema` when the request asks for `json_schema`; a good verdict otherwise.
    RejectJsonSchema,
    /// Free text without JSON when the request asks for `json_schema`; a good verdict for `json_object` or none.
    IgnoreSchema,
    /// Broken JSON content, every time (billed like a good answer).
    Malformed,
    /// `message.refusal` set, content null.
    Refusal,
    /// `finish_reason: length` with cut JSON.
    Truncated,
    /// 429 `rate_limit_exceeded` with `retry-after-ms` and `retry-after` headers.
    RateLimited { retry_after_ms: u64 },
    /// 429 "Request too large" (also code `rate_limit_exceeded`, but retrying never helps).
    RequestTooLarge,
    /// 429 `insufficient_quota`.
    InsufficientQuota,
    /// 401 `invalid_api_key`, quoting the key masked the way OpenAI does.
    Unauthorized,
    /// 500 `server_error`.
    ServerError,
    /// Accepts the request and never answers.
    Hang,
    /// A good verdict billed like the real API would bill it: prompt tokens = the request's message bytes / 4 (plus
    /// 4 per message), completion tokens = the answer's bytes / 4. For cost measurements.
    Billed { label: &'static str, probability: f64 },
    /// Anything else: a status, extra headers and a JSON body.
    Raw { status: u16, headers: Vec<(&'static str, String)>, body: Value },
}

/// A good verdict with one reason.
pub fn verdict(label: &'static str, probability: f64) -> Behaviour {
    Behaviour::Verdict {
        label,
        probability,
        reasons: vec![("Asks for a fee before the job starts".to_string(), "pay the training fee".to_string())],
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body, `Value::Null` when it was not JSON.
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// `response_format.type`, if the request set one.
    pub fn response_format(&self) -> Option<&str> {
        self.body["response_format"]["type"].as_str()
    }
}

#[derive(Debug)]
struct Shared {
    default: Behaviour,
    script: VecDeque<Behaviour>,
    requests: Vec<Recorded>,
}

/// The running server; dropping it stops the server.
#[derive(Debug)]
pub struct FakeOpenAi {
    /// `http://127.0.0.1:PORT/v1`, the value for `llm.base_url`.
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeOpenAi {
    pub fn start(default: Behaviour) -> Self {
        let shared = Arc::new(Mutex::new(Shared { default, script: VecDeque::new(), requests: Vec::new() }));
        // Bound here, not on the server thread, so the port is known (and listening) before `start` returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener for tokio");
        let port = listener.local_addr().expect("bound address").port();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("fake-openai".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the fake server");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    // Not a graceful shutdown: a `Hang` request would hold it forever. Dropping the runtime at the
                    // end of this thread cancels the connections still open.
                    tokio::select! {
                        _ = async { axum::serve(listener, app).await } => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the fake server thread");
        FakeOpenAi {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Replaces the default behaviour (the script, if any, still goes first).
    pub fn set(&self, b: Behaviour) {
        self.lock().default = b;
    }

    /// Behaviours for the next calls, one per call, before the default applies again.
    pub fn script(&self, bs: Vec<Behaviour>) {
        self.lock().script = bs.into();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn calls(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn last_request(&self) -> Option<Recorded> {
        self.lock().requests.last().cloned()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A test that panicked while holding the lock must not hide its own failure behind a poison error.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let behaviour = {
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        s.requests.push(recorded.clone());
        if method != Method::POST || recorded.path != "/v1/chat/completions" {
            // OpenAI's answer to an unknown route; it does not consume the script.
            let message = format!("Invalid URL ({method} {})", recorded.path);
            return reply(404, &[], error_body(&message, "invalid_request_error", None, None));
        }
        s.script.pop_front().unwrap_or_else(|| s.default.clone())
    };
    answer(behaviour, &recorded).await
}

async fn answer(behaviour: Behaviour, req: &Recorded) -> Response {
    let model = req.body["model"].as_str().unwrap_or("unknown");
    let asks_schema = req.response_format() == Some("json_schema");
    let good = || verdict_content("scam", 0.9, &[("Asks for a fee".into(), "fee".into())]);
    match behaviour {
        Behaviour::Verdict { label, probability, reasons } => {
            completion(model, Some(verdict_content(label, probability, &reasons)), None, "stop")
        }
        Behaviour::Billed { label, probability } => {
            let content = verdict_content(label, probability, &[("Vague offer of easy money".into(), String::new())]);
            let messages = req.body["messages"].as_array().map_or(&[][..], Vec::as_slice);
            let prompt: usize = messages.iter().map(|m| m["content"].as_str().map_or(0, str::len) / 4 + 4).sum();
            let completion_tokens = content.len() / 4;
            completion_billed(model, Some(content), None, "stop", (prompt, completion_tokens))
        }
        Behaviour::RejectJsonSchema if asks_schema => reply(
            400,
            &[],
            error_body(
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                "invalid_request_error",
                Some("response_format"),
                None,
            ),
        ),
        Behaviour::IgnoreSchema if asks_schema => completion(
            model,
            Some("This message shows several signs of a job scam: it asks for money before any work.".into()),
            None,
            "stop",
        ),
        Behaviour::RejectJsonSchema | Behaviour::IgnoreSchema => completion(model, Some(good()), None, "stop"),
        Behaviour::Malformed => completion(
            model,
            Some(r#"{"label": "scam", "scam_probability": 0.9, "reasons": [{"reason": "#.into()),
            None,
            "stop",
        ),
        Behaviour::Refusal => completion(model, None, Some("I'm sorry, I can't help with that."), "stop"),
        Behaviour::Truncated => completion(
            model,
            Some(r#"{"label": "scam", "scam_probability": 0.9, "reasons": [{"reas"#.into()),
            None,
            "length",
        ),
        Behaviour::RateLimited { retry_after_ms } => reply(
            429,
            &[
                ("retry-after-ms", retry_after_ms.to_string()),
                ("retry-after", format!("{}", retry_after_ms as f64 / 1000.0)),
                ("x-ratelimit-limit-tokens", "200000".into()),
                ("x-ratelimit-remaining-tokens", "0".into()),
                ("x-ratelimit-reset-tokens", format!("{retry_after_ms}ms")),
            ],
            error_body(
                "Rate limit reached for gpt-4o-mini in organization org-XXXX on tokens per min (TPM): Limit 200000, \
                 Used 162960, Requested 42288. Please try again in 1.574s. Visit \
                 https://platform.openai.com/account/rate-limits to learn more.",
                "tokens",
                None,
                Some("rate_limit_exceeded"),
            ),
        ),
        Behaviour::RequestTooLarge => reply(
            429,
            &[],
            error_body(
                "Request too large for gpt-4o in organization org-XXXX on tokens per min (TPM): Limit 30000, \
                 Requested 31538. The input or output tokens must be reduced in order to run successfully. Visit \
                 https://platform.openai.com/account/rate-limits to learn more.",
                "tokens",
                None,
                Some("rate_limit_exceeded"),
            ),
        ),
        Behaviour::InsufficientQuota => reply(
            429,
            &[],
            error_body(
                "You exceeded your current quota, please check your plan and billing details. For more information \
                 on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            ),
        ),
        Behaviour::Unauthorized => {
            let message = match req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")) {
                Some(key) => format!(
                    "Incorrect API key provided: {}. You can find your API key at \
                     https://platform.openai.com/account/api-keys.",
                    mask(key)
                ),
                None => "You didn't provide an API key.".to_string(),
            };
            reply(401, &[], error_body(&message, "invalid_request_error", None, Some("invalid_api_key")))
        }
        Behaviour::ServerError => reply(
            500,
            &[],
            error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
        ),
        Behaviour::Hang => std::future::pending::<Response>().await,
        Behaviour::Raw { status, headers, body } => reply(status, &headers, body),
    }
}

/// OpenAI's mask: the first characters and the last four, stars between.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

fn verdict_content(label: &str, probability: f64, reasons: &[(String, String)]) -> String {
    let reasons: Vec<Value> = reasons.iter().map(|(r, q)| json!({ "reason": r, "quote": q })).collect();
    json!({ "label": label, "scam_probability": probability, "reasons": reasons }).to_string()
}

/// A chat completion in the fixture's shape: usage {prompt 120, cached 0, completion 40}.
fn completion(model: &str, content: Option<String>, refusal: Option<&str>, finish_reason: &str) -> Response {
    completion_billed(model, content, refusal, finish_reason, (120, 40))
}

/// A chat completion with the given (prompt, completion) token usage.
fn completion_billed(
    model: &str,
    content: Option<String>,
    refusal: Option<&str>,
    finish_reason: &str,
    (prompt_tokens, completion_tokens): (usize, usize),
) -> Response {
    let body = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1741569952,
        "model": format!("{model}-2024-07-18"),
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content, "refusal": refusal, "annotations": [] },
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0 },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    });
    reply(200, &[("x-request-id", "req_fake".into())], body)
}

fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

fn reply(status: u16, headers: &[(&'static str, String)], body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}
