//! Checking text: typed or pasted, from a file (a screenshot, a photo or a scanned PDF read with the core's OCR), or
//! from the clipboard. The verdict comes back at once; saving it in the history (redacted) happens on the same blocking
//! task so the page never waits twice.

use std::sync::Arc;

use redflag::check::{CheckFor, Checker};
use redflag::{Analysis, Input};
use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use super::blocking;
use crate::error::{Error, Result};
use crate::files;
use crate::state::{Check, Desktop};

/// Analyse `text`; `save` records it in the history (the page sends it on paste, drop, open and typing pauses).
#[tauri::command]
pub async fn analyze_text(state: State<'_, Desktop>, text: String, save: bool) -> Result<Check> {
    check(&state, text, save).await
}

/// Analyse a file the person opened or dropped. The page sends the bytes as the raw request body (no JSON
/// round-trip for a PDF) and the file name, percent-encoded, in the `x-file-name` header.
#[tauri::command]
pub async fn analyze_file(state: State<'_, Desktop>, request: Request<'_>) -> Result<Check> {
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
        .unwrap_or_else(|| "the file".into());
    let bytes = match request.body() {
        InvokeBody::Raw(bytes) => bytes.clone(),
        InvokeBody::Json(_) => return Err(Error::Input("send the file's bytes as the request body".into())),
    };
    // Screenshots and photos are known by their bytes, like the CLI knows them, whatever the file is called.
    if redflag::ocr::sniff(&bytes).is_some() {
        return check_image(&state, bytes).await;
    }
    let text = match blocking(move || files::extract(&name, &bytes)).await? {
        files::Content::Text(text) => text,
        files::Content::Scans(pages) => blocking(move || read_scans(&pages)).await?,
    };
    check(&state, text, true).await
}

/// The text of a scanned PDF's pages, read with the core's OCR and joined page by page; pages without readable
/// text are skipped, and a scan with none is a clear error.
fn read_scans(pages: &[Vec<u8>]) -> Result<String> {
    let texts: Vec<String> = pages
        .iter()
        .filter_map(|page| redflag::ocr::read(&redflag::ocr::Tesseract, page).ok())
        .map(|page| page.text)
        .collect();
    if texts.is_empty() {
        return Err(Error::Extract(
            "this PDF is a scan, and no text could be read on its pages: copy the text and paste it, or take a \
             sharper scan"
                .into(),
        ));
    }
    Ok(texts.join("\n\n"))
}

/// An image (a screenshot or a photo of a posting or chat): its text is read on this machine, with the core's OCR,
/// and checked like the same words typed; the evidence also gets boxes in the image (`analysis.input` says it was
/// an image and its size). Saved to the history like an opened file, once per image.
async fn check_image(state: &Desktop, bytes: Vec<u8>) -> Result<Check> {
    let hash = redflag::hash::sha256_hex_bytes(&bytes);
    checked(state, hash, true, move |checker| {
        redflag::ocr::analyze_image(&redflag::ocr::Tesseract, &bytes, |input| checker.analyze(input)).map(|(a, _)| a)
    })
    .await
}

/// What the clipboard held.
enum Clip {
    Text(String),
    /// A picture (a screenshot copied), encoded as PNG for the OCR.
    Image(Vec<u8>),
}

/// Analyse what is on the clipboard (the Ctrl+Shift+V shortcut): its text, or else its picture, which is read like
/// an opened screenshot and sent back for the page to show with its boxes.
#[tauri::command]
pub async fn analyze_clipboard(state: State<'_, Desktop>) -> Result<Check> {
    let clip = blocking(|| {
        let mut clipboard = arboard::Clipboard::new()
            .map_err(|e| Error::Input(format!("the clipboard cannot be read ({e}); paste the text instead")))?;
        if let Ok(text) = clipboard.get_text()
            && !text.trim().is_empty()
        {
            return Ok(Clip::Text(text));
        }
        let picture = clipboard.get_image().map_err(|e| match e {
            arboard::Error::ContentNotAvailable => Error::Input(
                "the clipboard holds no text or picture: copy the posting, message or screenshot first".into(),
            ),
            // A very large picture can fail to come through X11's clipboard; the page's own paste takes it.
            _ => Error::Input(
                "the picture on the clipboard could not be read: paste it into the text box with Ctrl+V, or save it \
                 and open the file"
                    .into(),
            ),
        })?;
        png(picture).map(Clip::Image)
    })
    .await?;
    match clip {
        Clip::Text(text) => check(&state, text, true).await,
        Clip::Image(bytes) => {
            use base64::Engine as _;
            let url = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes));
            let mut checked = check_image(&state, bytes).await?;
            checked.image = Some(url);
            Ok(checked)
        }
    }
}

/// The clipboard's picture (RGBA pixels) as a PNG file, the form the OCR reads. Fast compression: the file lives
/// for one check, and a phone screenshot's 10 MB of pixels compress in a fraction of the default level's time.
fn png(picture: arboard::ImageData<'_>) -> Result<Vec<u8>> {
    use image::ImageEncoder as _;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let (width, height) = (picture.width as u32, picture.height as u32);
    if picture.bytes.len() != picture.width * picture.height * 4 {
        return Err(Error::Input("the picture on the clipboard is damaged: save it as a file and open it".into()));
    }
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)
        .write_image(&picture.bytes, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| Error::Input(format!("the picture on the clipboard cannot be read ({e}): save it and open it")))?;
    Ok(out)
}

async fn check(state: &Desktop, text: String, save: bool) -> Result<Check> {
    if text.trim().is_empty() {
        return Err(Error::Input("there is nothing to check: paste a job posting or a recruiter's message".into()));
    }
    let hash = redflag::hash::sha256_hex(&text);
    checked(state, hash, save, move |checker| checker.analyze(&Input::text(text))).await
}

/// Run `analyse` on the blocking pool and, if `save` is asked, record the result in the history on the same task.
/// The input saved last (known by `hash`) keeps its row: a live check of it, or a repeat, is not saved again, but
/// "Ask AI" on it still replaces that row.
async fn checked(
    state: &Desktop,
    hash: String,
    save: bool,
    analyse: impl FnOnce(&Checker) -> redflag::Result<Analysis> + Send + 'static,
) -> Result<Check> {
    let loaded = state.loaded();
    let checker = Arc::clone(&loaded.checker);
    let known = state.saved_row(&hash);
    let save = save && loaded.config.history_enabled && known.is_none() && state.claim_save(&hash);
    let result = blocking(move || {
        let started = std::time::Instant::now();
        let analysis = analyse(&checker)?;
        let analysed = started.elapsed();
        let recorded = if save { checker.record(&analysis, CheckFor { channel: "desktop", user: None }) } else { None };
        tracing::debug!(?analysed, saved = ?started.elapsed() - analysed, "checked");
        Ok((analysis, recorded))
    })
    .await;
    if save {
        state.saved(&hash, result.as_ref().ok().and_then(|(_, id)| *id));
    }
    let (analysis, recorded) = result?;
    Ok(state.remember(analysis, hash, recorded.or(known)))
}
