//! The full MiniLM encoder's sentence vectors, for `scripts/encoder_study.py`: would the issue's optional "full
//! encoder" tier rank EMSCAD's frauds better than the shipped static table?
//!
//! Reads JSONL records `{"id", "text"}` and writes `{"id", "first", "all", "windows"}`: `first` is the encoder's
//! mean-pooled output over the text's first window (`[CLS]`, 126 word pieces, `[SEP]`: the 128 tokens the shipped
//! model reads), `all` the mean of that over consecutive windows of the whole text (at most 16). One window per
//! forward pass, so no padding or attention mask is needed. Study code, not product: the product never runs the
//! encoder at inference.
//!
//! ```sh
//! cargo run --release --example encoder_study -- ../shared/models/all-MiniLM-L6-v2 models/tokenizer.json IN OUT
//! ```

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

/// Word pieces per window, leaving room for `[CLS]` and `[SEP]` within the shipped model's 128.
const WINDOW: usize = 126;
/// Windows read per text; EMSCAD's longest postings would otherwise dominate the run time.
const MAX_WINDOWS: usize = 16;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [encoder, tokenizer, input, output] = args.as_slice() else {
        anyhow::bail!("usage: encoder_study ENCODER_DIR TOKENIZER_JSON IN.jsonl OUT.jsonl");
    };
    let encoder = Path::new(encoder);
    let config: Config = serde_json::from_slice(
        &std::fs::read(encoder.join("config.json")).with_context(|| format!("reading {}", encoder.display()))?,
    )?;
    let bytes = std::fs::read(encoder.join("model.safetensors"))?;
    let device = Device::Cpu;
    let model = BertModel::load(VarBuilder::from_slice_safetensors(&bytes, DType::F32, &device)?, &config)?;
    let mut tok = tokenizers::Tokenizer::from_file(tokenizer).map_err(anyhow::Error::msg)?;
    tok.with_truncation(None).map_err(anyhow::Error::msg)?;
    tok.with_padding(None);

    let lines = std::io::BufReader::new(std::fs::File::open(input).with_context(|| format!("reading {input}"))?);
    let mut out = BufWriter::new(std::fs::File::create(output).with_context(|| format!("writing {output}"))?);
    for (n, line) in lines.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(&line?)?;
        let text = record["text"].as_str().context("a record without text")?;
        let ids = tok.encode(text, false).map_err(anyhow::Error::msg)?.get_ids().to_vec();
        let mut pooled: Vec<Vec<f32>> = Vec::new();
        for chunk in ids.chunks(WINDOW).take(MAX_WINDOWS) {
            let window: Vec<u32> = [101].into_iter().chain(chunk.iter().copied()).chain([102]).collect();
            let len = window.len();
            let input = Tensor::from_vec(window, (1, len), &device)?;
            let out = model.forward(&input, &input.zeros_like()?, None)?;
            pooled.push(out.mean(1)?.flatten_all()?.to_vec1::<f32>()?);
        }
        let first = pooled.first().cloned().unwrap_or_else(|| vec![0.0; config.hidden_size]);
        let all: Vec<f32> = (0..config.hidden_size)
            .map(|i| pooled.iter().map(|v| v[i]).sum::<f32>() / pooled.len().max(1) as f32)
            .collect();
        let row = serde_json::json!({"id": record["id"], "first": first, "all": all, "windows": pooled.len()});
        writeln!(out, "{row}")?;
        if n % 200 == 0 {
            eprintln!("{n} texts encoded");
        }
    }
    out.flush()?;
    Ok(())
}
