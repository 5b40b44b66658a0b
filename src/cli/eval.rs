//! `redflag eval`: fraud-class precision, recall, F1, PR-AUC, ROC-AUC, expected calibration error and the
//! escalation rate of the analyzer as configured (rules + model), on a labelled JSONL file or on the held-out fold
//! of the data directory; `--plot DIR` draws the precision-recall curve and the reliability diagram.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;
use redflag::dataset::{self, Split};
use redflag::model::metrics;
use redflag::{Analyzer, Input};

use super::{card, plot};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A JSONL file in the batch format with a `label` of `scam`/`legit` (and optionally `source`), or the shared
    /// data directory, whose held-out fold is evaluated.
    #[arg(long)]
    data: PathBuf,
    /// Write pr_curve.svg and reliability.svg here.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
}

struct Case {
    input: Input,
    scam: bool,
    /// The row it also counts in besides "all": the family, or a JSONL line's `source` (none without one).
    slice: Option<String>,
}

pub fn run(analyzer: &Analyzer, args: EvalArgs) -> anyhow::Result<()> {
    let cases = if args.data.is_dir() { from_data_dir(&args.data)? } else { from_jsonl(&args.data)? };
    if cases.is_empty() {
        bail!("{} holds no labelled examples", args.data.display());
    }
    let scored: Vec<Option<f32>> = cases.par_iter().map(|c| analyzer.analyze(&c.input).ok().map(|a| a.score)).collect();
    let skipped = scored.iter().filter(|s| s.is_none()).count();
    let mut slices: BTreeMap<String, (Vec<f32>, Vec<bool>)> = BTreeMap::new();
    let (mut all_s, mut all_l) = (Vec::new(), Vec::new());
    for (c, s) in cases.iter().zip(&scored) {
        let Some(s) = s else { continue };
        all_s.push(*s);
        all_l.push(c.scam);
        if let Some(name) = &c.slice {
            let e = slices.entry(name.clone()).or_default();
            e.0.push(*s);
            e.1.push(c.scam);
        }
    }
    if args.data.is_dir() && analyzer.classifier().is_some_and(|m| m.trained_on_test_fold()) {
        eprintln!(
            "note: this model also trained on the data's test fold, so these numbers measure how well it fits data \
             it has seen. MODEL_CARD.md has the held-out numbers; for a model to measure here, train with \
             `redflag train --keep-test-fold-out --out DIR` and pass `--model DIR`."
        );
    }
    let band = analyzer.thresholds();
    println!(
        "model: {}   band: legit <= {:.2} < uncertain < {:.2} <= scam",
        analyzer.classifier().map_or("none (rules only)", |m| m.version()),
        band.legit,
        band.scam
    );
    print!("{}", card::metrics_header());
    print!("{}", card::metrics_row("all", &metrics::compute(&all_s, &all_l, band)));
    for (name, (s, l)) in &slices {
        print!("{}", card::metrics_row(name, &metrics::compute(s, l, band)));
    }
    if skipped > 0 {
        println!("({skipped} examples had no text to analyse and were skipped)");
    }
    if let Some(dir) = args.plot {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        plot::pr_curve(&dir.join("pr_curve.svg"), &all_s, &all_l)?;
        plot::reliability(&dir.join("reliability.svg"), &all_s, &all_l)?;
        println!("plots: {} and {}", dir.join("pr_curve.svg").display(), dir.join("reliability.svg").display());
    }
    Ok(())
}

fn from_data_dir(dir: &Path) -> anyhow::Result<Vec<Case>> {
    Ok(dataset::load(dir)?
        .into_iter()
        .filter(|e| e.split == Split::Test)
        .map(|e| Case { input: e.input, scam: e.scam, slice: Some(e.family.name().to_string()) })
        .collect())
}

fn from_jsonl(path: &Path) -> anyhow::Result<Vec<Case>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{}: not valid JSON", path.display(), i + 1))?;
        let scam = match value.get("label").and_then(|l| l.as_str()) {
            Some("scam") => true,
            Some("legit") => false,
            other => bail!("{}:{}: `label` must be \"scam\" or \"legit\", got {other:?}", path.display(), i + 1),
        };
        let slice = value.get("source").and_then(|s| s.as_str()).map(str::to_string);
        let (input, _) = Input::from_json(value).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        cases.push(Case { input, scam, slice });
    }
    Ok(cases)
}
