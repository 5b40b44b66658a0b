//! Issue #16: a verdict shows its reasons. Every `scam` rests on evidence the person can see, reassurance never
//! rescues a text that asks for money or documents, and every span a verdict shows lies inside the person's text.
//!
//! The corpora read here are the project's own written texts (the red-team sets and `models/written/`), so these
//! tests run everywhere, CI included.

mod common;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use common::redflag;
use redflag::{Analysis, Analyzer, Evidence, Input, Label, TextKind};

static ANALYZER: LazyLock<Analyzer> = LazyLock::new(|| Analyzer::builtin().expect("built-in analyzer"));

fn analyze(text: &str) -> Analysis {
    ANALYZER.analyze(&Input::text(text)).expect("analysis")
}

/// Every text of the red-team sets and the written corpus, with its label.
fn project_texts() -> Vec<(String, bool)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["tests/redteam", "models/written"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("project corpus directory"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the red-team sets and the written corpus are in the repository: {files:?}");
    files.iter().flat_map(|f| read_jsonl(f)).collect()
}

fn read_jsonl(path: &Path) -> Vec<(String, bool)> {
    std::fs::read_to_string(path)
        .expect("corpus file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            (v["text"].as_str().expect("text").to_string(), v["label"] == "scam")
        })
        .collect()
}

fn check_span(text: &str, e: &Evidence, what: &str) {
    assert!(
        e.start < e.end && e.end <= text.len(),
        "{what}: {}..{} outside a text of {} bytes",
        e.start,
        e.end,
        text.len()
    );
    assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end), "{what}: not on character boundaries");
    assert_eq!(&text[e.start..e.end], e.snippet, "{what}: the snippet is not the text at its offsets");
}

#[test]
fn every_span_a_verdict_shows_lies_inside_the_text() {
    for (text, _) in project_texts() {
        let a = analyze(&text);
        let t = a.text.as_deref().expect("the analysis carries its text");
        for f in &a.flags {
            assert!(!f.evidence.is_empty(), "flag {} without evidence", f.id);
            f.evidence.iter().for_each(|e| check_span(t, e, &f.id));
        }
        for r in &a.reassurances {
            assert!(!r.evidence.is_empty(), "reassurance {} without evidence", r.id);
            r.evidence.iter().for_each(|e| check_span(t, e, &r.id));
        }
        for w in &a.model_words {
            w.evidence.iter().for_each(|e| check_span(t, e, &w.word));
        }
    }
}

#[test]
fn a_scam_verdict_always_shows_a_red_flag() {
    let mut scams = 0;
    for (text, _) in project_texts() {
        let a = analyze(&text);
        if a.label == Label::Scam {
            scams += 1;
            assert!(a.has_visible_evidence(), "`scam` without a visible red flag: {:?}", a.summary);
        }
        if a.flags.is_empty() {
            assert_ne!(a.label, Label::Scam);
        }
        if a.label == Label::Uncertain && a.flags.is_empty() {
            assert!(a.summary.contains("no specific warning sign"), "{}", a.summary);
        }
        // Reassurance is shown only when it counted: with no red flag.
        assert!(a.reassurances.is_empty() || a.flags.is_empty());
    }
    assert!(scams > 50, "the corpora hold scams the rules see; only {scams} were called scams");
}

#[test]
fn reassurance_never_rescues_a_text_that_asks_for_money() {
    // The wording of an applicant-tracking system's mail, on its real domain, with a fee added.
    let text = "Thank you for applying to Northwind Logistics. We have received your application through \
                https://northwind.wd5.myworkdayjobs.com/careers. To move to the interview stage, please pay the \
                $85 background check fee by Zelle to our HR coordinator within 24 hours.";
    let a = analyze(text);
    assert!(!a.flags.is_empty(), "the fee is a red flag");
    assert!(a.reassurances.is_empty(), "reassurance does not count beside a red flag");
    assert_ne!(a.label, Label::Legit, "score {}", a.score);
}

#[test]
fn kinds_are_told_apart_and_reported() {
    let code = analyze("Your Microsoft verification code is 482913. Don't share it with anyone.");
    assert_eq!(code.kind, TextKind::Notification);
    let chat = analyze("hey did u get the shift for saturday? manager said they still need 2 people");
    assert_eq!(chat.kind, TextKind::Chat);
}

#[test]
fn the_cli_report_says_why_it_looks_legitimate() {
    let text = "Your Google verification code is 771204. Don't share this code with anyone. Google will never call \
                you to ask for it.";
    let out = redflag().args(["check", "-"]).write_stdin(text).assert().success().get_output().stdout.clone();
    let report = String::from_utf8(out).expect("utf-8");
    assert!(report.contains("Why it looks legitimate"), "{report}");
    assert!(report.contains("[code-warning]"), "{report}");
    assert!(report.contains("read as notification"), "{report}");
}
