//! Hosts as evidence. How a link or an e-mail address names its host ([`link_host`], [`host_chars`]: text glued to
//! a link is cut off, and words with a dot in them are not hosts), whether a host lies under a domain
//! ([`is_under`]), and the reassuring check on the real domains of the systems employers hire and pay through
//! (applicant tracking, HR, payroll, background checks, e-signature, video interviews). Two red flags read hosts the
//! same way: the look-alike check in `checks` (a brand's name on someone else's domain) and [`LureHost`] here (a
//! domain named after what it wants you to do: `wa-verify-account.info`, `netbank-au-cancel.com`).
//!
//! A registrable domain is matched as a whole label suffix: `acme.wd5.myworkdayjobs.com` is on `myworkdayjobs.com`,
//! `myworkdayjobs.com.hr-portal.net` and `myworkdayjobs-hr.com` are not. The public-suffix list would be the crate
//! for telling registrable domains apart in general; here every domain compared is written out in the rules file,
//! so a suffix test on label boundaries is exact and a dependency would add nothing.

use std::collections::HashSet;

use serde::Deserialize;

use crate::analysis::Evidence;
use crate::document::Document;

/// Extensions of files people name in messages ("IRS-STATEMENT-CLAIM.pdf"), which the link finder takes for hosts.
const FILE_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "rar", "exe", "apk", "jpg", "jpeg", "png", "gif", "txt",
    "csv",
];

/// The host of a link as written, lower-cased and cut where other text was glued on, or `None` when the "link" is
/// more likely a word: `Amazon.com’s` is amazon.com and `www.accenture.comEqual` is accenture.com (a sentence run
/// into the next one), while a bare `Microsoft.NET`, `IRS.Don't` or `statement.pdf` is no address at all. A bare
/// host (no scheme, `www.` or path) also needs a short top-level domain: `Cisco.dicecorp` is glued words.
pub(crate) fn link_host(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://").map_or((false, text), |(_, rest)| (true, rest));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = &host[..host.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(host.len())];
    let (name, tld) = host.trim_end_matches(['.', '-']).rsplit_once('.')?;
    let glued = tld.as_bytes().windows(2).position(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    let tld = glued.map_or(tld, |i| &tld[..=i]);
    let bare = !scheme && host_end == rest.len() && !host.to_ascii_lowercase().starts_with("www.");
    if bare {
        let titled = tld.starts_with(|c: char| c.is_ascii_uppercase()) && tld.bytes().any(|b| b.is_ascii_lowercase());
        let shouted = tld.bytes().all(|b| b.is_ascii_uppercase()) && name.bytes().any(|b| b.is_ascii_lowercase());
        let file = FILE_EXTENSIONS.contains(&tld.to_ascii_lowercase().as_str());
        if tld.len() > 6 || titled || shouted || file {
            return None;
        }
    }
    let host = format!("{name}.{tld}").to_ascii_lowercase();
    Some(host.strip_prefix("www.").map_or_else(|| host.clone(), str::to_string))
}

/// A host cut at the first character a host name cannot have ("acme.com’s" is acme.com).
pub(crate) fn host_chars(host: &str) -> String {
    let end = host.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(host.len());
    host[..end].trim_end_matches(['.', '-']).to_ascii_lowercase()
}

/// `host` is `domain` or one of its subdomains.
pub(crate) fn is_under(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrustedHostsParams {
    domains: Vec<String>,
}

/// Links and e-mail addresses on listed domains (or their subdomains).
#[derive(Debug)]
pub(crate) struct TrustedHosts {
    domains: HashSet<String>,
}

impl TrustedHosts {
    pub fn new(params: TrustedHostsParams) -> Self {
        TrustedHosts {
            domains: params.domains.into_iter().map(|d| d.trim().trim_start_matches('.').to_lowercase()).collect(),
        }
    }

    fn trusted(&self, host: &str) -> bool {
        // Walk the host's label suffixes ("a.b.c" -> "a.b.c", "b.c", "c"): a few set lookups, not a list scan.
        let mut rest = host;
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, tail)) => rest = tail,
                None => return false,
            }
        }
    }

    pub fn run(&self, doc: &Document) -> Vec<Evidence> {
        let urls = doc
            .entities
            .urls
            .iter()
            .filter(|u| link_host(&u.value.text).is_some_and(|h| self.trusted(&h)))
            .map(|u| (u.start, u.end));
        let emails = doc
            .entities
            .emails
            .iter()
            .filter(|e| e.value.rsplit_once('@').is_some_and(|(_, domain)| self.trusted(&host_chars(domain))))
            .map(|e| (e.start, e.end));
        urls.chain(emails).map(|(start, end)| Evidence::new(start, end, &doc.text[start..end])).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LureHostParams {
    /// Words a phishing domain is built from ("verify", "unlock", "refund"); one hyphen-separated part must be one.
    words: Vec<String>,
    /// Hosting platforms that hand out subdomains (`web.app`, `netlify.app`): there the subdomain is the chosen name.
    #[serde(default)]
    free_hosts: Vec<String>,
    /// Second-level labels of country codes (`co.uk`, `com.au`): the name is the label before them.
    #[serde(default)]
    second_levels: Vec<String>,
}

/// Links whose registered name is made of hyphenated words, one of them an action the message wants
/// (`telegram-login-protect.org`, `hdfc-kyc-pan.in`). Companies register their own name (`acme.com`) and put
/// `verify` or `login` in a subdomain or a path; a throw-away domain that spells the action out is bought for one
/// campaign. Only the registered name counts, so `secure-login.chase.com` is Chase's and `chase.com/verify` is too.
#[derive(Debug)]
pub(crate) struct LureHost {
    words: HashSet<String>,
    free_hosts: Vec<String>,
    second_levels: HashSet<String>,
}

impl LureHost {
    pub fn new(p: LureHostParams) -> Self {
        let lower = |list: Vec<String>| list.into_iter().map(|s| s.trim().trim_start_matches('.').to_lowercase());
        LureHost {
            words: lower(p.words).collect(),
            free_hosts: lower(p.free_hosts).collect(),
            second_levels: lower(p.second_levels).collect(),
        }
    }

    /// The label a host's owner chose: the one before the public suffix (or before a free host's domain).
    fn chosen_name<'h>(&self, host: &'h str) -> Option<&'h str> {
        if let Some(free) = self.free_hosts.iter().find(|f| is_under(host, f)) {
            let sub = host.strip_suffix(free.as_str())?.trim_end_matches('.');
            return sub.rsplit('.').next().filter(|l| !l.is_empty());
        }
        let labels: Vec<&str> = host.split('.').collect();
        let n = labels.len();
        let suffix = if n >= 3 && self.second_levels.contains(labels[n - 2]) { 2 } else { 1 };
        (n > suffix).then(|| labels[n - suffix - 1])
    }

    fn lured(&self, host: &str) -> bool {
        // Registries that check the registrant: a government's or university's name is its own.
        if host.split('.').any(|l| matches!(l, "gov" | "mil" | "edu" | "gob" | "gouv")) {
            return false;
        }
        self.chosen_name(host).is_some_and(|name| {
            let parts: Vec<&str> = name.split('-').filter(|p| p.len() >= 2).collect();
            parts.len() >= 2 && parts.iter().any(|p| self.words.contains(*p))
        })
    }

    pub fn run(&self, doc: &Document) -> Vec<Evidence> {
        doc.entities
            .urls
            .iter()
            .filter(|u| link_host(&u.value.text).is_some_and(|h| self.lured(&h)))
            .map(|u| Evidence::new(u.start, u.end, doc.text[u.start..u.end].to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Input;

    fn trusted(text: &str) -> Vec<String> {
        let check = TrustedHosts::new(TrustedHostsParams {
            domains: vec!["myworkdayjobs.com".into(), "greenhouse.io".into(), "adp.com".into()],
        });
        let doc = Document::from_input(&Input::text(text)).expect("doc");
        check.run(&doc).into_iter().map(|e| e.snippet).collect()
    }

    #[test]
    fn subdomains_count_and_look_alikes_do_not() {
        assert!(is_under("acme.wd5.myworkdayjobs.com", "myworkdayjobs.com"));
        assert!(is_under("adp.com", "adp.com"));
        assert!(!is_under("myadp.com", "adp.com"));
        assert!(!is_under("adp.com.payroll-update.net", "adp.com"));
        assert_eq!(
            trusted("Apply at https://acme.wd5.myworkdayjobs.com/en-US/careers or write to jobs@greenhouse.io"),
            ["https://acme.wd5.myworkdayjobs.com/en-US/careers", "jobs@greenhouse.io"]
        );
        assert!(trusted("Log in at https://adp.com.payroll-update.net or myworkdayjobs-hr.com today").is_empty());
        assert!(trusted("Write to hr@adp-payroll.support").is_empty());
    }

    fn lured(text: &str) -> Vec<String> {
        let check = LureHost::new(LureHostParams {
            words: ["verify", "login", "kyc", "cancel", "upgrade"].map(String::from).to_vec(),
            free_hosts: vec!["web.app".into()],
            second_levels: vec!["co".into(), "com".into()],
        });
        let doc = Document::from_input(&Input::text(text)).expect("doc");
        check.run(&doc).into_iter().map(|e| e.snippet).collect()
    }

    #[test]
    fn a_registered_name_spelling_out_the_action_is_a_lure() {
        assert_eq!(lured("Re-verify here: wa-verify-account.info"), ["wa-verify-account.info"]);
        assert_eq!(lured("Update now http://hdfc-kyc-pan.in/update"), ["http://hdfc-kyc-pan.in/update"]);
        assert_eq!(lured("cancel at netbank-au-cancel.co.uk today"), ["netbank-au-cancel.co.uk"]);
        assert_eq!(
            lured("https://outlook-storage-upgrade.web.app/validate"),
            ["https://outlook-storage-upgrade.web.app/validate"]
        );
        // The company's own name with the action in a subdomain or path, a one-word name, or no action word.
        assert!(lured("Sign in at https://secure-login.chase.com or https://chase.com/verify").is_empty());
        assert!(lured("Visit https://verify.example.com and https://login.gov").is_empty());
        assert!(lured("Apply at https://acme-careers.com/jobs or https://smith-jones.co.uk").is_empty());
        assert!(lured("We use E-Verify: https://www.e-verify.gov/ and www.verify-login.gov.uk").is_empty());
    }
}
