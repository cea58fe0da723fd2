//! The web console: pages for the people who run the groups, served by the HTTP API's
//! listener under `/console/`. It lives here, inside `daemon::http`, because it is one more
//! adapter over the same handlers (a top-level `web` module would import `daemon` and be
//! imported by it: a cycle).
//!
//! - **Over the public API only.** Every page runs the API's own requests through
//!   [`call`](super::call) with the caller the API's authentication ([`Authed`]) makes of the
//!   session's token: what a page shows is what the API answers that token, no more. The
//!   scripts call the public routes themselves (the send preview,
//!   `POST /v1/groups/{group}/broadcasts/preview`; a broadcast's Server-Sent Events), which
//!   take the session cookie in place of the bearer header (`session.rs`).
//! - **Server-rendered.** Every page reads without JavaScript; the send form previews and
//!   confirms in two plain form posts. The script only adds the live preview as you type, the
//!   live counters of a broadcast, and reading a CSV file into the import form.
//! - **Embedded.** The stylesheet and the script are in the binary (`include_str!`); no CDN,
//!   no build step. A strict Content-Security-Policy (`'self'` only, no inline script or style).
//! - **Two languages** (`i18n.rs`), **accessible** (labels on every field, a skip link,
//!   visible focus, contrast of at least 4.5:1, tables with headers, live regions for what
//!   changes; the browser suite runs axe-core on every page), **responsive** down to a 360 px
//!   wide phone.
//! - **Nothing written without a look first.** The send form previews before it sends; the
//!   CSV import previews (the API's `dry_run`) before it writes, and its confirmation is
//!   checked against what was previewed. A change refused by the API is shown in its form,
//!   with what was typed, in the API's words.
//!
//! | file | owns |
//! | --- | --- |
//! | `mod.rs` | the routes, the signed-in [`Page`], the layout, HTML escaping |
//! | `session.rs` | sessions, cookies, CSRF tokens |
//! | `i18n.rs` | the languages and every text |
//! | `pages.rs` | one function per page |

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, SET_COOKIE,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::{ApiError, Authed};
use crate::daemon::Shared;
use crate::protocol::ErrorCode;
use crate::service::Caller;

pub mod i18n;
mod pages;
pub mod session;

use i18n::Lang;
use session::Sessions;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's routes. The sessions they share are an extension the whole router carries
/// ([`sessions_layer`]), so that the API's routes know them too.
pub fn router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    let import_limit = usize::try_from(shared.config.http.max_import_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(2);
    Router::new()
        .route("/console", get(|| async { redirect("/console/") }))
        .route("/console/", get(pages::overview))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route("/console/lang/{code}", get(pages::language))
        .route("/console/send", get(pages::send_form).post(pages::send))
        .route("/console/broadcasts", get(pages::broadcasts))
        .route("/console/broadcasts/{id}", get(pages::broadcast))
        .route("/console/inbox", get(pages::inbox))
        .route("/console/inbox/{id}", get(pages::inbox_message))
        .route("/console/inbox/{id}/read", post(pages::mark_read))
        .route(
            "/console/groups",
            get(pages::groups).post(pages::group_create),
        )
        .route(
            "/console/groups/{group}",
            get(pages::group).post(pages::group_edit),
        )
        .route("/console/groups/{group}/members", post(pages::member_add))
        .route(
            "/console/groups/{group}/members/{member}",
            get(pages::membership_form).post(pages::membership),
        )
        .route(
            "/console/import",
            get(pages::import_form)
                .post(pages::import)
                .layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
}

/// The session map, as an extension of every request.
pub fn sessions_layer() -> axum::Extension<Arc<Sessions>> {
    axum::Extension(Arc::new(Sessions::default()))
}

/// The sessions of the router a request came through.
pub fn sessions(parts: &Parts) -> Option<Arc<Sessions>> {
    parts.extensions.get::<Arc<Sessions>>().cloned()
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// A `303 See Other` to `to` (after a form, a reload does not post it again).
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// `to` when it is a console path, else the overview (no open redirect).
pub fn console_path(to: Option<&str>) -> String {
    match to {
        Some(t) if t.starts_with("/console/") && !t.contains("//") && !t.contains('\\') => {
            t.to_string()
        }
        _ => "/console/".to_string(),
    }
}

/// A signed-in request: who it is (as the API's authentication says), in which language, and
/// the session's CSRF token for its forms.
pub struct Page {
    pub caller: Caller,
    pub lang: Lang,
    pub csrf: String,
    /// The member the token acts as (`None` for a management token).
    pub me: Option<String>,
    /// The request's path, for the language link.
    pub path: String,
}

impl Page {
    pub fn admin(&self) -> bool {
        self.caller.admin
    }
}

impl FromRequestParts<Arc<Shared>> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::of(&parts.headers);
        let path = parts
            .uri
            .path_and_query()
            .map_or("/console/", |p| p.as_str())
            .to_string();
        let login = || redirect(&format!("/console/login?next={}", url_encode(&path)));
        let Some(sessions) = sessions(parts) else {
            return Err(login());
        };
        let Some(session) = sessions.get(&parts.headers, Instant::now()) else {
            return Err(login());
        };
        let bearer =
            HeaderValue::from_str(&format!("Bearer {}", session.token)).map_err(|_| login())?;
        parts.headers.insert(AUTHORIZATION, bearer);
        let caller = match Authed::from_request_parts(parts, shared).await {
            Ok(Authed(caller)) => caller,
            Err(e) if e.body.code == ErrorCode::Unauthorized => {
                sessions.close(&parts.headers);
                let mut r = pages::login_page(lang, Some(&e.body.message), &path, None);
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                return Err(r);
            }
            Err(e) => return Err(error_page(lang, &e)),
        };
        let me = if caller.admin {
            None
        } else {
            super::routes::acting_member(shared, caller, None)
                .await
                .ok()
        };
        Ok(Page {
            caller,
            lang,
            csrf: session.csrf,
            me,
            path,
        })
    }
}

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` percent-encoded for a URL's path segment or query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The headers every page carries: no caching, the content-security policy, no framing.
fn page_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

/// A whole page: head, the navigation (when signed in), `main`, the script.
pub fn html(
    lang: Lang,
    page: Option<&Page>,
    title: &str,
    active: &str,
    main: &str,
    status: StatusCode,
) -> Response {
    let t = |k| lang.t(k);
    let mut s = String::with_capacity(main.len() + 3000);
    s.push_str(&format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\">",
        lang.tag(),
        esc(title),
        t("app")
    ));
    if let Some(p) = page {
        s.push_str(&format!("<meta name=\"csrf\" content=\"{}\">", p.csrf));
    }
    s.push_str("</head><body>");
    s.push_str(&format!(
        "<a class=\"skip\" href=\"#main\">{}</a><header class=\"top\"><div class=\"bar\">\
         <span class=\"brand\">{}</span>",
        t("skip"),
        t("app")
    ));
    let here = page.map_or("/console/login", |p| p.path.as_str());
    s.push_str(&format!(
        "<a class=\"lang\" href=\"/console/lang/{}?back={}\" lang=\"{}\">{}</a>",
        lang.other().code(),
        url_encode(here),
        lang.other().tag(),
        t("switch_to")
    ));
    if let Some(p) = page {
        let who = match &p.me {
            Some(m) => esc(m),
            None => t("admin").to_string(),
        };
        s.push_str(&format!(
            "<span class=\"who\">{}: <strong>{who}</strong></span>\
             <form method=\"post\" action=\"/console/logout\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" class=\"link\">{}</button></form>",
            t("signed_in_as"),
            p.csrf,
            t("sign_out")
        ));
        s.push_str("</div><nav aria-label=\"main\"><ul>");
        let mut items = vec![
            ("overview", "/console/", "nav_overview"),
            ("send", "/console/send", "nav_send"),
            ("broadcasts", "/console/broadcasts", "nav_broadcasts"),
            ("inbox", "/console/inbox", "nav_inbox"),
        ];
        if p.admin() {
            items.push(("groups", "/console/groups", "nav_groups"));
            items.push(("import", "/console/import", "nav_import"));
        }
        for (key, href, label) in items {
            let current = if key == active {
                " aria-current=\"page\""
            } else {
                ""
            };
            s.push_str(&format!(
                "<li><a href=\"{href}\"{current}>{}</a></li>",
                t(label)
            ));
        }
        s.push_str("</ul></nav>");
    } else {
        s.push_str("</div>");
    }
    s.push_str(&format!(
        "</header><main id=\"main\" tabindex=\"-1\"><h1>{}</h1>",
        esc(title)
    ));
    s.push_str(main);
    s.push_str("</main><script src=\"/console/assets/console.js\" defer></script></body></html>");
    let mut r = (status, s).into_response();
    page_headers(&mut r);
    r
}

/// An API refusal as a paragraph of the page.
pub fn api_error(lang: Lang, e: &ApiError) -> String {
    format!(
        "<div class=\"alert\" role=\"alert\"><strong>{}</strong> <code>{}</code><pre>{}</pre></div>",
        lang.t("api_error"),
        esc(&serde_json::to_value(e.body.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()),
        esc(&e.body.message)
    )
}

/// A page that is only the API's refusal, with the status the API gives it.
pub fn error_page(lang: Lang, e: &ApiError) -> Response {
    html(
        lang,
        None,
        lang.t("refused"),
        "",
        &api_error(lang, e),
        super::status_of(e.body.code),
    )
}

/// A `Set-Cookie` header on `r`.
pub fn add_cookie(r: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_paths() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(
            url_encode("/console/send?group=运维"),
            "/console/send%3Fgroup%3D%E8%BF%90%E7%BB%B4"
        );
        assert_eq!(console_path(Some("/console/inbox")), "/console/inbox");
        assert_eq!(console_path(Some("https://evil.example/")), "/console/");
        assert_eq!(console_path(Some("/console//evil.example")), "/console/");
        assert_eq!(console_path(None), "/console/");
    }
}
