//! Reports: a person's "this is a scam" / "this is not a scam" on a check they made, for the hub's operator to
//! review and, past a threshold of devices, to publish the scam's values to everyone.
//!
//! What a report carries is what the history keeps: the redacted text, the verdict Redflag gave, and the digests
//! of the scammer-side values the check found ([`IndicatorDigest`], recorded at check time because the redacted
//! text has lost them). The hub never learns the values themselves, only the digests its feed publishes anyway,
//! so a report cannot tell it a friend's number in plain text. Phone numbers are a small space and their digests
//! can be brute-forced by a hub that wants to; the operator is trusted that far, as with the redacted text.
//!
//! Reports made while the hub is unreachable wait in the store's outbox ([`crate::store::SyncState`]) and go at
//! the next sync. Each has an id made on the device, and the hub keeps one report per device and id, so a report
//! sent twice (a sync killed after the hub answered) is counted once.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::indicators::{self, IndicatorKind};
use crate::Label;
use crate::store::{HistoryEntry, Owner, Store, StoreError};

/// The most text a report carries, in characters: well inside a hub's 64 KB request limit even in four-byte
/// characters, and more than any posting needs.
pub const MAX_TEXT_CHARS: usize = 12_000;
/// The most indicator digests a report carries; a message with more values than this is not a scam script.
pub const MAX_INDICATORS: usize = 64;
/// The most flag ids a report names.
pub const MAX_FLAGS: usize = 64;

/// What the person says a check was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportLabel {
    Scam,
    Legit,
}

impl ReportLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportLabel::Scam => "scam",
            ReportLabel::Legit => "legit",
        }
    }
}

impl std::str::FromStr for ReportLabel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scam" => Ok(ReportLabel::Scam),
            "legit" | "not-scam" | "not a scam" => Ok(ReportLabel::Legit),
            other => Err(format!("`{other}` is not a report: say `scam` or `legit`")),
        }
    }
}

/// One scammer-side value of a checked text, as its digest (what the hub publishes and devices match).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndicatorDigest {
    pub kind: IndicatorKind,
    /// [`indicators::digest`] of the normalised value: 64 lower-case hex digits.
    pub hash: String,
}

impl IndicatorDigest {
    fn is_well_formed(&self) -> bool {
        self.hash.len() == 64 && self.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// The digests of the values in `text` that could be a scammer's (phone numbers, link hosts, handles, e-mail
/// addresses and domains, wallets), each once, never a shared host (a mail provider or a big platform is
/// everybody's), at most [`MAX_INDICATORS`].
pub fn digests(text: &str) -> Vec<IndicatorDigest> {
    let mut seen = HashSet::new();
    indicators::find_in_text(text)
        .into_iter()
        .filter(|f| !(f.kind == IndicatorKind::Domain && indicators::is_shared_host(&f.value)))
        .map(|f| IndicatorDigest { kind: f.kind, hash: indicators::digest(f.kind, &f.value) })
        .filter(|d| seen.insert(d.hash.clone()))
        .take(MAX_INDICATORS)
        .collect()
}

/// A report as it goes to the hub (`POST /v1/sync/reports`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Made on the device (a UUID): the hub keeps one report per device and id.
    pub id: String,
    pub label: ReportLabel,
    /// The redacted text, as the history keeps it.
    pub text: String,
    /// What Redflag said: its label, score and red-flag ids.
    pub verdict: Label,
    pub score: f32,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub indicators: Vec<IndicatorDigest>,
    /// Unix seconds of the check.
    pub checked_at: i64,
}

impl Report {
    /// A new report on a stored check, with a fresh id.
    pub fn on(entry: &HistoryEntry, label: ReportLabel) -> Report {
        Report {
            id: uuid::Uuid::new_v4().to_string(),
            label,
            text: entry.redacted_text.chars().take(MAX_TEXT_CHARS).collect(),
            verdict: entry.label,
            score: entry.score,
            flags: entry.flags.iter().take(MAX_FLAGS).cloned().collect(),
            indicators: entry.indicators.iter().take(MAX_INDICATORS).cloned().collect(),
            checked_at: entry.created_at,
        }
    }

    /// What is wrong with a report a device sent, in words for its sender; `None` when it is well-formed.
    pub fn problem(&self) -> Option<String> {
        if uuid::Uuid::parse_str(&self.id).is_err() {
            return Some("the report's id must be a UUID made on the device".into());
        }
        if self.text.trim().is_empty() {
            return Some("the report has no text".into());
        }
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Some(format!("the report's text is longer than {MAX_TEXT_CHARS} characters"));
        }
        if !(0.0..=1.0).contains(&self.score) {
            return Some("the report's score must be between 0 and 1".into());
        }
        if self.flags.len() > MAX_FLAGS || self.flags.iter().any(|f| f.is_empty() || f.len() > 64) {
            return Some(format!("a report names at most {MAX_FLAGS} flag ids of 1 to 64 characters"));
        }
        if self.indicators.len() > MAX_INDICATORS {
            return Some(format!("a report carries at most {MAX_INDICATORS} indicator digests"));
        }
        if !self.indicators.iter().all(IndicatorDigest::is_well_formed) {
            return Some("an indicator digest must be 64 lower-case hex digits (SHA-256)".into());
        }
        None
    }
}

/// A report waiting in the outbox, or sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub history_id: i64,
    pub report: Report,
    /// Unix seconds it was made.
    pub created_at: i64,
    /// Unix seconds the hub took it; `None` while it waits.
    pub sent_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("there is no check {0} in this machine's history (see `redflag history`)")]
    NoSuchCheck(i64),
    #[error(
        "this device is not paired with a hub, so there is nobody to report to: run `redflag sync pair HUB_URL TOKEN` first"
    )]
    NotPaired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Report the local user's check `history_id` as `label`: the report goes into the outbox (replacing one on the
/// same check that has not gone yet) and is sent at the next sync, or at once by the caller's
/// [`super::client::push_reports`].
pub fn queue<S: Store + ?Sized>(
    store: &S,
    history_id: i64,
    label: ReportLabel,
    now: i64,
) -> Result<Queued, ReportError> {
    if store.hub_link()?.is_none() {
        return Err(ReportError::NotPaired);
    }
    let entry = store.history_get(history_id, &Owner::Local)?.ok_or(ReportError::NoSuchCheck(history_id))?;
    let queued = Queued { history_id, report: Report::on(&entry, label), created_at: now, sent_at: None };
    store.queue_report(&queued)?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_skip_shared_hosts_and_repeats() {
        let found = digests("Text +1 415 555 0188 or +1 (415) 555-0188, see https://jobs-paynow.example and gmail.com");
        let kinds: Vec<_> = found.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [IndicatorKind::Phone, IndicatorKind::Domain]);
        assert!(found.iter().all(IndicatorDigest::is_well_formed));
        assert_eq!(found[1].hash, indicators::digest(IndicatorKind::Domain, "jobs-paynow.example"));
    }

    #[test]
    fn labels_read_as_people_write_them() {
        assert_eq!("Scam".parse::<ReportLabel>(), Ok(ReportLabel::Scam));
        assert_eq!("legit".parse::<ReportLabel>(), Ok(ReportLabel::Legit));
        assert!("maybe".parse::<ReportLabel>().expect_err("not a label").contains("`scam` or `legit`"));
    }

    fn report() -> Report {
        Report {
            id: uuid::Uuid::new_v4().to_string(),
            label: ReportLabel::Scam,
            text: "pay the [NUMBER] fee".into(),
            verdict: Label::Uncertain,
            score: 0.7,
            flags: vec!["upfront-payment".into()],
            indicators: digests("wa.me/447700900123"),
            checked_at: 1,
        }
    }

    #[test]
    fn a_malformed_report_is_named_for_what_is_wrong() {
        assert_eq!(report().problem(), None);
        let mut r = report();
        r.id = "1".into();
        assert!(r.problem().expect("bad id").contains("UUID"));
        let mut r = report();
        r.indicators[0].hash = "ABC".into();
        assert!(r.problem().expect("bad digest").contains("hex"));
        let mut r = report();
        r.score = f32::NAN;
        assert!(r.problem().expect("nan").contains("score"));
        let mut r = report();
        r.text = " ".into();
        assert!(r.problem().expect("empty").contains("no text"));
    }
}
