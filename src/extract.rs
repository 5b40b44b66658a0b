//! Entities found in normalised text: links, e-mail addresses, phone numbers (including `whatsapp:+...` addresses
//! and `wa.me/` links), money amounts with their period and currency, and EMSCAD's masked contact tokens
//! (`#URL_<sha256>#`...). Rules use them as evidence and the classifier maps raw and masked contacts to the same
//! features.
//!
//! Links and e-mail addresses come from `linkify` (scheme-less too, since scammers write `bit.ly/x`); phone numbers
//! are regex candidates confirmed by `phonenumber`, which knows every country's numbering plan.

use std::sync::LazyLock;

use linkify::{LinkFinder, LinkKind};
use regex::Regex;
use serde::Serialize;

use crate::pattern::{Haystack, Pattern};

/// A found entity: its kind-specific value and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span<T> {
    pub start: usize,
    pub end: usize,
    pub value: T,
}

/// How often a money amount is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
    /// Per task, order, review, like... the currency of task scams.
    Task,
    Unspecified,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Money {
    pub amount: f64,
    /// ISO 4217 code where the symbol or word is unambiguous ("$" is read as USD).
    pub currency: &'static str,
    pub period: Period,
}

/// What kind of contact an EMSCAD mask hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Masked {
    Url,
    Email,
    Phone,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Url {
    /// Lower-cased host without `www.`, e.g. `bit.ly`.
    pub host: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phone {
    /// E.164 when the number parses (`+14155550123`), otherwise the digits as written.
    pub number: String,
    /// Written as a WhatsApp address (`whatsapp:+...`) or link (`wa.me/...`).
    pub whatsapp: bool,
}

/// Everything extracted from one text. Offsets are byte offsets into that text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entities {
    pub urls: Vec<Span<Url>>,
    pub emails: Vec<Span<String>>,
    pub phones: Vec<Span<Phone>>,
    pub money: Vec<Span<Money>>,
    pub masked: Vec<Span<Masked>>,
}

impl Entities {
    pub fn extract(text: &str) -> Self {
        let mut entities = Entities::default();
        let mut finder = LinkFinder::new();
        finder.url_must_have_scheme(false);
        for link in finder.links(text) {
            match link.kind() {
                LinkKind::Email => entities.emails.push(Span {
                    start: link.start(),
                    end: link.end(),
                    value: link.as_str().to_lowercase(),
                }),
                LinkKind::Url => {
                    let url = link.as_str();
                    if url.starts_with("whatsapp:") {
                        continue; // a WhatsApp address is a phone number, handled below
                    }
                    entities.urls.push(Span {
                        start: link.start(),
                        end: link.end(),
                        value: Url { host: host_of(url), text: url.to_string() },
                    });
                }
                _ => {}
            }
        }
        entities.phones = phones(text, &entities.urls);
        entities.money = money(text);
        entities.masked = MASKED
            .captures_iter(text)
            .filter_map(|c| {
                let whole = c.get(0)?;
                let kind = match &c[1] {
                    "URL" => Masked::Url,
                    "EMAIL" => Masked::Email,
                    _ => Masked::Phone,
                };
                Some(Span { start: whole.start(), end: whole.end(), value: kind })
            })
            .collect();
        entities
    }

    /// Contacts of each kind, counting masked EMSCAD tokens the same as raw ones so both corpora look alike.
    pub fn contact_counts(&self) -> (usize, usize, usize) {
        let masked = |k: Masked| self.masked.iter().filter(|m| m.value == k).count();
        (
            self.urls.len() + masked(Masked::Url),
            self.emails.len() + masked(Masked::Email),
            self.phones.len() + masked(Masked::Phone),
        )
    }
}

static MASKED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"#(URL|EMAIL|PHONE)_[0-9a-fA-F]{6,64}#").expect("static regex"));

/// The host of a URL written with or without a scheme, lower-cased, without `www.` and port.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or(host).to_lowercase();
    host.strip_prefix("www.").map(str::to_string).unwrap_or(host)
}

static PHONE_CANDIDATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(whatsapp:\s*)?(\+?\(?\d[\d\s().\-]{5,18}\d)").expect("static regex"));

/// Phone numbers: written numbers that a numbering plan accepts, plus the number inside `wa.me/<digits>` links.
fn phones(text: &str, urls: &[Span<Url>]) -> Vec<Span<Phone>> {
    let mut found = Vec::new();
    for c in PHONE_CANDIDATE.captures_iter(text) {
        let (Some(whole), Some(number)) = (c.get(0), c.get(2)) else { continue };
        let digits: String = number.as_str().chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) || looks_like_date_or_money(text, whole.start()) {
            continue;
        }
        // Without a leading + the country is unknown; US rules are the most common in this corpus and in scams
        // aimed at English speakers, and a number that fits no plan is dropped rather than guessed.
        let region = if number.as_str().starts_with('+') { None } else { Some(phonenumber::country::Id::US) };
        let Ok(parsed) = phonenumber::parse(region, number.as_str()) else { continue };
        if !parsed.is_valid() || DATE.is_match(number.as_str()) {
            continue;
        }
        let e164 = phonenumber::format(&parsed).mode(phonenumber::Mode::E164).to_string();
        found.push(Span {
            start: whole.start(),
            end: whole.end(),
            value: Phone { number: e164, whatsapp: c.get(1).is_some() },
        });
    }
    for url in urls {
        if url.value.host == "wa.me" || url.value.host == "api.whatsapp.com" {
            let digits: String = url.value.text.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 7 {
                found.push(Span {
                    start: url.start,
                    end: url.end,
                    value: Phone { number: format!("+{digits}"), whatsapp: true },
                });
            }
        }
    }
    found.sort_by_key(|s| s.start);
    found
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$").expect("static regex")
});

/// "$1,500,000" or "2024-01-15" are not phone numbers; look at the character before the candidate.
fn looks_like_date_or_money(text: &str, start: usize) -> bool {
    text[..start].chars().next_back().is_some_and(|c| matches!(c, '$' | '€' | '£' | '₹' | '/' | '-' | '.'))
}

/// An amount with its currency, never across a line break (so text can be searched line by line; see
/// `crate::pattern`).
static MONEY: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::prepared(
        r"(?ix)
        (?: (?P<sym>[$€£₹₦]|\b(?:usd|eur|gbp|inr|rs\.?|ngn|aed|php|usdt|aud|cad|sgd|a\$|c\$))[\ \t]?
            (?P<a1>\d{1,3}(?:,\d{3})+|\d+)(?P<d1>\.\d{1,2})?(?P<k1>k\b)?
          | (?P<a2>\d{1,3}(?:,\d{3})+|\d+)(?P<d2>\.\d{1,2})?(?P<k2>k)?[\ \t]?
            (?P<word>usd|dollars?|bucks|eur|euros?|gbp|pounds?|inr|rs|rupees?|naira|usdt|aed|dirhams?|aud|cad|sgd)\b
        )",
    )
    .expect("static regex")
});

static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^
        (?:[\ \t]*(?:-|to|–)[\ \t]*(?:[$€£₹₦][\ \t]?)?\d[\d,.]*k?)?      # the upper end of a range
        [\ \t]*(?:usd|dollars?)?[\ \t]*(?:extra|more|net|gross)?[\ \t]*   # never across a line break
        (?:(?:/|per|a|an|each|every)[\ \t]*
            (?P<unit>hour|hr|h\b|day|daily|week|wk|month|mo\b|year|yr|annum|task|order|review|like|rating|job|click|video|post)
          |(?P<adverb>hourly|daily|weekly|monthly|yearly|annually)
        )",
    )
    .expect("static regex")
});

static PERIOD_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)\b(?P<adverb>hourly|daily|weekly|monthly)\s+(?:salary|pay|income|wages?|earnings?|profit|commission)\s*(?:of|is|:|=)?\s*(?:up\s+to\s+|from\s+)?(?:\d[\d,.]*k?\s*(?:-|to|–)\s*)?$",
    )
    .expect("static regex")
});

/// Money amounts with currency and, when written right after them, the period ("$300/day", "£50 per task",
/// "5,000 dollars weekly", "$40-$60 an hour").
fn money(text: &str) -> Vec<Span<Money>> {
    let hay = Haystack::new(text);
    MONEY
        .pieces(&hay)
        .flat_map(|(offset, piece, money)| money.captures_iter(piece).map(move |c| (offset, c)))
        .filter_map(|(offset, c)| {
            let whole = c.get(0)?;
            let (start, end) = (offset + whole.start(), offset + whole.end());
            let (digits, decimals, thousands) = match c.name("a1") {
                Some(a) => (a.as_str(), c.name("d1"), c.name("k1").is_some()),
                None => (c.name("a2")?.as_str(), c.name("d2"), c.name("k2").is_some()),
            };
            let mut amount: f64 = digits.replace(',', "").parse().ok()?;
            if let Some(d) = decimals {
                amount += d.as_str().parse::<f64>().unwrap_or(0.0);
            }
            if thousands {
                amount *= 1000.0;
            }
            let marker = c.name("sym").or_else(|| c.name("word")).map(|m| m.as_str().to_lowercase())?;
            let currency = currency_code(&marker);
            let after = crate::normalize::truncate_at_char_boundary(&text[end..], 40);
            let mut period = PERIOD.captures(after).map_or(Period::Unspecified, |p| {
                period_of(p.name("unit").or_else(|| p.name("adverb")).map_or("", |m| m.as_str()))
            });
            if period == Period::Unspecified {
                // "Daily salary 200-800 USD": the period can also come first.
                let before = &text[..start];
                let from = before.len().saturating_sub(40);
                let from = (from..=before.len()).find(|&i| before.is_char_boundary(i)).unwrap_or(before.len());
                if let Some(p) = PERIOD_BEFORE.captures(&before[from..]) {
                    period = period_of(&p["adverb"]);
                }
            }
            Some(Span { start, end, value: Money { amount, currency, period } })
        })
        .collect()
}

fn currency_code(marker: &str) -> &'static str {
    match marker.trim_end_matches('.') {
        "€" | "eur" | "euro" | "euros" => "EUR",
        "£" | "gbp" | "pound" | "pounds" => "GBP",
        "₹" | "inr" | "rs" | "rupee" | "rupees" => "INR",
        "₦" | "ngn" | "naira" => "NGN",
        "aed" | "dirham" | "dirhams" => "AED",
        "php" => "PHP",
        "aud" | "a$" => "AUD",
        "cad" | "c$" => "CAD",
        "sgd" => "SGD",
        "usdt" => "USDT",
        _ => "USD",
    }
}

fn period_of(unit: &str) -> Period {
    match unit.to_lowercase().as_str() {
        "hour" | "hr" | "h" | "hourly" => Period::Hour,
        "day" | "daily" => Period::Day,
        "week" | "wk" | "weekly" => Period::Week,
        "month" | "mo" | "monthly" => Period::Month,
        "year" | "yr" | "annum" | "yearly" | "annually" => Period::Year,
        "" => Period::Unspecified,
        _ => Period::Task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_with_and_without_scheme() {
        let e = Entities::extract("Join https://t.me/hr_jobs or bit.ly/3xYz now, site www.Acme.com/careers");
        let hosts: Vec<_> = e.urls.iter().map(|u| u.value.host.as_str()).collect();
        assert_eq!(hosts, ["t.me", "bit.ly", "acme.com"]);
    }

    #[test]
    fn emails_are_found_and_lowercased() {
        let e = Entities::extract("Send your CV to Amazon.HR.Team@Gmail.com today");
        assert_eq!(e.emails[0].value, "amazon.hr.team@gmail.com");
    }

    #[test]
    fn phones_whatsapp_addresses_and_wa_me_links() {
        let text = "Text whatsapp:+14155238886 or call (213) 373-4253, or wa.me/447700900123";
        let e = Entities::extract(text);
        let numbers: Vec<_> = e.phones.iter().map(|p| (p.value.number.as_str(), p.value.whatsapp)).collect();
        assert_eq!(numbers, [("+14155238886", true), ("+12133734253", false), ("+447700900123", true)]);
        assert_eq!(&text[e.phones[0].start..e.phones[0].end], "whatsapp:+14155238886");
    }

    #[test]
    fn money_with_periods_and_currencies() {
        let e = Entities::extract(
            "Work 2 hours 40 min. Earn $300/day, £50 per task, 5,000 dollars weekly, $40-$60 an hour, salary $85k, ₹2000 daily, $12.50, \
             daily salary 200-800 USD",
        );
        let got: Vec<_> = e.money.iter().map(|m| (m.value.amount, m.value.currency, m.value.period)).collect();
        assert_eq!(
            got,
            [
                (300.0, "USD", Period::Day),
                (50.0, "GBP", Period::Task),
                (5000.0, "USD", Period::Week),
                (40.0, "USD", Period::Hour),
                (60.0, "USD", Period::Hour),
                (85000.0, "USD", Period::Unspecified),
                (2000.0, "INR", Period::Day),
                (12.5, "USD", Period::Unspecified),
                (800.0, "USD", Period::Day),
            ]
        );
    }

    #[test]
    fn money_is_found_line_by_line_in_text_with_accented_words() {
        // Accented text is searched in runs of lines (see `crate::pattern`); offsets stay those of the whole text.
        let text = "Posición: asistente\nPay: $ 300/day\nBono: 50 euros\nTotal: 7\nUSD";
        let e = Entities::extract(text);
        let got: Vec<_> = e.money.iter().map(|m| (&text[m.start..m.end], m.value.amount, m.value.period)).collect();
        assert_eq!(got, [("$ 300", 300.0, Period::Day), ("50 euros", 50.0, Period::Unspecified)]);
    }

    #[test]
    fn dates_and_money_are_not_phone_numbers() {
        let e = Entities::extract("Posted 2024-01-15, salary $1,500,000 and ID 12345");
        assert!(e.phones.is_empty(), "{:?}", e.phones);
    }

    #[test]
    fn masked_emscad_tokens() {
        let e = Entities::extract(
            "Email #EMAIL_0b13a2cfd4718ce252c09b2353d692a73bd32552e922c5db6cad5fb7e9a2c6c3# or visit #URL_abcdef12#",
        );
        let kinds: Vec<_> = e.masked.iter().map(|m| m.value).collect();
        assert_eq!(kinds, [Masked::Email, Masked::Url]);
        assert_eq!(e.contact_counts(), (1, 1, 0));
    }
}
