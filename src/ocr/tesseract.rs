//! [`Tesseract`]: the OCR engine we ship, through the `leptess` binding to Debian's libtesseract (English data from
//! `tesseract-ocr-eng`). Loading the English model takes a few hundred milliseconds, so each thread keeps its
//! engine once made; the API is not thread-safe, and a thread-local one needs no lock. Words come from Tesseract's
//! TSV output, which carries each word's box, line and confidence.
//!
//! Debian's Tesseract is built with OpenMP, whose threads spin while they wait: on a two-core machine a screenshot
//! took 1.8 s with them and 0.22 s with `OMP_THREAD_LIMIT=1` (`tests/screenshot_measure.rs`), as Tesseract's
//! documentation warns. libgomp reads that variable once, when it is loaded, before `main`; and
//! `omp_set_num_threads` does not help (the LSTM asks for its thread count itself, measured). So a program that
//! reads images calls [`super::limit_openmp_threads`] first thing, which runs it again with the variable set.

use std::cell::RefCell;
use std::ffi::CString;

use leptess::tesseract::TessApi;

use super::{Ocr, OcrError, OcrWord};
use crate::analysis::PixelBox;

thread_local! {
    static ENGINE: RefCell<Option<TessApi>> = const { RefCell::new(None) };
}

/// Tesseract with English data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tesseract;

impl Ocr for Tesseract {
    fn recognise(&self, image: &image::GrayImage) -> Result<Vec<OcrWord>, OcrError> {
        let (width, height) = image.dimensions();
        let (w, h) = (
            i32::try_from(width).map_err(|_| OcrError::TooLarge { width, height, max: 0 })?,
            i32::try_from(height).map_err(|_| OcrError::TooLarge { width, height, max: 0 })?,
        );
        ENGINE.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(start()?);
            }
            let api = slot.as_mut().ok_or_else(|| OcrError::Engine("the OCR engine did not start".into()))?;
            api.raw
                .set_image(image.as_raw(), w, h, 1, w)
                .map_err(|e| OcrError::Engine(format!("the OCR engine refused the image: {e:?}")))?;
            // Screenshots carry no resolution; without one Tesseract guesses and says so on stderr.
            api.set_source_resolution(300);
            let tsv = api.get_tsv_text(0).map_err(|e| OcrError::Engine(format!("the OCR engine failed: {e}")))?;
            Ok(parse_tsv(&tsv))
        })
    }
}

fn start() -> Result<TessApi, OcrError> {
    let mut api = TessApi::new(None, "eng").map_err(|_| {
        OcrError::Engine(
            "the OCR engine (Tesseract) could not load its English data: install tesseract-ocr-eng \
             (scripts/setup.sh does), or paste the text instead"
                .into(),
        )
    })?;
    // Tesseract's own diagnostics would land on the person's terminal.
    let quiet = [("debug_file", "/dev/null")];
    for (name, value) in quiet {
        if let (Ok(name), Ok(value)) = (CString::new(name), CString::new(value)) {
            let _ = api.raw.set_variable(&name, &value);
        }
    }
    Ok(api)
}

/// Tesseract's TSV: `level page block paragraph line word left top width height confidence text`; level 5 rows
/// are words.
fn parse_tsv(tsv: &str) -> Vec<OcrWord> {
    tsv.lines()
        .filter_map(|row| {
            let cols: Vec<&str> = row.splitn(12, '\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                return None;
            }
            let n = |i: usize| cols[i].trim().parse::<u32>().ok();
            Some(OcrWord {
                text: cols[11].to_string(),
                bbox: PixelBox { x: n(6)?, y: n(7)?, w: n(8)?, h: n(9)? },
                line: (n(2)?, n(3)?, n(4)?),
                confidence: cols[10].trim().parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_word_rows_become_words() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t1080\t2400\t-1\t\n\
                   5\t1\t2\t1\t3\t1\t40\t300\t120\t38\t96.5\tPay\n\
                   5\t1\t2\t1\t3\t2\t170\t300\t60\t38\t91\t$50\n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 2);
        assert_eq!(words[1].text, "$50");
        assert_eq!(words[1].bbox, PixelBox { x: 170, y: 300, w: 60, h: 38 });
        assert_eq!(words[0].line, (2, 1, 3));
    }
}
