//! Red flags that a regular expression cannot express, each with typed parameters read from the rules file so the
//! lists and thresholds stay data.

use std::collections::HashSet;

use serde::Deserialize;

use crate::analysis::Evidence;
use crate::document::{DocKind, Document};
use crate::error::{Error, Result};
use crate::extract::Period;
use crate::pattern::{Haystack, Pattern};
use crate::rules::spec::compile_pattern;

#[derive(Debug)]
pub(crate) enum Check {
    FreeEmailRecruiter(FreeEmailRecruiter),
    UnrealisticPay(UnrealisticPay),
    LinkHosts(LinkHosts),
    VaguePosting(VaguePosting),
}

impl Check {
    pub fn compile(name: &str, params: toml::Value, rule_id: &str, origin: &str) -> Result<Self> {
        let bad = |e: toml::de::Error| Error::Rules {
            origin: origin.to_string(),
            message: format!("rule {rule_id}: bad params for check {name:?}: {e}"),
        };
        let re = |p: &str| compile_pattern(p, rule_id, origin);
        Ok(match name {
            "free-email-recruiter" => {
                let p: FreeEmailParams = params.try_into().map_err(bad)?;
                Check::FreeEmailRecruiter(FreeEmailRecruiter {
                    domains: p.domains.into_iter().map(|d| d.to_lowercase()).collect(),
                    context: re(&p.context)?,
                })
            }
            "unrealistic-pay" => {
                let p: PayParams = params.try_into().map_err(bad)?;
                Check::UnrealisticPay(UnrealisticPay { context: re(&p.context)?, params: p })
            }
            "link-hosts" => {
                let p: LinkHostsParams = params.try_into().map_err(bad)?;
                Check::LinkHosts(LinkHosts { hosts: p.hosts.into_iter().map(|h| h.to_lowercase()).collect() })
            }
            "vague-posting" => Check::VaguePosting(params.try_into().map_err(bad)?),
            other => {
                return Err(Error::Rules {
                    origin: origin.to_string(),
                    message: format!(
                        "rule {rule_id}: unknown check {other:?} (known: free-email-recruiter, unrealistic-pay, \
                         link-hosts, vague-posting)"
                    ),
                });
            }
        })
    }

    /// The pattern a check reads the whole text with, if it has one.
    pub fn context(&self) -> Option<&Pattern> {
        match self {
            Check::FreeEmailRecruiter(c) => Some(&c.context),
            Check::UnrealisticPay(c) => Some(&c.context),
            Check::LinkHosts(_) | Check::VaguePosting(_) => None,
        }
    }

    /// `text` is `doc.text`, read once for the patterns.
    pub fn run(&self, doc: &Document, text: &Haystack) -> Vec<Evidence> {
        match self {
            Check::FreeEmailRecruiter(c) => c.run(doc, text),
            Check::UnrealisticPay(c) => c.run(doc, text),
            Check::LinkHosts(c) => c.run(doc),
            Check::VaguePosting(c) => c.run(doc),
        }
    }
}

fn evidence(doc: &Document, start: usize, end: usize) -> Evidence {
    Evidence { start, end, snippet: doc.text[start..end].to_string() }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreeEmailParams {
    domains: Vec<String>,
    /// Words that show the address is offered as a company's or recruiter's contact.
    context: String,
}

/// A company's recruiter writing from a free webmail address: real employers use their own domain.
#[derive(Debug)]
pub(crate) struct FreeEmailRecruiter {
    domains: HashSet<String>,
    context: Pattern,
}

impl FreeEmailRecruiter {
    fn run(&self, doc: &Document, text: &Haystack) -> Vec<Evidence> {
        if !self.context.is_match(text) {
            return Vec::new();
        }
        doc.entities
            .emails
            .iter()
            .filter(|e| e.value.rsplit_once('@').is_some_and(|(_, domain)| self.domains.contains(domain)))
            .map(|e| evidence(doc, e.start, e.end))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayParams {
    /// Amounts at or above these (any currency, read at face value) are unrealistic when the text also promises
    /// little work ("no experience", "from home", "part time").
    per_hour: f64,
    per_day: f64,
    per_week: f64,
    per_month: f64,
    context: String,
}

#[derive(Debug)]
pub(crate) struct UnrealisticPay {
    params: PayParams,
    context: Pattern,
}

impl UnrealisticPay {
    fn run(&self, doc: &Document, text: &Haystack) -> Vec<Evidence> {
        if !self.context.is_match(text) {
            return Vec::new();
        }
        let p = &self.params;
        doc.entities
            .money
            .iter()
            .filter(|m| {
                // Currencies are compared at face value: thresholds are set for USD/EUR/GBP, and the currencies
                // whose units are worth far less (INR, NGN) are left out rather than flagged wrongly.
                let comparable =
                    matches!(m.value.currency, "USD" | "EUR" | "GBP" | "USDT" | "AED" | "AUD" | "CAD" | "SGD");
                let limit = match m.value.period {
                    Period::Hour => p.per_hour,
                    Period::Day => p.per_day,
                    Period::Week => p.per_week,
                    Period::Month => p.per_month,
                    Period::Year | Period::Task | Period::Unspecified => f64::INFINITY,
                };
                comparable && m.value.amount >= limit
            })
            .map(|m| {
                // Quote the period too: "$300" alone does not show why it is unrealistic.
                let line_end = doc.text[m.end..].find(['\n', '.', '!', ',']).map_or(doc.text.len(), |i| m.end + i);
                let end = crate::normalize::truncate_at_char_boundary(&doc.text[..line_end], m.end + 24).len();
                evidence(doc, m.start, end.max(m.end))
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkHostsParams {
    hosts: Vec<String>,
}

/// Links whose host hides the destination (shorteners) or jumps to a chat app.
#[derive(Debug)]
pub(crate) struct LinkHosts {
    hosts: HashSet<String>,
}

impl LinkHosts {
    fn run(&self, doc: &Document) -> Vec<Evidence> {
        doc.entities
            .urls
            .iter()
            .filter(|u| self.hosts.contains(&u.value.host))
            .map(|u| evidence(doc, u.start, u.end))
            .collect()
    }
}

/// A posting that says almost nothing about the job or who offers it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaguePosting {
    /// A description shorter than this (in characters) says too little to judge the job.
    min_description_chars: usize,
}

impl VaguePosting {
    fn run(&self, doc: &Document) -> Vec<Evidence> {
        let Some(facts) = doc.posting.as_ref().filter(|_| doc.kind == DocKind::Posting) else { return Vec::new() };
        // Only what the posting says counts: a board export without a logo field is not a posting without a logo.
        let no_company = facts.section("company_profile").is_none() && facts.has_company_logo == Some(false);
        let description_len = facts.section("description").map_or(0, |r| doc.text[r].chars().count());
        let thin = description_len < self.min_description_chars;
        if !(no_company && thin) {
            return Vec::new();
        }
        // Point at the title (or the start of the text): the evidence is what is missing around it.
        let span = facts.section("title").unwrap_or(0..doc.text.find('\n').unwrap_or(doc.text.len()));
        vec![evidence(doc, span.start, span.end)]
    }
}
