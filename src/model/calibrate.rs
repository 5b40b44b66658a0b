//! Turning head logits into a calibrated score with an uncertainty band: Platt scaling (a slope and an offset on
//! the logit, fitted by Newton's method) and the two thresholds that keep the confident verdicts nearly free of
//! mistakes. Both are fitted on predictions the head made for examples it was not trained on, once over all of them
//! and once for each kind of text ([`crate::kind`]) that has enough of both labels to fit on.

use super::{KindCalibration, Platt};
use crate::analysis::{Label, TextKind};
use crate::score::{self, Thresholds};

/// A kind of text gets its own calibration when its out-of-fold predictions hold at least this many examples of
/// each label; below that a slope and an offset would be fitted to noise, and the overall ones serve.
pub const MIN_PER_LABEL: usize = 30;

/// One out-of-fold prediction with what the verdict needs besides the logit.
#[derive(Debug, Clone, Copy)]
pub struct Prediction {
    pub logit: f32,
    pub scam: bool,
    pub kind: TextKind,
    /// The sparse model's logit (0 without one).
    pub sparse: f32,
    /// Log-odds from the rule flags and reassurances ([`score::rule_evidence`], [`score::reassurance_evidence`]).
    pub evidence: f32,
    /// A red flag with evidence fired: without one the verdict is never `scam` ([`score::apply_evidence_rule`]).
    pub visible: bool,
    /// Its source family holds both labels (EMSCAD's postings), so an F1 measured on it is about telling fakes
    /// from real ads, not about how many single-label texts (job boards) happen to sit beside them.
    pub both_labels: bool,
}

/// The fitted calibration: overall, and per kind where a kind has enough data.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub overall: Platt,
    pub thresholds: Thresholds,
    pub kinds: Vec<KindCalibration>,
}

impl Calibration {
    pub fn for_kind(&self, kind: TextKind) -> (Platt, Thresholds) {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .map_or((self.overall, self.thresholds), |k| (k.calibration, k.thresholds))
    }

    /// The verdict and score the analyzer would give this prediction.
    pub fn verdict(&self, p: &Prediction) -> (Label, f32) {
        let (platt, band) = self.for_kind(p.kind);
        let score = platt.apply_with(p.logit, p.sparse, p.evidence);
        score::apply_evidence_rule(band.label(score), score, band, p.visible)
    }
}

/// Fit the overall calibration and band, then each kind's: its own Platt fit when it has [`MIN_PER_LABEL`] of each
/// label, and its own band (at most `max_band` of the kind's inputs inside, counting the flagless texts the evidence
/// rule keeps out of `scam`) when it has any predictions at all.
pub fn fit(predictions: &[Prediction], max_band: f64) -> Calibration {
    let stacked = |own: &[&Prediction]| {
        let logits: Vec<f32> = own.iter().map(|p| p.logit).collect();
        let sparse: Vec<f32> = own.iter().map(|p| p.sparse).collect();
        let labels: Vec<bool> = own.iter().map(|p| p.scam).collect();
        fit_stacked(&logits, &sparse, &labels)
    };
    let labels: Vec<bool> = predictions.iter().map(|p| p.scam).collect();
    let overall = stacked(&predictions.iter().collect::<Vec<_>>());
    let probs: Vec<f32> = predictions.iter().map(|p| overall.apply_with(p.logit, p.sparse, p.evidence)).collect();
    let visible: Vec<bool> = predictions.iter().map(|p| p.visible).collect();
    let thresholds = choose_band(&probs, &labels, &visible, max_band);
    let kinds = TextKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let own: Vec<&Prediction> = predictions.iter().filter(|p| p.kind == kind).collect();
            if own.is_empty() {
                return None;
            }
            let scams = own.iter().filter(|p| p.scam).count();
            let labels: Vec<bool> = own.iter().map(|p| p.scam).collect();
            let mut calibration =
                if scams >= MIN_PER_LABEL && own.len() - scams >= MIN_PER_LABEL { stacked(&own) } else { overall };
            if kind == TextKind::Posting {
                calibration.b += operating_shift(&own, calibration);
            }
            let probs: Vec<f32> = own.iter().map(|p| calibration.apply_with(p.logit, p.sparse, p.evidence)).collect();
            let visible: Vec<bool> = own.iter().map(|p| p.visible).collect();
            let thresholds = choose_band(&probs, &labels, &visible, max_band);
            Some(KindCalibration { kind, calibration, thresholds })
        })
        .collect();
    Calibration { overall, thresholds, kinds }
}

/// Platt scaling by Newton's method on the log loss, with Platt's smoothed targets so separable predictions do not
/// push the slope to infinity.
pub fn fit_platt(logits: &[f32], labels: &[bool]) -> Platt {
    fit_stacked(logits, &vec![0.0; logits.len()], labels)
}

/// Platt scaling over two logits, the dense head's and the sparse model's (`sparse`, all zero without one): a
/// logistic regression `sigmoid(a * logit + c * sparse + b)` by Newton's method, with Platt's smoothed targets and
/// a whisker of ridge so a sparse column of zeros leaves `c` at 0 instead of making the system singular.
pub fn fit_stacked(logits: &[f32], sparse: &[f32], labels: &[bool]) -> Platt {
    const RIDGE: f64 = 1e-6;
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
    let rows: Vec<([f64; 3], f64)> = logits
        .iter()
        .zip(sparse)
        .zip(labels)
        .map(|((z, s), l)| ([f64::from(*z), f64::from(*s), 1.0], if *l { hi } else { lo }))
        .collect();
    // The penalised log loss, computed stably (log(1 + e^z) without overflow).
    let loss = |theta: &[f64; 3]| -> f64 {
        let softplus = |z: f64| if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
        let data: f64 = rows
            .iter()
            .map(|(x, t)| {
                let z = theta[0] * x[0] + theta[1] * x[1] + theta[2];
                softplus(z) - t * z
            })
            .sum();
        data + 0.5 * RIDGE * (theta[0] * theta[0] + theta[1] * theta[1])
    };
    // Parameters in the order (a, c, b).
    let mut theta = [1.0f64, 0.0, 0.0];
    let mut current = loss(&theta);
    for _ in 0..100 {
        let mut grad = [theta[0] * RIDGE, theta[1] * RIDGE, 0.0];
        let mut hess = [[RIDGE, 0.0, 0.0], [0.0, RIDGE, 0.0], [0.0, 0.0, 1e-9]];
        for (x, t) in &rows {
            let p = 1.0 / (1.0 + (-(theta[0] * x[0] + theta[1] * x[1] + theta[2])).exp());
            let w = p * (1.0 - p);
            for i in 0..3 {
                grad[i] += (p - t) * x[i];
                for j in 0..3 {
                    hess[i][j] += w * x[i] * x[j];
                }
            }
        }
        let Some(step) = solve3(hess, grad) else { break };
        // Damped Newton: halve the step until the loss falls. Far-apart logits (a sparse model sure of its
        // training words) make the plain step overshoot, and one overshoot flipped a fold's calibration.
        let mut scale = 1.0;
        let mut next = theta;
        let mut improved = false;
        for _ in 0..30 {
            next = [theta[0] - scale * step[0], theta[1] - scale * step[1], theta[2] - scale * step[2]];
            let l = loss(&next);
            if l.is_finite() && l <= current {
                current = l;
                improved = true;
                break;
            }
            scale /= 2.0;
        }
        if !improved {
            break;
        }
        let moved = step.iter().map(|d| (d * scale).abs()).sum::<f64>();
        theta = next;
        if moved < 1e-9 {
            break;
        }
    }
    Platt { a: theta[0] as f32, b: theta[2] as f32, c: theta[1] as f32 }
}

/// `m x = v` for a symmetric positive-definite 3x3 `m`, by Cramer's rule; None when `m` is singular.
fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-18 {
        return None;
    }
    let mut x = [0.0; 3];
    for (k, out) in x.iter_mut().enumerate() {
        let mut mk = m;
        for r in 0..3 {
            mk[r][k] = v[r];
        }
        *out = det(mk) / d;
    }
    Some(x)
}

/// The uncertainty band: among thresholds on a 0.01 grid whose band holds at most `max_band` of the inputs, the
/// one with the fewest confident mistakes (ties: the narrower band). A text without a visible red flag
/// (`visible[i]` false) above the scam threshold is `uncertain`, as the analyzer labels it, so it counts in the band.
///
/// The scam threshold stays at or above [`MIN_SCAM_THRESHOLD`]: below it "scam" would mean "more likely than not",
/// too weak a word for a verdict. When flagless texts alone overfill the band (a kind where most scams give no rule
/// a hold), no pair meets `max_band`; then the pair with the lowest cost wins, a confident mistake costing
/// [`MISTAKE_COST`] escalations.
pub fn choose_band(probs: &[f32], labels: &[bool], visible: &[bool], max_band: f64) -> Thresholds {
    let n = probs.len() as f64;
    let mut best = (usize::MAX, usize::MAX, Thresholds { legit: 0.5, scam: 0.9 });
    let mut cheapest = (usize::MAX, Thresholds { legit: 0.5, scam: 0.9 });
    let lowest_scam = (MIN_SCAM_THRESHOLD * 100.0).round() as usize;
    for lo in 1..=50 {
        for hi in lowest_scam..=99 {
            let (legit, scam) = (lo as f32 / 100.0, hi as f32 / 100.0);
            let (mut in_band, mut mistakes) = (0usize, 0usize);
            for ((p, l), v) in probs.iter().zip(labels).zip(visible) {
                if (*p > legit && *p < scam) || (*p >= scam && !*v) {
                    in_band += 1;
                } else if (*p >= scam) != *l {
                    mistakes += 1;
                }
            }
            let cost = MISTAKE_COST * mistakes + in_band;
            if cost < cheapest.0 {
                cheapest = (cost, Thresholds { legit, scam });
            }
            if in_band as f64 / n <= max_band && (mistakes, in_band) < (best.0, best.1) {
                best = (mistakes, in_band, Thresholds { legit, scam });
            }
        }
    }
    if best.0 == usize::MAX { cheapest.1 } else { best.2 }
}

/// The most a posting's operating point may move the log-odds, either way.
const MAX_SHIFT: f32 = 2.0;
/// The share of the job boards' postings that may score 0.5 or more at the chosen operating point: the
/// board-posting false-positive target is 1 %, and a fifth of it is left as margin for boards unlike the folds.
const MAX_POSTING_FPR: f64 = 0.008;

/// Postings get an operating point: a shift of the calibrated log-odds, chosen on the out-of-fold predictions, that
/// makes 0.5 the threshold with the best F1 on the postings of families with both labels (EMSCAD's fakes against
/// its real ads) while at most [`MAX_POSTING_FPR`] of the legitimate postings of single-label families (the job
/// boards) reach it. The two populations answer different questions: EMSCAD's real and fake ads come from one
/// source, so its F1 weighs missed fakes against false alarms on ads written the same way; the boards say how often
/// an ordinary posting is called a scam. Mixing them let the boards' count decide both (the F1 over every posting
/// is mostly the boards' legitimate ads, and EMSCAD's hard real ads used up the false-positive budget).
///
/// Calibrated on a kind where job boards outnumber fakes 25 to 1, a fake posting that reads like a real one rarely
/// reaches 0.5 (out of fold, half of EMSCAD's frauds stayed below it); a person pasting a posting into a scam
/// checker is already suspicious of it, and 0.5 is where "more likely a scam than not" is read. Messages keep their
/// calibration: their false alarms are what the band and the evidence rule exist to prevent, and a shift that
/// trades them for recall would undo that.
fn operating_shift(own: &[&Prediction], platt: Platt) -> f32 {
    // Without a family of both labels (a corpus of postings from one source), F1 and false positives are every
    // posting's.
    let mixed = own.iter().any(|p| p.both_labels);
    // F1 on the families with both labels; the false-positive bound on the legitimate postings of the others.
    let scored = |p: &Prediction| !mixed || p.both_labels;
    let bounded = |p: &Prediction| !p.scam && (!mixed || !p.both_labels);
    let legit = own.iter().filter(|p| bounded(p)).count().max(1) as f64;
    let mut best = (f64::MIN, 0.0f32);
    for step in -20..=20 {
        let shift = step as f32 * MAX_SHIFT / 20.0;
        let (mut tp, mut fp, mut fn_, mut board_fp) = (0usize, 0usize, 0usize, 0usize);
        for p in own {
            let score = platt.apply_with(p.logit, p.sparse, p.evidence + shift);
            board_fp += usize::from(score >= 0.5 && bounded(p));
            if !scored(p) {
                continue;
            }
            match (score >= 0.5, p.scam) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                (false, false) => {}
            }
        }
        if board_fp as f64 / legit > MAX_POSTING_FPR {
            continue;
        }
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64;
        // Ties go to the smaller shift: the calibration is changed no more than the F1 needs.
        if f1 > best.0 + 1e-9 || ((f1 - best.0).abs() <= 1e-9 && shift.abs() < best.1.abs()) {
            best = (f1, shift);
        }
    }
    best.1
}

/// The lowest score a `scam` verdict may need.
pub const MIN_SCAM_THRESHOLD: f32 = 0.6;

/// How many escalations one confident mistake is worth when the band cannot be kept small.
const MISTAKE_COST: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_recovers_a_known_slope() {
        // Labels drawn so that P(scam | z) = sigmoid(2z - 1) exactly on a grid.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in -30..=30 {
            let z = i as f32 / 10.0;
            let p = 1.0 / (1.0 + (-(2.0 * z - 1.0)).exp());
            let positives = (p * 100.0).round() as usize;
            for k in 0..100 {
                logits.push(z);
                labels.push(k < positives);
            }
        }
        let platt = fit_platt(&logits, &labels);
        assert!((platt.a - 2.0).abs() < 0.05 && (platt.b + 1.0).abs() < 0.05, "{platt:?}");
    }

    #[test]
    fn stacking_weighs_the_informative_logit_and_survives_extreme_ones() {
        // Labels follow the sparse logit; the head's logit is noise, and a few sparse logits are absurdly large.
        let (mut logits, mut sparse, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..2000 {
            let s = (i % 41) as f32 / 4.0 - 5.0;
            let noise = ((i * 7919) % 13) as f32 / 6.0 - 1.0;
            let p = 1.0 / (1.0 + (-(1.5 * s)).exp());
            let extreme = if i % 97 == 0 { 40.0 * s.signum() } else { s };
            logits.push(noise);
            sparse.push(extreme);
            labels.push(((i * 104_729) % 1000) as f32 / 1000.0 < p);
        }
        let platt = fit_stacked(&logits, &sparse, &labels);
        assert!(platt.c > 0.5, "{platt:?}");
        assert!(platt.a.abs() < platt.c, "{platt:?}");
        assert!(platt.a.is_finite() && platt.b.is_finite() && platt.c.is_finite());
    }

    #[test]
    fn band_respects_its_size_limit_and_covers_the_mistakes() {
        let probs = [0.01, 0.02, 0.4, 0.45, 0.55, 0.6, 0.97, 0.99];
        let labels = [false, false, true, false, true, false, true, true];
        let seen = [true; 8];
        let t = choose_band(&probs, &labels, &seen, 0.5);
        assert!(t.legit < 0.4 && t.scam > 0.6, "{t:?}");
        let narrow = choose_band(&probs, &labels, &seen, 0.0);
        assert!((narrow.scam - narrow.legit) < 0.6, "{narrow:?}");
    }
}
