//! The pipeline that turns an [`Input`] into an [`Analysis`]: normalise, run the rules, score, label, explain.
//!
//! The analyzer is immutable and `Sync`: load it once and share it between threads (CLI batch workers, bridge
//! workers, the desktop app's state). Later tiers plug in behind small traits: a local [`Classifier`] that scores a
//! document given the rule flags, and an escalation step that the core marks as recommended when the local verdict
//! is uncertain.

use std::time::Instant;

use crate::analysis::{Analysis, Escalation, Flag, Label, Tier, TierScores, Timing, Versions};
use crate::document::Document;
use crate::error::Result;
use crate::input::Input;
use crate::rules::RuleSet;
use crate::score::{self, Thresholds};

/// A local model that scores a document. It sees the rule flags so it can fold them into one calibrated score.
pub trait Classifier: Send + Sync + std::fmt::Debug {
    /// A version string stored with every verdict.
    fn version(&self) -> &str;
    /// Probability of scam in [0, 1], calibrated.
    fn score(&self, doc: &Document, flags: &[Flag]) -> Result<f32>;
    /// The uncertainty band this model was calibrated with.
    fn thresholds(&self) -> Thresholds;
    /// Whether the shared data's test fold was among this model's training data.
    fn trained_on_test_fold(&self) -> bool {
        false
    }
}

#[derive(Debug)]
pub struct Analyzer {
    rules: RuleSet,
    classifier: Option<Box<dyn Classifier>>,
}

impl Analyzer {
    pub fn new(rules: RuleSet) -> Self {
        Analyzer { rules, classifier: None }
    }

    /// Everything compiled into this build: the built-in rules and, when the build carries one, the built-in
    /// model. This is what every channel (CLI, bridge, desktop) runs by default.
    pub fn builtin() -> Result<Self> {
        Self::new(RuleSet::builtin()?).with_builtin_model()
    }

    /// Attach the model compiled into this build, if it has one (see build.rs); otherwise stay rules-only.
    pub fn with_builtin_model(self) -> Result<Self> {
        if crate::LocalModel::has_builtin() {
            Ok(self.with_classifier(Box::new(crate::LocalModel::builtin()?)))
        } else {
            Ok(self)
        }
    }

    pub fn with_classifier(mut self, classifier: Box<dyn Classifier>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The uncertainty band in force: the model's when one is loaded, else the rules-only band.
    pub fn thresholds(&self) -> Thresholds {
        self.classifier.as_ref().map_or(Thresholds::RULES, |m| m.thresholds())
    }

    pub fn classifier(&self) -> Option<&dyn Classifier> {
        self.classifier.as_deref()
    }

    /// Analyse one input. Fails only on inputs with nothing to analyse; any text gets a verdict.
    pub fn analyze(&self, input: &Input) -> Result<Analysis> {
        let started = Instant::now();
        let doc = Document::from_input(input)?;
        let normalized = started.elapsed();
        Ok(self.analyze_document(doc, started, normalized))
    }

    fn analyze_document(&self, doc: Document, started: Instant, normalized: std::time::Duration) -> Analysis {
        let rules_started = Instant::now();
        let flags = self.rules.evaluate(&doc);
        let rules_score = score::from_flags(&flags);
        let rules_time = rules_started.elapsed();

        let mut notes = doc.notes.clone();
        let mut tiers = vec![Tier::Rules];
        let mut tier_scores = TierScores { rules: rules_score, ..TierScores::default() };
        let (score, thresholds) = match &self.classifier {
            Some(model) => match model.score(&doc, &flags) {
                Ok(p) => {
                    tiers.push(Tier::Model);
                    tier_scores.model = Some(p);
                    (p, model.thresholds())
                }
                Err(e) => {
                    // A broken model must not hide the rules' verdict; say so and carry on.
                    notes.push(format!("the local model failed ({e}); this verdict uses the rules only"));
                    (rules_score, Thresholds::RULES)
                }
            },
            None => (rules_score, Thresholds::RULES),
        };
        let label = thresholds.label(score);
        let (score, tier_scores) = (round4(score), round_tiers(tier_scores));
        let escalation = Escalation {
            recommended: label == Label::Uncertain,
            reason: match label {
                Label::Uncertain => "the local verdict is unsure; a second opinion would help".into(),
                _ => "the local verdict is confident".into(),
            },
            status: None,
            outcome: None,
        };
        let summary = score::summary(label, &flags);
        let total = started.elapsed();
        Analysis {
            label,
            score,
            summary,
            flags,
            tiers,
            tier_scores,
            escalation,
            versions: Versions {
                core: env!("CARGO_PKG_VERSION").to_string(),
                rules: self.rules.version().to_string(),
                model: self.classifier.as_ref().map(|m| m.version().to_string()),
            },
            timing: Timing { normalize_us: micros(normalized), rules_us: micros(rules_time), total_us: micros(total) },
            notes,
            llm: None,
            text: Some(doc.text),
        }
    }
}

/// Four decimals are all the precision a probability needs here, and they keep JSON free of float noise
/// (0.050000012).
fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

fn round_tiers(t: TierScores) -> TierScores {
    TierScores { rules: round4(t.rules), model: t.model.map(round4), llm: t.llm.map(round4) }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
