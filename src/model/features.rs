//! From a [`Document`] and its rule flags to the classifier's input: a static sentence embedding (IDF-weighted
//! mean of distilled token vectors), one indicator per rule, and a few facts about the document.
//!
//! Raw contacts (`https://wa.me/...`, `hr@gmail.com`, `+1 415...`) and EMSCAD's masked tokens (`#URL_...#`) become
//! the same placeholder words before tokenisation, and digit runs become `0`, so postings from 2013 and chat
//! messages from 2024 look alike where it matters and the model cannot key on corpus artefacts.

use crate::analysis::Flag;
use crate::document::{DocKind, Document};
use crate::extract::Masked;
use crate::model::wordpiece::IdTokenizer;
use crate::score;

/// Names of the document facts, in feature order (stored in the model config and checked at load).
pub const META_FEATURES: [&str; 12] = [
    "is_posting",
    "has_company_profile",
    "has_company_logo",
    "telecommuting",
    "has_questions",
    "log_chars",
    "log_urls",
    "log_emails",
    "log_phones",
    "whatsapp_number",
    "rules_score",
    "log_flags",
];

/// The text the model reads: entities replaced by placeholder words, digit runs by `0`.
pub fn model_text(doc: &Document) -> String {
    let e = &doc.entities;
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    spans.extend(e.urls.iter().map(|u| (u.start, u.end, " link ")));
    spans.extend(e.emails.iter().map(|m| (m.start, m.end, " email address ")));
    spans.extend(
        e.phones
            .iter()
            .map(|p| (p.start, p.end, if p.value.whatsapp { " whatsapp number " } else { " phone number " })),
    );
    spans.extend(e.masked.iter().map(|m| {
        let word = match m.value {
            Masked::Url => " link ",
            Masked::Email => " email address ",
            Masked::Phone => " phone number ",
        };
        (m.start, m.end, word)
    }));
    spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    let text = &doc.text;
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, word) in spans {
        if start < at {
            continue; // nested in a span already replaced (a phone inside a wa.me link)
        }
        push_digits_folded(&mut out, &text[at..start]);
        out.push_str(word);
        at = end;
    }
    push_digits_folded(&mut out, &text[at..]);
    out
}

fn push_digits_folded(out: &mut String, s: &str) {
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('0');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
}

/// Token ids of the model text, within the tokenizer's window: the first 128 ids in the shipped `tokenizer.json`
/// (word pieces and any `[CLS]`-like tokens typed in the text), and `[PAD]` after a shorter text.
///
/// The window is the encoder's (its `tokenizer.json` says so) and it stays on purpose: a head trained on whole
/// postings ranked EMSCAD and job-board postings no better (test-fold PR-AUC 0.955 against 0.949, out of fold 0.863
/// against 0.861) and lost on chat messages, where the padding tells a short text from a long one (job-scam recall
/// 0.929 against 0.955 and personal-message FPR 1.9% against 0.8%, out of fold). The full MiniLM encoder agrees
/// (`scripts/encoder_study.py`, EMSCAD out of fold): its first window ranks frauds a little better than the static
/// table's (average precision 0.795 against 0.788) and its whole-text mean much worse (0.673); beside the field
/// indicators it adds nothing (0.813 against 0.824), so the optional encoder tier is not built.
pub fn token_ids(tokenizer: &IdTokenizer, doc: &Document) -> Vec<u32> {
    tokenizer.ids(&model_text(doc))
}

/// Buckets of the token unigrams (a token's own id) and bigrams (hashed above the vocabulary), each once: the
/// lexical evidence the static embedding averages away ("#URL" next to "apply", "oil" next to "gas").
pub fn ngram_buckets(ids: &[u32], vocab: usize, buckets: usize) -> Vec<u32> {
    let mut out: Vec<u32> = ids.iter().copied().filter(|&id| (id as usize) < vocab).collect();
    let span = buckets.saturating_sub(vocab).max(1) as u64;
    for pair in ids.windows(2) {
        let mut key = [0u8; 8];
        key[..4].copy_from_slice(&pair[0].to_le_bytes());
        key[4..].copy_from_slice(&pair[1].to_le_bytes());
        out.push((vocab as u64 + crate::hash::fnv1a(&key) % span) as u32);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// IDF-weighted mean of the token vectors, L2-normalised. `table` is `vocab x dim`, row-major.
pub fn embed(ids: &[u32], table: &[f32], idf: &[f32], dim: usize) -> Vec<f32> {
    let mut v = vec![0f32; dim];
    let mut total = 0f32;
    for &id in ids {
        let id = id as usize;
        let Some(row) = table.get(id * dim..(id + 1) * dim) else { continue };
        let w = idf.get(id).copied().unwrap_or(0.0);
        total += w;
        for (acc, x) in v.iter_mut().zip(row) {
            *acc += w * x;
        }
    }
    if total > 0.0 {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
    v
}

/// One indicator per rule id (in the model's order) and the document facts of [`META_FEATURES`].
pub fn rule_and_meta(doc: &Document, flags: &[Flag], rule_ids: &[String]) -> Vec<f32> {
    let mut f: Vec<f32> =
        rule_ids.iter().map(|id| if flags.iter().any(|fl| &fl.id == id) { 1.0 } else { 0.0 }).collect();
    let facts = doc.posting.as_ref();
    let yes = |b: Option<bool>| if b == Some(true) { 1.0 } else { 0.0 };
    let (urls, emails, phones) = doc.entities.contact_counts();
    let ln = |n: usize| (n as f32).ln_1p();
    f.extend([
        if doc.kind == DocKind::Posting { 1.0 } else { 0.0 },
        facts.map_or(0.0, |p| if p.section("company_profile").is_some() { 1.0 } else { 0.0 }),
        yes(facts.and_then(|p| p.has_company_logo)),
        yes(facts.and_then(|p| p.telecommuting)),
        yes(facts.and_then(|p| p.has_questions)),
        (doc.text.chars().count() as f32).ln_1p() / 10.0,
        ln(urls),
        ln(emails),
        ln(phones),
        if doc.entities.phones.iter().any(|p| p.value.whatsapp) { 1.0 } else { 0.0 },
        score::from_flags(flags),
        ln(flags.len()),
    ]);
    f
}
