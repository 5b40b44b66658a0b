//! Merging the LLM's verdict into the local analysis. The LLM decides the label and score of the inputs it was
//! asked about (the local tiers were unsure by construction); the local red flags stay, and the LLM's reasons are
//! kept beside them with their quotes located in the person's own text.

use crate::analysis::{Analysis, EscalationStatus, Evidence, Label, Reason, SecondOpinion, Tier};
use crate::llm::LlmVerdict;
use crate::redact::Redacted;

/// Merge `verdict` (from `model`, costing `cost_usd`) into `a`; `redacted` is the text that was sent, used to map
/// the LLM's quotes back into `a.text`.
pub fn merge(
    a: &mut Analysis,
    verdict: &LlmVerdict,
    model: &str,
    cost_usd: f64,
    redacted: &Redacted,
    status: EscalationStatus,
) {
    let text = a.text.as_deref().unwrap_or_default();
    let reasons: Vec<Reason> = verdict
        .reasons
        .iter()
        .map(|r| Reason {
            reason: r.reason.clone(),
            quote: r.quote.clone(),
            evidence: r.quote.as_deref().and_then(|q| locate(q, redacted, text)),
        })
        .collect();
    let score = (verdict.score.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0;
    // The LLM decides, but a `scam` nobody can point at in the text (no red flag, no quote of the LLM's found in
    // it) is at most `uncertain`, as for the local tiers. Its probability stays as the LLM gave it.
    let visible = a.flags.iter().any(|f| !f.evidence.is_empty()) || reasons.iter().any(|r| r.evidence.is_some());
    let label = if verdict.label == Label::Scam && !visible { Label::Uncertain } else { verdict.label };
    a.label = label;
    a.score = score;
    a.tier_scores.llm = Some(score);
    if !a.tiers.contains(&Tier::Llm) {
        a.tiers.push(Tier::Llm);
    }
    a.summary = crate::score::summary(label, score, &a.flags, &a.reassurances, a.kind);
    if let Some(first) = reasons.first() {
        a.summary.push_str(&format!(" Second opinion: {}.", first.reason.trim_end_matches('.')));
    }
    a.escalation.status = Some(status);
    a.escalation.outcome = Some(match status {
        EscalationStatus::CachedExact => format!("{model} answered this same text before; its verdict was reused"),
        EscalationStatus::CachedNear => {
            format!("{model} answered a near-identical text before; its verdict was reused")
        }
        _ => format!("asked {model} (${cost_usd:.5})"),
    });
    a.llm = Some(SecondOpinion { model: model.to_string(), label: verdict.label, score, reasons, cost_usd });
    a.refresh_advice();
}

/// Where a quote of the redacted text sits in the original: found exactly, or ignoring ASCII case, in the redacted
/// text, then mapped back through the redaction.
fn locate(quote: &str, redacted: &Redacted, text: &str) -> Option<Evidence> {
    let quote = quote.trim();
    if quote.is_empty() {
        return None;
    }
    let start =
        redacted.text.find(quote).or_else(|| redacted.text.to_ascii_lowercase().find(&quote.to_ascii_lowercase()))?;
    let range = redacted.to_original(start..start + quote.len());
    let snippet = text.get(range.clone())?.to_string();
    Some(Evidence::new(range.start, range.end, snippet))
}
