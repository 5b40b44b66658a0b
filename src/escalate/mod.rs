//! The escalation tier: asks an LLM about the inputs the local tiers are unsure of, and only those, without
//! sending personal data, paying twice for the same text, or spending past a cap.
//!
//! One [`Escalator::escalate`] call runs these steps in order, each of which can end it with the local verdict
//! standing and a sentence saying why (`Analysis::escalation`):
//!
//! 1. **Policy** (`auto` asks only about `uncertain` inputs, `always` about all, `never` about none).
//! 2. **Switched off?** A permanent rejection (bad key, no quota) is remembered in the store per configuration
//!    fingerprint, so a broken setup does not fail once per message.
//! 3. **Redact** the normalised text ([`crate::redact`]); that redacted text is all that is sent.
//! 4. **Cache**: the exact redacted text (SHA-256), then a near-duplicate (SimHash, [`crate::simhash`]) within the
//!    TTL, scoped to the model and prompt version. A hit costs nothing.
//! 5. **Budget**: an upper-bound estimate is reserved against the daily/monthly caps, global and per user, in one
//!    SQLite transaction, so concurrent workers cannot overspend; it is settled with the real usage afterwards.
//! 6. **Ask** ([`crate::llm`]), merge the answer ([`merge`]), cache it.
//!
//! The store is optional: without one (it could not be opened) there is no cache, and budgets, which cannot be
//! checked, block escalation rather than risk overspending.

mod merge;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, EscalationStatus, Label};
use crate::config::{Budget, Config, Policy, Prices};
use crate::hash::sha256_hex;
use crate::llm::{LlmClient, LlmError, LlmRequest, LlmVerdict, PROMPT_VERSION};
use crate::redact::{Redacted, Redactor};
use crate::simhash::{NEAR_DISTANCE, simhash};
use crate::store::{Caps, Reserve, Store, Tokens};
use crate::time::unix_now;

pub use merge::merge;

/// At most this much of the normalised text is sent: enough for any real posting, and a bound on the cost of a
/// pasted novel.
pub const MAX_SENT_BYTES: usize = 12_000;

/// Exactly what would leave the machine for one input.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub redacted: Redacted,
    /// The Chat Completions request body.
    pub body: serde_json::Value,
    pub url: String,
    /// Upper bound of the cost in US dollars, counting every response format the client may still try.
    pub estimate_usd: f64,
    /// The text was longer than [`MAX_SENT_BYTES`] and was cut.
    pub truncated: bool,
}

/// What the cache stores for one redacted text.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    model: String,
    verdict: LlmVerdict,
}

#[derive(Debug)]
pub struct Escalator {
    client: LlmClient,
    store: Option<Arc<dyn Store>>,
    redactor: Redactor,
    policy: Policy,
    caps: Caps,
    prices: Prices,
    cache_ttl_secs: i64,
    near_duplicates: bool,
    fingerprint: String,
    scope: String,
}

impl Escalator {
    /// An escalator for this configuration. `store` holds the cache, the spend ledger and the switched-off state.
    pub fn new(config: &Config, store: Option<Arc<dyn Store>>) -> Result<Self, LlmError> {
        let Budget { daily_usd, monthly_usd, user_daily_usd, user_monthly_usd } = config.budget;
        Ok(Escalator {
            client: LlmClient::new(config.llm.clone())?,
            store,
            redactor: Redactor::new(&config.names),
            policy: config.policy,
            caps: Caps { daily_usd, monthly_usd, user_daily_usd, user_monthly_usd },
            prices: config.llm.prices,
            cache_ttl_secs: i64::try_from(config.cache_ttl.as_secs()).unwrap_or(i64::MAX),
            near_duplicates: config.near_duplicates,
            fingerprint: config.llm_fingerprint(),
            scope: format!("{}|prompt-v{PROMPT_VERSION}", config.llm.model),
        })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Whether the policy asks the LLM about this analysis.
    pub fn wants(&self, a: &Analysis) -> bool {
        match self.policy {
            Policy::Never => false,
            Policy::Auto => a.label == Label::Uncertain,
            Policy::Always => true,
        }
    }

    /// The redacted text, request body and cost estimate for this analysis, without sending anything.
    pub fn outbound(&self, a: &Analysis) -> Outbound {
        // Redact the whole text, then cut: cutting first could split an address or number into a piece that no
        // longer looks like one and would be sent as it is.
        let text = a.text.as_deref().unwrap_or_default();
        let mut redacted = self.redactor.redact(text);
        let truncated = redacted.text.len() > MAX_SENT_BYTES;
        if truncated {
            let mut cut = crate::normalize::truncate_at_char_boundary(&redacted.text, MAX_SENT_BYTES).len();
            // Never split a placeholder or a cleaned link.
            if let Some(p) = redacted.pieces.iter().find(|p| p.redacted.start < cut && cut < p.redacted.end) {
                cut = p.redacted.start;
            }
            redacted.text.truncate(cut);
            redacted.pieces.retain(|p| p.redacted.end <= cut);
        }
        let flags: Vec<String> = a.flags.iter().map(|f| f.title.clone()).collect();
        let request = LlmRequest { text: &redacted.text, local_flags: &flags, local_score: a.score };
        // A client that has not yet found a response format the server honours may make one billed call per
        // format it still has to try; the budget reserves for all of them so a cap is never overshot.
        let calls = std::iter::successors(Some(self.client.format()), |f| f.next()).count() as f64;
        Outbound {
            body: self.client.request_body(&request),
            url: format!("{}/chat/completions", self.client.config().base_url),
            estimate_usd: self.client.estimate_usd(&request) * calls,
            truncated,
            redacted,
        }
    }

    /// Ask the LLM about `a` if the policy wants it, and merge the answer; on any failure the local verdict stands
    /// and `a.escalation` says why. `user_id` is who the budget is charged to (the bridge passes the sender).
    pub async fn escalate(&self, a: &mut Analysis, user_id: Option<&str>) {
        if !self.wants(a) {
            let why = match self.policy {
                Policy::Never => "escalation policy is `never`",
                _ => "the local verdict is confident; nothing was sent",
            };
            let status = if self.policy == Policy::Never { EscalationStatus::Off } else { EscalationStatus::NotNeeded };
            return settle_status(a, status, why.to_string());
        }
        let now = unix_now();
        let outbound = self.outbound(a);
        let sent = outbound.redacted.text.as_str();
        if sent.trim().is_empty() {
            return local(a, EscalationStatus::Failed, "nothing is left to send once personal data is removed".into());
        }
        let key = sha256_hex(sent);
        let fingerprint = simhash(sent);
        // A cached answer is free, so it is used even while calls are switched off.
        if let Some(hit) = self.cached(&key, fingerprint, now) {
            return merge(a, &hit.0.verdict, &hit.0.model, 0.0, &outbound.redacted, hit.1);
        }
        if let Some(store) = &self.store {
            match store.llm_disabled(&self.fingerprint) {
                Ok(Some(reason)) => {
                    let why =
                        format!("escalation is off: {reason} (after fixing it, `redflag config enable-escalation`)");
                    return local(a, EscalationStatus::Disabled, why);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the escalation state; trying the LLM anyway"),
            }
        }

        let reservation = match self.reserve(user_id, outbound.estimate_usd, now) {
            Ok(r) => r,
            Err(why) => return local(a, EscalationStatus::BudgetReached, why),
        };
        let flags: Vec<String> = a.flags.iter().map(|f| f.title.clone()).collect();
        let request = LlmRequest { text: sent, local_flags: &flags, local_score: a.score };
        let result = self.client.classify(&request).await;
        let (usage, ok) = match &result {
            Ok(answer) => (answer.usage, true),
            Err(e) => (e.usage(), false),
        };
        let cost = usage.cost_usd(&self.prices);
        if let (Some(store), Some(id)) = (&self.store, reservation) {
            let tokens = Tokens {
                prompt: usage.prompt_tokens,
                cached: usage.cached_tokens,
                completion: usage.completion_tokens,
            };
            if let Err(e) = store.spend_settle(id, ok, tokens, cost) {
                tracing::warn!(error = %e, "cannot record the LLM call's cost");
            }
        }
        match result {
            Ok(answer) => {
                self.remember(&key, fingerprint, &answer.model, &answer.verdict, now);
                merge(a, &answer.verdict, &answer.model, cost, &outbound.redacted, EscalationStatus::Answered);
            }
            Err(e @ LlmError::Config { .. }) => {
                let reason = e.to_string();
                if let Some(store) = &self.store {
                    if let Err(err) = store.disable_llm(&self.fingerprint, &reason, now) {
                        tracing::warn!(error = %err, "cannot record that escalation is switched off");
                    }
                }
                local(a, EscalationStatus::Disabled, reason);
            }
            Err(e) => local(a, EscalationStatus::Failed, format!("the LLM could not be asked: {e}")),
        }
    }

    /// A cached verdict for this text: the exact text first, then (if enabled) the nearest near-duplicate.
    fn cached(&self, key: &str, fingerprint: u64, now: i64) -> Option<(Cached, EscalationStatus)> {
        let store = self.store.as_ref()?;
        let not_before = now.saturating_sub(self.cache_ttl_secs);
        let parse = |json: &str| serde_json::from_str::<Cached>(json).ok();
        match store.cache_exact(&self.scope, key, not_before) {
            Ok(Some(hit)) => {
                if let Some(c) = parse(&hit.verdict_json) {
                    return Some((c, EscalationStatus::CachedExact));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the LLM cache"),
        }
        if !self.near_duplicates {
            return None;
        }
        match store.cache_near(&self.scope, fingerprint, NEAR_DISTANCE, not_before) {
            Ok(Some(hit)) => parse(&hit.verdict_json).map(|c| (c, EscalationStatus::CachedNear)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the LLM cache");
                None
            }
        }
    }

    fn remember(&self, key: &str, fingerprint: u64, model: &str, verdict: &LlmVerdict, now: i64) {
        let Some(store) = &self.store else { return };
        let cached = Cached { model: model.to_string(), verdict: verdict.clone() };
        let stored = serde_json::to_string(&cached)
            .map_err(|e| e.to_string())
            .and_then(|json| store.cache_put(&self.scope, key, fingerprint, &json, now).map_err(|e| e.to_string()));
        if let Err(e) = stored {
            tracing::warn!(error = %e, "cannot cache the LLM verdict");
        }
    }

    /// Reserve the estimate against the caps. `Ok(None)` means no ledger (no store and no caps): the call goes
    /// ahead unrecorded. `Err` is the sentence saying why the LLM is not asked.
    fn reserve(&self, user_id: Option<&str>, estimate: f64, now: i64) -> Result<Option<i64>, String> {
        let capped = self.caps != Caps::default();
        let Some(store) = &self.store else {
            return if capped {
                Err("a budget is configured but the database that tracks spending could not be opened".into())
            } else {
                Ok(None)
            };
        };
        match store.spend_reserve(user_id, self.client.config().model.as_str(), estimate, &self.caps, now) {
            Ok(Reserve::Reserved(id)) => Ok(Some(id)),
            Ok(Reserve::CapReached { cap, spent_usd, limit_usd }) => {
                Err(format!("{cap} of ${limit_usd:.2} is reached (${spent_usd:.4} spent); this is the local verdict"))
            }
            Err(e) if capped => {
                Err(format!("the spending ledger cannot be read ({e}), so the budget cannot be checked"))
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record LLM spending");
                Ok(None)
            }
        }
    }
}

/// Record that escalation did not happen, with a sentence for the person and a note on the verdict.
pub fn local(a: &mut Analysis, status: EscalationStatus, why: String) {
    a.notes.push(format!("no second opinion: {why}"));
    settle_status(a, status, why);
}

fn settle_status(a: &mut Analysis, status: EscalationStatus, why: String) {
    a.escalation.status = Some(status);
    a.escalation.outcome = Some(why);
}

/// Mark an analysis as decided locally on purpose (`--offline`, no endpoint configured).
pub fn offline(a: &mut Analysis, why: &str) {
    if a.label == Label::Uncertain {
        local(a, EscalationStatus::Off, why.to_string());
    } else {
        settle_status(a, EscalationStatus::Off, why.to_string());
    }
}
