//! The image a WhatsApp or SMS user sent (`MediaUrl0`), fetched to be read (issue #21).
//!
//! Only from Twilio's API host, or the configured API base (tests, a proxy): the URL comes in a signed webhook, but
//! a bridge must not become a way to make requests anywhere. With the account's credentials, which Twilio's "HTTP
//! basic authentication for media" setting requires (and ignores otherwise). Twilio answers with a redirect to its
//! media CDN, followed at most [`MAX_REDIRECTS`] times and to `https` only; reqwest drops the credentials on a
//! redirect to another host. Bounded in bytes (the core's image limit) and in time. The bytes stay in memory for
//! the analysis; nothing is written to disk, and the stored URL is cleared with the message's text when it is done.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

const MAX_REDIRECTS: usize = 3;

/// Why an image could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Worth another try later: the network, a timeout, a 5xx or 429.
    #[error("the image could not be fetched ({0}); it will be tried again")]
    Retry(String),
    /// Never going to work: too big, not an image, gone.
    #[error("{0}")]
    Refused(String),
}

/// `url` if it is a media URL on `api_base`'s host (with its scheme), the place Twilio serves media from.
pub fn allowed_url(url: &str, api_base: &str) -> Option<String> {
    let (url, base) = (url::Url::parse(url.trim()).ok()?, url::Url::parse(api_base).ok()?);
    let same_origin = url.scheme() == base.scheme() && url.host_str() == base.host_str() && url.port() == base.port();
    let media_path = url.path().starts_with("/2010-04-01/Accounts/") && url.path().contains("/Media/");
    (same_origin && media_path && url.username().is_empty() && url.password().is_none()).then(|| url.to_string())
}

/// The HTTP client for media: like the API's, but following Twilio's redirect to its CDN (https only).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS || attempt.url().scheme() != "https" {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(policy)
        .user_agent(concat!("redflag-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The image at `url`, at most `max_bytes` of it.
pub async fn fetch(
    http: &reqwest::Client,
    account_sid: &str,
    auth_token: &SecretString,
    url: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, MediaError> {
    let response = http
        .get(url)
        .basic_auth(account_sid, Some(auth_token.expose_secret()))
        .send()
        .await
        .map_err(|e| MediaError::Retry(e.without_url().to_string()))?;
    read_bounded(response, max_bytes).await
}

/// The body of a successful `response`, at most `max_bytes` of it (Twilio's media, a Telegram file).
pub async fn read_bounded(response: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, MediaError> {
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(MediaError::Retry(format!("the server answered {status}")));
    }
    if !status.is_success() {
        return Err(MediaError::Refused(format!(
            "the image is no longer available, or this bridge may not fetch it (the server answered {status})"
        )));
    }
    if response.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(MediaError::Refused(too_large(max_bytes)));
    }
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| MediaError::Retry(e.without_url().to_string()))? {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(MediaError::Refused(too_large(max_bytes)));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn too_large(max_bytes: usize) -> String {
    format!(
        "the image is larger than the {} MB Redflag reads; send a screenshot of the message instead",
        max_bytes >> 20
    )
}

#[cfg(test)]
mod tests {
    use super::allowed_url;

    #[test]
    fn only_media_urls_on_twilios_host_are_fetched() {
        let base = "https://api.twilio.com";
        let media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1";
        assert_eq!(allowed_url(media, base).as_deref(), Some(media));
        for other in [
            "https://evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "https://user:pw@api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "https://api.twilio.com.evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "not a url",
        ] {
            assert_eq!(allowed_url(other, base), None, "{other}");
        }
        let local = "http://127.0.0.1:4000/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1";
        assert!(allowed_url(local, "http://127.0.0.1:4000").is_some(), "the configured base, for tests");
        assert_eq!(allowed_url(local, "http://127.0.0.1:4001"), None, "another port is another origin");
    }
}
