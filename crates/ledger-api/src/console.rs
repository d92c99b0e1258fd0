//! The auditors' console: a single-page application at `/console/`, its
//! files compiled into the binary (no CDN, nothing fetched from anywhere
//! but this server), served under a strict Content-Security-Policy. The
//! page talks to the API with the bearer token the user signs in with,
//! kept in the tab's session storage; it never puts an IIN in a URL (it
//! reads accounts with the `POST /v1/accounts/…` routes).

use axum::extract::rejection::PathRejection;
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The console's files: name, media type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/i18n.js"),
    ),
    (
        "format.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/format.js"),
    ),
    (
        "tlog.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/tlog.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/chart.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../console/favicon.svg"),
    ),
];

/// Only this server's own scripts, styles, images and API; no inline
/// script or style, no frames, no forms posted anywhere, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'none'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, merged into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(|| async { asset("index.html") }))
        .route(
            "/console/{file}",
            // A name that does not even decode is no file of ours either.
            get(|file: Result<UrlPath<String>, PathRejection>| async move {
                asset(file.map(|UrlPath(f)| f).as_deref().unwrap_or(""))
            }),
        )
}

fn asset(name: &str) -> Response {
    let Some((_, media_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        // As every error of the server: JSON.
        let known: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
        let message = format!(
            "no such file of the console: {} (it has {})",
            ledger_proto::convert::bounded(name, 64),
            known.join(", ")
        );
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": {"code": "not_found", "message": message}})),
        )
            .into_response();
    };
    let mut r = (StatusCode::OK, *body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Small, and they change with the binary: always revalidated.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the page loads is one the server has: a file named in
    /// `index.html` or imported by a script but missing from [`ASSETS`]
    /// would be a broken console.
    #[test]
    fn every_file_the_console_names_is_served() {
        let names: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
        for (name, _, body) in ASSETS {
            for quote in ['"', '\''] {
                for piece in body.split(quote) {
                    let p = piece.trim_start_matches("./");
                    let local = !p.contains('/') && !p.contains(' ');
                    let asset = [".js", ".css", ".svg"].iter().any(|e| p.ends_with(e));
                    if local && asset {
                        assert!(names.contains(&p), "{name} names {p}, which is not served");
                    }
                }
            }
        }
    }

    /// No script or style outside the files: the policy forbids inline
    /// ones, so the page would break rather than run them.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = ASSETS[0].2;
        assert!(!html.contains("<style"), "inline style element");
        assert!(!html.contains(" style="), "inline style attribute");
        for tag in html.split("<script").skip(1) {
            assert!(tag.contains("src="), "inline script: <script{tag}");
        }
        // An inline event handler: ` onclick=` and the like.
        for (i, _) in html.match_indices(" on") {
            let name: String = html[i + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            let rest = &html[i + 3 + name.len()..];
            assert!(
                !(name.len() > 2 && rest.starts_with('=')),
                "an inline handler on{name}"
            );
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "an external URL"
        );
    }
}
