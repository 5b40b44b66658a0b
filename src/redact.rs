//! Redaction: what leaves the machine when a verdict is escalated to an LLM.
//!
//! Personal data is replaced by typed placeholders (`[EMAIL]`, `[PHONE]`, `[IBAN]`, `[CARD]`, `[SSN]`,
//! `[NUMBER]`, `[NAME]`) before any text is sent. Link domains stay (a lookalike domain is the evidence) but query
//! strings, fragments and user-info go, and numbers inside a link path are redacted like any other number
//! (`wa.me/447700900123` becomes `wa.me/[PHONE]`).
//!
//! The rule is deliberately blunt: any run of seven or more digits (with single spaces, dashes, dots or brackets
//! between them) is a number that could identify someone, whatever it is, unless it reads as a date. Money amounts
//! survive because thousands separators (`120,000`) break the run and amounts rarely reach seven digits. A
//! redacted text keeps a map back to the original, so an LLM's quote of the redacted text can be highlighted in
//! the person's own words.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::extract::Entities;

/// What a placeholder hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Email,
    Phone,
    Iban,
    Card,
    Ssn,
    Number,
    Name,
    /// A link whose query string, fragment, user-info or embedded numbers were cut.
    Link,
}

impl Kind {
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[EMAIL]",
            Kind::Phone => "[PHONE]",
            Kind::Iban => "[IBAN]",
            Kind::Card => "[CARD]",
            Kind::Ssn => "[SSN]",
            Kind::Number => "[NUMBER]",
            Kind::Name => "[NAME]",
            Kind::Link => "",
        }
    }
}

/// One replacement: where it was in the original and where its placeholder is in the redacted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub kind: Kind,
    pub original: Range<usize>,
    pub redacted: Range<usize>,
}

/// A text with personal data replaced, and the map back to the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redacted {
    pub text: String,
    pub pieces: Vec<Piece>,
}

impl Redacted {
    /// The original range that a range of the redacted text covers; a bound inside a placeholder widens to the
    /// whole redacted item, so a quote that includes `[PHONE]` highlights the number it hides.
    pub fn to_original(&self, range: Range<usize>) -> Range<usize> {
        self.map(range.start, false)..self.map(range.end, true)
    }

    fn map(&self, offset: usize, is_end: bool) -> usize {
        let mut shift: isize = 0;
        for p in &self.pieces {
            // A bound at a placeholder's start is outside it: the quote ends before it, or starts with it.
            if offset <= p.redacted.start {
                break;
            }
            if offset < p.redacted.end {
                return if is_end { p.original.end } else { p.original.start };
            }
            shift = p.original.end as isize - p.redacted.end as isize;
        }
        offset.saturating_add_signed(shift)
    }

    /// How many items of each kind were hidden, for `--show-outbound`.
    pub fn counts(&self) -> Vec<(Kind, usize)> {
        let mut counts: Vec<(Kind, usize)> = Vec::new();
        for p in &self.pieces {
            match counts.iter_mut().find(|(k, _)| *k == p.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((p.kind, 1)),
            }
        }
        counts
    }
}

/// Redacts text. Built once from the configured names (the user's own name is personal data too).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    names: Option<Regex>,
}

impl Redactor {
    /// `names` are the user's own names ("Jane Doe"): the whole name and each part of two or more letters is
    /// replaced, case-insensitively, on word boundaries.
    pub fn new(names: &[String]) -> Self {
        let mut parts: Vec<String> = Vec::new();
        for name in names {
            let name = name.trim();
            if name.chars().count() >= 2 {
                parts.push(name.to_string());
            }
            parts.extend(name.split_whitespace().filter(|p| p.chars().count() >= 2).map(str::to_string));
            // Handles glue the parts together: @janedoe, JaneDoe92.
            if name.split_whitespace().count() > 1 {
                parts.push(name.split_whitespace().collect::<String>());
            }
        }
        // Longest first so "Jane Doe" wins over "Jane" in the alternation.
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts.dedup();
        let names = (!parts.is_empty()).then(|| {
            let alternation: Vec<String> = parts.iter().map(|p| regex::escape(p)).collect();
            // Bounded by anything but a letter, not by `\b`, so `@jane_doe` and `jane92` are caught too.
            Regex::new(&format!(r"(?i)(?P<pre>^|[^\p{{L}}])(?P<name>{})(?:$|[^\p{{L}}])", alternation.join("|"))).ok()
        });
        Redactor { names: names.flatten() }
    }

    pub fn redact(&self, text: &str) -> Redacted {
        let mut found: Vec<(Range<usize>, Kind, String)> = Vec::new();
        let entities = Entities::extract(text);
        let in_link = |r: &Range<usize>| entities.urls.iter().any(|u| u.start < r.end && r.start < u.end);

        for u in &entities.urls {
            let original = &text[u.start..u.end];
            let cleaned = self.clean_link(original, u.value.host == "wa.me" || u.value.host == "api.whatsapp.com");
            if cleaned != original {
                found.push((u.start..u.end, Kind::Link, cleaned));
            }
        }
        for e in &entities.emails {
            found.push((e.start..e.end, Kind::Email, Kind::Email.placeholder().into()));
        }
        for p in &entities.phones {
            if !in_link(&(p.start..p.end)) {
                found.push((p.start..p.end, Kind::Phone, Kind::Phone.placeholder().into()));
            }
        }
        for m in IBAN.find_iter(text) {
            found.push((m.range(), Kind::Iban, Kind::Iban.placeholder().into()));
        }
        for c in LABELLED_NUMBER.captures_iter(text) {
            if let Some(m) = c.get(1) {
                let kind = classify_digits(m.as_str()).unwrap_or(Kind::Number);
                found.push((m.range(), kind, kind.placeholder().into()));
            }
        }
        for m in DIGIT_RUN.find_iter(text) {
            if let Some(kind) = classify_digits(m.as_str()) {
                found.push((m.range(), kind, kind.placeholder().into()));
            }
        }
        if let Some(names) = &self.names {
            for m in name_matches(names, text) {
                found.push((m, Kind::Name, Kind::Name.placeholder().into()));
            }
        }

        // Earliest first, and at one start the longest; an item overlapping one already taken is dropped (it is
        // inside something redacted already).
        found.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
        let mut out = String::with_capacity(text.len());
        let mut pieces = Vec::new();
        let mut at = 0;
        for (range, kind, replacement) in found {
            if range.start < at {
                continue;
            }
            out.push_str(&text[at..range.start]);
            let start = out.len();
            out.push_str(&replacement);
            pieces.push(Piece { kind, original: range.clone(), redacted: start..out.len() });
            at = range.end;
        }
        out.push_str(&text[at..]);
        Redacted { text: out, pieces }
    }
}

impl Redactor {
    /// A link without query string, fragment or user-info, with numbers, e-mail addresses and the user's names in
    /// its path redacted by the same rules as the text around it (a link is one match, so those rules would
    /// otherwise never see inside it).
    fn clean_link(&self, link: &str, whatsapp: bool) -> String {
        let cut = link.find(['?', '#']).unwrap_or(link.len());
        let mut kept = link[..cut].to_string();
        // user:password@host — the part before @ in the authority is personal.
        let authority_start = kept.find("://").map_or(0, |i| i + 3);
        let authority_end = kept[authority_start..].find('/').map_or(kept.len(), |i| authority_start + i);
        if let Some(at) = kept[authority_start..authority_end].rfind('@') {
            kept.replace_range(authority_start..authority_start + at + 1, "");
        }
        let kept = DIGIT_RUN.replace_all(&kept, |c: &regex::Captures<'_>| match classify_digits(&c[0]) {
            Some(_) if whatsapp => Kind::Phone.placeholder().to_string(),
            Some(kind) => kind.placeholder().to_string(),
            None => c[0].to_string(),
        });
        let kept = EMAIL_IN_LINK.replace_all(&kept, Kind::Email.placeholder()).into_owned();
        let Some(names) = &self.names else { return kept };
        let mut out = String::with_capacity(kept.len());
        let mut at = 0;
        for m in name_matches(names, &kept) {
            out.push_str(&kept[at..m.start]);
            out.push_str(Kind::Name.placeholder());
            at = m.end;
        }
        out.push_str(&kept[at..]);
        out
    }
}

/// Where the names are. Neighbouring matches share their boundary character, so each search resumes at the
/// previous name's end rather than after the consumed boundary.
fn name_matches(names: &Regex, text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(m) = names.captures_at(text, at).and_then(|c| c.name("name")) {
        found.push(m.range());
        at = m.end();
    }
    found
}

/// What a run of digits is: a card (Luhn-valid, 13–19 digits), an SSN-shaped number, any other number of seven
/// or more digits, or nothing to hide (a date).
fn classify_digits(run: &str) -> Option<Kind> {
    // `\d` matches every script's digits (Arabic-Indic, Devanagari...); count them all, Luhn only on ASCII.
    let count = run.chars().filter(|c| c.is_numeric()).count();
    let digits: Vec<u32> = run.chars().filter_map(|c| c.to_digit(10)).collect();
    if count < 7 || DATE.is_match(run) {
        return None;
    }
    if SSN.is_match(run) {
        return Some(Kind::Ssn);
    }
    if digits.len() == count && (13..=19).contains(&digits.len()) && luhn(&digits) {
        return Some(Kind::Card);
    }
    Some(Kind::Number)
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum % 10 == 0
}

static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d(?:[ \-.()]{0,2}\d){6,}").expect("static regex"));
static EMAIL_IN_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}").expect("static regex"));
static SSN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{3}[- ]\d{2}[- ]\d{4}$").expect("static regex"));
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}$|^\d{1,2}[-./ ]\d{1,2}[-./ ]\d{4}$").expect("static regex")
});
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b").expect("static regex"));
/// Short numbers that are personal because of their label ("account no. 4471", "employee ID: 90210").
static LABELLED_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:account|acct|a/c|routing|sort code|member(?:ship)? id|employee id|passport|licen[cs]e|ssn|social security)\b(?:\s*(?:no\.?|number|#|:))*\s*(\d[\d \-]{2,}\d)",
    )
    .expect("static regex")
});

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::default().redact(text).text
    }

    #[test]
    fn contacts_and_numbers_become_typed_placeholders() {
        let text = "Mail jane.doe@gmail.com or WhatsApp +1 (415) 523-8886. Card 4111 1111 1111 1111, SSN 123-45-6789, \
                    IBAN GB29 NWBK 6016 1331 9268 19, account no. 4471, ref 20931188.";
        let out = redact(text);
        assert_eq!(
            out,
            "Mail [EMAIL] or WhatsApp [PHONE]. Card [CARD], SSN [SSN], IBAN [IBAN], account no. [NUMBER], ref [NUMBER]."
        );
    }

    #[test]
    fn links_keep_their_domain_and_lose_queries_and_numbers() {
        let out = redact("Apply at https://hr-portal.example/apply?ref=jane@x.com&id=77 or wa.me/447700900123 now");
        assert_eq!(out, "Apply at https://hr-portal.example/apply or wa.me/[PHONE] now");
        let out = redact("login at http://bob:secret@pay.example/u/9981234567#top");
        assert_eq!(out, "login at http://pay.example/u/[NUMBER]");
    }

    #[test]
    fn money_dates_and_short_numbers_stay() {
        let text = "Earn $300/day, $120,000 a year, start 2024-01-15, 5 tasks, zip 94103.";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn the_users_own_name_is_redacted_whole_and_in_parts() {
        let r = Redactor::new(&["Jane Doe".to_string()]);
        assert_eq!(
            r.redact("Dear Jane, Jane Doe was selected. DOE!").text,
            "Dear [NAME], [NAME] was selected. [NAME]!"
        );
        assert_eq!(r.redact("Janet is not Jane").text, "Janet is not [NAME]");
    }

    #[test]
    fn no_digit_run_or_address_survives() {
        let text = "call 555 123 4567 or +44 7700 900123, mail a@b.co, bank 12345678901, wa.me/15551234567?text=hi";
        let out = redact(text);
        assert!(!out.contains('@'), "{out}");
        let digits = out.chars().filter(char::is_ascii_digit).count();
        assert_eq!(digits, 0, "{out}");
    }

    #[test]
    fn redacted_ranges_map_back_to_the_original() {
        let text = "Text +1 415 523 8886 today, ask for Mr Lee";
        let r = Redactor::default().redact(text);
        assert_eq!(r.text, "Text [PHONE] today, ask for Mr Lee");
        // A quote after the placeholder maps by the length difference.
        let quote = r.text.find("today").expect("quote");
        let orig = r.to_original(quote..quote + 5);
        assert_eq!(&text[orig], "today");
        // A quote covering the placeholder maps to the number it hides.
        let q = r.text.find("Text [PHONE]").expect("quote");
        let orig = r.to_original(q..q + "Text [PHONE]".len());
        assert_eq!(&text[orig], "Text +1 415 523 8886");
        // Before any piece nothing moves, even a quote ending right where a placeholder starts.
        assert_eq!(r.to_original(0..4), 0..4);
        assert_eq!(r.to_original(0..5), 0..5);
        assert_eq!(r.counts(), vec![(Kind::Phone, 1)]);
    }

    #[test]
    fn numbers_and_names_inside_links_and_handles_are_caught() {
        let r = Redactor::new(&["Jane Doe".to_string()]);
        assert_eq!(r.redact("call https://x.com/call/0171-234-5678?a=1").text, "call https://x.com/call/[NUMBER]");
        assert_eq!(r.redact("see linkedin.com/in/jane-doe?trk=x").text, "see linkedin.com/in/[NAME]-[NAME]");
        assert_eq!(r.redact("ask @jane_doe or JaneDoe92").text, "ask @[NAME]_[NAME] or [NAME]92");
        assert_eq!(redact("رقم ٠٧٧٠٠٩٠٠١٢٣ now"), "رقم [NUMBER] now");
    }

    #[test]
    fn luhn_checks_cards() {
        let digits = |s: &str| s.chars().filter_map(|c| c.to_digit(10)).collect::<Vec<_>>();
        assert!(luhn(&digits("4111111111111111")));
        assert!(!luhn(&digits("4111111111111112")));
    }
}
