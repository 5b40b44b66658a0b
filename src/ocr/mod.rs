//! Reading screenshots and photos: the image people actually have becomes text for the ordinary pipeline, and each
//! red flag's evidence gets boxes in the image as well as spans in the text.
//!
//! Four steps, each in its own file: [`prep`] decodes the image (PNG, JPEG, WebP, recognised by content, bounded
//! in bytes and pixels so a hostile file costs a bounded time) and prepares it for OCR (upright by its EXIF
//! orientation, grey, dark mode turned light, small text scaled up); an [`Ocr`] engine finds the words and their boxes ([`Tesseract`] is the one we
//! ship; the trait keeps the engine replaceable and the rest testable on its own); [`layout`] turns the words into
//! lines of text, leaving out a phone's status bar and the timestamps of chat bubbles, and remembers which bytes of
//! the text each word's box covers; [`locate`] gives every piece of evidence the boxes of the words it quotes.
//!
//! [`analyze_image`] is the one use case: the CLI, and later the desktop and the bridge, call it with their own
//! check function, so an image is judged exactly like the same words typed.

mod layout;
mod locate;
mod prep;
mod tesseract;

use crate::analysis::{Analysis, InputInfo, PixelBox};
use crate::input::Input;

pub use layout::Page;
pub use locate::locate;
pub use prep::{ImageFormat, MAX_IMAGE_BYTES, MAX_PIXELS, sniff};
pub use tesseract::Tesseract;

/// One word as an OCR engine saw it, in the coordinates of the image it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrWord {
    pub text: String,
    pub bbox: PixelBox,
    /// Which line it is on: words with the same key are one line, in reading order.
    pub line: (u32, u32, u32),
    /// The engine's confidence, 0 to 100.
    pub confidence: f32,
}

/// An OCR engine: the words of a greyscale image, in reading order.
pub trait Ocr: Send + Sync {
    fn recognise(&self, image: &image::GrayImage) -> Result<Vec<OcrWord>, OcrError>;
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("this is not a PNG, JPEG or WebP image Redflag can read ({0}); save it as PNG or JPEG and try again")]
    Format(String),
    #[error(
        "the image is {width}×{height} pixels, more than Redflag reads ({max} million pixels); crop it to the message"
    )]
    TooLarge { width: u32, height: u32, max: u64 },
    #[error("the image file is {bytes} bytes, more than the {max} Redflag reads; crop it or save it as JPEG")]
    TooManyBytes { bytes: usize, max: usize },
    #[error("the image could not be decoded ({0}); it may be cut off or damaged")]
    Corrupt(String),
    #[error("{0}")]
    Engine(String),
    #[error("no text was found in the image; check it shows the message, or paste the text instead")]
    NoText,
}

/// Read the text of an image and check it with `check`, then place the evidence in the image. The analysis says
/// it came from an image (`input.kind = "image"`, the recognised text, the image's size) and notes that the
/// reading may be imperfect.
pub fn analyze_image(
    ocr: &dyn Ocr,
    bytes: &[u8],
    check: impl FnOnce(&Input) -> crate::Result<Analysis>,
) -> crate::Result<(Analysis, Page)> {
    let page = read(ocr, bytes)?;
    let mut analysis = check(&Input::text(page.text.clone()))?;
    locate(&mut analysis, &page);
    analysis.input =
        Some(InputInfo { kind: "image".into(), width: page.width, height: page.height, text: page.text.clone() });
    analysis.notes.push(format!(
        "the text was read from a {}×{} image; if a word looks wrong below, the reading may have missed it",
        page.width, page.height
    ));
    Ok((analysis, page))
}

/// Make this process run Tesseract on one OpenMP thread per engine (see [`Tesseract`]): unless `OMP_THREAD_LIMIT`
/// is set already, the program is executed again, same arguments and same standard input (nothing has read it
/// yet), with `OMP_THREAD_LIMIT=1`. Returns only when that is not needed or not possible; the program then works
/// as before, just slower on images.
pub fn limit_openmp_threads() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("OMP_THREAD_LIMIT", "1").exec();
        tracing::debug!("could not run again with OMP_THREAD_LIMIT=1 ({err}); images will be read more slowly");
    }
}

/// The text of an image, with each word's box.
pub fn read(ocr: &dyn Ocr, bytes: &[u8]) -> Result<Page, OcrError> {
    let prepared = prep::prepare(bytes)?;
    let words = ocr.recognise(&prepared.image)?;
    let page = layout::Page::from_words(words, &prepared);
    if page.text.trim().is_empty() {
        return Err(OcrError::NoText);
    }
    Ok(page)
}
