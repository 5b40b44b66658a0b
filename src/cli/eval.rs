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
use redflag::{Analyzer, Input, Label, TextKind};

use super::{card, plot};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A JSONL file in the batch format with a `label` of `scam`/`legit` (and optionally `source`), or the shared
    /// data directory, whose held-out fold is evaluated.
    #[arg(long)]
    data: PathBuf,
    /// With a data directory: also evaluate the test fold of this written corpus (`models/written`).
    #[arg(long, value_name = "DIR")]
    written: Option<PathBuf>,
    /// Write pr_curve.svg and reliability.svg here.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
}

/// What the analyzer said about one case.
struct Verdict {
    score: f32,
    label: Label,
    kind: TextKind,
    flagged: bool,
}

/// The verdicts of one slice, with the truth.
#[derive(Default)]
struct Scored {
    scores: Vec<f32>,
    truth: Vec<bool>,
    verdicts: Vec<Label>,
    flagged: Vec<bool>,
}

impl Scored {
    fn push(&mut self, v: &Verdict, scam: bool) {
        self.scores.push(v.score);
        self.truth.push(scam);
        self.verdicts.push(v.label);
        self.flagged.push(v.flagged);
    }

    fn metrics(&self) -> metrics::Metrics {
        metrics::compute_labelled(&self.scores, &self.truth, &self.verdicts)
    }
}

/// One labelled JSONL file scored by `analyzer`: its metrics and how many `scam` verdicts showed a red flag, of
/// how many (for the model card's red-team rows).
pub fn score_file(analyzer: &Analyzer, path: &Path) -> anyhow::Result<(metrics::Metrics, usize, usize)> {
    let cases = from_jsonl(path)?;
    let mut all = Scored::default();
    for c in &cases {
        if let Ok(a) = analyzer.analyze(&c.input) {
            let v = Verdict { score: a.score, label: a.label, kind: a.kind, flagged: a.has_visible_evidence() };
            all.push(&v, c.scam);
        }
    }
    let scams = all.verdicts.iter().filter(|l| **l == Label::Scam).count();
    let shown = all.verdicts.iter().zip(&all.flagged).filter(|(l, f)| **l == Label::Scam && **f).count();
    Ok((all.metrics(), shown, scams))
}

struct Case {
    input: Input,
    scam: bool,
    /// The row it also counts in besides "all": the family, or a JSONL line's `source` (none without one).
    slice: Option<String>,
}

pub fn run(analyzer: &Analyzer, args: EvalArgs) -> anyhow::Result<()> {
    let cases =
        if args.data.is_dir() { from_data_dir(&args.data, args.written.as_deref())? } else { from_jsonl(&args.data)? };
    if cases.is_empty() {
        bail!("{} holds no labelled examples", args.data.display());
    }
    let scored: Vec<Option<Verdict>> = cases
        .par_iter()
        .map(|c| {
            analyzer.analyze(&c.input).ok().map(|a| Verdict {
                score: a.score,
                label: a.label,
                kind: a.kind,
                flagged: a.has_visible_evidence(),
            })
        })
        .collect();
    let skipped = scored.iter().filter(|s| s.is_none()).count();
    let mut slices: BTreeMap<String, Scored> = BTreeMap::new();
    let mut all = Scored::default();
    let mut kinds: BTreeMap<TextKind, Scored> = BTreeMap::new();
    for (c, v) in cases.iter().zip(&scored) {
        let Some(v) = v else { continue };
        all.push(v, c.scam);
        kinds.entry(v.kind).or_default().push(v, c.scam);
        if let Some(name) = &c.slice {
            slices.entry(name.clone()).or_default().push(v, c.scam);
        }
    }
    if args.data.is_dir() && analyzer.classifier().is_some_and(|m| m.trained_on_test_fold()) {
        eprintln!(
            "note: this model also trained on the data's test fold, so these numbers measure how well it fits data \
             it has seen. MODEL_CARD.md has the held-out numbers; for a model to measure here, train with \
             `redflag train --keep-test-fold-out --out DIR` and pass `--model DIR`."
        );
    }
    println!("model: {}", analyzer.classifier().map_or("none (rules only)", |m| m.version()));
    for kind in TextKind::ALL {
        let band = analyzer.thresholds(kind);
        println!("  {:<12} band: legit <= {:.2} < uncertain < {:.2} <= scam", kind.name(), band.legit, band.scam);
    }
    print!("{}", card::metrics_header());
    print!("{}", card::metrics_row("all", &all.metrics()));
    for (kind, s) in &kinds {
        print!("{}", card::metrics_row(&format!("read as {}", kind.name()), &s.metrics()));
    }
    for (name, s) in &slices {
        print!("{}", card::metrics_row(name, &s.metrics()));
    }
    let scams = all.verdicts.iter().filter(|l| **l == Label::Scam).count();
    println!(
        "`scam` verdicts with a red flag or located quote: {} of {scams}",
        all.verdicts.iter().zip(&all.flagged).filter(|(l, f)| **l == Label::Scam && **f).count()
    );
    if skipped > 0 {
        println!("({skipped} examples had no text to analyse and were skipped)");
    }
    if let Some(dir) = args.plot {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        plot::pr_curve(&dir.join("pr_curve.svg"), &all.scores, &all.truth)?;
        plot::reliability(&dir.join("reliability.svg"), &all.scores, &all.truth)?;
        println!("plots: {} and {}", dir.join("pr_curve.svg").display(), dir.join("reliability.svg").display());
    }
    Ok(())
}

fn from_data_dir(dir: &Path, written: Option<&Path>) -> anyhow::Result<Vec<Case>> {
    Ok(dataset::load(dir, written)?
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
