//! Red flags that a regular expression cannot express, each with typed parameters read from the rules file so the
//! lists and thresholds stay data.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::analysis::Evidence;
use crate::document::{DocKind, Document};
use crate::error::{Error, Result};
use crate::extract::Period;
use crate::pattern::{Haystack, Pattern};
use crate::rules::hosts::{
    LureHost, LureHostParams, TrustedHosts, TrustedHostsParams, host_chars, is_under, link_host,
};
use crate::rules::spec::compile_pattern;

#[derive(Debug)]
pub(crate) enum Check {
    FreeEmailRecruiter(FreeEmailRecruiter),
    UnrealisticPay(UnrealisticPay),
    LinkHosts(LinkHosts),
    LookalikeDomain(LookalikeDomain),
    LureHost(LureHost),
    TrustedHosts(TrustedHosts),
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
            "lure-host" => {
                let p: LureHostParams = params.try_into().map_err(bad)?;
                Check::LureHost(LureHost::new(p))
            }
            "trusted-hosts" => {
                let p: TrustedHostsParams = params.try_into().map_err(bad)?;
                Check::TrustedHosts(TrustedHosts::new(p))
            }
            "lookalike-domain" => {
                let p: LookalikeParams = params.try_into().map_err(bad)?;
                Check::LookalikeDomain(LookalikeDomain::new(p).map_err(|message| Error::Rules {
                    origin: origin.to_string(),
                    message: format!("rule {rule_id}: bad params for check {name:?}: {message}"),
                })?)
            }
            "vague-posting" => Check::VaguePosting(params.try_into().map_err(bad)?),
            other => {
                return Err(Error::Rules {
                    origin: origin.to_string(),
                    message: format!(
                        "rule {rule_id}: unknown check {other:?} (known: free-email-recruiter, unrealistic-pay, \
                         link-hosts, lookalike-domain, lure-host, trusted-hosts, vague-posting)"
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
            Check::LinkHosts(_)
            | Check::LookalikeDomain(_)
            | Check::LureHost(_)
            | Check::TrustedHosts(_)
            | Check::VaguePosting(_) => None,
        }
    }

    /// `text` is `doc.text`, read once for the patterns.
    pub fn run(&self, doc: &Document, text: &Haystack) -> Vec<Evidence> {
        match self {
            Check::FreeEmailRecruiter(c) => c.run(doc, text),
            Check::UnrealisticPay(c) => c.run(doc, text),
            Check::LinkHosts(c) => c.run(doc),
            Check::LookalikeDomain(c) => c.run(doc),
            Check::LureHost(c) => c.run(doc),
            Check::TrustedHosts(c) => c.run(doc),
            Check::VaguePosting(c) => c.run(doc),
        }
    }
}

fn evidence(doc: &Document, start: usize, end: usize) -> Evidence {
    Evidence::new(start, end, &doc.text[start..end])
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
                evidence(doc, m.start, whole_words_end(&doc.text, m.end, end))
            })
            .collect()
    }
}

/// `end`, or earlier if it falls inside a word or number, so a quote never stops at "$300/da"; never before `min`.
fn whole_words_end(text: &str, min: usize, end: usize) -> usize {
    let inside = |i: usize| {
        let before = text[..i].chars().next_back().is_some_and(char::is_alphanumeric);
        let after = text[i..].chars().next().is_some_and(char::is_alphanumeric);
        before && after
    };
    if !inside(end) {
        return end;
    }
    text[min..end].rfind(|c: char| !c.is_alphanumeric()).map_or(min, |i| min + i)
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookalikeParams {
    /// Each brand's token, as it is written in a host name, and the brand's own domains; `name.*` stands for the
    /// name under any country code (`amazon.de`, `deloitte.co.uk`).
    brands: BTreeMap<String, Vec<String>>,
    /// Distinctive tokens that also count at the start of a part of a host name (`deloittecareers.com`).
    #[serde(default)]
    prefix: Vec<String>,
    /// Tokens that are ordinary words ("chase", "target"): they count only beside a `lure` word in the same host.
    #[serde(default)]
    common: Vec<String>,
    /// Words that make a host look like a brand's service: login, careers, payroll, tracking...
    #[serde(default)]
    lure: Vec<String>,
    /// Top-level domains whose registry checks the registrant, so `<token>.<tld>` is the brand's own (`pnc.jobs`).
    #[serde(default)]
    brand_tlds: Vec<String>,
    /// Platforms that give each customer a subdomain (`deloitte.myworkdayjobs.com`): a brand's name there is its own.
    #[serde(default)]
    tenant_hosts: Vec<String>,
}

#[derive(Debug)]
struct Brand {
    token: String,
    domains: Vec<String>,
    prefix: bool,
    needs_lure: bool,
}

/// Links and e-mail addresses whose host borrows a well-known company's name (`amazon-careers-hr.com`,
/// `hr@deloitte-talentglobal.com`) without being that company's own domain or under it.
#[derive(Debug)]
pub(crate) struct LookalikeDomain {
    brands: Vec<Brand>,
    lure: HashSet<String>,
    brand_tlds: Vec<String>,
    tenant_hosts: Vec<String>,
}

impl LookalikeDomain {
    fn new(p: LookalikeParams) -> std::result::Result<Self, String> {
        let lower = |list: Vec<String>| -> Vec<String> { list.into_iter().map(|s| s.trim().to_lowercase()).collect() };
        let (prefix, common) = (lower(p.prefix), lower(p.common));
        // A misspelt token in `prefix` or `common` would silently do nothing: refuse it.
        let keys: HashSet<String> = p.brands.keys().map(|k| k.to_lowercase()).collect();
        if let Some(unknown) = prefix.iter().chain(&common).find(|t| !keys.contains(*t)) {
            return Err(format!("{unknown:?} is in `prefix` or `common` but is not a brand"));
        }
        let mut brands = Vec::with_capacity(p.brands.len());
        for (token, domains) in p.brands {
            let token = token.to_lowercase();
            if token.is_empty() || !token.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                return Err(format!("brand token {token:?} must be letters and digits (a-z, 0-9)"));
            }
            if domains.is_empty() {
                return Err(format!("brand {token:?} lists no domains"));
            }
            brands.push(Brand {
                prefix: prefix.contains(&token),
                needs_lure: common.contains(&token),
                domains: lower(domains),
                token,
            });
        }
        Ok(LookalikeDomain {
            brands,
            lure: lower(p.lure).into_iter().collect(),
            brand_tlds: lower(p.brand_tlds),
            tenant_hosts: lower(p.tenant_hosts),
        })
    }

    fn run(&self, doc: &Document) -> Vec<Evidence> {
        let urls = doc.entities.urls.iter().filter_map(|u| Some((u.start, u.end, link_host(&u.value.text)?)));
        let emails =
            doc.entities.emails.iter().filter_map(|e| Some((e.start, e.end, host_chars(e.value.rsplit_once('@')?.1))));
        urls.chain(emails)
            .filter(|(_, _, host)| self.imitated(host).is_some())
            .map(|(start, end, _)| evidence(doc, start, end))
            .collect()
    }

    /// The token of the brand that `host` imitates, if any.
    fn imitated(&self, host: &str) -> Option<&str> {
        let host = host.trim_end_matches('.');
        if self.tenant_hosts.iter().any(|t| is_under(host, t)) {
            return None;
        }
        // The last label is the top-level domain (".amazon" is one), not a name the host was given.
        let (names, _tld) = host.rsplit_once('.')?;
        let labels: Vec<&str> = names.split('.').collect();
        let parts = || labels.iter().flat_map(|l| l.split('-'));
        let lured = parts().any(|part| self.lure.contains(part));
        self.brands
            .iter()
            .find(|b| {
                (lured || !b.needs_lure)
                    && labels.iter().any(|label| has_token(label, &b.token, b.prefix))
                    && !b.domains.iter().any(|d| under_brand_domain(host, d))
                    && !self.brand_tlds.iter().any(|tld| is_under(host, &format!("{}.{tld}", b.token)))
            })
            .map(|b| b.token.as_str())
    }
}

/// `host` is under `domain`, where `name.*` stands for `name` under any country code: `name.de`, `name.co.uk`.
fn under_brand_domain(host: &str, domain: &str) -> bool {
    let Some(name) = domain.strip_suffix(".*") else { return is_under(host, domain) };
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let country = |l: &str| l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase());
    let generic = |l: &str| matches!(l, "co" | "com" | "org" | "net" | "gov" | "ac" | "edu" | "ne" | "or" | "gob");
    let mut suffix_lens = Vec::with_capacity(2);
    if n >= 2 && country(labels[n - 1]) {
        suffix_lens.push(1);
        if n >= 3 && generic(labels[n - 2]) {
            suffix_lens.push(2);
        }
    }
    suffix_lens.into_iter().any(|k| is_under(&labels[..n - k].join("."), name))
}

/// One label of a host name has `token` as a hyphen-separated part, hyphens inside the brand ignored
/// ("wells-fargo-alerts" has "wellsfargo"); with `prefix`, the part may also only start with it.
fn has_token(label: &str, token: &str, prefix: bool) -> bool {
    let parts: Vec<&str> = label.split('-').filter(|p| !p.is_empty()).collect();
    (0..parts.len()).any(|i| {
        let mut joined = String::new();
        for part in &parts[i..] {
            joined.push_str(part);
            if joined == token || (prefix && joined.starts_with(token)) {
                return true;
            }
            if !token.starts_with(joined.as_str()) {
                return false;
            }
        }
        false
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_whole_parts_or_prefixes_hyphens_inside_ignored() {
        assert!(has_token("amazon-careers-hr", "amazon", false));
        assert!(has_token("wells-fargo-alerts", "wellsfargo", false));
        assert!(has_token("deloittecareers", "deloitte", true));
        assert!(!has_token("deloittecareers", "deloitte", false));
        assert!(!has_token("targeted-ads", "target", false));
        assert!(!has_token("adplus", "adp", false));
        assert!(has_token("upstart", "ups", true) && !has_token("upstart", "ups", false));
    }

    #[test]
    fn link_hosts_are_cut_from_glued_text_and_words_are_no_hosts() {
        assert_eq!(link_host("https://Amazon.com’s/x").as_deref(), Some("amazon.com"));
        assert_eq!(link_host("www.accenture.comEqual").as_deref(), Some("accenture.com"));
        assert_eq!(link_host("usps-redelivery.info").as_deref(), Some("usps-redelivery.info"));
        assert_eq!(link_host("USPS-REDELIVERY.INFO").as_deref(), Some("usps-redelivery.info"));
        assert_eq!(link_host("https://chase-secure-login.co/x?y=1").as_deref(), Some("chase-secure-login.co"));
        for word in ["Microsoft.NET", "IRS.Don", "IRS-STATEMENT-CLAIM.pdf", "Cisco.dicecorp"] {
            assert_eq!(link_host(word), None, "{word}");
        }
        assert_eq!(host_chars("acme.com’s"), "acme.com");
    }

    #[test]
    fn brand_domains_cover_subdomains_and_country_codes() {
        assert!(under_brand_domain("careers.deloitte.com", "deloitte.com"));
        assert!(!under_brand_domain("fakedeloitte.com", "deloitte.com"));
        assert!(under_brand_domain("amazon.co.uk", "amazon.*"));
        assert!(under_brand_domain("www2.amazon.de", "amazon.*"));
        assert!(under_brand_domain("amazon.com.au", "amazon.*"));
        assert!(!under_brand_domain("amazon.info", "amazon.*"));
        assert!(!under_brand_domain("amazon-jobs.co.uk", "amazon.*"));
    }
}
