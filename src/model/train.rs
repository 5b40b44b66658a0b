//! `redflag train`: builds the local classifier from `../shared/data`, seeded and reproducible.
//!
//! 1. Load the labelled corpora with a grouped split ([`crate::dataset`]).
//! 2. Distil the sentence encoder into a static token table (cached under the work directory; it takes a minute).
//! 3. Featurise every document with the same code inference uses ([`super::features`]), learn IDF weights and
//!    standardisation on the training split only.
//! 4. Train candidate heads (logistic, one hidden layer; with and without the embedding) with AdamW on a
//!    class- and source-balanced loss, early-stopped on the validation split; keep the best by validation PR-AUC.
//! 5. Fit Platt scaling and the uncertainty band on the validation split; report on the held-out test split.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use rayon::prelude::*;
use serde::Serialize;
use tokenizers::Tokenizer;

use super::features::{self, META_FEATURES};
use super::head::{BagBatch, Head, HeadConfig};
use super::metrics::{self, Metrics};
use super::{CONFIG_FILE, ModelConfig, Platt, TOKENIZER_FILE, WEIGHTS_FILE, distill};
use crate::dataset::{self, Example, Family, Split};
use crate::document::Document;
use crate::rules::RuleSet;
use crate::score::Thresholds;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub encoder: PathBuf,
    pub out: PathBuf,
    /// Caches (the distilled table) and exports (train/held-out JSONL for baselines).
    pub work: PathBuf,
    pub seed: u64,
    pub dim: usize,
    pub max_epochs: usize,
    /// The most inputs the uncertainty band may hold on the validation mix.
    pub max_band: f64,
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
    pub calibration: Platt,
    pub thresholds: Thresholds,
    pub test: Metrics,
    pub test_by_family: Vec<(String, Metrics)>,
}

/// Hashed n-gram buckets (unigrams take the first 30,522) and the width of their learned vectors.
const BAG_BUCKETS: usize = 1 << 17;
const BAG_DIM: usize = 16;

/// A featurised example.
struct Row {
    example: Example,
    tokens: Vec<u32>,
    rule_meta: Vec<f32>,
    /// Log-odds the rule flags add to the calibrated score.
    evidence: f32,
}

/// What one candidate head sees.
#[derive(Clone, Copy)]
struct Plan {
    name: &'static str,
    hidden: usize,
    uses_embedding: bool,
    uses_ngrams: bool,
}

pub fn train(opts: &TrainOptions, rules: &RuleSet, progress: &dyn Progress) -> anyhow::Result<TrainReport> {
    std::fs::create_dir_all(&opts.work).with_context(|| format!("creating {}", opts.work.display()))?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let examples = dataset::load(&opts.data)?;
    let table = distilled_table(opts, progress)?;
    let tokenizer_path = opts.encoder.join("tokenizer.json");
    let tokenizer = Tokenizer::from_file(&tokenizer_path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", tokenizer_path.display()))?;
    let rule_ids: Vec<String> = rules.rules().map(|r| r.id.clone()).collect();

    progress.stage("featurising", examples.len() as u64);
    let rows: Vec<Row> = examples
        .into_par_iter()
        .filter_map(|example| {
            let doc = Document::from_input(&example.input).ok()?;
            let flags = rules.evaluate(&doc);
            let tokens = features::token_ids(&tokenizer, &doc).ok()?;
            let rule_meta = features::rule_and_meta(&doc, &flags, &rule_ids);
            let evidence = crate::score::rule_evidence(&flags);
            progress.advance(1);
            Some(Row { example, tokens, rule_meta, evidence })
        })
        .collect();
    export_splits(&opts.work, &rows)?;

    let vocab = table.len() / opts.dim;
    let idf = inverse_document_frequency(&rows, vocab);
    let mut matrix: Vec<Vec<f32>> = rows
        .par_iter()
        .map(|r| {
            let mut f = features::embed(&r.tokens, &table, &idf, opts.dim);
            f.extend_from_slice(&r.rule_meta);
            f
        })
        .collect();
    let (mean, std) = standardisation(&rows, &matrix);
    for f in &mut matrix {
        for ((x, m), s) in f.iter_mut().zip(&mean).zip(&std) {
            *x = (*x - m) / s;
        }
    }
    let split = |s: Split| -> Vec<usize> { (0..rows.len()).filter(|&i| rows[i].example.split == s).collect() };
    let (train_idx, val_idx, test_idx) = (split(Split::Train), split(Split::Validation), split(Split::Test));
    let labels: Vec<bool> = rows.iter().map(|r| r.example.scam).collect();
    let weights = balanced_weights(&rows, &train_idx);
    let inputs = matrix[0].len();

    let bags: Vec<Vec<u32>> = rows.par_iter().map(|r| features::ngram_buckets(&r.tokens, vocab, BAG_BUCKETS)).collect();
    let plans = [
        Plan { name: "logistic, rules+facts only", hidden: 0, uses_embedding: false, uses_ngrams: false },
        Plan { name: "logistic, embedding", hidden: 0, uses_embedding: true, uses_ngrams: false },
        Plan { name: "mlp-64, embedding", hidden: 64, uses_embedding: true, uses_ngrams: false },
        Plan { name: "mlp-64, embedding+ngrams", hidden: 64, uses_embedding: true, uses_ngrams: true },
    ];
    let mut candidates = Vec::new();
    let mut best: Option<(f64, usize, VarMap)> = None;
    for (k, plan) in plans.into_iter().enumerate() {
        let mask_from = if plan.uses_embedding { 0 } else { opts.dim };
        let data = |idx: &[usize]| -> SplitData {
            let x = idx
                .iter()
                .map(|&i| matrix[i].iter().enumerate().map(|(j, x)| if j < mask_from { 0.0 } else { *x }).collect())
                .collect();
            SplitData { x, bags: idx.iter().map(|&i| bags[i].clone()).collect(), y: pick(&labels, idx) }
        };
        let (train_set, val_set) = (data(&train_idx), data(&val_idx));
        let cfg = head_config(inputs, plan);
        progress.stage(&format!("training {}", plan.name), opts.max_epochs as u64);
        let (varmap, epochs) = fit(&cfg, &train_set, &weights, &val_set, opts, progress)?;
        let val_scores: Vec<f32> = logits_of(&varmap, &cfg, &val_set)?.iter().map(|z| sigmoid(*z)).collect();
        let validation = metrics::compute(&val_scores, &val_set.y, Thresholds { legit: 0.5, scam: 0.5 });
        let pr_auc = validation.pr_auc;
        candidates.push(Candidate {
            name: plan.name.into(),
            hidden: plan.hidden,
            uses_embedding: plan.uses_embedding,
            uses_ngrams: plan.uses_ngrams,
            epochs,
            validation,
        });
        if plan.uses_embedding && best.as_ref().is_none_or(|(b, _, _)| pr_auc > *b) {
            best = Some((pr_auc, k, varmap));
        }
    }
    let (_, chosen, varmap) = best.context("no candidate trained")?;
    let head_cfg = head_config(inputs, plans[chosen]);
    let full = |idx: &[usize]| SplitData {
        x: idx.iter().map(|&i| matrix[i].clone()).collect(),
        bags: idx.iter().map(|&i| bags[i].clone()).collect(),
        y: pick(&labels, idx),
    };
    let val_set = full(&val_idx);
    let val_logits = logits_of(&varmap, &head_cfg, &val_set)?;
    let calibration = fit_platt(&val_logits, &val_set.y);
    let final_probs = |logits: &[f32], idx: &[usize]| -> Vec<f32> {
        logits.iter().zip(idx).map(|(z, &i)| calibration.apply_with(*z, rows[i].evidence)).collect()
    };
    let val_probs = final_probs(&val_logits, &val_idx);
    let thresholds = choose_band(&val_probs, &val_set.y, opts.max_band);

    let test_set = full(&test_idx);
    let test_probs = final_probs(&logits_of(&varmap, &head_cfg, &test_set)?, &test_idx);
    let test_labels = test_set.y;
    let test = metrics::compute(&test_probs, &test_labels, thresholds);
    let test_by_family = Family::ALL
        .iter()
        .map(|family| {
            let keep: Vec<usize> =
                (0..test_idx.len()).filter(|&k| rows[test_idx[k]].example.family == *family).collect();
            let s: Vec<f32> = keep.iter().map(|&k| test_probs[k]).collect();
            let l: Vec<bool> = keep.iter().map(|&k| test_labels[k]).collect();
            (family.name().to_string(), metrics::compute(&s, &l, thresholds))
        })
        .collect();

    let mut examples = HashMap::new();
    for r in &rows {
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
        calibration,
        thresholds,
    };
    write_model(&opts.out, &opts.encoder, &config, &table, &idf, &mean, &std, &varmap)?;
    Ok(TrainReport {
        version,
        examples,
        chosen: candidates[chosen].name.clone(),
        candidates,
        calibration,
        thresholds,
        test,
        test_by_family,
    })
}

/// A split's features, n-gram buckets and labels.
struct SplitData {
    x: Vec<Vec<f32>>,
    bags: Vec<Vec<u32>>,
    y: Vec<bool>,
}

fn head_config(inputs: usize, plan: Plan) -> HeadConfig {
    let (bag_buckets, bag_dim) = if plan.uses_ngrams { (BAG_BUCKETS, BAG_DIM) } else { (0, 0) };
    HeadConfig { inputs, hidden: plan.hidden, bag_buckets, bag_dim }
}

fn bag_of(set: &SplitData, idx: &[usize]) -> candle_core::Result<BagBatch> {
    let docs: Vec<&[u32]> = idx.iter().map(|&i| set.bags[i].as_slice()).collect();
    BagBatch::new(&docs, &Device::Cpu)
}

fn pick<T: Copy>(all: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| all[i]).collect()
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

/// Smoothed IDF from the training split; tokens never seen there get the highest weight (rare is informative).
fn inverse_document_frequency(rows: &[Row], vocab: usize) -> Vec<f32> {
    let mut df = vec![0u32; vocab];
    let mut n = 0u32;
    for r in rows.iter().filter(|r| r.example.split == Split::Train) {
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

/// Per-column mean and standard deviation over the training split (floored so constant columns stay finite).
fn standardisation(rows: &[Row], matrix: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let width = matrix[0].len();
    let train: Vec<&Vec<f32>> =
        matrix.iter().zip(rows).filter(|(_, r)| r.example.split == Split::Train).map(|(f, _)| f).collect();
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
    (mean.iter().map(|m| *m as f32).collect(), var.iter().map(|v| (v.sqrt() as f32).max(1e-3)).collect())
}

/// Each (source family, label) cell of the training split weighs the same in total, so 70 chat-style job scams
/// count as much as 10,000 job-board postings.
fn balanced_weights(rows: &[Row], train_idx: &[usize]) -> Vec<f32> {
    let cell = |i: usize| (rows[i].example.family, rows[i].example.scam);
    let mut counts: HashMap<(Family, bool), usize> = HashMap::new();
    for &i in train_idx {
        *counts.entry(cell(i)).or_default() += 1;
    }
    let per_cell = train_idx.len() as f32 / counts.len() as f32;
    train_idx.iter().map(|&i| per_cell / counts[&cell(i)] as f32).collect()
}

/// A small seeded generator for shuffling and initialisation: xorshift64*, so runs are reproducible everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Mean of `w * BCE(logit, y)`, written stably: max(z, 0) - z*y + log(1 + exp(-|z|)).
fn weighted_bce(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> candle_core::Result<Tensor> {
    let per = ((logits.relu()? - (logits * targets)?)? + logits.abs()?.neg()?.exp()?.log1p()?)?;
    (per * weights)?.mean_all()
}

trait Log1p {
    fn log1p(&self) -> candle_core::Result<Tensor>;
}

impl Log1p for Tensor {
    fn log1p(&self) -> candle_core::Result<Tensor> {
        (self + 1.0)?.log()
    }
}

fn fit(
    cfg: &HeadConfig,
    train: &SplitData,
    weights: &[f32],
    val: &SplitData,
    opts: &TrainOptions,
    progress: &dyn Progress,
) -> anyhow::Result<(VarMap, usize)> {
    const BATCH: usize = 256;
    const PATIENCE: usize = 6;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let head = Head::load(vb.pp("head"), cfg)?;
    let mut rng = Rng(opts.seed.max(1));
    seeded_init(&varmap, &mut rng)?;
    let mut optimizer = candle_nn::AdamW::new(
        varmap.all_vars(),
        candle_nn::ParamsAdamW { lr: 1e-3, weight_decay: 1e-3, ..Default::default() },
    )?;
    let to_tensor = |set: &SplitData, idx: &[usize]| {
        let flat: Vec<f32> = idx.iter().flat_map(|&i| set.x[i].iter().copied()).collect();
        Tensor::from_vec(flat, (idx.len(), cfg.inputs), &device)
    };
    let labels = |set: &SplitData, idx: &[usize]| {
        Tensor::from_vec(idx.iter().map(|&i| f32::from(u8::from(set.y[i]))).collect::<Vec<_>>(), idx.len(), &device)
    };
    let all_val: Vec<usize> = (0..val.y.len()).collect();
    let (val_x, val_y, val_bag) = (to_tensor(val, &all_val)?, labels(val, &all_val)?, bag_of(val, &all_val)?);
    let val_w = Tensor::ones(val.y.len(), DType::F32, &device)?;
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    let (mut best_loss, mut best_epoch, mut best_state) = (f32::INFINITY, 0, snapshot(&varmap)?);
    for epoch in 0..opts.max_epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(BATCH) {
            let ws = Tensor::from_vec(chunk.iter().map(|&i| weights[i]).collect::<Vec<_>>(), chunk.len(), &device)?;
            let logits = head.forward(&to_tensor(train, chunk)?, Some(&bag_of(train, chunk)?))?;
            let loss = weighted_bce(&logits, &labels(train, chunk)?, &ws)?;
            optimizer.backward_step(&loss)?;
        }
        progress.advance(1);
        let val_loss = weighted_bce(&head.forward(&val_x, Some(&val_bag))?, &val_y, &val_w)?.to_scalar::<f32>()?;
        if val_loss < best_loss {
            (best_loss, best_epoch, best_state) = (val_loss, epoch + 1, snapshot(&varmap)?);
        } else if epoch + 1 - best_epoch >= PATIENCE {
            break;
        }
    }
    restore(&varmap, &best_state)?;
    Ok((varmap, best_epoch))
}

/// Variables in name order, so initialisation and snapshots do not depend on hash-map order.
fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) from our own generator, replacing candle's thread-local randomness.
fn seeded_init(varmap: &VarMap, rng: &mut Rng) -> candle_core::Result<()> {
    for (_, var) in sorted_vars(varmap) {
        let dims = var.dims().to_vec();
        let fan_in = *dims.last().unwrap_or(&1) as f32;
        let bound = 1.0 / fan_in.sqrt();
        let values: Vec<f32> = (0..var.elem_count()).map(|_| (rng.uniform() * 2.0 - 1.0) * bound).collect();
        var.set(&Tensor::from_vec(values, dims, &Device::Cpu)?)?;
    }
    Ok(())
}

fn snapshot(varmap: &VarMap) -> candle_core::Result<Vec<(String, Tensor)>> {
    sorted_vars(varmap).into_iter().map(|(k, v)| Ok((k, v.as_tensor().copy()?))).collect()
}

fn restore(varmap: &VarMap, state: &[(String, Tensor)]) -> candle_core::Result<()> {
    for ((_, var), (_, saved)) in sorted_vars(varmap).iter().zip(state) {
        var.set(saved)?;
    }
    Ok(())
}

fn logits_of(varmap: &VarMap, cfg: &HeadConfig, set: &SplitData) -> anyhow::Result<Vec<f32>> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
    let head = Head::load(vb.pp("head"), cfg)?;
    let xs = Tensor::from_vec(set.x.concat(), (set.x.len(), cfg.inputs), &Device::Cpu)?;
    let all: Vec<usize> = (0..set.y.len()).collect();
    Ok(head.forward(&xs, Some(&bag_of(set, &all)?))?.to_vec1::<f32>()?)
}

/// Platt scaling by Newton's method on the log loss, with Platt's smoothed targets so a separable validation
/// split does not push the slope to infinity.
pub fn fit_platt(logits: &[f32], labels: &[bool]) -> Platt {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (z, l) in logits.iter().zip(labels) {
            let z = f64::from(*z);
            let p = 1.0 / (1.0 + (-(a * z + b)).exp());
            let t = if *l { hi } else { lo };
            let w = p * (1.0 - p);
            ga += (p - t) * z;
            gb += p - t;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    Platt { a: a as f32, b: b as f32 }
}

/// The uncertainty band: among thresholds on a 0.01 grid whose band holds at most `max_band` of the inputs, the
/// one with the fewest confident mistakes (ties: the narrower band).
pub fn choose_band(probs: &[f32], labels: &[bool], max_band: f64) -> Thresholds {
    let n = probs.len() as f64;
    let mut best = (usize::MAX, usize::MAX, Thresholds { legit: 0.5, scam: 0.5 });
    for lo in 1..=50 {
        for hi in 50..=99 {
            let (legit, scam) = (lo as f32 / 100.0, hi as f32 / 100.0);
            let (mut in_band, mut mistakes) = (0usize, 0usize);
            for (p, l) in probs.iter().zip(labels) {
                if *p > legit && *p < scam {
                    in_band += 1;
                } else if (*p >= scam) != *l {
                    mistakes += 1;
                }
            }
            if in_band as f64 / n <= max_band && (mistakes, in_band) < (best.0, best.1) {
                best = (mistakes, in_band, Thresholds { legit, scam });
            }
        }
    }
    best.2
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
    for (name, var) in sorted_vars(varmap) {
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
    for r in rows {
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

    #[test]
    fn platt_recovers_a_known_slope() {
        // Labels drawn so that P(scam | z) = sigmoid(2z - 1) exactly on a grid.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in -30..=30 {
            let z = i as f32 / 10.0;
            let p = 1.0 / (1.0 + (-(2.0 * z - 1.0)).exp());
            let positives = (p * 100.0).round() as usize;
            for k in 0..100 {
                logits.push(z);
                labels.push(k < positives);
            }
        }
        let platt = fit_platt(&logits, &labels);
        assert!((platt.a - 2.0).abs() < 0.05 && (platt.b + 1.0).abs() < 0.05, "{platt:?}");
    }

    #[test]
    fn band_respects_its_size_limit_and_covers_the_mistakes() {
        let probs = [0.01, 0.02, 0.4, 0.45, 0.55, 0.6, 0.97, 0.99];
        let labels = [false, false, true, false, true, false, true, true];
        let t = choose_band(&probs, &labels, 0.5);
        assert!(t.legit < 0.4 && t.scam > 0.6, "{t:?}");
        let narrow = choose_band(&probs, &labels, 0.0);
        assert!((narrow.scam - narrow.legit) < 0.6, "{narrow:?}");
    }

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng(42), Rng(42));
        assert_eq!((0..5).map(|_| a.next()).collect::<Vec<_>>(), (0..5).map(|_| b.next()).collect::<Vec<_>>());
    }
}
