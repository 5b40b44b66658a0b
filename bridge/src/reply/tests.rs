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
const UNCERTAIN: &str = "Flexible hours, work from home. Message me for details.";
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
    // The core's advice, rendered: the steps the WhatsApp reply has room for, in order, and no more.
    assert!(r.contains("*What to do*"), "{r}");
    for step in a.advice.steps.iter().take(MAX_STEPS) {
        assert!(r.contains(&format!("• {step}")), "{step} missing from {r}");
    }
    assert!(a.advice.steps.iter().skip(MAX_STEPS).all(|s| !r.contains(s.as_str())), "{r}");
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
        assert!(r.to_lowercase().contains("never pay to get a job"), "{r}");
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
    let a = analyze_as("Pay a 50 USDT deposit to unlock tasks. Contact our HR & <recruiter> on WhatsApp", Label::Scam);
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
    assert!(h.contains("Forward or paste a job message"), "{h}");
    assert!(h.contains("• *help*") && h.contains("• *delete my data*"), "{h}");
    assert!(h.contains("removed first"), "says what leaves the service: {h}");
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

/// Issue #16: a legitimate verdict says why, with a quote of what it rests on.
#[test]
fn legit_says_why_it_looks_legitimate() {
    let a = analyze("Your Google verification code is 771204. Don't share this code with anyone.");
    assert_eq!(a.label, Label::Legit, "the test input changed verdict (score {}); pick another", a.score);
    assert!(!a.reassurances.is_empty(), "a code that warns not to share it reassures");
    for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
        let r = verdict(&a, style);
        assert!(r.contains("Why it looks legitimate"), "{r}");
        assert!(r.contains("verification code that warns"), "{r}");
        assert!(r.contains("share"), "the quote from the message is shown: {r}");
        if style == Style::Telegram {
            assert_valid_telegram_html(&r);
        }
    }
}

/// Issue #16: "not sure" without a red flag says no specific warning sign was found, not that flags are hidden.
#[test]
fn uncertain_without_a_flag_says_no_specific_warning_sign() {
    let mut a = analyze(SCAM);
    a.flags.clear();
    a.label = Label::Uncertain;
    a.refresh_advice();
    for style in [Style::WhatsApp, Style::Sms, Style::Telegram] {
        let r = verdict(&a, style);
        assert!(r.contains("no specific warning sign"), "{r}");
        assert!(!r.contains("Red flags"), "{r}");
    }
}
