//! A rule pattern with a fast path for text that is not plain ASCII.
//!
//! Patterns use Unicode word boundaries (`\b`) so that "résumé" or "seçildiniz" are words. The regex crate's DFAs
//! cannot evaluate a Unicode `\b` once they meet a non-ASCII byte, so on such text every search falls back to the
//! PikeVM: a 3 KB posting with a dozen curly apostrophes took about 8 ms of rule matching instead of 0.4 ms. A
//! copy of the pattern without its word boundaries matches wherever the pattern does (dropping a zero-width
//! assertion only relaxes it) and runs on the DFA whatever the text, so it answers "no match" fast, and the exact
//! pattern runs only where the copy matched. ASCII text skips the copy: the exact pattern is fast there already.
//! Compiling the copies costs about as much CPU as the patterns themselves (100+ ms), more than a single check
//! saves, so they are compiled on a background thread ([`prepare_in_background`]) and used once ready: a one-shot
//! CLI check never waits for them, and a batch, the desktop app or the bridge gets them within a fraction of a
//! second.
//! Switching patterns to ASCII word boundaries instead would be faster still, but wrong at every accented letter
//! at the edge of a word ("résumé", "çalışma").

use std::sync::{Arc, OnceLock};

use regex::{Match, Regex, RegexBuilder};

#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    exact: Regex,
    /// The pattern without `\b`/`\B`, shared by clones (rules share the job-word lists): unset until compiled,
    /// then `None` when the pattern has no word boundary or its copy would not compile.
    relaxed: Arc<OnceLock<Option<Regex>>>,
}

impl Pattern {
    /// Case-insensitive and Unicode-aware, and bounded in size so a hostile rules file cannot blow up memory.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Pattern { exact: regex(pattern)?, relaxed: Arc::default() })
    }

    /// Compile the copy (once; later calls return it).
    fn prepare(&self) -> Option<&Regex> {
        self.relaxed.get_or_init(|| without_word_boundaries(self.exact.as_str()).and_then(|p| regex(&p).ok())).as_ref()
    }

    /// False when the pattern certainly does not match `text`. Until the copy is ready, anything may match.
    fn may_match(&self, text: &str) -> bool {
        text.is_ascii() || self.relaxed.get().and_then(Option::as_ref).is_none_or(|r| r.is_match(text))
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.may_match(text) && self.exact.is_match(text)
    }

    pub fn find_iter<'t>(&self, text: &'t str) -> impl Iterator<Item = Match<'t>> {
        self.may_match(text).then(|| self.exact.find_iter(text)).into_iter().flatten()
    }
}

fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(true).size_limit(4 << 20).build()
}

/// Compile the copies of `patterns` on a thread of their own; results are the same before and after.
pub(crate) fn prepare_in_background(patterns: Vec<Pattern>) {
    let spawned = std::thread::Builder::new().name("rules-prepare".into()).spawn(move || {
        for p in &patterns {
            p.prepare();
        }
    });
    // Without the thread the exact patterns still answer, only slower on non-ASCII text.
    if let Err(e) = spawned {
        tracing::debug!("rule copies not prepared: {e}");
    }
}

/// `pattern` with every `\b` and `\B` removed, or `None` if it has none or uses a form this does not rewrite
/// (`\b{start}` and the like). Escaped backslashes (`\\b` is a backslash and a "b") are kept.
fn without_word_boundaries(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut removed = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b' | 'B') if chars.peek() == Some(&'{') => return None,
            Some('b' | 'B') => removed = true,
            Some(escaped) => {
                out.push('\\');
                out.push(escaped);
            }
            None => out.push('\\'),
        }
    }
    removed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Pattern {
        let pattern = Pattern::new(p).expect("compiles");
        pattern.prepare();
        pattern
    }

    #[test]
    fn word_boundaries_are_dropped_and_escapes_kept() {
        assert_eq!(without_word_boundaries(r"\bfee\b").as_deref(), Some("fee"));
        assert_eq!(without_word_boundaries(r"\Bing\s+\d").as_deref(), Some(r"ing\s+\d"));
        assert_eq!(without_word_boundaries(r"a\\b").as_deref(), None, "a backslash and a b, no boundary");
        assert_eq!(without_word_boundaries(r"\\\bx").as_deref(), Some(r"\\x"));
        assert_eq!(without_word_boundaries(r"\b{start}word"), None);
        assert_eq!(without_word_boundaries("plain"), None);
    }

    #[test]
    fn before_its_copy_is_ready_a_pattern_still_matches_exactly() {
        let p = Pattern::new(r"\bfee\b").expect("compiles");
        assert!(p.relaxed.get().is_none());
        assert_eq!(p.find_iter("’ a fee, coffee").map(|m| m.start()).collect::<Vec<_>>(), vec![6]);
        assert!(p.prepare().is_some() && p.is_match("’ fee") && !p.is_match("’ coffee"));
    }

    #[test]
    fn matches_are_the_exact_patterns_on_any_text() {
        let p = pattern(r"\b(?:résumé|[cç]al[ıi][sş]\w*|fee)\b");
        for (text, want) in [
            ("Send your résumé today", vec!["résumé"]),
            ("Evden çalışın ’ and coffee", vec!["çalışın"]),
            ("a fee ’ or two fees, and the fee", vec!["fee", "fee"]),
            ("café feelings ’", vec![]),
            ("plain ascii fee", vec!["fee"]),
        ] {
            let found: Vec<&str> = p.find_iter(text).map(|m| m.as_str()).collect();
            assert_eq!(found, want, "{text:?}");
            assert_eq!(p.is_match(text), !want.is_empty(), "{text:?}");
        }
        // The relaxed copy matches inside "feelings"; the exact pattern decides.
        assert!(p.prepare().is_some_and(|r| r.is_match("café feelings ’")));
    }
}
