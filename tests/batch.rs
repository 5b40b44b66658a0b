//! `redflag check --jsonl` (issue #2): input order, ids, one output line per input line, errors that do not stop
//! the batch, and verdicts identical to single-input mode.

mod common;

use common::{example, redflag};
use serde_json::Value;

fn run_batch(input: impl Into<Vec<u8>>) -> Vec<Value> {
    let out = redflag().args(["check", "--jsonl", "-"]).write_stdin(input).assert().success().get_output().clone();
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

#[test]
fn example_batch_keeps_order_and_reports_bad_lines() {
    let out = redflag().args(["check", "--jsonl"]).arg(example("batch.jsonl")).assert().success().get_output().clone();
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let ids: Vec<&Value> = lines.iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&Value::from("msg-1"), &"msg-2".into(), &"post-3".into(), &"bad-4".into(), &5.into()]);
    assert_eq!(lines[0]["label"], "scam");
    assert_eq!(lines[1]["label"], "legit");
    assert_eq!(lines[2]["label"], "legit");
    assert!(lines[3]["error"].as_str().expect("error").contains("must be a string"));
    assert!(lines[4]["error"].as_str().expect("error").contains("not valid JSON"));
    assert!(lines[0].get("text").is_none(), "batch output leaves the text out");
}

#[test]
fn every_kind_of_bad_line_gets_an_error_and_the_batch_goes_on() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"id\": \"a\", \"text\": \"Pay the training fee\"}\n");
    input.extend_from_slice(b"[1, 2, 3]\n");
    input.extend_from_slice(b"{\"id\": \"no-input\"}\n");
    input.extend_from_slice(b"\n"); // blank lines are skipped, not errors
    input.extend_from_slice(b"{\"id\": \"bin\", \"text\": \"a\0b\"}\n");
    input.extend_from_slice(b"{\"id\": \"latin1\", \"text\": \"r\xe9sum\xe9 please\"}\n");
    input.extend_from_slice(b"{\"id\": \"extra\", \"text\": \"hello there\", \"colour\": \"red\"}\n");
    input.extend_from_slice(b"{\"id\": \"empty\", \"text\": \"   \"}\n");
    input.extend_from_slice(b"{\"id\": \"huge\", \"text\": \"");
    input.resize(input.len() + 9 * 1024 * 1024, b'x');
    input.extend_from_slice(b"\"}\n");
    input.extend_from_slice(b"{\"id\": \"last\", \"text\": \"see you at 7\"}"); // no trailing newline
    let lines = run_batch(input);
    let summary: Vec<(String, bool)> = lines.iter().map(|l| (l["id"].to_string(), l.get("error").is_some())).collect();
    assert_eq!(
        summary,
        [
            ("\"a\"".to_string(), false),
            ("2".to_string(), true),
            ("\"no-input\"".to_string(), true),
            ("5".to_string(), true),
            ("\"latin1\"".to_string(), false),
            ("\"extra\"".to_string(), false),
            ("\"empty\"".to_string(), true),
            ("9".to_string(), true),
            ("\"last\"".to_string(), false),
        ],
        "{lines:#?}"
    );
    assert!(lines[4]["warnings"].to_string().contains("not valid UTF-8"), "{}", lines[4]);
    assert_eq!(lines[5]["warnings"], serde_json::json!(["unknown field \"colour\" ignored"]));
    assert!(lines[6]["error"].as_str().expect("error").contains("empty"));
    assert!(lines[7]["error"].as_str().expect("error").contains("longer than"));
}

#[test]
fn batch_verdicts_equal_single_verdicts() {
    let texts = [
        std::fs::read_to_string(example("task-scam-whatsapp.txt")).expect("example"),
        std::fs::read_to_string(example("legit-posting.txt")).expect("example"),
        "Send your bank account details and a photo of your passport to start tomorrow".to_string(),
    ];
    let input: String =
        texts.iter().enumerate().map(|(i, t)| serde_json::json!({"id": i, "text": t}).to_string() + "\n").collect();
    let batch = run_batch(input);
    assert_eq!(batch.len(), texts.len());
    for (text, from_batch) in texts.iter().zip(&batch) {
        let single = common::check_json(text.as_str());
        for key in ["label", "score", "flags", "summary", "tiers", "versions"] {
            assert_eq!(single[key], from_batch[key], "{key} differs for {text:?}");
        }
    }
}

#[test]
fn a_large_batch_keeps_input_order_across_parallel_chunks() {
    // More lines than one parallel chunk, alternating scam and ordinary messages.
    let n = 5000;
    let input: String = (0..n)
        .map(|i| {
            let text = if i % 2 == 0 { "Pay the $50 registration fee to start" } else { "lunch at noon?" };
            serde_json::json!({"id": i, "text": text}).to_string() + "\n"
        })
        .collect();
    let lines = run_batch(input);
    assert_eq!(lines.len(), n);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["id"], i, "order");
        let flagged = !line["flags"].as_array().expect("flags").is_empty();
        assert_eq!(flagged, i % 2 == 0, "line {i}");
    }
}
