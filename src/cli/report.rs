//! The readable report: verdict first, then each red flag with its explanation and the evidence quoted in context,
//! then what to do. The words (verdict, score, next steps) are the core's [`redflag::advice`]; this module only
//! lays them out. Colour goes through anstream, which drops it when stdout is not a terminal or NO_COLOR is set.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use redflag::{Analysis, Evidence, Label, RuleSet};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const HIGHLIGHT: Style = Style::new().bold().underline();

/// Characters of context quoted on each side of a piece of evidence.
const CONTEXT_CHARS: usize = 40;

fn verdict_style(label: Label) -> Style {
    let colour = match label {
        Label::Scam => AnsiColor::Red,
        Label::Uncertain => AnsiColor::Yellow,
        Label::Legit => AnsiColor::Green,
    };
    Style::new().bold().fg_color(Some(colour.into()))
}

/// `marks` brackets evidence with ⟦ ⟧ for output without colour, where underlining would vanish.
pub fn render(out: &mut dyn Write, a: &Analysis, marks: bool) -> std::io::Result<()> {
    let vs = verdict_style(a.label);
    writeln!(out, "{vs}{}{vs:#}  {DIM}({} likely a scam){DIM:#}", a.advice.verdict, a.advice.percent)?;
    writeln!(out, "{}", a.summary)?;
    if !a.flags.is_empty() {
        writeln!(out)?;
        writeln!(out, "{BOLD}Red flags ({}){BOLD:#}", a.flags.len())?;
        for flag in &a.flags {
            writeln!(out, "  {vs}•{vs:#} {BOLD}{}{BOLD:#}  {DIM}[{}]{DIM:#}", flag.title, flag.id)?;
            writeln!(out, "    {}", flag.explanation)?;
            for e in &flag.evidence {
                writeln!(out, "    {DIM}»{DIM:#} {}", quote(a.text.as_deref().unwrap_or(""), e, marks))?;
            }
        }
    }
    let text = a.text.as_deref().unwrap_or("");
    if a.flags.is_empty() && !a.model_words.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}Wording like known scams{BOLD:#} {DIM}(not a red flag: what the model reacted to){DIM:#}"
        )?;
        for w in &a.model_words {
            if let Some(e) = w.evidence.first() {
                writeln!(out, "  {DIM}»{DIM:#} {}", quote(text, e, marks))?;
            }
        }
    }
    if !a.reassurances.is_empty() {
        writeln!(out)?;
        let ok = Style::new().bold().fg_color(Some(AnsiColor::Green.into()));
        writeln!(out, "{BOLD}Why it looks legitimate ({}){BOLD:#}", a.reassurances.len())?;
        for r in &a.reassurances {
            writeln!(out, "  {ok}•{ok:#} {BOLD}{}{BOLD:#}  {DIM}[{}]{DIM:#}", r.title, r.id)?;
            writeln!(out, "    {}", r.explanation)?;
            for e in &r.evidence {
                writeln!(out, "    {DIM}»{DIM:#} {}", quote(text, e, marks))?;
            }
        }
    }
    if let Some(llm) = &a.llm {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}Second opinion{BOLD:#} {DIM}({}){DIM:#}: {} ({})",
            llm.model,
            a.advice.second_opinion.as_deref().unwrap_or(llm.label.words()),
            redflag::advice::percent(llm.score)
        )?;
        for r in &llm.reasons {
            writeln!(out, "  {vs}•{vs:#} {}", r.reason)?;
            if let Some(e) = &r.evidence {
                writeln!(out, "    {DIM}»{DIM:#} {}", quote(a.text.as_deref().unwrap_or(""), e, marks))?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "{BOLD}{}{BOLD:#}", a.advice.heading)?;
    for step in &a.advice.steps {
        writeln!(out, "  - {step}")?;
    }
    for note in &a.notes {
        writeln!(out, "{DIM}Note: {note}.{DIM:#}")?;
    }
    let tiers: Vec<&str> = a.tiers.iter().map(|t| t.name()).collect();
    writeln!(
        out,
        "{DIM}read as {} · decided by {} · rules {} · {:.1} ms{DIM:#}",
        a.kind.noun(),
        tiers.join("+"),
        a.versions.rules,
        a.timing.total_us as f64 / 1000.0
    )?;
    Ok(())
}

/// The evidence with some text around it on the same line, the evidence itself highlighted.
fn quote(text: &str, e: &Evidence, marks: bool) -> String {
    let (open, close) = if marks { ("⟦", "⟧") } else { ("", "") };
    if e.end > text.len() || !text.is_char_boundary(e.start) || !text.is_char_boundary(e.end) {
        return format!("\"{open}{HIGHLIGHT}{}{HIGHLIGHT:#}{close}\"", e.snippet);
    }
    let line_start = text[..e.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[e.end..].find('\n').map_or(text.len(), |i| e.end + i);
    let before: String = {
        let chars: Vec<char> = text[line_start..e.start].chars().collect();
        let skip = chars.len().saturating_sub(CONTEXT_CHARS);
        let prefix = if skip > 0 { "…" } else { "" };
        format!("{prefix}{}", chars[skip..].iter().collect::<String>())
    };
    let after: String = {
        let mut chars = text[e.end..line_end].chars();
        let taken: String = chars.by_ref().take(CONTEXT_CHARS).collect();
        if chars.next().is_some() { format!("{taken}…") } else { taken }
    };
    format!("\"{before}{open}{HIGHLIGHT}{}{HIGHLIGHT:#}{close}{after}\"", &text[e.start..e.end])
}

/// `redflag rules`: the rules with their weights, for people tuning or auditing them.
pub fn rules(rules: &RuleSet) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    writeln!(out, "{BOLD}Rules {}{BOLD:#}", rules.version())?;
    for rule in rules.rules() {
        writeln!(out, "{BOLD}{:<24}{BOLD:#} {:.2}  {}", rule.id, rule.weight, rule.title)?;
        writeln!(out, "{:<24}       {DIM}{}{DIM:#}", "", rule.explanation)?;
    }
    Ok(())
}
