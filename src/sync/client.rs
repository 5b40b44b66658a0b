//! A device pairing with a hub and reading its feed: the client the CLI (`redflag sync`) calls.
//!
//! Pairing asks the hub for its public key with the device's token, pins it, and shows its fingerprint for the
//! person to compare with the one the operator was shown. A sync reads pages after the stored cursor; each page's
//! signature is checked against the pinned key before the page is parsed, its hub and starting cursor must be the
//! ones this device expects, and it is applied in one transaction with the cursor after it ([`SyncState`]). Only
//! the cursor and the token go to the hub: nothing about what the person checked. The hub's rules bundle is taken
//! the same way: signed, for this hub, newer than the one held (an older one is a replay and refused), compiling.
//!
//! A sync first sends the reports waiting in the outbox ([`push_reports`]), each under the id made when it was
//! queued: the hub keeps one report per device and id, so one sent again after a sync died between the hub's
//! answer and the outbox's update still counts once.

use std::time::Duration;

use reqwest::StatusCode;

use super::feed::{self, Bundle, Cursor, FeedError, HubKey, IndicatorPage, SIGNATURE_HEADER};
use crate::store::{HubLink, StoreError, SyncState};

/// How long one request to the hub may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// More pages than this in one sync means a hub that never says "no more": stop and resume next time.
const MAX_PAGES: usize = 1_000;
/// The most a hub's answer may hold: a full page is under a megabyte and a rules file a few hundred kilobytes, so
/// anything near this is not a hub's, and reading it whole before its signature is checked would cost memory.
const MAX_BODY_BYTES: usize = 16 << 20;
/// Reports sent in one sync at most; the rest go at the next.
const MAX_REPORTS_PER_SYNC: usize = 500;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub requests: usize,
    /// Response bytes read.
    pub bytes: u64,
    pub added: usize,
    pub removed: usize,
    /// Indicators held after the sync.
    pub indicators: usize,
    /// The rules version taken in this sync, if the hub published a newer one.
    pub new_rules: Option<String>,
    /// Reports the hub took in this sync.
    pub reports_sent: usize,
    /// Reports the hub refused as malformed: they would be refused every time, so they left the outbox.
    pub reports_refused: usize,
    /// Reports still waiting in the outbox.
    pub reports_waiting: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "this device is not paired with a hub: run `redflag sync pair HUB_URL TOKEN` with the token the operator gave you"
    )]
    NotPaired,
    /// Paired, but the token is not in the store: the desktop app keeps it in the system keyring.
    #[error(
        "this machine was paired by the Redflag desktop app, which keeps the pairing token in the system keyring: \
         sync from the app, or pair the command line with a token of its own (`redflag sync pair HUB_URL TOKEN`)"
    )]
    TokenElsewhere,
    #[error("the hub URL `{0}` is not usable: give the hub's base URL, https:// (or http:// on this machine only)")]
    Url(String),
    #[error("the hub at {url} could not be reached ({why}); the indicators synced before stay in use, try again later")]
    Unreachable { url: String, why: String },
    #[error(
        "the hub refused this device (HTTP {status}): the pairing token was revoked or is wrong; ask the operator for a new one and pair again"
    )]
    Refused { status: u16 },
    #[error("the hub's answer was refused and nothing was applied: {0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether the hub could not be reached at all (as opposed to answering something this device refuses).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SyncError::Unreachable { .. })
    }
}

impl From<FeedError> for SyncError {
    fn from(e: FeedError) -> Self {
        SyncError::Rejected(e.to_string())
    }
}

/// An HTTP client for talking to hubs (rustls, no proxy surprises beyond the environment's).
pub fn http_client() -> Result<reqwest::Client, SyncError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("redflag/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SyncError::Unreachable { url: String::new(), why: e.to_string() })
}

/// Pair with the hub at `url` using `token`: fetch and pin its key. Returns the key, whose fingerprint the person
/// should compare with the operator's; given the operator's `expected` fingerprint, a different key is refused
/// before anything is stored (spaces, colons, hyphens and case do not matter).
pub async fn pair<S: SyncState + ?Sized>(
    http: &reqwest::Client,
    store: &S,
    url: &str,
    token: &str,
    expected: Option<&str>,
) -> Result<HubKey, SyncError> {
    let url = base_url(url)?;
    let (_, body, _) = get(http, &url, token, "/v1/sync/key", &[]).await?;
    let key: HubKey = serde_json::from_slice(&body)
        .map_err(|e| SyncError::Rejected(format!("the hub's key is not the JSON this build expects: {e}")))?;
    // The fingerprint shown must be the key's, whatever the hub says it is.
    let bytes = feed::key_bytes(&key)?;
    let key = feed::hub_key(&bytes);
    let bare = |fp: &str| fp.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    if let Some(expected) = expected.filter(|e| bare(e) != bare(&key.fingerprint)) {
        return Err(SyncError::Rejected(format!(
            "the hub at {url} has the key {}, not the {expected} you were given: it is not the hub you meant, or \
             someone is in between; nothing was stored",
            key.fingerprint
        )));
    }
    let cursor = Cursor::start(&key.fingerprint).to_string();
    store.pair_hub(&HubLink { url, token: token.trim().to_string(), key: key.clone(), cursor, last_sync: None })?;
    Ok(key)
}

/// A whole sync: send the reports waiting in the outbox, then read the feed and the rules bundle. Reports the
/// hub cannot take now (busy, or a hub that takes no reports) wait for the next sync; that never stops the feed.
pub async fn sync<S: SyncState + ?Sized>(http: &reqwest::Client, store: &S) -> Result<SyncReport, SyncError> {
    let mut pushed = match push_reports(http, store).await {
        Ok(pushed) => pushed,
        Err(
            e @ (SyncError::Refused { .. } | SyncError::NotPaired | SyncError::TokenElsewhere | SyncError::Store(_)),
        ) => {
            return Err(e);
        }
        Err(e) => {
            tracing::info!("reports stay queued: {e}");
            SyncReport::default()
        }
    };
    let pulled = pull(http, store).await?;
    pushed.requests += pulled.requests;
    pushed.bytes += pulled.bytes;
    Ok(SyncReport {
        reports_sent: pushed.reports_sent,
        reports_refused: pushed.reports_refused,
        reports_waiting: store.reports_waiting()?,
        requests: pushed.requests,
        bytes: pushed.bytes,
        ..pulled
    })
}

/// The pairing, with a token to send.
fn paired<S: SyncState + ?Sized>(store: &S) -> Result<HubLink, SyncError> {
    let link = store.hub_link()?.ok_or(SyncError::NotPaired)?;
    if link.token.trim().is_empty() {
        return Err(SyncError::TokenElsewhere);
    }
    Ok(link)
}

/// Send the reports waiting in the outbox, oldest first (`POST /v1/sync/reports`). Each leaves the outbox once
/// the hub has taken it; when the hub cannot be reached or is busy, the rest wait for the next sync.
pub async fn push_reports<S: SyncState + ?Sized>(http: &reqwest::Client, store: &S) -> Result<SyncReport, SyncError> {
    let link = paired(store)?;
    let mut report = SyncReport::default();
    let unreachable = |why: String| SyncError::Unreachable { url: link.url.clone(), why };
    for queued in store.pending_reports(MAX_REPORTS_PER_SYNC)? {
        let request = http.post(format!("{}/v1/sync/reports", link.url)).bearer_auth(link.token.trim());
        let response = request.json(&queued.report).send().await.map_err(|e| unreachable(without_url(&e)))?;
        report.requests += 1;
        let status = response.status();
        report.bytes += response.bytes().await.map_or(0, |b| b.len() as u64);
        match status {
            s if s.is_success() => report.reports_sent += 1,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(SyncError::Refused { status: status.as_u16() });
            }
            // Malformed for this hub, now and every time after: keeping it would block the reports behind it.
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => {
                report.reports_refused += 1;
            }
            // Busy, broken or not a hub: try again at the next sync.
            other => return Err(unreachable(format!("HTTP {other} while sending reports"))),
        }
        store.report_sent(&queued.report.id, crate::time::unix_now())?;
    }
    report.reports_waiting = store.reports_waiting()?;
    Ok(report)
}

/// Read every change after the stored cursor and apply it, page by page.
pub async fn pull<S: SyncState + ?Sized>(http: &reqwest::Client, store: &S) -> Result<SyncReport, SyncError> {
    let link = paired(store)?;
    let mut report = SyncReport::default();
    let mut cursor = link.cursor.clone();
    for _ in 0..MAX_PAGES {
        let query = [("cursor", cursor.as_str())];
        let (_, body, signature) = get(http, &link.url, &link.token, "/v1/sync/indicators", &query).await?;
        report.requests += 1;
        report.bytes += body.len() as u64;
        let signature = signature.ok_or(FeedError::MalformedSignature)?;
        feed::verify(&link.key, &body, &signature)?;
        let page: IndicatorPage = serde_json::from_slice(&body)
            .map_err(|e| SyncError::Rejected(format!("a signed page is not the JSON this build expects: {e}")))?;
        check_page(&page, &link, &cursor)?;
        if !store.apply_page(&page, crate::time::unix_now())? {
            return Err(SyncError::Rejected("another sync moved the cursor meanwhile; run it again".into()));
        }
        report.added += page.adds.len();
        report.removed += page.removes.len();
        cursor = page.next;
        if !page.more {
            break;
        }
    }
    report.indicators = store.indicator_count()?;
    report.new_rules = pull_rules(http, store, &link, &mut report).await?;
    Ok(report)
}

/// Take the hub's rules bundle if it is newer than the one held: signed by the pinned key, for this hub, and
/// compiling. An older one than held is refused (a replay); the same one costs a `204`.
async fn pull_rules<S: SyncState + ?Sized>(
    http: &reqwest::Client,
    store: &S,
    link: &HubLink,
    report: &mut SyncReport,
) -> Result<Option<String>, SyncError> {
    let held = store.synced_rules()?;
    let have = held.as_ref().map(|(v, _)| v.as_str()).unwrap_or_default();
    let query = [("have", have)];
    let (status, body, signature) = get(http, &link.url, &link.token, "/v1/sync/bundle", &query).await?;
    report.requests += 1;
    report.bytes += body.len() as u64;
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    feed::verify(&link.key, &body, &signature.ok_or(FeedError::MalformedSignature)?)?;
    let bundle: Bundle = serde_json::from_slice(&body)
        .map_err(|e| SyncError::Rejected(format!("the signed rules bundle is not the JSON this build expects: {e}")))?;
    if bundle.hub != link.key.fingerprint {
        return Err(SyncError::Rejected(format!("the rules bundle is from hub {}, not the paired one", bundle.hub)));
    }
    if let Some((version, _)) = &held {
        match feed::version_order(&bundle.version, version) {
            std::cmp::Ordering::Less => {
                return Err(SyncError::Rejected(format!(
                    "the hub offers rules {}, older than the {version} this device has (a replayed bundle)",
                    bundle.version
                )));
            }
            std::cmp::Ordering::Equal => return Ok(None),
            std::cmp::Ordering::Greater => {}
        }
    }
    let rules = crate::rules::RuleSet::from_toml(&bundle.rules, "the hub's rules bundle")
        .map_err(|e| SyncError::Rejected(format!("the hub's rules do not compile: {e}")))?;
    if rules.version() != bundle.version {
        return Err(SyncError::Rejected("the rules bundle's version is not the rules file's own".into()));
    }
    store.set_synced_rules(&bundle.version, &bundle.rules)?;
    Ok(Some(bundle.version))
}

/// A verified page must still be for this device: from the pinned hub, continuing from where this device is.
fn check_page(page: &IndicatorPage, link: &HubLink, cursor: &str) -> Result<(), SyncError> {
    if page.hub != link.key.fingerprint {
        return Err(SyncError::Rejected(format!("the page is from hub {}, not the paired one", page.hub)));
    }
    if page.cursor != cursor {
        return Err(SyncError::Rejected("the page does not continue from this device's cursor".into()));
    }
    let next =
        Cursor::parse(&page.next).ok_or_else(|| SyncError::Rejected("the page's next cursor is malformed".into()))?;
    let from = Cursor::parse(cursor)
        .ok_or_else(|| SyncError::Rejected("the stored cursor is malformed; pair again".into()))?;
    if next.hub != link.key.fingerprint || next.seq < from.seq {
        return Err(SyncError::Rejected("the page's next cursor goes backwards or names another hub".into()));
    }
    Ok(())
}

/// `GET url+path` with the device's token; the body and the signature header.
async fn get(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<(StatusCode, Vec<u8>, Option<String>), SyncError> {
    let unreachable = |e: reqwest::Error| SyncError::Unreachable { url: url.to_string(), why: without_url(&e) };
    let request = http.get(format!("{url}{path}")).query(query).bearer_auth(token.trim());
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(SyncError::Refused { status: status.as_u16() });
    }
    let signature = response.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let too_big = || SyncError::Rejected(format!("the hub's answer is larger than {MAX_BODY_BYTES} bytes"));
    if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_big());
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_server_error() {
        return Err(SyncError::Unreachable { url: url.to_string(), why: format!("HTTP {status}") });
    }
    // A missing bundle is an answer, not a failure.
    let answered = status.is_success() || (status == StatusCode::NOT_FOUND && path == "/v1/sync/bundle");
    if !answered {
        let said = String::from_utf8_lossy(&body).chars().take(300).collect::<String>();
        return Err(SyncError::Rejected(format!("HTTP {status}: {said}")));
    }
    Ok((status, body, signature))
}

/// The hub's base URL without a trailing slash; plain HTTP only to this machine, since the token travels in it.
fn base_url(raw: &str) -> Result<String, SyncError> {
    let bad = || SyncError::Url(raw.to_string());
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?;
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let loopback = host == "localhost" || ip.is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad()),
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// reqwest's errors name the URL, which may carry the cursor; the host is said once already.
fn without_url(e: &reqwest::Error) -> String {
    let mut why = e.to_string();
    if let Some(url) = e.url() {
        why = why.replace(url.as_str(), "the hub");
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls_are_https_or_loopback_http() {
        assert_eq!(base_url("https://hub.example.org/").expect("https"), "https://hub.example.org");
        assert_eq!(base_url("http://127.0.0.1:8080").expect("loopback"), "http://127.0.0.1:8080");
        assert!(base_url("http://hub.example.org").is_err(), "the token would travel in clear");
        assert!(base_url("hub.example.org").is_err());
    }
}
