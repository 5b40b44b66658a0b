//! Every word the bridge sends back: the verdict on a forwarded message, the fixed texts (help, deletion,
//! quota, unsupported media, nothing to check), message splitting and command recognition.
//!
//! One text serves three channels through [`Style`]. WhatsApp gets its own light markup (`*bold*`) and one
//! emoji as the verdict marker; SMS gets plain ASCII-friendly text, because a single character outside GSM-7 (an
//! emoji, a curly quote, `…`) switches the whole message to UCS-2 and cuts each billed segment from 153 to 67
//! characters; Telegram gets HTML (`parse_mode` "HTML"), where every piece of dynamic text — flag titles, quotes
//! from the person's message, the LLM's reasons — is escaped, since a quote is attacker-controlled text and a
//! stray `<` makes Telegram reject the whole message. Dynamic text is first flattened to one line and
//! truncated, and only then escaped, so a cut never lands inside an entity and markup never spans lines.
//!
//! The verdict is bounded by construction (at most three flags, explanations, quotes and the second opinion
//! truncated), so it fits in one Twilio message in practice; [`split`] is the safety net for anything longer.
//! Splitting happens between lines whenever a line break is in reach, which keeps Telegram tags and WhatsApp
//! markers balanced inside each part.

use redflag::{Analysis, Flag, Label, SecondOpinion};

/// Twilio rejects a message body longer than this (WhatsApp and SMS alike).
pub const TWILIO_MAX_CHARS: usize = 1600;
/// Telegram's `sendMessage` limit on the text after entity parsing.
pub const TELEGRAM_MAX_CHARS: usize = 4096;

/// The channel a reply is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    WhatsApp,
    Sms,
    Telegram,
}

/// What a message asks the bridge to do instead of checking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Help,
    DeleteMyData,
}

/// Flags shown on WhatsApp and Telegram: past three, more flags add length, not understanding.
const MAX_FLAGS: usize = 3;
/// SMS is billed per 153-character segment, so it shows fewer.
const MAX_FLAGS_SMS: usize = 2;
/// A quote is there to be recognised, not reread: about one line on a phone.
const QUOTE_MAX_CHARS: usize = 60;
/// Rule explanations are one sentence (under 180 characters in the built-in rules); a custom rules file could
/// hold more, and the verdict must stay within one Twilio message.
const EXPLANATION_MAX_CHARS: usize = 200;
const TITLE_MAX_CHARS: usize = 100;
const REASON_MAX_CHARS: usize = 140;
/// Next steps shown: the core gives up to five; a phone reply keeps the four that prevent most harm.
const MAX_STEPS: usize = 4;
/// SMS pays per segment, so three.
const MAX_STEPS_SMS: usize = 3;
/// How much of a cut word [`truncate`] gives up to end on a whole word.
const WORD_BACKOFF_CHARS: usize = 15;

impl Style {
    /// The longest message this channel accepts, to pass to [`split`].
    pub fn max_chars(self) -> usize {
        match self {
            Style::WhatsApp | Style::Sms => TWILIO_MAX_CHARS,
            Style::Telegram => TELEGRAM_MAX_CHARS,
        }
    }

    /// Emphasis on text that is already escaped (see [`Style::text`]).
    fn bold(self, s: &str) -> String {
        match self {
            Style::WhatsApp => format!("*{s}*"),
            Style::Sms => s.to_string(),
            Style::Telegram => format!("<b>{s}</b>"),
        }
    }

    fn italic(self, s: &str) -> String {
        match self {
            Style::Telegram => format!("<i>{s}</i>"),
            // WhatsApp's `_` would end early at an underscore inside a quoted handle (t.me/hr_jobs), so quotes and
            // other dynamic text stay plain there.
            Style::WhatsApp | Style::Sms => s.to_string(),
        }
    }

    /// Any text that is not markup, made safe for this channel: escaped for Telegram HTML, typographic
    /// punctuation turned into ASCII for SMS. WhatsApp has no escape mechanism; dynamic text is simply never
    /// wrapped in its markers, so a stray `*` can at worst pair with another one.
    fn text(self, s: &str) -> String {
        match self {
            Style::WhatsApp => s.to_string(),
            Style::Sms => ascii_punctuation(s),
            Style::Telegram => escape_html(s),
        }
    }

    fn bullet(self) -> &'static str {
        match self {
            Style::Sms => "- ",
            Style::WhatsApp | Style::Telegram => "• ",
        }
    }

    fn ellipsis(self) -> &'static str {
        match self {
            Style::Sms => "...",
            Style::WhatsApp | Style::Telegram => "…",
        }
    }

    fn quoted(self, s: &str) -> String {
        match self {
            Style::Sms => format!("\"{s}\""),
            Style::WhatsApp | Style::Telegram => format!("“{s}”"),
        }
    }

    /// One dynamic value on one line: whitespace collapsed, cut to `max` characters, then escaped.
    fn field(self, s: &str, max: usize) -> String {
        self.text(&truncate(&one_line(s), max, self.ellipsis()))
    }

    /// The last line of every reply.
    fn help_hint(self) -> String {
        match self {
            Style::WhatsApp => "Send *help* for commands.".to_string(),
            Style::Sms => "Send HELP for commands.".to_string(),
            // `/help` is tappable in Telegram.
            Style::Telegram => "Send /help for commands.".to_string(),
        }
    }

    /// A command name as the person should type it.
    fn command_name(self, name: &str) -> String {
        match self {
            Style::WhatsApp => self.bold(name),
            Style::Sms => name.to_uppercase(),
            Style::Telegram => self.bold(&escape_html(name)),
        }
    }
}

/// The reply to a checked message: verdict and score in words, the top red flags with quotes from the message,
/// the LLM's second opinion when there is one, what to do next, and the help hint.
pub fn verdict(a: &Analysis, style: Style) -> String {
    let mut paragraphs = vec![headline(a, style)];
    paragraphs.push(flags(a, style));
    if let Some(llm) = &a.llm {
        paragraphs.push(second_opinion(llm, style));
    }
    let max_steps = if style == Style::Sms { MAX_STEPS_SMS } else { MAX_STEPS };
    let mut steps = vec![style.bold(&style.text(&a.advice.heading))];
    steps.extend(a.advice.steps.iter().take(max_steps).map(|s| format!("{}{}", style.bullet(), style.text(s))));
    paragraphs.push(steps.join("\n"));
    paragraphs.push(style.help_hint());
    paragraphs.join("\n\n")
}

fn headline(a: &Analysis, style: Style) -> String {
    let marker = match (style, a.label) {
        (Style::Sms, _) => "",
        (_, Label::Scam) => "🚩 ",
        (_, Label::Uncertain) => "⚠️ ",
        (_, Label::Legit) => "✅ ",
    };
    let words = match style {
        // Plain text has no bold; capitals are how SMS shouts.
        Style::Sms => a.advice.verdict.to_uppercase(),
        _ => style.bold(&style.text(&a.advice.verdict)),
    };
    let hedge = if a.label == Label::Uncertain { "I can't tell for sure. " } else { "" };
    format!("{marker}{words}\n{hedge}My estimate: {} ({}).", a.advice.score_words, a.advice.percent)
}

fn flags(a: &Analysis, style: Style) -> String {
    if a.flags.is_empty() {
        return match a.label {
            // Only the second opinion's located quote makes a flagless text a scam; its reason follows.
            Label::Scam => style.text("No rule matched, but the second opinion found warning signs in your message."),
            Label::Uncertain => style.text(
                "I found no specific warning sign. The wording resembles known scams, so check who sent it: look \
                 the company up yourself and contact it there.",
            ),
            Label::Legit => reassurances(a, style),
        };
    }
    let heading = match a.label {
        Label::Scam => "Red flags",
        Label::Uncertain => "Warning signs",
        Label::Legit => "Minor warning signs",
    };
    let max = if style == Style::Sms { MAX_FLAGS_SMS } else { MAX_FLAGS };
    let mut lines = vec![style.bold(heading)];
    // Two flags often rest on the same words ("deposit to unlock" is both a task scam and an upfront fee);
    // quoting it twice wastes the reply's room, so each flag quotes its first evidence not quoted yet.
    let mut quoted: Vec<&str> = Vec::new();
    for flag in a.flags.iter().take(max) {
        lines.push(format!("{}{}", style.bullet(), style.bold(&style.field(&flag.title, TITLE_MAX_CHARS))));
        lines.push(style.field(&flag.explanation, EXPLANATION_MAX_CHARS));
        if let Some(snippet) = fresh_snippet(flag, &quoted) {
            quoted.push(snippet);
            lines.push(style.italic(&style.quoted(&style.field(snippet, QUOTE_MAX_CHARS))));
        }
    }
    lines.join("\n")
}

/// "Why it looks legitimate": the reassuring signals found, each with a quote, or just "no red flags".
fn reassurances(a: &Analysis, style: Style) -> String {
    if a.reassurances.is_empty() {
        return style.text("No red flags found.");
    }
    let max = if style == Style::Sms { MAX_FLAGS_SMS } else { MAX_FLAGS };
    let mut lines = vec![style.text("No red flags found."), style.bold("Why it looks legitimate")];
    for r in a.reassurances.iter().take(max) {
        lines.push(format!("{}{}", style.bullet(), style.field(&r.title, TITLE_MAX_CHARS)));
        if let Some(e) = r.evidence.iter().find(|e| !e.snippet.trim().is_empty()) {
            lines.push(style.italic(&style.quoted(&style.field(e.snippet.trim(), QUOTE_MAX_CHARS))));
        }
    }
    lines.join("\n")
}

fn fresh_snippet<'a>(flag: &'a Flag, quoted: &[&str]) -> Option<&'a str> {
    flag.evidence.iter().map(|e| e.snippet.trim()).find(|s| !s.is_empty() && !quoted.contains(s))
}

/// One line: who else looked, what it concluded, and its first reason.
fn second_opinion(llm: &SecondOpinion, style: Style) -> String {
    let mut line = format!(
        "{} (AI model): {}, {}.",
        style.bold("Second opinion"),
        llm.label.words().to_lowercase(),
        redflag::advice::percent(llm.score)
    );
    if let Some(reason) = llm.reasons.iter().map(|r| r.reason.trim()).find(|r| !r.is_empty()) {
        line.push(' ');
        line.push_str(&style.field(reason, REASON_MAX_CHARS));
    }
    line
}

/// What the service does and the commands.
/// A reply an operator wrote by hand (the console's review list), as the parts the channel takes: escaped for
/// Telegram's HTML, smart punctuation made GSM-7 for SMS, split at the channel's limit.
pub fn by_hand(text: &str, style: Style) -> Vec<String> {
    split(&style.text(text), style.max_chars())
}

pub fn help(style: Style) -> String {
    let commands = [
        (style.command_name("help"), "this message"),
        (style.command_name("delete my data"), "erase everything stored about you"),
    ];
    let mut lines = vec![style.bold("Commands")];
    lines.extend(commands.iter().map(|(name, what)| format!("{}{name}: {what}", style.bullet())));
    [
        format!("{}: I check job offers for signs of a scam.", style.bold("Redflag")),
        "Forward or paste a job message here (a posting, a recruiter's message, an offer) and I'll reply with a \
         verdict, the red flags I found and what to do next."
            .to_string(),
        lines.join("\n"),
        format!(
            "Messages are checked automatically. When an AI model is asked for a second opinion, names, numbers \
             and addresses are removed first. You can erase what is stored about you at any time with {}.",
            style.command_name("delete my data")
        ),
    ]
    .join("\n\n")
}

/// Said once, with a sender's first reply: what is kept about them, and how to erase it.
pub fn privacy_notice(style: Style) -> String {
    format!(
        "{}: your messages are kept only as long as it takes to answer them, and a record of each verdict without \
         your number. When an AI model is asked for a second opinion, names, numbers and addresses are removed \
         first. Send {} at any time to erase what is kept.",
        style.bold("About your data"),
        style.command_name("delete my data")
    )
}

/// Confirmation of `delete my data`; `count` is how many stored items were erased.
pub fn deleted(count: usize, style: Style) -> String {
    let done = match count {
        0 => "Nothing was stored about you, so there was nothing to erase.".to_string(),
        1 => "Done: everything stored about you has been erased (1 item).".to_string(),
        n => format!("Done: everything stored about you has been erased ({n} items)."),
    };
    format!("{done}\n\nAnything you send from now on is handled like a new message.\n\n{}", style.help_hint())
}

/// The daily limit was reached.
pub fn quota_reached(style: Style) -> String {
    format!(
        "Sorry, you've reached today's limit of checks. Please try again tomorrow.\n\nUntil then: never pay a fee \
         or deposit to get a job, and don't send ID documents or bank details.\n\n{}",
        style.help_hint()
    )
}

/// A voice note, video or file arrived without text (images are read on WhatsApp and SMS).
pub fn media_not_supported(style: Style) -> String {
    format!(
        "I can't check this kind of attachment. Please paste the text of the posting or message (copy it from the \
         site, the e-mail or the chat), or send a screenshot of it.\n\n{}",
        style.help_hint()
    )
}

/// An image arrived but could not be fetched or read; `why` is the reason in plain words.
pub fn image_unreadable(why: &str, style: Style) -> String {
    let why = why.trim_end_matches('.');
    format!(
        "I couldn't read the text in your image: {why}. You can also paste the text instead.\n\n{}",
        style.help_hint()
    )
}

/// The message had no text to check.
pub fn empty(style: Style) -> String {
    format!("There was nothing to check. Forward or paste the text of a job message.\n\n{}", style.help_hint())
}

/// The command a whole message stands for, if it is one. Only a message that is nothing but the command
/// (whitespace, punctuation and case aside) counts: a forwarded posting that says "help us grow" is checked, not
/// answered with the help text. Telegram's `/cmd@BotName` and `/start payload` forms are understood.
pub fn command(text: &str) -> Option<Command> {
    // Anything that is not a letter or digit around the words is noise ("Help!", "¿help?", "help 🙏"), except the
    // slash that makes a Telegram command.
    let trimmed = text.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
    if let Some(slash) = trimmed.strip_prefix('/') {
        let first = slash.split_whitespace().next().unwrap_or("");
        let name = first.split('@').next().unwrap_or("").to_lowercase();
        return match name.as_str() {
            "help" | "start" => Some(Command::Help),
            "delete" | "delete_my_data" | "deletemydata" => Some(Command::DeleteMyData),
            _ => None,
        };
    }
    let words: Vec<String> = trimmed
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    // "please" around a command is politeness, not a posting.
    let words: Vec<&str> = words.iter().map(String::as_str).filter(|w| *w != "please").collect();
    match words.join(" ").as_str() {
        "help" | "start" => Some(Command::Help),
        "delete my data" => Some(Command::DeleteMyData),
        _ => None,
    }
}

/// Split `text` into parts of at most `max_chars` characters (`char`s, not bytes): at paragraph breaks, else line
/// breaks, else spaces, else hard at a character boundary. A break that would leave a part under half the limit
/// is passed over for a finer one later on, so a reply does not turn into many short, separately billed
/// messages. The whitespace at each cut is dropped; nothing else is. Parts get ` (1/2)` markers when there is
/// more than one and the limit leaves room for them. Empty or whitespace-only text gives no parts; a
/// `max_chars` of 0 is treated as 1.
///
/// A hard cut can separate a base character from a combining mark or split an emoji sequence; it only happens
/// in a run of `max_chars` characters without whitespace, which no reply of this module contains.
pub fn split(text: &str, max_chars: usize) -> Vec<String> {
    let max = max_chars.max(1);
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    // The marker's width depends on the number of parts, which depends on the room left by the marker: reserve
    // room for a one-digit count, and if more parts than that come out, try again with one more digit.
    let mut digits = 1;
    loop {
        let reserve = " (/)".len() + 2 * digits;
        if reserve >= max {
            return split_plain(text, max);
        }
        let parts = split_plain(text, max - reserve);
        let n = parts.len();
        if n.to_string().len() <= digits {
            return parts.into_iter().enumerate().map(|(i, p)| format!("{p} ({}/{n})", i + 1)).collect();
        }
        digits += 1;
    }
}

fn split_plain(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max) else {
            parts.push(rest.to_string());
            break;
        };
        let (head, tail) = match cut_point(rest, limit, max) {
            Some(at) => (rest[..at].trim_end(), rest[at..].trim_start()),
            None => rest.split_at(limit),
        };
        parts.push(head.to_string());
        rest = tail;
    }
    parts
}

/// Where to cut `rest`, whose first `max` characters end at byte `limit`: the byte offset of the whitespace to cut
/// at, or `None` for a hard cut at `limit`. `rest` starts with non-whitespace, so a cut leaves a non-empty head.
fn cut_point(rest: &str, limit: usize, max: usize) -> Option<usize> {
    // The character just past the budget may itself be the separator, and cutting there costs nothing.
    let probe_end = limit + rest[limit..].chars().next().map_or(0, char::len_utf8);
    let probe = &rest[..probe_end];
    let half = rest.char_indices().nth(max / 2).map_or(0, |(i, _)| i);
    let is_paragraph = |i: usize| rest[..i].trim_end_matches([' ', '\t', '\r']).ends_with('\n');
    let newlines = || probe.match_indices('\n').map(|(i, _)| i).filter(|&i| i > 0).rev();
    let whitespace = || probe.char_indices().filter(|&(i, c)| i > 0 && c.is_whitespace()).map(|(i, _)| i).rev();
    newlines()
        .find(|&i| i >= half && is_paragraph(i))
        .or_else(|| newlines().find(|&i| i >= half))
        .or_else(|| whitespace().next())
}

/// Whitespace runs (including line breaks) as single spaces, so one value stays on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, ellipsis included, cut at a character boundary.
fn truncate(s: &str, max: usize, ellipsis: &str) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(ellipsis.chars().count());
    let head: String = s.chars().take(keep).collect();
    // Back off to a word boundary when one is near, so a quote does not end in half a word.
    let mid_word = s.chars().nth(keep).is_some_and(|c| !c.is_whitespace());
    let head = match head.rfind(' ') {
        Some(i) if mid_word && i > 0 && head[i..].chars().count() <= WORD_BACKOFF_CHARS => &head[..i],
        _ => head.as_str(),
    };
    format!("{}{ellipsis}", head.trim_end())
}

/// Telegram's HTML mode needs exactly these three escaped outside tags.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Smart punctuation that phones insert, as the GSM-7 characters it stands for.
fn ascii_punctuation(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '‘' | '’' | '‚' | '′' => out.push('\''),
            '“' | '”' | '„' | '″' => out.push('"'),
            '–' | '—' | '‒' | '−' => out.push('-'),
            '…' => out.push_str("..."),
            '\u{a0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
