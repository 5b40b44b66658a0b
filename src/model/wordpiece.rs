//! Token ids for the static embedding, without the `tokenizers` pipeline.
//!
//! The `tokenizers` crate reads and validates `tokenizer.json`; this module only replays what its BERT pipeline
//! (added tokens, `BertNormalizer`, `BertPreTokenizer`, `WordPiece`) does to a text, and returns the ids. The crate
//! tracks an alignment for every character so that it can report offsets, and builds a `String` per token; we need
//! neither, and that bookkeeping was two thirds of the time of analysing a posting (`cargo bench --bench analyze`
//! times both side by side). Exactness is the contract: `tests/wordpiece.rs` compares the two on awkward strings, a
//! sweep of Unicode and the training data, so training and inference see the ids the encoder was distilled with.
//! That includes the file's window: the encoder's `tokenizer.json` keeps the first 128 tokens and pads shorter texts
//! with `[PAD]`, and the model is trained on exactly that (see `features::token_ids` on why the window stays).
//!
//! Why the text can be cut into chunks at ASCII whitespace and each chunk handled alone: added tokens hold no
//! whitespace, the normaliser works per character except NFD's reordering (which never crosses a starter such as a
//! space), and ' ', '\t', '\n', '\r' always end a word. Chunks of plain ASCII, most of them, skip the Unicode steps.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection, TruncationParams, TruncationStrategy,
};
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::UnicodeNormalization;

/// A BERT WordPiece tokenizer that returns ids only, identical to the `tokenizers` crate's ids.
#[derive(Debug, Clone)]
pub struct IdTokenizer {
    /// Every vocabulary entry, for a word's first piece.
    vocab: FxHashMap<Box<str>, u32>,
    /// The entries that start with the continuation prefix (`##`), stored without it.
    continuations: FxHashMap<Box<str>, u32>,
    /// Tokens matched verbatim in the raw text (`[CLS]`, `[UNK]`...), longest first.
    added: Vec<(Box<str>, u32)>,
    /// The bytes an added token can start with, so most positions are passed over at once.
    added_starts: [bool; 256],
    unk: u32,
    max_word_chars: usize,
    /// The file's truncation (the window) and padding, applied as the crate applies them to one text.
    truncation: Option<TruncationParams>,
    padding: Option<PaddingParams>,
    clean_text: bool,
    chinese_chars: bool,
    strip_accents: bool,
    lowercase: bool,
}

impl IdTokenizer {
    /// The tokenizer a `tokenizer.json` describes; an error names what is not a BERT WordPiece tokenizer.
    pub fn from_bytes(json: &[u8]) -> Result<Self, String> {
        let tokenizer = tokenizers::Tokenizer::from_bytes(json).map_err(|e| e.to_string())?;
        Self::new(&tokenizer)
    }

    pub fn new(tokenizer: &tokenizers::Tokenizer) -> Result<Self, String> {
        if tokenizer.get_encode_special_tokens() {
            return Err(
                "special tokens are set to be encoded as text; only verbatim special tokens are supported".into()
            );
        }
        let Some(NormalizerWrapper::BertNormalizer(normalizer)) = tokenizer.get_normalizer() else {
            return Err("expected a BertNormalizer".into());
        };
        if !matches!(tokenizer.get_pre_tokenizer(), Some(PreTokenizerWrapper::BertPreTokenizer(_))) {
            return Err("expected a BertPreTokenizer".into());
        }
        let ModelWrapper::WordPiece(model) = tokenizer.get_model() else {
            return Err("expected a WordPiece model".into());
        };
        let base: HashMap<String, u32> = tokenizer.get_vocab(false);
        let unk = *base
            .get(&model.unk_token)
            .ok_or_else(|| format!("the unknown token {:?} is not in the vocabulary", model.unk_token))?;
        let prefix = model.continuing_subword_prefix.as_str();
        let continuations =
            base.iter().filter_map(|(piece, &id)| piece.strip_prefix(prefix).map(|rest| (rest.into(), id))).collect();
        let mut added = Vec::new();
        for (id, token) in tokenizer.get_added_tokens_decoder() {
            if token.normalized || token.single_word || token.lstrip || token.rstrip {
                return Err(format!("added token {:?}: only verbatim tokens are supported", token.content));
            }
            if token.content.is_empty() || token.content.chars().any(char::is_whitespace) {
                return Err(format!("added token {:?}: must be one word", token.content));
            }
            added.push((token.content.into_boxed_str(), id));
        }
        // Longest first: at one position the longest match wins, as in the crate's leftmost-longest matcher.
        added.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let truncation = tokenizer.get_truncation().cloned();
        if let Some(t) = &truncation {
            if t.strategy == TruncationStrategy::OnlySecond {
                return Err("truncation only_second needs a pair of texts; use longest_first".into());
            }
            if t.stride > 0 && t.stride >= t.max_length {
                // The crate panics on these when it truncates.
                return Err(format!("truncation stride {} must be below max_length {}", t.stride, t.max_length));
            }
        }
        let mut added_starts = [false; 256];
        for (token, _) in &added {
            added_starts[token.as_bytes()[0] as usize] = true;
        }
        Ok(IdTokenizer {
            vocab: base.into_iter().map(|(piece, id)| (piece.into_boxed_str(), id)).collect(),
            continuations,
            added,
            added_starts,
            unk,
            max_word_chars: model.max_input_chars_per_word,
            truncation,
            padding: tokenizer.get_padding().cloned(),
            clean_text: normalizer.clean_text,
            chinese_chars: normalizer.handle_chinese_chars,
            strip_accents: normalizer.strip_accents.unwrap_or(normalizer.lowercase),
            lowercase: normalizer.lowercase,
        })
    }

    /// The ids of `text` without special tokens around it, truncated and padded as the file says.
    pub fn ids(&self, text: &str) -> Vec<u32> {
        let mut ids = match &self.truncation {
            // Kept from the start: tokenising stops there, which is most of this module's speed on long postings.
            Some(t) if t.direction == TruncationDirection::Right => self.first_ids(text, t.max_length),
            Some(t) => {
                let mut all = self.first_ids(text, usize::MAX);
                all.drain(..all.len().saturating_sub(t.max_length));
                all
            }
            None => self.first_ids(text, usize::MAX),
        };
        if let Some(p) = &self.padding {
            let mut length = match p.strategy {
                PaddingStrategy::Fixed(n) => n,
                PaddingStrategy::BatchLongest => ids.len(), // a batch of one
            };
            if let Some(m) = p.pad_to_multiple_of.filter(|&m| m > 0 && length % m > 0) {
                length += m - length % m;
            }
            if ids.len() < length {
                let fill = std::iter::repeat_n(p.pad_id, length - ids.len());
                match p.direction {
                    PaddingDirection::Right => ids.extend(fill),
                    PaddingDirection::Left => drop(ids.splice(0..0, fill)),
                }
            }
        }
        ids
    }

    /// The first `max` ids of `text`.
    fn first_ids(&self, text: &str, max: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity((text.len() / 4).min(max));
        let mut buf = String::new();
        for chunk in text.split([' ', '\t', '\n', '\r']).filter(|c| !c.is_empty()) {
            if out.len() >= max {
                break;
            }
            self.chunk(chunk, &mut buf, &mut out);
        }
        out.truncate(max);
        out
    }

    /// A chunk without ASCII whitespace: its added tokens verbatim, the text between them normalised and split.
    fn chunk(&self, chunk: &str, buf: &mut String, out: &mut Vec<u32>) {
        let mut from = 0;
        let mut at = 0;
        let bytes = chunk.as_bytes();
        while at < bytes.len() {
            if !self.added_starts[bytes[at] as usize] {
                at += 1;
                continue;
            }
            let found = self.added.iter().find(|(token, _)| bytes[at..].starts_with(token.as_bytes()));
            match found {
                Some((token, id)) => {
                    self.text(&chunk[from..at], buf, out);
                    out.push(*id);
                    at += token.len();
                    from = at;
                }
                None => at += 1,
            }
        }
        self.text(&chunk[from..], buf, out);
    }

    fn text(&self, text: &str, buf: &mut String, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        buf.clear();
        if text.is_ascii() {
            // ASCII has no accents and no Chinese characters, so only two steps remain (what whitespace is left,
            // \x0b and \x0c when `clean_text` is off, the split below handles).
            for c in text.chars() {
                if self.clean_text && c.is_ascii_control() {
                    continue;
                }
                buf.push(if self.lowercase { c.to_ascii_lowercase() } else { c });
            }
        } else {
            self.normalise(text, buf);
        }
        for word in buf.split(char::is_whitespace).filter(|w| !w.is_empty()) {
            let mut start = 0;
            for (i, c) in word.char_indices() {
                if c.is_ascii_punctuation() || c.is_punctuation() {
                    self.word(&word[start..i], out);
                    self.word(&word[i..i + c.len_utf8()], out);
                    start = i + c.len_utf8();
                }
            }
            self.word(&word[start..], out);
        }
    }

    /// `BertNormalizer`, step by step as the crate applies it.
    fn normalise(&self, text: &str, buf: &mut String) {
        let mut s = String::with_capacity(text.len());
        for c in text.chars() {
            if self.clean_text {
                let control = !matches!(c, '\t' | '\n' | '\r') && c.is_other();
                if c == '\0' || c == '\u{fffd}' || control {
                    continue;
                }
            }
            // `clean_text` also turns whitespace into ' ', which changes no id: the split below takes any whitespace.
            if self.chinese_chars && is_chinese_char(c) {
                s.extend([' ', c, ' ']);
            } else {
                s.push(c);
            }
        }
        if self.strip_accents {
            s = s.as_str().nfd().map(|(c, _)| c).filter(|c| !c.is_mark_nonspacing()).collect();
        }
        if self.lowercase {
            // Character by character, as the crate does: `str::to_lowercase` would turn a final sigma into 'ς'.
            buf.extend(s.chars().flat_map(char::to_lowercase));
        } else {
            buf.push_str(&s);
        }
    }

    /// Greedy longest-match WordPiece; a word that cannot be covered, or is too long, is one unknown token.
    fn word(&self, word: &str, out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.len() > self.max_word_chars && word.chars().count() > self.max_word_chars {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let table = if start == 0 { &self.vocab } else { &self.continuations };
            let mut end = word.len();
            let found = loop {
                if let Some(&id) = table.get(&word[start..end]) {
                    break Some(id);
                }
                match word[start..end].chars().next_back() {
                    Some(c) if end - c.len_utf8() > start => end -= c.len_utf8(),
                    _ => break None,
                }
            };
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// The CJK blocks `BertNormalizer` puts spaces around (Hangul, Hiragana and Katakana are not among them).
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}
