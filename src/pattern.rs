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
//! Text with non-ASCII letters ("résumé", a Spanish message) is searched in runs of lines when no match of the
//! pattern can cross a line or be empty (most rules; checked on the pattern's HIR): runs of lines whose word
//! characters are all ASCII take the ASCII copy, and only the lines with such letters take the exact pattern.
//!
//! ASCII text needs no copy: the exact pattern is fast there already. The copies are rewritten on the regex
//! crate's own syntax tree (regex-syntax), not on the pattern's text, so escapes and classes cannot be misread.
//! Compiling them costs about as much as the patterns themselves, more than a single check saves, so the rules'
//! copies are compiled on a background thread ([`prepare_in_background`]) and used once ready: a one-shot CLI
//! check never waits for them, and a batch, the desktop app or the bridge gets them within a fraction of a second.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexBuilder};
use regex_syntax::ast::{self, AssertionKind, Ast};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A text to search, with what its characters allow (worked out once, then shared by every pattern).
#[derive(Debug)]
pub(crate) struct Haystack<'t> {
    text: &'t str,
    /// The whole text as one run, with its kind.
    whole: (Range<usize>, TextKind),
    /// For `Unicode` text: runs of whole lines, each run of one kind, so that only the lines with non-ASCII
    /// letters take the slow path. Worked out on first use.
    segments: OnceCell<Vec<(Range<usize>, TextKind)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Ascii,
    /// Not ASCII, but every word character is: Unicode and ASCII word boundaries agree.
    AsciiWords,
    Unicode,
}

impl TextKind {
    fn of(text: &str) -> Self {
        if text.is_ascii() {
            TextKind::Ascii
        } else if text.chars().any(|c| !c.is_ascii() && is_word_character(c)) {
            TextKind::Unicode
        } else {
            TextKind::AsciiWords
        }
    }
}

impl<'t> Haystack<'t> {
    pub fn new(text: &'t str) -> Self {
        Haystack { text, whole: (0..text.len(), TextKind::of(text)), segments: OnceCell::new() }
    }

    pub fn as_str(&self) -> &'t str {
        self.text
    }

    fn kind(&self) -> TextKind {
        self.whole.1
    }

    /// Consecutive lines (with their line breaks) grouped by whether they hold a non-ASCII word character.
    fn segments(&self) -> &[(Range<usize>, TextKind)] {
        self.segments.get_or_init(|| {
            let mut segments: Vec<(Range<usize>, TextKind)> = Vec::new();
            let mut start = 0;
            for line in self.text.split_inclusive('\n') {
                let kind = match TextKind::of(line) {
                    TextKind::Unicode => TextKind::Unicode,
                    TextKind::Ascii | TextKind::AsciiWords => TextKind::AsciiWords,
                };
                let end = start + line.len();
                match segments.last_mut() {
                    Some((range, last)) if *last == kind => range.end = end,
                    _ => segments.push((start..end, kind)),
                }
                start = end;
            }
            segments
        })
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
    /// Every match lies inside one line and none is empty, so a text can be searched line by line.
    line_local: bool,
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
            let line_local = regex_syntax::ParserBuilder::new()
                .case_insensitive(self.case_insensitive)
                .build()
                .parse(self.exact.as_str())
                .is_ok_and(|hir| is_line_local(&hir));
            Copies {
                ascii_boundaries: copy(ascii_only),
                no_boundaries: copy(|_| Ast::empty(ast::Span::splat(POS))),
                line_local,
            }
        })
    }

    /// The regex that finds exactly this pattern's matches in `text` of this kind, or `None` when it certainly has
    /// none. Until the copies are ready, the exact pattern.
    fn regex_for(&self, text: &str, kind: TextKind) -> Option<&Regex> {
        let Some(copies) = self.copies.get().filter(|_| kind != TextKind::Ascii) else {
            return Some(&self.exact);
        };
        match (&copies.ascii_boundaries, &copies.no_boundaries) {
            (Some(ascii), _) if kind == TextKind::AsciiWords => Some(ascii),
            (_, Some(relaxed)) if !relaxed.is_match(text) => None,
            _ => Some(&self.exact),
        }
    }

    /// How to cut `hay` for searching: whole, or, when it has non-ASCII letters and no match can cross a line, in
    /// runs of lines, so that only the lines holding such letters take the slow exact path.
    fn runs<'h>(&self, hay: &'h Haystack) -> &'h [(Range<usize>, TextKind)] {
        let line_local = self.copies.get().is_some_and(|c| c.line_local);
        if line_local && hay.kind() == TextKind::Unicode { hay.segments() } else { std::slice::from_ref(&hay.whole) }
    }

    /// The pieces of `hay` that may hold a match, each with its offset in `hay` and the regex that is exact for
    /// it. Searching each piece finds exactly the matches a search of the whole text finds.
    pub fn pieces<'h>(&'h self, hay: &'h Haystack) -> impl Iterator<Item = (usize, &'h str, &'h Regex)> + 'h {
        self.runs(hay).iter().filter_map(move |(range, kind)| {
            let text = &hay.text[range.clone()];
            self.regex_for(text, *kind).map(|r| (range.start, text, r))
        })
    }

    pub fn is_match(&self, hay: &Haystack) -> bool {
        self.pieces(hay).any(|(_, text, r)| r.is_match(text))
    }

    /// Byte ranges of the matches in `hay`, leftmost first, as `Regex::find_iter` gives them.
    pub fn find_iter<'h>(&'h self, hay: &'h Haystack) -> impl Iterator<Item = Range<usize>> + 'h {
        self.pieces(hay)
            .flat_map(|(offset, text, r)| r.find_iter(text).map(move |m| m.start() + offset..m.end() + offset))
    }

    /// `Regex::replace_all` on `hay` (`$1` and the like in `replacement`).
    pub fn replace_all<'h>(&self, hay: &Haystack<'h>, replacement: &str) -> Cow<'h, str> {
        if let [(_, kind)] = self.runs(hay) {
            return self
                .regex_for(hay.text, *kind)
                .map_or(Cow::Borrowed(hay.text), |r| r.replace_all(hay.text, replacement));
        }
        let mut out = String::with_capacity(hay.text.len() + 16);
        for (range, kind) in self.runs(hay) {
            let text = &hay.text[range.clone()];
            match self.regex_for(text, *kind) {
                Some(r) => out.push_str(&r.replace_all(text, replacement)),
                None => out.push_str(text),
            }
        }
        Cow::Owned(out)
    }
}

/// Whether every match of `hir` lies inside one line and is not empty: it cannot match a line break, has no
/// start- or end-of-text anchor (line anchors are fine: a line's edges are the same in the line as in the text),
/// and matches at least one character.
fn is_line_local(hir: &Hir) -> bool {
    let props = hir.properties();
    let anchored = props.look_set().contains(Look::Start) || props.look_set().contains(Look::End);
    !anchored && props.minimum_len().is_some_and(|n| n > 0) && !can_match_newline(hir)
}

fn can_match_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(literal) => literal.0.contains(&b'\n'),
        HirKind::Class(Class::Unicode(class)) => class.ranges().iter().any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Class(Class::Bytes(class)) => class.ranges().iter().any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Repetition(rep) => can_match_newline(&rep.sub),
        HirKind::Capture(cap) => can_match_newline(&cap.sub),
        HirKind::Concat(hirs) | HirKind::Alternation(hirs) => hirs.iter().any(can_match_newline),
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
        assert_eq!(Haystack::new("plain fee").kind(), TextKind::Ascii);
        assert_eq!(Haystack::new("don’t • pay a fee — 💸 €5").kind(), TextKind::AsciiWords);
        assert_eq!(Haystack::new("send your résumé").kind(), TextKind::Unicode);
        assert_eq!(Haystack::new("x\u{200d}y").kind(), TextKind::Unicode, "a joiner is a word character to regex");
    }

    #[test]
    fn each_kind_of_text_gets_its_engine() {
        let p = Pattern::case_insensitive(r"\bfee\b").expect("compiles");
        let engine = |p: &Pattern, t: &str| {
            let hay = Haystack::new(t);
            p.regex_for(hay.text, hay.kind()).map(|r| r.as_str().to_string())
        };
        assert_eq!(engine(&p, "’ fee"), Some(r"\bfee\b".into()), "copies not ready yet");
        p.prepare();
        assert_eq!(engine(&p, "a fee"), Some(r"\bfee\b".into()));
        assert_eq!(engine(&p, "’ fee"), Some(r"(?-u:\b)fee(?-u:\b)".into()));
        assert_eq!(engine(&p, "é fee"), Some(r"\bfee\b".into()));
        assert_eq!(engine(&p, "é coffee"), Some(r"\bfee\b".into()), "the relaxed copy matched");
        assert_eq!(engine(&p, "é café"), None);
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
                let found: Vec<&str> = p.find_iter(&hay).map(|m| &text[m]).collect();
                assert_eq!(&found, want, "{text:?}");
                assert_eq!(p.is_match(&hay), !want.is_empty(), "{text:?}");
            }
        }
    }

    #[test]
    fn only_patterns_confined_to_one_line_are_searched_line_by_line() {
        let local = |p: &str| is_line_local(&regex_syntax::Parser::new().parse(p).expect("parses"));
        assert!(local(r"\b(?:jobs?|hiring)\b"));
        assert!(local(r"(?m)^fee[^.!?\n]{0,40}\bpaid$"), "line anchors are the same in a line");
        assert!(!local(r"pay\s+fee"), "\\s matches a line break");
        assert!(!local(r"fee[^.]{0,9}paid"), "so does a negated class without \\n");
        assert!(!local(r"^fee"), "start of text is not start of line");
        assert!(!local(r"\bx?"), "an empty match");
    }

    #[test]
    fn line_by_line_search_finds_what_the_whole_text_search_does() {
        let text = "Send your résumé and the fee\n’ no fee here, coffee\nfee\nÇalışma fee’ jobs résumé\n\nfee";
        for p in [r"\b(?:résumé|fee|jobs?)\b", r"\bfee\s+here", r"(?m)^fee$", r"[^\n]fee\b"] {
            let pattern = Pattern::case_insensitive(p).expect("compiles");
            pattern.prepare();
            let hay = Haystack::new(text);
            assert_eq!(hay.kind(), TextKind::Unicode);
            let exact: Vec<Range<usize>> = pattern.exact.find_iter(text).map(|m| m.range()).collect();
            assert_eq!(pattern.find_iter(&hay).collect::<Vec<_>>(), exact, "{p}");
            assert_eq!(pattern.is_match(&hay), !exact.is_empty(), "{p}");
        }
        let segments: Vec<TextKind> = Haystack::new(text).segments().iter().map(|s| s.1).collect();
        assert_eq!(segments, [TextKind::Unicode, TextKind::AsciiWords, TextKind::Unicode, TextKind::AsciiWords]);
    }

    #[test]
    fn escaped_spaces_survive_the_rewrite_in_verbose_mode() {
        let p = Pattern::prepared(r"(?x) \b usd [\ \t]? \d+ \b").expect("compiles");
        let copies = p.prepare();
        for copy in [&copies.ascii_boundaries, &copies.no_boundaries] {
            let copy = copy.as_ref().expect("a copy");
            assert!(copy.is_match("usd 500") && copy.is_match("usd\t500") && !copy.is_match("usd\n500"), "{copy}");
        }
    }
}
