//! Telegram: the part of a Bot API `Update` the bridge reads, and the `sendMessage` client for replies.
//!
//! [`Update`] deserializes only what the bridge needs and ignores every other field, so new Bot API fields never
//! break the webhook. [`Update::text_message`] reduces an update to an [`Incoming`]: who wrote, in which chat, what
//! text, and whether it carried media the bridge cannot read.
//!
//! [`TelegramClient::send_message`] makes one request and never retries, like the Twilio client: the durable queue's
//! worker owns the schedule, and [`TelegramError::retry`] returns the same [`Retry`] as Twilio's errors so one
//! worker handles both. The bot token is part of every request's URL path, so it is kept out of everything that
//! can be printed: the client's `Debug` redacts it, reqwest errors are stripped of their URL before their text is
//! kept, and server text is scrubbed of it too.
//!
//! Texts longer than [`MAX_TEXT_CHARS`] are refused by Telegram; splitting is the caller's job.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tracing::debug;

pub use crate::twilio::client::Retry;
use crate::twilio::client::{build_http, check_api_base, read, retry_after, root_cause};
use crate::twilio::media::MediaError;

/// Telegram's production Bot API; tests point the client at a fake instead.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// `sendMessage` accepts 1 to 4096 characters of text (after entity parsing).
pub const MAX_TEXT_CHARS: usize = 4096;

/// One webhook delivery. Exactly one field besides `update_id` is set by Telegram; only the two the bridge answers
/// are read. `update_id` increases monotonically and is the dedupe key.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub edited_message: Option<Message>,
}

/// How a stored message names a Telegram file to fetch (`media_url`), where a Twilio message has a URL.
pub const TELEGRAM_FILE: &str = "telegram-file:";

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    /// Absent for messages sent on behalf of a channel.
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    /// Unix seconds.
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: Option<String>,
    /// The text that comes with a photo, video or document.
    #[serde(default)]
    pub caption: Option<String>,
    // A photo (in several sizes) or an image sent as a file is read; other media are only detected.
    #[serde(default)]
    photo: Option<Vec<PhotoSize>>,
    #[serde(default)]
    document: Option<Document>,
    #[serde(default)]
    voice: Option<IgnoredAny>,
    #[serde(default)]
    video: Option<IgnoredAny>,
    #[serde(default)]
    video_note: Option<IgnoredAny>,
    #[serde(default)]
    audio: Option<IgnoredAny>,
    #[serde(default)]
    animation: Option<IgnoredAny>,
    #[serde(default)]
    sticker: Option<IgnoredAny>,
}

/// One size of a photo, as Telegram sends every photo in several.
#[derive(Debug, Clone, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub file_size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub file_id: String,
    #[serde(default)]
    pub mime_type: Option<String>,
}

impl Message {
    /// The file id of the image to read: the largest size of a photo the Bot API will hand over (20 MB), or a
    /// document that is an image (a screenshot sent "as a file").
    pub fn image(&self) -> Option<&str> {
        let fits = |p: &&PhotoSize| p.file_size.is_none_or(|n| n <= redflag::ocr::MAX_IMAGE_BYTES as u64);
        let photo = self.photo.iter().flatten().filter(fits).max_by_key(|p| u64::from(p.width) * u64::from(p.height));
        photo.map(|p| p.file_id.as_str()).or_else(|| {
            self.document
                .as_ref()
                .filter(|d| d.mime_type.as_deref().is_some_and(|m| m.to_ascii_lowercase().starts_with("image/")))
                .map(|d| d.file_id.as_str())
        })
    }

    /// Whether a photo, document, voice note, video, audio, animation or sticker is attached.
    pub fn has_media(&self) -> bool {
        self.photo.is_some()
            || self.document.is_some()
            || [&self.voice, &self.video, &self.video_note, &self.audio, &self.animation, &self.sticker]
                .iter()
                .any(|m| m.is_some())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    /// IETF tag of the user's app language (e.g. `pt-BR`), when Telegram shares it.
    #[serde(default)]
    pub language_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    /// Negative for groups and channels, and may exceed 32 bits.
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A message the bridge may answer, borrowed from its [`Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming<'a> {
    pub update_id: i64,
    pub message_id: i64,
    pub chat_id: i64,
    pub user_id: Option<i64>,
    /// The text, else the media caption; `None` for media without a caption.
    pub text: Option<&'a str>,
    pub has_media: bool,
    /// The file id of an attached image, to be read.
    pub image: Option<&'a str>,
    /// From `edited_message`: the user changed a message already answered.
    pub edited: bool,
    /// A one-to-one chat with the bot (not a group or channel).
    pub private: bool,
    pub from_bot: bool,
    pub language_code: Option<&'a str>,
}

impl Update {
    /// The new or edited message with text, a caption or media, preferring `message`. `None` for other update
    /// kinds and for messages with nothing to analyse or answer (service messages such as "X joined the group",
    /// locations, polls).
    pub fn text_message(&self) -> Option<Incoming<'_>> {
        let (m, edited) = match (&self.message, &self.edited_message) {
            (Some(m), _) => (m, false),
            (None, Some(m)) => (m, true),
            (None, None) => return None,
        };
        let text = m.text.as_deref().or(m.caption.as_deref());
        let has_media = m.has_media();
        if text.is_none() && !has_media {
            return None;
        }
        Some(Incoming {
            update_id: self.update_id,
            message_id: m.message_id,
            chat_id: m.chat.id,
            user_id: m.from.as_ref().map(|u| u.id),
            text,
            has_media,
            image: m.image(),
            edited,
            private: m.chat.kind == "private",
            from_bot: m.from.as_ref().is_some_and(|u| u.is_bot),
            language_code: m.from.as_ref().and_then(|u| u.language_code.as_deref()),
        })
    }
}

/// Why a Telegram message was not sent. No message contains the bot token.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// Telegram answered `ok: false` (or a non-2xx status with a body that is not the Bot API's JSON, such as a
    /// 502 page; then `code` is the HTTP status).
    #[error("{}", api_text(*.code, .description, *.retry_after))]
    Api { status: u16, code: u32, description: String, retry_after: Option<Duration>, migrate_to_chat_id: Option<i64> },
    /// No answer: connection refused or reset, DNS, TLS, or no answer within the timeout (after which Telegram may
    /// have sent the message anyway).
    #[error("{}", network_text(.api_base, .cause, *.timeout))]
    Network { api_base: String, cause: String, timeout: bool },
    /// A success status without a readable result. The message was probably sent, so it is not retried.
    #[error(
        "Telegram answered HTTP {status} but not with a sent message ({detail}): check that the Telegram api_base \
         points at the Bot API; the message may have been sent, so it is not retried"
    )]
    BadResponse { status: u16, detail: String },
    /// The client is unusable as configured; nothing was sent.
    #[error("{0}")]
    Config(String),
}

impl TelegramError {
    /// Whether and when to try this message again: 429 after `parameters.retry_after`, 5xx and network failures
    /// with the worker's backoff; 400, 401, 403 and the rest never.
    pub fn retry(&self) -> Retry {
        match self {
            TelegramError::Api { code, retry_after, .. } if *code == 429 || (500..600).contains(code) => {
                Retry::After(*retry_after)
            }
            TelegramError::Network { .. } => Retry::After(None),
            _ => Retry::Never,
        }
    }

    /// The Bot API `error_code` (an HTTP status, e.g. 403), else the HTTP status; `None` when there was no answer.
    pub fn code(&self) -> Option<u32> {
        match self {
            TelegramError::Api { code, .. } => Some(*code),
            TelegramError::BadResponse { status, .. } => Some(u32::from(*status)),
            TelegramError::Network { .. } | TelegramError::Config(_) => None,
        }
    }

    /// A short fixed phrase for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            TelegramError::Api { migrate_to_chat_id: Some(_), .. } => "group moved to a supergroup",
            TelegramError::Api { code, .. } => match code {
                400 => "bad request",
                401 | 404 => "bot token rejected",
                403 => "bot blocked or removed",
                429 => "rate limited",
                500..=599 => "server error",
                _ => "rejected",
            },
            TelegramError::Network { timeout: true, .. } => "timed out",
            TelegramError::Network { .. } => "network error",
            TelegramError::BadResponse { .. } => "unreadable response",
            TelegramError::Config(_) => "misconfigured",
        }
    }

    /// 403: the user blocked the bot, deleted their account, or the bot was removed from the group. Nothing can be
    /// sent to this chat until the user writes again.
    pub fn is_blocked(&self) -> bool {
        matches!(self, TelegramError::Api { code: 403, .. })
    }

    /// 401 (or 404 for the whole bot path): the token is wrong, and every message will fail until it is fixed.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, TelegramError::Api { code: 401 | 404, .. })
    }

    /// The group became a supergroup with this new chat id; resend there.
    pub fn migrate_to_chat_id(&self) -> Option<i64> {
        match self {
            TelegramError::Api { migrate_to_chat_id, .. } => *migrate_to_chat_id,
            _ => None,
        }
    }
}

/// A Bot API client. Cheap to share (`Send + Sync`); keep one so its connection pool is reused.
#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    api_base: String,
    bot_token: SecretString,
}

impl std::fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramClient")
            .field("api_base", &self.api_base)
            .field("bot_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl TelegramClient {
    /// `api_base` is [`DEFAULT_API_BASE`] in production. `timeout` bounds each request, connection included.
    pub fn new(api_base: &str, bot_token: SecretString, timeout: Duration) -> Result<Self, TelegramError> {
        let api_base = check_api_base(api_base, "Telegram").map_err(TelegramError::Config)?;
        // The token goes into the URL path: anything outside BotFather's alphabet would change the path.
        let token = bot_token.expose_secret();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-')) {
            return Err(TelegramError::Config(
                "the Telegram bot token is empty or has characters a token cannot have (it looks like \
                 123456789:ABC-def_ghi): copy it again from @BotFather"
                    .into(),
            ));
        }
        let http = build_http(timeout).map_err(|e| TelegramError::Config(format!("cannot set up HTTP: {e}")))?;
        Ok(TelegramClient { http, api_base, bot_token })
    }

    /// Sends `text` to `chat_id` with one POST and returns the new message's id. `parse_mode` is `HTML`,
    /// `MarkdownV2` or `None` for plain text. Link previews are off: replies quote the suspicious links, and a
    /// preview would fetch them and display them as attractively as the scammer hoped.
    pub async fn send_message(&self, chat_id: i64, text: &str, parse_mode: Option<&str>) -> Result<i64, TelegramError> {
        let mut body = serde_json::json!({
            "chat_id": chat_id,
            "text": text,
            "link_preview_options": { "is_disabled": true },
        });
        if let Some(mode) = parse_mode {
            body["parse_mode"] = mode.into();
        }
        let url = format!("{}/bot{}/sendMessage", self.api_base, self.bot_token.expose_secret());
        self.call_send(chat_id, url, &body).await
    }

    /// The bytes of the file `file_id` (a photo someone sent), at most `max_bytes`: `getFile` for its path, then
    /// the download. The token is in both URLs, so no error carries a URL.
    pub async fn fetch_file(&self, file_id: &str, max_bytes: usize) -> Result<Vec<u8>, MediaError> {
        let token = self.bot_token.expose_secret();
        let url = format!("{}/bot{token}/getFile", self.api_base);
        let response = self.http.post(url).json(&serde_json::json!({ "file_id": file_id })).send().await;
        let (status, _, bytes) = read(response).await.map_err(|e| MediaError::Retry(self.scrub(&root_cause(&e))))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(MediaError::Retry(format!("Telegram answered {status}")));
        }
        #[derive(Deserialize)]
        struct File {
            file_path: Option<String>,
        }
        #[derive(Deserialize)]
        struct FileReply {
            ok: bool,
            result: Option<File>,
        }
        let path = serde_json::from_slice::<FileReply>(&bytes)
            .ok()
            .filter(|r| r.ok)
            .and_then(|r| r.result)
            .and_then(|f| f.file_path)
            .filter(|p| !p.contains("..") && !p.starts_with('/'))
            .ok_or_else(|| MediaError::Refused("Telegram did not hand over the image (it may be too large)".into()))?;
        let url = format!("{}/file/bot{token}/{path}", self.api_base);
        let response = self.http.get(url).send().await.map_err(|e| MediaError::Retry(self.scrub(&root_cause(&e))))?;
        crate::twilio::media::read_bounded(response, max_bytes).await
    }

    async fn call_send(&self, chat_id: i64, url: String, body: &serde_json::Value) -> Result<i64, TelegramError> {
        let response = self.http.post(url).json(body).send().await;
        let (status, headers, bytes) = match read(response).await {
            Ok(reply) => reply,
            Err(e) => {
                let cause = self.scrub(&root_cause(&e));
                return Err(TelegramError::Network { api_base: self.api_base.clone(), cause, timeout: e.is_timeout() });
            }
        };
        let reply: Option<Reply> = serde_json::from_slice(&bytes).ok();
        match reply {
            Some(Reply { ok: true, result: Some(result), .. }) if status.is_success() => {
                debug!(chat_id, message_id = result.message_id, "Telegram sent the message");
                Ok(result.message_id)
            }
            _ if status.is_success() => Err(TelegramError::BadResponse {
                status: status.as_u16(),
                detail: "no ok result with a message_id".into(),
            }),
            Some(reply) => {
                let params = reply.parameters.unwrap_or_default();
                let err = TelegramError::Api {
                    status: status.as_u16(),
                    code: reply.error_code.unwrap_or(u32::from(status.as_u16())),
                    description: self.scrub(reply.description.as_deref().unwrap_or("no description")),
                    retry_after: params.retry_after.map(Duration::from_secs).or_else(|| retry_after(&headers)),
                    migrate_to_chat_id: params.migrate_to_chat_id,
                };
                debug!(chat_id, code = err.code(), reason = err.reason(), "Telegram refused the message");
                Err(err)
            }
            None => {
                let text = String::from_utf8_lossy(&bytes).split_whitespace().collect::<Vec<_>>().join(" ");
                Err(TelegramError::Api {
                    status: status.as_u16(),
                    code: u32::from(status.as_u16()),
                    description: self.scrub(&format!("non-JSON body: {text}")),
                    retry_after: retry_after(&headers),
                    migrate_to_chat_id: None,
                })
            }
        }
    }

    fn scrub(&self, text: &str) -> String {
        let text = text.replace(self.bot_token.expose_secret(), "[REDACTED]");
        match text.char_indices().nth(200) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text,
        }
    }
}

/// The Bot API's envelope: `{ok, result}` or `{ok: false, error_code, description, parameters}`.
#[derive(Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    result: Option<SentMessage>,
    #[serde(default)]
    error_code: Option<u32>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
}

#[derive(Deserialize, Default)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

fn api_text(code: u32, description: &str, retry_after: Option<Duration>) -> String {
    match code {
        429 => {
            let when = retry_after.map(|d| format!(" after {} s", d.as_secs())).unwrap_or_default();
            format!("Telegram rate-limited the bot ({code}: {description}); retry it later{when}")
        }
        500..=599 => format!("Telegram could not take the message now ({code}: {description}); retry it later"),
        401 | 404 => format!(
            "Telegram rejected the bot token ({code}: {description}): check the token in the bridge configuration \
             (from @BotFather) and the Telegram api_base"
        ),
        403 => format!(
            "Telegram refused the message ({code}: {description}): the user blocked the bot or the bot left the \
             chat; nothing can be sent there until the user writes again"
        ),
        _ => format!("Telegram refused the message ({code}: {description}): it cannot be sent as it is"),
    }
}

fn network_text(api_base: &str, cause: &str, timeout: bool) -> String {
    if timeout {
        format!(
            "no answer from {api_base} in time ({cause}); retry later (Telegram may have sent the message, so a retry \
             can rarely send it twice)"
        )
    } else {
        format!("cannot reach {api_base} ({cause}); check the network and the configured api_base, then retry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture's `update_text_message.body` (../shared/protocol/telegram_fixtures.json).
    const TEXT_UPDATE: &str = r#"{"update_id":412345678,"message":{"message_id":42,
        "from":{"id":123456789,"is_bot":false,"first_name":"Ana","last_name":"Silva","username":"ana_s",
        "language_code":"pt-BR"},
        "chat":{"id":123456789,"first_name":"Ana","last_name":"Silva","username":"ana_s","type":"private"},
        "date":1732450000,"text":"Is https://dhl-pay.example legit?",
        "entities":[{"offset":3,"length":25,"type":"url"}]}}"#;

    fn update(json: &str) -> Update {
        serde_json::from_str(json).expect("a valid update")
    }

    #[test]
    fn telegram_text_update_is_read() {
        let u = update(TEXT_UPDATE);
        let m = u.text_message().expect("a text message");
        assert_eq!(
            m,
            Incoming {
                update_id: 412345678,
                message_id: 42,
                chat_id: 123456789,
                user_id: Some(123456789),
                text: Some("Is https://dhl-pay.example legit?"),
                has_media: false,
                image: None,
                edited: false,
                private: true,
                from_bot: false,
                language_code: Some("pt-BR"),
            }
        );
    }

    #[test]
    fn telegram_group_edit_and_media_updates() {
        let u = update(
            r#"{"update_id":7,"edited_message":{"message_id":9,"from":{"id":5,"is_bot":false,"first_name":"B"},
            "chat":{"id":-1001234567890,"title":"G","type":"supergroup"},"date":1,"edit_date":2,
            "photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"pay here"}}"#,
        );
        let m = u.text_message().expect("an edited photo with caption");
        assert_eq!(
            (m.chat_id, m.text, m.has_media, m.edited, m.private),
            (-1001234567890, Some("pay here"), true, true, false)
        );

        let voice = update(
            r#"{"update_id":8,"message":{"message_id":1,"chat":{"id":1,"type":"private"},
            "voice":{"file_id":"v","file_unique_id":"u","duration":3}}}"#,
        );
        let m = voice.text_message().expect("a voice note");
        assert_eq!((m.text, m.has_media, m.user_id), (None, true, None));

        let joined = update(
            r#"{"update_id":9,"message":{"message_id":2,"chat":{"id":-5,"type":"group"},"from":{"id":3},
            "new_chat_members":[{"id":4,"is_bot":false,"first_name":"C"}]}}"#,
        );
        assert!(joined.text_message().is_none());
        let callback = update(r#"{"update_id":10,"callback_query":{"id":"1","data":"x"}}"#);
        assert!(callback.text_message().is_none());
    }

    #[test]
    fn telegram_errors_are_sorted() {
        let api = |code, retry_after| TelegramError::Api {
            status: code as u16,
            code,
            description: "d".into(),
            retry_after,
            migrate_to_chat_id: None,
        };
        assert_eq!(api(429, Some(Duration::from_secs(15))).retry(), Retry::After(Some(Duration::from_secs(15))));
        assert_eq!(api(502, None).retry(), Retry::After(None));
        assert_eq!(api(403, None).retry(), Retry::Never);
        assert!(api(403, None).is_blocked());
        assert_eq!(api(400, None).retry(), Retry::Never);
        assert!(api(401, None).is_auth_failure());
        assert!(api(429, Some(Duration::from_secs(15))).to_string().contains("after 15 s"));
    }

    #[test]
    fn telegram_bad_tokens_are_refused_without_echo() {
        let t = Duration::from_secs(5);
        let e = TelegramClient::new(DEFAULT_API_BASE, SecretString::from("12345:abc/../x"), t).expect_err("slash");
        assert!(!e.to_string().contains("abc"), "{e}");
        let client = TelegramClient::new(DEFAULT_API_BASE, SecretString::from("12345:tok-SECRET"), t).expect("valid");
        assert!(!format!("{client:?}").contains("SECRET"));
        assert_eq!(client.scrub("bot12345:tok-SECRET/sendMessage"), "bot[REDACTED]/sendMessage");
    }
}
