//! From flags to a score, a label and a sentence.
//!
//! Without the local model, the score is a noisy-OR of the flag weights over a small prior: each weight is read as
//! "the chance this flag alone means a scam", and flags are treated as independent pieces of evidence. It is
//! monotone (another flag never lowers the score) and bounded below 1. The model tier replaces it with a
//! calibrated probability and its own thresholds.

use crate::analysis::{Flag, Label};

/// Score of a text with no flags at all: most postings are legitimate.
const PRIOR: f32 = 0.05;

/// Noisy-OR of the flag weights over [`PRIOR`].
pub fn from_flags(flags: &[Flag]) -> f32 {
    let clean = flags.iter().fold(1.0 - PRIOR, |acc, f| acc * (1.0 - f.weight.clamp(0.0, 0.99)));
    1.0 - clean
}

/// The rule flags as log-likelihood-ratio evidence: a flag of weight `w` moves the log-odds from the prior's to
/// `w`'s. The local model adds this to its calibrated log-odds (a naive-Bayes update that treats the rules as
/// independent of the model) because the training data holds too few rule hits for the model to learn what a
/// "pay the training fee" or "send the remaining balance back" is worth.
pub fn rule_evidence(flags: &[Flag]) -> f32 {
    let logit = |p: f32| (p / (1.0 - p)).ln();
    flags.iter().map(|f| logit(f.weight.clamp(0.01, 0.99)) - logit(PRIOR)).sum()
}

/// The uncertainty band: scores at or above `scam` are scams, at or below `legit` legitimate, between them unsure.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    pub legit: f32,
    pub scam: f32,
}

impl Thresholds {
    /// For the rules-only score: one strong flag alone is not enough to call a scam, two are.
    pub const RULES: Thresholds = Thresholds { legit: 0.30, scam: 0.70 };

    pub fn label(&self, score: f32) -> Label {
        if score >= self.scam {
            Label::Scam
        } else if score <= self.legit {
            Label::Legit
        } else {
            Label::Uncertain
        }
    }
}

/// One or two sentences a person reads first.
pub fn summary(label: Label, flags: &[Flag]) -> String {
    let top: Vec<String> = flags.iter().take(3).map(|f| lower_first(&f.title)).collect();
    let reasons = match top.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    match (label, flags.is_empty()) {
        (Label::Scam, true) => "This reads like known job scams, though no single red flag stands out. Do not pay \
                                anything or send documents until you have verified the employer."
            .to_string(),
        (Label::Scam, false) => {
            format!("This looks like a job scam: {reasons}. Do not pay anything or send documents.")
        }
        (Label::Uncertain, true) => "Redflag is not sure about this one. Check the company on its own website before \
                                     you share anything."
            .to_string(),
        (Label::Uncertain, false) => {
            format!("Some warning signs: {reasons}. Verify the company on its own website before you share anything.")
        }
        (Label::Legit, true) => "No red flags found. Still, never pay to get a job.".to_string(),
        (Label::Legit, false) => {
            format!("Mostly fine, with a minor warning sign: {reasons}. Never pay to get a job.")
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(weight: f32) -> Flag {
        Flag { id: "x".into(), title: "X".into(), explanation: "x".into(), weight, evidence: vec![] }
    }

    #[test]
    fn no_flags_scores_the_prior_and_flags_only_raise_it() {
        assert!((from_flags(&[]) - PRIOR).abs() < 1e-6);
        let one = from_flags(&[flag(0.5)]);
        let two = from_flags(&[flag(0.5), flag(0.2)]);
        assert!(PRIOR < one && one < two && two < 1.0, "{one} {two}");
    }

    #[test]
    fn thresholds_make_three_labels() {
        let t = Thresholds::RULES;
        assert_eq!(t.label(0.05), Label::Legit);
        assert_eq!(t.label(0.5), Label::Uncertain);
        assert_eq!(t.label(0.9), Label::Scam);
    }

    #[test]
    fn summary_names_the_top_flags() {
        let flags = [
            Flag { title: "Asks you to pay".into(), ..flag(0.6) },
            Flag { title: "Pays to like products".into(), ..flag(0.6) },
        ];
        let s = summary(Label::Scam, &flags);
        assert!(s.contains("asks you to pay and pays to like products"), "{s}");
    }
}
