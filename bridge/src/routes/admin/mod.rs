//! The operator console (`/admin`): static pages compiled into the binary (`bridge/console/`, no bundler, the
//! style of `ui/`) and the JSON calls they make under `/admin/api/`. Accounts, roles and lockout are
//! [`crate::admin`]'s; the actions are the same use cases the command line calls ([`crate::review`],
//! [`crate::privacy`], API keys), recorded in the audit log under `admin:NAME`.
//!
//! Sessions: an HttpOnly, Secure, SameSite=Strict cookie scoped to `/admin`; every POST but the login also needs
//! the session's CSRF token in `X-CSRF-Token` (a cross-site form can neither read it nor set the header). Without a
//! session, `/admin` redirects to the login page and every API call answers 401: no data is ever shown.

mod access;
mod review;
mod users;
mod watch;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::admin::{self, Login, Role};
use crate::app::AppState;
use crate::queue::AdminSession;
use crate::tasks::{blocking, now_ms};

pub use access::{device_pair, device_revoke, devices, key_create, key_revoke, keys};
pub use review::{job, reply, review, settle};
pub use users::{user_erase, user_export};
pub use watch::{audit, overview};

const COOKIE: &str = "redflag_admin";
const CSRF_HEADER: &str = "x-csrf-token";

const JS: &str = "text/javascript; charset=utf-8";
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../console/index.html")),
    ("login.html", "text/html; charset=utf-8", include_str!("../../../console/login.html")),
    ("console.css", "text/css; charset=utf-8", include_str!("../../../console/console.css")),
    ("console.js", JS, include_str!("../../../console/console.js")),
    ("login.js", JS, include_str!("../../../console/login.js")),
];

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::web::CSP)),
            ],
            *body,
        )
            .into_response(),
        None => AppError::NotFound("no such page; the console is at /admin").into_response(),
    }
}

/// `GET /admin`: the console for a session, else the login page.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    Ok(match current(&state, &headers).await? {
        Some(_) => serve("index.html"),
        None => Redirect::to("/admin/login").into_response(),
    })
}

pub async fn login_page() -> Response {
    serve("login.html")
}

pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// What a console session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Look at what any console user may see.
    View,
    /// Read a person's data (a message, an export): operators, audited by the use case.
    Personal,
    /// Change something: operators, with the CSRF token.
    Change,
}

/// The session cookie's token, if the request has one.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<(String, AdminSession)>, AppError> {
    let Some(token) = token(headers) else {
        return Ok(None);
    };
    let store = Arc::clone(state.store());
    let found = db(move || admin::session(&*store, &token, now_ms()).map(|s| s.map(|s| (token, s)))).await?;
    Ok(found)
}

/// The session a request acts under, checked for `need`.
pub(super) async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    need: Need,
) -> Result<(String, AdminSession), AppError> {
    let (token, session) = current(state, headers)
        .await?
        .ok_or(AppError::Unauthorized("log in first: the console's session is missing or has expired"))?;
    if need != Need::View && Role::parse(&session.role) != Some(Role::Operator) {
        return Err(AppError::Forbidden("your role (viewer) can look but not read messages or change anything"));
    }
    if need == Need::Change {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !admin::same(sent, &session.csrf) {
            return Err(AppError::Forbidden("missing or wrong X-CSRF-Token; reload the console"));
        }
    }
    Ok((token, session))
}

/// Run a store call on the blocking pool; its failure is ours (503), never the caller's.
pub(super) async fn db<T: Send + 'static, E: Into<anyhow::Error> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, AppError> {
    blocking(f).await.and_then(|r| r.map_err(Into::into)).map_err(AppError::Unavailable)
}

fn cookie(value: &str, max_age_secs: i64) -> HeaderValue {
    let text = format!("{COOKIE}={value}; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("redflag_admin=; Path=/admin; Max-Age=0"))
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct Me {
    admin: String,
    role: String,
    csrf: String,
    expires_at_ms: i64,
}

impl From<AdminSession> for Me {
    fn from(s: AdminSession) -> Self {
        Me { admin: s.admin, role: s.role, csrf: s.csrf, expires_at_ms: s.expires_at_ms }
    }
}

/// `POST /admin/api/login` with `{"name", "password"}`: sets the session cookie and answers the session.
pub async fn login(State(state): State<AppState>, Json(c): Json<Credentials>) -> Result<Response, AppError> {
    if c.name.len() > 256 || c.password.len() > 256 {
        return Err(AppError::BadRequest("the name or password is longer than any this console issues".into()));
    }
    let store = Arc::clone(state.store());
    let name = c.name.trim().to_string();
    match db(move || admin::login(&*store, &name, &c.password, now_ms())).await? {
        Login::In { token, session } => {
            let mut response = Json(Me::from(session)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie(&token, admin::SESSION_MS / 1000));
            Ok(response)
        }
        Login::Refused => Err(AppError::Unauthorized("wrong name or password")),
        Login::Locked { until_ms } => {
            let minutes = ((until_ms - now_ms()).max(0) + 59_999) / 60_000;
            let text = format!(
                "too many failed logins: this account is locked for {minutes} more minute(s); an operator can run \
                 `redflag-bridge admins reset NAME` for a new password\n"
            );
            Ok((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, (minutes * 60).to_string())], text)
                .into_response())
        }
    }
}

/// `POST /admin/api/logout`: the session ends here and in the browser.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let (token, session) = authorize(&state, &headers, Need::View).await?;
    let store = Arc::clone(state.store());
    db(move || admin::logout(&*store, &token, &session.admin, now_ms())).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie("", 0));
    Ok(response)
}

/// `GET /admin/api/me`: who is logged in, and the CSRF token the page sends back.
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, AppError> {
    Ok(Json(authorize(&state, &headers, Need::View).await?.1.into()))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn every_file_of_the_console_is_served() {
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/console")).expect("console/ exists") {
            let name = entry.expect("an entry").file_name().into_string().expect("a UTF-8 name");
            assert!(super::FILES.iter().any(|(n, _, _)| *n == name), "console/{name} is not served by the bridge");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_nothing_else_is_taken_for_it() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; redflag_admin=abc123; other=1"));
        assert_eq!(super::token(&h).as_deref(), Some("abc123"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("xredflag_admin=abc; redflag_admin="));
        assert_eq!(super::token(&h), None);
        assert_eq!(super::token(&HeaderMap::new()), None);
    }
}
