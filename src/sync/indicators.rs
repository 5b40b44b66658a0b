//! Scam indicators: the scammer-side values (phone numbers, link hosts, chat handles, e-mail addresses and
//! domains, crypto wallets) that many people's checks reveal, and how a text is matched against them locally.
//!
//! A value is normalised per kind ([`normalise`]) and published as the SHA-256 of `kind:value` ([`digest`]), so a
//! hub's feed names no value in clear and a device learns nothing it did not already have in its own text; the
//! device hashes what it finds in the checked text and looks the digests up in its [`IndicatorSet`]. Nothing about
//! the checked text leaves the machine.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::analysis::{Evidence, Flag};
use crate::document::Document;

/// The flag a match raises.
pub const FLAG_ID: &str = "reported-indicator";
/// A value reported across many people's job scams is strong evidence, as strong as the strongest rules.
const FLAG_WEIGHT: f32 = 0.9;

/// What kind of value an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    /// A phone number, E.164.
    Phone,
    /// A link host or an e-mail domain, lower-case, without `www.`.
    Domain,
    /// An e-mail address, lower-case.
    Email,
    /// A crypto wallet address.
    Wallet,
    /// A chat handle: `t.me/name`.
    Handle,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Phone => "phone",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Email => "email",
            IndicatorKind::Wallet => "wallet",
            IndicatorKind::Handle => "handle",
        }
    }

    /// How a person reads it ("this number").
    fn noun(self) -> &'static str {
        match self {
            IndicatorKind::Phone => "number",
            IndicatorKind::Domain => "web address",
            IndicatorKind::Email => "e-mail address",
            IndicatorKind::Wallet => "crypto wallet",
            IndicatorKind::Handle => "chat account",
        }
    }
}

impl FromStr for IndicatorKind {
    type Err = IndicatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "phone" => IndicatorKind::Phone,
            "domain" => IndicatorKind::Domain,
            "email" => IndicatorKind::Email,
            "wallet" => IndicatorKind::Wallet,
            "handle" => IndicatorKind::Handle,
            other => return Err(IndicatorError::Kind(other.to_string())),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("unknown indicator kind `{0}`: use phone, domain, email, wallet or handle")]
    Kind(String),
    #[error("`{value}` is not a {kind} indicator: {why}")]
    Value { kind: &'static str, value: String, why: &'static str },
}

/// The canonical form of `raw` as a `kind`: what two people writing the same value the same way both produce.
pub fn normalise(kind: IndicatorKind, raw: &str) -> Result<String, IndicatorError> {
    let bad = |why| IndicatorError::Value { kind: kind.as_str(), value: raw.to_string(), why };
    let raw = raw.trim();
    match kind {
        IndicatorKind::Phone => {
            let digits: String = raw.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
            if !digits.starts_with('+') {
                return Err(bad("write it in international form, with + and the country code"));
            }
            let parsed = phonenumber::parse(None, &digits).map_err(|_| bad("it does not parse as a phone number"))?;
            Ok(phonenumber::format(&parsed).mode(phonenumber::Mode::E164).to_string())
        }
        IndicatorKind::Domain => {
            let host = crate::extract::host_of(&raw.to_lowercase());
            let ok = host.contains('.') && host.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if ok { Ok(host) } else { Err(bad("a domain looks like example.com")) }
        }
        IndicatorKind::Email => {
            let lower = raw.to_lowercase();
            match lower.split_once('@') {
                Some((user, domain)) if !user.is_empty() && domain.contains('.') => Ok(lower),
                _ => Err(bad("an e-mail address looks like name@example.com")),
            }
        }
        IndicatorKind::Wallet => {
            if ETH.is_match(raw) {
                Ok(raw.to_lowercase())
            } else if BTC.is_match(raw) || TRON.is_match(raw) {
                Ok(raw.to_string())
            } else {
                Err(bad("not a Bitcoin, Ethereum or Tron address"))
            }
        }
        IndicatorKind::Handle => {
            let lower = raw.to_lowercase();
            let rest = lower.split_once("://").map_or(lower.as_str(), |(_, r)| r);
            let rest = rest.strip_prefix("www.").unwrap_or(rest);
            match rest.strip_prefix("t.me/").or_else(|| rest.strip_prefix("telegram.me/")) {
                Some(name) if is_handle(name.trim_end_matches('/')) => {
                    Ok(format!("t.me/{}", name.trim_end_matches('/')))
                }
                _ => Err(bad("a chat handle looks like t.me/name")),
            }
        }
    }
}

/// Hosts many people share: mail providers, link shorteners, chat apps, the big platforms and brands whose real
/// sites scams link to for credibility. A scam that mentions one says nothing about the host, so a hub never
/// publishes them (its operator's allowlist comes on top), whatever reports or verdicts say; their subdomains
/// neither (`docs.google.com`). An e-mail address at one of them is still its own indicator.
const SHARED_HOSTS: &[&str] = &[
    // Mail.
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "ymail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "zoho.com",
    "rediffmail.com",
    // Shorteners and chat apps: the host is everybody's, the handle or path is the scammer's.
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "rb.gy",
    "tiny.cc",
    "s.id",
    "t.ly",
    "v.gd",
    "lnkd.in",
    "forms.gle",
    "wa.me",
    "whatsapp.com",
    "t.me",
    "telegram.me",
    "telegram.org",
    "telegram.dog",
    "signal.me",
    "signal.org",
    "line.me",
    "discord.gg",
    "discord.com",
    // Platforms, job boards and brands.
    "google.com",
    "youtube.com",
    "facebook.com",
    "fb.com",
    "instagram.com",
    "linkedin.com",
    "x.com",
    "twitter.com",
    "tiktok.com",
    "reddit.com",
    "amazon.com",
    "apple.com",
    "microsoft.com",
    "office.com",
    "live.net",
    "indeed.com",
    "glassdoor.com",
    "ziprecruiter.com",
    "monster.com",
    "upwork.com",
    "fiverr.com",
    "craigslist.org",
    "paypal.com",
    "venmo.com",
    "cash.app",
    "zelle.com",
    "coinbase.com",
    "binance.com",
    "github.com",
    "dropbox.com",
    "zoom.us",
    "docusign.net",
    "docusign.com",
    "myworkdayjobs.com",
    "greenhouse.io",
    "lever.co",
    "wikipedia.org",
];

/// Whether `host` (normalised) is one of [`SHARED_HOSTS`] or under one.
pub fn is_shared_host(host: &str) -> bool {
    SHARED_HOSTS
        .iter()
        .any(|shared| host == *shared || host.strip_suffix(shared).is_some_and(|rest| rest.ends_with('.')))
}

/// What a hub publishes and a device looks up: SHA-256 of `kind:value`, hex.
pub fn digest(kind: IndicatorKind, normalised: &str) -> String {
    crate::hash::sha256_hex(&format!("{}:{normalised}", kind.as_str()))
}

/// One value found in a text, normalised, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: IndicatorKind,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// Every indicator value in `doc`: phone numbers that parse to E.164, link hosts, `t.me` handles, e-mail
/// addresses and their domains, wallet addresses.
pub fn find(doc: &Document) -> Vec<Found> {
    find_in(&doc.text, &doc.entities)
}

/// [`find`] on a text already normalised (an [`crate::Analysis`]'s `text`): its entities are extracted again.
pub fn find_in_text(text: &str) -> Vec<Found> {
    find_in(text, &crate::extract::Entities::extract(text))
}

fn find_in(text: &str, entities: &crate::extract::Entities) -> Vec<Found> {
    let mut out = Vec::new();
    let mut push = |kind, raw: &str, start, end| {
        if let Ok(value) = normalise(kind, raw) {
            out.push(Found { kind, value, start, end });
        }
    };
    for p in &entities.phones {
        if p.value.number.starts_with('+') {
            push(IndicatorKind::Phone, &p.value.number, p.start, p.end);
        }
    }
    for u in &entities.urls {
        push(IndicatorKind::Domain, &u.value.host, u.start, u.end);
        if matches!(u.value.host.as_str(), "t.me" | "telegram.me") {
            push(IndicatorKind::Handle, &u.value.text, u.start, u.end);
        }
    }
    for e in &entities.emails {
        push(IndicatorKind::Email, &e.value, e.start, e.end);
        // The domain from the lower-cased value, its span from the text as written: lower-casing can change byte
        // lengths ("İ"), so one string's offsets never index the other.
        let at = text.get(e.start..e.end).and_then(|s| s.rfind('@'));
        if let (Some(at), Some((_, domain))) = (at, e.value.rsplit_once('@')) {
            push(IndicatorKind::Domain, domain, e.start + at + 1, e.end);
        }
    }
    for m in WALLET.find_iter(text) {
        push(IndicatorKind::Wallet, m.as_str(), m.start(), m.end());
    }
    out
}

fn is_handle(name: &str) -> bool {
    (3..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

static ETH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^0x[0-9a-fA-F]{40}$").expect("static regex"));
static BTC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(bc1[02-9ac-hj-np-z]{25,59}|[13][1-9A-HJ-NP-Za-km-z]{25,34})$").expect("static regex")
});
static TRON: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^T[1-9A-HJ-NP-Za-km-z]{33}$").expect("static regex"));
/// Any of the above inside a text, on word boundaries.
static WALLET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(0x[0-9a-fA-F]{40}|bc1[02-9ac-hj-np-z]{25,59}|[13][1-9A-HJ-NP-Za-km-z]{25,34}|T[1-9A-HJ-NP-Za-km-z]{33})\b",
    )
    .expect("static regex")
});

/// What a device knows about one published digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub kind: IndicatorKind,
    /// In how many scams the hub saw it.
    pub count: u32,
    /// Unix seconds.
    pub last_seen: i64,
}

/// The digests a device has synced, for local matching.
#[derive(Clone, Default, PartialEq)]
pub struct IndicatorSet {
    known: HashMap<String, Known>,
}

impl std::fmt::Debug for IndicatorSet {
    // A hundred thousand digests say nothing in a log; how many there are does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndicatorSet").field("len", &self.known.len()).finish()
    }
}

impl IndicatorSet {
    pub fn new(known: HashMap<String, Known>) -> Self {
        IndicatorSet { known }
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    pub fn get(&self, digest: &str) -> Option<&Known> {
        self.known.get(digest)
    }

    /// The `reported-indicator` flag for `doc`, with evidence on every reported value, if any is reported. `now`
    /// (unix seconds) words how long ago it was last seen.
    pub fn flag(&self, doc: &Document, now: i64) -> Option<Flag> {
        if self.known.is_empty() {
            return None;
        }
        let mut hits: Vec<(Found, Known)> =
            find(doc).into_iter().filter_map(|f| self.known.get(&digest(f.kind, &f.value)).map(|k| (f, *k))).collect();
        if hits.is_empty() {
            return None;
        }
        hits.sort_by_key(|(f, k)| (std::cmp::Reverse(k.count), f.start));
        let (first, known) = &hits[0];
        let days = (now - known.last_seen).max(0) / 86_400;
        let when = match days {
            0 => "today".to_string(),
            1 => "yesterday".to_string(),
            n => format!("{n} days ago"),
        };
        let scams = if known.count == 1 { "a job scam".to_string() } else { format!("{} job scams", known.count) };
        let mut explanation =
            format!("This {} was reported in {scams} checked by other people, last seen {when}.", first.kind.noun());
        if hits.len() > 1 {
            explanation.push_str(&format!(" {} values in this message were reported.", hits.len()));
        }
        hits.sort_by_key(|(f, _)| (f.start, f.end));
        hits.dedup_by_key(|(f, _)| (f.start, f.end));
        let evidence = hits
            .iter()
            .filter_map(|(f, _)| doc.text.get(f.start..f.end).map(|s| Evidence::new(f.start, f.end, s.to_string())))
            .collect();
        Some(Flag {
            id: FLAG_ID.to_string(),
            title: "Reported by other people".to_string(),
            explanation,
            weight: FLAG_WEIGHT,
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Input;

    fn doc(text: &str) -> Document {
        Document::from_input(&Input::text(text)).expect("a document")
    }

    #[test]
    fn values_normalise_to_one_form() {
        let n = |k, v| normalise(k, v).expect("valid");
        assert_eq!(n(IndicatorKind::Phone, "+1 (415) 555-0147"), "+14155550147");
        assert_eq!(
            n(IndicatorKind::Domain, "https://www.Deloitte-TalentGlobal.com/apply"),
            "deloitte-talentglobal.com"
        );
        assert_eq!(n(IndicatorKind::Email, " HR.Team@Gmail.com "), "hr.team@gmail.com");
        assert_eq!(n(IndicatorKind::Handle, "https://t.me/Nova_Trainer/"), "t.me/nova_trainer");
        assert_eq!(
            n(IndicatorKind::Wallet, "0xAbCdEf0123456789abcdef0123456789ABCDEF01"),
            "0xabcdef0123456789abcdef0123456789abcdef01"
        );
        assert!(normalise(IndicatorKind::Phone, "415 555 0147").is_err(), "no country code");
        assert!(normalise(IndicatorKind::Wallet, "hello").is_err());
        assert!("fax".parse::<IndicatorKind>().is_err());
    }

    #[test]
    fn a_reported_value_is_flagged_with_its_span_and_others_are_not() {
        let text = "Message our HR on WhatsApp +1 415 555 0147 or e-mail hr@nova-jobs.example.com today.";
        let d = doc(text);
        let mut known = HashMap::new();
        known.insert(
            digest(IndicatorKind::Phone, "+14155550147"),
            Known { kind: IndicatorKind::Phone, count: 37, last_seen: 1_000_000 - 2 * 86_400 },
        );
        let flag = IndicatorSet::new(known).flag(&d, 1_000_000).expect("a flag");
        assert_eq!(flag.id, FLAG_ID);
        assert!(flag.explanation.contains("37 job scams") && flag.explanation.contains("2 days ago"), "{flag:?}");
        assert_eq!(flag.evidence.len(), 1);
        let e = &flag.evidence[0];
        assert_eq!(&d.text[e.start..e.end], e.snippet);
        assert!(e.snippet.contains("555 0147"), "{e:?}");

        assert!(IndicatorSet::default().flag(&d, 0).is_none());
        let other = HashMap::from([(
            digest(IndicatorKind::Phone, "+14155550100"),
            Known { kind: IndicatorKind::Phone, count: 3, last_seen: 0 },
        )]);
        assert!(IndicatorSet::new(other).flag(&d, 0).is_none());
    }

    #[test]
    fn addresses_whose_case_changes_length_do_not_break_the_search() {
        for text in ["Write to İİ@x.co now", "ẞẞẞẞẞẞ@scam-hr.example is us"] {
            let d = doc(text);
            for f in find(&d) {
                assert!(d.text.get(f.start..f.end).is_some(), "{text}: {f:?}");
            }
        }
    }

    #[test]
    fn shared_hosts_and_their_subdomains_are_recognised() {
        assert!(is_shared_host("gmail.com") && is_shared_host("docs.google.com") && is_shared_host("t.me"));
        assert!(!is_shared_host("deloitte-talentglobal.com"));
        assert!(!is_shared_host("notgmail.com"), "a suffix is not a subdomain");
    }

    #[test]
    fn email_domains_handles_and_wallets_are_found() {
        let d = doc(
            "Write to jobs@deloitte-talentglobal.com, join t.me/nova_hr, pay 0x52908400098527886E0F7030069857D2E4169EE7",
        );
        let kinds: Vec<(IndicatorKind, &str)> =
            find(&d).iter().map(|f| (f.kind, &d.text[f.start..f.end])).collect::<Vec<_>>().into_iter().collect();
        assert!(kinds.contains(&(IndicatorKind::Email, "jobs@deloitte-talentglobal.com")), "{kinds:?}");
        assert!(kinds.contains(&(IndicatorKind::Domain, "deloitte-talentglobal.com")), "{kinds:?}");
        assert!(kinds.iter().any(|(k, s)| *k == IndicatorKind::Handle && s.contains("t.me/nova_hr")), "{kinds:?}");
        assert!(kinds.iter().any(|(k, _)| *k == IndicatorKind::Wallet), "{kinds:?}");
    }
}
