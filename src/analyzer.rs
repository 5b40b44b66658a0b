//! The pipeline that turns an [`Input`] into an [`Analysis`]: normalise, run the rules, score, label, explain.
//!
//! The analyzer is immutable and `Sync`: load it once and share it between threads (CLI batch workers, bridge
//! workers, the desktop app's state). Later tiers plug in behind small traits: a local [`Classifier`] that scores a
//! document given the rule flags, and an escalation step that the core marks as recommended when the local verdict
//! is uncertain. Which classifier that is (the built-in [`crate::LocalModel`], see `model::attach`) is not this
//! module's business: it knows the seam, not its implementations.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use crate::analysis::{Analysis, Escalation, Flag, Label, ModelWord, TextKind, Tier, TierScores, Timing, Versions};
use crate::document::Document;
use crate::error::Result;
use crate::input::Input;
use crate::rules::RuleSet;
use crate::score::{self, Thresholds};
use crate::sync::indicators::IndicatorSet;

/// A local model that scores a document. It sees the rule flags (they are among its features) and the kind of
/// text, since it is calibrated per kind.
pub trait Classifier: Send + Sync + std::fmt::Debug {
    /// A version string stored with every verdict.
    fn version(&self) -> &str;
    /// The model's own calibrated log-odds of scam for a text of this kind, before the rule flags' and
    /// reassurances' evidence is added ([`score::rule_evidence`], [`score::reassurance_evidence`]).
    fn log_odds(&self, doc: &Document, flags: &[Flag], kind: TextKind) -> Result<f32>;
    /// The uncertainty band this model was calibrated with for this kind of text.
    fn thresholds(&self, kind: TextKind) -> Thresholds;
    /// The words that pushed this document's score up, strongest first (none if the model cannot say).
    fn explain(&self, _doc: &Document, _flags: &[Flag]) -> Result<Vec<ModelWord>> {
        Ok(Vec::new())
    }
    /// Whether the shared data's test fold was among this model's training data.
    fn trained_on_test_fold(&self) -> bool {
        false
    }
}

#[derive(Debug)]
pub struct Analyzer {
    rules: RuleSet,
    classifier: Option<Box<dyn Classifier>>,
    /// Scam indicators synced from a hub ([`crate::sync`]), matched locally as the `reported-indicator` flag.
    /// Replaceable while the analyzer is shared: a long-running app loads its model once and takes new indicators
    /// after every sync.
    indicators: RwLock<Option<Arc<IndicatorSet>>>,
}

impl Analyzer {
    pub fn new(rules: RuleSet) -> Self {
        Analyzer { rules, classifier: None, indicators: RwLock::new(None) }
    }

    /// Match these synced indicators too.
    pub fn with_indicators(self, indicators: Arc<IndicatorSet>) -> Self {
        self.set_indicators(Some(indicators));
        self
    }

    /// Match these synced indicators from now on (`None`: none).
    pub fn set_indicators(&self, indicators: Option<Arc<IndicatorSet>>) {
        *self.indicators.write().unwrap_or_else(PoisonError::into_inner) = indicators;
    }

    fn indicators(&self) -> Option<Arc<IndicatorSet>> {
        self.indicators.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether a classifier is attached.
    pub fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    pub fn with_classifier(mut self, classifier: Box<dyn Classifier>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The uncertainty band in force for a kind of text: the model's when one is loaded, else the rules-only band.
    pub fn thresholds(&self, kind: TextKind) -> Thresholds {
        self.classifier.as_ref().map_or(Thresholds::RULES, |m| m.thresholds(kind))
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
        let mut flags = self.rules.evaluate(&doc);
        if let Some(flag) = self.indicators().and_then(|set| set.flag(&doc, crate::time::unix_now())) {
            // Flags are listed strongest first.
            let at = flags.iter().position(|f| f.weight < flag.weight).unwrap_or(flags.len());
            flags.insert(at, flag);
        }
        let found = self.rules.reassure(&doc);
        let kind = crate::kind::detect(&doc);
        let rules_time = rules_started.elapsed();
        // Reassurance counts, and is shown, only when no red flag fired.
        let reassurances = if flags.is_empty() { found } else { Vec::new() };
        let rules_score = score::rules_only(&flags, &reassurances);

        let mut notes = doc.notes.clone();
        let mut tiers = vec![Tier::Rules];
        let mut tier_scores = TierScores { rules: rules_score, ..TierScores::default() };
        let (score, thresholds) = match &self.classifier {
            Some(model) => match model.log_odds(&doc, &flags, kind) {
                Ok(z) => {
                    let z = z + score::rule_evidence(&flags) + score::reassurance_evidence(&flags, &reassurances);
                    let p = 1.0 / (1.0 + (-z).exp());
                    tiers.push(Tier::Model);
                    tier_scores.model = Some(p);
                    (p, model.thresholds(kind))
                }
                Err(e) => {
                    // A broken model must not hide the rules' verdict; say so and carry on.
                    notes.push(format!("the local model failed ({e}); this verdict uses the rules only"));
                    (rules_score, Thresholds::RULES)
                }
            },
            None => (rules_score, Thresholds::RULES),
        };
        let visible = flags.iter().any(|f| !f.evidence.is_empty());
        let (label, score) = score::apply_evidence_rule(thresholds.label(score), score, thresholds, visible);
        // The model's own reasons, where no red flag gives one: which words made it think of a scam. Only when it
        // leans that way (0.5 or more) and the verdict is not "legit": below that, the words that nudged a low
        // score up are noise, not a resemblance worth showing.
        let model_words = match &self.classifier {
            Some(model) if flags.is_empty() && label != Label::Legit && score >= 0.5 => {
                model.explain(&doc, &flags).unwrap_or_default()
            }
            _ => Vec::new(),
        };
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
        let summary = score::summary(label, score, &flags, &reassurances, kind);
        let total = started.elapsed();
        let mut analysis = Analysis {
            label,
            score,
            summary,
            kind,
            flags,
            reassurances,
            model_words,
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
            advice: Default::default(),
            text: Some(doc.text),
            input: None,
        };
        analysis.refresh_advice();
        analysis
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
