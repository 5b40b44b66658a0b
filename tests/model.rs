//! The local classifier (issue #3) through the library and the real binary: loading, determinism, batch equals
//! single, calibration sanity, missing or corrupt model files, and how rule flags and the model combine.

mod common;

use std::path::{Path, PathBuf};

use common::{example, flag_ids, redflag};
use predicates::prelude::*;
use redflag::{Analyzer, Classifier, Document, Input, Label, LocalModel, RuleSet, TextKind, Tier};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn analyzer() -> Analyzer {
    Analyzer::new(RuleSet::builtin().expect("rules")).with_classifier(Box::new(LocalModel::builtin().expect("model")))
}

#[test]
fn the_shipped_model_is_built_in_and_matches_the_files_in_models() {
    assert!(LocalModel::has_builtin(), "models/ holds a trained model, so the build embeds it");
    let builtin = LocalModel::builtin().expect("built-in model loads");
    let from_dir = LocalModel::load_dir(&models_dir()).expect("models/ loads");
    assert_eq!(builtin.config(), from_dir.config());
    let size: u64 = ["classifier.json", "classifier.safetensors", "tokenizer.json"]
        .iter()
        .map(|f| std::fs::metadata(models_dir().join(f)).expect("model file").len())
        .sum();
    assert!(size <= 25 * 1024 * 1024, "model files total {size} bytes, over the 25 MB budget");
}

#[test]
fn scores_are_deterministic_across_calls_and_loads() {
    let input = Input::text(std::fs::read_to_string(example("task-scam-whatsapp.txt")).expect("example"));
    let a = analyzer().analyze(&input).expect("analysis");
    let b = analyzer().analyze(&input).expect("analysis");
    let again = analyzer().analyze(&input).expect("analysis");
    assert_eq!(a.score.to_bits(), b.score.to_bits());
    assert_eq!(a.score.to_bits(), again.score.to_bits());
    assert_eq!(a.tiers, [Tier::Rules, Tier::Model]);
    assert!(a.versions.model.is_some());
}

#[test]
fn examples_get_sensible_calibrated_verdicts() {
    let analyzer = analyzer();
    for (name, expected) in [
        ("task-scam-whatsapp.txt", Label::Scam),
        ("fake-check-email.html", Label::Scam),
        ("legit-posting.txt", Label::Legit),
    ] {
        let text = std::fs::read_to_string(example(name)).expect("example");
        let a = analyzer.analyze(&Input::text(text)).expect("analysis");
        assert!((0.0..=1.0).contains(&a.score), "{name}: {}", a.score);
        assert_eq!(a.label, expected, "{name}: score {} flags {:?}", a.score, a.flag_ids());
    }
}

#[test]
fn rule_flags_raise_the_model_score() {
    // The same document scored with and without its rule flags: the flags are features, and they must push
    // towards "scam", never away from it.
    let model = LocalModel::builtin().expect("model");
    let rules = RuleSet::builtin().expect("rules");
    let doc = Document::from_input(&Input::text(
        "Hello, remote assistant needed. Pay the $120 registration fee and buy gift cards for the client, then \
         send the remaining balance back by Zelle.",
    ))
    .expect("doc");
    let flags = rules.evaluate(&doc);
    assert!(flags.len() >= 2, "{flags:?}");
    let with = model.log_odds(&doc, &flags, TextKind::Chat).expect("score");
    let without = model.log_odds(&doc, &[], TextKind::Chat).expect("score");
    assert!(with > without, "with flags {with} <= without {without}");
}

#[test]
fn a_structured_posting_is_read_by_its_fields_too() {
    // The same ad as fields and as pasted text. The pasted text holds the same words, but only the fields view
    // lights the field indicators the model learned (industry, function, the logo flag, the location's levels):
    // catches field features that are trained but not wired into inference, or the reverse.
    let posting = redflag::Posting {
        title: Some("Administrative Assistant".into()),
        location: Some("US, TX, Houston".into()),
        description: Some("We are looking for an assistant to handle data entry and customer calls.".into()),
        employment_type: Some("Full-time".into()),
        industry: Some("Oil & Energy".into()),
        function: Some("Administrative".into()),
        has_company_logo: Some(false),
        ..redflag::Posting::default()
    };
    let model = LocalModel::builtin().expect("model");
    let config = model.config();
    let first = config.dim + config.rule_ids.len() + config.meta_features.len();
    let rules = RuleSet::builtin().expect("rules");
    let lit = |input: Input| -> Vec<String> {
        let doc = Document::from_input(&input).expect("doc");
        let (dense, _) = model.features(&doc, &rules.evaluate(&doc)).expect("features");
        assert_eq!(dense.len(), first + config.field_tokens.len());
        config.field_tokens.iter().zip(&dense[first..]).filter(|(_, x)| **x == 1.0).map(|(t, _)| t.clone()).collect()
    };
    let fields = lit(Input::Posting(Box::new(posting.clone())));
    for want in ["industry=oil & energy", "function=administrative", "has_company_logo=0", "region=us/tx"] {
        assert!(config.field_tokens.iter().any(|t| t == want), "{want} is not in the model's vocabulary");
        assert!(fields.iter().any(|t| t == want), "{want} not lit: {fields:?}");
    }
    assert!(lit(Input::text(redflag::dataset::pasted(&posting))).is_empty(), "pasted text has no field indicators");
}

#[test]
fn thresholds_form_a_band() {
    let model = LocalModel::builtin().expect("model");
    for kind in TextKind::ALL {
        let t = model.thresholds(kind);
        assert!(0.0 < t.legit && t.legit < t.scam && t.scam < 1.0, "{kind:?}: {t:?}");
    }
}

#[test]
fn batch_and_single_agree_with_the_model() {
    let texts = ["Earn $400 per day liking videos, contact t.me/jobs_anna", "Can you pick up milk on the way home?"];
    let input: String =
        texts.iter().enumerate().map(|(i, t)| serde_json::json!({"id": i, "text": t}).to_string() + "\n").collect();
    let out = redflag().args(["check", "--jsonl", "-"]).write_stdin(input).assert().success().get_output().clone();
    let batch: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    for (text, b) in texts.iter().zip(&batch) {
        let single = common::check_json(*text);
        assert_eq!(single["score"], b["score"], "{text}");
        assert_eq!(single["label"], b["label"], "{text}");
        assert_eq!(single["tiers"], serde_json::json!(["rules", "model"]));
        assert_eq!(flag_ids(&single), flag_ids(b));
    }
}

fn copy_model(to: &Path) {
    for f in ["classifier.json", "classifier.safetensors", "tokenizer.json"] {
        std::fs::copy(models_dir().join(f), to.join(f)).expect("copy");
    }
}

#[test]
fn a_missing_model_file_is_a_clear_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_model(dir.path());
    std::fs::remove_file(dir.path().join("classifier.safetensors")).expect("remove");
    let missing = dir.path().join("classifier.safetensors");
    redflag()
        .arg("--model")
        .arg(dir.path())
        .args(["check", "-"])
        .write_stdin("hello")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(missing.display().to_string()))
        .stderr(predicate::str::contains("redflag train"));
}

#[test]
fn corrupt_model_files_are_clear_errors() {
    for (file, garbage) in [
        ("classifier.safetensors", &b"not safetensors at all"[..]),
        ("classifier.json", &b"{\"version\": 3}"[..]),
        ("tokenizer.json", &b"[]"[..]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_model(dir.path());
        std::fs::write(dir.path().join(file), garbage).expect("write");
        let err = LocalModel::load_dir(dir.path()).expect_err("corrupt file refused");
        let msg = err.to_string();
        assert!(msg.contains(&dir.path().display().to_string()) && msg.contains(file), "{file}: {msg}");
        redflag().arg("--model").arg(dir.path()).args(["check", "-"]).write_stdin("hello").assert().code(2);
    }
}

#[test]
fn rules_only_mode_skips_the_model() {
    let a = common::redflag()
        .args(["--no-model", "check", "--json", "-"])
        .write_stdin("Pay the training fee")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let a: serde_json::Value = serde_json::from_slice(&a).expect("json");
    assert_eq!(a["tiers"], serde_json::json!(["rules"]));
}

/// `redflag eval` on the data directory; skipped (with a message) where ../shared/data is absent. The shipped head
/// also trained on the test fold, so this guards loading and featurisation (a model that fails to fit data it has
/// seen is broken), not generalisation: the held-out numbers come from `redflag train` (see MODEL_CARD.md).
#[test]
fn eval_on_the_data_directory_scores_the_test_fold_and_says_the_model_saw_it() {
    let Some(data) = common::shared_data() else { return };
    let output = redflag().args(["eval", "--data"]).arg(&data).assert().success().get_output().clone();
    let table = String::from_utf8(output.stdout).expect("utf-8");
    // The shipped head trained on every fold after the test fold measured its recipe; eval must say so.
    let note = String::from_utf8(output.stderr).expect("utf-8");
    assert!(note.contains("also trained on the data's test fold") && note.contains("--keep-test-fold-out"), "{note}");
    let all = table.lines().find(|l| l.starts_with("| all |")).expect("overall row");
    let cols: Vec<&str> = all.split('|').map(str::trim).collect();
    // | all | n | scams | precision | recall | F1 | FPR | PR-AUC | ROC-AUC | ECE | ...
    let (pr_auc, ece): (f64, f64) = (cols[8].parse().expect("PR-AUC"), cols[10].parse().expect("ECE"));
    assert!(pr_auc > 0.9, "PR-AUC {pr_auc}\n{table}");
    assert!(ece < 0.08, "ECE {ece}\n{table}");
}

#[test]
fn eval_on_a_labelled_jsonl_prints_metrics_and_draws_plots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("labelled.jsonl");
    let scam = std::fs::read_to_string(example("task-scam-whatsapp.txt")).expect("example");
    let legit = std::fs::read_to_string(example("legit-posting.txt")).expect("example");
    let lines = [
        serde_json::json!({"id": 1, "label": "scam", "source": "chat", "text": scam}),
        serde_json::json!({"id": 2, "label": "legit", "source": "posting", "text": legit}),
        serde_json::json!({"id": 3, "label": "legit", "source": "chat", "text": "dinner at 8? bring the charger"}),
    ];
    std::fs::write(&data, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).expect("write");
    let plots = dir.path().join("plots");
    redflag()
        .args(["eval", "--data"])
        .arg(&data)
        .arg("--plot")
        .arg(&plots)
        .assert()
        .success()
        .stdout(predicate::str::contains("| all | 3 | 1 |"))
        .stdout(predicate::str::contains("| chat | 2 | 1 |"));
    let pr = std::fs::read_to_string(plots.join("pr_curve.svg")).expect("pr curve written");
    assert!(pr.contains("<svg") && pr.contains("Precision-recall (PR-AUC 1.000)"), "{}", &pr[..200.min(pr.len())]);
    assert!(std::fs::read_to_string(plots.join("reliability.svg")).expect("reliability written").contains("ECE"));

    // Lines without a `source` count in the overall row only.
    std::fs::write(
        &data,
        lines[1..].iter().map(|l| l.to_string().replace("\"source\"", "\"kind\"") + "\n").collect::<String>(),
    )
    .expect("write");
    let output = redflag().args(["eval", "--data"]).arg(&data).assert().success().get_output().clone();
    let table = String::from_utf8(output.stdout).expect("utf-8");
    let rows = table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| read as")).count();
    assert_eq!(rows, 2, "header and overall row only, beside the kinds:\n{table}");
    assert!(table.contains("| read as "), "every evaluation splits by the kind of text read:\n{table}");

    std::fs::write(&data, "{\"id\": 1, \"text\": \"no label\"}\n").expect("write");
    redflag().args(["eval", "--data"]).arg(&data).assert().code(2).stderr(predicate::str::contains("`label` must be"));
}
