//! The classifier head: standardised features -> one hidden ReLU layer -> a logit (or, with `hidden = 0`, a
//! logistic regression). Shaped like candle-transformers models: a config, `load(vb, cfg)`, `forward`.

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder, linear};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadConfig {
    pub inputs: usize,
    /// Width of the hidden layer; 0 means a linear model.
    pub hidden: usize,
}

#[derive(Debug)]
pub struct Head {
    hidden: Option<Linear>,
    out: Linear,
}

impl Head {
    pub fn load(vb: VarBuilder, cfg: &HeadConfig) -> Result<Self> {
        if cfg.hidden == 0 {
            return Ok(Head { hidden: None, out: linear(cfg.inputs, 1, vb.pp("out"))? });
        }
        Ok(Head {
            hidden: Some(linear(cfg.inputs, cfg.hidden, vb.pp("hidden"))?),
            out: linear(cfg.hidden, 1, vb.pp("out"))?,
        })
    }

    /// Logits, shape `(batch,)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = match &self.hidden {
            Some(h) => h.forward(xs)?.relu()?,
            None => xs.clone(),
        };
        self.out.forward(&xs)?.squeeze(1)
    }
}
