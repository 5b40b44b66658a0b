//! The rules file's schema (TOML) and its compilation into matchers. Rules are data so that tuning a phrase or a
//! weight is a one-line change reviewed like any other, and an operator can ship their own file (`--rules PATH`).
//!
//! A rule either lists regular expressions (`patterns`, with `unless` to suppress a match in the same sentence,
//! `unless_anywhere` to suppress the rule, and `context` that must appear somewhere), or names a `check` written in
//! code for what a pattern cannot express (an e-mail domain, an amount of money per period, a missing section).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::pattern::{self, Pattern};
use crate::rules::checks::Check;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFileSpec {
    pub version: String,
    #[serde(rename = "rule")]
    pub rules: Vec<RuleSpec>,
    /// Reassuring signals: the same shape as a rule, read the other way (see [`crate::analysis::Reassurance`]).
    #[serde(default, rename = "signal")]
    pub signals: Vec<RuleSpec>,
}

/// Which inputs a rule reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Any,
    /// Free text only (messages, pasted ads).
    Text,
    /// Structured postings only.
    Posting,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    pub id: String,
    pub title: String,
    pub explanation: String,
    pub weight: f32,
    #[serde(default)]
    pub applies_to: Scope,
    #[serde(default)]
    pub patterns: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
    #[serde(default)]
    pub unless_anywhere: Vec<String>,
    #[serde(default)]
    pub context: Vec<String>,
    pub check: Option<String>,
    #[serde(default = "empty_table")]
    pub params: toml::Value,
}

fn empty_table() -> toml::Value {
    toml::Value::Table(toml::Table::new())
}

/// A rule's identity and how it reads to a person.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub explanation: String,
    pub weight: f32,
    pub applies_to: Scope,
}

/// How a compiled rule finds evidence.
#[derive(Debug)]
pub(crate) enum Matcher {
    Patterns { patterns: Vec<Pattern>, unless: Vec<Pattern>, unless_anywhere: Vec<Pattern>, context: Vec<Pattern> },
    Check(Check),
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub meta: RuleMeta,
    pub matcher: Matcher,
}

pub(crate) fn compile_pattern(pattern: &str, rule_id: &str, origin: &str) -> Result<Pattern> {
    Pattern::case_insensitive(pattern).map_err(|e| bad_pattern(pattern, rule_id, origin, &e))
}

fn bad_pattern(pattern: &str, rule_id: &str, origin: &str, e: &regex::Error) -> Error {
    Error::Rules { origin: origin.to_string(), message: format!("rule {rule_id}: bad pattern {pattern:?}: {e}") }
}

/// Every distinct pattern of the file, compiled once, on all cores (the copies [`Pattern`] keeps for non-ASCII text
/// follow on a background thread). Compiling the built-in file's Unicode-aware, case-insensitive patterns is most
/// of the CLI's start-up, and rules that share a list (the job-word contexts) then share its regexes: a `Regex`
/// clone is a reference count. Errors wait for the rule that uses the pattern, so they are reported in file order
/// as before.
fn compile_distinct<'a>(
    rules: impl Iterator<Item = &'a RuleSpec>,
) -> HashMap<&'a str, std::result::Result<Pattern, regex::Error>> {
    let distinct: HashSet<&str> = rules
        .flat_map(|r| [&r.patterns, &r.unless, &r.unless_anywhere, &r.context])
        .flatten()
        .map(String::as_str)
        .collect();
    distinct.into_par_iter().map(|p| (p, Pattern::case_insensitive(p))).collect()
}

/// A compiled rules file: its version, red-flag rules and reassuring signals.
pub(crate) struct Compiled {
    pub version: String,
    pub rules: Vec<Rule>,
    pub signals: Vec<Rule>,
}

pub(crate) fn compile(spec: RuleFileSpec, origin: &str) -> Result<Compiled> {
    let invalid = |message: String| Error::Rules { origin: origin.to_string(), message };
    if spec.rules.is_empty() {
        return Err(invalid("no [[rule]] entries".into()));
    }
    let compiled = compile_distinct(spec.rules.iter().chain(&spec.signals));
    // Rules and signals share one namespace of ids: a stored verdict names either without saying which.
    let mut seen = HashSet::new();
    let rules = compile_list(&spec.rules, &compiled, &mut seen, origin)?;
    let signals = compile_list(&spec.signals, &compiled, &mut seen, origin)?;
    let mut every: Vec<Pattern> = compiled.into_values().filter_map(|p| p.ok()).collect();
    every.extend(rules.iter().chain(&signals).filter_map(|r| match &r.matcher {
        Matcher::Check(check) => check.context().cloned(),
        Matcher::Patterns { .. } => None,
    }));
    pattern::prepare_in_background(every);
    Ok(Compiled { version: spec.version, rules, signals })
}

fn compile_list(
    specs: &[RuleSpec],
    compiled: &HashMap<&str, std::result::Result<Pattern, regex::Error>>,
    seen: &mut HashSet<String>,
    origin: &str,
) -> Result<Vec<Rule>> {
    let invalid = |message: String| Error::Rules { origin: origin.to_string(), message };
    let mut rules = Vec::with_capacity(specs.len());
    for r in specs {
        let id_ok = !r.id.is_empty()
            && r.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !r.id.starts_with('-');
        if !id_ok {
            return Err(invalid(format!("rule id {:?} must be kebab-case (a-z, 0-9, -)", r.id)));
        }
        if !seen.insert(r.id.clone()) {
            return Err(invalid(format!("rule id {:?} appears twice", r.id)));
        }
        if !(r.weight > 0.0 && r.weight < 1.0) {
            return Err(invalid(format!("rule {}: weight {} must be strictly between 0 and 1", r.id, r.weight)));
        }
        if r.title.trim().is_empty() || r.explanation.trim().is_empty() {
            return Err(invalid(format!("rule {}: title and explanation must not be empty", r.id)));
        }
        let all = |list: &[String]| -> Result<Vec<Pattern>> {
            list.iter()
                .map(|p| match &compiled[p.as_str()] {
                    Ok(regex) => Ok(regex.clone()),
                    Err(e) => Err(bad_pattern(p, &r.id, origin, e)),
                })
                .collect()
        };
        let matcher = match (&r.check, r.patterns.is_empty()) {
            (Some(name), true) => Matcher::Check(Check::compile(name, r.params.clone(), &r.id, origin)?),
            (None, false) => Matcher::Patterns {
                patterns: all(&r.patterns)?,
                unless: all(&r.unless)?,
                unless_anywhere: all(&r.unless_anywhere)?,
                context: all(&r.context)?,
            },
            (Some(_), false) => {
                return Err(invalid(format!("rule {}: give either `patterns` or `check`, not both", r.id)));
            }
            (None, true) => return Err(invalid(format!("rule {}: needs `patterns` or a `check`", r.id))),
        };
        if matches!(matcher, Matcher::Check(_))
            && !(r.unless.is_empty() && r.unless_anywhere.is_empty() && r.context.is_empty())
        {
            return Err(invalid(format!(
                "rule {}: `unless` and `context` apply to patterns only; put them in `params`",
                r.id
            )));
        }
        rules.push(Rule {
            meta: RuleMeta {
                id: r.id.clone(),
                title: r.title.clone(),
                explanation: r.explanation.clone(),
                weight: r.weight,
                applies_to: r.applies_to,
            },
            matcher,
        });
    }
    Ok(rules)
}
