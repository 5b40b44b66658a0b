//! `redflag train`: trains the local classifier and writes it, with its model card, to `--out`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use redflag::RuleSet;
use redflag::model::train::{Progress, TrainOptions, TrainReport, train};

use super::card;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The shared data directory (the one with DATA.md).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// The sentence encoder to distil (a BERT directory with config.json, model.safetensors, tokenizer.json).
    #[arg(long, default_value = "../shared/models/all-MiniLM-L6-v2")]
    encoder: PathBuf,
    /// Where the model files and MODEL_CARD.md go.
    #[arg(long, default_value = "models")]
    out: PathBuf,
    /// Caches and exported splits (train/validation/held-out JSONL for `redflag eval` and baselines).
    #[arg(long, default_value = "target/redflag-train")]
    work: PathBuf,
    #[arg(long, default_value_t = 20261124)]
    seed: u64,
    /// Width of the distilled token vectors (PCA components).
    #[arg(long, default_value_t = 256)]
    dim: usize,
    #[arg(long, default_value_t = 60)]
    max_epochs: usize,
    /// Ship the head trained on folds 1-4 instead of all five, so that `redflag eval --data` on the data
    /// directory scores a test fold the model never saw (the default ships the stronger model).
    #[arg(long)]
    keep_test_fold_out: bool,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn stage(&self, name: &str, len: u64) {
        self.0.reset();
        self.0.set_length(len);
        self.0.set_message(name.to_string());
    }

    fn advance(&self, by: u64) {
        self.0.inc(by);
    }
}

pub fn run(rules: &RuleSet, args: TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let opts = TrainOptions {
        data: args.data,
        encoder: args.encoder,
        out: args.out.clone(),
        work: args.work,
        seed: args.seed,
        dim: args.dim,
        max_epochs: args.max_epochs,
        max_band: 0.12,
        ship_test_fold: !args.keep_test_fold_out,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} {elapsed}").context("progress template")?,
    );
    let report: TrainReport = train(&opts, rules, &Bar(bar.clone()))?;
    bar.finish_and_clear();
    let card_path = args.out.join("MODEL_CARD.md");
    std::fs::write(&card_path, card::model_card(&report, &opts, rules.version()))
        .with_context(|| format!("writing {}", card_path.display()))?;
    println!("{}", card::summary(&report));
    println!("wrote {} in {:.0} s", args.out.display(), started.elapsed().as_secs_f64());
    Ok(())
}
