//! The one result type every channel shows: a verdict, a calibrated score, the red flags with evidence in the
//! person's own (normalised) text, which tiers decided, and the versions and timing needed to trust or debug it.

use serde::{Deserialize, Serialize};

pub use crate::kind::TextKind;

/// Verdicts stored before kinds existed were read as chat messages, the kind most of them were.
fn default_kind() -> TextKind {
    TextKind::Chat
}

/// The verdict in three words. `Uncertain` is a real answer: it is what a later tier (an LLM) is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Scam,
    Uncertain,
    Legit,
}

impl Label {
    /// The name used in JSON (and in metrics labels).
    pub fn name(self) -> &'static str {
        match self {
            Label::Scam => "scam",
            Label::Uncertain => "uncertain",
            Label::Legit => "legit",
        }
    }

    /// How a person reads it.
    pub fn words(self) -> &'static str {
        match self {
            Label::Scam => "Likely scam",
            Label::Uncertain => "Not sure",
            Label::Legit => "Looks legitimate",
        }
    }
}

/// A stage of the pipeline that contributed to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Rules,
    Model,
    Llm,
}

impl Tier {
    /// The name used in JSON and reports.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Rules => "rules",
            Tier::Model => "model",
            Tier::Llm => "llm",
        }
    }
}

/// Where a red flag shows in the normalised text: byte offsets (`start..end`, on UTF-8 character boundaries) and the
/// matched snippet, so a UI can highlight it and a terminal can quote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub start: usize,
    pub end: usize,
    pub snippet: String,
    /// Where the snippet stands in the image, when the text was read from one (`redflag check screenshot.png`): one
    /// box per line of the image it covers, in image pixels. Empty (and left out of JSON) for text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boxes: Vec<PixelBox>,
}

impl Evidence {
    pub fn new(start: usize, end: usize, snippet: impl Into<String>) -> Evidence {
        Evidence { start, end, snippet: snippet.into(), boxes: Vec::new() }
    }
}

/// A rectangle in an image, in pixels from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// What was checked, when it was not plain text: an image whose text was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// `image`.
    pub kind: String,
    /// The image's size in pixels.
    pub width: u32,
    pub height: u32,
    /// The text as it was recognised, before normalisation (the analysis's `text` is the normalised one).
    pub text: String,
}

/// Something a rule found in the text, with its evidence: a red flag ([`Flag`]) or a reassuring signal
/// ([`Reassurance`]). Both come from the same rules file and engine, so they share one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier (kebab-case); tools and tests rely on it.
    pub id: String,
    pub title: String,
    /// One sentence a job seeker understands.
    pub explanation: String,
    /// How strongly this finding alone suggests a scam (a flag) or a legitimate text (a reassurance), in (0, 1).
    pub weight: f32,
    pub evidence: Vec<Evidence>,
}

/// One red flag that fired.
pub type Flag = Finding;

/// A sign that the text is what it claims to be (the employer's own applicant-tracking system on its real domain, a
/// verification code that warns not to share it, a receipt that asks for nothing). Reassurance lowers the score
/// only when no red flag fired: a scam that copies the wording but asks for a deposit stays a scam.
pub type Reassurance = Finding;

/// A word whose removal lowers the local model's score: what in the wording resembles known scams. Shown when no
/// red flag explains the score; it is a resemblance, not a warning sign, and never makes a verdict `scam` alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelWord {
    /// The word, lower-cased.
    pub word: String,
    /// How much the model's logit falls when the word is removed.
    pub logit_drop: f32,
    /// Where it stands in the text (up to three places).
    pub evidence: Vec<Evidence>,
}

/// What each tier said, so the merged `score` can be explained and each tier evaluated on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TierScores {
    pub rules: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<f32>,
}

/// Whether a more expensive tier should look at this input, and why. The local tiers fill `recommended`; the
/// escalation tier records what it did in `status` (for programs) and `outcome` (one sentence for people).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub recommended: bool,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EscalationStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// What the escalation tier did with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    /// The LLM was asked and its verdict merged.
    Answered,
    /// The same (redacted) text was answered before; that verdict was reused at no cost.
    CachedExact,
    /// A near-duplicate text was answered before; that verdict was reused at no cost.
    CachedNear,
    /// The local verdict was confident (policy `auto`), so nothing was sent.
    NotNeeded,
    /// Escalation is off: `--offline`, policy `never`, or no endpoint configured.
    Off,
    /// A spending cap was reached; the local verdict stands.
    BudgetReached,
    /// The endpoint rejected this configuration for good (bad key, no quota); off until the configuration changes.
    Disabled,
    /// The LLM call failed (network, rate limit, unusable answer); the local verdict stands.
    Failed,
}

impl EscalationStatus {
    /// The serialised name, for metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            EscalationStatus::Answered => "answered",
            EscalationStatus::CachedExact => "cached_exact",
            EscalationStatus::CachedNear => "cached_near",
            EscalationStatus::NotNeeded => "not_needed",
            EscalationStatus::Off => "off",
            EscalationStatus::BudgetReached => "budget_reached",
            EscalationStatus::Disabled => "disabled",
            EscalationStatus::Failed => "failed",
        }
    }
}

/// The LLM's verdict, kept beside the local one so a person sees both and a program can evaluate each tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondOpinion {
    /// The model that answered, as the server named it.
    pub model: String,
    pub label: Label,
    pub score: f32,
    pub reasons: Vec<Reason>,
    /// What this call cost (0 when served from the cache or by a local server).
    pub cost_usd: f64,
}

/// One reason the LLM gave, with its quote located in the person's own text when it could be found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Versions of everything that shaped the verdict, so a stored verdict can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub core: String,
    pub rules: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Wall-clock time spent, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub normalize_us: u64,
    pub rules_us: u64,
    pub total_us: u64,
}

/// The complete verdict for one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub label: Label,
    /// Probability that the input is a scam, in [0, 1].
    pub score: f32,
    /// One or two sentences for a person.
    pub summary: String,
    /// What kind of text this was read as; the score is calibrated, and the band fitted, per kind.
    #[serde(default = "default_kind")]
    pub kind: TextKind,
    /// Red flags, strongest first.
    pub flags: Vec<Flag>,
    /// Why it looks legitimate, strongest first. Listed only when no red flag fired, since only then do they count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reassurances: Vec<Reassurance>,
    /// When no red flag fired and the verdict is not `legit`: the words that made the local model think of a scam.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_words: Vec<ModelWord>,
    /// The tiers that decided, in the order they ran.
    pub tiers: Vec<Tier>,
    pub tier_scores: TierScores,
    pub escalation: Escalation,
    pub versions: Versions,
    pub timing: Timing,
    /// Things the person should know about how the input was read (truncation, replaced bytes...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The LLM tier's verdict when it was asked (or its cached answer reused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<SecondOpinion>,
    /// The verdict and score in words and what to do next: the one vocabulary every shell renders
    /// ([`crate::advice`]). Empty in analyses stored before it existed; [`Analysis::refresh_advice`] fills it.
    #[serde(default)]
    pub advice: crate::advice::Advice,
    /// The normalised text the evidence offsets point into. Batch output leaves it out to stay compact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Set when the input was not plain text (an image read by OCR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputInfo>,
}

impl Analysis {
    /// The flag with this id, if it fired.
    pub fn flag(&self, id: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.id == id)
    }

    pub fn flag_ids(&self) -> Vec<&str> {
        self.flags.iter().map(|f| f.id.as_str()).collect()
    }

    /// Recompute [`Analysis::advice`] from the label, score, flags and second opinion as they stand now.
    pub fn refresh_advice(&mut self) {
        self.advice = crate::advice::advise(self);
    }

    /// Whether the person can see why this would be a scam: a red flag quoted in their text, or a quote of the
    /// LLM's found in it. A `scam` label needs this ([`crate::score::apply_evidence_rule`]).
    pub fn has_visible_evidence(&self) -> bool {
        self.flags.iter().any(|f| !f.evidence.is_empty())
            || self.llm.as_ref().is_some_and(|o| o.reasons.iter().any(|r| r.evidence.is_some()))
    }
}
