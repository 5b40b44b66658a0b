//! One vocabulary for what a verdict means to a person: the verdict and the score in words, and what to do next.
//!
//! Every shell (the CLI report, the bridge's WhatsApp/SMS/Telegram replies, the desktop and web page in `ui/`)
//! renders the [`Advice`] carried inside each [`Analysis`] instead of writing its own, so a job seeker reads the
//! same words wherever they check. Shells choose how much to show (an SMS has room for fewer steps) and how to mark
//! it up, never what it says.
//!
//! Next steps come from FTC and IC3 guidance, shortest useful form, most harm-preventing first: first the steps
//! for the kinds of red flag that fired (a fake cheque needs "don't deposit it", which no generic list says), then
//! the steps for the label. A custom rules file with other rule ids simply gets the label's steps.

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, Label};

/// The most next steps one verdict lists: past five, a list stops being read.
pub const MAX_STEPS: usize = 5;
/// The most steps that come from the flags: the label's own first steps (do not pay, do not send documents) are
/// what prevents most harm and must not be pushed out.
const MAX_FLAG_STEPS: usize = 2;

/// What a verdict means, in words, and what to do about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advice {
    /// The verdict in a few words ("Likely scam").
    pub verdict: String,
    /// The score in calibrated words ("very likely a scam").
    pub score_words: String,
    /// The score as a percentage that never claims certainty ("over 99%", "12%").
    pub percent: String,
    /// The second opinion's own verdict in words, when an LLM was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_opinion: Option<String>,
    /// The heading over the steps.
    pub heading: String,
    /// What to do next, most important first, at most [`MAX_STEPS`].
    pub steps: Vec<String>,
}

/// The advice for an analysis as it stands (call again after anything changes its label, score or flags).
pub fn advise(a: &Analysis) -> Advice {
    let ids: Vec<&str> = a.flags.iter().map(|f| f.id.as_str()).collect();
    advise_parts(a.label, a.score, &ids, a.llm.as_ref().map(|o| o.label))
}

/// The advice from a verdict's parts: for stored checks written before analyses carried their advice.
pub fn advise_parts(label: Label, score: f32, flag_ids: &[&str], second_opinion: Option<Label>) -> Advice {
    let mut steps: Vec<&str> = Vec::new();
    if label != Label::Legit {
        for id in flag_ids {
            if let Some(step) = flag_step(id)
                && !steps.contains(&step)
                && steps.len() < MAX_FLAG_STEPS
            {
                steps.push(step);
            }
        }
    }
    steps.extend(label_steps(label).iter().copied().filter(|s| !steps.contains(s)).collect::<Vec<_>>());
    steps.truncate(MAX_STEPS);
    Advice {
        verdict: label.words().to_string(),
        score_words: score_words(score).to_string(),
        percent: percent(score),
        second_opinion: second_opinion.map(|l| l.words().to_string()),
        heading: match label {
            Label::Legit => "Good to know",
            Label::Scam | Label::Uncertain => "What to do",
        }
        .to_string(),
        steps: steps.into_iter().map(str::to_string).collect(),
    }
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
pub fn percent(score: f32) -> String {
    let pct = (score * 100.0).round();
    if pct >= 100.0 {
        "over 99%".to_string()
    } else if pct <= 0.0 {
        "under 1%".to_string()
    } else {
        format!("{pct:.0}%")
    }
}

fn label_steps(label: Label) -> &'static [&'static str] {
    match label {
        Label::Scam => &[
            "Don't pay any fee or deposit, in money, gift cards or crypto.",
            "Don't send ID documents, your SSN, or bank or card details.",
            "Stop replying. Already paid? Call your bank now and ask it to stop or reverse the payment.",
            "Report it where it reached you (the job site's report button, Block & report on WhatsApp), and at \
             reportfraud.ftc.gov in the US or Action Fraud in the UK.",
        ],
        Label::Uncertain => &[
            "Look the company up yourself and contact it through its own website, not through this message.",
            "Until then, don't pay any fee or deposit and don't send ID documents or bank details.",
            "Ask for a video interview and a written offer from a company e-mail address.",
            "If it turns out to be fake, report the sender where the message reached you.",
        ],
        Label::Legit => &[
            "Never pay to get a job: stop if anyone asks for money or documents up front.",
            "Apply through the company's own website when you can.",
        ],
    }
}

/// The step a kind of red flag needs that the label's steps do not already say, by built-in rule id. Flags whose
/// harm the label's steps cover (fees, documents) have none.
fn flag_step(rule_id: &str) -> Option<&'static str> {
    Some(match rule_id {
        "fake-check" | "mistaken-payment" => {
            "Don't deposit a cheque or pass on money a stranger sent you: it bounces after you have paid out."
        }
        "reshipping" => "Don't receive or forward parcels for someone you have not met.",
        "payment-processing" | "send-money-to-number" | "new-number-money" => {
            "Don't move money through your account for anyone: that makes you part of a fraud."
        }
        "code-request" => "Never share a code sent to your phone: it is the key to your account.",
        "remote-access" => "Don't install an app that lets someone see or control your phone or computer.",
        "link-to-verify" | "login-through-link" | "lookalike-domain" | "lure-host" | "account-threat" => {
            "Don't sign in or pay through the link: open the company's site or app yourself."
        }
        "card-for-refund" => "Don't give card details to receive a refund or a payment.",
        "crypto-mentor" => "Don't move money to a platform a stranger recommends: the 'profits' cannot be withdrawn.",
        "chat-app-interview" | "free-email-recruiter" | "no-interview" => {
            "Ask for a video interview with someone at a company e-mail address."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_id_with_a_step_exists_in_the_built_in_rules() {
        // A renamed rule would silently lose its step; this fails instead.
        let rules = crate::RuleSet::builtin().expect("built-in rules");
        let ids: Vec<&str> = rules.rules().map(|r| r.id.as_str()).collect();
        let named = [
            "fake-check",
            "mistaken-payment",
            "reshipping",
            "payment-processing",
            "send-money-to-number",
            "new-number-money",
            "code-request",
            "remote-access",
            "link-to-verify",
            "login-through-link",
            "lookalike-domain",
            "lure-host",
            "account-threat",
            "card-for-refund",
            "crypto-mentor",
            "chat-app-interview",
            "free-email-recruiter",
            "no-interview",
        ];
        for id in named {
            assert!(ids.contains(&id), "{id} has a step but no rule");
            assert!(flag_step(id).is_some(), "{id} is listed here but has no step");
        }
    }

    #[test]
    fn a_fake_cheque_is_told_not_to_deposit_it_before_the_generic_steps() {
        let advice = advise_parts(Label::Scam, 0.97, &["fake-check", "upfront-payment"], None);
        assert_eq!(advice.verdict, "Likely scam");
        assert_eq!(advice.score_words, "very likely a scam");
        assert!(advice.steps[0].contains("deposit a cheque"), "{:?}", advice.steps);
        assert!(advice.steps[1].starts_with("Don't pay any fee"), "{:?}", advice.steps);
        assert!(advice.steps.len() <= MAX_STEPS);
    }

    #[test]
    fn flag_steps_are_capped_so_the_label_steps_stay() {
        let ids = ["fake-check", "reshipping", "code-request", "remote-access", "crypto-mentor"];
        let advice = advise_parts(Label::Scam, 0.99, &ids, None);
        assert_eq!(advice.steps.len(), MAX_STEPS);
        assert!(advice.steps.iter().any(|s| s.starts_with("Don't pay any fee")));
        assert!(advice.steps.iter().any(|s| s.starts_with("Don't send ID")));
    }

    #[test]
    fn two_flags_of_one_family_give_one_step() {
        let advice = advise_parts(Label::Uncertain, 0.6, &["link-to-verify", "login-through-link"], None);
        let links = advice.steps.iter().filter(|s| s.contains("through the link")).count();
        assert_eq!(links, 1, "{:?}", advice.steps);
    }

    #[test]
    fn a_legitimate_verdict_gets_no_flag_steps_and_its_own_heading() {
        let advice = advise_parts(Label::Legit, 0.03, &["urgency", "fake-check"], Some(Label::Legit));
        assert_eq!(advice.heading, "Good to know");
        assert!(advice.steps.iter().all(|s| !s.contains("cheque")));
        assert_eq!(advice.second_opinion.as_deref(), Some("Looks legitimate"));
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
}
