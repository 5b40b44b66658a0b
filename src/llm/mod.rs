//! The LLM tier's client (issue #4): one question — "is this text a job scam?" — asked of an OpenAI Chat
//! Completions endpoint (OpenAI itself, Ollama, a llama.cpp server) over reqwest with rustls.
//!
//! [`LlmClient::classify`] is a small loop with three exits. A valid verdict returns. A failure the next
//! [`ResponseFormat`] might fix (a 400 about `response_format`, or a 200 whose content is not a valid verdict)
//! moves to the next format at once: strict `json_schema`, then `json_object`, then the prompt alone; the format
//! that worked is remembered so a server that rejected `json_schema` once is not probed on every call. A transient
//! failure (rate limit, 5xx, network) is retried at most `max_retries` times in the whole call, honouring the
//! server's `retry-after`; everything else is an [`LlmError`] that tells the caller what to do. One deadline
//! (`LlmConfig::timeout`) covers the whole loop: each request gets only the time that is left, and a wait that
//! would pass the deadline is not started. The text sent is already redacted by the caller and is never logged.
//!
//! `prompt` builds what is sent, `answer` reads what comes back, `retry` sorts failures, `error` words them.

mod answer;
mod error;
mod prompt;
mod retry;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

pub use error::LlmError;

use crate::config::{LlmConfig, Prices};
use answer::Outcome;
use retry::{ApiError, Decision};

/// Bump when the prompt or the schema changes: it scopes the verdict cache, so old verdicts are not reused for a
/// question that is now asked differently.
pub const PROMPT_VERSION: &str = "1";

/// A response body larger than this is not a verdict; stop reading rather than buffer it.
const MAX_BODY_BYTES: usize = 1 << 20;

/// What to classify. The text is already redacted by the caller.
#[derive(Debug, Clone)]
pub struct LlmRequest<'a> {
    pub text: &'a str,
    /// Titles of the local red flags, sent as hints.
    pub local_flags: &'a [String],
    pub local_score: f32,
}

/// A verdict and what it cost.
#[derive(Debug, Clone)]
pub struct LlmAnswer {
    pub verdict: LlmVerdict,
    /// Summed over every call made, including calls whose answer was unusable.
    pub usage: Usage,
    /// The model as the server reported it (e.g. `gpt-4o-mini-2024-07-18`).
    pub model: String,
    /// The format that produced the verdict.
    pub format: ResponseFormat,
    /// HTTP calls made, retries and format fallbacks included.
    pub calls: u32,
}

/// The model's verdict, validated: `score` is the scam probability in [0, 1] and agrees with `label`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmVerdict {
    pub label: crate::Label,
    pub score: f32,
    pub reasons: Vec<LlmReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmReason {
    pub reason: String,
    /// An excerpt of the (redacted) text the model says shows the reason; not checked against the text here.
    pub quote: Option<String>,
}

/// Tokens billed, as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` served from the provider's prompt cache (billed at `cached_input`).
    pub cached_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// `((prompt - cached) * input + cached * cached_input + completion * output) / 1e6` US dollars.
    pub fn cost_usd(&self, p: &Prices) -> f64 {
        let cached = self.cached_tokens.min(self.prompt_tokens);
        let uncached = self.prompt_tokens - cached;
        (uncached as f64 * p.input + cached as f64 * p.cached_input + self.completion_tokens as f64 * p.output) / 1e6
    }

    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(other.completion_tokens);
    }
}

/// How the JSON answer is asked for, from the most to the least constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `response_format: {type: json_schema, strict: true}`: OpenAI structured outputs; Ollama and llama.cpp turn
    /// it into a grammar.
    JsonSchema,
    /// `response_format: {type: json_object}`: any JSON; the prompt gives the shape.
    JsonObject,
    /// No `response_format`: the prompt alone asks for JSON, for servers that reject or ignore both.
    PromptOnly,
}

impl ResponseFormat {
    /// The next, less constrained format to try, if any.
    pub fn next(self) -> Option<ResponseFormat> {
        match self {
            ResponseFormat::JsonSchema => Some(ResponseFormat::JsonObject),
            ResponseFormat::JsonObject => Some(ResponseFormat::PromptOnly),
            ResponseFormat::PromptOnly => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResponseFormat::JsonSchema => "json_schema",
            ResponseFormat::JsonObject => "json_object",
            ResponseFormat::PromptOnly => "prompt_only",
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(n: u8) -> ResponseFormat {
        match n {
            0 => ResponseFormat::JsonSchema,
            1 => ResponseFormat::JsonObject,
            _ => ResponseFormat::PromptOnly,
        }
    }
}

/// A Chat Completions client for the verdict question. Cheap to share (`Send + Sync`); keep one per configuration
/// so the connection pool and the remembered format are reused.
pub struct LlmClient {
    http: reqwest::Client,
    cfg: LlmConfig,
    url: String,
    /// The format that produced the last valid verdict ([`ResponseFormat`] as `u8`), where the next call starts.
    format: AtomicU8,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Written out so the key is shown only as present or absent, whatever the config's own Debug does.
        f.debug_struct("LlmClient")
            .field("url", &self.url)
            .field("model", &self.cfg.model)
            .field("api_key", &self.cfg.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("format", &self.format())
            .finish_non_exhaustive()
    }
}

/// How one HTTP exchange ended, before the loop decides what to do about it.
enum Step {
    Verdict {
        verdict: LlmVerdict,
        model: Option<String>,
    },
    /// The next format might succeed; the string says why this one failed (no content quoted).
    NextFormat(String),
    Retry {
        why: String,
        wait: Option<Duration>,
    },
    Fail(LlmError),
    /// A permanent failure that depends on how many calls were made and what they cost.
    BadAnswer(String),
    /// Transient, but not worth retrying (the deadline is spent, or the server said so).
    Unavailable(String),
}

impl LlmClient {
    pub fn new(cfg: LlmConfig) -> Result<Self, LlmError> {
        let misconfigured = |message: String| LlmError::Config { status: 0, code: None, message };
        let base = cfg.base_url.trim_end_matches('/');
        match reqwest::Url::parse(base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(misconfigured(format!(
                    "llm.base_url {base:?} is not an http(s) URL such as https://api.openai.com/v1"
                )));
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .user_agent(concat!("redflag/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| misconfigured(format!("cannot set up the HTTP client: {e}")))?;
        let url = format!("{base}/chat/completions");
        Ok(LlmClient { http, cfg, url, format: AtomicU8::new(ResponseFormat::JsonSchema.to_u8()) })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// The format the next call starts with.
    pub fn format(&self) -> ResponseFormat {
        ResponseFormat::from_u8(self.format.load(Ordering::Relaxed))
    }

    /// The exact JSON body that would be POSTed for this request with the current format (for
    /// `redflag check --show-outbound` and tests).
    pub fn request_body(&self, req: &LlmRequest<'_>) -> serde_json::Value {
        prompt::body(&self.cfg, req, self.format())
    }

    /// Upper bound of the cost in USD of one call for this request, for budget reservations: the whole body
    /// (prompt, text, schema) at one token per 3 bytes — English averages about 4 characters a token, and a
    /// 3-byte UTF-8 character is rarely more than one — all at the uncached input price, plus
    /// `max_completion_tokens` at the output price. A classify that falls back across formats makes up to three
    /// billed calls.
    pub fn estimate_usd(&self, req: &LlmRequest<'_>) -> f64 {
        let bytes = self.request_body(req).to_string().len() as u64;
        let usage = Usage {
            prompt_tokens: bytes.div_ceil(3),
            cached_tokens: 0,
            completion_tokens: u64::from(self.cfg.max_completion_tokens),
        };
        usage.cost_usd(&self.cfg.prices)
    }

    /// Asks for a verdict. See the module documentation for the retry, fallback and deadline policy.
    pub async fn classify(&self, req: &LlmRequest<'_>) -> Result<LlmAnswer, LlmError> {
        let deadline = Instant::now() + self.cfg.timeout;
        let mut format = self.format();
        let mut usage = Usage::default();
        let mut calls = 0u32;
        let mut retries = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LlmError::Unavailable { message: self.no_answer_in_time(), calls, usage });
            }
            calls += 1;
            debug!(format = format.name(), call = calls, model = %self.cfg.model, "asking the LLM endpoint");
            let step = self.attempt(req, format, remaining, &mut usage).await;
            match step {
                Step::Verdict { verdict, model } => {
                    self.format.store(format.to_u8(), Ordering::Relaxed);
                    let model = model.unwrap_or_else(|| self.cfg.model.clone());
                    debug!(format = format.name(), calls, label = ?verdict.label, "LLM verdict");
                    return Ok(LlmAnswer { verdict, usage, model, format, calls });
                }
                Step::NextFormat(why) => match format.next() {
                    Some(next) => {
                        info!(from = format.name(), to = next.name(), %why, "LLM endpoint: trying a simpler response format");
                        format = next;
                    }
                    None => {
                        let message = format!(
                            "no valid JSON verdict in any response format (last: {why}); the model may be too small \
                             to follow the instructions, try another llm.model"
                        );
                        return Err(LlmError::BadAnswer { message, calls, usage });
                    }
                },
                Step::Retry { why, wait } => {
                    if retries >= self.cfg.max_retries {
                        let message = format!("{why}, after {retries} retries (llm.max_retries)");
                        return Err(LlmError::Unavailable { message, calls, usage });
                    }
                    let wait = wait.unwrap_or_else(|| retry::backoff(retries, fastrand::f64()));
                    if Instant::now() + wait >= deadline {
                        let message = format!(
                            "{why}; waiting {:.1} s to retry would pass the {} deadline (llm.timeout_secs)",
                            wait.as_secs_f64(),
                            secs(self.cfg.timeout)
                        );
                        return Err(LlmError::Unavailable { message, calls, usage });
                    }
                    retries += 1;
                    debug!(%why, wait_ms = wait.as_millis() as u64, retry = retries, "LLM endpoint: retrying");
                    tokio::time::sleep(wait).await;
                }
                Step::BadAnswer(message) => return Err(LlmError::BadAnswer { message, calls, usage }),
                Step::Unavailable(message) => return Err(LlmError::Unavailable { message, calls, usage }),
                Step::Fail(e) => return Err(e),
            }
        }
    }

    /// One HTTP exchange and what it means. Usage of a 200 is added even when its content is unusable.
    async fn attempt(
        &self,
        req: &LlmRequest<'_>,
        format: ResponseFormat,
        timeout: Duration,
        usage: &mut Usage,
    ) -> Step {
        let body = prompt::body(&self.cfg, req, format);
        let (status, headers, bytes) = match self.send(&body, timeout).await {
            Ok(reply) => reply,
            Err(e) => return self.transport_step(&e),
        };
        if status.is_success() {
            return self.success_step(&bytes, usage);
        }
        let err = ApiError::parse(&bytes);
        let message = self.scrub(&err.message);
        let status = status.as_u16();
        debug!(status, code = ?err.code, "LLM endpoint answered with an error");
        match retry::decide(status, &headers, &err, format != ResponseFormat::PromptOnly) {
            Decision::NextFormat => Step::NextFormat(format!("{status}: {message}")),
            Decision::Retry { wait } => Step::Retry { why: describe_transient(status, &message), wait },
            Decision::GiveUp => Step::Unavailable(describe_transient(status, &message)),
            Decision::Config => Step::Fail(LlmError::Config { status, code: err.code, message }),
            Decision::Rejected => Step::Fail(LlmError::Rejected { status, message }),
        }
    }

    fn success_step(&self, bytes: &[u8], usage: &mut Usage) -> Step {
        let completion = match answer::parse_completion(bytes) {
            Ok(c) => c,
            Err(why) => {
                return Step::BadAnswer(format!(
                    "{why}, although the status was 200: check that llm.base_url points at an OpenAI-compatible \
                     API (it usually ends in /v1)"
                ));
            }
        };
        usage.add(completion.usage);
        match completion.outcome {
            Outcome::Refusal(text) => {
                let text: String = text.chars().take(120).collect();
                Step::BadAnswer(format!("the model refused to classify the message ({text:?})"))
            }
            Outcome::Stopped(reason) if reason == "length" => Step::BadAnswer(format!(
                "the answer was cut off at {} tokens (finish_reason length); raise llm.max_completion_tokens",
                self.cfg.max_completion_tokens
            )),
            Outcome::Stopped(reason) => {
                Step::BadAnswer(format!("the provider withheld the answer (finish_reason {reason})"))
            }
            Outcome::Content(content) => match answer::parse_verdict(&content) {
                Ok(verdict) => Step::Verdict { verdict, model: completion.model },
                Err(why) => Step::NextFormat(why),
            },
        }
    }

    fn transport_step(&self, e: &reqwest::Error) -> Step {
        // The request's timeout is the time left before the deadline, so a timeout that is not a connect timeout
        // means the deadline has passed: no retry can fit.
        if e.is_timeout() && !e.is_connect() {
            return Step::Unavailable(self.no_answer_in_time());
        }
        let why = if e.is_connect() {
            format!("cannot connect to {} ({})", self.cfg.base_url, root_cause(e))
        } else {
            format!("the connection to {} failed ({})", self.cfg.base_url, root_cause(e))
        };
        if e.is_builder() || e.is_redirect() {
            return Step::Fail(LlmError::Config { status: 0, code: None, message: why });
        }
        Step::Retry { why, wait: None }
    }

    async fn send(
        &self,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), reqwest::Error> {
        let mut request = self.http.post(&self.url).timeout(timeout).json(body);
        if let Some(key) = &self.cfg.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_BODY_BYTES {
                // Not a verdict; the truncated bytes fail to parse and are reported as such.
                break;
            }
        }
        Ok((status, headers, bytes))
    }

    fn no_answer_in_time(&self) -> String {
        format!("no answer within {} (llm.timeout_secs)", secs(self.cfg.timeout))
    }

    /// Removes the configured key from a server message: OpenAI masks keys itself, a proxy might not.
    fn scrub(&self, message: &str) -> String {
        match &self.cfg.api_key {
            Some(key) if !key.expose_secret().is_empty() => message.replace(key.expose_secret(), "[API KEY]"),
            _ => message.to_string(),
        }
    }
}

fn describe_transient(status: u16, message: &str) -> String {
    match status {
        429 => format!("rate limited (429: {message})"),
        500..=599 => format!("server error ({status}: {message})"),
        _ => format!("temporary error ({status}: {message})"),
    }
}

/// The innermost error, which names the real problem ("Connection refused") where reqwest's own message names
/// only the URL.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn cfg() -> LlmConfig {
        LlmConfig { api_key: Some(SecretString::from("sk-unit-secret-0123456789")), ..LlmConfig::openai_default() }
    }

    #[test]
    fn cost_follows_the_fixture_formula() {
        let u = Usage { prompt_tokens: 1_000_000, cached_tokens: 200_000, completion_tokens: 100_000 };
        let cost = u.cost_usd(&Prices::GPT_4O_MINI);
        assert!((cost - (0.8 * 0.15 + 0.2 * 0.075 + 0.1 * 0.6)).abs() < 1e-12, "{cost}");
        let mut sum = Usage::default();
        sum.add(u);
        sum.add(u);
        assert_eq!(sum.prompt_tokens, 2_000_000);
        assert_eq!(sum.cached_tokens, 400_000);
        assert_eq!(sum.completion_tokens, 200_000);
    }

    #[test]
    fn estimate_bounds_a_call() {
        let client = LlmClient::new(cfg()).expect("client");
        let text = "word ".repeat(600);
        let req = LlmRequest { text: &text, local_flags: &[], local_score: 0.5 };
        let est = client.estimate_usd(&req);
        let body_tokens = client.request_body(&req).to_string().len() as f64 / 4.0;
        let typical = (body_tokens * 0.15 + 400.0 * 0.6) / 1e6;
        assert!(est > typical, "{est} vs {typical}");
        assert!(est < 0.01, "{est}");
    }

    #[test]
    fn debug_hides_the_key_and_bad_urls_are_config_errors() {
        let client = LlmClient::new(cfg()).expect("client");
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk-unit-secret"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
        assert_eq!(client.format(), ResponseFormat::JsonSchema);
        assert_eq!(client.url, "https://api.openai.com/v1/chat/completions");

        let e = LlmClient::new(LlmConfig { base_url: "localhost:11434".into(), ..cfg() }).expect_err("no scheme");
        assert!(e.is_config() && e.to_string().contains("llm.base_url"), "{e}");
        assert_eq!(e.calls(), 0);
    }

    #[test]
    fn server_messages_lose_the_key() {
        let client = LlmClient::new(cfg()).expect("client");
        assert_eq!(client.scrub("bad key sk-unit-secret-0123456789 here"), "bad key [API KEY] here");
    }

    #[test]
    fn formats_round_trip_and_step_down() {
        for f in [ResponseFormat::JsonSchema, ResponseFormat::JsonObject, ResponseFormat::PromptOnly] {
            assert_eq!(ResponseFormat::from_u8(f.to_u8()), f);
        }
        assert_eq!(ResponseFormat::JsonSchema.next(), Some(ResponseFormat::JsonObject));
        assert_eq!(ResponseFormat::PromptOnly.next(), None);
        assert_eq!(serde_json::to_string(&ResponseFormat::JsonSchema).expect("json"), "\"json_schema\"");
    }

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LlmClient>();
    }
}
