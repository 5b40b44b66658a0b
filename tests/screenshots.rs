//! Screenshots and photos (issue #21), through the real `redflag` binary: images rendered here from known text
//! (chat bubbles in light and dark mode under a status bar, a plain notice, a half-size screenshot) get the verdict
//! the same text gets typed, with boxes on every piece of evidence; images in other formats and bad images are
//! refused with what to do.

mod common;

use std::path::Path;

use common::redflag;
use common::screenshot::{Layout, render};
use serde_json::Value;

const SCAM: &str = "Hello dear, our company is hiring part-time online workers. Earn $300/day by liking hotel \
                    reviews. Pay a 50 USDT deposit to unlock your tasks. Contact our HR on WhatsApp today.";
const LEGIT: &str = "Hi Sam, thanks for applying to the Data Analyst role at Northwind. Are you free for a 30-minute \
                     video call with Priya Shah on Tuesday at 2pm? The calendar invite has the link.";

fn check(path: &Path) -> Value {
    let out = redflag().args(["check", "--json", "--no-history"]).arg(path).output().expect("run redflag");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn typed(text: &str) -> Value {
    let out = redflag().args(["check", "--json", "--no-history", "-"]).write_stdin(text).output().expect("run");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn flag_ids(a: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        a["flags"].as_array().expect("flags").iter().map(|f| f["id"].as_str().expect("id").to_string()).collect();
    ids.sort();
    ids
}

/// Every piece of evidence has boxes, inside the image, and below the status bar.
fn assert_boxed(a: &Value) {
    let (w, h) = (a["input"]["width"].as_u64().expect("width"), a["input"]["height"].as_u64().expect("height"));
    for flag in a["flags"].as_array().expect("flags") {
        for e in flag["evidence"].as_array().expect("evidence") {
            let boxes = e["boxes"].as_array().unwrap_or_else(|| panic!("no boxes on {e}"));
            assert!(!boxes.is_empty(), "no boxes on {e}");
            for b in boxes {
                let (x, y, bw, bh) = (b["x"].as_u64(), b["y"].as_u64(), b["w"].as_u64(), b["h"].as_u64());
                let (x, y, bw, bh) = (x.expect("x"), y.expect("y"), bw.expect("w"), bh.expect("h"));
                assert!(bw > 0 && bh > 0 && x + bw <= w && y + bh <= h, "box {b} outside the {w}×{h} image");
                assert!(y > h / 20, "evidence is message text, not the status bar: {b}");
            }
        }
    }
}

#[test]
fn a_screenshot_gets_the_verdict_of_its_text_with_boxes_on_the_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (scam, legit) = (typed(SCAM), typed(LEGIT));
    assert_eq!(scam["label"], "scam", "the text itself is a scam");
    for layout in Layout::ALL {
        let path = dir.path().join("scam.png");
        render(SCAM, layout, &path);
        let a = check(&path);
        assert_eq!(a["input"]["kind"], "image", "{}", layout.name());
        assert_eq!(a["label"], scam["label"], "{}: {}", layout.name(), a["text"]);
        assert_eq!(flag_ids(&a), flag_ids(&scam), "{}: {}", layout.name(), a["text"]);
        assert_boxed(&a);
        let text = a["text"].as_str().expect("text");
        assert!(!text.contains("9:41") && !text.contains("10:42"), "{}: clock read as text: {text}", layout.name());

        render(LEGIT, layout, &path);
        let a = check(&path);
        assert_eq!(a["label"], legit["label"], "{}: {}", layout.name(), a["text"]);
    }
}

#[test]
fn jpeg_webp_and_standard_input_are_read_by_their_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("scam.png");
    render(SCAM, Layout::Plain, &png);
    let img = image::open(&png).expect("the rendered PNG");
    // Names that say nothing: the bytes decide.
    let jpeg = dir.path().join("photo.dat");
    img.to_rgb8().save_with_format(&jpeg, image::ImageFormat::Jpeg).expect("JPEG");
    let webp = dir.path().join("forwarded");
    img.to_rgba8().save_with_format(&webp, image::ImageFormat::WebP).expect("WebP");
    for path in [&jpeg, &webp] {
        let a = check(path);
        assert_eq!((a["input"]["kind"].as_str(), a["label"].as_str()), (Some("image"), Some("scam")), "{a}");
    }
    let out = redflag()
        .args(["check", "--json", "--no-history", "-"])
        .write_stdin(std::fs::read(&png).expect("bytes"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(a["input"]["kind"], "image");
}

/// Issue #21: a photo stored sideways with EXIF orientation 6 ("turn 90° clockwise to show it"), as phone
/// cameras write them, is read upright, and its boxes are in the upright image a viewer shows.
#[test]
fn a_sideways_photo_is_turned_upright_by_its_exif_orientation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("notice.png");
    render(SCAM, Layout::Plain, &png);
    let upright = image::open(&png).expect("the rendered PNG");
    let mut jpeg = Vec::new();
    let sideways = upright.rotate270().to_rgb8();
    sideways.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).expect("JPEG");
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, with_orientation_6(&jpeg)).expect("write");
    let a = check(&photo);
    assert_eq!(a["label"], "scam", "{a}");
    assert_eq!(
        (a["input"]["width"].as_u64(), a["input"]["height"].as_u64()),
        (Some(u64::from(upright.width())), Some(u64::from(upright.height()))),
        "measured upright"
    );
    assert_boxed(&a);
}

/// `jpeg` with an EXIF segment whose only entry is Orientation = 6, right after the start-of-image marker.
fn with_orientation_6(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "a JPEG");
    let tiff = [
        b"MM\x00\x2a\x00\x00\x00\x08".as_slice(), // big-endian TIFF header; the first IFD at offset 8
        &[0x00, 0x01],                            // one entry:
        &[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00], // Orientation, SHORT, 1, 6
        &[0x00, 0x00, 0x00, 0x00],                // no next IFD
    ]
    .concat();
    let payload = [b"Exif\x00\x00".as_slice(), &tiff].concat();
    let length = u16::try_from(payload.len() + 2).expect("small").to_be_bytes();
    [&jpeg[..2], &[0xFF, 0xE1], &length, &payload, &jpeg[2..]].concat()
}

/// PNG's CRC-32 (ISO-HDLC), bit by bit: thirty lines would be a crate for one test.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn bad_images_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("scam.png");
    render(SCAM, Layout::Plain, &png);
    let bytes = std::fs::read(&png).expect("bytes");
    let refused = |bytes: &[u8], says: &str| {
        let path = dir.path().join("bad");
        std::fs::write(&path, bytes).expect("write");
        let out = redflag().args(["check", "--no-history"]).arg(&path).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "expected {says:?} in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    refused(&bytes[..bytes.len() / 3], "damaged");
    refused(b"GIF89a\x01\x00\x01\x00", "PNG or JPEG");
    // A header that claims 30,000 × 30,000 pixels is refused before any pixel is decoded.
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(400, 300, image::Luma([255])).save(&blank).expect("blank");
    let mut huge = std::fs::read(&blank).expect("bytes");
    huge[16..24].copy_from_slice(&[0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30]);
    // The IHDR chunk's CRC (over its type and data), so the header is valid and only its size is wrong.
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    refused(&huge, "pixels");
    refused(&std::fs::read(&blank).expect("bytes"), "no text was found");
}
