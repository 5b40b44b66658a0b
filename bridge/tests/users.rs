//! The operator's per-sender commands and the audit log (issue #20), on the real binary: `users export` shows
//! what is kept about a sender, `users erase` removes it but leaves the limits under the pseudonym, and every such
//! command lands in an audit log the database itself keeps append-only.

mod common;

use std::process::Output;
use std::time::Duration;

use common::bridge::{Bridge, eventually, settings};
use common::fake_twilio::FakeTwilio;
use redflag_bridge::queue::Queue;

const USER: &str = "whatsapp:+14155550123";
const NUMBER: &str = "4155550123";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a $50 registration fee to start. Contact us on WhatsApp.";
const WAIT: Duration = Duration::from_secs(30);

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn exports(out: &Output) -> Vec<serde_json::Value> {
    let text = stdout(out);
    serde_json::Deserializer::from_str(&text).into_iter().map(|v| v.expect("JSON")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_exports_and_erases_a_sender_and_the_audit_log_keeps_the_record() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000001", USER, SCAM)).await;
    twilio.wait_for_async(1, WAIT).await;
    let q = bridge.queue();
    eventually(WAIT, || (q.depth(i64::MAX / 2).expect("depth").pending == 0).then_some(())).await.expect("settled");

    // A bare number stands for the WhatsApp and the SMS address.
    let both = exports(&bridge.command(&["users", "export", "+14155550123"]));
    assert_eq!(both.len(), 2);
    let (whatsapp, sms) = (&both[0], &both[1]);
    assert_eq!(whatsapp["address"], USER);
    let pseudonym = whatsapp["pseudonym"].as_str().expect("a pseudonym").to_string();
    assert!(pseudonym.starts_with("p:") && !pseudonym.contains(NUMBER));
    assert_eq!(whatsapp["messages"].as_array().expect("messages").len(), 1);
    let checks = whatsapp["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "{whatsapp:#}");
    assert_eq!(checks[0]["label"], "scam");
    assert!(checks[0]["redacted_text"].as_str().expect("text").contains("rate hotels"));
    assert_eq!(whatsapp["analyses_today"], 1);
    assert!(whatsapp["last_message_at"].is_i64());
    assert_eq!(sms["messages"].as_array().expect("messages").len(), 0, "nothing came by SMS");

    let erased = stdout(&bridge.command(&["users", "erase", USER]));
    assert!(erased.starts_with(&format!("{USER}\terased ")), "{erased}");
    let after = exports(&bridge.command(&["users", "export", USER]));
    assert_eq!(after[0]["pseudonym"], pseudonym.as_str(), "the same sender, the same pseudonym");
    assert_eq!(after[0]["messages"].as_array().expect("messages").len(), 0);
    assert_eq!(after[0]["checks"].as_array().expect("checks").len(), 0);
    assert!(after[0]["last_message_at"].is_null());
    assert_eq!(after[0]["analyses_today"], 1, "the day's count survives the erasure");

    stdout(&bridge.command(&["keys", "add", "partner"]));
    let log = stdout(&bridge.command(&["audit", "--json"]));
    assert!(!log.contains(NUMBER), "the audit log names a number: {log}");
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().expect("action")).collect();
    assert_eq!(actions, ["key.create", "user.export", "user.erase", "user.export", "user.export"], "newest first");
    assert!(entries.iter().all(|e| e["actor"].as_str().expect("actor").starts_with("cli")));
    assert_eq!(entries[0]["target"], "partner");
    assert_eq!(entries[2]["target"], pseudonym.as_str());

    // Retention, erasure and a hurried hand edit alike cannot rewrite it.
    let db = rusqlite::Connection::open(bridge.db()).expect("open the file");
    for statement in ["DELETE FROM bridge_audit", "UPDATE bridge_audit SET actor = 'someone else'"] {
        let refused = db.execute(statement, []).expect_err("the audit log is append-only");
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    assert_eq!(stdout(&bridge.command(&["audit"])).lines().count(), 5);

    // The answered message shows in the metrics the dashboard and the alerts read.
    bridge
        .metrics_showing(&[
            r#"redflag_bridge_verdicts_total{channel="whatsapp",label="scam"} 1"#,
            r#"redflag_bridge_reply_latency_seconds_count{channel="whatsapp"} 1"#,
            r#"redflag_bridge_reply_latency_seconds_bucket{channel="whatsapp",le="10"} 1"#,
        ])
        .await;
}

#[test]
fn a_bad_address_is_refused_with_what_to_type() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let out = bridge.command(&["users", "erase", "alice"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("international form") && err.contains("whatsapp:+"), "{err}");
}
