//! The hub and a device against each other on loopback (issue #18): the real `redflag-bridge` binary as the hub,
//! the real `redflag` CLI as the device, each with its own database. Pairing, an operator's indicator becoming a
//! flag on the device with its span, a judged scam wave publishing its values but never the sender's number, the
//! allowlist withdrawing a value, a revoked device refused, an unreachable hub exiting 1.
//!
//! `redflag` is another package's binary: it sits beside this one when the workspace is tested together
//! (`cargo test --workspace`, as CI runs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::bridge::{Bridge, eventually, settings};
use common::fake_twilio::FakeTwilio;
use redflag_bridge::queue::{Queue, State};

const WAIT: Duration = Duration::from_secs(30);
const SENDER: &str = "whatsapp:+14155550123";
/// A wave of task scams, forwarded by a person whose own number also appears (they quote it back).
const WAVE: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a 50 USDT deposit to unlock tasks. Contact our HR on WhatsApp +1 415 555 0199 \
                    or t.me/nova_hr_desk. We will call you back on +1 415 555 0123.";

/// The device: the `redflag` CLI with a home and database of its own.
struct Device {
    dir: tempfile::TempDir,
}

impl Device {
    fn new() -> Device {
        Device { dir: tempfile::tempdir().expect("a temp dir") }
    }

    fn run(&self, args: &[&str]) -> Output {
        let exe = cli_exe();
        Command::new(&exe)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("REDFLAG_DB", self.dir.path().join("device.db"))
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()))
    }

    /// `redflag check --offline --json` on `text`.
    fn check(&self, text: &str) -> serde_json::Value {
        let path = self.dir.path().join("message.txt");
        std::fs::write(&path, text).expect("write the message");
        let out = self.run(&["check", "--offline", "--json", path.to_str().expect("utf-8")]);
        assert!(out.status.success(), "check failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON analysis")
    }
}

/// The built-in rules as `version`, with one rule more.
fn rules_file(version: &str) -> String {
    let builtin = include_str!("../../models/rules.toml");
    let line = builtin.lines().find(|l| l.starts_with("version = ")).expect("a version line");
    let extra = "\n[[rule]]\nid = \"purple-elephant\"\ntitle = \"Purple elephant bonus\"\nexplanation = \"A test rule the hub \
                 published.\"\nweight = 0.6\npatterns = ['purple elephant bonus']\n";
    format!("{}{extra}", builtin.replacen(line, &format!("version = \"{version}\""), 1))
}

fn cli_exe() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_redflag-bridge"))
        .with_file_name(format!("redflag{}", std::env::consts::EXE_SUFFIX));
    assert!(exe.is_file(), "{} is missing: run the tests with `cargo test --workspace`", exe.display());
    exe
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The `reported-indicator` flag of an analysis, with each evidence span checked against the text.
fn reported(a: &serde_json::Value) -> Option<Vec<String>> {
    let flag = a["flags"].as_array()?.iter().find(|f| f["id"] == "reported-indicator")?;
    let text = a["text"].as_str().expect("the analysis carries its text");
    let snippets = flag["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| {
            let (start, end) = (e["start"].as_u64().expect("start") as usize, e["end"].as_u64().expect("end") as usize);
            assert_eq!(&text[start..end], e["snippet"].as_str().expect("snippet"), "the span is the snippet");
            e["snippet"].as_str().expect("snippet").to_string()
        })
        .collect();
    Some(snippets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_learns_what_the_hub_sees_and_decides_locally() {
    let twilio = FakeTwilio::start();
    let mut bridge = Bridge::start(&settings(&twilio, ""));

    // The operator pairs a device and publishes a number.
    let added = bridge.command(&["devices", "add", "laptop", "--json"]);
    assert!(added.status.success(), "{}", text(&added));
    let device: serde_json::Value = serde_json::from_slice(&added.stdout).expect("JSON");
    let token = device["token"].as_str().expect("a token");
    let fingerprint = device["fingerprint"].as_str().expect("a fingerprint");
    let published = bridge.command(&["indicators", "add", "phone", "+1 (415) 555-0147", "--json"]);
    assert!(published.status.success(), "{}", text(&published));

    // Before pairing, the number means nothing to the device.
    let d = Device::new();
    let offer = "Congratulations, you are hired as a remote data entry clerk. Text our manager on +1 415 555 0147.";
    assert_eq!(reported(&d.check(offer)), None);

    let paired = d.run(&["sync", "pair", &bridge.base, token]);
    assert!(paired.status.success(), "{}", text(&paired));
    assert!(text(&paired).contains(fingerprint), "the person can compare the fingerprint: {}", text(&paired));
    let flagged = reported(&d.check(offer)).expect("the reported number is a red flag now");
    assert_eq!(flagged, ["+1 415 555 0147"]);

    // A scam wave reaches the bridge from two people: its values are published once both sent them; the forwarding
    // person's own number is not.
    let q = bridge.queue();
    let done = |n: usize| {
        let jobs = q.jobs(None, 10).expect("jobs");
        (jobs.iter().filter(|j| j.state == State::Done).count() >= n).then_some(())
    };
    let inbound = |n: u32, from: &str| Bridge::inbound(&format!("SM{n:032x}"), from, WAVE);
    assert_eq!(bridge.post_signed("/webhooks/twilio", &inbound(1, SENDER)).await.status(), 200);
    eventually(WAIT, || done(1)).await.expect("the first is answered");
    let one = text(&bridge.command(&["indicators", "list"]));
    assert!(!one.contains("+14155550199"), "one person's message publishes nothing: {one}");
    assert_eq!(bridge.post_signed("/webhooks/twilio", &inbound(2, "whatsapp:+14155550124")).await.status(), 200);
    eventually(WAIT, || done(2)).await.expect("the second is answered");
    let listed = text(&bridge.command(&["indicators", "list"]));
    assert!(listed.contains("+14155550199") && listed.contains("t.me/nova_hr_desk"), "{listed}");
    assert!(!listed.contains("+14155550123"), "the sender's own number is never published: {listed}");

    let synced = d.run(&["sync"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let next = "Join our team! Message +1 415 555 0199 on WhatsApp for the task list.";
    assert_eq!(reported(&d.check(next)).expect("learned from the wave"), ["+1 415 555 0199"]);
    let own = "Call me back on +1 415 555 0123 please.";
    assert_eq!(reported(&d.check(own)), None, "the victim's number was never published");

    // The operator allows a value: devices drop it at their next sync.
    let allowed = bridge.command(&["indicators", "allow", "phone", "+14155550199"]);
    assert!(allowed.status.success(), "{}", text(&allowed));
    assert!(d.run(&["sync"]).status.success());
    assert_eq!(reported(&d.check(next)), None);
    let status = text(&d.run(&["sync", "--status"]));
    assert!(status.contains(fingerprint) && status.contains(&bridge.base), "{status}");

    // The operator publishes newer rules with one rule more; the device takes them at its next sync and checks
    // with them. An older file is refused at publishing (devices would refuse it too).
    let rules = bridge.dir.join("rules.toml");
    std::fs::write(&rules, rules_file("2099.1.1.1")).expect("write the rules");
    let published = bridge.command(&["bundle", "publish", rules.to_str().expect("utf-8")]);
    assert!(published.status.success(), "{}", text(&published));
    let took = d.run(&["sync"]);
    assert!(text(&took).contains("Took the hub's rules 2099.1.1.1"), "{}", text(&took));
    let a = d.check("Claim your purple elephant bonus today.");
    assert_eq!(a["versions"]["rules"], "2099.1.1.1");
    assert!(a["flags"].as_array().expect("flags").iter().any(|f| f["id"] == "purple-elephant"), "{a}");
    std::fs::write(&rules, rules_file("2098.1.1.1")).expect("write the rules");
    let older = bridge.command(&["bundle", "publish", rules.to_str().expect("utf-8")]);
    assert!(!older.status.success(), "an older bundle is refused: {}", text(&older));

    // A device without an API key of its own may ask the hub for a second opinion with its token.
    let http = reqwest::Client::new();
    let ask = |token: &str| {
        http.post(format!("{}/v1/analyze", bridge.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "text": offer }))
            .send()
    };
    assert_eq!(ask(token).await.expect("the hub answers").status(), 200);

    // A device further along than the hub (a hub restored from a backup) is told to pair again, not skipped past.
    let ahead = http
        .get(format!("{}/v1/sync/indicators", bridge.base))
        .bearer_auth(token)
        .query(&[("cursor", format!("{fingerprint}.999999"))])
        .send()
        .await
        .expect("the hub answers");
    assert_eq!(ahead.status(), 400);
    assert!(ahead.text().await.expect("body").contains("pair again"));
    let foreign = http
        .get(format!("{}/v1/sync/indicators", bridge.base))
        .bearer_auth(token)
        .query(&[("cursor", "0000-1111.1")])
        .send()
        .await
        .expect("the hub answers");
    assert_eq!(foreign.status(), 400, "a cursor from another hub");

    // A revoked device is refused (exit 2) and keeps what it had.
    assert!(bridge.command(&["devices", "revoke", "laptop"]).status.success());
    assert_eq!(ask(token).await.expect("the hub answers").status(), 401, "a revoked token is refused everywhere");
    let refused = d.run(&["sync"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("revoked"), "{}", text(&refused));
    assert!(reported(&d.check(offer)).is_some(), "what was synced stays in use");

    // A hub that is down: exit 1, nothing lost.
    bridge.kill();
    let down = d.run(&["sync"]);
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(reported(&d.check(offer)).is_some());
}
