//! Telegram updates and the `/v1/analyze` API through the real `redflag-bridge` binary (issue #5), against a fake
//! Bot API on loopback.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, settings};
use common::fake_telegram::{self, Failure, FakeTelegram};
use common::fake_twilio::FakeTwilio;
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t_T0ken-abc";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a 50 USDT deposit to unlock <tasks>. Contact our HR on WhatsApp";
const WAIT: Duration = Duration::from_secs(30);

fn telegram_settings(twilio: &FakeTwilio, telegram: &FakeTelegram) -> String {
    settings(
        twilio,
        &format!(
            "[telegram]\nbot_token = \"{}\"\nsecret_token = \"{SECRET}\"\napi_base = \"{}\"\n",
            fake_telegram::BOT_TOKEN,
            telegram.base_url()
        ),
    )
}

async fn post_update(bridge: &Bridge, update: &Value, secret: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{}/webhooks/telegram", bridge.base)).json(update);
    if let Some(s) = secret {
        req = req.header("x-telegram-bot-api-secret-token", s);
    }
    req.send().await.expect("the bridge answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_message_is_answered_once_in_html() {
    let (twilio, telegram) = (FakeTwilio::start(), FakeTelegram::start());
    let bridge = Bridge::start(&telegram_settings(&twilio, &telegram));
    let update = fake_telegram::text_update(412_345_678, 123_456_789, SCAM);
    assert_eq!(post_update(&bridge, &update, Some(SECRET)).await.status(), 200);
    assert_eq!(post_update(&bridge, &update, Some(SECRET)).await.status(), 200, "a redelivery");
    let sent = telegram.wait_for_async(1, WAIT).await;
    assert_eq!(sent[0].chat_id(), Some(123_456_789));
    assert_eq!(sent[0].parse_mode(), Some("HTML"));
    let text = sent[0].text().expect("text");
    assert!(text.contains("Likely scam"), "{text}");
    assert!(!text.contains("<tasks>"), "the person's text is escaped for HTML: {text}");
    let untagged = ["<b>", "</b>", "<i>", "</i>"].iter().fold(text.to_string(), |t, tag| t.replace(tag, ""));
    assert!(!untagged.contains('<'), "only the reply's own tags are raw HTML: {text}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(telegram.messages().len(), 1, "update_id dedupes the redelivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_secret_is_checked_and_429_is_retried() {
    let (twilio, telegram) = (FakeTwilio::start(), FakeTelegram::start());
    telegram.fail_next(1, Failure::RateLimited { retry_after: 1 });
    let bridge = Bridge::start(&telegram_settings(&twilio, &telegram));
    let update = fake_telegram::text_update(1, 42, SCAM);
    assert_eq!(post_update(&bridge, &update, None).await.status(), 403);
    assert_eq!(post_update(&bridge, &update, Some("wrong")).await.status(), 403);
    assert_eq!(post_update(&bridge, &json!({"update_id": "x"}), Some(SECRET)).await.status(), 400);
    assert_eq!(post_update(&bridge, &update, Some(SECRET)).await.status(), 200);
    let sent = telegram.wait_for_async(2, WAIT).await;
    assert!(sent[1].at >= sent[0].at + Duration::from_millis(900), "Telegram's retry_after was honoured");
    assert_eq!(telegram.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_a_key_and_returns_the_analysis() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let out = bridge.command(&["keys", "add", "partner"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
    assert!(key.starts_with("rfk_") && key.len() > 40);

    let client = reqwest::Client::new();
    let url = format!("{}/v1/analyze", bridge.base);
    let r = client.post(&url).json(&json!({"text": SCAM})).send().await.expect("answer");
    assert_eq!(r.status(), 401, "no key");
    let r = client.post(&url).bearer_auth("rfk_wrong").json(&json!({"text": SCAM})).send().await.expect("answer");
    assert_eq!(r.status(), 401, "unknown key");

    let r = client.post(&url).bearer_auth(&key).json(&json!({"text": SCAM})).send().await.expect("answer");
    assert_eq!(r.status(), 200);
    let analysis: Value = r.json().await.expect("json");
    assert_eq!(analysis["label"], "scam");
    assert!(analysis["flags"].as_array().is_some_and(|f| !f.is_empty()));

    let posting = json!({"title": "Warehouse associate", "description": "Full-time role in Leeds. Apply on our site."});
    let r = client.post(&url).bearer_auth(&key).json(&posting).send().await.expect("answer");
    assert_eq!(r.status(), 200, "posting fields work like the CLI's batch format");

    let r = client.post(&url).bearer_auth(&key).header("content-type", "application/json").body("{").send().await;
    assert_eq!(r.expect("answer").status(), 400);
    let r = client.post(&url).bearer_auth(&key).json(&json!({"text": 5})).send().await.expect("answer");
    assert_eq!(r.status(), 400);
    let r = client.post(&url).bearer_auth(&key).body("text").send().await.expect("answer");
    assert_eq!(r.status(), 415);

    // CORS preflight for browser clients (the desktop ui/ running in a browser).
    let r = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:1420")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("answer");
    assert!(r.headers().contains_key("access-control-allow-origin"), "{:?}", r.headers());

    assert!(bridge.command(&["keys", "revoke", "partner"]).status.success());
    let r = client.post(&url).bearer_auth(&key).json(&json!({"text": SCAM})).send().await.expect("answer");
    assert_eq!(r.status(), 401, "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_channel_serves_the_page_and_nothing_else() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let client = reqwest::Client::new();
    let r = client.get(format!("{}/", bridge.base)).send().await.expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().expect("ascii").to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let page = r.text().await.expect("the page");
    assert!(page.contains(r#"src="app.js""#), "the desktop app's page: {page}");

    let r = client.get(format!("{}/spans.js", bridge.base)).send().await.expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    for path in ["/nope.js", "/..%2FCargo.toml", "/Cargo.toml"] {
        let r = client.get(format!("{}{path}", bridge.base)).send().await.expect("answer");
        assert_eq!(r.status(), 404, "{path}");
    }
    // The API routes are unchanged by the page's catch-all.
    assert_eq!(client.get(format!("{}/healthz", bridge.base)).send().await.expect("answer").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_posts_a_signed_webhook_in_mock_mode() {
    // Development without Twilio credentials: mock mode, replies logged, webhooks signed with the dev token.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = "environment = \"development\"\n[workers]\ncoalesce_quiet_ms = 100\n";
    let bridge = Bridge::start_in(dir.path(), config);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .arg("--config")
        .arg(dir.path().join("bridge.toml"))
        .args(["simulate", SCAM, "--url", &bridge.base])
        .env_clear()
        .env("HOME", dir.path())
        .output()
        .expect("run simulate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logged = common::bridge::eventually(WAIT, || {
        let log = bridge.log();
        log.contains("mock reply (not sent)").then_some(log)
    })
    .await
    .expect("the mock reply is logged");
    assert!(logged.contains("Likely scam"), "{logged}");
    assert!(logged.contains("MOCK MODE"), "start-up says it is in mock mode");
}

#[test]
fn production_refuses_to_start_without_token_and_public_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .arg("serve")
        .env_clear()
        .env("HOME", dir.path())
        .env("REDFLAG_ENV", "production")
        .env("REDFLAG_DB", dir.path().join("r.db"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TWILIO_AUTH_TOKEN"), "{err}");
}
