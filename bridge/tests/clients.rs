//! The Twilio and Telegram clients against the fake servers: what goes on the wire, how each failure is sorted for
//! the queue worker, and that neither the credentials nor the recipient's number ever shows in printable text.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fake_telegram::{self, FakeTelegram};
use common::fake_twilio::{self, ACCOUNT_SID, AUTH_TOKEN, Failure, FakeTwilio};
use redflag_bridge::telegram::{TelegramClient, TelegramError};
use redflag_bridge::twilio::client::{Outgoing, Retry, SendError, TwilioClient};
use secrecy::SecretString;

const TO: &str = "whatsapp:+14155550123";
const FROM: &str = "whatsapp:+14155238886";
const CALLBACK: &str = "https://bridge.example.com/twilio/status";

fn twilio(base: &str, timeout: Duration) -> TwilioClient {
    TwilioClient::new(base, ACCOUNT_SID, SecretString::from(AUTH_TOKEN), timeout).expect("a valid client")
}

fn hello() -> Outgoing<'static> {
    Outgoing { to: TO, from: FROM, body: Some("Hello!"), status_callback: Some(CALLBACK), ..Outgoing::default() }
}

/// Neither the auth token nor the recipient's number in any printable form of an error.
fn assert_twilio_clean(e: &SendError) {
    for text in [e.to_string(), format!("{e:?}"), e.reason().to_string()] {
        assert!(!text.contains(AUTH_TOKEN), "token in {text}");
        assert!(!text.contains("4155550123"), "recipient in {text}");
    }
}

/// A loopback port with nothing listening.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn twilio_send_posts_the_form_with_basic_auth() {
    let fake = FakeTwilio::start();
    fake.require_auth(ACCOUNT_SID, AUTH_TOKEN);
    let client = twilio(fake.base_url(), Duration::from_secs(5));

    let sent = client.send(&hello()).await.expect("sent");
    assert!(sent.sid.starts_with("SM") && sent.sid.len() == 34, "{}", sent.sid);
    assert_eq!(sent.status, "queued");

    let [req] = <[_; 1]>::try_from(fake.messages()).expect("one send");
    assert_eq!(req.path, format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"));
    assert_eq!(req.auth_user.as_deref(), Some(ACCOUNT_SID));
    assert_eq!(req.auth_password.as_deref(), Some(AUTH_TOKEN));
    assert_eq!(req.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    let params: Vec<(&str, &str)> = req.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(params, [("To", TO), ("From", FROM), ("Body", "Hello!"), ("StatusCallback", CALLBACK)]);
    assert_eq!(req.sid(), Some(sent.sid.as_str()));

    let second = client.send(&hello()).await.expect("sent again");
    assert_ne!(second.sid, sent.sid, "every message gets its own sid");
}

#[tokio::test]
async fn twilio_template_sends_content_sid_without_body() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    let msg = Outgoing {
        to: TO,
        from: FROM,
        content_sid: Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"),
        content_variables: Some(r#"{"1":"12/1"}"#),
        ..Outgoing::default()
    };
    client.send(&msg).await.expect("sent");
    let req = fake.wait_for_async(1, Duration::from_secs(1)).await.remove(0);
    assert_eq!(req.param("ContentSid"), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
    assert_eq!(req.param("ContentVariables"), Some(r#"{"1":"12/1"}"#));
    assert_eq!(req.body(), None);
    assert_eq!(req.param("StatusCallback"), None);
}

#[tokio::test]
async fn twilio_message_without_body_or_template_is_refused_locally() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    let e = client.send(&Outgoing { to: TO, from: FROM, ..Outgoing::default() }).await.expect_err("nothing to send");
    assert!(matches!(e, SendError::Config(_)), "{e:?}");
    assert_eq!(e.retry(), Retry::Never);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn twilio_invalid_number_is_permanent_and_not_quoted() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    // Twilio quotes the number it refuses, in its own format.
    let message = "The 'To' number whatsapp:+14155550123 (4155550123) is not a valid phone number.";
    fake.fail_next(1, Failure::Error { status: 400, code: 21211, message: message.into() });

    let e = client.send(&hello()).await.expect_err("refused");
    assert_eq!(e.retry(), Retry::Never);
    assert_eq!(e.code(), Some(21211));
    assert_eq!(e.reason(), "invalid recipient number");
    assert!(!e.is_outside_window());
    assert!(e.to_string().contains("21211") && e.to_string().contains("not a valid phone number"), "{e}");
    assert_twilio_clean(&e);
}

#[tokio::test]
async fn twilio_outside_window_is_flagged_for_that_recipient_only() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    fake.fail_to(TO, Failure::outside_window());

    for _ in 0..2 {
        let e = client.send(&hello()).await.expect_err("outside the window");
        assert!(e.is_outside_window(), "{e:?}");
        assert_eq!(e.retry(), Retry::Never);
        assert_eq!(e.code(), Some(63016));
        assert!(e.to_string().contains("template"), "{e}");
        assert_twilio_clean(&e);
    }
    let other = Outgoing { to: "whatsapp:+5511999990000", ..hello() };
    client.send(&other).await.expect("another recipient is inside the window");
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test]
async fn twilio_other_permanent_codes_and_the_problem_shape() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    for code in [21408, 21610, 21614, 63003, 63007, 63015] {
        fake.fail_next(1, Failure::Error { status: 400, code, message: format!("error {code}") });
        let e = client.send(&hello()).await.expect_err("refused");
        assert_eq!((e.code(), e.retry()), (Some(code), Retry::Never), "{e}");
        assert_ne!(e.reason(), "rejected", "{code} has its own reason");
    }
    fake.fail_next(1, Failure::Problem { status: 400, code: 21211, detail: "Invalid 'To' Phone Number".into() });
    let e = client.send(&hello()).await.expect_err("RFC 9457 shape");
    assert_eq!((e.code(), e.retry()), (Some(21211), Retry::Never));
    assert!(e.to_string().contains("Invalid 'To' Phone Number"), "{e}");
}

#[tokio::test]
async fn twilio_rate_limit_is_retried_after_retry_after() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    fake.fail_next(1, Failure::RateLimited { retry_after: Some(7) });
    let e = client.send(&hello()).await.expect_err("rate limited");
    assert_eq!(e.retry(), Retry::After(Some(Duration::from_secs(7))));
    assert_eq!(e.code(), Some(20429));
    assert_eq!(e.reason(), "rate limited");
    assert_twilio_clean(&e);

    fake.fail_next(1, Failure::RateLimited { retry_after: None });
    let e = client.send(&hello()).await.expect_err("rate limited, no header");
    assert_eq!(e.retry(), Retry::After(None));
    // The client itself never retries: one request per send.
    assert_eq!(fake.messages().len(), 2);
    client.send(&hello()).await.expect("the script is spent");
}

#[tokio::test]
async fn twilio_server_errors_are_retried() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    fake.fail_next(1, Failure::ServerError);
    let e = client.send(&hello()).await.expect_err("500");
    assert_eq!((e.retry(), e.code()), (Retry::After(None), Some(20500)));
    assert_eq!(e.reason(), "server error");

    let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    fake.fail_next(1, Failure::Raw { status: 502, content_type: "text/html".into(), body: page.into() });
    let e = client.send(&hello()).await.expect_err("502 page");
    assert_eq!((e.retry(), e.code()), (Retry::After(None), Some(502)));
    assert!(e.to_string().contains("502 Bad Gateway"), "{e}");
}

#[tokio::test]
async fn twilio_unreadable_success_and_over_long_bodies_are_not_retried() {
    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    // A 2xx that is not a message resource: the message may exist, so sending again could duplicate it.
    fake.fail_next(1, Failure::Raw { status: 201, content_type: "text/plain".into(), body: "Created".into() });
    let e = client.send(&hello()).await.expect_err("no sid");
    assert!(matches!(e, SendError::BadResponse { status: 201, .. }), "{e:?}");
    assert_eq!(e.retry(), Retry::Never);

    let long = "a".repeat(1601);
    let e = client.send(&Outgoing { body: Some(&long), ..hello() }).await.expect_err("too long");
    assert_eq!((e.code(), e.retry(), e.reason()), (Some(21617), Retry::Never, "body too long"));
}

#[tokio::test]
async fn twilio_wrong_credentials_fail_without_showing_them() {
    let fake = FakeTwilio::start();
    fake.require_auth(ACCOUNT_SID, "the-real-token");
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    let e = client.send(&hello()).await.expect_err("wrong token");
    assert!(e.is_auth_failure(), "{e:?}");
    assert_eq!((e.retry(), e.code()), (Retry::Never, Some(20003)));
    assert!(e.to_string().contains("auth token"), "{e}");
    assert_twilio_clean(&e);
}

#[tokio::test]
async fn twilio_network_failures_are_retried() {
    let client = twilio(&closed_port(), Duration::from_secs(5));
    let e = client.send(&hello()).await.expect_err("refused");
    assert!(matches!(e, SendError::Network { timeout: false, .. }), "{e:?}");
    assert_eq!((e.retry(), e.code(), e.reason()), (Retry::After(None), None, "network error"));
    assert_twilio_clean(&e);

    let fake = FakeTwilio::start();
    let client = twilio(fake.base_url(), Duration::from_millis(300));
    fake.fail_next(1, Failure::Hang);
    fake.fail_next(1, Failure::Slow(Duration::from_secs(2)));
    for _ in 0..2 {
        let e = client.send(&hello()).await.expect_err("no answer in time");
        assert!(matches!(e, SendError::Network { timeout: true, .. }), "{e:?}");
        assert_eq!((e.retry(), e.reason()), (Retry::After(None), "timed out"));
        assert_twilio_clean(&e);
    }
    client.send(&hello()).await.expect("answers again");
}

#[test]
fn twilio_client_debug_hides_the_token() {
    let client = twilio(fake_twilio_base(), Duration::from_secs(5));
    let debug = format!("{client:?}");
    assert!(!debug.contains(AUTH_TOKEN) && debug.contains("[REDACTED]") && debug.contains(ACCOUNT_SID), "{debug}");
}

fn fake_twilio_base() -> &'static str {
    redflag_bridge::twilio::client::DEFAULT_API_BASE
}

#[test]
fn fake_twilio_signs_like_the_sdks() {
    // The canonical vector of twilio-python, twilio-node and twilio-java (twilio_vectors.json `basic_form`).
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = fake_twilio::sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
    assert_eq!(signature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

/// Each callback's form parameters and `X-Twilio-Signature`.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A loopback receiver for status callbacks: records each form and its signature header, answers 204.
async fn callback_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/twilio/status",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
            let params = form_urlencoded::parse(&body).into_owned().collect();
            let signature =
                headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            sink.lock().expect("receiver lock").push((params, signature));
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/twilio/status", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn fake_twilio_plays_signed_status_callbacks() {
    let (url, got) = callback_receiver().await;
    let fake = FakeTwilio::start();
    fake.set_callbacks(&["sent", "delivered"]);
    let client = twilio(fake.base_url(), Duration::from_secs(5));
    let msg = Outgoing { status_callback: Some(&url), ..hello() };
    let sent = client.send(&msg).await.expect("sent");

    // A failure reported later, the way Twilio reports 63016 for most WhatsApp sends.
    fake.fail_to("whatsapp:+5511999990000", Failure::FailLater { code: 63016 });
    let late = client.send(&Outgoing { to: "whatsapp:+5511999990000", ..msg }).await.expect("taken at first");

    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fake.callbacks().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "callbacks: {:#?}", fake.callbacks());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = got.lock().expect("receiver lock").clone();
    let statuses: Vec<(String, String)> = got
        .iter()
        .map(|(params, _)| {
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            (get("MessageSid"), format!("{}{}", get("MessageStatus"), get("ErrorCode")))
        })
        .collect();
    assert!(statuses.contains(&(sent.sid.clone(), "sent".into())), "{statuses:?}");
    assert!(statuses.contains(&(sent.sid.clone(), "delivered".into())), "{statuses:?}");
    assert!(statuses.contains(&(late.sid.clone(), "failed63016".into())), "{statuses:?}");
    for (params, signature) in &got {
        assert_eq!(signature, &fake_twilio::sign(AUTH_TOKEN, &url, params));
    }
    assert!(fake.callbacks().iter().all(|c| c.status == Some(204)));

    let status = fake.post_callback(&sent.sid, "read", None).await;
    assert_eq!(status, Some(204));
}

fn telegram(base: &str, timeout: Duration) -> TelegramClient {
    TelegramClient::new(base, SecretString::from(fake_telegram::BOT_TOKEN), timeout).expect("a valid client")
}

fn assert_telegram_clean(e: &TelegramError) {
    let secret = fake_telegram::BOT_TOKEN.split_once(':').expect("id:secret").1;
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(secret), "token in {text}");
    }
}

#[tokio::test]
async fn telegram_send_message_posts_json_and_returns_the_id() {
    let fake = FakeTelegram::start();
    fake.require_token(fake_telegram::BOT_TOKEN);
    let client = telegram(fake.base_url(), Duration::from_secs(5));

    let id =
        client.send_message(-1001234567890, "This looks like a scam. Do not pay.", Some("HTML")).await.expect("sent");
    let plain = client.send_message(123456789, "Plain", None).await.expect("sent");
    assert_ne!(id, plain);

    let reqs = fake.wait_for_async(2, Duration::from_secs(1)).await;
    assert_eq!(reqs[0].path, format!("/bot{}/sendMessage", fake_telegram::BOT_TOKEN));
    assert_eq!(reqs[0].chat_id(), Some(-1001234567890));
    assert_eq!(reqs[0].text(), Some("This looks like a scam. Do not pay."));
    assert_eq!(reqs[0].parse_mode(), Some("HTML"));
    assert_eq!(reqs[0].body["link_preview_options"]["is_disabled"], true);
    assert_eq!(reqs[0].message_id(), Some(id));
    assert_eq!(reqs[1].parse_mode(), None);
}

#[tokio::test]
async fn telegram_rate_limit_is_retried_after_retry_after() {
    let fake = FakeTelegram::start();
    let client = telegram(fake.base_url(), Duration::from_secs(5));
    fake.fail_next(1, fake_telegram::Failure::RateLimited { retry_after: 15 });
    let e = client.send_message(1, "hi", None).await.expect_err("rate limited");
    assert_eq!(e.retry(), Retry::After(Some(Duration::from_secs(15))));
    assert_eq!((e.code(), e.reason()), (Some(429), "rate limited"));
    assert!(e.to_string().contains("retry after 15"), "{e}");
    assert_telegram_clean(&e);
    client.send_message(1, "hi", None).await.expect("the script is spent");
}

#[tokio::test]
async fn telegram_blocked_and_bad_requests_are_permanent() {
    let fake = FakeTelegram::start();
    let client = telegram(fake.base_url(), Duration::from_secs(5));
    fake.fail_chat(42, fake_telegram::Failure::Blocked);
    let e = client.send_message(42, "hi", None).await.expect_err("blocked");
    assert!(e.is_blocked(), "{e:?}");
    assert_eq!((e.retry(), e.code()), (Retry::Never, Some(403)));
    assert_telegram_clean(&e);

    fake.fail_next(1, fake_telegram::Failure::ChatNotFound);
    let e = client.send_message(7, "hi", None).await.expect_err("no chat");
    assert_eq!((e.retry(), e.code(), e.is_blocked()), (Retry::Never, Some(400), false));
    assert!(e.to_string().contains("chat not found"), "{e}");

    let e = client.send_message(7, &"x".repeat(4097), None).await.expect_err("too long");
    assert_eq!((e.retry(), e.code()), (Retry::Never, Some(400)));
    client.send_message(7, &"é".repeat(4096), None).await.expect("4096 characters fit");
}

#[tokio::test]
async fn telegram_server_and_network_failures_are_retried_without_the_token() {
    let fake = FakeTelegram::start();
    let client = telegram(fake.base_url(), Duration::from_millis(300));
    fake.fail_next(1, fake_telegram::Failure::BadGateway);
    let e = client.send_message(1, "hi", None).await.expect_err("502");
    assert_eq!((e.retry(), e.code()), (Retry::After(None), Some(502)));
    assert_telegram_clean(&e);

    fake.fail_next(1, fake_telegram::Failure::Hang);
    let e = client.send_message(1, "hi", None).await.expect_err("hang");
    assert!(matches!(e, TelegramError::Network { timeout: true, .. }), "{e:?}");
    assert_eq!(e.retry(), Retry::After(None));
    assert_telegram_clean(&e);

    let client = telegram(&closed_port(), Duration::from_secs(5));
    let e = client.send_message(1, "hi", None).await.expect_err("refused");
    assert!(matches!(e, TelegramError::Network { timeout: false, .. }), "{e:?}");
    assert_eq!(e.retry(), Retry::After(None));
    assert_telegram_clean(&e);
    let debug = format!("{client:?}");
    assert!(!debug.contains("AAFake") && debug.contains("[REDACTED]"), "{debug}");
}

#[tokio::test]
async fn telegram_wrong_token_is_an_auth_failure() {
    let fake = FakeTelegram::start();
    fake.require_token("7000000001:AAOtherToken");
    let client = telegram(fake.base_url(), Duration::from_secs(5));
    let e = client.send_message(1, "hi", None).await.expect_err("unauthorized");
    assert!(e.is_auth_failure(), "{e:?}");
    assert_eq!((e.retry(), e.code()), (Retry::Never, Some(401)));
    assert!(e.to_string().contains("BotFather"), "{e}");
    assert_telegram_clean(&e);
}

#[test]
fn fake_telegram_updates_parse_as_bridge_updates() {
    let update: redflag_bridge::telegram::Update =
        serde_json::from_value(fake_telegram::text_update(5, 99, "pay the fee")).expect("an update");
    let m = update.text_message().expect("a message");
    assert_eq!((m.chat_id, m.user_id, m.text, m.has_media), (99, Some(99), Some("pay the fee"), false));
    let update: redflag_bridge::telegram::Update =
        serde_json::from_value(fake_telegram::media_update(6, 99, None)).expect("an update");
    let m = update.text_message().expect("a photo");
    assert_eq!((m.text, m.has_media), (None, true));
}
