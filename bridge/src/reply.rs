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
    let mut steps = vec![style.bold(if a.label == Label::Legit { "Before you apply" } else { "What to do" })];
    steps.extend(next_steps(a.label).iter().map(|s| format!("{}{}", style.bullet(), style.text(s))));
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
        Style::Sms => a.label.words().to_uppercase(),
        _ => style.bold(a.label.words()),
    };
    let hedge = if a.label == Label::Uncertain { "I can't tell for sure. " } else { "" };
    format!("{marker}{words}\n{hedge}My estimate: {} ({}).", score_words(a.score), percent(a.score))
}

/// The score as words, on the scale the IPCC uses for calibrated language (virtually certain: over 99%; very
/// likely: over 90%; likely: over 66%; about as likely as not: 33 to 66%; and the mirror images below), because
/// the model's score is a calibrated probability (Platt scaling on held-out data) and people read these words as
/// roughly those odds. The rules-only score is a noisy-OR rather than a calibrated probability, but its weights
/// are stated as chances too, so the same words fit.
pub fn score_words(score: f32) -> &'static str {
    match score {
        s if s >= 0.99 => "almost certainly a scam",
        s if s >= 0.90 => "very likely a scam",
        s if s >= 0.66 => "likely a scam",
        s if s > 0.33 => "as likely a scam as not",
        s if s > 0.10 => "unlikely to be a scam",
        s if s > 0.01 => "very unlikely to be a scam",
        _ => "almost certainly not a scam",
    }
}

/// The score as a percentage that never claims certainty: a score of 0.9998 is "over 99%", not "100%".
fn percent(score: f32) -> String {
    let pct = (score * 100.0).round();
    if pct >= 100.0 {
        "over 99%".to_string()
    } else if pct <= 0.0 {
        "under 1%".to_string()
    } else {
        format!("{pct:.0}%")
    }
}

fn flags(a: &Analysis, style: Style) -> String {
    if a.flags.is_empty() {
        return style.text(match a.label {
            Label::Scam => "No single red flag stands out, but the wording reads like known job scams.",
            Label::Uncertain => "No single red flag stands out; the overall wording is what makes me unsure.",
            Label::Legit => "No red flags found.",
        });
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

fn fresh_snippet<'a>(flag: &'a Flag, quoted: &[&str]) -> Option<&'a str> {
    flag.evidence.iter().map(|e| e.snippet.trim()).find(|s| !s.is_empty() && !quoted.contains(s))
}

/// One line: who else looked, what it concluded, and its first reason.
fn second_opinion(llm: &SecondOpinion, style: Style) -> String {
    let mut line = format!(
        "{} (AI model): {}, {}.",
        style.bold("Second opinion"),
        llm.label.words().to_lowercase(),
        percent(llm.score)
    );
    if let Some(reason) = llm.reasons.iter().map(|r| r.reason.trim()).find(|r| !r.is_empty()) {
        line.push(' ');
        line.push_str(&style.field(reason, REASON_MAX_CHARS));
    }
    line
}

/// Shortest useful advice (FTC and IC3 guidance, as in the CLI's report), ordered by what prevents most harm.
fn next_steps(label: Label) -> &'static [&'static str] {
    match label {
        Label::Scam => &[
            "Don't pay any fee or deposit, in money or crypto.",
            "Don't send ID documents or bank details.",
            "Check the company on its own website, not through this message.",
            "Report the sender where the message reached you. Already paid? Call your bank now.",
        ],
        Label::Uncertain => &[
            "Check the company on its own website and contact it there, not through this message.",
            "Until then, don't pay any fee or deposit and don't send ID documents or bank details.",
            "If it turns out to be fake, report the sender where the message reached you.",
        ],
        Label::Legit => &[
            "Still, never pay to get a job: stop if anyone asks for money or documents up front.",
            "Apply through the company's own website when you can.",
        ],
    }
}

/// What the service does and the commands.
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
            "Messages are checked automatically and privately. You can erase what is stored about you at any time \
             with {}.",
            style.command_name("delete my data")
        ),
    ]
    .join("\n\n")
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

/// An image, voice note or file arrived without text.
pub fn media_not_supported(style: Style) -> String {
    format!(
        "I can only check text for now. Please paste the text of the posting or message (copy it from the site, \
         the e-mail or the chat). Checking screenshots and images is coming later.\n\n{}",
        style.help_hint()
    )
}

/// The message had no text to check.
pub fn empty(style: Style) -> String {
    format!("There was nothing to check. Forward or paste the text of a job message.\n\n{}", style.help_hint())
}

/// The message is longer than the bridge accepts.
pub fn too_long(style: Style) -> String {
    format!(
        "That message is too long for me to check. Please send just the job posting or the recruiter's message, \
         without the rest of the conversation.\n\n{}",
        style.help_hint()
    )
}

/// The check failed on our side; the person should not think the message was judged.
pub fn failed(style: Style) -> String {
    format!(
        "Sorry, something went wrong while checking that message. Please try again in a few minutes.\n\n{}",
        style.help_hint()
    )
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
mod tests {
    use std::sync::OnceLock;

    use redflag::{Analyzer, Input, Reason};

    use super::*;

    const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                        $300/day. Pay a 50 USDT deposit to unlock tasks. Contact our HR on WhatsApp +1 555 0100 or \
                        t.me/hr_jobs";
    /// The brief's one-line Acme posting is "Not sure" to the built-in model (too short to say much); a posting
    /// with the usual sections is what it knows as legitimate.
    const LEGIT: &str = "Warehouse Associate (Full-time, Leeds)\n\nAcme Logistics runs three distribution centres in \
                         the north of England. Our Leeds team ships 20,000 orders a day for retailers across the \
                         UK.\n\nWhat you will do\n- Pick, pack and load customer orders\n- Keep the warehouse \
                         management system up to date\n- Follow health and safety procedures\n\nWhat you bring\n- \
                         Experience in a warehouse or retail stockroom is a plus\n- Forklift licence is a plus; we \
                         provide training\n\nPay: £11.50 per hour, 37.5 hours per week, pension and 28 days \
                         holiday.\nApply on our careers page at acme.co.uk/careers. Interviews are held in person at \
                         the Leeds site.";
    const UNCERTAIN: &str = "Work from home opportunity. Flexible hours. Contact us for more info.";
    /// Every rule-heavy scam shape at once: the longest realistic analysis.
    const LONG_SCAM: &str = "Hi dear 😊 I am Sophia, HR assistant at Nova Digital Marketing. We got your number \
                             from a job site and you have been selected for a part-time remote position. No \
                             interview is required.\n\nThe work is simple: like YouTube videos and rate hotels on \
                             Google Maps to boost their ranking. You earn $5 per task, $300/day, working 1-2 hours \
                             from your phone. No experience needed!\n\nTo start, message our trainer on Telegram \
                             t.me/nova_trainer_sophia or WhatsApp wa.me/14155550147, or e-mail \
                             nova.hr.team@gmail.com. After 30 tasks you recharge a small deposit to unlock your \
                             commission and withdraw in USDT. We will also send you a check for $4,850: deposit the \
                             check using mobile deposit and send the remaining balance to our vendor via Zelle. \
                             Please send a photo of your driver's license and your bank account details.\n\n\
                             Limited slots today, reply within 2 hours!";

    fn analyze(text: &str) -> Analysis {
        static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
        let analyzer = ANALYZER.get_or_init(|| Analyzer::builtin().expect("the built-in analyzer loads"));
        analyzer.analyze(&Input::text(text)).expect("any text gets a verdict")
    }

    fn analyze_as(text: &str, label: Label) -> Analysis {
        let a = analyze(text);
        assert_eq!(a.label, label, "the test input changed verdict (score {}); pick another", a.score);
        a
    }

    fn second_opinion(reasons: &[&str]) -> SecondOpinion {
        SecondOpinion {
            model: "gpt-test".into(),
            label: Label::Scam,
            score: 0.93,
            reasons: reasons.iter().map(|r| Reason { reason: r.to_string(), quote: None, evidence: None }).collect(),
            cost_usd: 0.0,
        }
    }

    /// Telegram accepts only known tags, balanced, and `&` only as the start of an entity.
    fn assert_valid_telegram_html(s: &str) {
        let mut stack = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find(['<', '>', '&']) {
            let tail = &rest[i..];
            let tag = ["<b>", "</b>", "<i>", "</i>"].into_iter().find(|t| tail.starts_with(t));
            let entity = ["&amp;", "&lt;", "&gt;"].into_iter().find(|e| tail.starts_with(e));
            match (tag, entity) {
                (Some(t), _) if t.starts_with("</") => {
                    assert_eq!(stack.pop(), Some(&t[2..3]), "unbalanced {t} in {s}");
                    rest = &tail[t.len()..];
                }
                (Some(t), _) => {
                    stack.push(&t[1..2]);
                    rest = &tail[t.len()..];
                }
                (None, Some(e)) => rest = &tail[e.len()..],
                (None, None) => panic!("raw markup character at {:?} in {s}", &tail[..tail.len().min(20)]),
            }
        }
        assert!(stack.is_empty(), "unclosed tags {stack:?} in {s}");
    }

    #[test]
    fn scam_on_whatsapp_shows_verdict_flags_quotes_and_advice() {
        let a = analyze_as(SCAM, Label::Scam);
        let r = verdict(&a, Style::WhatsApp);
        println!("{r}\n---- {} chars", r.chars().count());
        assert!(r.starts_with("🚩 *Likely scam*\n"), "{r}");
        assert!(r.contains("almost certainly a scam (over 99%)"), "{r}");
        assert!(r.contains("*Red flags*"), "{r}");
        for flag in a.flags.iter().take(MAX_FLAGS) {
            assert!(r.contains(&format!("• *{}*", flag.title)), "{} missing from {r}", flag.id);
            assert!(r.contains(&flag.explanation), "{r}");
        }
        assert!(!r.contains(&a.flags[MAX_FLAGS].title), "at most three flags: {r}");
        assert!(r.contains("“deposit to unlock”"), "{r}");
        assert_eq!(r.matches("“deposit to unlock”").count(), 1, "a shared quote is shown once: {r}");
        assert!(r.contains("Don't pay any fee or deposit") && r.contains("Don't send ID documents or bank details"));
        assert!(r.contains("own website") && r.contains("Report the sender"), "{r}");
        assert!(r.ends_with("Send *help* for commands."), "{r}");
        assert_eq!(r.matches(['🚩', '⚠', '✅']).count(), 1, "one verdict marker: {r}");
        assert_eq!(split(&r, TWILIO_MAX_CHARS), vec![r.clone()], "fits one message");
    }

    #[test]
    fn scam_on_sms_is_plain_ascii_with_two_flags() {
        let a = analyze_as(SCAM, Label::Scam);
        let r = verdict(&a, Style::Sms);
        println!("{r}\n---- {} chars", r.chars().count());
        assert!(r.is_ascii(), "non-GSM characters make every segment 67 characters: {r}");
        assert!(r.starts_with("LIKELY SCAM\nMy estimate: almost certainly a scam (over 99%)."), "{r}");
        assert!(!r.contains('*') && !r.contains('<'), "no markup: {r}");
        assert!(r.contains(&format!("- {}", a.flags[0].title)) && r.contains(&format!("- {}", a.flags[1].title)));
        assert!(!r.contains(&a.flags[2].title), "at most two flags: {r}");
        assert!(r.contains("Don't pay any fee or deposit"), "{r}");
        assert!(r.ends_with("Send HELP for commands."), "{r}");
        assert!(r.chars().count() < verdict(&a, Style::WhatsApp).chars().count());
    }

    #[test]
    fn scam_on_telegram_is_valid_html() {
        let a = analyze_as(SCAM, Label::Scam);
        let r = verdict(&a, Style::Telegram);
        println!("{r}\n---- {} chars", r.chars().count());
        assert!(r.starts_with("🚩 <b>Likely scam</b>\n"), "{r}");
        assert!(r.contains(&format!("• <b>{}</b>", a.flags[0].title)), "{r}");
        assert!(r.contains("<i>“t.me/hr_jobs”</i>") || r.contains("<i>“Contact our HR on WhatsApp”</i>"), "{r}");
        assert!(r.ends_with("Send /help for commands."), "{r}");
        assert_valid_telegram_html(&r);
    }

    #[test]
    fn legit_says_looks_legitimate_and_still_never_pay() {
        let a = analyze_as(LEGIT, Label::Legit);
        for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
            let r = verdict(&a, style);
            println!("{r}\n----");
            assert!(r.to_lowercase().contains("looks legitimate"), "{r}");
            assert!(r.contains("very unlikely to be a scam") || r.contains("not a scam"), "{r}");
            assert!(r.contains("never pay to get a job"), "{r}");
            assert!(!r.contains("Likely scam") && !r.contains("Red flags"), "{r}");
        }
        assert!(verdict(&a, Style::WhatsApp).starts_with("✅ *Looks legitimate*"));
    }

    #[test]
    fn uncertain_says_so_honestly() {
        let a = analyze_as(UNCERTAIN, Label::Uncertain);
        for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
            let r = verdict(&a, style);
            println!("{r}\n----");
            assert!(r.to_lowercase().contains("not sure"), "{r}");
            assert!(r.contains("I can't tell for sure"), "{r}");
            assert!(r.contains("own website") && r.contains("don't pay any fee or deposit"), "{r}");
        }
        assert!(verdict(&a, Style::WhatsApp).starts_with("⚠️ *Not sure*"));
    }

    #[test]
    fn telegram_escapes_markup_from_the_message() {
        // A message with real tags (`<script>`) is read as HTML and its tags are dropped by the core; text that
        // merely contains `<` and `&` reaches the quotes as it is.
        let a =
            analyze_as("Pay a 50 USDT deposit to unlock tasks. Contact our HR & <recruiter> on WhatsApp", Label::Scam);
        let r = verdict(&a, Style::Telegram);
        assert!(!r.contains("<recruiter>"), "{r}");
        assert!(r.contains("HR &amp; &lt;recruiter&gt; on WhatsApp"), "{r}");
        assert_valid_telegram_html(&r);

        // Whatever a rules file or an LLM puts in a title, a quote or a reason is escaped too.
        let mut a = analyze_as(SCAM, Label::Scam);
        a.flags[0].title = "<script>alert('title')</script> & co".into();
        a.flags[0].explanation = "Uses <b>bold</b> & <i>".into();
        a.flags[0].evidence[0].snippet = "<a href=\"x\">click</a> <<>>&&".into();
        a.llm = Some(second_opinion(&["It says </b><script>alert(1)</script>"]));
        let r = verdict(&a, Style::Telegram);
        println!("{r}");
        assert!(!r.contains("<script") && !r.contains("<a "), "{r}");
        assert!(r.contains("&lt;script&gt;alert('title')&lt;/script&gt; &amp; co"), "{r}");
        assert_valid_telegram_html(&r);
    }

    #[test]
    fn second_opinion_is_one_line_with_its_first_reason() {
        let mut a = analyze_as(SCAM, Label::Scam);
        a.llm = Some(second_opinion(&["", "Asks for a crypto deposit\nto unlock tasks.", "Chat-app contact."]));
        let r = verdict(&a, Style::WhatsApp);
        let line = r.lines().find(|l| l.contains("Second opinion")).expect("a second-opinion line");
        assert_eq!(line, "*Second opinion* (AI model): likely scam, 93%. Asks for a crypto deposit to unlock tasks.");
        let sms = verdict(&a, Style::Sms);
        assert!(sms.contains("\nSecond opinion (AI model): likely scam, 93%."), "{sms}");
        assert!(!verdict(&analyze(SCAM), Style::WhatsApp).contains("Second opinion"));
    }

    #[test]
    fn long_quotes_are_cut_at_a_character_boundary() {
        let mut a = analyze_as(SCAM, Label::Scam);
        a.flags[0].evidence[0].snippet = "😀".repeat(200);
        for style in [Style::WhatsApp, Style::Telegram] {
            let r = verdict(&a, style);
            let quote = format!("“{}…”", "😀".repeat(QUOTE_MAX_CHARS - 1));
            assert!(r.contains(&quote), "{r}");
        }
        a.flags[0].evidence[0].snippet = "word ".repeat(40);
        let r = verdict(&a, Style::Sms);
        assert!(r.contains(" word...\""), "SMS uses ASCII dots, after a whole word: {r}");
        assert_eq!(truncate("héllowörld", 5, "…"), "héll…");
        assert_eq!(truncate("héllo", 5, "…"), "héllo");
        assert_eq!(truncate("héllo wörld", 9, "…"), "héllo…");
        assert_eq!(truncate("héllo wörld", 7, "…"), "héllo…", "the space is at the cut");
    }

    #[test]
    fn scores_read_as_words_without_claiming_certainty() {
        let cases = [
            (1.0, "almost certainly a scam", "over 99%"),
            (0.9962, "almost certainly a scam", "over 99%"),
            (0.94, "very likely a scam", "94%"),
            (0.7, "likely a scam", "70%"),
            (0.5, "as likely a scam as not", "50%"),
            (0.2, "unlikely to be a scam", "20%"),
            (0.05, "very unlikely to be a scam", "5%"),
            (0.0004, "almost certainly not a scam", "under 1%"),
        ];
        for (score, words, pct) in cases {
            assert_eq!((score_words(score), percent(score).as_str()), (words, pct), "score {score}");
        }
    }

    #[test]
    fn the_longest_realistic_verdict_fits_in_two_twilio_messages() {
        let mut a = analyze_as(LONG_SCAM, Label::Scam);
        assert!(a.flags.len() >= 8, "{:?}", a.flag_ids());
        let long_reason = "The message asks for a deposit in USDT to unlock commissions, which is the defining \
                           move of the task scam, and it moves the conversation to Telegram and WhatsApp.";
        a.llm = Some(second_opinion(&[long_reason; 5]));
        for flag in &mut a.flags {
            flag.explanation = flag.explanation.repeat(3);
            for e in &mut flag.evidence {
                e.snippet = e.snippet.repeat(5);
            }
        }
        for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
            let r = verdict(&a, style);
            let chars = r.chars().count();
            println!("{style:?}: {chars} chars");
            assert!(split(&r, TWILIO_MAX_CHARS).len() <= 2, "{style:?}: {chars} chars");
            // In fact the bounds keep it to one message.
            assert!(chars <= TWILIO_MAX_CHARS, "{style:?}: {chars} chars");
        }
    }

    #[test]
    fn fixed_texts_are_well_formed_in_every_style() {
        for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
            let texts = [
                help(style),
                deleted(0, style),
                deleted(1, style),
                deleted(12, style),
                quota_reached(style),
                media_not_supported(style),
                empty(style),
                too_long(style),
                failed(style),
            ];
            for t in &texts {
                assert!(!t.trim().is_empty() && t.chars().count() <= 600, "{t}");
                match style {
                    Style::Sms => assert!(t.is_ascii() && !t.contains('*'), "{t}"),
                    Style::Telegram => assert_valid_telegram_html(t),
                    Style::WhatsApp => assert_eq!(t.matches('*').count() % 2, 0, "{t}"),
                }
            }
        }
        let h = help(Style::WhatsApp);
        println!("{h}");
        assert!(h.contains("Forward or paste a job message"), "{h}");
        assert!(h.contains("• *help*") && h.contains("• *delete my data*"), "{h}");
        assert!(h.contains("automatically and privately"), "{h}");
        assert!(!h.chars().any(|c| c.is_ascii_digit()), "no retention period promised: {h}");
        assert!(help(Style::Telegram).contains("<b>delete my data</b>"));
        assert!(help(Style::Sms).contains("- DELETE MY DATA: "));
        assert!(deleted(3, Style::Sms).contains("erased (3 items)"));
        assert!(deleted(0, Style::Sms).contains("nothing to erase"));
        assert!(quota_reached(Style::Sms).contains("try again tomorrow"));
        assert!(media_not_supported(Style::Sms).contains("paste the text"));
    }

    #[test]
    fn commands_are_recognised_with_noise_around_them() {
        let help = [
            "help",
            "HELP",
            "Help!",
            "  help\n",
            "/help",
            "/HELP",
            "/help@RedflagBot",
            "/start",
            "/start ref-123",
            "help please",
            "¿help?",
            "start",
        ];
        for text in help {
            assert_eq!(command(text), Some(Command::Help), "{text:?}");
        }
        let delete = [
            "delete my data",
            "Delete my data.",
            "DELETE MY DATA!!",
            "  delete   my\tdata ",
            "/delete",
            "please delete my data",
        ];
        for text in delete {
            assert_eq!(command(text), Some(Command::DeleteMyData), "{text:?}");
        }
    }

    #[test]
    fn commands_are_not_found_inside_longer_messages() {
        let not = [
            "",
            "  ",
            "?",
            "helpful",
            "/helpme",
            "help me",
            "Help us grow! We are hiring part-time workers, earn $300/day.",
            "Can you help? I got this: Pay a 50 USDT deposit to unlock tasks.",
            "help\n\nOur company is hiring. Contact HR on WhatsApp.",
            "We will delete my data? No: we delete your data after the interview.",
            "delete",
            "delete data",
            "Start today! No experience needed.",
            "Please",
        ];
        for text in not {
            assert_eq!(command(text), None, "{text:?}");
        }
    }

    /// The parts in order, markers removed, are the text with only whitespace dropped at the cuts.
    fn assert_covers(text: &str, parts: &[String], max: usize) {
        let n = parts.len();
        let mut rest = text;
        for (i, part) in parts.iter().enumerate() {
            assert!(!part.trim().is_empty(), "empty part {i} of {parts:?}");
            assert!(part.chars().count() <= max, "part {i} has {} > {max} chars", part.chars().count());
            let body = part.strip_suffix(&format!(" ({}/{n})", i + 1)).unwrap_or(part);
            rest = rest.trim_start();
            assert!(rest.starts_with(body), "part {i} {body:?} is not next in {rest:?}");
            rest = &rest[body.len()..];
        }
        assert!(rest.trim().is_empty(), "text left over: {rest:?}");
    }

    #[test]
    fn short_text_is_one_part_and_blank_text_none() {
        assert_eq!(split("hello", 5), vec!["hello"]);
        assert_eq!(split("  hello \n", 1600), vec!["hello"]);
        assert!(split("", 10).is_empty());
        assert!(split(" \n\n \t", 10).is_empty());
    }

    #[test]
    fn split_prefers_paragraphs_then_lines_then_spaces() {
        let text = format!("{}\n\n{}\n{}", "a".repeat(30), "b".repeat(10), "c".repeat(10));
        assert_eq!(
            split(&text, 46),
            vec![format!("{} (1/2)", "a".repeat(30)), format!("{}\n{} (2/2)", "b".repeat(10), "c".repeat(10))]
        );
        let text = format!("{}\n{} {}", "a".repeat(30), "b".repeat(10), "c".repeat(10));
        assert_eq!(split(&text, 46)[0], format!("{} (1/2)", "a".repeat(30)));
        let text = "one two three four five six seven eight nine ten";
        let parts = split(text, 26);
        assert_eq!(parts[0], "one two three four (1/3)");
        assert_covers(text, &parts, 26);
    }

    #[test]
    fn split_skips_a_break_that_would_leave_a_tiny_part() {
        let text = format!("Hi.\n\n{}", "word ".repeat(40));
        let parts = split(&text, 106);
        assert!(parts[0].starts_with("Hi.\n\nword word"), "{parts:?}");
        assert_covers(&text, &parts, 106);
    }

    #[test]
    fn split_respects_the_limit_in_chars_for_emoji_and_cjk() {
        let emoji = "😀".repeat(100);
        let parts = split(&emoji, 16);
        assert!(parts.len() > 1);
        assert_covers(&emoji, &parts, 16);
        assert_eq!(parts.iter().map(|p| p.split(' ').next().unwrap_or("")).collect::<String>(), emoji);

        let cjk = "求职者请注意诈骗信息，不要支付任何押金。".repeat(30);
        let parts = split(&cjk, TWILIO_MAX_CHARS / 4);
        assert!(cjk.len() > TWILIO_MAX_CHARS && parts.len() == 2, "{}", parts.len());
        assert_covers(&cjk, &parts, TWILIO_MAX_CHARS / 4);
    }

    #[test]
    fn split_cuts_a_long_single_word_hard() {
        let word = "x".repeat(3500);
        let parts = split(&word, TWILIO_MAX_CHARS);
        assert_eq!(parts.len(), 3);
        assert_covers(&word, &parts, TWILIO_MAX_CHARS);
        assert_eq!(parts[2], format!("{} (3/3)", "x".repeat(3500 - 2 * (1600 - 6))));
    }

    #[test]
    fn split_without_room_for_markers_still_splits() {
        let parts = split("abcdefgh", 3);
        assert_eq!(parts, vec!["abc", "def", "gh"]);
        assert_eq!(split("ab", 0), vec!["a", "b"], "a zero limit is one");
    }

    #[test]
    fn split_grows_the_marker_when_parts_reach_two_digits() {
        let text = "word ".repeat(100);
        let parts = split(&text, 20);
        assert!(parts.len() >= 10, "{}", parts.len());
        assert!(parts[0].ends_with(&format!(" (1/{})", parts.len())), "{parts:?}");
        assert_covers(&text, &parts, 20);
    }

    #[test]
    fn split_holds_its_properties_on_mixed_text() {
        // A fixed linear congruential generator: reproducible without a dependency.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % n
        };
        let pieces = ["word", "déjà", "😀", "👩‍👩‍👧", "招聘", " ", " ", "\n", "\n\n", "  \n \n", "\t", "é", "&lt;", "*b*"];
        for _ in 0..400 {
            let len = next(120);
            let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            for max in [1, 2, 3, 7, 12, 25, 80, TWILIO_MAX_CHARS] {
                let parts = split(&text, max);
                assert_covers(&text, &parts, max);
                assert_eq!(parts.is_empty(), text.trim().is_empty());
            }
        }
    }
}
