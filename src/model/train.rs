//! `redflag train`: builds the local classifier from `../shared/data`, seeded and reproducible.
//!
//! 1. Load the labelled corpora with a grouped split ([`crate::dataset`]).
//! 2. Distil the sentence encoder into a static token table (cached under the work directory; it takes a minute).
//! 3. Featurise every document with the same code inference uses ([`super::features`], [`super::fields`]), learn
//!    IDF weights, the field-token vocabulary and standardisation on folds 1-4 (never the test fold).
//! 4. Train candidate heads (logistic, one hidden layer; with and without the embedding) with AdamW ([`fit`]) on
//!    a class- and source-balanced loss, on folds 2-4, early-stopped on fold 1; keep the best by PR-AUC on fold 1,
//!    with its epoch count.
//! 5. Cross-fit the chosen head over folds 1-4 (each fold scored by a head trained on the other three) and fit
//!    Platt scaling and the uncertainty band on those out-of-fold predictions ([`calibrate`]).
//! 6. Train the head on folds 1-4 and report it on the test fold, which nothing above has seen.
//! 7. Unless told to keep the test fold out, train the shipped head on all five folds with the same recipe.
//!
//! Shipping a head trained on every fold rather than on 2-4 puts two thirds more scam groups into the model
//! (fraudsters reuse templates, so each group seen matters); cross-fitting keeps calibration honest without a
//! fold of its own, and the test fold still measures the recipe before it joins the training data.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rayon::prelude::*;
use serde::Serialize;

use super::calibrate::Prediction;
use super::features::{self, META_FEATURES};
use super::fields::{self, FieldIndex};
use super::fit::{self, SplitData, Stop};
use super::head::HeadConfig;
use super::metrics::{self, Metrics};
use super::sparse::{self, SparseConfig, SparseModel};
use super::wordpiece::IdTokenizer;
use super::{CONFIG_FILE, KindCalibration, ModelConfig, Platt, TOKENIZER_FILE, WEIGHTS_FILE, calibrate, distill};
use crate::analysis::{Label, TextKind};
use crate::dataset::{self, Example, Family, Split};
use crate::document::Document;
use crate::rules::RuleSet;
use crate::score::Thresholds;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    /// The written corpus (`models/written/`), if it is to be trained on.
    pub written: Option<PathBuf>,
    pub encoder: PathBuf,
    pub out: PathBuf,
    /// Caches (the distilled table) and exports (train/held-out JSONL for baselines).
    pub work: PathBuf,
    pub seed: u64,
    pub dim: usize,
    pub max_epochs: usize,
    /// The most inputs the uncertainty band may hold, as a share of the out-of-fold predictions on folds 1-4.
    pub max_band: f64,
    /// After the test fold has measured the head trained on folds 1-4, ship one trained on all five folds.
    pub ship_test_fold: bool,
}

/// Progress callbacks: a stage begins with a length, then advances.
pub trait Progress: Sync {
    fn stage(&self, name: &str, len: u64);
    fn advance(&self, by: u64);
}

/// A candidate head and how it did.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub name: String,
    pub hidden: usize,
    pub uses_embedding: bool,
    pub uses_ngrams: bool,
    pub epochs: usize,
    pub validation: Metrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub version: String,
    pub examples: HashMap<String, usize>,
    pub candidates: Vec<Candidate>,
    pub chosen: String,
    /// Epochs the chosen head trained for on fold 1's early stopping; cross-fitting and the shipped head use it.
    pub epochs: usize,
    pub calibration: Platt,
    pub thresholds: Thresholds,
    /// Per-kind calibration and band.
    pub kinds: Vec<KindCalibration>,
    /// The sparse model alone (trained on folds 1-4) on the test fold, at 0.5: overall first, then per slice.
    pub sparse_test: Vec<(String, Metrics)>,
    /// The head trained on folds 1-4 (shipped too unless `shipped_on_all_folds`) on the test fold.
    pub test: Metrics,
    pub test_by_family: Vec<(String, Metrics)>,
    /// Whether the shipped head then also trained on the test fold.
    pub shipped_on_all_folds: bool,
    /// Field-token indicators the model reads ([`fields`]).
    pub field_features: usize,
    /// Rule flags the model reads as indicators (those that fire in folds 1-4), of all rules.
    pub rule_features: (usize, usize),
    /// The extra weight EMSCAD's cells had in the loss.
    pub emscad_emphasis: f32,
    /// Out-of-fold predictions on folds 1-4, each fold calibrated by the others (the band is the shipped one).
    pub crossval: Metrics,
    pub crossval_by_family: Vec<(String, Metrics)>,
}

/// The sparse model's hash buckets: 2^18 keeps collisions rare for the ~600,000 distinct word pairs of the corpora
/// while the weights stay under a megabyte as f16.
const SPARSE: SparseConfig = SparseConfig { buckets: 1 << 18 };

/// Hashed n-gram buckets (unigrams take the first 30,522) and the width of their learned vectors.
const BAG_BUCKETS: usize = 1 << 17;
const BAG_DIM: usize = 16;

/// Extra weight on EMSCAD's cells. Fraudulent postings that read like real ones (a staffing agency's 79 ads, an
/// impersonated employer's) are the hardest distinction in the data, and the other cells are easy enough to spare
/// it: on the cross-validated folds 1-4, 3 raised EMSCAD's PR-AUC from 0.836 to 0.857 while job-board and
/// personal-message false positives stayed under 1% (5 gave 0.860 with both slightly worse).
const EMSCAD_EMPHASIS: f32 = 3.0;

/// A featurised example.
struct Row {
    example: Example,
    tokens: Vec<u32>,
    rule_meta: Vec<f32>,
    /// What a structured posting's short fields say ([`fields::tokens`]).
    fields: Vec<String>,
    /// This row is an EMSCAD posting's second view ([`Example::other_view`]): it trains, but is not measured or
    /// calibrated on except in the per-view rows of the report.
    other_view: bool,
    /// Log-odds the rule flags (or, when none fired, the reassurances) add to the calibrated score.
    evidence: f32,
    /// What kind of text it reads as ([`crate::kind`]).
    kind: TextKind,
    /// A red flag with evidence fired.
    visible: bool,
    /// What the sparse model reads ([`super::sparse_terms`]).
    terms: Vec<(u32, f32)>,
}

/// What one candidate head sees.
#[derive(Clone, Copy)]
struct Plan {
    name: &'static str,
    hidden: usize,
    uses_embedding: bool,
    uses_ngrams: bool,
}

const PLANS: [Plan; 4] = [
    Plan { name: "logistic, rules+facts only", hidden: 0, uses_embedding: false, uses_ngrams: false },
    Plan { name: "logistic, embedding", hidden: 0, uses_embedding: true, uses_ngrams: false },
    Plan { name: "mlp-64, embedding", hidden: 64, uses_embedding: true, uses_ngrams: false },
    Plan { name: "mlp-64, embedding+ngrams", hidden: 64, uses_embedding: true, uses_ngrams: true },
];

pub fn train(opts: &TrainOptions, rules: &RuleSet, progress: &dyn Progress) -> anyhow::Result<TrainReport> {
    std::fs::create_dir_all(&opts.work).with_context(|| format!("creating {}", opts.work.display()))?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let examples = dataset::load(&opts.data, opts.written.as_deref())?;
    let table = distilled_table(opts, progress)?;
    let tokenizer_path = opts.encoder.join("tokenizer.json");
    let tokenizer = std::fs::read(&tokenizer_path)
        .map_err(|e| e.to_string())
        .and_then(|json| IdTokenizer::from_bytes(&json))
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", tokenizer_path.display()))?;
    let all_rule_ids: Vec<String> = rules.rules().map(|r| r.id.clone()).collect();

    let views: Vec<(Example, bool)> = examples
        .into_iter()
        .flat_map(|mut e| {
            let other = e.other_view.take().map(|input| (Example { input, ..e.clone() }, true));
            std::iter::once((e, false)).chain(other)
        })
        .collect();
    progress.stage("featurising", views.len() as u64);
    let mut rows: Vec<Row> = views
        .into_par_iter()
        .filter_map(|(example, other_view)| {
            let doc = Document::from_input(&example.input).ok()?;
            let flags = rules.evaluate(&doc);
            let reassurances = rules.reassure(&doc);
            let tokens = features::token_ids(&tokenizer, &doc);
            let rule_meta = features::rule_and_meta(&doc, &flags, &all_rule_ids);
            let fields = fields::tokens(&doc);
            let evidence =
                crate::score::rule_evidence(&flags) + crate::score::reassurance_evidence(&flags, &reassurances);
            let kind = crate::kind::detect(&doc);
            let visible = flags.iter().any(|f| !f.evidence.is_empty());
            let terms = super::sparse_terms(&doc, SPARSE);
            progress.advance(1);
            Some(Row { example, tokens, rule_meta, fields, other_view, evidence, kind, visible, terms })
        })
        .collect();
    let rule_ids = keep_rules_that_fire(&mut rows, &all_rule_ids);
    export_splits(&opts.work, &rows)?;

    let vocab = table.len() / opts.dim;
    let idf = inverse_document_frequency(&rows, vocab);
    // EMSCAD's tokens only: the one source with both labels (see `fields` on why board-only tokens would mislead).
    let field_tokens = fields::vocabulary(
        rows.iter()
            .filter(|r| r.example.split != Split::Test && r.example.family == Family::Emscad)
            .map(|r| r.fields.as_slice()),
    );
    let field_index = FieldIndex::new(&field_tokens);
    let mut matrix: Vec<Vec<f32>> = rows
        .par_iter()
        .map(|r| {
            let mut f = features::embed(&r.tokens, &table, &idf, opts.dim);
            f.extend_from_slice(&r.rule_meta);
            f.extend(field_index.indicators(&r.fields));
            f
        })
        .collect();
    let (mean, std) = standardisation(&rows, &matrix, field_index.len());
    for f in &mut matrix {
        for ((x, m), s) in f.iter_mut().zip(&mean).zip(&std) {
            *x = (*x - m) / s;
        }
    }
    let bags: Vec<Vec<u32>> = rows.par_iter().map(|r| features::ngram_buckets(&r.tokens, vocab, BAG_BUCKETS)).collect();
    let corpus = Corpus { rows: &rows, matrix: &matrix, bags: &bags, embedding_dim: opts.dim };
    // Every view trains; measurement, early stopping and calibration see each example once, as `input` has it.
    let select = |keep: &dyn Fn(&Row) -> bool| -> Vec<usize> { (0..rows.len()).filter(|&i| keep(&rows[i])).collect() };
    let train_idx = select(&|r| r.example.split == Split::Train);
    let val_idx = select(&|r| r.example.split == Split::Validation && !r.other_view);
    let test_views = select(&|r| r.example.split == Split::Test);
    let test_idx = select(&|r| r.example.split == Split::Test && !r.other_view);
    let fitting_views = select(&|r| r.example.split != Split::Test);
    let fitting = select(&|r| r.example.split != Split::Test && !r.other_view);
    let inputs = matrix[0].len();

    // 1. Choose a head and its epoch count: train on folds 2-4, early-stop on fold 1.
    let mut candidates = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    for (k, plan) in PLANS.into_iter().enumerate() {
        let (train_set, val_set) = (corpus.subset(&train_idx, plan), corpus.subset(&val_idx, plan));
        let cfg = head_config(inputs, plan);
        progress.stage(&format!("training {}", plan.name), opts.max_epochs as u64);
        let stop = Stop::Early { validation: &val_set, max_epochs: opts.max_epochs, patience: 6 };
        let (varmap, epochs) =
            fit::fit(&cfg, &train_set, &balanced_weights(&rows, &train_idx), stop, opts.seed, &|| progress.advance(1))?;
        let val_scores: Vec<f32> = fit::logits(&varmap, &cfg, &val_set)?.iter().map(|z| sigmoid(*z)).collect();
        let validation = metrics::compute(&val_scores, &val_set.y, Thresholds { legit: 0.5, scam: 0.5 });
        if plan.uses_embedding && best.is_none_or(|(b, _)| validation.pr_auc > b) {
            best = Some((validation.pr_auc, k));
        }
        candidates.push(Candidate {
            name: plan.name.into(),
            hidden: plan.hidden,
            uses_embedding: plan.uses_embedding,
            uses_ngrams: plan.uses_ngrams,
            epochs,
            validation,
        });
    }
    let (_, chosen) = best.context("no candidate trained")?;
    let plan = PLANS[chosen];
    let head_cfg = head_config(inputs, plan);
    let epochs = candidates[chosen].epochs.max(1);

    // 2. Cross-fit the chosen head over folds 1-4: each fold is scored by a head trained on the other three, for
    // the chosen number of epochs, so every example outside the test fold gets an honest out-of-fold logit.
    let mut out_of_fold = vec![0f32; rows.len()];
    let mut sparse_out_of_fold = vec![0f32; rows.len()];
    for fold in (0..dataset::FOLDS).filter(|f| *f != dataset::TEST_FOLD) {
        let (inner, scored): (Vec<usize>, Vec<usize>) =
            fitting_views.iter().partition(|&&i| rows[i].example.fold != fold);
        progress.stage(&format!("cross-fitting fold {fold}"), epochs as u64);
        let weights = balanced_weights(&rows, &inner);
        let fitted = corpus.subset(&inner, plan);
        let (varmap, _) =
            fit::fit(&head_cfg, &fitted, &weights, Stop::After(epochs), opts.seed, &|| progress.advance(1))?;
        for (&i, z) in scored.iter().zip(fit::logits(&varmap, &head_cfg, &corpus.subset(&scored, plan))?) {
            out_of_fold[i] = z;
        }
        let sparse_model = fit_sparse(&rows, &inner, &weights);
        for &i in &scored {
            sparse_out_of_fold[i] = sparse_model.logit(&rows[i].terms);
        }
    }

    // 3. Calibration and band from the out-of-fold logits of folds 1-4, overall and per kind of text.
    let both_labels: HashSet<Family> = {
        let labels_of = |scam: bool| -> HashSet<Family> {
            rows.iter().filter(|r| r.example.scam == scam).map(|r| r.example.family).collect()
        };
        labels_of(true).intersection(&labels_of(false)).copied().collect()
    };
    let prediction = |i: usize, logit: f32, sparse: f32| Prediction {
        both_labels: both_labels.contains(&rows[i].example.family),
        logit,
        sparse,
        scam: rows[i].example.scam,
        kind: rows[i].kind,
        evidence: rows[i].evidence,
        visible: rows[i].visible,
    };
    let fitted_predictions: Vec<Prediction> =
        fitting.iter().map(|&i| prediction(i, out_of_fold[i], sparse_out_of_fold[i])).collect();
    let calibration = calibrate::fit(&fitted_predictions, opts.max_band);
    // The cross-validated report: each fold calibrated, and banded, by a fit on the other folds' predictions.
    let mut crossval_verdicts = vec![(Label::Uncertain, 0f32); rows.len()];
    for fold in (0..dataset::FOLDS).filter(|f| *f != dataset::TEST_FOLD) {
        let others: Vec<Prediction> = fitting
            .iter()
            .filter(|&&i| rows[i].example.fold != fold)
            .map(|&i| prediction(i, out_of_fold[i], sparse_out_of_fold[i]))
            .collect();
        let held = calibrate::fit(&others, opts.max_band);
        for &i in fitting_views.iter().filter(|&&i| rows[i].example.fold == fold) {
            crossval_verdicts[i] = held.verdict(&prediction(i, out_of_fold[i], sparse_out_of_fold[i]));
        }
    }
    let (crossval, mut crossval_by_family) = report(&rows, &fitting, &crossval_verdicts);
    crossval_by_family.extend(report_views(&rows, &fitting_views, &crossval_verdicts));

    // 4. The head trained on folds 1-4 for the same number of epochs, measured on the test fold.
    progress.stage("training on folds 1-4", epochs as u64);
    let weights = balanced_weights(&rows, &fitting_views);
    let stop = Stop::After(epochs);
    let fitted = corpus.subset(&fitting_views, plan);
    let (mut varmap, _) = fit::fit(&head_cfg, &fitted, &weights, stop, opts.seed, &|| progress.advance(1))?;
    let test_logits = fit::logits(&varmap, &head_cfg, &corpus.subset(&test_views, plan))?;
    let mut sparse_model = fit_sparse(&rows, &fitting_views, &weights);
    let mut test_verdicts = vec![(Label::Uncertain, 0f32); rows.len()];
    let mut sparse_alone = vec![(Label::Uncertain, 0f32); rows.len()];
    for (&i, z) in test_views.iter().zip(&test_logits) {
        let s = sparse_model.logit(&rows[i].terms);
        test_verdicts[i] = calibration.verdict(&prediction(i, *z, s));
        let p = sigmoid(s);
        sparse_alone[i] = (Thresholds { legit: 0.5, scam: 0.5 }.label(p), p);
    }
    let (test, mut test_by_family) = report(&rows, &test_idx, &test_verdicts);
    test_by_family.extend(report_views(&rows, &test_views, &test_verdicts));
    let (sparse_test, mut sparse_test_by_family) = report(&rows, &test_idx, &sparse_alone);
    sparse_test_by_family.extend(report_views(&rows, &test_views, &sparse_alone));
    sparse_test_by_family.insert(0, ("all".to_string(), sparse_test));

    // 5. Measured, the same recipe may now learn from the test fold too: fraudsters reuse templates, so every
    // group the shipped head has seen is one it will recognise (IDF and standardisation stay those of folds 1-4).
    if opts.ship_test_fold {
        progress.stage("training on all folds", epochs as u64);
        let all: Vec<usize> = (0..rows.len()).collect();
        let weights = balanced_weights(&rows, &all);
        let stop = Stop::After(epochs);
        (varmap, _) =
            fit::fit(&head_cfg, &corpus.subset(&all, plan), &weights, stop, opts.seed, &|| progress.advance(1))?;
        sparse_model = fit_sparse(&rows, &all, &weights);
    }

    let mut examples = HashMap::new();
    for r in rows.iter().filter(|r| !r.other_view) {
        let key = format!("{}/{}", r.example.family.name(), if r.example.scam { "scam" } else { "legit" });
        *examples.entry(key).or_insert(0) += 1;
    }
    let version = format!("static-minilm-{}-{}-seed{}", opts.dim, candidates[chosen].name, opts.seed);
    let config = ModelConfig {
        version: version.clone(),
        dim: opts.dim,
        head: head_cfg,
        rule_ids,
        meta_features: META_FEATURES.iter().map(|s| s.to_string()).collect(),
        field_tokens,
        calibration: calibration.overall,
        thresholds: calibration.thresholds,
        kinds: calibration.kinds.clone(),
        sparse: Some(SPARSE),
        trained_on_test_fold: opts.ship_test_fold,
    };
    write_model(&opts.out, &opts.encoder, &config, &table, &idf, &mean, &std, &varmap, &sparse_model)?;
    Ok(TrainReport {
        version,
        examples,
        chosen: candidates[chosen].name.clone(),
        candidates,
        epochs,
        calibration: calibration.overall,
        thresholds: calibration.thresholds,
        kinds: calibration.kinds,
        sparse_test: sparse_test_by_family,
        test,
        test_by_family,
        shipped_on_all_folds: opts.ship_test_fold,
        emscad_emphasis: EMSCAD_EMPHASIS,
        field_features: field_index.len(),
        rule_features: (config.rule_ids.len(), all_rule_ids.len()),
        crossval,
        crossval_by_family,
    })
}

/// The sparse model trained on the rows at `idx`, with their loss weights.
fn fit_sparse(rows: &[Row], idx: &[usize], weights: &[f32]) -> SparseModel {
    let docs: Vec<&[(u32, f32)]> = idx.iter().map(|&i| rows[i].terms.as_slice()).collect();
    sparse::train(SPARSE, &docs, &labels_of(rows, idx), weights, sparse::Fit::default())
}

/// The rules whose flag fires in at least one row of folds 1-4, in file order; their indicators stay in each row's
/// `rule_meta` and the others' are dropped. A rule that never fires there gives the head nothing to learn, and
/// standardising its constant column (std clamped at 1e-3) would turn its first real firing into an input of 1,000.
/// Such a rule (a new one, or a script the corpora lack) still counts through the rules score among the document
/// facts and its weight in the calibrated score's naive-Bayes evidence.
fn keep_rules_that_fire(rows: &mut [Row], all_rule_ids: &[String]) -> Vec<String> {
    let fires: Vec<bool> = (0..all_rule_ids.len())
        .map(|j| rows.iter().any(|r| r.example.split != Split::Test && r.rule_meta[j] != 0.0))
        .collect();
    for r in rows.iter_mut() {
        let mut column = 0;
        r.rule_meta.retain(|_| {
            let keep = fires.get(column).is_none_or(|&f| f);
            column += 1;
            keep
        });
    }
    all_rule_ids.iter().zip(&fires).filter(|(_, f)| **f).map(|(id, _)| id.clone()).collect()
}

/// Every featurised example, from which each fit takes its subset.
struct Corpus<'a> {
    rows: &'a [Row],
    matrix: &'a [Vec<f32>],
    bags: &'a [Vec<u32>],
    embedding_dim: usize,
}

impl Corpus<'_> {
    /// The examples at `idx` as `plan` sees them (a plan without the embedding gets zeros in its place).
    fn subset(&self, idx: &[usize], plan: Plan) -> SplitData {
        let hide = if plan.uses_embedding { 0 } else { self.embedding_dim };
        SplitData {
            x: idx
                .iter()
                .map(|&i| self.matrix[i].iter().enumerate().map(|(j, x)| if j < hide { 0.0 } else { *x }).collect())
                .collect(),
            bags: idx.iter().map(|&i| self.bags[i].clone()).collect(),
            y: labels_of(self.rows, idx),
        }
    }
}

/// Metrics over `idx` (verdicts and scores indexed by row), overall, per source family and per kind of text.
fn report(rows: &[Row], idx: &[usize], verdicts: &[(Label, f32)]) -> (Metrics, Vec<(String, Metrics)>) {
    let over = |keep: &[usize]| measure(rows, keep, verdicts);
    let mut slices: Vec<(String, Metrics)> = Family::ALL
        .iter()
        .map(|family| {
            let keep: Vec<usize> = idx.iter().copied().filter(|&i| rows[i].example.family == *family).collect();
            (family.name().to_string(), over(&keep))
        })
        .collect();
    slices.extend(TextKind::ALL.iter().map(|kind| {
        let keep: Vec<usize> = idx.iter().copied().filter(|&i| rows[i].kind == *kind).collect();
        (format!("read as {}", kind.name()), over(&keep))
    }));
    (over(idx), slices)
}

fn measure(rows: &[Row], keep: &[usize], verdicts: &[(Label, f32)]) -> Metrics {
    let scores: Vec<f32> = keep.iter().map(|&i| verdicts[i].1).collect();
    let labels: Vec<Label> = keep.iter().map(|&i| verdicts[i].0).collect();
    metrics::compute_labelled(&scores, &labels_of(rows, keep), &labels)
}

/// EMSCAD by view: every posting of `idx` as fields and as pasted text (the test set's postings may come either
/// way, and the fields carry signal the text does not).
fn report_views(rows: &[Row], idx: &[usize], verdicts: &[(Label, f32)]) -> Vec<(String, Metrics)> {
    [("emscad as fields", true), ("emscad pasted", false)]
        .into_iter()
        .map(|(name, fields)| {
            let keep: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&i| {
                    let e = &rows[i].example;
                    e.family == Family::Emscad && matches!(e.input, crate::Input::Posting(_)) == fields
                })
                .collect();
            (name.to_string(), measure(rows, &keep, verdicts))
        })
        .collect()
}

fn head_config(inputs: usize, plan: Plan) -> HeadConfig {
    let (bag_buckets, bag_dim) = if plan.uses_ngrams { (BAG_BUCKETS, BAG_DIM) } else { (0, 0) };
    HeadConfig { inputs, hidden: plan.hidden, bag_buckets, bag_dim }
}

fn labels_of(rows: &[Row], idx: &[usize]) -> Vec<bool> {
    idx.iter().map(|&i| rows[i].example.scam).collect()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The distilled, PCA-reduced token table; computed once and cached, since the encoder pass takes a minute.
fn distilled_table(opts: &TrainOptions, progress: &dyn Progress) -> anyhow::Result<Vec<f32>> {
    let cache = opts.work.join(format!("static-table-{}.safetensors", opts.dim));
    if let Ok(tensors) = candle_core::safetensors::load(&cache, &Device::Cpu) {
        if let Some(t) = tensors.get("table") {
            return Ok(t.flatten_all()?.to_vec1::<f32>()?);
        }
    }
    progress.stage("distilling the encoder", 30522);
    let (full, hidden) = distill::encode_vocabulary(&opts.encoder, &|n| progress.advance(n as u64))?;
    let reduced = distill::pca(&full, hidden, opts.dim);
    // Round through f16 now, as the shipped file does, so training sees exactly the vectors inference will.
    let reduced: Vec<f32> = reduced.iter().map(|x| half::f16::from_f32(*x).to_f32()).collect();
    let vocab = reduced.len() / opts.dim;
    let t = Tensor::from_vec(reduced.clone(), (vocab, opts.dim), &Device::Cpu)?;
    candle_core::safetensors::save(&HashMap::from([("table".to_string(), t)]), &cache)?;
    Ok(reduced)
}

/// Smoothed IDF from folds 1-4; tokens never seen there get the highest weight (rare is informative).
fn inverse_document_frequency(rows: &[Row], vocab: usize) -> Vec<f32> {
    let mut df = vec![0u32; vocab];
    let mut n = 0u32;
    for r in rows.iter().filter(|r| r.example.split != Split::Test) {
        n += 1;
        let mut seen: Vec<u32> = r.tokens.clone();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            if let Some(d) = df.get_mut(t as usize) {
                *d += 1;
            }
        }
    }
    df.iter().map(|&d| ((1.0 + n as f32) / (1.0 + d as f32)).ln() + 1.0).collect()
}

/// Per-column mean and standard deviation over folds 1-4 (floored so constant columns stay finite). The last
/// `raw` columns (field indicators) stay 0/1: most are rare, and standardising a token seen in 3 of 18,000 documents
/// would make it an input of about 80 wherever it appears.
fn standardisation(rows: &[Row], matrix: &[Vec<f32>], raw: usize) -> (Vec<f32>, Vec<f32>) {
    let width = matrix[0].len();
    let train: Vec<&Vec<f32>> =
        matrix.iter().zip(rows).filter(|(_, r)| r.example.split != Split::Test).map(|(f, _)| f).collect();
    let n = train.len() as f64;
    let mut mean = vec![0f64; width];
    for f in &train {
        for (m, x) in mean.iter_mut().zip(f.iter()) {
            *m += f64::from(*x) / n;
        }
    }
    let mut var = vec![0f64; width];
    for f in &train {
        for ((v, x), m) in var.iter_mut().zip(f.iter()).zip(&mean) {
            *v += (f64::from(*x) - m).powi(2) / n;
        }
    }
    let scaled = width - raw;
    let mean = mean.iter().enumerate().map(|(j, m)| if j < scaled { *m as f32 } else { 0.0 }).collect();
    let std = var.iter().enumerate().map(|(j, v)| if j < scaled { (v.sqrt() as f32).max(1e-3) } else { 1.0 }).collect();
    (mean, std)
}

/// Each (source family, label) cell of the training split weighs the same in total, so 70 chat-style job scams
/// count as much as 10,000 job-board postings; EMSCAD's two cells then weigh [`EMSCAD_EMPHASIS`] times that.
fn balanced_weights(rows: &[Row], train_idx: &[usize]) -> Vec<f32> {
    let cell = |i: usize| (rows[i].example.family, rows[i].example.scam);
    let mut counts: HashMap<(Family, bool), usize> = HashMap::new();
    for &i in train_idx {
        *counts.entry(cell(i)).or_default() += 1;
    }
    let per_cell = train_idx.len() as f32 / counts.len() as f32;
    let emphasis = |i: usize| if rows[i].example.family == Family::Emscad { EMSCAD_EMPHASIS } else { 1.0 };
    train_idx.iter().map(|&i| emphasis(i) * per_cell / counts[&cell(i)] as f32).collect()
}

#[allow(clippy::too_many_arguments)]
fn write_model(
    out: &Path,
    encoder: &Path,
    config: &ModelConfig,
    table: &[f32],
    idf: &[f32],
    mean: &[f32],
    std: &[f32],
    varmap: &VarMap,
    sparse: &SparseModel,
) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let vocab = idf.len();
    let mut tensors: HashMap<String, Tensor> = HashMap::from([
        (
            "static.table".to_string(),
            Tensor::from_vec(table.to_vec(), (vocab, config.dim), &device)?.to_dtype(DType::F16)?,
        ),
        ("static.idf".to_string(), Tensor::from_vec(idf.to_vec(), vocab, &device)?),
        ("features.mean".to_string(), Tensor::from_vec(mean.to_vec(), mean.len(), &device)?),
        ("features.std".to_string(), Tensor::from_vec(std.to_vec(), std.len(), &device)?),
    ]);
    // The sparse weights are many and small: f16 keeps them under a megabyte, as for the n-gram table.
    let buckets = sparse.weights.len();
    tensors.insert("sparse.idf".into(), Tensor::from_vec(sparse.idf.clone(), buckets, &device)?.to_dtype(DType::F16)?);
    tensors.insert(
        "sparse.weights".into(),
        Tensor::from_vec(sparse.weights.clone(), buckets, &device)?.to_dtype(DType::F16)?,
    );
    tensors.insert("sparse.bias".into(), Tensor::from_vec(vec![sparse.bias], 1, &device)?);
    for (name, var) in fit::sorted_vars(varmap) {
        // The n-gram table is the bulk of the head; f16 halves it at no measurable cost.
        let dtype = if name.starts_with("head.bag") { DType::F16 } else { DType::F32 };
        tensors.insert(name, var.as_tensor().to_dtype(dtype)?);
    }
    candle_core::safetensors::save(&tensors, out.join(WEIGHTS_FILE))?;
    std::fs::write(out.join(CONFIG_FILE), serde_json::to_string_pretty(config)? + "\n")?;
    // Read and write rather than copy: the source may be read-only, and a copy would carry that mode along.
    let tokenizer = std::fs::read(encoder.join("tokenizer.json"))
        .with_context(|| format!("reading the tokenizer from {}", encoder.display()))?;
    std::fs::write(out.join(TOKENIZER_FILE), tokenizer)?;
    Ok(())
}

/// Train and held-out examples in the batch format with labels and groups, for `redflag eval` and baselines.
fn export_splits(work: &Path, rows: &[Row]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut files = HashMap::new();
    for (split, name) in
        [(Split::Train, "train.jsonl"), (Split::Validation, "validation.jsonl"), (Split::Test, "heldout.jsonl")]
    {
        let path = work.join(name);
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        files.insert(split, std::io::BufWriter::new(file));
    }
    for r in rows.iter().filter(|r| !r.other_view) {
        let e = &r.example;
        let mut record = match &e.input {
            crate::Input::Text(t) => serde_json::json!({ "text": t }),
            crate::Input::Posting(p) => serde_json::to_value(p)?,
        };
        if let serde_json::Value::Object(map) = &mut record {
            map.retain(|_, v| !v.is_null());
            map.insert("id".into(), e.id.clone().into());
            map.insert("label".into(), (if e.scam { "scam" } else { "legit" }).into());
            map.insert("source".into(), e.family.name().into());
            map.insert("group".into(), e.group.clone().into());
        }
        let w = files.get_mut(&e.split).context("split file")?;
        serde_json::to_writer(&mut *w, &record)?;
        w.write_all(b"\n")?;
    }
    for (_, mut w) in files {
        w.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Input;

    fn row(split: Split, rule_meta: Vec<f32>) -> Row {
        let example = Example {
            id: "x".into(),
            family: Family::Emscad,
            source: "emscad".into(),
            scam: false,
            input: Input::Text("text".into()),
            group: "g".into(),
            fold: 0,
            split,
            other_view: None,
        };
        Row {
            example,
            tokens: Vec::new(),
            rule_meta,
            fields: Vec::new(),
            other_view: false,
            evidence: 0.0,
            kind: TextKind::Chat,
            visible: false,
            terms: Vec::new(),
        }
    }

    #[test]
    fn only_rules_that_fire_outside_the_test_fold_become_features() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        // Three rule indicators, then two document facts that always stay.
        let mut rows = vec![
            row(Split::Train, vec![1.0, 0.0, 0.0, 0.5, 7.0]),
            row(Split::Validation, vec![0.0, 0.0, 0.0, 0.25, 3.0]),
            row(Split::Test, vec![0.0, 1.0, 0.0, 0.0, 1.0]),
        ];
        assert_eq!(keep_rules_that_fire(&mut rows, &ids), vec!["a".to_string()]);
        let kept: Vec<Vec<f32>> = rows.into_iter().map(|r| r.rule_meta).collect();
        assert_eq!(kept, vec![vec![1.0, 0.5, 7.0], vec![0.0, 0.25, 3.0], vec![0.0, 0.0, 1.0]]);
    }
}
