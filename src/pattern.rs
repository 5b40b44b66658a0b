//! Regular expressions that stay on the regex crate's fast engines whatever the text.
//!
//! Rules and the extractors use Unicode word boundaries (`\b`) so that "résumé" or "seçildiniz" are words. The
//! regex crate's DFAs cannot evaluate a Unicode `\b` once they meet a non-ASCII byte, so on such text a search
//! falls back to the PikeVM or the backtracker: one curly apostrophe or bullet in a 3 KB posting (more than half of
//! the job-board postings have one) made it about three times slower to analyse. Each [`Pattern`] therefore keeps
//! two rewritten copies, and a [`Haystack`] says once per text which one is exact for it:
//!
//! - **ASCII boundaries** (`(?-u:\b)`): where every word character of the text is ASCII, a Unicode word boundary
//!   and an ASCII one are the same positions (typographic quotes, bullets, dashes, emoji and currency signs are not
//!   word characters under either), so this copy finds exactly the pattern's matches, on the DFA. That is the
//!   usual English posting, curly quotes and all.
//! - **No boundaries**: dropping a zero-width assertion only relaxes a pattern, so this copy matches wherever the
//!   pattern does and runs on the DFA on any text. On text with non-ASCII letters it answers "no match" fast, and
//!   the exact pattern runs only where the copy matched.
//!
//! ASCII text needs neither: the exact pattern is fast there already. The copies are rewritten on the regex
//! crate's own syntax tree (regex-syntax), not on the pattern's text, so escapes and classes cannot be misread.
//! Compiling them costs about as much as the patterns themselves, more than a single check saves, so the rules'
//! copies are compiled on a background thread ([`prepare_in_background`]) and used once ready: a one-shot CLI
//! check never waits for them, and a batch, the desktop app or the bridge gets them within a fraction of a second.

use std::sync::{Arc, OnceLock};

use regex::{Match, Regex, RegexBuilder};
use regex_syntax::ast::{self, AssertionKind, Ast};

/// A text to search, with what its characters allow (worked out once, then shared by every pattern).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Haystack<'t> {
    text: &'t str,
    kind: TextKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Ascii,
    /// Not ASCII, but every word character is: Unicode and ASCII word boundaries agree.
    AsciiWords,
    Unicode,
}

impl<'t> Haystack<'t> {
    pub fn new(text: &'t str) -> Self {
        let kind = if text.is_ascii() {
            TextKind::Ascii
        } else if text.chars().any(|c| !c.is_ascii() && is_word_character(c)) {
            TextKind::Unicode
        } else {
            TextKind::AsciiWords
        };
        Haystack { text, kind }
    }

    pub fn as_str(&self) -> &'t str {
        self.text
    }
}

/// The regex crate's own definition of a word character (`\w`), so boundaries agree with its `\b`; if the tables
/// are missing, every non-ASCII character counts as one, which only sends the text down the exact path.
fn is_word_character(c: char) -> bool {
    regex_syntax::try_is_word_character(c).unwrap_or(true)
}

#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    exact: Regex,
    case_insensitive: bool,
    /// Shared by clones (rules share the job-word lists): unset until compiled.
    copies: Arc<OnceLock<Copies>>,
}

/// Either copy is `None` when the pattern has no word boundary or the copy would not compile.
#[derive(Debug)]
struct Copies {
    ascii_boundaries: Option<Regex>,
    no_boundaries: Option<Regex>,
}

impl Pattern {
    /// Case-insensitive and Unicode-aware: the rules' phrases.
    pub fn case_insensitive(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Pattern { exact: build(pattern, true)?, case_insensitive: true, copies: Arc::default() })
    }

    /// As written, with its copies compiled now: for the extractors' few fixed patterns.
    pub fn prepared(pattern: &str) -> Result<Self, regex::Error> {
        let pattern = Pattern { exact: build(pattern, false)?, case_insensitive: false, copies: Arc::default() };
        pattern.prepare();
        Ok(pattern)
    }

    /// Compile the copies (once; later calls return them).
    fn prepare(&self) -> &Copies {
        self.copies.get_or_init(|| {
            let ast = ast::parse::Parser::new().parse(self.exact.as_str()).ok();
            let copy = |rewrite: fn(Ast) -> Ast| {
                let mut ast = ast.clone()?;
                if !rewrite_word_boundaries(&mut ast, rewrite) {
                    return None;
                }
                let mut rewritten = String::new();
                ast::print::Printer::new().print(&ast, &mut rewritten).ok()?;
                build(&rewritten, self.case_insensitive).ok()
            };
            Copies { ascii_boundaries: copy(ascii_only), no_boundaries: copy(|_| Ast::empty(ast::Span::splat(POS))) }
        })
    }

    /// The regex that finds exactly this pattern's matches in `hay`, or `None` when it certainly has none. Until the
    /// copies are ready, the exact pattern.
    pub fn regex_for(&self, hay: &Haystack) -> Option<&Regex> {
        let Some(copies) = self.copies.get().filter(|_| hay.kind != TextKind::Ascii) else {
            return Some(&self.exact);
        };
        match (&copies.ascii_boundaries, &copies.no_boundaries) {
            (Some(ascii), _) if hay.kind == TextKind::AsciiWords => Some(ascii),
            (_, Some(relaxed)) if !relaxed.is_match(hay.text) => None,
            _ => Some(&self.exact),
        }
    }

    pub fn is_match(&self, hay: &Haystack) -> bool {
        self.regex_for(hay).is_some_and(|r| r.is_match(hay.text))
    }

    pub fn find_iter<'t>(&self, hay: &Haystack<'t>) -> impl Iterator<Item = Match<'t>> {
        let text = hay.text;
        self.regex_for(hay).map(|r| r.find_iter(text)).into_iter().flatten()
    }
}

const POS: ast::Position = ast::Position { offset: 0, line: 1, column: 1 };

/// Bounded in size so a hostile rules file cannot blow up memory.
fn build(pattern: &str, case_insensitive: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(case_insensitive).size_limit(4 << 20).build()
}

fn is_anchor(kind: &AssertionKind) -> bool {
    matches!(
        kind,
        AssertionKind::StartLine | AssertionKind::EndLine | AssertionKind::StartText | AssertionKind::EndText
    )
}

/// A word-boundary assertion made ASCII: `(?-u:\b)`.
fn ascii_only(assertion: Ast) -> Ast {
    let span = ast::Span::splat(POS);
    let flags = ast::Flags {
        span,
        items: vec![
            ast::FlagsItem { span, kind: ast::FlagsItemKind::Negation },
            ast::FlagsItem { span, kind: ast::FlagsItemKind::Flag(ast::Flag::Unicode) },
        ],
    };
    Ast::group(ast::Group { span, kind: ast::GroupKind::NonCapturing(flags), ast: Box::new(assertion) })
}

/// Replace every word-boundary assertion in `ast` (`\b`, `\B`, `\b{start}`, `\<` ...) by `rewrite(it)`; true if
/// there was any.
fn rewrite_word_boundaries(ast: &mut Ast, rewrite: fn(Ast) -> Ast) -> bool {
    match ast {
        Ast::Assertion(a) if !is_anchor(&a.kind) => {
            let assertion = std::mem::replace(ast, Ast::empty(ast::Span::splat(POS)));
            *ast = rewrite(assertion);
            true
        }
        Ast::Repetition(r) => rewrite_word_boundaries(&mut r.ast, rewrite),
        Ast::Group(g) => rewrite_word_boundaries(&mut g.ast, rewrite),
        Ast::Alternation(a) => a.asts.iter_mut().fold(false, |any, a| rewrite_word_boundaries(a, rewrite) | any),
        Ast::Concat(c) => c.asts.iter_mut().fold(false, |any, a| rewrite_word_boundaries(a, rewrite) | any),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn copies(p: &str) -> (Option<String>, Option<String>) {
        let pattern = Pattern::prepared(p).expect("compiles");
        let copies = pattern.prepare();
        (
            copies.ascii_boundaries.as_ref().map(|r| r.as_str().to_string()),
            copies.no_boundaries.as_ref().map(|r| r.as_str().to_string()),
        )
    }

    #[test]
    fn copies_rewrite_word_boundaries_only() {
        assert_eq!(copies(r"\bfee\b"), (Some(r"(?-u:\b)fee(?-u:\b)".into()), Some("fee".into())));
        assert_eq!(copies(r"^\Bing\s+\d$").1.as_deref(), Some(r"^ing\s+\d$"), "anchors are not word boundaries");
        assert_eq!(copies(r"a\\b[\d\\]"), (None, None), "a backslash and a b, no boundary");
        assert_eq!(copies(r"(?x) \b (?P<n> x | y\b{end} ) # note").1.as_deref(), Some("(?x)(?P<n>x|y)"));
        assert_eq!(copies("plain"), (None, None));
    }

    #[test]
    fn a_text_says_which_boundaries_agree() {
        assert_eq!(Haystack::new("plain fee").kind, TextKind::Ascii);
        assert_eq!(Haystack::new("don’t • pay a fee — 💸 €5").kind, TextKind::AsciiWords);
        assert_eq!(Haystack::new("send your résumé").kind, TextKind::Unicode);
        assert_eq!(Haystack::new("x\u{200d}y").kind, TextKind::Unicode, "a joiner is a word character to regex");
    }

    #[test]
    fn each_kind_of_text_gets_its_engine() {
        let p = Pattern::case_insensitive(r"\bfee\b").expect("compiles");
        let exact = |r: Option<&Regex>| r.map(|r| r.as_str().to_string());
        assert_eq!(exact(p.regex_for(&Haystack::new("’ fee"))), Some(r"\bfee\b".into()), "copies not ready yet");
        p.prepare();
        assert_eq!(exact(p.regex_for(&Haystack::new("a fee"))), Some(r"\bfee\b".into()));
        assert_eq!(exact(p.regex_for(&Haystack::new("’ fee"))), Some(r"(?-u:\b)fee(?-u:\b)".into()));
        assert_eq!(exact(p.regex_for(&Haystack::new("é fee"))), Some(r"\bfee\b".into()));
        assert_eq!(exact(p.regex_for(&Haystack::new("é coffee"))), Some(r"\bfee\b".into()), "the relaxed copy matched");
        assert_eq!(exact(p.regex_for(&Haystack::new("é café"))), None);
    }

    #[test]
    fn matches_are_the_exact_patterns_on_any_text() {
        let p = Pattern::case_insensitive(r"\b(?:résumé|[cç]al[ıi][sş]\w*|fee|k)\b").expect("compiles");
        let texts = [
            ("Send your résumé today", vec!["résumé"]),
            ("Evden çalışın ’ and coffee", vec!["çalışın"]),
            ("a fee ’ or two fees, and the FEE", vec!["fee", "FEE"]),
            ("café feelings ’", vec![]),
            ("feeé fee’ éfee", vec!["fee"]),
            ("plain ascii fee", vec!["fee"]),
            ("the Kelvin sign \u{212a} is a k", vec!["\u{212a}", "k"]),
        ];
        for prepared in [false, true] {
            if prepared {
                p.prepare();
            }
            for (text, want) in &texts {
                let hay = Haystack::new(text);
                let found: Vec<&str> = p.find_iter(&hay).map(|m| m.as_str()).collect();
                assert_eq!(&found, want, "{text:?}");
                assert_eq!(p.is_match(&hay), !want.is_empty(), "{text:?}");
            }
        }
    }
}
