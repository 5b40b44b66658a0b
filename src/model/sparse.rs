//! A sparse word n-gram logistic regression beside the dense head: the shape of the TF-IDF + logistic-regression
//! baseline (word unigrams and bigrams, sublinear term frequency, IDF, L2-normalised), trained here in Rust.
//!
//! The dense head reads a text's first 128 word pieces; this model reads every word of it. On EMSCAD's fake
//! postings, whose giveaways sit anywhere in a long advert, that is what let the baseline rank frauds better. The two
//! logits are combined per kind of text by the calibration ([`super::Platt`] has a weight for each), so a kind where
//! the sparse model adds nothing gives it no weight.
//!
//! Words are hashed into a fixed number of buckets (the hashing trick: no vocabulary to store or to drift), with
//! FNV-1a over the lower-cased word so the mapping never changes between builds. Training is AdaGrad on the
//! weighted log loss with an L2 penalty, in a seeded order: plain, deterministic and fast enough (a pass over
//! 25,000 documents takes a fraction of a second) that no solver crate is worth its weight here.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::hash::fnv1a;

/// How a text becomes sparse features; stored with the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseConfig {
    /// Hash buckets for unigrams and bigrams together.
    pub buckets: usize,
}

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\p{L}\p{N}_#@$€£₹]+").expect("static regex"));

/// Word unigrams and bigrams of `text` (and any `extra` tokens, such as a posting's field tokens), hashed, with
/// sublinear counts (1 + ln tf), unweighted: [`SparseModel`] applies its IDF and normalises.
pub fn terms(text: &str, extra: &[String], buckets: usize) -> Vec<(u32, f32)> {
    let words: Vec<String> = WORD.find_iter(text).map(|m| m.as_str().to_lowercase()).collect();
    let mut ids: Vec<u32> = Vec::with_capacity(words.len() * 2 + extra.len());
    let bucket = |bytes: &[u8]| (fnv1a(bytes) % buckets as u64) as u32;
    for w in &words {
        ids.push(bucket(w.as_bytes()));
    }
    for pair in words.windows(2) {
        ids.push(bucket(format!("{} {}", pair[0], pair[1]).as_bytes()));
    }
    for t in extra {
        ids.push(bucket(format!("field:{t}").as_bytes()));
    }
    ids.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::new();
    for id in ids {
        match out.last_mut() {
            Some((last, count)) if *last == id => *count += 1.0,
            _ => out.push((id, 1.0)),
        }
    }
    for (_, tf) in &mut out {
        *tf = 1.0 + tf.ln();
    }
    out
}

#[cfg(feature = "train")]
/// Smoothed IDF over `docs` (as sklearn's `smooth_idf`): ln((1 + n) / (1 + df)) + 1.
pub fn idf(docs: &[&[(u32, f32)]], buckets: usize) -> Vec<f32> {
    let mut df = vec![0u32; buckets];
    for d in docs {
        for (id, _) in d.iter() {
            df[*id as usize] += 1;
        }
    }
    let n = docs.len() as f32;
    df.iter().map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect()
}

/// The trained model: IDF, weights and bias.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseModel {
    pub config: SparseConfig,
    pub idf: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl SparseModel {
    /// TF-IDF, L2-normalised.
    pub fn weigh(&self, terms: &[(u32, f32)]) -> Vec<(u32, f32)> {
        weigh(terms, &self.idf)
    }

    pub fn logit(&self, terms: &[(u32, f32)]) -> f32 {
        self.bias + self.weigh(terms).iter().map(|(id, x)| self.weights[*id as usize] * x).sum::<f32>()
    }
}

fn weigh(terms: &[(u32, f32)], idf: &[f32]) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = terms.iter().map(|(id, tf)| (*id, tf * idf[*id as usize])).collect();
    let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
    v
}

/// How the logistic regression is fitted.
#[cfg(feature = "train")]
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty per update, on the weights an example touches.
    pub l2: f32,
    pub seed: u64,
}

#[cfg(feature = "train")]
impl Default for Fit {
    fn default() -> Self {
        // Chosen on folds 1-4 (cross-validated EMSCAD average precision); see the model card.
        Fit { epochs: 12, learning_rate: 0.5, l2: 1e-6, seed: 20261205 }
    }
}

#[cfg(feature = "train")]
/// Fit on `docs` (terms from [`terms`]) with labels and per-example weights; IDF comes from the same documents.
pub fn train(config: SparseConfig, docs: &[&[(u32, f32)]], labels: &[bool], weights: &[f32], fit: Fit) -> SparseModel {
    let idf = idf(docs, config.buckets);
    let rows: Vec<Vec<(u32, f32)>> = docs.iter().map(|d| weigh(d, &idf)).collect();
    let mean_weight = weights.iter().sum::<f32>() / weights.len().max(1) as f32;
    let mut w = vec![0f32; config.buckets];
    let mut g2 = vec![0f32; config.buckets];
    let (mut bias, mut bias_g2) = (0f32, 0f32);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = fastrand::Rng::with_seed(fit.seed);
    for _ in 0..fit.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let row = &rows[i];
            let z = bias + row.iter().map(|(j, x)| w[*j as usize] * x).sum::<f32>();
            let p = 1.0 / (1.0 + (-z).exp());
            let err = (p - if labels[i] { 1.0 } else { 0.0 }) * weights[i] / mean_weight;
            for (j, x) in row {
                let j = *j as usize;
                let g = err * x + fit.l2 * w[j];
                g2[j] += g * g;
                w[j] -= fit.learning_rate * g / (g2[j].sqrt() + 1e-8);
            }
            bias_g2 += err * err;
            bias -= fit.learning_rate * err / (bias_g2.sqrt() + 1e-8);
        }
    }
    SparseModel { config, idf, weights: w, bias }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_count_words_and_pairs_once_each_with_sublinear_counts() {
        let t = terms("Pay the fee. Pay the fee!", &[], 1 << 16);
        // pay, the, fee (twice each) and the pairs "pay the", "the fee" (twice), "fee pay" (once).
        assert_eq!(t.len(), 6);
        let twice = 1.0 + 2f32.ln();
        assert_eq!(t.iter().filter(|(_, tf)| (*tf - twice).abs() < 1e-6).count(), 5);
    }

    #[cfg(feature = "train")]
    #[test]
    fn a_separable_toy_problem_is_learned() {
        let config = SparseConfig { buckets: 1 << 12 };
        let texts = ["pay the training fee", "send a deposit to start", "see you at the interview", "lunch at noon"];
        let labels = [true, true, false, false];
        let docs: Vec<Vec<(u32, f32)>> = texts.iter().map(|t| terms(t, &[], config.buckets)).collect();
        let refs: Vec<&[(u32, f32)]> = docs.iter().map(Vec::as_slice).collect();
        let model = train(config, &refs, &labels, &[1.0; 4], Fit::default());
        for (d, l) in docs.iter().zip(labels) {
            assert_eq!(model.logit(d) > 0.0, l);
        }
    }
}
