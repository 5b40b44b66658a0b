//! The `redflag` CLI contract (issue #2): command names, output shapes and exit codes, on the example inputs and on
//! every kind of bad input. These run the real binary.

mod common;

use common::{check_json, example, flag_ids, redflag};
use predicates::prelude::*;

#[test]
fn task_scam_example_is_reported_with_flags_and_quoted_evidence() {
    redflag()
        .args(["check"])
        .arg(example("task-scam-whatsapp.txt"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("Likely scam"))
        .stdout(predicate::str::contains("[task-scam]"))
        .stdout(predicate::str::contains("⟦"))
        .stdout(predicate::str::contains("What to do"));
}

#[test]
fn json_output_evidence_points_into_the_normalised_text() {
    let out = redflag().args(["check", "--json"]).arg(example("task-scam-whatsapp.txt")).assert().success();
    let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(a["label"], "scam");
    assert!(a["score"].as_f64().expect("score") > 0.9);
    assert_eq!(a["tiers"], serde_json::json!(["rules", "model"]));
    let text = a["text"].as_str().expect("text is included in single-input JSON");
    for flag in a["flags"].as_array().expect("flags") {
        for e in flag["evidence"].as_array().expect("evidence") {
            let (start, end) = (e["start"].as_u64().expect("start") as usize, e["end"].as_u64().expect("end") as usize);
            assert_eq!(&text[start..end], e["snippet"].as_str().expect("snippet"), "flag {}", flag["id"]);
        }
    }
    let ids = flag_ids(&a);
    for expected in ["task-scam", "chat-app-interview", "shortened-or-chat-link", "unrealistic-pay"] {
        assert!(ids.iter().any(|i| i == expected), "{expected} missing from {ids:?}");
    }
}

#[test]
fn html_fake_cheque_email_is_a_scam() {
    let out = redflag().args(["check", "--json"]).arg(example("fake-check-email.html")).assert().success();
    let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(a["label"], "scam");
    let ids = flag_ids(&a);
    for expected in ["fake-check", "free-email-recruiter", "sensitive-info-early"] {
        assert!(ids.iter().any(|i| i == expected), "{expected} missing from {ids:?}");
    }
    assert!(!a["text"].as_str().expect("text").contains("<p>"), "HTML was converted");
}

#[test]
fn legitimate_examples_are_not_flagged() {
    // The structured posting is `legit`. The pasted one sits near the posting band's lower edge (0.10, where the
    // calibration puts one board posting in twenty): it must never be a scam or raise a flag, and its anti-scam
    // notice must be read as the reassurance it is.
    for name in ["legit-posting.json", "legit-posting.txt"] {
        let out = redflag().args(["check", "--json"]).arg(example(name)).assert().success();
        let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
        assert_ne!(a["label"], "scam", "{name}: {a}");
        assert!(a["score"].as_f64().expect("score") < 0.2, "{name}: {a}");
        assert_eq!(flag_ids(&a), Vec::<String>::new(), "{name}");
    }
    let out = redflag().args(["check", "--json"]).arg(example("legit-posting.json")).assert().success();
    let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(a["label"], "legit", "{a}");
    let out = redflag().args(["check", "--json"]).arg(example("legit-posting.txt")).assert().success();
    let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    let reassured: Vec<&str> =
        a["reassurances"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str()).collect();
    assert!(reassured.contains(&"scam-warning"), "{a}");
}

#[test]
fn stdin_is_read_with_a_dash_or_no_path() {
    redflag().args(["check", "-"]).write_stdin("Pay the $99 training fee to start").assert().success();
    redflag()
        .args(["check"])
        .write_stdin("Pay the $99 training fee to start")
        .assert()
        .success()
        .stdout(predicate::str::contains("upfront-payment"));
}

#[test]
fn version_and_help() {
    redflag().arg("--version").assert().success().stdout(predicate::str::starts_with("redflag "));
    redflag().args(["check", "--help"]).assert().success().stdout(predicate::str::contains("Examples:"));
    redflag().arg("--help").assert().success().stdout(predicate::str::contains("--jsonl batch.jsonl"));
}

#[test]
fn usage_errors_exit_2() {
    redflag().args(["check", "--no-such-flag"]).assert().code(2);
    redflag().arg("frobnicate").assert().code(2);
    redflag().args(["check", "--json", "--jsonl", "-"]).write_stdin("x").assert().code(2);
}

#[test]
fn empty_input_is_refused_with_a_clear_message() {
    redflag().args(["check", "-"]).write_stdin("  \n\t\n").assert().code(2).stderr(predicate::str::contains("empty"));
    redflag().args(["check", "-"]).write_stdin("").assert().code(2).stderr(predicate::str::contains("empty"));
}

#[test]
fn missing_file_and_directory_are_refused() {
    redflag()
        .args(["check", "/no/such/file.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot open /no/such/file.txt"));
    redflag()
        .args(["check", env!("CARGO_MANIFEST_DIR")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("directory"));
}

#[test]
fn binary_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("screenshot.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").expect("write");
    redflag().arg("check").arg(&png).assert().code(2).stderr(predicate::str::contains("image"));
    redflag()
        .args(["check", "-"])
        .write_stdin(b"hello\0\x01\x02 world".to_vec())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("binary"));
}

#[test]
fn invalid_utf8_is_read_lossily_and_noted() {
    // Windows-1252 "résumé" and curly quotes, as an old e-mail client writes them.
    let a = check_json(b"Send your r\xe9sum\xe9 and pay the \x93training fee\x94 of $80 today".to_vec());
    assert!(flag_ids(&a).contains(&"upfront-payment".to_string()), "{a}");
    let notes = a["notes"].to_string();
    assert!(notes.contains("not valid UTF-8"), "{notes}");
}

#[test]
fn a_50_mb_input_is_bounded_and_says_so() {
    let mut big = b"Earn $300/day from home, no experience needed. ".to_vec();
    big.resize(50 * 1024 * 1024, b'a');
    let a = check_json(big);
    let notes = a["notes"].to_string();
    assert!(notes.contains("only the first"), "{notes}");
    assert!(flag_ids(&a).contains(&"unrealistic-pay".to_string()), "the window is analysed: {a}");
}

#[test]
fn deeply_nested_and_malformed_html_do_not_crash() {
    let deep = format!("<html><body>{}Pay the training fee{}", "<div><span>".repeat(60_000), "</b>".repeat(3));
    let a = check_json(deep);
    assert!(flag_ids(&a).contains(&"upfront-payment".to_string()), "{}", a["flags"]);
    let malformed = "<p>Buy gift cards <b>for the <i>client</p></div></td><tr><<>>&bogus; now <a href=";
    let a = check_json(malformed);
    assert!(flag_ids(&a).contains(&"fake-check".to_string()), "{}", a["flags"]);
}

#[test]
fn a_json_posting_file_is_read_as_a_structured_posting() {
    let posting = r#"{"title": "Data entry", "description": "Earn $2,000 weekly from home, no experience needed.", "telecommuting": "1", "has_company_logo": 0}"#;
    let a = check_json(posting);
    assert!(a["text"].as_str().expect("text").starts_with("Data entry\n\nDescription\n"), "{}", a["text"]);
    assert!(flag_ids(&a).contains(&"vague-posting".to_string()), "{}", a["flags"]);
    redflag()
        .args(["check", "-"])
        .write_stdin(r#"{"title": "x", "telecommuting": "sometimes"}"#)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a boolean"));
}

#[test]
fn rules_can_be_listed_and_overridden() {
    let out = redflag().arg("rules").assert().success().get_output().stdout.clone();
    let listing = String::from_utf8(out).expect("utf-8");
    assert!(listing.lines().filter(|l| l.contains("0.")).count() >= 15, "{listing}");

    let dir = tempfile::tempdir().expect("tempdir");
    let custom = dir.path().join("rules.toml");
    std::fs::write(
        &custom,
        "version = \"test-1\"\n[[rule]]\nid = \"pineapple\"\ntitle = \"Mentions pineapple\"\nexplanation = \"Test rule.\"\nweight = 0.9\npatterns = ['pineapple']\n",
    )
    .expect("write");
    let out = redflag()
        .arg("--rules")
        .arg(&custom)
        .args(["check", "--json", "-"])
        .write_stdin("A pineapple job")
        .assert()
        .success();
    let a: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(flag_ids(&a), ["pineapple"]);
    assert_eq!(a["versions"]["rules"], "test-1");

    std::fs::write(&custom, "version = \"x\"\n[[rule]]\nid = \"Bad Id\"\n").expect("write");
    redflag()
        .arg("--rules")
        .arg(&custom)
        .args(["check", "-"])
        .write_stdin("x")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(custom.display().to_string()));
}
