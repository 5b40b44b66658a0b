//! Normalisation: whatever people paste becomes one plain, stable text that rules, the model and evidence offsets
//! all agree on.
//!
//! Steps, in order: drop control characters; HTML to text when the input looks like HTML (block elements become line
//! breaks, link targets are kept as footnotes because a link is evidence), otherwise decode stray entities (`&amp;`
//! survives in EMSCAD); remove zero-width characters that scammers use to dodge filters; Unicode NFKC (fancy
//! letters such as `𝐞𝐚𝐫𝐧` become `earn`); split sentences that scraping glued together ("...City.Food52"); fold
//! whitespace. The result is bounded: past [`MAX_TEXT_BYTES`] only a window is analysed, and a note says so.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::pattern::{Haystack, Pattern};

/// Raw input accepted per document. Anything longer is cut before HTML conversion, so a 50 MB paste costs the same
/// as a 4 MB one.
pub const MAX_RAW_BYTES: usize = 4 * 1024 * 1024;

/// Normalised text analysed per document: a long posting is ~10 KB, so 256 KB is generous and keeps every input
/// at a few milliseconds.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// Width handed to the HTML renderer. Large, so paragraphs are not re-wrapped into artificial line breaks.
const HTML_WIDTH: usize = 10_000;

/// The result of cleaning one piece of text, with notes on anything a person should know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub text: String,
    pub notes: Vec<String>,
}

/// Clean one piece of raw text (a message, an e-mail body, one posting field).
pub fn clean(raw: &str) -> Cleaned {
    let mut notes = Vec::new();
    let raw = if raw.len() > MAX_RAW_BYTES {
        notes.push(format!(
            "the input is {}; only the first {} were read",
            human_bytes(raw.len()),
            human_bytes(MAX_RAW_BYTES)
        ));
        truncate_at_char_boundary(raw, MAX_RAW_BYTES)
    } else {
        raw
    };

    // Line breaks of every convention become '\n' before control characters are dropped, so old Mac ("\r") and
    // Unicode separators still separate lines.
    let without_controls: String = raw
        .replace("\r\n", "\n")
        .chars()
        .map(fix_line_breaks)
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let plain = if looks_like_html(&without_controls) {
        html_to_text(&without_controls)
    } else {
        html_escape::decode_html_entities(&without_controls).into_owned()
    };
    let visible: String = plain.chars().filter(|c| !is_invisible(*c)).collect();
    // Most text is already in NFKC (curly quotes and bullets are), and the quick check is several times cheaper
    // than normalising.
    let visible = match is_nfkc_quick(visible.chars()) {
        IsNormalized::Yes => visible,
        IsNormalized::No | IsNormalized::Maybe => visible.nfkc().collect(),
    };
    let unglued = unglue(&visible);
    Cleaned { text: fold_whitespace(&unglued), notes }
}

/// Cut `text` to the analysis window, at a character boundary, and say so.
pub fn bound(text: &mut String, notes: &mut Vec<String>) {
    if text.len() > MAX_TEXT_BYTES {
        notes.push(format!(
            "the text is {} after cleaning; only the first {} were analysed",
            human_bytes(text.len()),
            human_bytes(MAX_TEXT_BYTES)
        ));
        let cut = truncate_at_char_boundary(text, MAX_TEXT_BYTES).len();
        text.truncate(cut);
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn human_bytes(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n >= KIB * KIB {
        format!("{:.1} MB", n / (KIB * KIB))
    } else if n >= KIB {
        format!("{:.0} KB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

fn fix_line_breaks(c: char) -> char {
    // Unicode line and paragraph separators behave like newlines for people; keep them as such.
    match c {
        '\r' | '\u{2028}' | '\u{2029}' | '\u{0085}' => '\n',
        c => c,
    }
}

/// Zero-width and formatting characters that render as nothing but split words ("pa\u{200B}yment").
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

static HTML_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)<(?:!doctype|html|head|body|div|p|br|span|a\s|table|tr|td|li|ul|ol|h[1-6]|strong|b|i|em|font|section|article|header|footer|img|meta|style|script)\b[^>]{0,2000}>|</[a-z][a-z0-9]{0,10}\s*>",
    )
    .expect("static regex")
});

/// HTML is converted only when it looks like HTML, so a message that mentions "<3" or "a < b" is left alone.
pub fn looks_like_html(text: &str) -> bool {
    HTML_TAG.is_match(text)
}

/// Real pages nest a few dozen elements deep. The renderer's cost grows with depth times size, so a hostile or
/// broken document deeper than this is reduced to its words by stripping tags, which is linear.
const MAX_HTML_DEPTH: usize = 256;

fn html_to_text(html: &str) -> String {
    if nesting_depth(html) > MAX_HTML_DEPTH {
        return strip_tags(html);
    }
    let rendered = html2text::config::plain_no_decorate()
        .link_footnotes(true)
        .no_table_borders()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), HTML_WIDTH);
    match rendered {
        Ok(text) => text,
        // The renderer refuses only pathological layouts; stripping the tags still leaves the words to analyse.
        Err(_) => strip_tags(html),
    }
}

static ANY_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]{0,2000}>").expect("static regex"));

/// An upper estimate of element nesting: opening tags minus closing tags, ignoring void elements.
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for tag in ANY_TAG.find_iter(html).map(|m| m.as_str()) {
        let name: String =
            tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!').collect();
        let name = name.to_ascii_lowercase();
        if name.starts_with('/') {
            depth = depth.saturating_sub(1);
        } else if !(tag.ends_with("/>")
            || name.starts_with('!')
            || matches!(
                name.as_str(),
                "br" | "img" | "hr" | "meta" | "link" | "input" | "wbr" | "col" | "area" | "base" | "source"
            ))
        {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

fn strip_tags(html: &str) -> String {
    html_escape::decode_html_entities(&ANY_TAG.replace_all(html, "\n")).into_owned()
}

/// Scraped postings lose their block structure: "...in New York City.Food52 is hiring" or "counts!)Familiar with".
/// A sentence end glued to a capitalised word, or a lower-case word glued to one ("aestheticLoves"), becomes a
/// line break. The lower-case run must start a word and be 4+ letters so brand names (LinkedIn, iPhone, eBay,
/// JavaScript) stay whole.
static GLUED: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::prepared(r"(\b[a-z]{4,}|[a-z0-9)%][.!?;]\)?|[a-z]\))([A-Z][a-z])").expect("static regex")
});

fn unglue(text: &str) -> String {
    GLUED.replace_all(&Haystack::new(text), "${1}\n${2}").into_owned()
}

/// Runs of spaces and tabs become one space, lines are trimmed, and blank lines collapse to one.
fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.lines() {
        let mut folded = String::with_capacity(line.len());
        for word in line.split_whitespace() {
            if !folded.is_empty() {
                folded.push(' ');
            }
            folded.push_str(word);
        }
        if folded.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&folded);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_lines_with_entities_decoded_and_links_kept() {
        let c = clean("<p>Earn &pound;300 a day</p><p>Apply <a href=\"https://bit.ly/x1\">here</a> &amp; now</p>");
        assert!(c.text.contains("Earn £300 a day\n"), "{:?}", c.text);
        assert!(c.text.contains("& now"), "{:?}", c.text);
        assert!(c.text.contains("https://bit.ly/x1"), "link target kept: {:?}", c.text);
    }

    #[test]
    fn plain_text_entities_are_decoded_without_touching_angle_brackets() {
        let c = clean("Salary &gt; $50k & benefits <3");
        assert_eq!(c.text, "Salary > $50k & benefits <3");
    }

    #[test]
    fn glued_sentences_are_split_but_brand_names_stay_whole() {
        let c = clean(
            "We are in New York City.Food52 is hiring. Blogging counts!)Familiar with LinkedIn and JavaScript aestheticLoves food",
        );
        assert!(c.text.contains("City.\nFood52"), "{:?}", c.text);
        assert!(c.text.contains("counts!)\nFamiliar"), "{:?}", c.text);
        assert!(c.text.contains("LinkedIn and JavaScript"), "{:?}", c.text);
        assert!(c.text.contains("aesthetic\nLoves"), "{:?}", c.text);
    }

    #[test]
    fn nfkc_and_invisible_characters() {
        let c = clean("𝐄𝐚𝐫𝐧 pa\u{200B}yment\u{FEFF} ﬁnal");
        assert_eq!(c.text, "Earn payment final");
    }

    #[test]
    fn every_line_break_convention_separates_lines() {
        assert_eq!(clean("a\r\nb\rc\u{2028}d\u{0085}e").text, "a\nb\nc\nd\ne");
    }

    #[test]
    fn whitespace_is_folded() {
        let c = clean("  a \t  b  \r\n\n\n\n  c  \n");
        assert_eq!(c.text, "a b\n\nc");
    }

    #[test]
    fn deeply_nested_html_does_not_overflow_the_stack() {
        let html = format!("{}scam text{}", "<div>".repeat(100_000), "</div>".repeat(10));
        let c = clean(&html);
        assert!(c.text.contains("scam text"), "{:?}", &c.text[..c.text.len().min(200)]);
    }

    #[test]
    fn malformed_html_still_yields_text() {
        let c = clean("<div><p>Pay the <b>starter kit fee</p></i><table><td>now</div>");
        assert!(c.text.contains("starter kit fee"), "{:?}", c.text);
        assert!(c.text.contains("now"), "{:?}", c.text);
    }

    #[test]
    fn oversized_input_is_cut_and_noted() {
        let raw = "é".repeat(MAX_RAW_BYTES); // two bytes each: twice the limit
        let mut c = clean(&raw);
        assert!(c.text.len() <= MAX_RAW_BYTES);
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        bound(&mut c.text, &mut c.notes);
        assert!(c.text.len() <= MAX_TEXT_BYTES);
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
    }
}
