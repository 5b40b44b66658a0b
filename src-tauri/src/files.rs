//! Turning an opened or dropped file into the text Redflag checks. Each format goes to a crate made for it (mail
//! for .eml, pdf-extract for .pdf); .txt and .html are handed to the core as they are, because the core's
//! normaliser already recognises HTML and turns it into text. Nothing here judges the content.

use crate::error::{Error, Result};

/// Larger files are not postings (the page refuses them before sending, at the same size); refusing them early keeps a stray video from freezing the window.
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

/// The text to check in `bytes`, a file called `name`.
pub fn extract(name: &str, bytes: &[u8]) -> Result<String> {
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
        "pdf" => pdf(bytes)?,
        other => return Err(Error::UnsupportedFile(format!(".{other}"))),
    };
    if text.trim().is_empty() {
        return Err(Error::Extract(format!(
            "{name} holds no text Redflag can read (a scanned PDF is only pictures): copy the text and paste it"
        )));
    }
    Ok(text)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_html_pass_through() {
        assert_eq!(extract("a.txt", b"\xEF\xBB\xBFhello").expect("text"), "hello");
        assert!(extract("a.HTML", b"<p>Earn $500</p>").expect("html").contains("<p>"));
    }

    #[test]
    fn email_keeps_sender_subject_and_body() {
        let eml = b"From: HR Team <hr.amazon.jobs@gmail.com>\r\nSubject: URGENT hiring\r\n\
                    Content-Type: text/plain\r\n\r\nPay the $50 training fee today.\r\n";
        let text = extract("offer.eml", eml).expect("an e-mail");
        assert!(text.contains("From: HR Team <hr.amazon.jobs@gmail.com>"), "{text}");
        assert!(text.contains("Subject: URGENT hiring"));
        assert!(text.contains("training fee"));
    }

    /// A one-page PDF with `text` in Helvetica, with a correct cross-reference table.
    fn pdf_with(text: &str) -> Vec<u8> {
        let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        ];
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        let trailer = format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
        pdf.extend_from_slice(trailer.as_bytes());
        pdf
    }

    #[test]
    fn pdf_text_is_extracted() {
        let text = extract("offer.pdf", &pdf_with("Pay the training fee of 50 USDT today")).expect("a PDF");
        assert!(text.contains("training fee of 50 USDT"), "{text:?}");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = extract("cv.docx", b"PK\x03\x04").expect_err("unsupported");
        assert_eq!(e.kind(), "unsupported_file");
        assert_eq!(extract("a.txt", b"").expect_err("empty").kind(), "input");
        assert_eq!(extract("a.pdf", b"%PDF-1.4 garbage").expect_err("broken pdf").kind(), "extract");
    }
}
