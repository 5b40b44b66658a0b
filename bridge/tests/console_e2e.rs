//! The operator console in a real browser (issue #20): headless Chromium driven through Debian's chromedriver
//! with fantoccini, against the real bridge binary. An operator is sent to the login page, logs in, requeues a
//! message waiting in review (its reply then really goes out to the fake Twilio), answers another by hand (the
//! typed words reach the person), pairs a desktop, looks up a sender, exports and erases their data (the bridge's
//! own command then finds nothing), sees it all in the audit log and logs out.
//! Screenshots of the overview and the audit log land in `target/e2e-console*.png`.
//!
//! `scripts/setup.sh` installs `chromium` and `chromium-driver`; headless needs no display.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bridge::{Bridge, eventually, settings};
use common::fake_twilio::{Failure, FakeTwilio};
use fantoccini::{Client, ClientBuilder, Locator};
use redflag_bridge::queue::{Queue, State};
use serde_json::{Value, json};

const IN_REVIEW: &str = "whatsapp:+14155550123";
const ANSWER_BY_HAND: &str = "whatsapp:+14155550144";
const TO_ERASE: &str = "whatsapp:+14155550177";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a $50 registration fee to start. Contact us on WhatsApp.";
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver, killed with the test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver() -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs (Debian package chromium-driver; scripts/setup.sh installs it)");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(25));
    }
    (driver, port)
}

async fn browser(port: u16, profile: &std::path::Path) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            // No sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--user-data-dir={}", profile.display())],
        }
    });
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().expect("an object").clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

/// Poll `script` (a function body) until `done` accepts its value.
async fn wait_for(c: &Client, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = c.execute(script, vec![]).await.expect("the script runs");
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last value {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(c: &Client, id: &str, what: &str, wanted: &str) -> String {
    let script = format!("return document.getElementById('{id}').textContent;");
    let v = wait_for(c, what, &script, |v| v.as_str().is_some_and(|t| t.contains(wanted))).await;
    v.as_str().unwrap_or_default().to_string()
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.expect("click");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_requeues_a_message_and_erases_a_sender_in_chromium() {
    let twilio = FakeTwilio::start();
    twilio.fail_to(IN_REVIEW, Failure::unsubscribed());
    twilio.fail_to(ANSWER_BY_HAND, Failure::unsubscribed());
    let bridge = Bridge::start(&settings(&twilio, ""));
    let q = bridge.queue();
    bridge
        .post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000001", TO_ERASE, SCAM))
        .await;
    twilio.wait_for_async(1, WAIT).await;
    bridge
        .post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000002", IN_REVIEW, SCAM))
        .await;
    bridge
        .post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000003", ANSWER_BY_HAND, SCAM))
        .await;
    let review = eventually(WAIT, || {
        let jobs = q.jobs(Some(State::Review), 10).expect("jobs");
        (jobs.len() == 2).then_some(jobs)
    })
    .await
    .expect("two messages in review");
    let by_address = |address: &str| {
        let id = review.iter().map(|j| j.id).find(|&id| q.job(id).expect("job").expect("a job").0.user_key == address);
        id.expect("its message")
    };
    let (job, by_hand) = (by_address(IN_REVIEW), by_address(ANSWER_BY_HAND));
    let added = bridge.command(&["admins", "add", "alice", "--json"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let password = serde_json::from_slice::<Value>(&added.stdout).expect("JSON")["password"]
        .as_str()
        .expect("a password")
        .to_string();

    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().expect("a profile dir");
    let c = browser(port, profile.path()).await;

    // No session: the console sends the browser to the login page.
    c.goto(&format!("{}/admin", bridge.base)).await.expect("open the console");
    wait_for(&c, "the login page", "return location.pathname;", |v| v == "/admin/login").await;
    type_into(&c, "#login-name", "alice").await;
    type_into(&c, "#login-password", "not the password").await;
    click(&c, "#login-submit").await;
    text_of(&c, "login-error", "the refusal", "wrong name or password").await;
    type_into(&c, "#login-password", &password).await;
    click(&c, "#login-submit").await;
    text_of(&c, "who", "the console", "alice (operator)").await;
    text_of(&c, "ov-review", "the overview's review count", "2").await;
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/e2e-console.png"), png).expect("saved");

    // Requeue the message in review once its cause is gone: its stored reply goes out.
    twilio.clear_failures();
    click(&c, "#tab-review").await;
    let row = format!("#review-rows tr[data-id='{}'] input[type=checkbox]", job);
    wait_for(&c, "the row", &format!("return document.querySelector(\"{row}\") !== null;"), |v| v == true).await;
    click(&c, &format!("#review-rows tr[data-id='{}'] button", job)).await;
    text_of(&c, "review-message", "the message", "rate hotels").await;
    click(&c, &row).await;
    click(&c, "#review-requeue").await;
    text_of(&c, "status", "the requeue", "Requeued 1").await;
    eventually(WAIT, || twilio.sent().into_iter().find(|m| m.to() == Some(IN_REVIEW)))
        .await
        .expect("the requeued reply is sent");

    // Answer the other one by hand: the operator's words reach the person.
    let read = format!("#review-rows tr[data-id='{by_hand}'] button");
    wait_for(&c, "its row", &format!("return document.querySelector(\"{read}\") !== null;"), |v| v == true).await;
    click(&c, &read).await;
    text_of(&c, "review-message", "the second message", &format!("Message {by_hand}")).await;
    type_into(&c, "#reply-text", "This offer is a task scam. Do not pay the fee. <Redflag team>").await;
    click(&c, "#reply-send").await;
    text_of(&c, "status", "the reply", &format!("Reply to {by_hand} queued")).await;
    let answered = eventually(WAIT, || twilio.sent().into_iter().find(|m| m.to() == Some(ANSWER_BY_HAND)))
        .await
        .expect("the hand-written reply is sent");
    assert_eq!(answered.body(), Some("This offer is a task scam. Do not pay the fee. <Redflag team>"));

    // Pair a desktop: its token is shown once, and the list shows it.
    click(&c, "#tab-devices").await;
    type_into(&c, "#device-name", "front-desk").await;
    click(&c, "#device-pair").await;
    let paired = text_of(&c, "device-paired", "the pairing", "token rfd_").await;
    assert!(paired.contains("fingerprint"), "{paired}");
    text_of(&c, "device-rows", "the device list", "front-desk").await;

    // Look a sender up, export, erase.
    click(&c, "#tab-users").await;
    type_into(&c, "#user-address", TO_ERASE).await;
    click(&c, "#user-export").await;
    let exported = text_of(&c, "user-result", "the export", "rate hotels").await;
    assert!(exported.contains("\"pseudonym\": \"p:"), "{exported}");
    click(&c, "#user-erase").await;
    click(&c, "#user-erase-confirm").await;
    text_of(&c, "status", "the erasure", &format!("{TO_ERASE}: erased")).await;
    let after: Value =
        serde_json::from_slice(&bridge.command(&["users", "export", TO_ERASE]).stdout).expect("the CLI's export");
    assert_eq!(after["messages"].as_array().map(Vec::len), Some(0), "{after:#}");
    assert_eq!(after["checks"].as_array().map(Vec::len), Some(0), "{after:#}");

    // Both are in the audit log, as the console shows it.
    click(&c, "#tab-audit").await;
    let audit = text_of(&c, "audit-rows", "the audit log", "user.erase").await;
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/e2e-console-audit.png"), png).expect("saved");
    for action in ["job.requeue", "job.reply", "device.pair", "admin:alice"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }

    click(&c, "#logout").await;
    wait_for(&c, "the login page", "return location.pathname;", |v| v == "/admin/login").await;
    c.goto(&format!("{}/admin", bridge.base)).await.expect("open the console");
    wait_for(&c, "the login page again", "return location.pathname;", |v| v == "/admin/login").await;
    c.close().await.expect("close the browser");
}
