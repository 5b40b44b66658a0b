//! Screenshots sent to the bridge (issue #21): a WhatsApp image is fetched from Twilio's media URL with the
//! account's credentials, read on the analysis threads and answered like the same words typed; a caption is read
//! with it; an image with no text gets a reply that says so; a voice note keeps the "send the text" reply; a media
//! URL off Twilio's host is never fetched. The images are rendered in the test (tests/common/screenshot.rs).

mod common;
// The core's renderer, shared rather than copied; this test uses two of its layouts.
#[allow(dead_code)]
#[path = "../../tests/common/screenshot.rs"]
mod screenshot;

use std::time::Duration;

use common::bridge::{Bridge, eventually, settings};
use common::fake_telegram::{self, FakeTelegram};
use common::fake_twilio::{ACCOUNT_SID, FakeTwilio};
use redflag_bridge::queue::Queue;
use screenshot::{Layout, render};

const USER: &str = "whatsapp:+14155550123";
const WAIT: Duration = Duration::from_secs(60);
const SCAM: &str = "Hello dear, our company is hiring remote workers. Like and rate hotels on Google Maps and earn \
                    $300 per day. Pay a $50 registration fee to activate your account, then message our HR \
                    manager on Telegram.";

fn png(text: &str, layout: Layout) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("shot.png");
    render(text, layout, &path);
    std::fs::read(&path).expect("the rendered image")
}

/// The form Twilio posts for an inbound message with one attachment.
fn with_media(sid: &str, body: &str, url: &str, content_type: &str) -> Vec<(String, String)> {
    let mut form = Bridge::inbound(sid, USER, body);
    form.iter_mut().find(|(k, _)| k == "NumMedia").expect("NumMedia").1 = "1".into();
    form.push(("MediaUrl0".into(), url.into()));
    form.push(("MediaContentType0".into(), content_type.into()));
    form
}

async fn answer(bridge: &Bridge, twilio: &FakeTwilio, form: &[(String, String)], n: usize) -> String {
    assert_eq!(bridge.post_signed("/webhooks/twilio", form).await.status(), 200);
    let sends = twilio.wait_for_async(n, WAIT).await;
    let q = bridge.queue();
    eventually(WAIT, || (q.depth(i64::MAX / 2).expect("depth").pending == 0).then_some(())).await.expect("settled");
    sends[n - 1].body().expect("a body").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_screenshot_is_read_and_answered_like_its_text() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));

    let url = twilio.add_media("1", png(SCAM, Layout::DarkChat), "image/png");
    let reply =
        answer(&bridge, &twilio, &with_media("SM00000000000000000000000000000101", "", &url, "image/png"), 1).await;
    assert!(reply.contains("Likely scam"), "{reply}");
    let fetched: Vec<_> = twilio.requests().into_iter().filter(|r| r.method == "GET").collect();
    assert_eq!(fetched.len(), 1, "fetched once");
    assert_eq!(fetched[0].auth_user.as_deref(), Some(ACCOUNT_SID), "with the account's credentials");

    // A caption and the image are read together: the reply quotes the image's words and the caption's.
    let url = twilio.add_media(
        "2",
        png("Like and rate hotels on Google Maps, earn $300 per day.", Layout::Plain),
        "image/png",
    );
    let form =
        with_media("SM00000000000000000000000000000102", "To start, pay a $50 registration fee.", &url, "image/png");
    let reply = answer(&bridge, &twilio, &form, 2).await;
    assert!(reply.contains("Likely scam"), "{reply}");
    assert!(reply.contains("rate hotels") && reply.contains("registration fee"), "quotes from both: {reply}");

    // Nothing kept: the stored URL goes with the text once the message is done.
    let db = rusqlite::Connection::open(bridge.db()).expect("open the file");
    let kept: i64 =
        db.query_row("SELECT COUNT(*) FROM bridge_jobs WHERE media_url IS NOT NULL", [], |r| r.get(0)).expect("count");
    assert_eq!(kept, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_images_voice_notes_and_foreign_urls_get_a_plain_answer() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));

    // Not an image at all, though it says it is.
    let url = twilio.add_media("3", b"GIF89a not really".to_vec(), "image/png");
    let reply =
        answer(&bridge, &twilio, &with_media("SM00000000000000000000000000000103", "", &url, "image/png"), 1).await;
    assert!(reply.contains("couldn't read the text in your image") && reply.contains("paste the text"), "{reply}");

    // A voice note is not fetched.
    let url = twilio.add_media("4", vec![0; 64], "audio/ogg");
    let reply =
        answer(&bridge, &twilio, &with_media("SM00000000000000000000000000000104", "", &url, "audio/ogg"), 2).await;
    assert!(reply.contains("can't check this kind of attachment"), "{reply}");

    // An image URL on another host is never fetched (the form is signed, but the bridge fetches only from Twilio).
    let foreign = "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages/MM5/Media/ME5";
    let reply =
        answer(&bridge, &twilio, &with_media("SM00000000000000000000000000000105", "", foreign, "image/png"), 3).await;
    assert!(reply.contains("can't check this kind of attachment"), "{reply}");
    assert!(twilio.requests().iter().filter(|r| r.method == "GET").all(|r| r.path.contains("/Media/ME3")), "one fetch");
}

/// A Telegram photo: the largest size is fetched through `getFile` and read like a WhatsApp image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_photo_is_read_through_get_file() {
    const SECRET: &str = "telegram-secret-for-screenshots";
    let (twilio, telegram) = (FakeTwilio::start(), FakeTelegram::start());
    let config = format!(
        "[telegram]\nbot_token = \"{}\"\nsecret_token = \"{SECRET}\"\napi_base = \"{}\"\n",
        fake_telegram::BOT_TOKEN,
        telegram.base_url()
    );
    let bridge = Bridge::start(&settings(&twilio, &config));
    telegram.add_file("large", png(SCAM, Layout::LightChat));
    let mut update = fake_telegram::media_update(7001, 4242, None);
    update["message"]["photo"] = serde_json::json!([
        { "file_id": "thumb", "file_unique_id": "t", "width": 90, "height": 200, "file_size": 2000 },
        { "file_id": "large", "file_unique_id": "l", "width": 1080, "height": 2400 },
    ]);
    let posted = reqwest::Client::new()
        .post(format!("{}/webhooks/telegram", bridge.base))
        .header("x-telegram-bot-api-secret-token", SECRET)
        .json(&update)
        .send()
        .await
        .expect("the bridge answers");
    assert_eq!(posted.status(), 200);
    let sent = telegram.wait_for_async(1, WAIT).await;
    let text = sent[0].text().expect("text");
    assert!(text.contains("Likely scam"), "{text}");
    let asked: Vec<_> = telegram.requests().into_iter().filter(|r| r.method.as_deref() == Some("getFile")).collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].body["file_id"], "large", "the largest size is read");
}
