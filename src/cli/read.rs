//! Reading what the person points at: a file or standard input, bounded in memory, with clear refusals for binary
//! files and a lossy-but-noted reading of text that is not valid UTF-8 (a Windows-1252 e-mail is still worth
//! checking). PNG, JPEG and WebP images are recognised by their bytes and read whole (up to
//! [`redflag::ocr::MAX_IMAGE_BYTES`]) for OCR.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use redflag::Input;
use redflag::normalize::{MAX_RAW_BYTES, human_bytes};

#[derive(Debug)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn from_arg(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            Some(p) if p != Path::new("-") => Ok(Source::File(p.to_path_buf())),
            _ if io::stdin().is_terminal() => bail!(
                "no input: give a file to check (redflag check posting.txt), or pipe text in \
                 (pbpaste | redflag check -)"
            ),
            _ => Ok(Source::Stdin),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "standard input".into(),
            Source::File(p) => p.display().to_string(),
        }
    }

    pub fn open(&self) -> anyhow::Result<Box<dyn BufRead>> {
        Ok(match self {
            Source::Stdin => Box::new(BufReader::new(io::stdin())),
            Source::File(p) => {
                if p.is_dir() {
                    bail!("{} is a directory; give a file", p.display());
                }
                Box::new(BufReader::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?))
            }
        })
    }
}

/// One input read for `redflag check`, with notes about how it was read.
#[derive(Debug)]
pub enum ReadInput {
    Text {
        input: Input,
        notes: Vec<String>,
    },
    /// An image's bytes, for OCR.
    Image(Vec<u8>),
}

pub fn read_input(source: Source) -> anyhow::Result<ReadInput> {
    let name = source.name();
    let mut reader = source.open()?;
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(MAX_RAW_BYTES as u64)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))?;
    if redflag::ocr::sniff(&bytes).is_some() {
        // An image is read whole, up to its own limit; the decoder refuses anything bigger with what to do.
        let limit = (redflag::ocr::MAX_IMAGE_BYTES + 1 - bytes.len()) as u64;
        reader.take(limit).read_to_end(&mut bytes).with_context(|| format!("cannot read {name}"))?;
        return Ok(ReadInput::Image(bytes));
    }
    // Count what is left without keeping it, so a 50 MB input costs 4 MB of memory.
    let rest = io::copy(&mut reader, &mut io::sink()).with_context(|| format!("cannot read {name}"))?;
    let mut notes = Vec::new();
    if rest > 0 {
        notes.push(format!(
            "the input is {}; only the first {} were read",
            human_bytes(bytes.len() + usize::try_from(rest).unwrap_or(usize::MAX)),
            human_bytes(bytes.len())
        ));
    }
    if let Some(what) = binary_kind(&bytes) {
        return Err(redflag::Error::BinaryInput { what: what.to_string() }).with_context(|| format!("reading {name}"));
    }
    let text = decode(bytes, rest > 0, &mut notes);
    let input = parse_document(text)?;
    Ok(ReadInput::Text { input, notes })
}

/// Text or a JSON record (`{"text": ...}` or posting fields). Anything that is not a JSON object is text.
fn parse_document(text: String) -> anyhow::Result<Input> {
    if text.trim_start().starts_with('{') {
        if let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_str(&text) {
            let (input, _warnings) = Input::from_json(value)?;
            return Ok(input);
        }
    }
    Ok(Input::Text(text))
}

/// A short description of a binary format, or `None` for text. Like git and ripgrep, a NUL byte in the first few
/// kilobytes means binary; a few formats people are likely to try get a more helpful name.
pub fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(8192)];
    if head.starts_with(b"%PDF") {
        return Some("a PDF; copy its text, or use the desktop app which reads PDFs");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("a ZIP or Office document; save it as plain text");
    }
    if head.starts_with(b"GIF8") || head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Some("a GIF or TIFF image; save it as PNG or JPEG, which Redflag reads");
    }
    if redflag::ocr::sniff(head).is_some() {
        return Some("an image; check it on its own with `redflag check IMAGE`, not in a batch");
    }
    head.contains(&0).then_some("it contains NUL bytes")
}

/// UTF-8 as is; anything else decoded lossily with a note. A multi-byte character cut by the read limit is not an
/// encoding error.
pub fn decode(bytes: Vec<u8>, truncated: bool, notes: &mut Vec<String>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let utf8 = e.utf8_error();
            let mut bytes = e.into_bytes();
            if truncated && utf8.error_len().is_none() {
                bytes.truncate(utf8.valid_up_to());
                return String::from_utf8(bytes).unwrap_or_default();
            }
            let decoded = String::from_utf8_lossy(&bytes).into_owned();
            let replaced = decoded.matches('\u{FFFD}').count();
            notes.push(format!(
                "the input is not valid UTF-8 (first bad byte at offset {}); {replaced} unreadable characters were \
                 replaced. Save it as UTF-8 for a better reading",
                utf8.valid_up_to()
            ));
            decoded
        }
    }
}
