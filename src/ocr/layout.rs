//! From words to text: lines in reading order, words joined by single spaces, and the lines of one paragraph too,
//! since where a bubble or a column wraps is not where the sender broke the line ("Contact our\nHR on WhatsApp"
//! would hide the phrase from the rules); paragraphs are separated by a line break. A phone's status bar (the clock, the battery, the signal at the very top of a tall screenshot)
//! and the time stamps at the end of chat bubbles are left out: they are not the message, and "12:45" next to
//! "pay 50 USDT" would only confuse the rules. Every word keeps the byte range it occupies in the text and its box
//! in the original image, which is what [`super::locate`] maps evidence with.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::OcrWord;
use super::prep::Prepared;
use crate::analysis::PixelBox;

/// The recognised text of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub text: String,
    /// The original image's size.
    pub width: u32,
    pub height: u32,
    /// Each word: where it is in `text`, its box in the original image, and its line's number.
    pub words: Vec<(Range<usize>, PixelBox, usize)>,
}

/// A line's words with their boxes, and which line it is (block, paragraph, line).
type Line = Vec<(String, PixelBox)>;
type LineKey = (u32, u32, u32);

/// A clock ("9:41", "21:07", "10:42 AM"), as status bars and chat bubbles print it.
static CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?i)\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?$").expect("static regex"));
/// What else a status bar shows: signal and battery glyphs read as letters, percentages, network names.
static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i)(?:\d{1,3}%|4g|5g|lte|3g|e|h\+?|wifi|[^\p{L}\p{N}]+|.{1,2})$").expect("static regex")
});
/// Read receipts after a bubble's time: "✓✓" is often read as "VV", "W" or "//".
static TICKS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:[✓✔√vVwW/|]{1,3})$").expect("static regex"));

impl Page {
    pub(super) fn from_words(words: Vec<OcrWord>, prepared: &Prepared) -> Page {
        let (width, height) = (prepared.width, prepared.height);
        let back = |b: PixelBox| {
            let s = prepared.scale;
            let x = ((b.x as f32 / s).round() as u32).min(width.saturating_sub(1));
            let y = ((b.y as f32 / s).round() as u32).min(height.saturating_sub(1));
            let w = ((b.w as f32 / s).round() as u32).clamp(1, width - x);
            let h = ((b.h as f32 / s).round() as u32).clamp(1, height - y);
            PixelBox { x, y, w, h }
        };
        // Group into lines, keeping the engine's reading order.
        let mut lines: Vec<(LineKey, Line)> = Vec::new();
        for w in words {
            let text = w.text.trim();
            // A bubble's rounded corner or an icon read as "r", "N" or "|": short and unsure, not a word.
            if text.is_empty() || w.confidence < 0.0 || (w.confidence < 60.0 && text.chars().count() <= 2) {
                continue;
            }
            match lines.last_mut() {
                Some((key, line)) if *key == w.line => line.push((text.to_string(), back(w.bbox))),
                _ => lines.push((w.line, vec![(text.to_string(), back(w.bbox))])),
            }
        }
        let portrait = height > width + width / 2;
        let mut page = Page { text: String::new(), width, height, words: Vec::new() };
        let mut last_paragraph = None;
        for (number, ((block, paragraph, _), mut line)) in lines.into_iter().enumerate() {
            if portrait && is_status_bar(&line, height) {
                continue;
            }
            trim_bubble_time(&mut line);
            if line.is_empty() {
                continue;
            }
            if !page.text.is_empty() {
                page.text.push(if last_paragraph == Some((block, paragraph)) { ' ' } else { '\n' });
            }
            last_paragraph = Some((block, paragraph));
            for (i, (word, bbox)) in line.into_iter().enumerate() {
                if i > 0 {
                    page.text.push(' ');
                }
                let start = page.text.len();
                page.text.push_str(&word);
                page.words.push((start..page.text.len(), bbox, number));
            }
        }
        page
    }
}

/// A line in the top 6% or bottom 4% of a tall screenshot made only of a clock and status glyphs.
fn is_status_bar(line: &Line, height: u32) -> bool {
    let top = line.iter().map(|(_, b)| b.y).min().unwrap_or(0);
    let bottom = line.iter().map(|(_, b)| b.y + b.h).max().unwrap_or(0);
    let at_edge = top < height * 6 / 100 || bottom > height - height * 4 / 100;
    at_edge && line.iter().all(|(w, _)| CLOCK.is_match(w) || STATUS.is_match(w))
}

/// Drop the time stamp (and read receipts) a chat bubble prints after its last word: "... today 10:42 AM ✓✓".
fn trim_bubble_time(line: &mut Line) {
    while line.last().is_some_and(|(w, _)| TICKS.is_match(w)) && line.len() > 1 {
        line.pop();
    }
    let n = line.len();
    if n >= 2 && matches!(line[n - 1].0.to_ascii_lowercase().as_str(), "am" | "pm") && CLOCK.is_match(&line[n - 2].0) {
        line.truncate(n - 2);
    } else if line.last().is_some_and(|(w, _)| CLOCK.is_match(w)) {
        line.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, x: u32, y: u32, line: u32) -> OcrWord {
        OcrWord { text: text.into(), bbox: PixelBox { x, y, w: 40, h: 20 }, line: (1, 1, line), confidence: 90.0 }
    }

    fn prepared(width: u32, height: u32, scale: f32) -> Prepared {
        Prepared { image: image::GrayImage::new(1, 1), width, height, scale }
    }

    #[test]
    fn lines_become_text_and_every_word_knows_its_bytes_and_box() {
        let words =
            vec![word("Pay", 10, 100, 1), word("50", 60, 100, 1), word("USDT", 110, 100, 1), word("now", 10, 130, 2)];
        let page = Page::from_words(words, &prepared(1000, 1000, 2.0));
        assert_eq!(page.text, "Pay 50 USDT now", "one paragraph's lines are one line of text");
        let (range, bbox, line) = page.words[2].clone();
        assert_eq!(&page.text[range], "USDT");
        assert_eq!((bbox, line), (PixelBox { x: 55, y: 50, w: 20, h: 10 }, 0), "back in the original's pixels");
    }

    #[test]
    fn the_status_bar_and_bubble_times_are_not_the_message() {
        let words = vec![
            word("9:41", 20, 10, 1),
            word("5G", 900, 10, 1),
            word("87%", 960, 10, 1),
            word("Send", 20, 500, 2),
            word("the", 80, 500, 2),
            word("fee", 140, 500, 2),
            word("10:42", 300, 500, 2),
            word("AM", 360, 500, 2),
            word("VV", 400, 500, 2),
        ];
        let page = Page::from_words(words, &prepared(1080, 2400, 1.0));
        assert_eq!(page.text, "Send the fee");
        // A time at a line's end is a bubble's stamp wherever it is; a price is not a time.
        let landscape = prepared(2000, 1000, 1.0);
        let page = Page::from_words(vec![word("Meet", 0, 300, 1), word("9:41", 60, 300, 1)], &landscape);
        assert_eq!(page.text, "Meet");
        let page = Page::from_words(vec![word("Fee", 0, 300, 1), word("49.99", 60, 300, 1)], &landscape);
        assert_eq!(page.text, "Fee 49.99");
        // A landscape image has no status bar: a clock and a percentage at its top are text.
        let page =
            Page::from_words(vec![word("Up", 0, 10, 1), word("9:41", 60, 10, 1), word("87%", 120, 10, 1)], &landscape);
        assert_eq!(page.text, "Up 9:41 87%");
        let page =
            Page::from_words(vec![word("9:41", 0, 300, 1), word("call", 60, 300, 1)], &prepared(2000, 1000, 1.0));
        assert_eq!(page.text, "9:41 call", "a clock mid-line stays");
    }
}
