//! Evidence in the image: each piece of evidence quotes the analysed (normalised) text, and gets the boxes of the
//! recognised words it covers, one box per line of the image.
//!
//! Normalisation can change the text a little (Unicode folding, whitespace), so offsets are not carried across:
//! the two texts are split into words and the words matched in order, which is robust to anything that does not
//! reorder words. A word normalisation split or merged is matched by its neighbours.

use std::ops::Range;

use super::Page;
use crate::analysis::{Analysis, Evidence, PixelBox};

/// Give every piece of evidence in `analysis` (red flags, reassurances, the model's words, the LLM's quotes) the
/// boxes of the words it covers in `page`'s image. Safe to call again after an escalation added evidence.
pub fn locate(analysis: &mut Analysis, page: &Page) {
    let Some(text) = analysis.text.as_deref() else { return };
    let map = align(text, page);
    let place = |e: &mut Evidence| e.boxes = boxes(&map, page, e.start..e.end);
    for f in analysis.flags.iter_mut().chain(analysis.reassurances.iter_mut()) {
        f.evidence.iter_mut().for_each(place);
    }
    for w in &mut analysis.model_words {
        w.evidence.iter_mut().for_each(place);
    }
    if let Some(llm) = analysis.llm.as_mut() {
        llm.reasons.iter_mut().filter_map(|r| r.evidence.as_mut()).for_each(place);
    }
}

/// For each word of the analysed text (its byte range), the index of the page word it is, if found.
fn align(text: &str, page: &Page) -> Vec<(Range<usize>, Option<usize>)> {
    let analysed = words(text);
    let recognised: Vec<&str> = page.words.iter().map(|(r, _, _)| &page.text[r.clone()]).collect();
    let same = |a: &str, b: &str| a == b || fold(a) == fold(b);
    let mut out = Vec::with_capacity(analysed.len());
    let mut j = 0;
    for range in analysed {
        let word = &text[range.clone()];
        // Look a few words ahead for the same word; if it is not there, this word pairs with the next one.
        let found = (j..recognised.len().min(j + 4)).find(|&k| same(word, recognised[k]));
        let at = found.or((j < recognised.len()).then_some(j));
        out.push((range, at));
        if let Some(at) = at {
            j = at + 1;
        }
    }
    out
}

/// Union of the boxes of the page words covering `span`, one box per line.
fn boxes(map: &[(Range<usize>, Option<usize>)], page: &Page, span: Range<usize>) -> Vec<PixelBox> {
    let mut lines: Vec<(usize, PixelBox)> = Vec::new();
    for (range, at) in map {
        if range.end <= span.start || range.start >= span.end {
            continue;
        }
        let Some(&(_, b, line)) = at.and_then(|i| page.words.get(i)) else { continue };
        match lines.iter_mut().find(|(l, _)| *l == line) {
            Some((_, u)) => *u = union(*u, b),
            None => lines.push((line, b)),
        }
    }
    lines.into_iter().map(|(_, b)| b).collect()
}

fn union(a: PixelBox, b: PixelBox) -> PixelBox {
    let (x, y) = (a.x.min(b.x), a.y.min(b.y));
    let right = (a.x + a.w).max(b.x + b.w);
    let bottom = (a.y + a.h).max(b.y + b.h);
    PixelBox { x, y, w: right - x, h: bottom - y }
}

fn words(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

fn fold(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Page {
        let mut words = Vec::new();
        let mut x = 0;
        for (i, range) in super::words(text).into_iter().enumerate() {
            let line = usize::from(i >= 3);
            words.push((range, PixelBox { x: x % 300, y: 100 * line as u32, w: 50, h: 20 }, line));
            x += 100;
        }
        Page { text: text.into(), width: 400, height: 400, words }
    }

    #[test]
    fn evidence_gets_one_box_per_line_of_the_words_it_quotes() {
        let p = page("Pay the fee now to start");
        let map = align("Pay the fee now to start", &p);
        // "fee now": "fee" ends line 0, "now" starts line 1.
        let found = boxes(&map, &p, 8..15);
        assert_eq!(found, [PixelBox { x: 200, y: 0, w: 50, h: 20 }, PixelBox { x: 0, y: 100, w: 50, h: 20 }]);
        // Part of a word still points at the whole word.
        assert_eq!(boxes(&map, &p, 1..2), [PixelBox { x: 0, y: 0, w: 50, h: 20 }]);
    }

    #[test]
    fn normalisation_that_changes_a_word_does_not_shift_the_rest() {
        let p = page("𝐄𝐚𝐫𝐧 $300 daily from home");
        let map = align("Earn $300 daily from home", &p);
        let at: Vec<_> = map.iter().map(|(_, i)| *i).collect();
        assert_eq!(at, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    }
}
