//! The built-in notifier, for operators without Prometheus: every `interval_secs` it reads this node's metrics,
//! evaluates the shipped alerting rules on them ([`rules`]) and posts each alert that starts or ends to a webhook
//! (JSON) and/or a Telegram chat (through the bridge's own bot). With Prometheus and Alertmanager, leave `[alerts]`
//! unset and load `bridge/deploy/prometheus/` instead: the same rules, evaluated there.
//!
//! A notification that cannot be delivered is kept and tried again at the next evaluation (at most 100 are kept;
//! older ones are dropped with a warning), so a short outage of the receiver loses nothing. Alerts carry counts,
//! codes and provider names only: no number, no message.

pub mod rules;

use std::collections::VecDeque;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::sync::watch;

use crate::telegram::TelegramClient;
use rules::{Evaluator, Transition};

/// Where notifications go.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub webhook: Option<(reqwest::Client, String)>,
    pub telegram: Option<(TelegramClient, i64)>,
    /// Names this node in the notifications (its public URL or address).
    pub instance: String,
}

/// The JSON a webhook receives, one alert per POST.
#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    /// `firing` or `resolved`.
    pub status: &'static str,
    pub alert: &'static str,
    pub severity: &'static str,
    /// The error code or provider the alert is about; empty when the rule has none.
    pub key: &'a str,
    pub value: f64,
    pub summary: String,
    pub description: String,
    pub instance: &'a str,
    /// Unix milliseconds.
    pub at: i64,
}

const KEEP_UNSENT: usize = 100;

/// Evaluate and notify until `stop`.
pub async fn run(handle: PrometheusHandle, sinks: Sinks, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut evaluator = Evaluator::default();
    let mut unsent: VecDeque<Transition> = VecDeque::new();
    loop {
        let changed = evaluator.observe(&handle.render(), crate::tasks::now_ms());
        for t in changed {
            tracing::info!(alert = t.rule.name, key = %t.key, firing = t.firing, "alert");
            if unsent.len() == KEEP_UNSENT {
                unsent.pop_front();
                tracing::warn!("the alert receivers have failed for a while; the oldest unsent alert was dropped");
            }
            unsent.push_back(t);
        }
        while let Some(t) = unsent.front() {
            if !deliver(&sinks, t).await {
                break;
            }
            unsent.pop_front();
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Post one transition to every sink; false if any failed (it is tried again, whole, next time: a receiver may
/// see a notification twice, never miss one).
async fn deliver(sinks: &Sinks, t: &Transition) -> bool {
    let mut ok = true;
    if let Some((client, url)) = &sinks.webhook {
        let body = Notification {
            status: if t.firing { "firing" } else { "resolved" },
            alert: t.rule.name,
            severity: t.rule.severity,
            key: &t.key,
            value: t.value,
            summary: t.summary(),
            description: t.description(),
            instance: &sinks.instance,
            at: t.at_ms,
        };
        match client.post(url).json(&body).send().await.map(|r| r.error_for_status()) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) | Err(e) => {
                // The URL may hold a secret (Slack and Teams hooks do): name the failure, not the URL.
                let why = e.status().map_or_else(|| "unreachable".to_string(), |s| s.to_string());
                tracing::warn!(alert = t.rule.name, error = %why, "the alert webhook refused or did not answer");
                ok = false;
            }
        }
    }
    if let Some((client, chat)) = &sinks.telegram {
        let mark = if t.firing { "🔴 FIRING" } else { "✅ RESOLVED" };
        let text = format!("{mark} [{}] {}\n{}\n{}", t.rule.severity, t.summary(), t.description(), sinks.instance);
        if let Err(e) = client.send_message(*chat, &text, None).await {
            tracing::warn!(alert = t.rule.name, error = %e, "the alert could not be sent to Telegram");
            ok = false;
        }
    }
    ok
}
