//! The web channel: the desktop app's page (`ui/`), served by the bridge so a browser can check a message through
//! `POST /v1/analyze` with an operator-issued API key. The files are compiled into the binary (one binary to deploy,
//! and the page always matches the API it calls); only these names are served, so nothing else on disk is reachable.
//! The page's own CSP replaces the API's `default-src 'none'`: its scripts, styles and calls stay on this origin.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the page loads: name, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../ui/index.html")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../../ui/style.css")),
    ("api.js", JS, include_str!("../../../ui/api.js")),
    ("app.js", JS, include_str!("../../../ui/app.js")),
    ("ai.js", JS, include_str!("../../../ui/ai.js")),
    ("history.js", JS, include_str!("../../../ui/history.js")),
    ("render.js", JS, include_str!("../../../ui/render.js")),
    ("settings.js", JS, include_str!("../../../ui/settings.js")),
    ("report.js", JS, include_str!("../../../ui/report.js")),
    ("spans.js", JS, include_str!("../../../ui/spans.js")),
];

pub async fn index() -> Response {
    serve("index.html")
}

pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
                // The files change only with the binary; a short cache keeps an upgrade visible.
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            ],
            *body,
        )
            .into_response(),
        None => super::AppError::NotFound("no such page; the web channel is at /").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_module_the_page_imports_is_served() {
        // A module added to ui/ but not to FILES would break the web channel only; this catches it.
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../ui")).expect("ui/ exists") {
            let name = entry.expect("an entry").file_name().into_string().expect("a UTF-8 name");
            assert!(super::FILES.iter().any(|(n, _, _)| *n == name), "ui/{name} is not served by the bridge");
        }
    }
}
