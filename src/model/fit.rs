//! Fitting one head: seeded AdamW on a weighted binary cross-entropy, either early-stopped on a validation set
//! (choosing a candidate and its epoch count) or run for a fixed number of epochs (cross-fitting and the final fit,
//! which have no validation set of their own). Everything random comes from one seeded generator, so a run is
//! reproducible bit for bit.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Optimizer, VarBuilder, VarMap};

use super::head::{BagBatch, Head, HeadConfig};

/// A set of examples as the head sees them: standardised dense features, n-gram buckets and labels.
#[derive(Debug)]
pub struct SplitData {
    pub x: Vec<Vec<f32>>,
    pub bags: Vec<Vec<u32>>,
    pub y: Vec<bool>,
}

/// When to stop training.
#[derive(Debug)]
pub enum Stop<'a> {
    /// Keep the epoch with the lowest validation loss; give up after `patience` epochs without a better one.
    Early { validation: &'a SplitData, max_epochs: usize, patience: usize },
    /// Exactly this many epochs.
    After(usize),
}

/// The trained variables and the number of epochs they were trained for.
pub fn fit(
    cfg: &HeadConfig,
    train: &SplitData,
    weights: &[f32],
    stop: Stop,
    seed: u64,
    on_epoch: &dyn Fn(),
) -> anyhow::Result<(VarMap, usize)> {
    const BATCH: usize = 256;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let head = Head::load(vb.pp("head"), cfg)?;
    let mut rng = Rng(seed.max(1));
    seeded_init(&varmap, &mut rng)?;
    let mut optimizer = candle_nn::AdamW::new(
        varmap.all_vars(),
        candle_nn::ParamsAdamW { lr: 1e-3, weight_decay: 1e-3, ..Default::default() },
    )?;
    let validation = match &stop {
        Stop::Early { validation, .. } => {
            let all: Vec<usize> = (0..validation.y.len()).collect();
            Some((
                features_tensor(cfg, validation, &all)?,
                labels_tensor(validation, &all)?,
                bag_of(validation, &all)?,
                Tensor::ones(validation.y.len(), DType::F32, &device)?,
            ))
        }
        Stop::After(_) => None,
    };
    let (max_epochs, patience) = match stop {
        Stop::Early { max_epochs, patience, .. } => (max_epochs, patience),
        Stop::After(n) => (n, usize::MAX),
    };
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    let (mut best_loss, mut best_epoch, mut best_state) = (f32::INFINITY, 0, None);
    let mut ran = 0;
    for epoch in 0..max_epochs {
        ran = epoch + 1;
        rng.shuffle(&mut order);
        for chunk in order.chunks(BATCH) {
            let ws = Tensor::from_vec(chunk.iter().map(|&i| weights[i]).collect::<Vec<_>>(), chunk.len(), &device)?;
            let logits = head.forward(&features_tensor(cfg, train, chunk)?, Some(&bag_of(train, chunk)?))?;
            let loss = weighted_bce(&logits, &labels_tensor(train, chunk)?, &ws)?;
            optimizer.backward_step(&loss)?;
        }
        on_epoch();
        let Some((x, y, bag, w)) = &validation else { continue };
        let loss = weighted_bce(&head.forward(x, Some(bag))?, y, w)?.to_scalar::<f32>()?;
        if loss < best_loss {
            (best_loss, best_epoch, best_state) = (loss, epoch + 1, Some(snapshot(&varmap)?));
        } else if epoch + 1 - best_epoch >= patience {
            break;
        }
    }
    match best_state {
        Some(state) => {
            restore(&varmap, &state)?;
            Ok((varmap, best_epoch))
        }
        // A fixed run, or a validation loss that never became finite: the last epoch's variables.
        None => Ok((varmap, ran)),
    }
}

/// The head's logits for every example of `set`.
pub fn logits(varmap: &VarMap, cfg: &HeadConfig, set: &SplitData) -> anyhow::Result<Vec<f32>> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
    let head = Head::load(vb.pp("head"), cfg)?;
    let all: Vec<usize> = (0..set.y.len()).collect();
    Ok(head.forward(&features_tensor(cfg, set, &all)?, Some(&bag_of(set, &all)?))?.to_vec1::<f32>()?)
}

/// Variables in name order, so initialisation, snapshots and the saved file do not depend on hash-map order.
pub fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

fn features_tensor(cfg: &HeadConfig, set: &SplitData, idx: &[usize]) -> candle_core::Result<Tensor> {
    let flat: Vec<f32> = idx.iter().flat_map(|&i| set.x[i].iter().copied()).collect();
    Tensor::from_vec(flat, (idx.len(), cfg.inputs), &Device::Cpu)
}

fn labels_tensor(set: &SplitData, idx: &[usize]) -> candle_core::Result<Tensor> {
    Tensor::from_vec(idx.iter().map(|&i| f32::from(u8::from(set.y[i]))).collect::<Vec<_>>(), idx.len(), &Device::Cpu)
}

fn bag_of(set: &SplitData, idx: &[usize]) -> candle_core::Result<BagBatch> {
    let docs: Vec<&[u32]> = idx.iter().map(|&i| set.bags[i].as_slice()).collect();
    BagBatch::new(&docs, &Device::Cpu)
}

/// Mean of `w * BCE(logit, y)`, written stably: max(z, 0) - z*y + log(1 + exp(-|z|)).
fn weighted_bce(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> candle_core::Result<Tensor> {
    let per = ((logits.relu()? - (logits * targets)?)? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    (per * weights)?.mean_all()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng(42), Rng(42));
        assert_eq!((0..5).map(|_| a.next()).collect::<Vec<_>>(), (0..5).map(|_| b.next()).collect::<Vec<_>>());
    }

    #[test]
    fn a_fixed_epoch_fit_is_reproducible_and_learns() {
        // Two separable clusters on the first feature; one batch, so one AdamW step per epoch.
        let x: Vec<Vec<f32>> =
            (0..64).map(|i| vec![if i % 2 == 0 { 1.0 } else { -1.0 }, (i % 7) as f32 / 7.0]).collect();
        let set = SplitData { y: (0..64).map(|i| i % 2 == 0).collect(), bags: vec![Vec::new(); 64], x };
        let cfg = HeadConfig { inputs: 2, hidden: 4, bag_buckets: 0, bag_dim: 0 };
        let run = || -> Vec<f32> {
            let (vm, epochs) = fit(&cfg, &set, &[1.0; 64], Stop::After(300), 7, &|| ()).expect("fit");
            assert_eq!(epochs, 300);
            logits(&vm, &cfg, &set).expect("logits")
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert!(a.iter().zip(&set.y).all(|(z, y)| (*z > 0.0) == *y), "{a:?}");
    }
}
