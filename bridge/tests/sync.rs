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

/// The id of the newest check in a device's history.
fn newest_check(d: &Device) -> String {
    let listed = d.run(&["history", "list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let newest = String::from_utf8_lossy(&listed.stdout).lines().next().expect("a check").to_string();
    let row: serde_json::Value = serde_json::from_str(&newest).expect("one JSON object per line");
    row["id"].as_i64().expect("an id").to_string()
}

fn reports(bridge: &Bridge, label: &str) -> Vec<serde_json::Value> {
    let out = bridge.command(&["reports", "list", "--label", label, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON report")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_made_offline_arrive_once_and_enough_of_them_warn_everyone() {
    let twilio = FakeTwilio::start();
    let config = settings(&twilio, "[hub]\nreport_threshold = 2\n");
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut bridge = Bridge::start_in(dir.path(), &config);
    let pair = |bridge: &Bridge, d: &Device, name: &str| {
        let added = bridge.command(&["devices", "add", name, "--json"]);
        assert!(added.status.success(), "{}", text(&added));
        let token = serde_json::from_slice::<serde_json::Value>(&added.stdout).expect("JSON")["token"]
            .as_str()
            .expect("a token")
            .to_string();
        let paired = d.run(&["sync", "pair", &bridge.base, &token]);
        assert!(paired.status.success(), "{}", text(&paired));
        token
    };
    let (first, second, third) = (Device::new(), Device::new(), Device::new());
    let token = pair(&bridge, &first, "first");
    let tokens = [pair(&bridge, &second, "second"), pair(&bridge, &third, "third")];

    // A scam whose number and site nobody has reported yet: local rules catch it, nothing is shared.
    let scam = "Hi, Anna from Talent Desk here. You are selected for our remote assistant job! Pay the $95 training \
                fee at https://pay-talentdesk.example or send it on WhatsApp +1 415 555 0166 to start today.";
    assert_eq!(reported(&first.check(scam)), None);

    // The first person reports it while the hub is down: it waits in the outbox and nothing is lost.
    bridge.kill();
    let id = newest_check(&first);
    let queued = first.run(&["report", &id, "scam"]);
    assert!(queued.status.success(), "{}", text(&queued));
    assert!(text(&queued).contains("Queued"), "{}", text(&queued));
    assert!(text(&first.run(&["sync", "--status"])).contains("1 waiting"));
    assert_eq!(first.run(&["sync"]).status.code(), Some(1), "still down: exit 1, the report stays queued");

    // The hub comes back (on another port: the devices pair again, which keeps their outboxes) and the report is
    // delivered at the sync; later syncs do not send it again.
    let bridge = Bridge::start_in(dir.path(), &config);
    for (d, token) in [(&first, &token), (&second, &tokens[0]), (&third, &tokens[1])] {
        let repaired = d.run(&["sync", "pair", &bridge.base, token]);
        assert!(repaired.status.success(), "{}", text(&repaired));
    }
    assert!(first.run(&["sync"]).status.success());
    let scams = reports(&bridge, "scam");
    assert_eq!(scams.len(), 1, "delivered exactly once: {scams:?}");
    assert_eq!(scams[0]["device"], "first");
    assert!(!scams[0]["text"].as_str().expect("text").contains("0166"), "the hub gets the redacted text");
    assert_eq!(scams[0]["indicators"].as_array().expect("digests").len(), 2, "the number and the site");
    assert!(text(&first.run(&["sync", "--status"])).contains("0 waiting"));
    let listed = text(&bridge.command(&["indicators", "list"]));
    assert!(!listed.contains("sha256:"), "one device's report publishes nothing: {listed}");

    // A report sent twice (a sync killed after the hub answered) counts once; a malformed one is a clear 400.
    let http = reqwest::Client::new();
    let once = serde_json::json!({
        "id": "7a0c5d3e-2b1f-4c6a-9e8d-1f2a3b4c5d6e", "label": "legit", "text": "see you at the interview",
        "verdict": "legit", "score": 0.1, "checked_at": 1
    });
    let send = |body: serde_json::Value| {
        http.post(format!("{}/v1/sync/reports", bridge.base)).bearer_auth(&token).json(&body).send()
    };
    let answer = |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.expect("JSON answer") };
    assert_eq!(answer(send(once.clone()).await.expect("sent")).await["duplicate"], false);
    assert_eq!(answer(send(once.clone()).await.expect("sent again")).await["duplicate"], true);
    assert_eq!(reports(&bridge, "legit").len(), 1);
    let mut bad = once.clone();
    bad["id"] = "42".into();
    let refused = send(bad).await.expect("sent");
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.expect("body").contains("UUID"));

    // A second person reports the same scam: two devices reach the operator's threshold, the values are published
    // as digests, and a third person's check of a new message from the same number shows the flag.
    second.check(scam);
    let sent = second.run(&["report", &newest_check(&second), "scam"]);
    assert!(text(&sent).contains("Sent."), "{}", text(&sent));
    let listed = text(&bridge.command(&["indicators", "list"]));
    assert_eq!(listed.matches("sha256:").count(), 2, "{listed}");
    assert!(third.run(&["sync"]).status.success());
    let next = "New openings this week, message +1 415 555 0166 for details.";
    assert_eq!(reported(&third.check(next)).expect("warned by others' reports"), ["+1 415 555 0166"]);
}
