//! Twilio: webhook signatures, sender addresses and the REST client for replies.

pub mod address;
pub mod client;
pub mod media;
pub mod signature;

/// The form fields Twilio posts for an inbound text message (see `inbound_webhook` in
/// ../shared/protocol/twilio_fixtures.json): what `simulate` sends, and what the tests play Twilio with.
pub fn inbound_form(sid: &str, account_sid: &str, from: &str, to: &str, body: &str) -> Vec<(String, String)> {
    [
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", account_sid),
        ("From", from),
        ("To", to),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
