//! The HTTP surface: `app(state)` builds the router with its layers, separate from [`crate::server`] so tests can
//! drive it in-process with `oneshot` as well as through the real binary.
//!
//! Layers, outermost first: a request id (`x-request-id`: a caller's UUID is kept, anything else replaced by a new
//! one, echoed back), a tracing span per
//! request keyed on the route and the id (never the body or the sender), a timeout, a body size limit, and
//! security headers. CORS applies to the API route only: webhooks are server-to-server.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::hub::HubState;
use crate::queue::BridgeStore;
use crate::routes;
use crate::settings::Settings;
use crate::worker::Shared;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The base URL Twilio signs: the configured public URL, or in development this server's own address.
    pub public_url: Arc<str>,
    /// The token webhook signatures are checked with (see [`Settings::signing_token`]).
    pub shared: Arc<Shared>,
    pub limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub metrics: Option<PrometheusHandle>,
    /// The hub's store and key, for paired devices' sync.
    pub hub: HubState,
}

impl AppState {
    pub fn new(
        settings: Arc<Settings>,
        public_url: &str,
        shared: Arc<Shared>,
        metrics: Option<PrometheusHandle>,
        hub: HubState,
    ) -> Self {
        let per_minute =
            std::num::NonZeroU32::new(settings.limits.rate_per_minute).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(settings.limits.rate_burst).unwrap_or(std::num::NonZeroU32::MIN);
        let limiter = Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)));
        AppState { settings, public_url: public_url.trim_end_matches('/').into(), shared, limiter, metrics, hub }
    }

    pub fn hub(&self) -> &HubState {
        &self.hub
    }

    pub fn store(&self) -> &Arc<dyn BridgeStore> {
        &self.shared.store
    }

    /// One more message from `key`; false when over the per-sender rate.
    pub fn allow(&self, key: &str) -> bool {
        self.limiter.check_key(&key.to_string()).is_ok()
    }
}

pub fn app(state: AppState) -> Router {
    let settings = Arc::clone(&state.settings);
    let cors = cors(&settings.api.cors_origins);
    let api = Router::new().route("/v1/analyze", post(routes::api::analyze)).layer(cors);
    Router::new()
        .route("/webhooks/twilio", post(routes::twilio::inbound))
        .route("/webhooks/twilio/status", post(routes::twilio::status))
        .route("/webhooks/telegram", post(routes::telegram::update))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::health::metrics))
        // The hub's feed for paired devices.
        .route("/v1/sync/key", get(routes::sync::key))
        .route("/v1/sync/indicators", get(routes::sync::indicators))
        .route("/v1/sync/bundle", get(routes::sync::bundle))
        .route("/v1/sync/reports", post(routes::sync::report))
        // The operator console (routes::admin): pages, then the JSON calls they make.
        .route("/admin", get(routes::admin::index))
        .route("/admin/login", get(routes::admin::login_page))
        .route("/admin/static/{file}", get(routes::admin::file))
        .route("/admin/api/login", post(routes::admin::login))
        .route("/admin/api/logout", post(routes::admin::logout))
        .route("/admin/api/me", get(routes::admin::me))
        .route("/admin/api/overview", get(routes::admin::overview))
        .route("/admin/api/review", get(routes::admin::review))
        .route("/admin/api/jobs/{id}", get(routes::admin::job))
        .route("/admin/api/jobs/settle", post(routes::admin::settle))
        .route("/admin/api/jobs/reply", post(routes::admin::reply))
        .route("/admin/api/users/export", post(routes::admin::user_export))
        .route("/admin/api/users/erase", post(routes::admin::user_erase))
        .route("/admin/api/keys", get(routes::admin::keys))
        .route("/admin/api/keys/create", post(routes::admin::key_create))
        .route("/admin/api/keys/revoke", post(routes::admin::key_revoke))
        .route("/admin/api/devices", get(routes::admin::devices))
        .route("/admin/api/devices/pair", post(routes::admin::device_pair))
        .route("/admin/api/devices/revoke", post(routes::admin::device_revoke))
        .route("/admin/api/audit", get(routes::admin::audit))
        // The web channel: the desktop app's page, calling /v1/analyze from the same origin.
        .route("/", get(routes::web::index))
        // Any other method on a one-segment path is an unknown route (404), as it was before the page existed.
        .route("/{file}", get(routes::web::file).fallback(routes::not_found))
        .merge(api)
        .fallback(routes::not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                // A caller's id is kept only when it is a UUID: anything else (a 60 KB string, a forged log line)
                // is dropped and a fresh one made, so logs and responses carry only ids of one shape.
                .layer(tower::util::MapRequestLayer::new(drop_foreign_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only (routes have no parameters): queries and bodies may carry personal data.
                    tracing::info_span!("request", method = %req.method(), route = %req.uri().path(), request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(RequestBodyLimitLayer::new(settings.limits.max_body_bytes))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout()))
                .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
                .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
                .layer(header_layer(header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
                .layer(header_layer(header::CACHE_CONTROL, "no-store")),
        )
}

fn drop_foreign_request_id<B>(mut req: Request<B>) -> Request<B> {
    let uuid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| uuid::Uuid::parse_str(v).is_ok());
    if !uuid {
        req.headers_mut().remove("x-request-id");
    }
    req
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}
