//! The rule engine: red flags from FTC, FBI IC3 and BBB job-scam guidance, each with a stable id, a weight, an
//! explanation a job seeker understands, and evidence spans in the normalised text.
//!
//! The rules themselves live in `models/rules.toml` (compiled in, overridable with a path); this module compiles
//! and runs them. Pattern rules look for phrases and drop a match when an `unless` phrase shares its sentence
//! ("we never charge a fee" is not an upfront fee); code checks handle what phrases cannot.

mod checks;
mod hosts;
mod spec;

use std::path::Path;

use crate::analysis::{Evidence, Finding, Flag, Reassurance};
use crate::document::{DocKind, Document};
use crate::error::{Error, Result};
use crate::pattern::{Haystack, Pattern};
use spec::{Matcher, Rule};
pub use spec::{RuleMeta, Scope};

/// The rules shipped with Redflag.
pub const BUILTIN_RULES: &str = include_str!("../../models/rules.toml");

/// At most this many pieces of evidence per flag: enough to highlight, not enough to drown a message in colour.
const MAX_EVIDENCE: usize = 5;

/// A compiled, immutable set of rules; cheap to share between threads.
#[derive(Debug)]
pub struct RuleSet {
    version: String,
    rules: Vec<Rule>,
    signals: Vec<Rule>,
}

impl RuleSet {
    /// The rules compiled into this build.
    pub fn builtin() -> Result<Self> {
        Self::from_toml(BUILTIN_RULES, "the built-in rules")
    }

    /// Rules from a TOML file, e.g. an operator's tuned copy of `models/rules.toml`.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::RulesIo { path: path.to_path_buf(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let spec = toml::from_str(text)
            .map_err(|e| Error::Rules { origin: origin.to_string(), message: e.to_string().trim().to_string() })?;
        let spec::Compiled { version, rules, signals } = spec::compile(spec, origin)?;
        Ok(RuleSet { version, rules, signals })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every rule's id, title, explanation and weight, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// Every reassuring signal's id, title, explanation and weight, in file order.
    pub fn signals(&self) -> impl Iterator<Item = &RuleMeta> {
        self.signals.iter().map(|r| &r.meta)
    }

    /// The flags that fire on `doc`, strongest first.
    pub fn evaluate(&self, doc: &Document) -> Vec<Flag> {
        run(&self.rules, doc)
    }

    /// The reassuring signals found in `doc`, strongest first, whether or not a red flag also fired (the score
    /// decides what they are worth).
    pub fn reassure(&self, doc: &Document) -> Vec<Reassurance> {
        run(&self.signals, doc)
    }
}

/// What the rules of `list` find in `doc`, strongest first, with their evidence tidied.
fn run(list: &[Rule], doc: &Document) -> Vec<Finding> {
    let text = Haystack::new(&doc.text);
    let mut found: Vec<Finding> = list
        .iter()
        .filter(|r| match r.meta.applies_to {
            Scope::Any => true,
            Scope::Text => doc.kind == DocKind::Text,
            Scope::Posting => doc.kind == DocKind::Posting,
        })
        .filter_map(|rule| {
            let mut evidence = match &rule.matcher {
                Matcher::Patterns { patterns, unless, unless_anywhere, context } => {
                    match_patterns(&text, patterns, unless, unless_anywhere, context)
                }
                Matcher::Check(check) => check.run(doc, &text),
            };
            tidy(&mut evidence, &doc.text);
            (!evidence.is_empty()).then(|| Finding {
                id: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                explanation: rule.meta.explanation.clone(),
                weight: rule.meta.weight,
                evidence,
            })
        })
        .collect();
    found.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    found
}

fn match_patterns(
    hay: &Haystack,
    patterns: &[Pattern],
    unless: &[Pattern],
    unless_anywhere: &[Pattern],
    context: &[Pattern],
) -> Vec<Evidence> {
    let text = hay.as_str();
    let mut evidence = Vec::new();
    for pattern in patterns {
        for m in pattern.find_iter(hay) {
            if m.is_empty() {
                continue;
            }
            let sentence = Haystack::new(&text[sentence_around(text, m.start, m.end)]);
            if unless.iter().any(|r| r.is_match(&sentence)) {
                continue;
            }
            evidence.push(Evidence::new(m.start, m.end, text[m].to_string()));
        }
    }
    // The whole-text conditions are read only when a pattern matched: most texts match no pattern of most rules,
    // and a context such as "any link" has no literal to skip ahead with. The result is the same either way.
    if evidence.is_empty()
        || unless_anywhere.iter().any(|r| r.is_match(hay))
        || (!context.is_empty() && !context.iter().any(|r| r.is_match(hay)))
    {
        return Vec::new();
    }
    evidence
}

/// The sentence holding `start..end`: from after the previous line break or sentence end (". ", "! ", "? ") to the
/// next one. Dots inside "bit.ly" or "$12.50" are not sentence ends because no space follows them.
fn sentence_around(text: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let bytes = text.as_bytes();
    let is_end = |i: usize| {
        bytes[i] == b'\n'
            || (matches!(bytes[i], b'.' | b'!' | b'?') && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace()))
    };
    let from = (0..start).rev().find(|&i| is_end(i)).map_or(0, |i| i + 1);
    let to = (end..bytes.len()).find(|&i| is_end(i)).map_or(bytes.len(), |i| i + 1);
    from..to
}

/// Sort evidence, merge overlapping spans (two patterns often match the same phrase) and keep the first few.
fn tidy(evidence: &mut Vec<Evidence>, text: &str) {
    evidence.sort_by_key(|e| (e.start, e.end));
    let mut merged: Vec<Evidence> = Vec::with_capacity(evidence.len());
    for e in evidence.drain(..) {
        match merged.last_mut() {
            Some(last) if e.start < last.end => {
                if e.end > last.end {
                    last.end = e.end;
                    last.snippet = text[last.start..last.end].to_string();
                }
            }
            _ => merged.push(e),
        }
    }
    merged.truncate(MAX_EVIDENCE);
    *evidence = merged;
}

#[cfg(test)]
mod tests;
