//! Turning head logits into a calibrated score with an uncertainty band: Platt scaling (a slope and an offset on
//! the logit, fitted by Newton's method) and the two thresholds that keep the confident verdicts nearly free of
//! mistakes. Both are fitted on predictions the head made for examples it was not trained on.

use super::Platt;
use crate::score::Thresholds;

/// Platt scaling by Newton's method on the log loss, with Platt's smoothed targets so separable predictions do not
/// push the slope to infinity.
pub fn fit_platt(logits: &[f32], labels: &[bool]) -> Platt {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (z, l) in logits.iter().zip(labels) {
            let z = f64::from(*z);
            let p = 1.0 / (1.0 + (-(a * z + b)).exp());
            let t = if *l { hi } else { lo };
            let w = p * (1.0 - p);
            ga += (p - t) * z;
            gb += p - t;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    Platt { a: a as f32, b: b as f32 }
}

/// The uncertainty band: among thresholds on a 0.01 grid whose band holds at most `max_band` of the inputs, the
/// one with the fewest confident mistakes (ties: the narrower band).
pub fn choose_band(probs: &[f32], labels: &[bool], max_band: f64) -> Thresholds {
    let n = probs.len() as f64;
    let mut best = (usize::MAX, usize::MAX, Thresholds { legit: 0.5, scam: 0.5 });
    for lo in 1..=50 {
        for hi in 50..=99 {
            let (legit, scam) = (lo as f32 / 100.0, hi as f32 / 100.0);
            let (mut in_band, mut mistakes) = (0usize, 0usize);
            for (p, l) in probs.iter().zip(labels) {
                if *p > legit && *p < scam {
                    in_band += 1;
                } else if (*p >= scam) != *l {
                    mistakes += 1;
                }
            }
            if in_band as f64 / n <= max_band && (mistakes, in_band) < (best.0, best.1) {
                best = (mistakes, in_band, Thresholds { legit, scam });
            }
        }
    }
    best.2
}

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
    fn band_respects_its_size_limit_and_covers_the_mistakes() {
        let probs = [0.01, 0.02, 0.4, 0.45, 0.55, 0.6, 0.97, 0.99];
        let labels = [false, false, true, false, true, false, true, true];
        let t = choose_band(&probs, &labels, 0.5);
        assert!(t.legit < 0.4 && t.scam > 0.6, "{t:?}");
        let narrow = choose_band(&probs, &labels, 0.0);
        assert!((narrow.scam - narrow.legit) < 0.6, "{narrow:?}");
    }
}
