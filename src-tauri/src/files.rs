//! Turning an opened or dropped file into the text Redflag checks. Each format goes to a crate made for it (mail
//! for .eml, pdf-extract for .pdf); .txt and .html are handed to the core as they are, because the core's
//! normaliser already recognises HTML and turns it into text. A PDF without text (a scan) gives its pages'
//! pictures instead, which the caller reads with the core's OCR. Nothing here judges the content.

use crate::error::{Error, Result};

/// Larger files are not postings (the page refuses them before sending, at the same size); refusing them early keeps a stray video from freezing the window.
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

/// The most pages of a scanned PDF that are read: each takes a second or so of OCR, and a posting or letter that
/// needs more than this is rare.
pub const MAX_SCANNED_PAGES: usize = 10;

/// What a file holds to check.
#[derive(Debug)]
pub enum Content {
    Text(String),
    /// A scanned PDF: its pages' pictures (JPEG, as scanners and phone scanning apps write them), in page order.
    Scans(Vec<Vec<u8>>),
}

/// The text to check in `bytes`, a file called `name`, or the pictures to read it from.
pub fn extract(name: &str, bytes: &[u8]) -> Result<Content> {
    if bytes.is_empty() {
        return Err(Error::Input(format!("{name} is empty: open the file that holds the posting or message")));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::Input(format!(
            "{name} is {} MB, too large for a posting or message: copy the part to check and paste it",
            bytes.len() / (1024 * 1024)
        )));
    }
    let text = match extension(name).as_str() {
        "txt" | "text" | "md" | "" => decode(bytes),
        "html" | "htm" => decode(bytes),
        "eml" => email(bytes)?,
        "pdf" => {
            let text = pdf(bytes)?;
            if text.trim().is_empty() {
                let scans = scanned_pages(bytes);
                if !scans.is_empty() {
                    return Ok(Content::Scans(scans));
                }
            }
            text
        }
        other => return Err(Error::UnsupportedFile(format!(".{other}"))),
    };
    if text.trim().is_empty() {
        return Err(Error::Extract(format!(
            "{name} holds no text Redflag can read (and no scanned page it can read either): copy the text and \
             paste it"
        )));
    }
    Ok(Content::Text(text))
}

/// The JPEG pictures of a PDF's pages (`DCTDecode` image streams), first `MAX_SCANNED_PAGES` pages, one picture
/// per page at most (the largest: a scan is one page-sized picture, sometimes beside a small logo). Other image
/// encodings are skipped: they need a PDF renderer, which the app does not carry.
fn scanned_pages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let Ok(doc) = lopdf::Document::load_mem(bytes) else { return Vec::new() };
    let mut pages = Vec::new();
    for (_, page) in doc.get_pages().into_iter().take(MAX_SCANNED_PAGES) {
        let images = doc.get_page_images(page).unwrap_or_default();
        let largest = images
            .iter()
            .filter(|i| i.filters.as_ref().is_some_and(|f| f.len() == 1 && f[0] == "DCTDecode"))
            .max_by_key(|i| i.width.saturating_mul(i.height));
        if let Some(image) = largest {
            pages.push(image.content.to_vec());
        }
    }
    pages
}

fn extension(name: &str) -> String {
    std::path::Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase()
}

/// UTF-8 as it is; anything else read lossily, as the CLI does (a Windows-1252 e-mail is still worth checking).
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// The subject, the sender and the body of an e-mail: the sender's address and the subject carry red flags of
/// their own (a free-mail "HR department", "URGENT hiring").
fn email(bytes: &[u8]) -> Result<String> {
    let message = mail_parser::MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| Error::Extract("this .eml file is not an e-mail Redflag can read: paste its text".into()))?;
    let mut out = String::new();
    if let Some(from) = message.from().and_then(|a| a.first()) {
        let name = from.name().unwrap_or_default();
        let address = from.address().unwrap_or_default();
        out.push_str(&format!("From: {name} <{address}>\n").replace(" <>", ""));
    }
    if let Some(subject) = message.subject() {
        out.push_str(&format!("Subject: {subject}\n"));
    }
    out.push('\n');
    // Prefer the plain-text part; an HTML-only message is converted by the core's normaliser when pasted, but here
    // it is mixed with headers, so it is turned into text now.
    if let Some(body) = message.body_text(0) {
        out.push_str(&body);
    } else if let Some(html) = message.body_html(0) {
        out.push_str(&html2text::from_read(html.as_bytes(), 100).unwrap_or_else(|_| html.into_owned()));
    }
    Ok(out)
}

fn pdf(bytes: &[u8]) -> Result<String> {
    // pdf-extract can panic on malformed fonts; a bad file must not take the app down.
    let bytes = bytes.to_vec();
    std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem(&bytes))
        .map_err(|_| Error::Extract("this PDF could not be read: copy its text and paste it".into()))?
        .map_err(|e| Error::Extract(format!("this PDF could not be read ({e}): copy its text and paste it")))
}

// The tests' PDF writer, shared with tests/commands.rs.
#[cfg(test)]
#[path = "../tests/common/pdf.rs"]
mod test_pdf;

#[cfg(test)]
mod tests {
    use super::*;

    fn text(content: Result<Content>) -> String {
        match content.expect("readable") {
            Content::Text(text) => text,
            Content::Scans(_) => panic!("text, not scans"),
        }
    }

    #[test]
    fn text_and_html_pass_through() {
        assert_eq!(text(extract("a.txt", b"\xEF\xBB\xBFhello")), "hello");
        assert!(text(extract("a.HTML", b"<p>Earn $500</p>")).contains("<p>"));
    }

    #[test]
    fn email_keeps_sender_subject_and_body() {
        let eml = b"From: HR Team <hr.amazon.jobs@gmail.com>\r\nSubject: URGENT hiring\r\n\
                    Content-Type: text/plain\r\n\r\nPay the $50 training fee today.\r\n";
        let text = text(extract("offer.eml", eml));
        assert!(text.contains("From: HR Team <hr.amazon.jobs@gmail.com>"), "{text}");
        assert!(text.contains("Subject: URGENT hiring"));
        assert!(text.contains("training fee"));
    }

    /// A one-page PDF with `text` in Helvetica.
    fn pdf_with(text: &str) -> Vec<u8> {
        let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        super::test_pdf::pdf(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
              /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_vec(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        ])
    }

    #[test]
    fn pdf_text_is_extracted() {
        let text = text(extract("offer.pdf", &pdf_with("Pay the training fee of 50 USDT today")));
        assert!(text.contains("training fee of 50 USDT"), "{text:?}");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = extract("cv.docx", b"PK\x03\x04").expect_err("unsupported");
        assert_eq!(e.kind(), "unsupported_file");
        assert_eq!(extract("a.txt", b"").expect_err("empty").kind(), "input");
        assert_eq!(extract("a.pdf", b"%PDF-1.4 garbage").expect_err("broken pdf").kind(), "extract");
        // A PDF with neither text nor a scanned page.
        let e = extract("blank.pdf", &pdf_with("")).expect_err("nothing to read");
        assert!(e.to_string().contains("no scanned page"), "{e}");
    }
}
