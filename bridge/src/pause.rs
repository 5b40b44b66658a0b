//! Sending paused while a provider refuses the bridge's credentials (issue #20).
//!
//! A wrong or revoked Twilio auth token (401, error 20003) or Telegram bot token (401/404) fails every reply the
//! same way. Treating that as one message's permanent error used to send the whole queue to manual review, with no
//! way back but a person re-sending each. Instead the first refusal pauses that provider: its replies wait in
//! `replying` (their attempts not counted), nothing is sent to it for `auth_pause_secs`, then the next reply due
//! tries again. One success resumes sending. The pause is in memory, per node: a restart (after fixing the
//! configuration) simply tries again.
//!
//! `redflag_bridge_sending_paused{provider}` is 1 while paused, for the shipped alert.

use std::sync::Mutex;

use crate::metrics as m;
use crate::queue::Channel;

/// Whose credentials: WhatsApp and SMS both go through Twilio's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Twilio,
    Telegram,
}

impl Provider {
    pub fn of(channel: Channel) -> Provider {
        match channel {
            Channel::WhatsApp | Channel::Sms => Provider::Twilio,
            Channel::Telegram => Provider::Telegram,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Telegram => "telegram",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Until when each provider is paused (Unix milliseconds; 0: not paused).
#[derive(Debug)]
pub struct Pauses {
    until: Mutex<[i64; 2]>,
    length_ms: i64,
}

impl Pauses {
    pub fn new(length_ms: i64) -> Pauses {
        for provider in [Provider::Twilio, Provider::Telegram] {
            metrics::gauge!(m::SENDING_PAUSED, "provider" => provider.as_str()).set(0.0);
        }
        Pauses { until: Mutex::new([0; 2]), length_ms }
    }

    /// Until when sending to `provider` waits, if it is paused at `now_ms`.
    pub fn paused_until(&self, provider: Provider, now_ms: i64) -> Option<i64> {
        let until = self.lock()[provider.index()];
        (until > now_ms).then_some(until)
    }

    /// The provider refused the credentials: pause it, and return until when.
    pub fn refused(&self, provider: Provider, code: &str, now_ms: i64) -> i64 {
        let mut until = self.lock();
        let was = until[provider.index()];
        until[provider.index()] = now_ms + self.length_ms;
        if was == 0 {
            tracing::error!(
                provider = provider.as_str(),
                code,
                retry_secs = self.length_ms / 1000,
                "the provider refused the bridge's credentials: sending is paused and retried; fix the credentials \
                 (Twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; Telegram: TELEGRAM_BOT_TOKEN)"
            );
            metrics::gauge!(m::SENDING_PAUSED, "provider" => provider.as_str()).set(1.0);
        }
        until[provider.index()]
    }

    /// A send went through: the credentials work (again).
    pub fn accepted(&self, provider: Provider) {
        let mut until = self.lock();
        if until[provider.index()] != 0 {
            until[provider.index()] = 0;
            tracing::info!(provider = provider.as_str(), "the provider accepts the credentials again; sending resumed");
            metrics::gauge!(m::SENDING_PAUSED, "provider" => provider.as_str()).set(0.0);
        }
    }

    /// The providers whose refusal has not been followed by a successful send yet.
    pub fn refusing(&self) -> Vec<&'static str> {
        let until = self.lock();
        [Provider::Twilio, Provider::Telegram]
            .into_iter()
            .filter(|p| until[p.index()] != 0)
            .map(Provider::as_str)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [i64; 2]> {
        self.until.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_pauses_its_provider_only_until_the_pause_ends_or_a_send_succeeds() {
        let p = Pauses::new(60_000);
        assert_eq!(p.paused_until(Provider::Twilio, 0), None);
        assert_eq!(p.refused(Provider::of(Channel::Sms), "20003", 1_000), 61_000);
        assert_eq!(p.paused_until(Provider::of(Channel::WhatsApp), 2_000), Some(61_000), "one account, both channels");
        assert_eq!(p.paused_until(Provider::Telegram, 2_000), None);
        assert_eq!(p.paused_until(Provider::Twilio, 61_000), None, "then the next reply due tries again");
        assert_eq!(p.refused(Provider::Twilio, "20003", 61_000), 121_000, "refused again: paused again");
        assert_eq!(p.refusing(), ["twilio"]);
        p.accepted(Provider::Twilio);
        assert_eq!(p.paused_until(Provider::Twilio, 62_000), None);
        assert!(p.refusing().is_empty());
    }
}
