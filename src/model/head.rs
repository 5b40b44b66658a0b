//! The classifier head: standardised dense features plus an optional bag of hashed token n-grams (a fastText-style
//! learned embedding, averaged over the n-grams present) -> one hidden ReLU layer -> a logit. With `hidden = 0` it
//! is a logistic regression. Shaped like candle-transformers models: a config, `load(vb, cfg)`, `forward`.

use candle_core::{DType, Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder, linear};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadConfig {
    /// Dense feature width.
    pub inputs: usize,
    /// Width of the hidden layer; 0 means a linear model.
    pub hidden: usize,
    /// Hashed n-gram buckets and the width of their learned vectors; 0 turns the bag off.
    pub bag_buckets: usize,
    pub bag_dim: usize,
}

/// The n-grams of a batch of documents in coordinate form: which document each entry belongs to, its bucket, and
/// its weight (1 / the document's number of n-grams, so the bag is a mean).
#[derive(Debug)]
pub struct BagBatch {
    pub doc: Tensor,
    pub bucket: Tensor,
    pub weight: Tensor,
}

impl BagBatch {
    pub fn new(docs: &[&[u32]], device: &candle_core::Device) -> Result<Self> {
        let (mut doc, mut bucket, mut weight) = (Vec::new(), Vec::new(), Vec::new());
        for (i, buckets) in docs.iter().enumerate() {
            let w = 1.0 / (buckets.len().max(1) as f32);
            for b in buckets.iter() {
                doc.push(i as u32);
                bucket.push(*b);
                weight.push(w);
            }
        }
        let n = doc.len();
        Ok(BagBatch {
            doc: Tensor::from_vec(doc, n, device)?,
            bucket: Tensor::from_vec(bucket, n, device)?,
            weight: Tensor::from_vec(weight, (n, 1), device)?,
        })
    }
}

#[derive(Debug)]
pub struct Head {
    bag: Option<Tensor>,
    bag_dim: usize,
    hidden: Option<Linear>,
    out: Linear,
}

impl Head {
    pub fn load(vb: VarBuilder, cfg: &HeadConfig) -> Result<Self> {
        let bag = if cfg.bag_dim > 0 {
            let init = candle_nn::Init::Uniform { lo: -0.01, up: 0.01 };
            Some(vb.pp("bag").get_with_hints((cfg.bag_buckets, cfg.bag_dim), "table", init)?)
        } else {
            None
        };
        let width = cfg.inputs + cfg.bag_dim;
        let (hidden, out) = if cfg.hidden == 0 {
            (None, linear(width, 1, vb.pp("out"))?)
        } else {
            (Some(linear(width, cfg.hidden, vb.pp("hidden"))?), linear(cfg.hidden, 1, vb.pp("out"))?)
        };
        Ok(Head { bag, bag_dim: cfg.bag_dim, hidden, out })
    }

    /// Logits, shape `(batch,)`.
    pub fn forward(&self, xs: &Tensor, bag: Option<&BagBatch>) -> Result<Tensor> {
        let xs = match (&self.bag, bag) {
            (Some(table), Some(b)) => {
                let rows = xs.dim(0)?;
                let vectors = table.index_select(&b.bucket, 0)?.broadcast_mul(&b.weight)?;
                let means =
                    Tensor::zeros((rows, self.bag_dim), DType::F32, xs.device())?.index_add(&b.doc, &vectors, 0)?;
                Tensor::cat(&[xs, &means], 1)?
            }
            (Some(_), None) => candle_core::bail!("this head needs the document's n-grams"),
            (None, _) => xs.clone(),
        };
        let xs = match &self.hidden {
            Some(h) => h.forward(&xs)?.relu()?,
            None => xs,
        };
        self.out.forward(&xs)?.squeeze(1)
    }
}
