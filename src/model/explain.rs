//! Which words made the model think of a scam: the evidence behind a score no red flag explains.
//!
//! Occlusion, the plainest attribution there is: each distinct word of the window the model reads is removed in
//! turn, the text is scored again, and the words whose removal lowers the logit most are the ones that pushed it
//! up. Every variant is featurised like a real input (tokens, static embedding, n-grams) and all of them go
//! through the head in one batch, so a message costs one forward pass of a few dozen rows (about a millisecond on
//! one core; see `benches/analyze.rs`). Gradients would be cheaper but explain the logit's slope at one point, not
//! what the words did, and the n-gram bag is not differentiable in its inputs.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::LocalModel;
use super::features;
use crate::analysis::{Evidence, Flag, ModelWord};
use crate::document::Document;
use crate::error::Result;

/// The model reads 128 word pieces; words past this many characters of its text lie outside that window.
const WINDOW_CHARS: usize = 1200;
/// Distinct words tried, in text order.
const MAX_WORDS: usize = 48;
/// Words returned, strongest first.
pub const MAX_SHOWN: usize = 5;
/// A word must lower the logit by this much when removed to be worth showing.
const MIN_LOGIT_DROP: f32 = 0.25;

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\p{L}[\p{L}'’-]{2,}\b").expect("static regex"));

impl LocalModel {
    /// The words of `doc` whose removal lowers the head's logit most, with where they are in the text.
    pub fn explain(&self, doc: &Document, flags: &[Flag]) -> Result<Vec<ModelWord>> {
        let (dense, _) = self.features(doc, flags)?;
        // The head reads only its window, so every variant is cut to it: removing a word from a 3 KB posting
        // re-tokenises 1.2 KB, not 3.
        let model_text = features::model_text(doc);
        let window = crate::normalize::truncate_at_char_boundary(&model_text, WINDOW_CHARS);
        let mut seen = HashSet::new();
        let words: Vec<String> = WORD
            .find_iter(window)
            .map(|m| m.as_str().to_lowercase())
            .filter(|w| !PLACEHOLDERS.contains(&w.as_str()) && seen.insert(w.clone()))
            .take(MAX_WORDS)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut base = dense.clone();
        self.replace_embedding(&mut base, window);
        let mut rows = vec![(base, self.buckets(window))];
        for word in &words {
            let without = remove_word(window, word);
            let mut variant = dense.clone();
            self.replace_embedding(&mut variant, &without);
            rows.push((variant, self.buckets(&without)));
        }
        let logits = self.logits(&rows)?;
        let base = logits[0];
        let mut found: Vec<ModelWord> = words
            .into_iter()
            .zip(&logits[1..])
            .map(|(word, z)| (word, base - z))
            .filter(|(_, drop)| *drop >= MIN_LOGIT_DROP)
            .filter_map(|(word, drop)| {
                let evidence = occurrences(&doc.text, &word);
                (!evidence.is_empty()).then(|| ModelWord { word, logit_drop: (drop * 100.0).round() / 100.0, evidence })
            })
            .collect();
        found.sort_by(|a, b| b.logit_drop.total_cmp(&a.logit_drop));
        found.truncate(MAX_SHOWN);
        Ok(found)
    }
}

/// Words `features::model_text` writes in place of contacts: they stand for a link or a number, not for wording.
const PLACEHOLDERS: [&str; 5] = ["link", "email", "address", "phone", "number"];

/// `text` without any whole-word, case-insensitive occurrence of `word`.
fn remove_word(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in WORD.find_iter(text) {
        if m.as_str().to_lowercase() == word {
            out.push_str(&text[at..m.start()]);
            at = m.end();
        }
    }
    out.push_str(&text[at..]);
    out
}

/// Where `word` stands in the person's text (whole words, any case), at most a few times.
fn occurrences(text: &str, word: &str) -> Vec<Evidence> {
    WORD.find_iter(text)
        .filter(|m| m.as_str().to_lowercase() == word)
        .take(3)
        .map(|m| Evidence::new(m.start(), m.end(), m.as_str().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_removed_whole_and_found_in_any_case() {
        assert_eq!(remove_word("Earn daily. Earnings daily!", "daily"), "Earn . Earnings !");
        let found = occurrences("Daily pay, paid DAILY", "daily");
        assert_eq!(found.iter().map(|e| e.snippet.as_str()).collect::<Vec<_>>(), ["Daily", "DAILY"]);
    }

    #[test]
    fn the_words_that_push_a_scam_score_are_named_and_located() {
        let model = LocalModel::builtin().expect("model");
        let doc = Document::from_input(&crate::Input::text(
            "Hello dear, part time job earn daily commission from home, contact our HR manager today",
        ))
        .expect("doc");
        let words = model.explain(&doc, &[]).expect("explain");
        assert!(!words.is_empty(), "some word of a task-scam opener pushes the score");
        for w in &words {
            assert!(w.logit_drop >= MIN_LOGIT_DROP);
            for e in &w.evidence {
                assert_eq!(&doc.text[e.start..e.end].to_lowercase(), &w.word);
            }
        }
    }
}
