//! A sender's data as one use case: export it (`redflag-bridge users export ADDRESS`) and erase it (`users erase
//! ADDRESS`, or the sender's own "delete my data"). One place, so the chat command and the operator's command
//! erase the same things, and an export shows everything an erasure would remove.
//!
//! An address is the sender key the bridge uses (`whatsapp:+14155550123`, `sms:+1...`, `telegram:CHAT_ID`); a bare
//! phone number means its WhatsApp and SMS addresses both, as an operator answering a person's request by phone
//! would mean. What is kept under the sender's pseudonym (the day's quota count, spend against the per-user
//! budget) survives an erasure on purpose (see [`crate::pseudonym`]); the export shows it as what it is.

use serde::Serialize;

use redflag::store::{HistoryQuery, Owner, Store};

use crate::pseudonym::Pseudonyms;
use crate::queue::{BridgeStore, QueueError, StoredMessage};

/// The sender keys an operator's ADDRESS stands for.
pub fn addresses(address: &str) -> Result<Vec<String>, String> {
    let address = address.trim();
    let known = ["whatsapp:", "sms:", "telegram:"];
    if known.iter().any(|p| address.starts_with(p) && address.len() > p.len()) {
        return Ok(vec![address.to_string()]);
    }
    let digits = address.strip_prefix('+').unwrap_or(address);
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(vec![format!("whatsapp:+{digits}"), format!("sms:+{digits}")]);
    }
    Err(format!(
        "{address:?} is not a sender address: use whatsapp:+14155550123, sms:+14155550123, telegram:CHAT_ID, or a \
         phone number in international form (+14155550123) for both its WhatsApp and SMS addresses"
    ))
}

/// Everything the bridge keeps about one sender address.
#[derive(Debug, Serialize)]
pub struct Export {
    pub address: String,
    /// What the quota, spend and history know the sender by.
    pub pseudonym: String,
    /// The last message's time (Unix ms), for WhatsApp's 24-hour window.
    pub last_message_at: Option<i64>,
    pub messages: Vec<StoredMessage>,
    /// Today's quota count (kept under the pseudonym after an erasure).
    pub analyses_today: u32,
    /// The checks recorded for the sender: verdicts and redacted texts.
    pub checks: Vec<Check>,
    /// LLM spend charged to the sender (kept under the pseudonym after an erasure, so the budget holds).
    pub llm_spend_usd: Spend,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub created_at: i64,
    pub channel: String,
    pub label: redflag::Label,
    pub score: f32,
    pub flags: Vec<String>,
    pub redacted_text: String,
}

#[derive(Debug, Serialize)]
pub struct Spend {
    pub today: f64,
    pub this_month: f64,
}

/// What is kept about `address`, from the bridge's store and the core's.
pub fn export(
    store: &dyn BridgeStore,
    core: &dyn Store,
    pseudonyms: &Pseudonyms,
    address: &str,
    now_ms: i64,
) -> anyhow::Result<Export> {
    let pseudonym = pseudonyms.of(address);
    let kept = store.kept_about(address, &pseudonym, now_ms)?;
    // Checks recorded by builds before pseudonyms name the address itself.
    let mut checks = Vec::new();
    for owner in [pseudonym.as_str(), address] {
        let query = HistoryQuery { owner: Owner::User(owner.to_string()), ..HistoryQuery::default() };
        checks.extend(core.history_list(&query)?.into_iter().map(|e| Check {
            created_at: e.created_at,
            channel: e.channel,
            label: e.label,
            score: e.score,
            flags: e.flags,
            redacted_text: e.redacted_text,
        }));
    }
    let spent = core.spent(Some(&pseudonym), now_ms / 1000)?;
    Ok(Export {
        address: address.to_string(),
        pseudonym,
        last_message_at: kept.last_inbound_ms,
        messages: kept.messages,
        analyses_today: kept.analyses_today,
        checks,
        llm_spend_usd: Spend { today: spent.day_usd, this_month: spent.month_usd },
    })
}

/// Erase what is kept about `address` except the job `keep` (the chat command's own message, which carries the
/// confirmation). The core's history first: if anything fails after it, the command is retried whole, and every
/// step is idempotent. Checks are recorded under the pseudonym, and under the address by builds before it; spend
/// under either moves to the pseudonym, so the per-user budget keeps counting it, as the quota does. Returns the
/// number of records removed.
pub fn erase(
    store: &dyn BridgeStore,
    core: &dyn Store,
    pseudonyms: &Pseudonyms,
    address: &str,
    keep: Option<i64>,
) -> Result<usize, EraseError> {
    let pseudonym = pseudonyms.of(address);
    let history = core.forget_user(address, Some(&pseudonym))? + core.forget_user(&pseudonym, Some(&pseudonym))?;
    Ok(history + store.forget(address, keep)?)
}

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error(transparent)]
    Core(#[from] redflag::store::StoreError),
    #[error(transparent)]
    Bridge(#[from] QueueError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_a_sender_key_or_a_phone_number() {
        assert_eq!(addresses("whatsapp:+14155550123").expect("an address"), ["whatsapp:+14155550123"]);
        assert_eq!(addresses(" telegram:998877 ").expect("an address"), ["telegram:998877"]);
        assert_eq!(addresses("+14155550123").expect("an address"), ["whatsapp:+14155550123", "sms:+14155550123"]);
        for bad in ["", "whatsapp:", "+1 415 555", "alice@example.com", "+1234567890123456"] {
            let e = addresses(bad).expect_err("refused");
            assert!(e.contains("international form"), "{e}");
        }
    }
}
