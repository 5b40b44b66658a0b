//! The LLM client against a fake OpenAI server on loopback (issue #4): every outcome is checked together with the
//! number of calls it took, so a fallback or retry storm shows up as a failure.

#[path = "common/fake_openai.rs"]
mod fake_openai;

use std::time::{Duration, Instant};

use fake_openai::{Behaviour, FakeOpenAi, verdict};
use redflag::Label;
use redflag::config::{LlmConfig, Prices};
use redflag::llm::{LlmClient, LlmError, LlmRequest, ResponseFormat, Usage};
use secrecy::SecretString;

const KEY: &str = "sk-test-very-secret-0123456789abcdef";

fn config(fake: &FakeOpenAi) -> LlmConfig {
    LlmConfig {
        base_url: fake.base_url.clone(),
        model: "gpt-4o-mini".into(),
        api_key: Some(SecretString::from(KEY)),
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        max_retries: 2,
        max_completion_tokens: 400,
        prices: Prices::GPT_4O_MINI,
    }
}

fn client(fake: &FakeOpenAi) -> LlmClient {
    LlmClient::new(config(fake)).expect("a valid config")
}

const FLAGS: &[String] = &[];

fn request() -> LlmRequest<'static> {
    LlmRequest {
        text: "Hi! Earn $500/day rating products. Pay the training fee to [EMAIL] to start.",
        local_flags: FLAGS,
        local_score: 0.55,
    }
}

#[tokio::test]
async fn good_verdict_in_one_call() {
    let fake = FakeOpenAi::start(verdict("scam", 0.93));
    let answer = client(&fake).classify(&request()).await.expect("a verdict");
    assert_eq!(answer.verdict.label, Label::Scam);
    assert!((answer.verdict.score - 0.93).abs() < 1e-6);
    assert_eq!(answer.verdict.reasons.len(), 1);
    assert_eq!(answer.verdict.reasons[0].quote.as_deref(), Some("pay the training fee"));
    assert_eq!(answer.format, ResponseFormat::JsonSchema);
    assert_eq!(answer.model, "gpt-4o-mini-2024-07-18", "the model as the server reported it");
    assert_eq!((answer.calls, fake.calls()), (1, 1));

    let req = fake.last_request().expect("one request");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(req.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(req.body["model"], "gpt-4o-mini");
    assert_eq!(req.body["temperature"], 0);
    assert_eq!(req.body["max_tokens"], 400, "a non-OpenAI base URL gets max_tokens");
    assert_eq!(req.response_format(), Some("json_schema"));
    assert_eq!(req.body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(req.body["messages"][0]["role"], "system");
    let user = req.body["messages"][1]["content"].as_str().expect("user content");
    assert!(user.contains(request().text), "{user}");
}

#[tokio::test]
async fn request_body_is_what_is_sent() {
    let fake = FakeOpenAi::start(verdict("legit", 0.1));
    let client = client(&fake);
    let expected = client.request_body(&request());
    client.classify(&request()).await.expect("a verdict");
    assert_eq!(fake.last_request().expect("one request").body, expected);
}

#[tokio::test]
async fn rejected_json_schema_falls_back_and_is_remembered() {
    let fake = FakeOpenAi::start(Behaviour::RejectJsonSchema);
    let client = client(&fake);
    let answer = client.classify(&request()).await.expect("a verdict via json_object");
    assert_eq!(answer.format, ResponseFormat::JsonObject);
    assert_eq!((answer.calls, fake.calls()), (2, 2));
    let formats: Vec<Option<String>> =
        fake.requests().iter().map(|r| r.response_format().map(str::to_string)).collect();
    assert_eq!(formats, [Some("json_schema".to_string()), Some("json_object".to_string())]);
    assert_eq!(answer.usage.prompt_tokens, 120, "the 400 is not billed");

    // The next classify starts where the last verdict came from: no second probe of json_schema.
    assert_eq!(client.format(), ResponseFormat::JsonObject);
    assert_eq!(client.request_body(&request())["response_format"]["type"], "json_object");
    let answer = client.classify(&request()).await.expect("a verdict");
    assert_eq!((answer.calls, fake.calls()), (1, 3));
    assert_eq!(fake.last_request().expect("request").response_format(), Some("json_object"));
}

#[tokio::test]
async fn ignored_schema_falls_back() {
    let fake = FakeOpenAi::start(Behaviour::IgnoreSchema);
    let answer = client(&fake).classify(&request()).await.expect("a verdict via json_object");
    assert_eq!(answer.format, ResponseFormat::JsonObject);
    assert_eq!((answer.calls, fake.calls()), (2, 2));
    // Both answers were billed.
    assert_eq!(answer.usage, Usage { prompt_tokens: 240, cached_tokens: 0, completion_tokens: 80 });
}

#[tokio::test]
async fn malformed_json_is_a_bad_answer_after_every_format() {
    let fake = FakeOpenAi::start(Behaviour::Malformed);
    let e = client(&fake).classify(&request()).await.expect_err("no verdict");
    assert!(matches!(e, LlmError::BadAnswer { calls: 3, .. }), "{e:?}");
    assert_eq!(fake.calls(), 3);
    let formats: Vec<Option<String>> =
        fake.requests().iter().map(|r| r.response_format().map(str::to_string)).collect();
    assert_eq!(formats, [Some("json_schema".into()), Some("json_object".into()), None], "then the prompt alone");
    assert_eq!(e.usage(), Usage { prompt_tokens: 360, cached_tokens: 0, completion_tokens: 120 });
    assert!(e.to_string().contains("no valid JSON verdict"), "{e}");
}

#[tokio::test]
async fn tokens_billed_before_the_endpoint_fails_are_still_reported() {
    // A billed but unusable answer, then the server goes down while the client falls back to json_object.
    let fake = FakeOpenAi::start(Behaviour::ServerError);
    fake.script(vec![Behaviour::Malformed]);
    let e = client(&fake).classify(&request()).await.expect_err("unavailable");
    assert!(matches!(e, LlmError::Unavailable { .. }), "{e:?}");
    assert_eq!(
        e.usage(),
        Usage { prompt_tokens: 120, cached_tokens: 0, completion_tokens: 40 },
        "the ledger must see them"
    );
}

#[tokio::test]
async fn refusal_is_a_bad_answer_without_fallback() {
    let fake = FakeOpenAi::start(Behaviour::Refusal);
    let e = client(&fake).classify(&request()).await.expect_err("refused");
    assert!(matches!(e, LlmError::BadAnswer { calls: 1, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
    assert!(e.to_string().contains("refused"), "{e}");
    assert_eq!(e.usage().prompt_tokens, 120, "a refusal is billed");
}

#[tokio::test]
async fn truncation_is_a_bad_answer_without_fallback() {
    let fake = FakeOpenAi::start(Behaviour::Truncated);
    let e = client(&fake).classify(&request()).await.expect_err("cut off");
    assert!(matches!(e, LlmError::BadAnswer { calls: 1, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
    assert!(e.to_string().contains("max_completion_tokens"), "{e}");
}

#[tokio::test]
async fn rate_limit_then_success_honours_retry_after() {
    let fake = FakeOpenAi::start(verdict("scam", 0.8));
    fake.script(vec![Behaviour::RateLimited { retry_after_ms: 300 }]);
    let started = Instant::now();
    let answer = client(&fake).classify(&request()).await.expect("a verdict after one retry");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    assert_eq!((answer.calls, fake.calls()), (2, 2));
    assert_eq!(answer.format, ResponseFormat::JsonSchema, "a retry keeps the format");
}

#[tokio::test]
async fn rate_limit_forever_is_unavailable_after_the_retries() {
    let fake = FakeOpenAi::start(Behaviour::RateLimited { retry_after_ms: 50 });
    let e = client(&fake).classify(&request()).await.expect_err("still rate limited");
    assert!(matches!(e, LlmError::Unavailable { calls: 3, .. }), "{e:?}");
    assert_eq!(fake.calls(), 3, "1 + max_retries");
    assert!(e.to_string().contains("429"), "{e}");
}

#[tokio::test]
async fn a_wait_past_the_deadline_is_not_started() {
    let fake = FakeOpenAi::start(Behaviour::RateLimited { retry_after_ms: 5_000 });
    let started = Instant::now();
    let e = client(&fake).classify(&request()).await.expect_err("no time to wait");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(matches!(e, LlmError::Unavailable { calls: 1, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
    assert!(e.to_string().contains("deadline"), "{e}");
}

#[tokio::test]
async fn request_too_large_is_rejected_at_once() {
    let fake = FakeOpenAi::start(Behaviour::RequestTooLarge);
    let e = client(&fake).classify(&request()).await.expect_err("too large");
    assert!(matches!(e, LlmError::Rejected { status: 429, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn insufficient_quota_is_a_config_error() {
    let fake = FakeOpenAi::start(Behaviour::InsufficientQuota);
    let e = client(&fake).classify(&request()).await.expect_err("no quota");
    match &e {
        LlmError::Config { status, code, .. } => {
            assert_eq!(*status, 429);
            assert_eq!(code.as_deref(), Some("insufficient_quota"));
        }
        other => panic!("expected Config, got {other:?}"),
    }
    assert_eq!(fake.calls(), 1);
    assert!(e.to_string().contains("quota"), "{e}");
}

#[tokio::test]
async fn unauthorized_is_a_config_error() {
    let fake = FakeOpenAi::start(Behaviour::Unauthorized);
    let e = client(&fake).classify(&request()).await.expect_err("bad key");
    assert!(matches!(e, LlmError::Config { status: 401, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
    let shown = e.to_string();
    assert!(shown.contains("OPENAI_API_KEY") && shown.contains("Incorrect API key"), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn server_error_forever_is_unavailable_after_the_retries() {
    let fake = FakeOpenAi::start(Behaviour::ServerError);
    // Backoff without retry-after: about 0.5 s then 1 s, so give it room.
    let client = LlmClient::new(LlmConfig { timeout: Duration::from_secs(5), ..config(&fake) }).expect("config");
    let e = client.classify(&request()).await.expect_err("still failing");
    assert!(matches!(e, LlmError::Unavailable { calls: 3, .. }), "{e:?}");
    assert_eq!(fake.calls(), 3);
    assert!(e.to_string().contains("500"), "{e}");
}

#[tokio::test]
async fn should_retry_false_is_obeyed() {
    let fake = FakeOpenAi::start(Behaviour::Raw {
        status: 503,
        headers: vec![("x-should-retry", "false".into())],
        body: serde_json::json!({"error": {"message": "The engine is currently overloaded, please try again later.", "type": "server_error", "param": null, "code": null}}),
    });
    let e = client(&fake).classify(&request()).await.expect_err("overloaded");
    assert!(matches!(e, LlmError::Unavailable { calls: 1, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn a_hanging_server_is_unavailable_at_the_deadline() {
    let fake = FakeOpenAi::start(Behaviour::Hang);
    let client = LlmClient::new(LlmConfig { timeout: Duration::from_secs(1), ..config(&fake) }).expect("config");
    let started = Instant::now();
    let e = client.classify(&request()).await.expect_err("no answer");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(1800), "{elapsed:?}");
    assert!(matches!(e, LlmError::Unavailable { calls: 1, .. }), "{e:?}");
    assert_eq!(fake.calls(), 1);
    assert!(e.to_string().contains("no answer within"), "{e}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_unavailable() {
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let cfg = LlmConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "gpt-4o-mini".into(),
        api_key: None,
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        max_completion_tokens: 400,
        prices: Prices::GPT_4O_MINI,
    };
    let e = LlmClient::new(cfg).expect("config").classify(&request()).await.expect_err("nobody listening");
    assert!(matches!(e, LlmError::Unavailable { calls: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

#[tokio::test]
async fn no_authorization_header_without_a_key() {
    let fake = FakeOpenAi::start(verdict("legit", 0.05));
    let client = LlmClient::new(LlmConfig { api_key: None, ..config(&fake) }).expect("config");
    let answer = client.classify(&request()).await.expect("a verdict");
    assert_eq!(answer.verdict.label, Label::Legit);
    assert_eq!(fake.last_request().expect("request").header("authorization"), None);
}

#[tokio::test]
async fn usage_is_summed_and_costed() {
    let fake = FakeOpenAi::start(verdict("scam", 0.9));
    // A rate limit (not billed), an ignored schema (billed), then a verdict.
    fake.script(vec![Behaviour::RateLimited { retry_after_ms: 50 }, Behaviour::IgnoreSchema]);
    let answer = client(&fake).classify(&request()).await.expect("a verdict");
    assert_eq!((answer.calls, fake.calls()), (3, 3));
    assert_eq!(answer.usage, Usage { prompt_tokens: 240, cached_tokens: 0, completion_tokens: 80 });
    let cost = answer.usage.cost_usd(&Prices::GPT_4O_MINI);
    let expected = (240.0 * 0.15 + 80.0 * 0.6) / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    let estimate = client(&fake).estimate_usd(&request());
    assert!(estimate >= (120.0 * 0.15 + 40.0 * 0.6) / 1e6, "the estimate bounds one call: {estimate}");
}

#[tokio::test]
async fn the_key_never_shows() {
    let fake = FakeOpenAi::start(Behaviour::Unauthorized);
    let client = client(&fake);
    assert!(!format!("{client:?}").contains(KEY));
    assert!(!format!("{:?}", client.config()).contains(KEY));
    let mut shown = Vec::new();
    for b in [
        Behaviour::Unauthorized,
        Behaviour::InsufficientQuota,
        Behaviour::RequestTooLarge,
        Behaviour::Refusal,
        Behaviour::Truncated,
        Behaviour::RateLimited { retry_after_ms: 5_000 },
        // A careless proxy that echoes the key in full.
        Behaviour::Raw {
            status: 400,
            headers: vec![],
            body: serde_json::json!({"error": {"message": format!("bad request for key {KEY}"), "type": "invalid_request_error", "param": null, "code": null}}),
        },
    ] {
        fake.set(b);
        let e = client.classify(&request()).await.expect_err("an error");
        shown.push(format!("{e} | {e:?}"));
    }
    for s in &shown {
        assert!(!s.contains(KEY), "{s}");
    }
}
