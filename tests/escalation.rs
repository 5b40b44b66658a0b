//! The LLM tier end to end (issue #4): the real `redflag` binary against a fake OpenAI-compatible server speaking
//! real HTTP on loopback, with a real SQLite file. Each test has its own database and config, and asserts what
//! reached the server (how many calls, what text) as well as what the person sees.

mod common;
#[path = "common/fake_openai.rs"]
mod fake_openai;

use std::path::PathBuf;

use assert_cmd::Command;
use fake_openai::{Behaviour, FakeOpenAi, verdict};
use serde_json::Value;

/// The local tiers are unsure about these (scores between the thresholds), so `auto` escalates them.
const UNSURE: &str = "Hello, we have a part-time position that may suit you. Reply for details.";
const UNSURE_WITH_EMAIL: &str =
    "We are hiring clerks, work from home, weekly pay. Send your resume to hr@quickjobs-online.com";

/// One isolated Redflag installation: its own database, an empty config file, pointed at a fake server.
struct Setup {
    dir: tempfile::TempDir,
    fake: FakeOpenAi,
    key: String,
}

impl Setup {
    fn new(behaviour: Behaviour) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), "").expect("config");
        Setup { dir, fake: FakeOpenAi::start(behaviour), key: "sk-test-key-0123456789".into() }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("redflag.db")
    }

    fn redflag(&self) -> Command {
        let mut cmd = common::redflag();
        cmd.env("REDFLAG_CONFIG", self.dir.path().join("config.toml"))
            .env("REDFLAG_DB", self.db())
            .env("REDFLAG_LLM_BASE_URL", &self.fake.base_url)
            .env("OPENAI_API_KEY", &self.key)
            .env("REDFLAG_LLM_TIMEOUT_SECS", "3")
            .env_remove("REDFLAG_ESCALATE")
            .env_remove("REDFLAG_LLM_MODEL")
            .env_remove("REDFLAG_BUDGET_DAILY_USD")
            .env_remove("REDFLAG_BUDGET_MONTHLY_USD");
        cmd
    }

    /// `redflag check --json -` with extra arguments, parsed.
    fn check(&self, text: &str, args: &[&str]) -> Value {
        let out = self.redflag().args(["check", "--json"]).args(args).arg("-").write_stdin(text).assert().success();
        serde_json::from_slice(&out.get_output().stdout).expect("--json prints one JSON object")
    }

    /// Every user message the fake server received, concatenated.
    fn sent(&self) -> String {
        self.fake.requests().iter().map(|r| r.body.to_string()).collect::<Vec<_>>().join("\n")
    }
}

/// The fake LLM's verdict with one reason quoting `quote`, which the input must contain for it to count as evidence.
fn quoting(label: &'static str, probability: f64, quote: &str) -> Behaviour {
    Behaviour::Verdict { label, probability, reasons: vec![("Asks you to reply for details".into(), quote.into())] }
}

fn status(a: &Value) -> &str {
    a["escalation"]["status"].as_str().unwrap_or("none")
}

#[test]
fn auto_asks_the_llm_about_unsure_inputs_and_merges_its_verdict() {
    let s = Setup::new(Behaviour::Verdict {
        label: "scam",
        probability: 0.91,
        reasons: vec![("Vague offer that asks for a reply".into(), "Reply for details".into())],
    });
    let a = s.check(UNSURE, &[]);
    assert_eq!(s.fake.calls(), 1);
    assert_eq!(a["label"], "scam");
    assert_eq!(a["score"], 0.91);
    assert_eq!(a["tiers"], serde_json::json!(["rules", "model", "llm"]));
    assert_eq!(status(&a), "answered");
    assert!(a["tier_scores"]["model"].is_number(), "the local model scored it first");
    assert_eq!(a["escalation"]["recommended"], true, "the local tier was unsure");
    let reason = &a["llm"]["reasons"][0];
    assert_eq!(reason["reason"], "Vague offer that asks for a reply");
    // The quote is located in the person's own text.
    let text = a["text"].as_str().expect("text");
    let (start, end) =
        (reason["evidence"]["start"].as_u64().expect("start"), reason["evidence"]["end"].as_u64().expect("end"));
    assert_eq!(&text[start as usize..end as usize], "Reply for details");
    assert!(a["llm"]["cost_usd"].as_f64().expect("cost") > 0.0);
}

#[test]
fn confident_inputs_offline_and_never_make_no_calls() {
    let s = Setup::new(verdict("legit", 0.1));
    let scam = std::fs::read_to_string(common::example("task-scam-whatsapp.txt")).expect("example");
    let a = s.check(&scam, &[]);
    assert_eq!((a["label"].as_str(), status(&a)), (Some("scam"), "not_needed"));
    let a = s.check(UNSURE, &["--offline"]);
    assert_eq!((a["label"].as_str(), status(&a)), (Some("uncertain"), "off"));
    assert!(a["notes"].to_string().contains("--offline"), "{}", a["notes"]);
    let a = s.check(UNSURE, &["--escalate", "never"]);
    assert_eq!(status(&a), "off");
    let out = s
        .redflag()
        .args(["check", "--jsonl", "--offline", "-"])
        .write_stdin(format!("{{\"text\": \"{UNSURE}\"}}\n"))
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("\"uncertain\""));
    assert_eq!(s.fake.calls(), 0, "nothing reached the server");
}

#[test]
fn no_address_or_number_from_the_input_reaches_the_server() {
    let s = Setup::new(verdict("scam", 0.9));
    let text = "Hi Jane Doe, text me on WhatsApp +44 7700 900123 or call (415) 555-0199, mail jane.doe@example.com. \
                Pay the fee to IBAN GB29 NWBK 6016 1331 9268 19, card 4111 1111 1111 1111, SSN 078-05-1120. \
                Details at https://jobs.example/offer?ref=jane.doe@example.com&uid=99812345 or wa.me/447700900123";
    std::fs::write(s.dir.path().join("config.toml"), "[privacy]\nnames = [\"Jane Doe\"]\n").expect("config");
    let a = s.check(text, &["--escalate", "always"]);
    assert_eq!(s.fake.calls(), 1);
    assert_eq!(status(&a), "answered");
    let sent = s.sent();
    for secret in
        ["7700", "900123", "555-0199", "jane.doe", "example.com", "GB29", "4111", "078-05", "99812345", "Jane", "Doe"]
    {
        assert!(!sent.contains(secret), "{secret:?} reached the server: {sent}");
    }
    // Evidence that is not personal still goes: the link's domain and the scam's wording.
    assert!(
        sent.contains("jobs.example/offer") && sent.contains("wa.me/[PHONE]") && sent.contains("Pay the fee"),
        "{sent}"
    );
    // And the history keeps only the redacted text.
    let out = s.redflag().args(["history", "list", "--json"]).assert().success();
    let history = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(history.contains("[PHONE]") && !history.contains("900123"), "{history}");
}

#[test]
fn show_outbound_prints_the_redacted_request_and_sends_nothing() {
    let s = Setup::new(verdict("scam", 0.9));
    let out = s.redflag().args(["check", "--show-outbound", "-"]).write_stdin(UNSURE_WITH_EMAIL).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("Would be sent: yes"), "{stdout}");
    assert!(stdout.contains("Send your resume to [EMAIL]"), "{stdout}");
    assert!(stdout.contains("\"response_format\""), "{stdout}");
    assert!(!stdout.contains("hr@quickjobs-online.com"), "{stdout}");
    assert_eq!(s.fake.calls(), 0);
}

/// Issue #16: the LLM decides the inputs it is asked about, but a `scam` it cannot point at in the text (no red
/// flag, no quote found) is at most `uncertain`, like the local tiers' verdicts.
#[test]
fn an_llm_scam_it_cannot_quote_stays_uncertain() {
    let s = Setup::new(verdict("scam", 0.9));
    let a = s.check(UNSURE, &[]);
    assert_eq!(status(&a), "answered");
    assert_eq!(a["llm"]["label"], "scam", "the second opinion is kept as it was given");
    assert_eq!(a["flags"], serde_json::json!([]));
    assert_eq!(a["label"], "uncertain", "{a}");
    assert!(a["summary"].as_str().expect("summary").contains("no specific warning sign"), "{a}");
}

#[test]
fn repeats_and_near_duplicates_are_served_from_the_cache() {
    let s = Setup::new(quoting("scam", 0.88, "work from home, weekly pay"));
    assert_eq!(status(&s.check(UNSURE_WITH_EMAIL, &[])), "answered");
    // Same text with another contact: identical once redacted.
    let again = UNSURE_WITH_EMAIL.replace("hr@quickjobs-online.com", "jobs@elsewhere.example");
    let a = s.check(&again, &[]);
    assert_eq!(status(&a), "cached_exact");
    assert_eq!(a["label"], "scam");
    assert_eq!(a["llm"]["cost_usd"], 0.0);
    // A word changed: a near-duplicate (SimHash distance <= 3) of what was answered.
    let near = format!("{UNSURE_WITH_EMAIL} ");
    let near = near.replace("weekly pay", "weekly pay!!");
    assert_eq!(status(&s.check(&near, &[])), "cached_near", "same words, other punctuation: SimHash distance 0");
    assert_eq!(s.fake.calls(), 1, "one paid call for three checks");
}

#[test]
fn a_reached_budget_returns_the_local_verdict_and_says_so() {
    let s = Setup::new(verdict("scam", 0.9));
    let out = s
        .redflag()
        .env("REDFLAG_BUDGET_DAILY_USD", "0.000001")
        .args(["check", "--json", "-"])
        .write_stdin(UNSURE)
        .assert()
        .success();
    let a: Value = serde_json::from_slice(&out.get_output().stdout).expect("json");
    assert_eq!(status(&a), "budget_reached");
    assert_eq!(a["label"], "uncertain");
    assert!(a["escalation"]["outcome"].as_str().expect("outcome").contains("daily budget"), "{}", a["escalation"]);
    assert_eq!(s.fake.calls(), 0);
}

#[test]
fn a_rejected_key_switches_escalation_off_until_the_configuration_changes() {
    let s = Setup::new(Behaviour::Unauthorized);
    let a = s.check(UNSURE, &[]);
    assert_eq!((a["label"].as_str(), status(&a)), (Some("uncertain"), "disabled"));
    assert!(a["escalation"]["outcome"].as_str().expect("outcome").contains("401"), "{}", a["escalation"]);
    assert_eq!(s.fake.calls(), 1);
    // The same configuration does not try again...
    assert_eq!(status(&s.check(UNSURE_WITH_EMAIL, &[])), "disabled");
    assert_eq!(s.fake.calls(), 1);
    // ...until the person says the cause is fixed (quota topped up, same key)...
    s.fake.set(verdict("legit", 0.2));
    s.redflag().args(["config", "enable-escalation"]).assert().success();
    assert_eq!(status(&s.check(UNSURE_WITH_EMAIL, &[])), "answered");
    assert_eq!(s.fake.calls(), 2);
    // ...and a new key is tried at once.
    let out = s
        .redflag()
        .env("OPENAI_API_KEY", "sk-new-key")
        .args(["check", "--json", "-"])
        .write_stdin(UNSURE)
        .assert()
        .success();
    let a: Value = serde_json::from_slice(&out.get_output().stdout).expect("json");
    assert_eq!((a["label"].as_str(), status(&a)), (Some("legit"), "answered"));
    assert_eq!(s.fake.calls(), 3);
}

#[test]
fn a_failing_or_hanging_server_falls_back_to_the_local_verdict() {
    let s = Setup::new(Behaviour::ServerError);
    let a = s.check(UNSURE, &[]);
    assert_eq!((a["label"].as_str(), status(&a)), (Some("uncertain"), "failed"));
    assert_eq!(s.fake.calls(), 3, "one call and two retries, no more");
    s.fake.set(Behaviour::Hang);
    let started = std::time::Instant::now();
    let out =
        s.redflag().env("REDFLAG_LLM_TIMEOUT_SECS", "1").args(["check", "-"]).write_stdin(UNSURE).assert().success();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let report = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(report.starts_with("Not sure") && report.contains("no second opinion"), "{report}");
}

#[test]
fn batch_escalates_only_unsure_lines_and_keeps_order() {
    let s = Setup::new(verdict("scam", 0.8));
    let scam = std::fs::read_to_string(common::example("task-scam-whatsapp.txt")).expect("example");
    let lines = [
        serde_json::json!({"id": "a", "text": UNSURE}),
        serde_json::json!({"id": "b", "text": scam}),
        serde_json::json!({"id": "c", "text": UNSURE_WITH_EMAIL}),
        serde_json::json!({"id": "d", "text": UNSURE}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = s.redflag().args(["check", "--jsonl", "-"]).write_stdin(input).assert().success();
    let verdicts: Vec<Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let ids: Vec<&str> = verdicts.iter().map(|v| v["id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    let statuses: Vec<&str> = verdicts.iter().map(status).collect();
    assert_eq!(statuses[1], "not_needed");
    assert_eq!(
        statuses.iter().filter(|s| **s == "answered").count()
            + statuses.iter().filter(|s| **s == "cached_exact").count(),
        3
    );
    assert_eq!(s.fake.calls(), 2, "a and d are the same text: paid once");
}

#[test]
fn history_cost_and_config_show() {
    let s = Setup::new(quoting("scam", 0.9, "Reply for details"));
    s.check(UNSURE, &[]);
    s.check(UNSURE_WITH_EMAIL, &["--user", "whatsapp:+15550001111"]);
    let listed = |args: &[&str]| {
        let out = s.redflag().arg("history").args(args).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).to_string()
    };
    // The local user's checks by default; a user id's with --user; everyone's with --all.
    let list = listed(&[]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("Likely scam"), "{list}");
    assert_eq!(listed(&["--user", "whatsapp:+15550001111"]).lines().count(), 1);
    assert_eq!(listed(&["--all"]).lines().count(), 2);
    s.redflag().args(["history", "--all", "--user", "x"]).assert().code(2);
    let export = s.redflag().args(["history", "export", "--all"]).assert().success();
    let all: Vec<Value> = serde_json::from_slice(&export.get_output().stdout).expect("export is a JSON array");
    assert_eq!(all.len(), 2);
    let id = all[0]["id"].as_i64().expect("id");
    s.redflag().args(["history", "show", "--all", &id.to_string()]).assert().success();
    s.redflag().args(["history", "delete", "--all", &id.to_string()]).assert().success();
    s.redflag().args(["history", "delete", "--all", &id.to_string()]).assert().code(2);
    s.redflag().args(["history", "clear"]).assert().code(2);
    s.redflag().args(["history", "clear", "--yes", "--all"]).assert().success();
    assert!(listed(&["--all"]).contains("No checks"));

    let cost = String::from_utf8_lossy(&s.redflag().args(["cost"]).assert().success().get_output().stdout).to_string();
    assert!(cost.contains("gpt-4o-mini") && cost.contains("whatsapp:+15550001111") && cost.contains("local"), "{cost}");

    let shown = String::from_utf8_lossy(&s.redflag().args(["config", "show"]).assert().success().get_output().stdout)
        .to_string();
    assert!(shown.contains("set (hidden)") && !shown.contains(&s.key), "{shown}");
    assert!(shown.contains(&s.fake.base_url) && shown.contains(s.db().to_str().expect("utf-8 path")), "{shown}");
}

/// The measurement, not a pass/fail check: a deterministic mixed stream of 1,000 held-out inputs from
/// ../shared/data through `redflag check --jsonl --escalate auto`, twice (the second pass is the next day's
/// forwards of the same texts), against a fake server that bills tokens like the real API (bytes / 4).
/// Run: `cargo test --workspace --test escalation -- --ignored --nocapture stream`
#[test]
#[ignore = "needs ../shared/data; prints the numbers for the closing note"]
fn stream_of_1000_mixed_inputs() {
    let Some(data) = common::shared_data() else { return };
    let examples = redflag::dataset::load(&data, None).expect("the shared data loads");
    let mut held_out: Vec<_> = examples.into_iter().filter(|e| e.split == redflag::dataset::Split::Test).collect();
    // A fixed shuffle: order by a hash of the id.
    held_out.sort_by_key(|e| redflag::hash::fnv1a(e.id.as_bytes()));
    held_out.truncate(1000);
    let input: String = held_out
        .iter()
        .map(|e| {
            let mut line = match &e.input {
                redflag::Input::Text(t) => serde_json::json!({ "text": t }),
                redflag::Input::Posting(p) => serde_json::to_value(p).expect("posting"),
            };
            line["id"] = Value::from(e.id.clone());
            format!("{line}\n")
        })
        .collect();
    let s = Setup::new(Behaviour::Billed { label: "scam", probability: 0.8 });
    for pass in 1..=2 {
        let calls_before = s.fake.calls();
        let out = s.redflag().args(["check", "--jsonl", "-"]).write_stdin(input.clone()).assert().success();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for line in String::from_utf8_lossy(&out.get_output().stdout).lines() {
            let v: Value = serde_json::from_str(line).expect("json line");
            *counts.entry(status(&v).to_string()).or_default() += 1;
        }
        let cost =
            String::from_utf8_lossy(&s.redflag().args(["cost", "--json"]).assert().success().get_output().stdout)
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("row")["cost_usd"].as_f64().unwrap_or(0.0))
                .sum::<f64>();
        eprintln!(
            "pass {pass}: {} inputs, statuses {counts:?}, LLM calls {}, total cost so far ${cost:.4} at gpt-4o-mini prices",
            held_out.len(),
            s.fake.calls() - calls_before
        );
    }
}
