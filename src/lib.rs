//! Redflag's analysis core: tells whether a job posting or a recruiter message is a scam, why, and how sure it is.
//!
//! Every channel (the `redflag` CLI, the desktop app, the WhatsApp/Telegram bridge) hands text to this one crate:
//!
//! 1. [`Input`] (free text or a structured posting) becomes a [`Document`]: normalised text plus extracted
//!    entities (links, e-mail addresses, phone numbers, money amounts, masked contacts) — [`normalize`],
//!    [`extract`].
//! 2. The [`rules`] engine finds red flags, and reassuring signals, with evidence spans in that text; [`kind`] tells
//!    a posting from an e-mail, a notification or a chat message.
//! 3. [`score`] turns flags, reassurances and, when loaded, a local [`Classifier`]'s calibrated log-odds for that
//!    kind into a score and a label; `uncertain` marks the inputs worth escalating, and `scam` needs evidence the
//!    person can see.
//! 4. The result is one serialisable [`Analysis`], which carries its own [`advice`]: the verdict and score in
//!    words and what to do next, the one vocabulary every shell renders.
//! 5. [`check`] is the use case around it that every shell holds: analyse, escalate to an LLM or say why not
//!    ([`escalate`]), record the redacted check in its owner's history ([`store`]).
//!
//! The centre depends on serde, regex and text crates only. The local model plugs in behind [`Classifier`]
//! (attached in `model::attach`, never named by the pipeline), storage behind the traits in [`store`] (SQLite the
//! embedded implementation, on one foundation shared with the bridge's queue). The LLM client is one
//! OpenAI-compatible HTTP client ([`llm`]): it is swapped by pointing it at another server, and tests fake the
//! server, not the client. Training and evaluation (`dataset`, `model::{train, fit, calibrate, metrics,
//! distill}`) are behind the `train` feature, which only the CLI takes.

pub mod advice;
pub mod analysis;
pub mod analyzer;
pub mod check;
pub mod config;
#[cfg(feature = "train")]
pub mod dataset;
pub mod document;
pub mod error;
pub mod escalate;
pub mod extract;
pub mod hash;
pub mod input;
pub mod kind;
pub mod llm;
pub mod model;
pub mod normalize;
pub mod ocr;
mod pattern;
pub mod redact;
pub mod rules;
pub mod score;
pub mod simhash;
pub mod store;
pub mod sync;
pub mod time;

pub use analysis::{
    Analysis, Escalation, EscalationStatus, Evidence, Finding, Flag, Label, ModelWord, Reason, Reassurance,
    SecondOpinion, TextKind, Tier, TierScores, Timing, Versions,
};
pub use analyzer::{Analyzer, Classifier};
pub use document::{DocKind, Document};
pub use error::{Error, Result};
pub use input::{Input, Posting};
pub use model::LocalModel;
pub use rules::RuleSet;
