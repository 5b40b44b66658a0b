//! `redflag train`: trains the local classifier and writes it, with its model card, to `--out`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use redflag::model::train::{Progress, TrainOptions, TrainReport, train};
use redflag::{Analyzer, LocalModel, RuleSet};

use super::card;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The shared data directory (the one with DATA.md).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Text written for this project (`*.jsonl` with id, label, register, text), trained on beside the shared
    /// data; an empty string leaves it out.
    #[arg(long, default_value = "models/written")]
    written: PathBuf,
    /// The red-team sets (`*.jsonl`) the trained model is measured on for the model card; never trained on.
    #[arg(long, default_value = "tests/redteam")]
    redteam: PathBuf,
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

/// The model just written, with these rules, on every red-team file: text it never trained on, so the shipped model
/// itself can be measured there.
fn measure_redteam(rules: RuleSet, model: &Path, dir: &Path) -> anyhow::Result<Vec<card::RedTeam>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let analyzer = Analyzer::new(rules).with_classifier(Box::new(LocalModel::load_dir(model)?));
    files
        .iter()
        .map(|f| {
            let (metrics, shown, scams) = super::eval::score_file(&analyzer, f)?;
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(card::RedTeam { file: name, metrics, scams_with_flag: shown, scam_verdicts: scams })
        })
        .collect()
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

pub fn run(rules: &RuleSet, args: TrainArgs, reload: &dyn Fn() -> anyhow::Result<RuleSet>) -> anyhow::Result<()> {
    let started = Instant::now();
    let opts = TrainOptions {
        data: args.data,
        written: (!args.written.as_os_str().is_empty()).then_some(args.written),
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
    let redteam = measure_redteam(reload()?, &args.out, &args.redteam)?;
    let card_path = args.out.join("MODEL_CARD.md");
    std::fs::write(&card_path, card::model_card(&report, &opts, rules.version(), &redteam))
        .with_context(|| format!("writing {}", card_path.display()))?;
    println!("{}", card::summary(&report));
    println!("wrote {} in {:.0} s", args.out.display(), started.elapsed().as_secs_f64());
    Ok(())
}
