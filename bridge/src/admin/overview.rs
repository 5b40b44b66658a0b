//! The console's overview: what an operator checks first. Traffic, the queue and spend come from the stores (every
//! node's); verdicts, escalations, receipt-to-reply latency and delivery failures come from this node's metrics
//! since it started (what Prometheus would scrape), read back from the exporter's own text.
//!
//! The metrics are read back from the exporter's text ([`crate::metrics::samples`]): it offers no typed reads, and
//! a second set of counters kept beside it could disagree with what Prometheus sees.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics as m;
use crate::queue::{BridgeStore, QueueError};

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Serialize)]
pub struct Overview {
    pub generated_at_ms: i64,
    pub queue: QueueNow,
    /// The last 24 hours, an entry per hour (zeros included), oldest first: `(hour start in Unix ms, messages)`.
    pub received_per_hour: Vec<(i64, u64)>,
    pub spend: Spend,
    /// This node since it started.
    pub this_node: NodeCounts,
}

#[derive(Debug, Serialize)]
pub struct QueueNow {
    pub pending: u64,
    pub oldest_age_secs: f64,
    pub review: u64,
}

#[derive(Debug, Serialize)]
pub struct Spend {
    pub today_usd: f64,
    pub month_usd: f64,
    pub day_cap_usd: Option<f64>,
    pub month_cap_usd: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct NodeCounts {
    /// Verdicts by label.
    pub verdicts: BTreeMap<String, f64>,
    /// Escalation attempts by status.
    pub escalations: BTreeMap<String, f64>,
    /// Escalations per verdict.
    pub escalation_rate: Option<f64>,
    pub reply_latency_p50_secs: Option<f64>,
    pub reply_latency_p95_secs: Option<f64>,
    /// Reply parts that failed or went to review, by provider error code.
    pub delivery_failures: BTreeMap<String, f64>,
    /// Providers whose sending is paused now (they refused the credentials).
    pub sending_paused: Vec<String>,
}

/// Gather the overview at `now_ms`; `metrics` is this node's rendered `/metrics` page, if it has a recorder.
pub fn gather(
    store: &dyn BridgeStore,
    spent: redflag::store::Spent,
    caps: (Option<f64>, Option<f64>),
    metrics: Option<&str>,
    now_ms: i64,
) -> Result<Overview, QueueError> {
    let depth = store.depth(now_ms)?;
    let first_hour = (now_ms / HOUR_MS - 23) * HOUR_MS;
    let counted: BTreeMap<i64, u64> = store.received_per_hour(first_hour)?.into_iter().collect();
    let received_per_hour =
        (0..24).map(|i| first_hour + i * HOUR_MS).map(|h| (h, counted.get(&h).copied().unwrap_or(0))).collect();
    Ok(Overview {
        generated_at_ms: now_ms,
        queue: QueueNow {
            pending: depth.pending,
            oldest_age_secs: depth.oldest_age_ms as f64 / 1000.0,
            review: depth.review,
        },
        received_per_hour,
        spend: Spend {
            today_usd: spent.day_usd,
            month_usd: spent.month_usd,
            day_cap_usd: caps.0,
            month_cap_usd: caps.1,
        },
        this_node: metrics.map(node_counts).unwrap_or_default(),
    })
}

fn node_counts(text: &str) -> NodeCounts {
    let mut c = NodeCounts::default();
    // Cumulative bucket counts by upper bound, summed over channels.
    let mut buckets: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for s in m::samples(text) {
        match s.name {
            n if n == m::VERDICTS => *c.verdicts.entry(s.label("label").into()).or_default() += s.value,
            n if n == m::ESCALATIONS => *c.escalations.entry(s.label("status").into()).or_default() += s.value,
            n if n == m::REPLIES && matches!(s.label("outcome"), "failed" | "review") => {
                let code = match s.label("code") {
                    "" => "none",
                    code => code,
                };
                *c.delivery_failures.entry(code.into()).or_default() += s.value;
            }
            n if n == m::SENDING_PAUSED && s.value > 0.0 => c.sending_paused.push(s.label("provider").into()),
            n if n.strip_suffix("_bucket") == Some(m::REPLY_SECONDS) => {
                let le = s.label("le");
                let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
                buckets.entry(le.into()).or_insert((bound, 0.0)).1 += s.value;
            }
            _ => {}
        }
    }
    let verdicts: f64 = c.verdicts.values().sum();
    let escalated: f64 = c.escalations.values().sum();
    c.escalation_rate = (verdicts > 0.0).then(|| escalated / verdicts);
    let mut sorted: Vec<(f64, f64)> = buckets.into_values().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    c.reply_latency_p50_secs = quantile(&sorted, 0.5);
    c.reply_latency_p95_secs = quantile(&sorted, 0.95);
    c
}

/// The upper bound of the bucket holding quantile `q` (what `histogram_quantile` would interpolate within):
/// `None` without observations; the largest finite bound when it falls in `+Inf`.
pub(crate) fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let hit = buckets.iter().find(|(_, count)| *count >= q * total)?;
    if hit.0.is_finite() { Some(hit.0) } else { buckets.iter().rev().map(|b| b.0).find(|b| b.is_finite()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporters_text_becomes_counts_and_latency_quantiles() {
        let text = "\
# TYPE redflag_bridge_verdicts_total counter
redflag_bridge_verdicts_total{channel=\"whatsapp\",label=\"scam\"} 3
redflag_bridge_verdicts_total{channel=\"sms\",label=\"scam\"} 1
redflag_bridge_verdicts_total{channel=\"sms\",label=\"legit\"} 4
redflag_bridge_escalations_total{status=\"answered\"} 2
redflag_bridge_replies_total{channel=\"whatsapp\",outcome=\"sent\",code=\"\"} 7
redflag_bridge_replies_total{channel=\"whatsapp\",outcome=\"review\",code=\"63016\"} 2
redflag_bridge_replies_total{channel=\"sms\",outcome=\"failed\",code=\"\"} 1
redflag_bridge_sending_paused{provider=\"twilio\"} 1
redflag_bridge_sending_paused{provider=\"telegram\"} 0
redflag_bridge_reply_latency_seconds_bucket{channel=\"whatsapp\",le=\"1\"} 2
redflag_bridge_reply_latency_seconds_bucket{channel=\"whatsapp\",le=\"5\"} 9
redflag_bridge_reply_latency_seconds_bucket{channel=\"whatsapp\",le=\"+Inf\"} 10
redflag_bridge_reply_latency_seconds_bucket{channel=\"sms\",le=\"1\"} 0
redflag_bridge_reply_latency_seconds_bucket{channel=\"sms\",le=\"5\"} 0
redflag_bridge_reply_latency_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 0
";
        let c = node_counts(text);
        assert_eq!(c.verdicts.get("scam"), Some(&4.0));
        assert_eq!(c.escalation_rate, Some(0.25));
        assert_eq!(c.delivery_failures.get("63016"), Some(&2.0));
        assert_eq!(c.delivery_failures.get("none"), Some(&1.0));
        assert_eq!(c.sending_paused, ["twilio"]);
        assert_eq!((c.reply_latency_p50_secs, c.reply_latency_p95_secs), (Some(5.0), Some(5.0)));
        assert_eq!(node_counts("").reply_latency_p50_secs, None);
    }
}
