//! Prometheus metrics: names in one place, and the recorder installed once per process.
//!
//! Labels are small closed sets (channel, outcome, error code, escalation status), never a user id or number: a
//! label per user would leak personal data into the monitoring system and explode its series count.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Webhooks and API calls received, by `channel` and `outcome` (queued, duplicate, bad_signature, ...).
pub const WEBHOOKS: &str = "redflag_bridge_webhooks_total";
/// Messages not finished yet.
pub const QUEUE_DEPTH: &str = "redflag_bridge_queue_depth";
/// Age of the oldest unfinished message.
pub const QUEUE_AGE: &str = "redflag_bridge_queue_oldest_age_seconds";
/// Messages waiting for a person (permanent delivery failures).
pub const QUEUE_REVIEW: &str = "redflag_bridge_queue_review";
/// Analysis latency by `tier` (local: rules + model; total: with escalation).
pub const ANALYSIS_SECONDS: &str = "redflag_bridge_analysis_seconds";
/// Reply parts sent, by `channel`, `outcome` (sent, retry, paused, failed, review, template) and provider error
/// `code`.
pub const REPLIES: &str = "redflag_bridge_replies_total";
/// Delivery status callbacks by `status`.
pub const DELIVERY: &str = "redflag_bridge_delivery_status_total";
/// Escalation attempts by `status`.
pub const ESCALATIONS: &str = "redflag_bridge_escalations_total";
/// LLM spend in millionths of a US dollar (counters are integers).
pub const LLM_COST_MICRO_USD: &str = "redflag_bridge_llm_cost_micro_usd_total";
/// Messages refused by the per-sender rate limit or the daily quota, by `kind`.
pub const LIMITED: &str = "redflag_bridge_limited_total";
/// Reports from paired devices, by `outcome` (new, duplicate).
pub const REPORTS: &str = "redflag_bridge_reports_total";
/// From a message's receipt to its reply's last part taken by the provider, by `channel`: what the person waits.
pub const REPLY_SECONDS: &str = "redflag_bridge_reply_latency_seconds";
/// Verdicts given, by `channel` and `label`.
pub const VERDICTS: &str = "redflag_bridge_verdicts_total";
/// 1 while the database takes a write (what `/readyz` proves), else 0.
pub const READY: &str = "redflag_bridge_ready";
/// The configured global LLM budget in US dollars, by `window` (`day`, `month`); absent when there is none.
pub const LLM_CAP_USD: &str = "redflag_bridge_llm_cap_usd";
/// 1 while sending to a `provider` (twilio, telegram) is paused because it refused the credentials, else 0.
pub const SENDING_PAUSED: &str = "redflag_bridge_sending_paused";

/// Every metric the bridge exports: what `bridge/deploy/`'s alerting rules and dashboard may read (checked by
/// `tests/deploy.rs`).
pub const ALL: &[&str] = &[
    WEBHOOKS,
    QUEUE_DEPTH,
    QUEUE_AGE,
    QUEUE_REVIEW,
    ANALYSIS_SECONDS,
    REPLIES,
    DELIVERY,
    ESCALATIONS,
    LLM_COST_MICRO_USD,
    LIMITED,
    REPORTS,
    REPLY_SECONDS,
    VERDICTS,
    READY,
    LLM_CAP_USD,
    SENDING_PAUSED,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder (first call) and return the handle that renders `/metrics`. `None` when
/// another recorder was installed first (an embedding program's); the bridge then serves empty metrics.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(ANALYSIS_SECONDS.to_string()),
                    &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
                )
                .ok()?
                // Around the 10 s the alert watches, with room for coalescing waits and provider retries.
                .set_buckets_for_metric(
                    Matcher::Full(REPLY_SECONDS.to_string()),
                    &[0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0],
                )
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(WEBHOOKS, "Webhooks and API calls received, by channel and outcome.");
    metrics::describe_gauge!(QUEUE_DEPTH, "Messages not finished yet.");
    metrics::describe_gauge!(QUEUE_AGE, "Age of the oldest unfinished message, in seconds.");
    metrics::describe_gauge!(QUEUE_REVIEW, "Messages waiting for manual review.");
    metrics::describe_histogram!(ANALYSIS_SECONDS, metrics::Unit::Seconds, "Analysis latency by tier.");
    metrics::describe_counter!(REPLIES, "Reply parts by channel, outcome and provider error code.");
    metrics::describe_counter!(DELIVERY, "Delivery status callbacks by status.");
    metrics::describe_counter!(REPORTS, "Reports from paired devices, by outcome (new, duplicate).");
    metrics::describe_counter!(ESCALATIONS, "Escalations to the LLM by status.");
    metrics::describe_counter!(LLM_COST_MICRO_USD, "LLM spend in millionths of a US dollar.");
    metrics::describe_counter!(LIMITED, "Messages refused by the rate limit or the daily quota, by kind.");
    metrics::describe_histogram!(
        REPLY_SECONDS,
        metrics::Unit::Seconds,
        "From a message's receipt to its reply's last part taken by the provider, by channel."
    );
    metrics::describe_counter!(VERDICTS, "Verdicts given, by channel and label.");
    metrics::describe_gauge!(READY, "1 while the database takes a write (what /readyz proves), else 0.");
    metrics::describe_gauge!(LLM_CAP_USD, "The configured global LLM budget in US dollars, by window.");
    metrics::describe_gauge!(
        SENDING_PAUSED,
        "1 while sending to a provider is paused because it refused the bridge's credentials, else 0."
    );
}

/// One sample of the exporter's text: name, labels, value.
#[derive(Debug)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: Vec<(&'a str, &'a str)>,
    pub value: f64,
}

impl Sample<'_> {
    /// A label's value, empty when absent.
    pub fn label(&self, key: &str) -> &str {
        self.labels.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v)
    }
}

/// The samples of this process's own `/metrics` text, for the console's overview and the built-in notifier.
///
/// Why a reader of 20 lines and not a client crate: the text is ours (label values are closed sets without `,`,
/// `"` or `\`), and a parser of the whole exposition format would bring escaping and types nothing here needs.
pub fn samples(text: &str) -> impl Iterator<Item = Sample<'_>> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|line| {
        let (head, value) = line.rsplit_once(' ')?;
        let value = value.parse().ok()?;
        let (name, labels) = match head.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}')?),
            None => (head, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k, v.trim_matches('"'))))
            .collect();
        Some(Sample { name, labels, value })
    })
}
