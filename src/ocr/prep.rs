//! Decoding and preparing an image for OCR. Formats are recognised by their bytes, never by a file name; the
//! header's size is checked before any pixel is decoded, and the decoder's own allocation limit backs that up, so
//! a small file that claims a huge image is refused at once.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{GrayImage, ImageDecoder, ImageReader, imageops};

use super::OcrError;

/// The largest image file read. A phone screenshot is under 3 MB as PNG; a camera photo of a flyer under 12 MB.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// The most pixels decoded: a 4000×6000 photo. OCR time grows with pixels, so this bounds the time too.
pub const MAX_PIXELS: u64 = 24_000_000;
/// Text narrower than this is scaled up: Tesseract reads letters best at 20 to 40 pixels tall, and a screenshot
/// saved at half size has them at 12.
const MIN_WIDTH: u32 = 900;
/// Wider than this is scaled down: a 4000-pixel photo of a flyer has letters far larger than OCR needs.
const MAX_WIDTH: u32 = 2200;
/// The neighbourhood a pixel is compared with when binarising: a little more than a line of text is tall.
const WINDOW: u32 = 51;
/// How much darker than its neighbourhood a pixel must be to be ink.
const INK_CONTRAST: i64 = 25;

/// The image formats Redflag reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

/// The format of `bytes`, by their first bytes; `None` when they are not an image Redflag reads.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// An image ready for OCR, and how to map its coordinates back to the original's.
#[derive(Debug)]
pub struct Prepared {
    pub image: GrayImage,
    /// The original's size.
    pub width: u32,
    pub height: u32,
    /// Prepared pixels per original pixel.
    pub scale: f32,
}

pub fn prepare(bytes: &[u8]) -> Result<Prepared, OcrError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(OcrError::TooManyBytes { bytes: bytes.len(), max: MAX_IMAGE_BYTES });
    }
    let format = sniff(bytes).ok_or_else(|| OcrError::Format("its first bytes are not an image header".into()))?;
    let format = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Webp => image::ImageFormat::WebP,
    };
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader().into_dimensions().map_err(|e| OcrError::Corrupt(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width == 0 || height == 0 {
        return Err(OcrError::TooLarge { width, height, max: MAX_PIXELS / 1_000_000 });
    }
    let mut reader = reader();
    let mut limits = image::Limits::default();
    // Four bytes a pixel plus the decoder's working memory.
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    reader.limits(limits);
    let corrupt = |e: image::ImageError| OcrError::Corrupt(e.to_string());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // A phone stores a photo as the sensor saw it and says in its EXIF how to turn it upright; Tesseract reads
    // sideways text as noise. Unreadable metadata is no reason to refuse the pixels.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut decoded = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    decoded.apply_orientation(orientation);
    // Evidence boxes are in the upright image's coordinates, as a viewer shows it.
    let (width, height) = (decoded.width(), decoded.height());
    let mut grey = decoded.to_luma8();
    // Dark mode (light letters on a dark background): OCR engines are trained on dark ink on light paper.
    if mean(&grey) < 110.0 {
        imageops::invert(&mut grey);
    }
    let scale = if width < MIN_WIDTH {
        (MIN_WIDTH as f32 / width as f32).min(3.0)
    } else if width > MAX_WIDTH {
        MAX_WIDTH as f32 / width as f32
    } else {
        1.0
    };
    // Scaled up, a narrow and very tall image would pass the limit above and still cost 9 times its pixels.
    let scale = scale.min((MAX_PIXELS as f32 / (width as f32 * height as f32)).sqrt()).max(f32::MIN_POSITIVE);
    if (scale - 1.0).abs() > f32::EPSILON {
        let w = ((width as f32 * scale).round() as u32).max(1);
        let h = ((height as f32 * scale).round() as u32).max(1);
        grey = imageops::resize(&grey, w, h, imageops::FilterType::Triangle);
    }
    binarise(&mut grey);
    Ok(Prepared { image: grey, width, height, scale })
}

/// Ink black, everything else white, each pixel judged against the mean of its neighbourhood. Tesseract's own
/// thresholding is global: on a dark-mode chat turned light, the bubbles (mid grey) and the screen (light) are the
/// two classes it separates, and the whole bubble, letters and all, becomes one black block. A local threshold
/// sees letters against their bubble and bubbles against the screen alike (Bradley and Roth's adaptive threshold,
/// with an integral image: linear in pixels).
fn binarise(image: &mut GrayImage) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    // sums[(y + 1) * (w + 1) + x + 1] = sum of the pixels above and left of (x, y), inclusive.
    let mut sums = vec![0u64; (w + 1) * (h + 1)];
    let pixels = image.as_raw();
    for y in 0..h {
        let mut row = 0u64;
        for x in 0..w {
            row += u64::from(pixels[y * w + x]);
            sums[(y + 1) * (w + 1) + x + 1] = sums[y * (w + 1) + x + 1] + row;
        }
    }
    let half = (WINDOW / 2) as usize;
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(half), (y + half + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(half), (x + half + 1).min(w));
            let area = ((y1 - y0) * (x1 - x0)) as i64;
            let total = (sums[y1 * (w + 1) + x1] + sums[y0 * (w + 1) + x0]) as i64
                - (sums[y0 * (w + 1) + x1] + sums[y1 * (w + 1) + x0]) as i64;
            if i64::from(pixels[y * w + x]) * area < total - INK_CONTRAST * area {
                out[y * w + x] = 0;
            }
        }
    }
    *image = GrayImage::from_raw(image.width(), image.height(), out).unwrap_or_else(|| image.clone());
}

fn mean(image: &GrayImage) -> f64 {
    let n = u64::from(image.width()) * u64::from(image.height());
    if n == 0 {
        return 255.0;
    }
    image.as_raw().iter().map(|&p| u64::from(p)).sum::<u64>() as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
        let img = GrayImage::from_pixel(width, height, image::Luma([shade]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).expect("encode");
        out
    }

    #[test]
    fn formats_are_known_by_their_bytes() {
        assert_eq!(sniff(&png(2, 2, 0)), Some(ImageFormat::Png));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn a_small_dark_image_is_inverted_and_scaled_up() {
        let p = prepare(&png(300, 100, 20)).expect("prepared");
        assert_eq!((p.width, p.height), (300, 100));
        assert_eq!(p.scale, 3.0);
        assert_eq!(p.image.dimensions(), (900, 300));
        assert!(p.image.as_raw().iter().all(|&v| v == 255), "dark mode turned light, and no ink in it");
    }

    #[test]
    fn a_narrow_tall_image_is_not_scaled_past_the_pixel_limit() {
        let p = prepare(&png(300, 60_000, 255)).expect("prepared");
        let (w, h) = p.image.dimensions();
        assert!(u64::from(w) * u64::from(h) <= MAX_PIXELS + u64::from(w) + u64::from(h), "{w}×{h}");
    }

    #[test]
    fn letters_on_a_mid_grey_bubble_are_ink_and_the_bubble_is_not() {
        // A light screen, a mid-grey bubble on it, a dark stroke inside the bubble.
        let mut img = GrayImage::from_pixel(200, 200, image::Luma([237]));
        for y in 50..150 {
            for x in 50..150 {
                img.put_pixel(x, y, image::Luma([193]));
            }
        }
        for y in 95..105 {
            for x in 80..120 {
                img.put_pixel(x, y, image::Luma([20]));
            }
        }
        binarise(&mut img);
        assert_eq!(img.get_pixel(100, 100).0, [0], "the letter is ink");
        assert_eq!(img.get_pixel(60, 140).0, [255], "the bubble is paper");
        assert_eq!(img.get_pixel(10, 10).0, [255], "so is the screen");
    }

    #[test]
    fn huge_corrupt_and_foreign_images_are_refused_with_what_to_do() {
        // A valid header claiming too many pixels is tests/screenshots.rs's (it needs the header's CRC redone).
        let mut cut = png(50, 50, 0);
        cut.truncate(cut.len() / 2);
        assert!(matches!(prepare(&cut), Err(OcrError::Corrupt(_))));
        assert!(prepare(b"GIF89a....").expect_err("gif").to_string().contains("PNG or JPEG"));
        let big = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(prepare(&big), Err(OcrError::TooManyBytes { .. })));
    }
}
