//! What kind of text a document is: a job posting, an e-mail, an automated notification or a chat message.
//!
//! These are different populations. A bank alert and a recruiter's WhatsApp share few words with a job posting, and
//! a score calibrated on a mix of all three is wrong for each: the model is calibrated, and its uncertainty band
//! fitted, per kind (see `model::train`), so no kind sends most of its inputs to "not sure".
//!
//! Detection is a handful of layout cues read in a fixed order, not a learned model: e-mail headers, posting
//! headings, a greeting with a sign-off, the vocabulary of automated messages. It is cheap (one pass of a few
//! regexes over the first lines), explainable, and checked against the hand-labelled kinds of the written corpus
//! (`models/written/`, see the model card). Anything else is a chat message: the kind people forward most.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::document::{DocKind, Document};

/// The kinds of text Redflag calibrates separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    /// A job advert: structured fields, or pasted text with the headings adverts have.
    Posting,
    /// A letter: mail headers, or a greeting and a sign-off around paragraphs.
    Email,
    /// An automated message from a system: codes, account and payment alerts, deliveries, receipts.
    Notification,
    /// A person writing to a person: SMS, WhatsApp, Telegram, LinkedIn messages.
    Chat,
}

impl TextKind {
    pub const ALL: [TextKind; 4] = [TextKind::Posting, TextKind::Email, TextKind::Notification, TextKind::Chat];

    pub fn name(self) -> &'static str {
        match self {
            TextKind::Posting => "posting",
            TextKind::Email => "email",
            TextKind::Notification => "notification",
            TextKind::Chat => "chat",
        }
    }

    /// How a person reads it ("this message", "this posting").
    pub fn noun(self) -> &'static str {
        match self {
            TextKind::Posting => "posting",
            TextKind::Email => "e-mail",
            TextKind::Notification => "notification",
            TextKind::Chat => "message",
        }
    }
}

/// Only the start of a text decides its layout; reading 4 KB keeps detection constant-time on long postings.
const HEAD_BYTES: usize = 4096;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static kind pattern")
}

/// A mail header line among the first lines ("Subject: ...", "From: ...").
static HEADER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?im)\A(?:[^\n]*\n){0,4}?[ \t]*(?:subject|from|to|cc|sent|date)[ \t]*:[ \t]*\S"));

/// Headings and labelled lines that adverts have and letters rarely do.
static POSTING_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?im)^[ \t]*(?:[-•*#]+[ \t]*)?(?:job[ \t]+(?:description|summary|title|type|purpose|details|requirements)|(?:key[ \t]+|main[ \t]+|primary[ \t]+)?(?:responsibilities|duties|requirements|qualifications)|(?:required|preferred|minimum|desired)[ \t]+(?:skills|qualifications|experience)|what[ \t]+you(?:'|’)ll[ \t]+(?:do|need|bring|get)|what[ \t]+we(?:'|’)(?:re[ \t]+looking[ \t]+for|ll[ \t]+offer)|what[ \t]+we[ \t]+offer|who[ \t]+you[ \t]+are|about[ \t]+(?:the|this)[ \t]+(?:role|job|position|opportunity)|about[ \t]+(?:us|the[ \t]+company)|benefits|perks|salary|compensation|pay[ \t]+range|pay|location|schedule|shift|employment[ \t]+type|job[ \t]+location|experience|education|skills|how[ \t]+to[ \t]+apply|to[ \t]+apply|position|role|vacancy|openings?)[ \t]*(?::|\n|$)",
    )
});

/// Words that announce a job advert in a line of its own ("We're hiring!", "Now hiring: ...").
static POSTING_ANNOUNCE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:we(?:'|’)?re[ \t]+hiring|we[ \t]+are[ \t]+hiring|now[ \t]+hiring|job[ \t]+opening|vacancy|job[ \t]+(?:title|type)[ \t]*:|apply[ \t]+(?:now|today|here|at|via|online)|full[- ]time|part[- ]time)\b",
    )
});

/// The vocabulary of job adverts, counted once per distinct word: a pasted posting without headings still says
/// "responsibilities", "experience", "candidate" and "salary" in a few hundred characters.
static JOB_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(responsibilit(?:y|ies)|requirements?|qualifications?|experience|skills|candidates?|degree|salary|benefits|apply|applicants?|full[- ]time|part[- ]time|position|ability[ \t]+to|knowledge[ \t]+of|years?[ \t]+of|job|role|team|opportunity|employer|equal[ \t]+opportunity|compensation|duties|preferred|required|bachelor|resume)\b",
    )
});

/// At least this many distinct job words make prose of 500 characters or more a posting.
const JOB_WORDS_FOR_POSTING: usize = 6;
/// Fewer do for a text of several long paragraphs that neither greets nor signs off.
const JOB_WORDS_IN_LONG_TEXT: usize = 3;

/// A greeting on the first line: "Dear Ms Okafor,", "Hi Sam,", "Hello team".
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\A[ \t]*(?:dear|hi|hello|hey|greetings|good[ \t]+(?:morning|afternoon|evening)|hola|ol[aá]|bonjour|namaste)\b[^\n]{0,60}(?:\n|$)",
    )
});

/// A sign-off line near the end: "Best regards,", "Thanks,", "Sincerely".
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?im)^[ \t]*(?:(?:best|kind|warm|warmest|many)[ \t]+(?:regards|wishes)|regards|sincerely|yours[ \t]+(?:sincerely|faithfully|truly)|best|thanks(?:[ \t]+again)?|thank[ \t]+you|many[ \t]+thanks|cheers|talk[ \t]+soon|all[ \t]+the[ \t]+best|saludos|atenciosamente|cordialement)[ \t]*[,.!]?[ \t]*$",
    )
});

/// What systems say and people rarely do: codes, balances, orders, deliveries, receipts, opt-outs.
static NOTIFICATION_CUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:(?:verification|security|login|one[- ]time|confirmation|access|sign[- ]in)[ \t]+(?:code|pin|password)|otp|code[ \t]+is|is[ \t]+your[ \t]+[\w ]{0,20}code|a/c|acct|account[ \t]+(?:ending|no\.?|number)|avl?[ \t]*bal|avail(?:able)?[ \t]+bal(?:ance)?|balance|debited|credited|txn|transaction|order[ \t]*(?:#|no\.?|number|confirmed|shipped)|tracking|out[ \t]+for[ \t]+delivery|delivered|shipment|parcel|reply[ \t]+stop|text[ \t]+stop|stop[ \t]+to[ \t]+(?:opt|end|unsub)|do[ \t]+not[ \t]+reply|no-?reply|unsubscribe|statement|payment[ \t]+(?:received|due|of)|direct[ \t]+deposit|pay[ \t]+(?:statement|stub)|payslip|has[ \t]+been[ \t]+(?:approved|received|submitted|shipped|delivered|updated|changed|activated|suspended|locked|credited|debited)|your[ \t]+(?:account|application|order|package|subscription|password|bill|appointment|claim)\b)",
    )
});

/// A service signing its text at the start: "Nubank: Compra aprovada...", "[Amazon] Your order...". The name is
/// capitalised, so that part is case-sensitive.
static SENDER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\A[ \t]*(?:\[[^\]\n]{2,30}\]|[A-Z][A-Za-z0-9&.'’ -]{1,28}:)[ \t]"));

/// A person's voice: "I", "me", "my", chat shorthand, or a question to the reader.
static PERSONAL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)(?:\b(?:i|i'm|i’m|i've|i’ve|i'll|i’ll|me|my|u|ur|lol|pls|plz|bro|sis|dear)\b|\?)"));

fn distinct_job_words(text: &str) -> usize {
    let mut seen: Vec<String> = Vec::new();
    for c in JOB_WORDS.captures_iter(text) {
        let word = c[1].to_lowercase();
        if !seen.contains(&word) {
            seen.push(word);
        }
    }
    seen.len()
}

/// The kind of `doc`, from its layout (see the module docs for the order of the cues).
pub fn detect(doc: &Document) -> TextKind {
    if doc.kind == DocKind::Posting {
        return TextKind::Posting;
    }
    let text = crate::normalize::truncate_at_char_boundary(&doc.text, HEAD_BYTES);
    let chars = text.chars().count();
    let posting_cues = POSTING_CUE.find_iter(text).count();
    let announced = POSTING_ANNOUNCE.is_match(text);
    if posting_cues >= 3 || (posting_cues >= 2 && chars > 300) || (posting_cues >= 1 && chars > 150 && announced) {
        return TextKind::Posting;
    }
    if HEADER.is_match(text) {
        return TextKind::Email;
    }
    let greeting = GREETING.is_match(text);
    let sign_off = SIGN_OFF.is_match(text);
    if greeting && sign_off && chars > 150 {
        return TextKind::Email;
    }
    // Long prose with a job advert's vocabulary and no letter's shape is a posting pasted without its headings.
    if chars > 500 && distinct_job_words(text) >= JOB_WORDS_FOR_POSTING {
        return TextKind::Posting;
    }
    let paragraphs = text.split("\n\n").filter(|p| !p.trim().is_empty()).count();
    if chars > 700 && paragraphs >= 3 {
        // Long and in paragraphs: a letter if it greets or signs off, an advert if it talks about the job at all.
        if !(greeting || sign_off) && distinct_job_words(text) >= JOB_WORDS_IN_LONG_TEXT {
            return TextKind::Posting;
        }
        return TextKind::Email;
    }
    if greeting && paragraphs >= 3 {
        return TextKind::Email;
    }
    // Short and automated: a system's vocabulary without a person's voice, or a receipt-like line with it; or a
    // sender's name in front ("Nubank: ...", "[Amazon] ..."), as services sign their texts.
    if chars <= 700 {
        let personal = PERSONAL.find_iter(text).count();
        if SENDER.is_match(text) && !greeting && personal <= 2 {
            return TextKind::Notification;
        }
        if NOTIFICATION_CUE.is_match(text)
            && (personal <= 1 || NOTIFICATION_CUE.find_iter(text).count() >= 2 + personal / 2)
        {
            return TextKind::Notification;
        }
    }
    if chars > 500 && !(greeting && sign_off) && distinct_job_words(text) >= JOB_WORDS_FOR_POSTING {
        return TextKind::Posting;
    }
    TextKind::Chat
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Input, Posting};

    fn kind(text: &str) -> TextKind {
        detect(&Document::from_input(&Input::text(text)).expect("text"))
    }

    #[test]
    fn structured_postings_are_postings() {
        let posting = Posting { title: Some("Nurse".into()), ..Posting::default() };
        let doc = Document::from_input(&Input::Posting(Box::new(posting))).expect("doc");
        assert_eq!(detect(&doc), TextKind::Posting);
    }

    #[test]
    fn pasted_adverts_with_headings_are_postings() {
        let ad = "Warehouse Associate - Night Shift\nLocation: Reno, NV\nPay: $19.50/hr\n\nResponsibilities:\n- Pick and pack orders\n- Load trucks\n\nRequirements:\n- Able to lift 50 lbs\n\nHow to apply: visit our careers page.";
        assert_eq!(kind(ad), TextKind::Posting);
        let short = "NOW HIRING - Remote Customer Service Reps\n\n$27/hr | Weekly pay | Start in 3 days\n\nNo experience \
                     required. Apply online today with your resume.\nSalary: $27/hr\nLocation: Remote (US only)";
        assert_eq!(kind(short), TextKind::Posting);
    }

    #[test]
    fn adverts_pasted_as_prose_are_postings() {
        let ad = "Our growing team is looking for a customer service representative to join our office in Leeds. \
                  The role involves answering calls and e-mails from customers and resolving their questions. \
                  The ideal candidate has two years of experience in a similar position, strong communication \
                  skills and the ability to work in a fast-paced environment. We offer a competitive salary, \
                  28 days of holiday and a pension scheme. This is a full-time position, Monday to Friday. \
                  To apply, send your CV through our careers page.";
        assert_eq!(kind(ad), TextKind::Posting);
    }

    #[test]
    fn letters_are_emails() {
        assert_eq!(kind("Subject: Your interview on Tuesday\n\nHi Dana, see you at 10."), TextKind::Email);
        let letter = "Hi Priya,\n\nThanks for speaking with me yesterday. The team would like to schedule a second interview with our engineering manager next week. Could you share a few times that work for you?\n\nBest regards,\nTom Ellis\nTalent Acquisition, Northwind";
        assert_eq!(kind(letter), TextKind::Email);
    }

    #[test]
    fn system_messages_are_notifications() {
        assert_eq!(
            kind("Your Google verification code is 481923. Don't share it with anyone."),
            TextKind::Notification
        );
        assert_eq!(kind("Acct XX1736 debited NGN 5,000.00 on 02-Mar. Avl Bal NGN 12,400.10"), TextKind::Notification);
        assert_eq!(kind("USPS: Your package is out for delivery today. Track at usps.com"), TextKind::Notification);
        assert_eq!(
            kind("Nubank: Compra aprovada de R$ 87,40 em PADARIA no cartão final 3307."),
            TextKind::Notification
        );
        assert_eq!(
            kind("ShiftKey: New per diem shift posted - RN, Thu 7P-7A, $58/hr. Claim it in the app."),
            TextKind::Notification
        );
    }

    #[test]
    fn people_writing_are_chats() {
        assert_eq!(kind("hey are u still working at the cafe? my manager is hiring lol"), TextKind::Chat);
        assert_eq!(
            kind("Hi! I'm Mia from a recruitment agency. Are you open to remote work? Reply YES."),
            TextKind::Chat
        );
    }
}
