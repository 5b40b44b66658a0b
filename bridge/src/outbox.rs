//! Where replies leave: Twilio's REST API for WhatsApp and SMS, the Bot API for Telegram, or (development without
//! Twilio credentials) the log. Every outcome is folded into one [`Delivery`] so the worker handles both providers
//! with one retry policy.

use std::time::Duration;

use crate::queue::Channel;
use crate::telegram::TelegramClient;
use crate::twilio::address::mask;
use crate::twilio::client::{Outgoing, Retry, TwilioClient};
use crate::twilio::media::MediaError;

/// What happened to one outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The provider took it and named it (Twilio's `SM...` SID, Telegram's message id).
    Sent(String),
    /// A transient failure: try again later (after `after` when the provider asked for a wait).
    Retry { after: Option<Duration>, code: String },
    /// Sending again cannot help; `outside_window` is WhatsApp's 24-hour rule (63016).
    Permanent { code: String, outside_window: bool },
    /// The provider refused the bridge's credentials: every send will fail alike until they are fixed
    /// ([`crate::pause`]).
    Unauthorized { code: String },
}

#[derive(Debug)]
pub struct Twilio {
    pub client: TwilioClient,
    /// Our sender, `whatsapp:+1...`; SMS replies use the number without the prefix.
    pub from: String,
    pub status_callback: Option<String>,
    pub template_content_sid: Option<String>,
}

#[derive(Debug)]
pub struct Outbox {
    /// `None`: mock mode, replies are logged.
    pub twilio: Option<Twilio>,
    pub telegram: Option<TelegramClient>,
    /// Log full addresses in mock mode.
    pub log_personal_data: bool,
    /// A template configured for mock mode, so the 24-hour window logic can be seen without Twilio.
    pub mock_template: Option<String>,
}

impl Outbox {
    pub async fn send_text(&self, channel: Channel, to: &str, text: &str) -> Delivery {
        match channel {
            Channel::Telegram => self.telegram(to, text).await,
            Channel::WhatsApp | Channel::Sms => match &self.twilio {
                Some(t) => {
                    let from = sender_for(channel, &t.from);
                    let msg = Outgoing {
                        to,
                        from: &from,
                        body: Some(text),
                        status_callback: t.status_callback.as_deref(),
                        ..Outgoing::default()
                    };
                    twilio_delivery(t.client.send(&msg).await.map(|s| s.sid))
                }
                None => self.mock(channel, to, text),
            },
        }
    }

    /// The image a WhatsApp or SMS message carried, fetched from Twilio (bounded by the core's image limit). In
    /// mock mode there are no credentials to fetch it with, so it is refused as unreadable.
    pub async fn fetch_image(&self, url: &str) -> Result<Vec<u8>, MediaError> {
        if let Some(file_id) = url.strip_prefix(crate::telegram::TELEGRAM_FILE) {
            return match &self.telegram {
                Some(t) => t.fetch_file(file_id, redflag::ocr::MAX_IMAGE_BYTES).await,
                None => Err(MediaError::Refused("Telegram is not configured on this bridge".into())),
            };
        }
        match &self.twilio {
            Some(t) => t.client.fetch_media(url, redflag::ocr::MAX_IMAGE_BYTES).await,
            None => Err(MediaError::Refused("images cannot be fetched without Twilio credentials (mock mode)".into())),
        }
    }

    /// Send the configured WhatsApp template; `None` when there is none.
    pub async fn send_template(&self, to: &str) -> Option<Delivery> {
        match &self.twilio {
            Some(t) => {
                let sid = t.template_content_sid.as_deref()?;
                let msg = Outgoing {
                    to,
                    from: &t.from,
                    content_sid: Some(sid),
                    status_callback: t.status_callback.as_deref(),
                    ..Outgoing::default()
                };
                Some(twilio_delivery(t.client.send(&msg).await.map(|s| s.sid)))
            }
            None => {
                let sid = self.mock_template.as_deref()?;
                Some(self.mock(Channel::WhatsApp, to, &format!("[template {sid}]")))
            }
        }
    }

    async fn telegram(&self, to: &str, text: &str) -> Delivery {
        let Some(client) = &self.telegram else {
            return Delivery::Permanent { code: "telegram-not-configured".into(), outside_window: false };
        };
        let Ok(chat_id) = to.parse::<i64>() else {
            return Delivery::Permanent { code: "telegram-bad-chat-id".into(), outside_window: false };
        };
        match client.send_message(chat_id, text, Some("HTML")).await {
            // Telegram message ids are unique per chat only; delivery records need a global key.
            Ok(id) => Delivery::Sent(format!("tg:{chat_id}:{id}")),
            Err(e) => {
                let code = e.code().map_or_else(|| e.reason().to_string(), |c| c.to_string());
                tracing::warn!(error = %e, "Telegram sendMessage failed");
                if e.is_auth_failure() {
                    return Delivery::Unauthorized { code };
                }
                match e.retry() {
                    Retry::After(after) => Delivery::Retry { after, code },
                    Retry::Never => Delivery::Permanent { code, outside_window: false },
                }
            }
        }
    }

    /// Mock mode exists only in development without Twilio credentials, where seeing the reply is the point
    /// (`simulate` sends made-up messages), so the text is logged; the address stays masked unless
    /// `log_personal_data` is on.
    fn mock(&self, channel: Channel, to: &str, text: &str) -> Delivery {
        let id = format!("MOCK{}", uuid::Uuid::new_v4().simple());
        let to = if self.log_personal_data { to.to_string() } else { mask(to) };
        tracing::info!(channel = channel.as_str(), to = %to, id = %id, "mock reply (not sent):\n{text}");
        Delivery::Sent(id)
    }
}

/// WhatsApp replies come from the `whatsapp:` sender; SMS replies from the same number without the prefix.
fn sender_for(channel: Channel, from: &str) -> String {
    match channel {
        Channel::Sms => from.strip_prefix("whatsapp:").unwrap_or(from).to_string(),
        _ if from.starts_with("whatsapp:") => from.to_string(),
        _ => format!("whatsapp:{from}"),
    }
}

fn twilio_delivery(result: Result<String, crate::twilio::client::SendError>) -> Delivery {
    match result {
        Ok(sid) => Delivery::Sent(sid),
        Err(e) => {
            let code = e.code().map_or_else(|| e.reason().to_string(), |c| c.to_string());
            tracing::warn!(error = %e, "Twilio send failed");
            if e.is_auth_failure() {
                return Delivery::Unauthorized { code };
            }
            match e.retry() {
                Retry::After(after) => Delivery::Retry { after, code },
                Retry::Never => Delivery::Permanent { code, outside_window: e.is_outside_window() },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_replies_come_from_the_bare_number() {
        assert_eq!(sender_for(Channel::Sms, "whatsapp:+14155238886"), "+14155238886");
        assert_eq!(sender_for(Channel::WhatsApp, "whatsapp:+14155238886"), "whatsapp:+14155238886");
        assert_eq!(sender_for(Channel::WhatsApp, "+14155238886"), "whatsapp:+14155238886");
    }
}
