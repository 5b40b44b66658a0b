//! Who sent an inbound Twilio message, and where a reply may go.
//!
//! Twilio's `From` is `whatsapp:+14155550123` for WhatsApp and `+14155550123` for SMS. WhatsApp users who adopt a
//! username may hide their number; Twilio then identifies them by a business-scoped user ID (BSUID, e.g.
//! `US.13491208655302741918`: a two-letter country code, a dot, an optional `ENT.` for parent BSUIDs, then up to
//! 128 letters and digits), either in `From` as `whatsapp:US.1349…` or in a separate field.
//!
//! [`parse_sender`] turns those into a [`Sender`]:
//! - `reply_to` is the exact `To` for the REST reply, and only ever holds a number that parsed as valid E.164 with
//!   the `phonenumber` metadata. When there is none (a BSUID-only user) it is `None` and the caller must not send:
//!   a guessed address earns error 21211 and, if the failure is retried, a loop.
//! - `user_key` keys quotas and history: `<channel>:<E.164>` (`whatsapp:+14155550123`, `sms:+14155550123`) when
//!   there is a number, else `whatsapp-bsuid:<BSUID>`. A number wins over a BSUID when both arrive, so history kept
//!   before the BSUID rollout stays attached; a user who later hides their number starts a new key. WhatsApp and
//!   SMS from the same number are different keys, deliberately: they are different conversations.
//!
//! Numbers and IDs are personal data, so [`AddressError`] never repeats the input, `Sender`'s `Debug` masks it, and
//! [`mask`] is what goes into logs.

use std::fmt;

use phonenumber::Mode;

/// The messaging channel a Twilio message came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    WhatsApp,
    Sms,
}

impl Channel {
    /// A short lowercase name for logs, metrics and keys: `"whatsapp"` or `"sms"`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
        }
    }

    /// What Twilio puts before the number in `From`/`To` on this channel.
    fn address_prefix(self) -> &'static str {
        match self {
            Channel::WhatsApp => WHATSAPP_PREFIX,
            Channel::Sms => "",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sender of one inbound message.
#[derive(Clone, PartialEq, Eq)]
pub struct Sender {
    pub channel: Channel,
    /// The REST `To` for a reply (`whatsapp:+E164` or `+E164`); `None` means never send.
    pub reply_to: Option<String>,
    /// Stable key for quotas and history; see the module docs for its shape.
    pub user_key: String,
}

impl fmt::Debug for Sender {
    // Debug output ends up in logs and panic messages; it must not carry a full phone number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.channel)
            .field("reply_to", &self.reply_to.as_deref().map(mask))
            .field("user_key", &mask(&self.user_key))
            .finish()
    }
}

/// Why an inbound sender address was refused. Messages never include the address itself: they may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the sender is empty: neither `From` nor a WhatsApp user ID was given; check the webhook's form parsing")]
    Empty,
    #[error("the sender is on a channel other than WhatsApp or SMS, the only two served; drop the message")]
    UnsupportedChannel,
    #[error("the sender number lacks its '+'; a bare '+' in a form body decodes as a space, send it as %2B")]
    MissingPlus,
    #[error("the sender number is not E.164 ('+' then at most 15 ASCII digits, nothing else); do not reply to it")]
    NotE164,
    #[error("the sender number is not a valid phone number for its country code; do not reply to it")]
    InvalidNumber,
    #[error("the WhatsApp user ID is not a BSUID (country code, '.', letters and digits); do not reply to it")]
    InvalidBsuid,
}

const WHATSAPP_PREFIX: &str = "whatsapp:";
const BSUID_KEY_PREFIX: &str = "whatsapp-bsuid:";
/// E.164 allows at most 15 digits after the '+'.
const MAX_E164_DIGITS: usize = 15;
/// Meta documents "up to 128 alphanumeric characters" after the country code.
const MAX_BSUID_ID_LEN: usize = 128;

/// Parses Twilio's `From` and, when given, the WhatsApp business-scoped user ID field.
///
/// A valid number in `From` wins. Otherwise a BSUID (in `From` as `whatsapp:<BSUID>`, or in `external_user_id`,
/// with or without `whatsapp:`) gives a WhatsApp sender with no `reply_to`. Surrounding whitespace is ignored;
/// anything else odd is an error.
pub fn parse_sender(from: &str, external_user_id: Option<&str>) -> Result<Sender, AddressError> {
    let from = from.trim();
    let external = external_user_id.map(str::trim).filter(|id| !id.is_empty());
    let from_result = if from.is_empty() { Err(AddressError::Empty) } else { parse_from(from) };
    match (from_result, external) {
        (Ok(sender), _) => Ok(sender),
        // Another channel (Messenger, RCS, ...) is not WhatsApp just because a user ID came along.
        (Err(error @ AddressError::UnsupportedChannel), _) | (Err(error), None) => Err(error),
        (Err(from_error), Some(id)) => {
            let id = strip_prefix_ignore_case(id, WHATSAPP_PREFIX).unwrap_or(id);
            if is_bsuid(id) {
                Ok(bsuid_sender(id))
            } else if from.is_empty() {
                Err(AddressError::InvalidBsuid)
            } else {
                // The `From` problem is the more useful one to report when there was a `From`.
                Err(from_error)
            }
        }
    }
}

/// Masks an address for logs: keeps the channel prefix, a country-code hint and the last two digits, e.g.
/// `whatsapp:+14155550123` -> `whatsapp:+1415*****23`, `whatsapp-bsuid:US.1349…18` -> `whatsapp-bsuid:US.*…*18`.
/// Anything unrecognised becomes `***`, so garbage is never echoed.
pub fn mask(address: &str) -> String {
    let known_prefix = ["whatsapp:", "whatsapp-bsuid:", "sms:"].into_iter().find(|p| address.starts_with(p));
    let prefix = known_prefix.unwrap_or("");
    let rest = address.get(prefix.len()..).unwrap_or("");
    format!("{prefix}{}", mask_identifier(rest))
}

fn mask_identifier(rest: &str) -> String {
    if let Some(digits) = rest.strip_prefix('+').filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
        let tail = if digits.len() >= 7 { 2 } else { 0 };
        // Never show more than half of what is left: short numbers keep a shorter country-code hint.
        let head = ((digits.len() - tail) / 2).min(4);
        return format!("+{}", keep_ends(digits, head, tail));
    }
    if is_bsuid(rest) {
        // The country code ("US.") is a hint, not an identity; the ID after it is.
        let (country, id) = rest.split_at(3);
        let tail = if id.len() >= 8 { 2 } else { 0 };
        return format!("{country}{}", keep_ends(id, 0, tail));
    }
    "***".to_owned()
}

/// `text` with all but its first `head` and last `tail` bytes replaced by '*'. Only called on ASCII text.
fn keep_ends(text: &str, head: usize, tail: usize) -> String {
    let hidden = text.len().saturating_sub(head + tail);
    let start = text.get(..head).unwrap_or("");
    let end = text.get(text.len().saturating_sub(tail)..).unwrap_or("");
    format!("{start}{}{end}", "*".repeat(hidden))
}

fn parse_from(from: &str) -> Result<Sender, AddressError> {
    let (channel, rest) = match strip_prefix_ignore_case(from, WHATSAPP_PREFIX) {
        Some(rest) => (Channel::WhatsApp, rest),
        // Any other `scheme:` (messenger:, rcs:, ...) is a channel we do not serve.
        None if from.contains(':') => return Err(AddressError::UnsupportedChannel),
        None => (Channel::Sms, from),
    };
    if let Some(digits) = rest.strip_prefix('+') {
        let e164 = parse_e164(digits)?;
        let address = format!("{}{e164}", channel.address_prefix());
        return Ok(Sender { channel, reply_to: Some(address), user_key: format!("{}:{e164}", channel.name()) });
    }
    if channel == Channel::WhatsApp && is_bsuid(rest) {
        return Ok(bsuid_sender(rest));
    }
    let unsigned = rest.trim_start();
    if unsigned.is_empty() {
        Err(AddressError::Empty)
    } else if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        Err(AddressError::MissingPlus)
    } else {
        Err(AddressError::NotE164)
    }
}

/// Validates the digits after '+' and returns the number in E.164 form.
fn parse_e164(digits: &str) -> Result<String, AddressError> {
    // Checked before `phonenumber` sees it: that parser is lenient (it accepts spaces, punctuation, letters and
    // non-ASCII digits and normalises them), and Twilio never sends any of those, so their presence means the
    // value is not what Twilio sent. It also keeps odd input away from the parser's less travelled paths.
    let syntax_ok = (1..=MAX_E164_DIGITS).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !syntax_ok {
        return Err(AddressError::NotE164);
    }
    let number = phonenumber::parse(None, format!("+{digits}")).map_err(|_| AddressError::InvalidNumber)?;
    if !phonenumber::is_valid(&number) {
        return Err(AddressError::InvalidNumber);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

fn bsuid_sender(bsuid: &str) -> Sender {
    Sender { channel: Channel::WhatsApp, reply_to: None, user_key: format!("{BSUID_KEY_PREFIX}{bsuid}") }
}

/// `CC.<id>` or `CC.ENT.<id>`: a two-letter country code, then 1 to 128 ASCII letters and digits.
fn is_bsuid(text: &str) -> bool {
    let Some((country, id)) = text.split_once('.') else {
        return false;
    };
    let id = id.strip_prefix("ENT.").unwrap_or(id);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_alphabetic())
        && (1..=MAX_BSUID_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(from: &str, external: Option<&str>) -> Sender {
        parse_sender(from, external).expect("this sender should parse")
    }

    fn error(from: &str, external: Option<&str>) -> AddressError {
        match parse_sender(from, external) {
            Ok(s) => panic!("{from:?} / {external:?} should be refused, got {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn whatsapp_number() {
        let s = sender("whatsapp:+14155550123", None);
        assert_eq!(s.channel, Channel::WhatsApp);
        assert_eq!(s.reply_to.as_deref(), Some("whatsapp:+14155550123"));
        assert_eq!(s.user_key, "whatsapp:+14155550123");
    }

    #[test]
    fn sms_number() {
        let s = sender("+14155550123", None);
        assert_eq!(s.channel, Channel::Sms);
        assert_eq!(s.reply_to.as_deref(), Some("+14155550123"));
        assert_eq!(s.user_key, "sms:+14155550123");
    }

    #[test]
    fn numbers_from_other_regions() {
        assert_eq!(sender("whatsapp:+447400123456", None).reply_to.as_deref(), Some("whatsapp:+447400123456"));
        assert_eq!(sender("+5511961234567", None).user_key, "sms:+5511961234567");
        // Ofcom's drama range (07700 900xxx) is reserved for fiction: not valid, so never replied to.
        assert_eq!(error("whatsapp:+447700900123", None), AddressError::InvalidNumber);
        // Italian fixed lines keep their leading zero in E.164.
        assert_eq!(sender("+390612345678", None).reply_to.as_deref(), Some("+390612345678"));
    }

    #[test]
    fn channel_names() {
        assert_eq!(Channel::WhatsApp.name(), "whatsapp");
        assert_eq!(Channel::Sms.name(), "sms");
        assert_eq!(Channel::Sms.to_string(), "sms");
    }

    #[test]
    fn bsuid_only() {
        for external in ["US.13491208655302741918", "whatsapp:US.13491208655302741918", " US.13491208655302741918 "] {
            let s = sender("", Some(external));
            assert_eq!(s.channel, Channel::WhatsApp);
            assert_eq!(s.reply_to, None, "a BSUID is not a `To` we may send to");
            assert_eq!(s.user_key, "whatsapp-bsuid:US.13491208655302741918");
        }
        let parent = sender("", Some("US.ENT.11815799212886844830"));
        assert_eq!(parent.user_key, "whatsapp-bsuid:US.ENT.11815799212886844830");
    }

    #[test]
    fn bsuid_in_from() {
        let s = sender("whatsapp:BR.1502576394655843", None);
        assert_eq!((s.channel, s.reply_to.as_deref()), (Channel::WhatsApp, None));
        assert_eq!(s.user_key, "whatsapp-bsuid:BR.1502576394655843");
    }

    #[test]
    fn number_wins_when_both_are_present() {
        let s = sender("whatsapp:+14155550123", Some("US.13491208655302741918"));
        assert_eq!(s.reply_to.as_deref(), Some("whatsapp:+14155550123"));
        assert_eq!(s.user_key, "whatsapp:+14155550123");
    }

    #[test]
    fn bsuid_rescues_an_unusable_number_but_never_gives_a_reply_address() {
        let s = sender("whatsapp:+999", Some("US.13491208655302741918"));
        assert_eq!((s.reply_to, s.user_key.as_str()), (None, "whatsapp-bsuid:US.13491208655302741918"));
    }

    #[test]
    fn invalid_numbers() {
        assert_eq!(error("+999", None), AddressError::InvalidNumber, "unassigned country code");
        assert_eq!(error("+1415", None), AddressError::InvalidNumber, "too short");
        assert_eq!(error("+10005550123", None), AddressError::InvalidNumber, "NANP area codes never start with 0");
        assert_eq!(error("+1234567890123456", None), AddressError::NotE164, "16 digits");
        assert_eq!(error("whatsapp:+", None), AddressError::NotE164);
        assert_eq!(error("+1 415 555 0123", None), AddressError::NotE164, "E.164 has no spaces");
        assert_eq!(error("+1(415)555-0123", None), AddressError::NotE164);
        assert_eq!(error("+1415555012x", None), AddressError::NotE164);
        assert_eq!(error("++14155550123", None), AddressError::NotE164);
        assert_eq!(error("whatsapp:14155550123", None), AddressError::MissingPlus);
        assert_eq!(error("hello", None), AddressError::NotE164);
        assert_eq!(error("US.13491208655302741918", None), AddressError::NotE164, "BSUIDs only on WhatsApp");
    }

    #[test]
    fn other_channels_are_refused_even_with_a_user_id() {
        assert_eq!(error("messenger:12345", None), AddressError::UnsupportedChannel);
        assert_eq!(error("rcs:+14155550123", Some("US.1349")), AddressError::UnsupportedChannel);
        assert_eq!(error("tel:+14155550123", None), AddressError::UnsupportedChannel);
    }

    #[test]
    fn empty() {
        assert_eq!(error("", None), AddressError::Empty);
        assert_eq!(error("   ", Some("  ")), AddressError::Empty);
        assert_eq!(error("whatsapp:", None), AddressError::Empty);
        assert_eq!(error("", Some("not a bsuid")), AddressError::InvalidBsuid);
        // With a From, its error is the one worth reporting.
        assert_eq!(error("+999", Some("garbage")), AddressError::InvalidNumber);
    }

    #[test]
    fn whitespace() {
        // Surrounding whitespace is harmless and trimmed.
        assert_eq!(sender(" \twhatsapp:+14155550123\r\n", None).reply_to.as_deref(), Some("whatsapp:+14155550123"));
        assert_eq!(sender("\u{a0}+14155550123\u{3000}", None).user_key, "sms:+14155550123");
        // A '+' that was decoded as a space is called out.
        assert_eq!(error(" 14155550123", None), AddressError::MissingPlus);
        assert_eq!(error("whatsapp: 14155550123", None), AddressError::MissingPlus);
        // Inside the value, any whitespace is wrong.
        assert_eq!(error("whatsapp:\t+14155550123", None), AddressError::NotE164);
        assert_eq!(error("+1415\u{200b}5550123", None), AddressError::NotE164, "zero-width space");
        assert_eq!(error("+14155550123\u{0}", None), AddressError::NotE164);
    }

    #[test]
    fn non_ascii() {
        assert_eq!(error("+\u{ff11}\u{ff14}\u{ff11}\u{ff15}5550123", None), AddressError::NotE164, "fullwidth digits");
        assert_eq!(error("+\u{661}\u{664}\u{661}\u{665}5550123", None), AddressError::NotE164, "Arabic-Indic digits");
        assert_eq!(error("whatsapp:+14155550123\u{301}", None), AddressError::NotE164, "combining mark");
        assert_eq!(error("whatsäpp:+14155550123", None), AddressError::UnsupportedChannel);
        assert_eq!(error("\u{1F4F1}", None), AddressError::NotE164);
        assert_eq!(error("", Some("US.1349\u{e9}")), AddressError::InvalidBsuid);
    }

    #[test]
    fn prefix_case_is_normalised() {
        assert_eq!(sender("WhatsApp:+14155550123", None).reply_to.as_deref(), Some("whatsapp:+14155550123"));
    }

    #[test]
    fn malformed_bsuids() {
        for bad in [
            "US",
            "US.",
            "U.123",
            "USA.123",
            "1S.123",
            "US.12-34",
            "US.ENT.",
            "US.a.b",
            ".123",
            &format!("US.{}", "1".repeat(MAX_BSUID_ID_LEN + 1)),
        ] {
            assert!(!is_bsuid(bad), "{bad:?}");
        }
        assert!(is_bsuid(&format!("US.{}", "a".repeat(MAX_BSUID_ID_LEN))));
    }

    #[test]
    fn errors_never_echo_the_input() {
        for (from, external) in [
            ("+14155550199999", None),
            ("whatsapp:14155550199", None),
            ("+1 415 555 0199", None),
            ("", Some("XX.14155550199-")),
            ("rcs:+14155550199", None),
        ] {
            let message = error(from, external).to_string();
            assert!(!message.contains("4155550199"), "{message}");
        }
    }

    #[test]
    fn debug_is_masked() {
        let debug = format!("{:?}", sender("whatsapp:+14155550123", None));
        assert!(!debug.contains("4155550123"), "{debug}");
        assert!(debug.contains("whatsapp:+1415*****23"), "{debug}");
    }

    #[test]
    fn masks() {
        assert_eq!(mask("whatsapp:+14155550123"), "whatsapp:+1415*****23");
        assert_eq!(mask("+14155550123"), "+1415*****23");
        assert_eq!(mask("sms:+447700900123"), "sms:+4477******23");
        assert_eq!(mask("+35312345"), "+353***45");
        assert_eq!(mask("+12345"), "+12***");
        assert_eq!(mask("+1"), "+*");
        assert_eq!(mask("whatsapp-bsuid:US.13491208655302741918"), "whatsapp-bsuid:US.******************18");
        assert_eq!(mask("whatsapp:US.ENT.11815799212886844830"), "whatsapp:US.**********************30");
        assert_eq!(mask("US.123"), "US.***");
    }

    #[test]
    fn mask_never_echoes_garbage() {
        assert_eq!(mask(""), "***");
        assert_eq!(mask("whatsapp:"), "whatsapp:***");
        assert_eq!(mask("hello world 4155550123"), "***");
        assert_eq!(mask("messenger:4155550123"), "***");
        assert_eq!(mask("+1 415 555 0123"), "***");
        assert_eq!(mask("whatsapp:+\u{ff11}\u{ff14}"), "whatsapp:***");
        assert_eq!(mask("\u{1F4F1}\u{1F4F1}"), "***");
    }

    #[test]
    fn many_inputs_never_panic() {
        // A cheap sweep over every country-code prefix and length, where the `phonenumber` parser's metadata
        // lookups live; the strict syntax check keeps everything else away from it.
        for code in 0..1000u32 {
            // Too short, plausible and too long national parts; every length would triple the run time.
            for len in [0, 1, 6, 10, 14] {
                let from = format!("+{code}{}", "5".repeat(len));
                let _ = parse_sender(&from, None);
                let _ = mask(&from);
            }
        }
    }
}
