//! The local classifier: the tier that makes Redflag free, private and instant.
//!
//! A document's features are a static sentence embedding distilled from all-MiniLM-L6-v2 ([`distill`]), one
//! indicator per rule flag, a few facts ([`features`]) and, for structured postings, indicators of what the short
//! fields say ([`fields`]); a small candle head ([`head`]) turns them into a logit,
//! and Platt scaling fitted on a grouped validation split turns that into a calibrated probability. Two thresholds
//! stored with the weights mark the band of inputs the model is unsure about.
//!
//! Files (all in `models/`): `classifier.json` (config, calibration, thresholds, feature names),
//! `classifier.safetensors` (token table as f16, IDF weights, standardisation, head), `tokenizer.json` (the
//! encoder's WordPiece tokenizer). The same files are compiled into the binary, so the model needs no path.

mod attach;
#[cfg(feature = "train")]
pub mod calibrate;
#[cfg(feature = "train")]
pub mod distill;
pub mod explain;
pub mod features;
pub mod fields;
#[cfg(feature = "train")]
pub mod fit;
pub mod head;
#[cfg(feature = "train")]
pub mod metrics;
pub mod sparse;
#[cfg(feature = "train")]
pub mod train;
pub mod wordpiece;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use wordpiece::IdTokenizer;

use crate::analysis::{Flag, TextKind};
use crate::analyzer::Classifier;
use crate::document::Document;
use crate::error::{Error, Result};
use crate::score::Thresholds;
use fields::FieldIndex;
use head::{BagBatch, Head, HeadConfig};

pub const CONFIG_FILE: &str = "classifier.json";
pub const WEIGHTS_FILE: &str = "classifier.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// `sigmoid(a * logit + c * sparse + b)`, fitted on out-of-fold predictions: `logit` is the dense head's, `sparse`
/// the sparse n-gram model's ([`sparse`]; 0 and `c` = 0 for models without one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f32,
    pub b: f32,
    #[serde(default)]
    pub c: f32,
}

/// The most log-odds the model's own calibrated verdict may carry either way (about 1 in 400) before the rules'
/// evidence is added. The n-gram head can be extremely sure of text unlike anything it trained on (a fake-cheque
/// e-mail read as an ordinary letter came out at -40), and no sample we calibrate on can vouch for odds beyond
/// this; capped, two strong rule flags (about +5 log-odds each) outweigh it, one does not.
pub const MODEL_LOG_ODDS_CAP: f32 = 6.0;

impl Platt {
    /// The model's calibrated log-odds, capped at [`MODEL_LOG_ODDS_CAP`] either way.
    pub fn log_odds(&self, logit: f32, sparse: f32) -> f32 {
        (self.a * logit + self.c * sparse + self.b).clamp(-MODEL_LOG_ODDS_CAP, MODEL_LOG_ODDS_CAP)
    }

    /// The calibrated probability after adding `evidence` (log-odds from the rule flags and reassurances, see
    /// [`crate::score::rule_evidence`]).
    pub fn apply_with(&self, logit: f32, sparse: f32, evidence: f32) -> f32 {
        1.0 / (1.0 + (-(self.log_odds(logit, sparse) + evidence)).exp())
    }
}

/// The calibration and uncertainty band of one kind of text, fitted on that kind's out-of-fold predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KindCalibration {
    pub kind: TextKind,
    pub calibration: Platt,
    pub thresholds: Thresholds,
}

/// Everything about the model except its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub version: String,
    /// Width of the static token vectors.
    pub dim: usize,
    pub head: HeadConfig,
    /// Rule ids, in the order of their indicator features.
    pub rule_ids: Vec<String>,
    pub meta_features: Vec<String>,
    /// Field tokens ([`fields`]) with an indicator feature each, in feature order after the document facts. Models
    /// from before field features have none.
    #[serde(default)]
    pub field_tokens: Vec<String>,
    /// The calibration and band for a kind of text the model has no calibration of its own for (and for models from
    /// before kinds).
    pub calibration: Platt,
    pub thresholds: Thresholds,
    /// Per-kind calibration and band ([`crate::kind`]).
    #[serde(default)]
    pub kinds: Vec<KindCalibration>,
    /// The sparse word n-gram model beside the head, if this model has one ([`sparse`]).
    #[serde(default)]
    pub sparse: Option<sparse::SparseConfig>,
    /// Whether the shipped head also trained on the shared data's test fold (after that fold measured the same
    /// recipe trained without it); `redflag eval` on the data directory warns when it did.
    #[serde(default)]
    pub trained_on_test_fold: bool,
}

/// The loaded classifier; immutable and shareable across threads.
#[derive(Debug)]
pub struct LocalModel {
    config: ModelConfig,
    tokenizer: IdTokenizer,
    /// `vocab x dim` token vectors, row-major.
    table: Vec<f32>,
    idf: Vec<f32>,
    mean: Vec<f32>,
    std: Vec<f32>,
    fields: FieldIndex,
    head: Head,
    sparse: Option<sparse::SparseModel>,
}

impl LocalModel {
    /// The model compiled into this build (see build.rs).
    #[cfg(builtin_model)]
    pub fn builtin() -> Result<Self> {
        Self::from_bytes(
            include_bytes!("../../models/classifier.json"),
            include_bytes!("../../models/classifier.safetensors"),
            include_bytes!("../../models/tokenizer.json"),
            "the built-in model",
        )
    }

    #[cfg(not(builtin_model))]
    pub fn builtin() -> Result<Self> {
        Err(Error::Model {
            origin: "the built-in model".into(),
            message: "this build has none (models/ held no trained model when it was compiled); run `redflag train` \
                      and rebuild, or pass --model DIR"
                .into(),
        })
    }

    /// Whether this build carries a model.
    pub const fn has_builtin() -> bool {
        cfg!(builtin_model)
    }

    /// A model directory written by `redflag train`.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::Model {
                origin: path.display().to_string(),
                message: format!(
                    "{e}; run `redflag train --out {}` or point --model at a model directory",
                    dir.display()
                ),
            })
        };
        let (config, weights, tokenizer) = (read(CONFIG_FILE)?, read(WEIGHTS_FILE)?, read(TOKENIZER_FILE)?);
        Self::from_bytes(&config, &weights, &tokenizer, &dir.display().to_string())
    }

    pub fn from_bytes(config: &[u8], weights: &[u8], tokenizer: &[u8], origin: &str) -> Result<Self> {
        let bad = |file: &str, message: String| Error::Model { origin: format!("{origin} ({file})"), message };
        let config: ModelConfig =
            serde_json::from_slice(config).map_err(|e| bad(CONFIG_FILE, format!("invalid config: {e}")))?;
        let tokenizer =
            IdTokenizer::from_bytes(tokenizer).map_err(|e| bad(TOKENIZER_FILE, format!("invalid tokenizer: {e}")))?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(weights, &device)
            .map_err(|e| bad(WEIGHTS_FILE, format!("invalid weights: {e}")))?;
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| bad(WEIGHTS_FILE, format!("missing tensor {name:?}")))?;
            t.to_dtype(DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| bad(WEIGHTS_FILE, format!("tensor {name:?}: {e}")))
        };
        let (table, idf, mean, std) =
            (get("static.table")?, get("static.idf")?, get("features.mean")?, get("features.std")?);
        let vocab = idf.len();
        let fields = FieldIndex::new(&config.field_tokens);
        if fields.len() != config.field_tokens.len() {
            return Err(bad(CONFIG_FILE, "the field tokens repeat; retrain the model".into()));
        }
        let inputs = config.dim + config.rule_ids.len() + config.meta_features.len() + fields.len();
        if table.len() != vocab * config.dim
            || mean.len() != inputs
            || std.len() != inputs
            || config.head.inputs != inputs
        {
            return Err(bad(WEIGHTS_FILE, "tensor shapes do not match the config; retrain the model".into()));
        }
        if config.head.bag_dim > 0 && config.head.bag_buckets <= vocab {
            return Err(bad(CONFIG_FILE, "the n-gram buckets must outnumber the vocabulary; retrain the model".into()));
        }
        if config.meta_features.iter().map(String::as_str).ne(features::META_FEATURES) {
            return Err(bad(CONFIG_FILE, "the model was trained with other document features; retrain it".into()));
        }
        let sparse = match config.sparse {
            Some(sc) => {
                let (idf, weights, bias) = (get("sparse.idf")?, get("sparse.weights")?, get("sparse.bias")?);
                if idf.len() != sc.buckets || weights.len() != sc.buckets || bias.len() != 1 {
                    return Err(bad(WEIGHTS_FILE, "the sparse model's shapes do not match the config; retrain".into()));
                }
                Some(sparse::SparseModel { config: sc, idf, weights, bias: bias[0] })
            }
            None => None,
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let head = Head::load(vb.pp("head"), &config.head).map_err(|e| bad(WEIGHTS_FILE, format!("head: {e}")))?;
        Ok(LocalModel { config, tokenizer, table, idf, mean, std, fields, head, sparse })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The calibration and band for `kind`: its own, or the model's overall ones.
    pub fn calibration(&self, kind: TextKind) -> (Platt, Thresholds) {
        self.config
            .kinds
            .iter()
            .find(|k| k.kind == kind)
            .map_or((self.config.calibration, self.config.thresholds), |k| (k.calibration, k.thresholds))
    }

    /// The head's raw logit for one document.
    pub fn logit(&self, doc: &Document, flags: &[Flag]) -> Result<f32> {
        let prepared = self.features(doc, flags)?;
        Ok(self.logits(std::slice::from_ref(&prepared))?[0])
    }

    /// The sparse model's logit for one document (0 without a sparse model).
    pub fn sparse_logit(&self, doc: &Document) -> f32 {
        self.sparse.as_ref().map_or(0.0, |m| m.logit(&sparse_terms(doc, m.config)))
    }

    /// A document's standardised dense features and its n-gram buckets.
    pub fn features(&self, doc: &Document, flags: &[Flag]) -> Result<(Vec<f32>, Vec<u32>)> {
        let ids = features::token_ids(&self.tokenizer, doc);
        let mut f = features::embed(&ids, &self.table, &self.idf, self.config.dim);
        f.extend(features::rule_and_meta(doc, flags, &self.config.rule_ids));
        if !self.fields.is_empty() {
            // A model from before field features has none to read, so the tokens need not be built.
            f.extend(self.fields.indicators(&fields::tokens(doc)));
        }
        for ((x, m), s) in f.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
        let buckets = features::ngram_buckets(&ids, self.idf.len(), self.config.head.bag_buckets);
        Ok((f, buckets))
    }

    /// The n-gram buckets of a model text ([`features::model_text`]).
    fn buckets(&self, model_text: &str) -> Vec<u32> {
        features::ngram_buckets(&self.tokenizer.ids(model_text), self.idf.len(), self.config.head.bag_buckets)
    }

    /// Put the standardised embedding of another model text in place of the one `dense` starts with; the rule,
    /// fact and field features after it stay.
    fn replace_embedding(&self, dense: &mut [f32], model_text: &str) {
        let ids = self.tokenizer.ids(model_text);
        let embedding = features::embed(&ids, &self.table, &self.idf, self.config.dim);
        for (((x, e), m), s) in dense.iter_mut().zip(embedding).zip(&self.mean).zip(&self.std) {
            *x = (e - m) / s;
        }
    }

    /// Raw logits for a batch of prepared documents.
    pub fn logits(&self, rows: &[(Vec<f32>, Vec<u32>)]) -> Result<Vec<f32>> {
        let inputs = self.config.head.inputs;
        let run = || -> candle_core::Result<Vec<f32>> {
            let flat: Vec<f32> = rows.iter().flat_map(|(f, _)| f.iter().copied()).collect();
            let xs = Tensor::from_vec(flat, (rows.len(), inputs), &Device::Cpu)?;
            let docs: Vec<&[u32]> = rows.iter().map(|(_, b)| b.as_slice()).collect();
            let bag = BagBatch::new(&docs, &Device::Cpu)?;
            self.head.forward(&xs, Some(&bag))?.to_vec1::<f32>()
        };
        run().map_err(|e| Error::Model { origin: "classifier head".into(), message: e.to_string() })
    }
}

impl Classifier for LocalModel {
    fn version(&self) -> &str {
        &self.config.version
    }

    fn log_odds(&self, doc: &Document, flags: &[Flag], kind: TextKind) -> Result<f32> {
        Ok(self.calibration(kind).0.log_odds(self.logit(doc, flags)?, self.sparse_logit(doc)))
    }

    fn thresholds(&self, kind: TextKind) -> Thresholds {
        self.calibration(kind).1
    }

    fn explain(&self, doc: &Document, flags: &[Flag]) -> Result<Vec<crate::analysis::ModelWord>> {
        LocalModel::explain(self, doc, flags)
    }

    fn trained_on_test_fold(&self) -> bool {
        self.config.trained_on_test_fold
    }
}

/// What the sparse model reads of a document: every word of the model text (contacts and digits folded as for the
/// head), and a structured posting's field tokens.
pub fn sparse_terms(doc: &Document, config: sparse::SparseConfig) -> Vec<(u32, f32)> {
    sparse::terms(&features::model_text(doc), &fields::tokens(doc), config.buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_from_before_the_test_fold_flag_loads_as_not_trained_on_it() {
        let mut config: serde_json::Value =
            serde_json::from_str(include_str!("../../models/classifier.json")).expect("shipped config");
        config.as_object_mut().expect("object").remove("trained_on_test_fold");
        let config: ModelConfig = serde_json::from_value(config).expect("loads without the key");
        assert!(!config.trained_on_test_fold);
    }

    #[test]
    fn repeated_field_tokens_are_refused_with_a_clear_error() {
        let mut config: serde_json::Value =
            serde_json::from_str(include_str!("../../models/classifier.json")).expect("shipped config");
        config["field_tokens"] = serde_json::json!(["has:title", "has:title"]);
        let err = LocalModel::from_bytes(
            config.to_string().as_bytes(),
            include_bytes!("../../models/classifier.safetensors"),
            include_bytes!("../../models/tokenizer.json"),
            "test",
        )
        .expect_err("refused");
        assert!(err.to_string().contains("field tokens repeat"), "{err}");
    }

    #[test]
    fn every_rule_the_shipped_model_reads_fired_in_its_training_data() {
        // A rule column that never varied in training is standardised by the 1e-3 floor, so its first real firing
        // feeds the head an input of 1,000: the model once scored a "no interview" posting 0.03 that way.
        let model = LocalModel::builtin().expect("model");
        let first_rule = model.config.dim;
        for (j, id) in model.config.rule_ids.iter().enumerate() {
            assert!(model.std[first_rule + j] > 1e-3, "{id} never fired in training, yet the model reads it");
        }
    }

    #[test]
    fn a_flag_the_model_has_no_indicator_for_still_raises_the_score() {
        // Through the rules score and flag count among the document facts, and the calibrated evidence.
        let model = LocalModel::builtin().expect("model");
        let rules = crate::rules::RuleSet::builtin().expect("rules");
        let unread: Vec<_> = rules.rules().filter(|r| !model.config.rule_ids.contains(&r.id)).collect();
        assert!(!unread.is_empty(), "every rule fires in the corpora now; pick another check");
        let doc = crate::document::Document::from_input(&crate::Input::text(
            "Hi! Customer service role, remote. Reply here and we will set up your start date.",
        ))
        .expect("doc");
        let without = model.log_odds(&doc, &[], TextKind::Chat).expect("score");
        for rule in unread {
            let flag = crate::analysis::Flag {
                id: rule.id.clone(),
                title: rule.title.clone(),
                explanation: rule.explanation.clone(),
                weight: rule.weight,
                evidence: Vec::new(),
            };
            let flags = [flag];
            let with =
                model.log_odds(&doc, &flags, TextKind::Chat).expect("score") + crate::score::rule_evidence(&flags);
            assert!(with > without, "{}: {with} <= {without}", rule.id);
        }
    }

    #[test]
    fn the_model_alone_is_never_surer_than_its_cap_and_strong_flags_outweigh_it() {
        let platt = Platt { a: 1.0, b: 0.0, c: 0.0 };
        let floor = 1.0 / (1.0 + MODEL_LOG_ODDS_CAP.exp());
        assert!((platt.apply_with(-40.0, 0.0, 0.0) - floor).abs() < 1e-6);
        assert!((platt.apply_with(40.0, 0.0, 0.0) - (1.0 - floor)).abs() < 1e-6);
        // Inside the cap the calibration is untouched.
        assert!((platt.apply_with(1.0, 0.0, 0.0) - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
        // Strong flags (w = 0.9: about +5.1 log-odds each) overrule a model that is sure the text is fine: two
        // tip it, four make it a confident scam. One does not.
        let flag = (0.9f32 / 0.1).ln() - (0.05f32 / 0.95).ln();
        assert!(platt.apply_with(-40.0, 0.0, 2.0 * flag) > 0.5);
        assert!(platt.apply_with(-40.0, 0.0, 4.0 * flag) > 0.99);
        assert!(platt.apply_with(-40.0, 0.0, flag) < 0.5);
    }
}
