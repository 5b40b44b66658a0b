//! `X-Twilio-Signature`: signing and verifying Twilio webhooks exactly as Twilio's own SDKs do.
//!
//! Twilio signs `base64(HMAC-SHA1(auth_token, url + params))`, where `url` is the full URL it requested and
//! `params` are the decoded form fields, sorted by name (byte order) and, within a name, by value with duplicates
//! dropped, each appended as `name + value` with no separators. JSON webhooks sign the URL alone and carry the body's
//! SHA-256 in a `bodySHA256` query parameter, which must match the raw body as well.
//!
//! Twilio signs the URL as it was configured, and proxies or load balancers may show us a different port than the
//! one Twilio used, so [`verify`] accepts three spellings of the URL, like the SDKs: as received, with its port
//! removed, and (only when it had none) with the scheme's default port added. The rewriting is done on the raw
//! string, never through `url::Url`: re-serialising percent-encodes non-ASCII paths and quotes, which turns the
//! signed bytes into different bytes (see the `non_ascii_url_raw` and `query_special_chars_unescaped` vectors in
//! `shared/protocol/twilio_vectors.json`, run by `tests/signature_vectors.rs`). The query string is never
//! decoded and userinfo is kept; only a `#fragment` is dropped, as no client sends one.
//!
//! Comparisons are constant time (`subtle`), and nothing here panics on hostile input: a URL we cannot split is
//! simply checked as-is, bad base64 is just a mismatch.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The request body Twilio signed, as the webhook's content type says.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// `application/x-www-form-urlencoded`: the decoded fields in any order, repeats allowed. A GET webhook (fields
    /// in the query string, which is already part of the URL) is `Form(&[])`.
    Form(&'a [(String, String)]),
    /// `application/json`: the raw body bytes, exactly as received.
    Json(&'a [u8]),
}

/// The signature Twilio would send for a form webhook to `url` carrying `params`.
///
/// `url` is used byte for byte (no port handling here: that is [`verify`]'s job). Useful for tests and fakes that
/// play Twilio; for a JSON webhook, add `bodySHA256=` and the body's [`body_sha256_hex`] to the URL's query and
/// pass no params.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    // Names sorted byte-wise (`str`'s `Ord`), then each name's distinct values sorted: the SDKs' `sorted(set(..))`.
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name.as_str()).or_default().insert(value.as_str());
    }
    let mut mac = new_mac(auth_token);
    mac.update(url.as_bytes());
    for (name, values) in &sorted {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// Whether `header` (the `X-Twilio-Signature` value) proves Twilio sent `payload` to `url` with this auth token.
///
/// `url` must be the full public URL Twilio called (scheme, host, path and query as received); one that cannot be
/// split into host and port is checked as-is only. Returns `false`, and never panics, for an empty auth token
/// (anyone could sign with it), an empty or malformed header, and a JSON body whose URL lacks a matching
/// `bodySHA256`.
pub fn verify(auth_token: &str, url: &str, payload: Payload<'_>, header: &str) -> bool {
    if auth_token.is_empty() || header.is_empty() {
        return false;
    }
    let url = without_fragment(url);
    let (params, body_ok) = match payload {
        Payload::Form(params) => (params, Choice::from(1)),
        Payload::Json(body) => {
            let Some(claimed) = query_param(url, "bodySHA256") else {
                return false;
            };
            (&[][..], body_sha256_hex(body).as_bytes().ct_eq(claimed.as_bytes()))
        }
    };
    let signature_ok = url_variants(url).iter().flatten().fold(Choice::from(0), |found, candidate| {
        found | sign(auth_token, candidate, params).as_bytes().ct_eq(header.as_bytes())
    });
    bool::from(signature_ok & body_ok)
}

/// Lowercase hex SHA-256 of a raw body: the `bodySHA256` query parameter of a JSON webhook.
pub fn body_sha256_hex(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

fn new_mac(auth_token: &str) -> Hmac<Sha1> {
    // HMAC is defined for keys of every length (long keys are hashed, short ones padded), so this cannot fail; the
    // `Result` only exists because `KeyInit` is shared with fixed-key MACs.
    Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length")
}

fn without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

/// The first value of query parameter `name`, decoded. Only the query is decoded here; the signed URL never is.
fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// The URL spellings to try: as received, then with its port removed or (if it had none) the default port added.
/// The second is `None` when the URL has no authority we can split or the scheme has no default port.
fn url_variants(url: &str) -> [Option<String>; 2] {
    let other = split_port(url).and_then(|parts| match parts.port {
        Some(_) => Some(format!("{}{}", parts.before_port, parts.after_port)),
        None => default_port(parts.scheme).map(|port| format!("{}:{port}{}", parts.before_port, parts.after_port)),
    });
    [Some(url.to_owned()), other]
}

/// A URL cut around its port, every other byte kept as it came.
#[derive(Debug, PartialEq, Eq)]
struct PortSplit<'a> {
    scheme: &'a str,
    /// `scheme://[userinfo@]host`.
    before_port: &'a str,
    /// The digits after the host's `:`, if there is a `:`.
    port: Option<&'a str>,
    /// Path and query, possibly empty.
    after_port: &'a str,
}

/// Splits `scheme://[userinfo@]host[:port][/path][?query]` without normalising anything. `None` when the string
/// has no `://`, an odd scheme, or a port that is not all digits: such a URL is then only checked as-is.
fn split_port(url: &str) -> Option<PortSplit<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_len)?;
    // Userinfo may itself contain ':' (user:pass), so the host starts after the last '@'.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = authority.get(host_start..)?;
    // An IPv6 literal is bracketed and full of ':'; its port can only follow the closing bracket.
    let search_from = if host_port.starts_with('[') { host_port.find(']')? } else { 0 };
    let colon = host_port.get(search_from..)?.rfind(':').map(|i| search_from + i);
    let scheme_and_auth_len = scheme.len() + "://".len() + host_start;
    let (host_len, port) = match colon {
        Some(colon) => {
            let port = host_port.get(colon + 1..)?;
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (colon, Some(port))
        }
        None => (host_port.len(), None),
    };
    let before_port = url.get(..scheme_and_auth_len + host_len)?;
    let after_port = rest.get(authority_len..)?;
    Some(PortSplit { scheme, before_port, port, after_port })
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn canonical() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn signs_the_canonical_sdk_vector() {
        assert_eq!(sign(TOKEN, URL, &canonical()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn param_order_in_the_request_does_not_matter() {
        let mut reversed = canonical();
        reversed.reverse();
        assert_eq!(sign(TOKEN, URL, &reversed), sign(TOKEN, URL, &canonical()));
    }

    #[test]
    fn duplicate_values_are_sorted_and_deduplicated() {
        let with_dupes = params(&[("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234"), ("Sid", "CA123")]);
        let clean = params(&[("Sid", "CA123"), ("Digits", "1234"), ("Digits", "5678")]);
        assert_eq!(sign(TOKEN, URL, &with_dupes), sign(TOKEN, URL, &clean));
        // And it equals signing the concatenation by hand.
        let by_hand = sign(TOKEN, &format!("{URL}Digits1234Digits5678SidCA123"), &[]);
        assert_eq!(sign(TOKEN, URL, &with_dupes), by_hand);
    }

    #[test]
    fn names_sort_by_bytes_not_case_insensitively() {
        let ps = params(&[("callSid", "c"), ("CallSid", "b"), ("CALLSID", "a")]);
        assert_eq!(sign(TOKEN, URL, &ps), sign(TOKEN, &format!("{URL}CALLSIDaCallSidbcallSidc"), &[]));
    }

    #[test]
    fn verifies_as_is_port_removed_and_default_port_added() {
        let ps = canonical();
        let form = Payload::Form(&ps);
        // Signed without a port; received with :1234.
        assert!(verify(
            TOKEN,
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            form,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // Signed with :443; received without a port.
        let with_443 = sign(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &ps);
        assert!(verify(TOKEN, URL, form, &with_443));
        // Signed with :80 over http.
        let with_80 = sign(TOKEN, "http://mycompany.com:80/myapp.php?foo=1&bar=2", &ps);
        assert!(verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", form, &with_80));
        // A non-default port is kept as-is.
        let with_8443 = sign(TOKEN, "https://mycompany.com:8443/myapp.php", &ps);
        assert!(verify(TOKEN, "https://mycompany.com:8443/myapp.php", form, &with_8443));
    }

    #[test]
    fn a_wrong_port_is_not_guessed() {
        let ps = canonical();
        // Received with :8443, signed with :443: neither "as is" nor "port removed" matches, and a default port is
        // only added when none was present.
        let with_443 = sign(TOKEN, "https://mycompany.com:443/a", &ps);
        assert!(!verify(TOKEN, "https://mycompany.com:8443/a", Payload::Form(&ps), &with_443));
        // http's default port is not https's.
        let with_80 = sign(TOKEN, "https://mycompany.com:80/a", &ps);
        assert!(!verify(TOKEN, "https://mycompany.com/a", Payload::Form(&ps), &with_80));
    }

    #[test]
    fn split_keeps_every_other_byte() {
        let split = split_port("https://user:p%40ss@Host.Example:8080//a/Espa\u{f1}a?q=%27x+y#frag");
        assert_eq!(
            split,
            Some(PortSplit {
                scheme: "https",
                before_port: "https://user:p%40ss@Host.Example",
                port: Some("8080"),
                after_port: "//a/Espa\u{f1}a?q=%27x+y#frag",
            })
        );
        let no_path = split_port("http://host?x=1").expect("splits");
        assert_eq!((no_path.before_port, no_path.port, no_path.after_port), ("http://host", None, "?x=1"));
        let ipv6 = split_port("https://[::1]:8443/x").expect("splits");
        assert_eq!((ipv6.before_port, ipv6.port), ("https://[::1]", Some("8443")));
        let ipv6_no_port = split_port("https://[::1]/x").expect("splits");
        assert_eq!((ipv6_no_port.before_port, ipv6_no_port.port), ("https://[::1]", None));
        // A ':' in the query is not a port.
        let colon_in_query = split_port("https://host/p?t=12:30").expect("splits");
        assert_eq!(colon_in_query.port, None);
    }

    #[test]
    fn variants_rewrite_only_the_port() {
        assert_eq!(
            url_variants("https://u@h.com/p?a=1"),
            [Some("https://u@h.com/p?a=1".to_owned()), Some("https://u@h.com:443/p?a=1".to_owned())]
        );
        assert_eq!(
            url_variants("HTTP://h.com:1234"),
            [Some("HTTP://h.com:1234".to_owned()), Some("HTTP://h.com".to_owned())]
        );
        // No default port for other schemes; nothing to split in a bare string.
        assert_eq!(url_variants("ftp://h.com/x"), [Some("ftp://h.com/x".to_owned()), None]);
        assert_eq!(url_variants("not a url"), [Some("not a url".to_owned()), None]);
        assert_eq!(url_variants("https://h.com:12ab/x")[1], None);
    }

    #[test]
    fn fragment_is_not_signed() {
        let ps = canonical();
        assert!(verify(TOKEN, &format!("{URL}#section"), Payload::Form(&ps), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn json_body_needs_a_signed_url_and_a_matching_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!("{URL}&bodySHA256={}", body_sha256_hex(body));
        let header = sign(TOKEN, &url, &[]);
        assert!(verify(TOKEN, &url, Payload::Json(body), &header));
        // Same URL and signature, different body.
        assert!(!verify(TOKEN, &url, Payload::Json(b"{}"), &header));
        // No bodySHA256 at all.
        assert!(!verify(TOKEN, URL, Payload::Json(body), &sign(TOKEN, URL, &[])));
        // Uppercase hex is not what Twilio sends, and the SDKs compare exactly.
        let upper = format!("{URL}&bodySHA256={}", body_sha256_hex(body).to_uppercase());
        assert!(!verify(TOKEN, &upper, Payload::Json(body), &sign(TOKEN, &upper, &[])));
    }

    #[test]
    fn body_hash_is_lowercase_hex() {
        assert_eq!(body_sha256_hex(b"{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }

    #[test]
    fn rejects_empty_token_and_empty_or_garbage_headers() {
        let ps = canonical();
        let form = Payload::Form(&ps);
        let good = sign("", URL, &ps);
        assert!(!verify("", URL, form, &good), "an empty auth token must never verify");
        assert!(!verify(TOKEN, URL, form, ""));
        assert!(!verify(TOKEN, URL, form, "not base64 at all \u{1F4A9}"));
        assert!(!verify(TOKEN, URL, form, "RSOYDt4T1cUTdK1PDd93/VVr8B8"), "truncated");
        assert!(!verify(TOKEN, URL, form, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="), "padded");
        assert!(!verify(TOKEN, URL, form, "rsoydt4t1cutdk1pdd93/vvr8b8="), "case matters");
    }

    #[test]
    fn never_panics_on_odd_urls() {
        let ps = canonical();
        for url in [
            "",
            "://",
            "https://",
            "https://@",
            "https://[",
            "https://[::1",
            "https://h:",
            "https://h:/x",
            "https://ü:443/ä?ö#ß",
            "#",
            "?bodySHA256=",
            "https://h.com?bodySHA256=%zz",
            "\u{0}\u{ffff}",
        ] {
            assert!(!verify(TOKEN, url, Payload::Form(&ps), "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "{url:?}");
            assert!(!verify(TOKEN, url, Payload::Json(b"\xff"), "x"), "{url:?}");
        }
    }

    #[test]
    fn empty_port_is_removed_like_any_other() {
        let ps = canonical();
        assert!(verify(
            TOKEN,
            "https://mycompany.com:/myapp.php?foo=1&bar=2",
            Payload::Form(&ps),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }
}
