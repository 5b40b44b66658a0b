//! The shipped alerting rules (`bridge/deploy/prometheus/redflag-bridge.rules.yml`), evaluated in the process over
//! its own metrics, for operators without Prometheus. Each rule keeps the Prometheus rule's name, threshold, window
//! and `for`, so an alert means the same thing whichever evaluated it.
//!
//! Windows are computed from snapshots of this node's counters: the increase over a window is now minus the newest
//! snapshot at least that old, or minus zero while the process is younger than the window (its counters started
//! at zero, so that is exact, where Prometheus' `increase` extrapolates). `RedflagBridgeDown` cannot be judged by
//! the process that is down; it stays with an outside probe.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::metrics::{self as m, Sample};

const MINUTE: i64 = 60_000;

/// One counter or gauge series: its name and labels.
type Series = (String, Vec<(String, String)>);

/// The values of every series at one moment.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    at_ms: i64,
    values: HashMap<Series, f64>,
}

impl Snapshot {
    fn parse(text: &str, at_ms: i64) -> Snapshot {
        let values = crate::metrics::samples(text)
            .map(|s: Sample<'_>| {
                let labels = s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                ((s.name.to_string(), labels), s.value)
            })
            .collect();
        Snapshot { at_ms, values }
    }

    /// The series of `name` whose labels pass `keep`.
    fn select(&self, name: &str, keep: impl Fn(&Labels<'_>) -> bool) -> Vec<(Labels<'_>, f64)> {
        self.values
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), v)| (Labels(labels), *v))
            .filter(|(l, _)| keep(l))
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Labels<'a>(&'a [(String, String)]);

impl Labels<'_> {
    fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }
}

/// An alert's identity: the rule and the label that tells its instances apart (an error code, a provider).
pub type AlertKey = (&'static str, String);

/// One rule as Prometheus has it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub severity: &'static str,
    /// How long the condition must hold before the alert fires.
    pub for_ms: i64,
    /// What is wrong and what to do, with `{key}` and `{value}` filled in.
    pub summary: &'static str,
    pub description: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule {
        name: "RedflagBridgeNotReady",
        severity: "critical",
        for_ms: 2 * MINUTE,
        summary: "redflag-bridge cannot write to its database",
        description: "/readyz fails: webhooks get 503 and Twilio retries them. Check free disk space, the file's \
                      permissions or the PostgreSQL server.",
    },
    Rule {
        name: "RedflagBridgeErrorRate",
        severity: "warning",
        for_ms: 5 * MINUTE,
        summary: "More than 5 % of messages fail",
        description: "Replies that failed for good or went to manual review, and webhooks refused with 503, come \
                      to {value} of inbound messages over 5 minutes. See the console's review list and the log.",
    },
    Rule {
        name: "RedflagBridgeSlowReplies",
        severity: "warning",
        for_ms: 5 * MINUTE,
        summary: "Replies take more than 10 s (p95)",
        description: "The 95th percentile from a message's receipt to its reply is {value} s over 5 minutes. Look \
                      at the queue's oldest age, the LLM's latency and Twilio's.",
    },
    Rule {
        name: "RedflagBridgeDeliveryFailures",
        severity: "warning",
        for_ms: 0,
        summary: "Replies refused by the provider with error {key}",
        description: "{value} reply parts in 15 minutes ended in failure or manual review with provider error \
                      {key} (https://www.twilio.com/docs/api/errors/{key}).",
    },
    Rule {
        name: "RedflagBridgeSendingPaused",
        severity: "critical",
        for_ms: 2 * MINUTE,
        summary: "{key} refuses redflag-bridge's credentials",
        description: "Replies wait (none is lost or sent to review) and are tried again every auth_pause_secs. Fix \
                      the credentials (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or TELEGRAM_BOT_TOKEN), then \
                      restart the bridge.",
    },
    Rule {
        name: "RedflagBridgeEscalationOff",
        severity: "warning",
        for_ms: 0,
        summary: "The LLM tier is switched off",
        description: "The provider refused the API key or its quota is exhausted, so unsure messages get the local \
                      verdict only. Fix the key or the billing; escalation resumes when the configuration changes.",
    },
    Rule {
        name: "RedflagBridgeBudgetReached",
        severity: "info",
        for_ms: 0,
        summary: "The LLM spend cap was reached",
        description: "Unsure messages get the local verdict only until the cap's day or month rolls over.",
    },
];

/// An alert starting or ending.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub rule: Rule,
    pub key: String,
    pub firing: bool,
    pub value: f64,
    pub at_ms: i64,
}

impl Transition {
    fn fill(&self, text: &str) -> String {
        let value = if self.rule.name == "RedflagBridgeErrorRate" {
            format!("{:.1} %", self.value * 100.0)
        } else {
            format!("{}", (self.value * 100.0).round() / 100.0)
        };
        text.replace("{key}", &self.key).replace("{value}", &value)
    }

    pub fn summary(&self) -> String {
        self.fill(self.rule.summary)
    }

    pub fn description(&self) -> String {
        self.fill(self.rule.description)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The rules' state over time: snapshots for the windows, conditions pending their `for`, alerts firing.
#[derive(Debug, Default)]
pub struct Evaluator {
    history: VecDeque<Snapshot>,
    /// Since when each condition has held, for the rules with a `for`.
    pending: HashMap<AlertKey, i64>,
    firing: HashMap<AlertKey, f64>,
}

/// The longest window a rule looks back over.
const LONGEST_WINDOW: i64 = 60 * MINUTE;

impl Evaluator {
    /// Take this node's metrics page at `now_ms` and return the alerts that started or ended.
    pub fn observe(&mut self, metrics: &str, now_ms: i64) -> Vec<Transition> {
        let now = Snapshot::parse(metrics, now_ms);
        let holding = self.conditions(&now);
        self.history.push_back(now);
        // Keep one snapshot older than the longest window, as its baseline.
        while self.history.len() > 2 && self.history[1].at_ms <= now_ms - LONGEST_WINDOW {
            self.history.pop_front();
        }

        let mut out = Vec::new();
        for rule in RULES {
            let instances: BTreeMap<&String, f64> =
                holding.iter().filter(|(r, _, _)| r == &rule.name).map(|(_, k, v)| (k, *v)).collect();
            for (key, value) in &instances {
                let id = (rule.name, (*key).clone());
                let since = *self.pending.entry(id.clone()).or_insert(now_ms);
                if now_ms - since >= rule.for_ms && !self.firing.contains_key(&id) {
                    out.push(Transition {
                        rule: *rule,
                        key: (*key).clone(),
                        firing: true,
                        value: *value,
                        at_ms: now_ms,
                    });
                }
                if now_ms - since >= rule.for_ms {
                    self.firing.insert(id, *value);
                }
            }
            self.pending.retain(|(name, key), _| *name != rule.name || instances.contains_key(key));
            let ended: Vec<AlertKey> = self
                .firing
                .keys()
                .filter(|(name, key)| *name == rule.name && !instances.contains_key(key))
                .cloned()
                .collect();
            for id in ended {
                let value = self.firing.remove(&id).unwrap_or_default();
                out.push(Transition { rule: *rule, key: id.1, firing: false, value, at_ms: now_ms });
            }
        }
        out
    }

    /// The newest snapshot at least `window` older than `now`: the baseline of an increase (empty, all zeros,
    /// while the process is younger than the window).
    fn baseline(&self, now: &Snapshot, window: i64) -> Snapshot {
        self.history.iter().rev().find(|s| s.at_ms <= now.at_ms - window).cloned().unwrap_or_default()
    }

    /// Every (rule, key, value) whose condition holds now.
    fn conditions(&self, now: &Snapshot) -> Vec<(&'static str, String, f64)> {
        let mut out = Vec::new();
        let gauge = |name: &str, value: f64| -> Vec<(Labels<'_>, f64)> {
            now.select(name, |_| true).into_iter().filter(|(_, v)| *v == value).collect()
        };
        if !gauge(m::READY, 0.0).is_empty() {
            out.push(("RedflagBridgeNotReady", String::new(), 0.0));
        }
        for (labels, _) in gauge(m::SENDING_PAUSED, 1.0) {
            out.push(("RedflagBridgeSendingPaused", labels.get("provider").to_string(), 1.0));
        }

        let five = self.baseline(now, 5 * MINUTE);
        let increase = |base: &Snapshot, name: &str, keep: &dyn Fn(&Labels<'_>) -> bool| -> f64 {
            let was: f64 = base.select(name, keep).into_iter().map(|(_, v)| v).sum();
            (now.select(name, keep).into_iter().map(|(_, v)| v).sum::<f64>() - was).max(0.0)
        };
        let failed = |l: &Labels<'_>| matches!(l.get("outcome"), "failed" | "review");
        let inbound = increase(&five, m::WEBHOOKS, &|_| true);
        let errors = increase(&five, m::REPLIES, &failed)
            + increase(&five, m::WEBHOOKS, &|l: &Labels<'_>| l.get("outcome") == "unavailable");
        if inbound > 0.0 && errors / inbound > 0.05 {
            out.push(("RedflagBridgeErrorRate", String::new(), errors / inbound));
        }
        if let Some(p95) = p95_increase(now, &five).filter(|p| *p > 10.0) {
            out.push(("RedflagBridgeSlowReplies", String::new(), p95));
        }

        let fifteen = self.baseline(now, 15 * MINUTE);
        let mut by_code: BTreeMap<String, f64> = BTreeMap::new();
        for (labels, _) in now.select(m::REPLIES, |l| failed(l) && !l.get("code").is_empty()) {
            let code = labels.get("code").to_string();
            let keep = |l: &Labels<'_>| failed(l) && l.get("code") == code;
            by_code.insert(code.clone(), increase(&fifteen, m::REPLIES, &keep));
        }
        out.extend(
            by_code.into_iter().filter(|(_, n)| *n > 0.0).map(|(code, n)| ("RedflagBridgeDeliveryFailures", code, n)),
        );
        let disabled = increase(&fifteen, m::ESCALATIONS, &|l: &Labels<'_>| l.get("status") == "disabled");
        if disabled > 0.0 {
            out.push(("RedflagBridgeEscalationOff", String::new(), disabled));
        }
        let hour = self.baseline(now, 60 * MINUTE);
        let capped = increase(&hour, m::ESCALATIONS, &|l: &Labels<'_>| l.get("status") == "budget_reached");
        if capped > 0.0 {
            out.push(("RedflagBridgeBudgetReached", String::new(), capped));
        }
        out
    }
}

/// The 95th percentile of receipt-to-reply latency over the window since `base`, summed over channels: the upper
/// bound of the bucket it falls in (None without replies in the window).
fn p95_increase(now: &Snapshot, base: &Snapshot) -> Option<f64> {
    let bucket = format!("{}_bucket", m::REPLY_SECONDS);
    let mut by_bound: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (labels, v) in now.select(&bucket, |_| true) {
        let before = base.values.get(&(bucket.clone(), labels.0.to_vec())).copied().unwrap_or(0.0);
        let le = labels.get("le");
        let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
        by_bound.entry(le.to_string()).or_insert((bound, 0.0)).1 += (v - before).max(0.0);
    }
    let mut buckets: Vec<(f64, f64)> = by_bound.into_values().collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    crate::admin::overview::quantile(&buckets, 0.95)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A metrics page holding `lines` (`name{labels} value`), with the bridge ready unless it says otherwise.
    fn page(lines: &[&str]) -> String {
        let mut text = String::from("# HELP x\n");
        if !lines.iter().any(|l| l.starts_with(m::READY)) {
            text.push_str("redflag_bridge_ready 1\n");
        }
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text
    }

    fn names(ts: &[Transition]) -> Vec<(&'static str, &str, bool)> {
        ts.iter().map(|t| (t.rule.name, t.key.as_str(), t.firing)).collect()
    }

    #[test]
    fn not_ready_and_sending_paused_fire_after_two_minutes_and_resolve() {
        let mut e = Evaluator::default();
        let down = page(&["redflag_bridge_ready 0", "redflag_bridge_sending_paused{provider=\"twilio\"} 1"]);
        assert!(e.observe(&down, 0).is_empty(), "pending, not firing");
        assert!(e.observe(&down, MINUTE).is_empty());
        let fired = e.observe(&down, 2 * MINUTE);
        assert_eq!(
            names(&fired),
            [("RedflagBridgeNotReady", "", true), ("RedflagBridgeSendingPaused", "twilio", true)]
        );
        assert!(fired[1].summary().starts_with("twilio refuses"), "{}", fired[1].summary());
        assert!(e.observe(&down, 3 * MINUTE).is_empty(), "told once");
        let up = page(&["redflag_bridge_sending_paused{provider=\"twilio\"} 0"]);
        assert_eq!(
            names(&e.observe(&up, 4 * MINUTE)),
            [("RedflagBridgeNotReady", "", false), ("RedflagBridgeSendingPaused", "twilio", false)]
        );
        // A blip shorter than `for` says nothing.
        assert!(e.observe(&down, 5 * MINUTE).is_empty());
        assert!(e.observe(&up, 6 * MINUTE).is_empty());
        assert!(e.observe(&down, 7 * MINUTE).is_empty(), "the clock started again");
    }

    #[test]
    fn the_error_rate_fires_above_five_percent_held_for_five_minutes() {
        let at = |webhooks: u32, failed: u32, unavailable: u32| {
            page(&[
                &format!("redflag_bridge_webhooks_total{{channel=\"whatsapp\",outcome=\"queued\"}} {webhooks}"),
                &format!("redflag_bridge_webhooks_total{{channel=\"whatsapp\",outcome=\"unavailable\"}} {unavailable}"),
                &format!(
                    "redflag_bridge_replies_total{{channel=\"whatsapp\",outcome=\"review\",code=\"21610\"}} {failed}"
                ),
            ])
        };
        let mut e = Evaluator::default();
        // 4 % of messages fail: quiet.
        for i in 0..12 {
            assert!(
                !names(&e.observe(&at(100 * i, 4 * i, 0), i64::from(i) * MINUTE))
                    .iter()
                    .any(|n| n.0 == "RedflagBridgeErrorRate")
            );
        }
        // Then 10 % (failed replies and 503s together) for five minutes.
        let mut fired = Vec::new();
        for i in 12..20 {
            let t = e.observe(&at(1200 + 96 * (i - 11), 48 + 6 * (i - 11), 4 * (i - 11)), i64::from(i) * MINUTE);
            fired.extend(t.into_iter().filter(|t| t.rule.name == "RedflagBridgeErrorRate"));
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert!(fired[0].at_ms >= 17 * MINUTE, "held for five minutes first: {}", fired[0].at_ms);
        assert!(fired[0].description().contains("10.0 %"), "{}", fired[0].description());
    }

    #[test]
    fn slow_replies_fire_when_the_p95_of_the_window_passes_ten_seconds() {
        let at = |fast: u32, slow: u32| {
            page(&[
                &format!("redflag_bridge_reply_latency_seconds_bucket{{channel=\"sms\",le=\"10\"}} {fast}"),
                &format!("redflag_bridge_reply_latency_seconds_bucket{{channel=\"sms\",le=\"15\"}} {}", fast + slow),
                &format!("redflag_bridge_reply_latency_seconds_bucket{{channel=\"sms\",le=\"+Inf\"}} {}", fast + slow),
            ])
        };
        let mut e = Evaluator::default();
        assert!(e.observe(&at(100, 1), 0).is_empty(), "p95 under 10 s");
        let mut fired = Vec::new();
        for i in 1..=6 {
            fired.extend(e.observe(&at(100, 1 + 20 * i), i64::from(i) * MINUTE));
        }
        assert_eq!(names(&fired), [("RedflagBridgeSlowReplies", "", true)]);
        assert_eq!(fired[0].value, 15.0);
    }

    #[test]
    fn delivery_failures_escalation_off_and_the_budget_fire_at_once_and_end_with_their_window() {
        let mut e = Evaluator::default();
        let quiet = page(&["redflag_bridge_replies_total{channel=\"whatsapp\",outcome=\"sent\",code=\"\"} 5"]);
        assert!(e.observe(&quiet, 0).is_empty());
        let bad = page(&[
            "redflag_bridge_replies_total{channel=\"whatsapp\",outcome=\"sent\",code=\"\"} 5",
            "redflag_bridge_replies_total{channel=\"whatsapp\",outcome=\"review\",code=\"63016\"} 2",
            "redflag_bridge_replies_total{channel=\"sms\",outcome=\"failed\",code=\"\"} 1",
            "redflag_bridge_escalations_total{status=\"disabled\"} 1",
            "redflag_bridge_escalations_total{status=\"budget_reached\"} 3",
        ]);
        let fired = e.observe(&bad, MINUTE);
        assert_eq!(
            names(&fired),
            [
                ("RedflagBridgeDeliveryFailures", "63016", true),
                ("RedflagBridgeEscalationOff", "", true),
                ("RedflagBridgeBudgetReached", "", true),
            ],
            "a failure without a provider code is not a delivery failure"
        );
        assert!(fired[0].description().contains("2 reply parts") && fired[0].description().contains("errors/63016"));
        // Nothing new: they stay until their windows have passed (15 minutes, an hour).
        assert!(e.observe(&bad, 10 * MINUTE).is_empty());
        assert_eq!(
            names(&e.observe(&bad, 17 * MINUTE)),
            [("RedflagBridgeDeliveryFailures", "63016", false), ("RedflagBridgeEscalationOff", "", false)]
        );
        assert!(e.observe(&bad, 50 * MINUTE).is_empty());
        assert_eq!(names(&e.observe(&bad, 62 * MINUTE)), [("RedflagBridgeBudgetReached", "", false)]);
    }

    #[test]
    fn every_rule_matches_a_shipped_prometheus_rule() {
        let shipped = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/redflag-bridge.rules.yml"));
        for rule in RULES {
            assert!(shipped.contains(&format!("- alert: {}", rule.name)), "{} is not shipped", rule.name);
        }
        // The one shipped rule the process cannot evaluate about itself.
        assert_eq!(shipped.matches("- alert: ").count(), RULES.len() + 1);
        assert!(!RULES.iter().any(|r| r.name == "RedflagBridgeDown"));
    }
}
