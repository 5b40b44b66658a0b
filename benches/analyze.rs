//! Speed of the analysis core (issue #3): one ~3 KB posting on one core, with and without the local model, as
//! structured fields, with typographic punctuation and with accented words; a present-day message, and the model's
//! word-by-word explanation of it (issue #16); the posting matched against 100,000 synced indicators (issue #18); a batch of 10,000 postings on all cores; loading the model.
//! Inputs are built from examples/ so the benchmark runs anywhere, seeded by construction (no randomness). The
//! tokenizer benchmarks time the model's id-only tokenizer beside the `tokenizers` crate on the same posting.
//! Run: `cargo bench --workspace --bench analyze`; `REDFLAG_MODEL=DIR` and `REDFLAG_RULES=FILE` time another model or
//! rules file with the same binary, side by side.

use std::sync::LazyLock;

use rayon::prelude::*;
use redflag::{Analyzer, Input, LocalModel, Posting, RuleSet};

fn main() {
    divan::main();
}

/// A ~3 KB posting: the example posting, repeated to size.
static POSTING: LazyLock<String> = LazyLock::new(|| {
    let base = include_str!("../examples/legit-posting.txt");
    let mut text = String::new();
    while text.len() < 3000 {
        text.push_str(base);
        text.push('\n');
    }
    redflag::normalize::truncate_at_char_boundary(&text, 3072).to_string()
});

/// 10,000 distinct postings: the example texts with a varying header, so no two inputs are identical.
static BATCH: LazyLock<Vec<Input>> = LazyLock::new(|| {
    let bases = [
        include_str!("../examples/legit-posting.txt"),
        include_str!("../examples/task-scam-whatsapp.txt"),
        include_str!("../examples/fake-check-email.html"),
    ];
    (0..10_000).map(|i| Input::Text(format!("Ref {i}: job number {}\n{}", i * 7, bases[i % bases.len()]))).collect()
});

/// The shipped model, or the model directory in `REDFLAG_MODEL` (as the CLI reads it), so two models can be timed
/// side by side on the same machine; with `REDFLAG_RULES`' rules when set.
/// The built-in rules, or the rules file in `REDFLAG_RULES`, so two rule sets can be timed side by side.
fn rules() -> RuleSet {
    match std::env::var_os("REDFLAG_RULES") {
        Some(path) => RuleSet::from_path(std::path::Path::new(&path)).expect("REDFLAG_RULES is a valid rules file"),
        None => RuleSet::builtin().expect("rules"),
    }
}

static WITH_MODEL: LazyLock<Analyzer> = LazyLock::new(|| {
    let analyzer = Analyzer::new(rules());
    let model = match std::env::var_os("REDFLAG_MODEL") {
        Some(dir) => LocalModel::load_dir(std::path::Path::new(&dir)),
        None => LocalModel::builtin(),
    };
    analyzer.with_classifier(Box::new(model.expect("this benchmark needs a trained model")))
});

static RULES_ONLY: LazyLock<Analyzer> = LazyLock::new(|| Analyzer::new(rules()));

/// The model and 100,000 indicators synced from a hub (issue #18), one of them a value in the posting, so the
/// matching cost (find the values, hash each, look it up) is timed with a hit.
static WITH_INDICATORS: LazyLock<Analyzer> = LazyLock::new(|| {
    use redflag::sync::indicators::{IndicatorKind, IndicatorSet, Known, digest};
    let known = |kind| Known { kind, count: 3, last_seen: 0 };
    let mut set: std::collections::HashMap<String, Known> = (0..100_000)
        .map(|i| (digest(IndicatorKind::Phone, &format!("+1415{i:07}")), known(IndicatorKind::Phone)))
        .collect();
    set.insert(digest(IndicatorKind::Phone, "+14155550147"), known(IndicatorKind::Phone));
    Analyzer::new(rules())
        .with_classifier(Box::new(LocalModel::builtin().expect("this benchmark needs a trained model")))
        .with_indicators(std::sync::Arc::new(IndicatorSet::new(set)))
});

/// One input analysed over and over, after a warm-up run.
fn bench_one(bencher: divan::Bencher, analyzer: &Analyzer, input: &Input) {
    analyzer.analyze(input).expect("warm up");
    bencher.bench(|| analyzer.analyze(divan::black_box(input)).expect("analysis"));
}

/// `text` cut to the 3 KB the posting benchmarks read.
fn posting_3kb(text: &str) -> Input {
    Input::Text(redflag::normalize::truncate_at_char_boundary(text, 3072).to_string())
}

#[divan::bench]
fn posting_3kb_rules_and_model(bencher: divan::Bencher) {
    let input = Input::Text(POSTING.clone());
    bench_one(bencher, &WITH_MODEL, &input);
}

/// The same posting as structured fields, as job-board exports and the batch format carry it: the model also
/// reads what the short fields say (the field indicators).
#[divan::bench]
fn posting_3kb_as_fields_rules_and_model(bencher: divan::Bencher) {
    let input = Input::Posting(Box::new(Posting {
        title: Some("Registered Nurse, Medical-Surgical".into()),
        location: Some("US, OR, Portland".into()),
        description: Some(POSTING.clone()),
        employment_type: Some("Full-time".into()),
        industry: Some("Hospital & Health Care".into()),
        function: Some("Health Care Provider".into()),
        has_company_logo: Some(true),
        ..Posting::default()
    }));
    bench_one(bencher, &WITH_MODEL, &input);
}

/// The same posting as it usually arrives when pasted: typographic apostrophes and bullets, so not plain ASCII
/// (more than half of the job-board postings in ../shared/data are not). Unicode word boundaries make such text the
/// slow case for the regex crate; see `src/pattern.rs`.
#[divan::bench]
fn posting_3kb_typographic_rules_and_model(bencher: divan::Bencher) {
    let text = POSTING.replace('\n', "\n• ").replace(". ", "’s. ");
    let input = posting_3kb(&text);
    bench_one(bencher, &WITH_MODEL, &input);
}

/// The same posting with one line holding accented letters ("résumé", "São Paulo"), as 2% of the job-board
/// postings do: the one kind of text where Unicode and ASCII word boundaries differ, so the slowest path.
#[divan::bench]
fn posting_3kb_accented_rules_and_model(bencher: divan::Bencher) {
    let text = format!("Send your résumé to our São Paulo office.\n{}", *POSTING);
    let input = posting_3kb(&text);
    bench_one(bencher, &WITH_MODEL, &input);
}

/// A present-day message end to end (issue #16: a message within 10 ms), and the model's word-by-word explanation
/// alone, the most a message pays when no red flag explains a high score.
const MESSAGE: &str = "Hi Sam, this is Priya from Northwind's talent team. We'd love to talk about the remote \
                       operations coordinator role you applied for. Are you free for a quick call this week? You can \
                       also pick a time here: https://calendly.com/northwind-talent/intro";

/// The 3 KB posting with a reported phone number in it, matched against 100,000 synced indicators.
#[divan::bench]
fn posting_3kb_rules_model_and_100k_indicators(bencher: divan::Bencher) {
    let text = format!("Call +1 415 555 0147 to apply.\n{}", POSTING.as_str());
    let input = posting_3kb(&text);
    assert!(WITH_INDICATORS.analyze(&input).expect("analysis").flag("reported-indicator").is_some());
    bench_one(bencher, &WITH_INDICATORS, &input);
}

#[divan::bench]
fn message_rules_and_model(bencher: divan::Bencher) {
    bench_one(bencher, &WITH_MODEL, &Input::text(MESSAGE));
}

#[divan::bench]
fn message_model_explanation(bencher: divan::Bencher) {
    let model = LocalModel::builtin().expect("this benchmark needs a trained model");
    let doc = redflag::Document::from_input(&Input::text(MESSAGE)).expect("doc");
    model.explain(&doc, &[]).expect("warm up");
    bencher.bench(|| model.explain(divan::black_box(&doc), &[]).expect("explanation"));
}

#[divan::bench]
fn posting_3kb_rules_only(bencher: divan::Bencher) {
    let input = Input::Text(POSTING.clone());
    bench_one(bencher, &RULES_ONLY, &input);
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn batch_10k_all_cores(bencher: divan::Bencher) {
    let analyzer = &*WITH_MODEL;
    let batch = &*BATCH;
    bencher
        .counter(divan::counter::ItemsCount::new(batch.len()))
        .bench(|| batch.par_iter().map(|input| analyzer.analyze(input).map(|a| a.score).unwrap_or(0.0)).sum::<f32>());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn model_load() -> LocalModel {
    LocalModel::builtin().expect("model")
}

/// The model text of the 3 KB posting, for the tokenizer benchmarks.
static MODEL_TEXT: LazyLock<String> = LazyLock::new(|| {
    let doc = redflag::Document::from_input(&Input::Text(POSTING.clone())).expect("document");
    redflag::model::features::model_text(&doc)
});

static TOKENIZER_JSON: &[u8] = include_bytes!("../models/tokenizer.json");

/// The shipped `tokenizer.json` (a 128-token window), or with `window == false` the same without it, to time every
/// character.
fn tokenizer_json(window: bool) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(TOKENIZER_JSON).expect("tokenizer.json");
    if !window {
        json["truncation"] = serde_json::Value::Null;
        json["padding"] = serde_json::Value::Null;
    }
    json.to_string().into_bytes()
}

/// The ids the model reads, as `IdTokenizer` computes them...
#[divan::bench(args = [true, false])]
fn tokenize_3kb_id_tokenizer(bencher: divan::Bencher, window: bool) {
    let tokenizer = redflag::model::wordpiece::IdTokenizer::from_bytes(&tokenizer_json(window)).expect("tokenizer");
    let text = MODEL_TEXT.as_str();
    bencher.bench(|| tokenizer.ids(divan::black_box(text)));
}

/// ...and as the `tokenizers` crate computes the same ids (what the model used before `IdTokenizer`).
#[divan::bench(args = [true, false])]
fn tokenize_3kb_tokenizers_crate(bencher: divan::Bencher, window: bool) {
    let tokenizer = tokenizers::Tokenizer::from_bytes(tokenizer_json(window)).expect("tokenizer");
    let text = MODEL_TEXT.as_str();
    bencher.bench(|| tokenizer.encode_fast(divan::black_box(text), false).expect("encode").get_ids().len());
}
