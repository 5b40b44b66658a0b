//! The built-in notifier (issue #20) on the real binary: a reply refused for good by the provider fires
//! `RedflagBridgeDeliveryFailures`, which reaches a webhook receiver (a real HTTP server on loopback, refusing the
//! first attempt, so the retry is exercised) and a Telegram chat through the fake Bot API, without the sender's
//! number. Each rule's evaluation has its own unit test in `src/alerts/rules.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::post;
use common::bridge::{Bridge, eventually, settings};
use common::fake_telegram::{self, FakeTelegram};
use common::fake_twilio::{Failure, FakeTwilio};
use serde_json::Value;

const USER: &str = "whatsapp:+14155550123";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a $50 registration fee to start. Contact us on WhatsApp.";
const CHAT: i64 = 4242;

/// A webhook receiver that answers 500 to its first POST and records every body.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let log = Arc::clone(&log);
            async move {
                let mut seen = log.lock().expect("lock");
                seen.push(body);
                if seen.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failure_is_posted_to_the_webhook_and_the_telegram_chat() {
    let twilio = FakeTwilio::start();
    twilio.fail_to(USER, Failure::unsubscribed());
    let telegram = FakeTelegram::start();
    let (url, seen) = receiver().await;
    let extra = format!(
        "[telegram]\nbot_token = \"{}\"\nsecret_token = \"s3cret-token\"\napi_base = \"{}\"\n\n[alerts]\nwebhook_url \
         = \"{url}\"\ntelegram_chat_id = {CHAT}\ninterval_secs = 0.2\n",
        fake_telegram::BOT_TOKEN,
        telegram.base_url()
    );
    let bridge = Bridge::start(&settings(&twilio, &extra));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000001", USER, SCAM)).await;

    let wait = Duration::from_secs(30);
    let firing = eventually(wait, || {
        let seen = seen.lock().expect("lock");
        (seen.len() >= 2).then(|| seen.clone())
    })
    .await
    .expect("the alert reaches the webhook, the second attempt accepted");
    assert_eq!(firing[0], firing[1], "the refused notification was sent again, unchanged");
    let alert = &firing[1];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["alert"], "RedflagBridgeDeliveryFailures");
    assert_eq!(alert["key"], "21610");
    assert_eq!(alert["severity"], "warning");
    assert!(alert["description"].as_str().expect("text").contains("errors/21610"), "{alert:#}");
    assert_eq!(alert["instance"], common::bridge::PUBLIC_URL);

    let sent = telegram.wait_for_async(1, wait).await;
    let message = sent.iter().find(|m| m.chat_id() == Some(CHAT)).expect("a message to the operators' chat");
    let text = message.text().expect("text");
    assert!(text.contains("FIRING") && text.contains("21610"), "{text}");

    for body in [alert.to_string(), text.to_string(), bridge.log()] {
        assert!(!body.contains("4155550123"), "no phone number in an alert: {body}");
    }
}
