//! Evaluation measures for the fraud class: precision, recall, F1, PR-AUC (average precision), ROC-AUC, expected
//! calibration error, and how many inputs fall in the uncertainty band. Never plain accuracy: most postings are
//! legitimate, so accuracy rewards a model that flags nothing.

use serde::Serialize;

use crate::analysis::Label;
use crate::score::Thresholds;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub positives: usize,
    /// At the 0.5 threshold on the calibrated score.
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// False-positive rate at 0.5: legitimate inputs scored as scams.
    pub fpr: f64,
    pub pr_auc: f64,
    pub roc_auc: f64,
    pub ece: f64,
    /// Share of inputs inside the uncertainty band (escalated when an LLM is configured).
    pub escalation_rate: f64,
    /// Precision and recall of the confident `scam` label alone (outside the band).
    pub decided_precision: f64,
    pub decided_recall: f64,
    /// Legitimate inputs confidently labelled `scam`, over all legitimate inputs.
    pub decided_fpr: f64,
    /// Legitimate inputs labelled `legit`, over all legitimate inputs: what a person sees as "looks legitimate".
    pub legit_label_rate: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

/// Measures with the verdicts a band gives the scores (one band for every input).
pub fn compute(scores: &[f32], labels: &[bool], band: Thresholds) -> Metrics {
    let verdicts: Vec<Label> = scores.iter().map(|s| band.label(*s)).collect();
    compute_labelled(scores, labels, &verdicts)
}

/// Measures with each input's own verdict (`verdicts`), as the analyzer gave it: bands differ by kind of text, and
/// a flagless text is never `scam`.
pub fn compute_labelled(scores: &[f32], labels: &[bool], verdicts: &[Label]) -> Metrics {
    let n = scores.len();
    let positives = labels.iter().filter(|l| **l).count();
    let count = |pred: &dyn Fn(f32) -> bool, want: bool| {
        scores.iter().zip(labels).filter(|(s, l)| pred(**s) && **l == want).count()
    };
    let at_half = |s: f32| s >= 0.5;
    let (tp, fp) = (count(&at_half, true), count(&at_half, false));
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, positives);
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    let with_verdict = |verdict: Label, want: Option<bool>| {
        verdicts.iter().zip(labels).filter(|(v, l)| **v == verdict && want.is_none_or(|w| **l == w)).count()
    };
    let (dtp, dfp) = (with_verdict(Label::Scam, Some(true)), with_verdict(Label::Scam, Some(false)));
    let in_band = with_verdict(Label::Uncertain, None);
    Metrics {
        n,
        positives,
        precision,
        recall,
        f1,
        fpr: ratio(fp, n - positives),
        pr_auc: average_precision(scores, labels),
        roc_auc: roc_auc(scores, labels),
        ece: expected_calibration_error(scores, labels, 10),
        escalation_rate: ratio(in_band, n),
        decided_precision: ratio(dtp, dtp + dfp),
        decided_recall: ratio(dtp, positives),
        decided_fpr: ratio(dfp, n - positives),
        legit_label_rate: ratio(with_verdict(Label::Legit, Some(false)), n - positives),
    }
}

/// Indices sorted by score, highest first.
fn by_score_desc(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Points of the precision-recall curve, one per distinct score, as (recall, precision).
pub fn pr_curve(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|l| **l).count();
    let order = by_score_desc(scores);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut points = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1
        } else {
            fp += 1
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            points.push((ratio(tp, positives), ratio(tp, tp + fp)));
        }
    }
    points
}

/// Average precision: the area under the step-wise precision-recall curve, ties counted together.
pub fn average_precision(scores: &[f32], labels: &[bool]) -> f64 {
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    for (recall, precision) in pr_curve(scores, labels) {
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    ap
}

/// ROC-AUC as the Mann-Whitney statistic with average ranks for ties.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> f64 {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < order.len() {
        let mut end = k;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[k]] {
            end += 1;
        }
        let average_rank = (k + end) as f64 / 2.0 + 1.0;
        rank_sum += order[k..=end].iter().filter(|&&i| labels[i]).count() as f64 * average_rank;
        k = end + 1;
    }
    (rank_sum - (positives * (positives + 1)) as f64 / 2.0) / (positives * negatives) as f64
}

/// Reliability bins: (mean predicted probability, observed fraction of scams, count) for equal-width bins.
pub fn reliability(scores: &[f32], labels: &[bool], bins: usize) -> Vec<(f64, f64, usize)> {
    let mut sums = vec![(0.0f64, 0usize, 0usize); bins];
    for (s, l) in scores.iter().zip(labels) {
        let b = ((*s as f64 * bins as f64) as usize).min(bins - 1);
        sums[b].0 += *s as f64;
        sums[b].1 += usize::from(*l);
        sums[b].2 += 1;
    }
    sums.into_iter().filter(|b| b.2 > 0).map(|(sum, pos, n)| (sum / n as f64, pos as f64 / n as f64, n)).collect()
}

pub fn expected_calibration_error(scores: &[f32], labels: &[bool], bins: usize) -> f64 {
    let n = scores.len() as f64;
    reliability(scores, labels, bins).iter().map(|(conf, acc, count)| *count as f64 / n * (acc - conf).abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_ranking_scores_one() {
        let scores = [0.9, 0.8, 0.2, 0.1];
        let labels = [true, true, false, false];
        assert!((average_precision(&scores, &labels) - 1.0).abs() < 1e-12);
        assert!((roc_auc(&scores, &labels) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn known_values() {
        // sklearn: average_precision_score([1,0,1,0],[0.9,0.8,0.7,0.1]) = 0.8333..., roc_auc_score = 0.75
        let scores = [0.9, 0.8, 0.7, 0.1];
        let labels = [true, false, true, false];
        assert!((average_precision(&scores, &labels) - 5.0 / 6.0).abs() < 1e-12);
        assert!((roc_auc(&scores, &labels) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn ties_are_counted_together() {
        let scores = [0.5, 0.5];
        let labels = [true, false];
        assert!((roc_auc(&scores, &labels) - 0.5).abs() < 1e-12);
        assert!((average_precision(&scores, &labels) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn calibration_error_is_zero_when_frequencies_match() {
        let scores = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let labels = [true, false, false, false, true, true, true, false];
        assert!(expected_calibration_error(&scores, &labels, 10) < 1e-9);
    }

    #[test]
    fn band_and_thresholded_counts() {
        let m = compute(&[0.95, 0.6, 0.4, 0.05], &[true, true, false, false], Thresholds { legit: 0.2, scam: 0.8 });
        assert_eq!((m.n, m.positives), (4, 2));
        assert!((m.precision - 1.0).abs() < 1e-12 && (m.recall - 1.0).abs() < 1e-12);
        assert!((m.escalation_rate - 0.5).abs() < 1e-12);
        assert!((m.decided_recall - 0.5).abs() < 1e-12);
    }
}
