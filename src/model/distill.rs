//! Distilling a sentence encoder into static token vectors (the Model2Vec recipe): every vocabulary token is run
//! through the encoder on its own (`[CLS] token [SEP]`, mean-pooled as the encoder was trained), and the resulting
//! vocabulary x 384 table is reduced with PCA. At run time a text's vector is then a weighted mean of table rows:
//! the encoder's semantics at bag-of-words speed, with no transformer at inference.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

/// Tokens encoded per forward pass.
const BATCH: usize = 512;

/// The encoder's output for every vocabulary token, `vocab x hidden`, row-major.
/// `progress` is called with the number of tokens each batch encoded.
pub fn encode_vocabulary(encoder_dir: &Path, progress: &dyn Fn(usize)) -> anyhow::Result<(Vec<f32>, usize)> {
    use anyhow::Context;
    let config: Config = serde_json::from_slice(
        &std::fs::read(encoder_dir.join("config.json"))
            .with_context(|| format!("reading {}", encoder_dir.join("config.json").display()))?,
    )?;
    let weights = encoder_dir.join("model.safetensors");
    let device = Device::Cpu;
    // Read the 90 MB into memory rather than mmap it: `from_mmaped_safetensors` is `unsafe` (the file could change
    // underneath), and the crate forbids unsafe code. Training runs once; the copy costs nothing that matters.
    let bytes = std::fs::read(&weights).with_context(|| format!("reading {}", weights.display()))?;
    let vb = VarBuilder::from_slice_safetensors(&bytes, DType::F32, &device)?;
    let model = BertModel::load(vb, &config)?;
    let (vocab, hidden) = (config.vocab_size, config.hidden_size);
    let (cls, sep) = (101u32, 102u32); // BERT uncased vocabulary ids of [CLS] and [SEP]
    let mut table = Vec::with_capacity(vocab * hidden);
    for start in (0..vocab).step_by(BATCH) {
        let end = (start + BATCH).min(vocab);
        let ids: Vec<u32> = (start..end).flat_map(|t| [cls, t as u32, sep]).collect();
        let input = Tensor::from_vec(ids, (end - start, 3), &device)?;
        let types = input.zeros_like()?;
        let out = model.forward(&input, &types, None)?; // (batch, 3, hidden)
        let pooled = out.mean(1)?; // mean pooling over the three positions, as sentence-transformers does
        table.extend(pooled.flatten_all()?.to_vec1::<f32>()?);
        progress(end - start);
    }
    Ok((table, hidden))
}

/// Principal component analysis of the rows of `table` (`n x d`): returns the mean-centred rows projected on the
/// top `k` components, `n x k`. The covariance is only `d x d`, so a dense symmetric eigendecomposition is cheap.
pub fn pca(table: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = table.len() / d;
    let mut mean = vec![0f64; d];
    for row in table.chunks_exact(d) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += f64::from(*x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = nalgebra::DMatrix::<f64>::zeros(d, d);
    let mut centred = vec![0f64; d];
    for row in table.chunks_exact(d) {
        for (c, (x, m)) in centred.iter_mut().zip(row.iter().zip(&mean)) {
            *c = f64::from(*x) - m;
        }
        let v = nalgebra::DVector::from_column_slice(&centred);
        cov.syger(1.0, &v, &v, 1.0);
    }
    cov /= n as f64;
    let eig = nalgebra::SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let components: Vec<nalgebra::DVector<f64>> =
        order[..k].iter().map(|&i| eig.eigenvectors.column(i).into_owned()).collect();
    let mut out = Vec::with_capacity(n * k);
    for row in table.chunks_exact(d) {
        for (c, (x, m)) in centred.iter_mut().zip(row.iter().zip(&mean)) {
            *c = f64::from(*x) - m;
        }
        let v = nalgebra::DVector::from_column_slice(&centred);
        out.extend(components.iter().map(|comp| comp.dot(&v) as f32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_main_direction() {
        // Points along (1, 1) with a little noise along (1, -1): the first component carries almost all variance.
        let table: Vec<f32> = (0..100)
            .flat_map(|i| {
                let t = i as f32 / 10.0;
                let noise = if i % 2 == 0 { 0.01 } else { -0.01 };
                [t + noise, t - noise]
            })
            .collect();
        let projected = pca(&table, 2, 1);
        assert_eq!(projected.len(), 100);
        let spread = projected.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(spread > 6.0, "first component spans the line: {spread}");
    }
}
