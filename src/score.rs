//! From flags to a score, a label and a sentence.
//!
//! Without the local model, the score is a noisy-OR of the flag weights over a small prior: each weight is read as
//! "the chance this flag alone means a scam", and flags are treated as independent pieces of evidence. It is
//! monotone (another flag never lowers the score) and bounded below 1. The model tier replaces it with a
//! calibrated probability and its own thresholds.

use crate::analysis::{Flag, Label, Reassurance, TextKind};

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

/// The most log-odds reassurance may take off together (about 1 in 150): enough to overrule a model that finds a
/// payslip notice's wording scammy, not enough to make any text certain.
pub const REASSURANCE_CAP: f32 = 5.0;

/// Reassuring signals as log-odds evidence, the mirror image of [`rule_evidence`]: a signal of weight `w` ("the
/// chance this alone means a legitimate text") moves the log-odds down by `logit(w)`. It counts only when no red
/// flag fired, so a scam that copies an employer's wording but asks for a deposit is judged on the deposit.
pub fn reassurance_evidence(flags: &[Flag], reassurances: &[Reassurance]) -> f32 {
    if !flags.is_empty() {
        return 0.0;
    }
    let logit = |p: f32| (p / (1.0 - p)).ln();
    let total: f32 = reassurances.iter().map(|r| logit(r.weight.clamp(0.5, 0.99))).sum();
    -total.min(REASSURANCE_CAP)
}

/// The score without a model: the noisy-OR of the flags, lowered by reassurance when no flag fired.
pub fn rules_only(flags: &[Flag], reassurances: &[Reassurance]) -> f32 {
    let p = from_flags(flags);
    let z = (p / (1.0 - p)).ln() + reassurance_evidence(flags, reassurances);
    1.0 / (1.0 + (-z).exp())
}

/// A `scam` label needs evidence the person can see (`visible`: a red flag quoted in their text, or a located
/// quote of the LLM's). Without it the verdict is at most `uncertain`, and the score stays just under the scam
/// threshold so that number and label agree: "the wording resembles known scams" is a reason to check, not a
/// verdict.
pub fn apply_evidence_rule(label: Label, score: f32, thresholds: Thresholds, visible: bool) -> (Label, f32) {
    if label == Label::Scam && !visible {
        (Label::Uncertain, score.min(thresholds.scam - 0.01).max(thresholds.legit + 0.01))
    } else {
        (label, score)
    }
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

/// One or two sentences a person reads first. `kind` names the text ("this message"); `reassurances` are listed
/// only when they counted (no red flag fired).
pub fn summary(label: Label, score: f32, flags: &[Flag], reassurances: &[Reassurance], kind: TextKind) -> String {
    let titles = |titles: Vec<&str>| {
        let top: Vec<String> = titles.into_iter().take(3).map(lower_first).collect();
        match top.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    };
    let reasons = titles(flags.iter().map(|f| f.title.as_str()).collect());
    let why_fine = titles(reassurances.iter().map(|r| r.title.as_str()).collect());
    let noun = kind.noun();
    match (label, flags.is_empty()) {
        // Only an LLM's located quote can make a flagless text a scam (see `apply_evidence_rule`).
        (Label::Scam, true) => format!(
            "This {noun} looks like a scam to the second opinion; its reasons are quoted below. Do not pay anything \
             or send documents until you have verified the sender."
        ),
        (Label::Scam, false) => {
            format!("This looks like a job scam: {reasons}. Do not pay anything or send documents.")
        }
        (Label::Uncertain, true) if score >= 0.5 => format!(
            "The wording of this {noun} resembles known scams, but Redflag found no specific warning sign in it. \
             Check who sent it: look the company up yourself and contact it through its own website or app, and do \
             not pay or send documents until you have."
        ),
        (Label::Uncertain, true) => format!(
            "Redflag is not sure about this {noun}: it found no specific warning sign, and nothing that clearly \
             marks it as genuine either. Check who sent it through the company's own website or app before you \
             share anything."
        ),
        (Label::Uncertain, false) => {
            format!("Some warning signs: {reasons}. Verify the company on its own website before you share anything.")
        }
        (Label::Legit, true) if !why_fine.is_empty() => {
            format!("No red flags found, and it looks legitimate: {why_fine}. Still, never pay to get a job.")
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

    fn reassurance(weight: f32) -> Reassurance {
        Reassurance { id: "r".into(), title: "R".into(), explanation: "r".into(), weight, evidence: vec![] }
    }

    #[test]
    fn a_scam_verdict_needs_visible_evidence() {
        // Issue #16: a high score with no red flag is at most `uncertain`, and its score stays inside the band.
        let band = Thresholds { legit: 0.1, scam: 0.9 };
        assert_eq!(apply_evidence_rule(Label::Scam, 0.99, band, true), (Label::Scam, 0.99));
        let (label, score) = apply_evidence_rule(Label::Scam, 0.99, band, false);
        assert_eq!(label, Label::Uncertain);
        assert!(score < band.scam && score > band.legit, "{score}");
        assert_eq!(band.label(score), Label::Uncertain);
        for label in [Label::Legit, Label::Uncertain] {
            assert_eq!(apply_evidence_rule(label, 0.5, band, false), (label, 0.5));
        }
    }

    #[test]
    fn reassurance_counts_only_without_red_flags_and_is_capped() {
        let r = [reassurance(0.9)];
        assert!(reassurance_evidence(&[], &r) < -2.0);
        assert_eq!(reassurance_evidence(&[flag(0.2)], &r), 0.0, "any red flag silences reassurance");
        let many = vec![reassurance(0.99); 10];
        assert!((reassurance_evidence(&[], &many) + REASSURANCE_CAP).abs() < 1e-6);
        // Without a model, reassurance lowers the rules-only score below the prior; a flag keeps its noisy-OR.
        assert!(rules_only(&[], &r) < PRIOR);
        assert!((rules_only(&[flag(0.6)], &r) - from_flags(&[flag(0.6)])).abs() < 1e-6);
    }

    #[test]
    fn summaries_say_what_the_verdict_rests_on() {
        let model_only = summary(Label::Uncertain, 0.8, &[], &[], TextKind::Email);
        assert!(model_only.contains("resembles known scams"), "{model_only}");
        assert!(model_only.contains("no specific warning sign"), "{model_only}");
        assert!(model_only.contains("e-mail"), "{model_only}");
        let low = summary(Label::Uncertain, 0.3, &[], &[], TextKind::Chat);
        assert!(low.contains("no specific warning sign") && !low.contains("resembles"), "{low}");
        let fine = summary(
            Label::Legit,
            0.02,
            &[],
            &[Reassurance { title: "Sent through Workday".into(), ..reassurance(0.9) }],
            TextKind::Notification,
        );
        assert!(fine.contains("looks legitimate: sent through Workday"), "{fine}");
    }

    #[test]
    fn summary_names_the_top_flags() {
        let flags = [
            Flag { title: "Asks you to pay".into(), ..flag(0.6) },
            Flag { title: "Pays to like products".into(), ..flag(0.6) },
        ];
        let s = summary(Label::Scam, 0.95, &flags, &[], TextKind::Chat);
        assert!(s.contains("asks you to pay and pays to like products"), "{s}");
    }
}
