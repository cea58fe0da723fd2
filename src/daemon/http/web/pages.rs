//! One function per page of the console. Each asks the API's handlers ([`call`]) as the
//! signed-in caller and renders the answer; a refusal is shown as the API words it. Long
//! lists come a page at a time, the API's own page (its default `limit`), with a link to the
//! next (`after`), so a page of a 10 000-member group is as light as one of ten.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::DateTime;
use serde::Deserialize;

use super::i18n::{Lang, LANG_COOKIE};
use super::session::{self, is_https, set_cookie, COOKIE_NAME, LOGIN_COOKIE};
use super::{add_cookie, api_error, console_path, esc, html, redirect, sessions, url_encode, Page};
use crate::daemon::http::routes::acting_member;
use crate::daemon::http::{call, ApiError, Authed};
use crate::daemon::Shared;
use crate::protocol::{self as p, ErrorCode, Request as Op, Role};

type Shd = State<Arc<Shared>>;

// ---- Helpers ------------------------------------------------------------------------------

/// An RFC 3339 time in the daemon's zone, `YYYY-MM-DD HH:MM`.
fn when(shared: &Shared, rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&shared.config.tz())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Whether an RFC 3339 time falls on today in the daemon's zone.
fn is_today(shared: &Shared, rfc3339: &str) -> bool {
    let tz = shared.config.tz();
    DateTime::parse_from_rfc3339(rfc3339).is_ok_and(|t| {
        t.with_timezone(&tz).date_naive() == crate::clock::now().with_timezone(&tz).date_naive()
    })
}

fn csrf_ok(page: &Page, sent: &str) -> bool {
    session::same(sent, &page.csrf)
}

fn csrf_refused(page: &Page) -> Response {
    html(
        page.lang,
        Some(page),
        page.lang.t("refused"),
        "",
        &format!(
            "<div class=\"alert\" role=\"alert\">{}</div>",
            page.lang.t("csrf")
        ),
        StatusCode::FORBIDDEN,
    )
}

fn hidden_csrf(page: &Page) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        page.csrf
    )
}

/// Signal bars (0 to 4) of a level in dBm, as the phones draw them.
fn bars(dbm: Option<i32>) -> u8 {
    match dbm {
        None => 0,
        Some(d) if d >= -73 => 4,
        Some(d) if d >= -83 => 3,
        Some(d) if d >= -93 => 2,
        Some(d) if d >= -109 => 1,
        Some(_) => 0,
    }
}

fn signal(lang: Lang, dbm: Option<i32>) -> String {
    let n = bars(dbm);
    let label = match dbm {
        Some(d) => format!("{} {n}/4 ({d} dBm)", lang.t("signal")),
        None => format!("{} -", lang.t("signal")),
    };
    let mut s = format!("<span class=\"bars b{n}\" role=\"img\" aria-label=\"{label}\">");
    for i in 1..=4 {
        s.push_str(&format!(
            "<i class=\"{}\"></i>",
            if i <= n { "on" } else { "off" }
        ));
    }
    s.push_str("</span>");
    s
}

fn state_label(lang: Lang, state: &str) -> String {
    let key = match state {
        "sent" => "sent",
        "delivered" => "delivered",
        "undelivered" => "undelivered",
        "failed" => "failed",
        "uncertain" => "uncertain",
        "cancelled" => "cancelled",
        "queued" | "sending" => "waiting",
        _ => return esc(state),
    };
    lang.t(key).to_string()
}

fn pager(lang: Lang, base: &str, next: Option<String>, first: bool) -> String {
    let mut s = String::from("<nav class=\"pager\" aria-label=\"pages\">");
    if !first {
        s.push_str(&format!("<a href=\"{base}\">{}</a> ", lang.t("first_page")));
    }
    if let Some(n) = next {
        let sep = if base.contains('?') { '&' } else { '?' };
        s.push_str(&format!(
            "<a href=\"{base}{sep}after={}\" rel=\"next\">{}</a>",
            url_encode(&n),
            lang.t("next_page")
        ));
    }
    s.push_str("</nav>");
    s
}

/// The i18n strings the script needs, as a JSON block it reads (not executed).
fn script_texts(lang: Lang, keys: &[&'static str]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.to_string(), serde_json::Value::from(lang.t(k))))
        .collect();
    // `</` cannot end the block early: JSON strings may escape `/`.
    let json = serde_json::Value::Object(map)
        .to_string()
        .replace("</", "<\\/");
    format!("<script type=\"application/json\" id=\"i18n\">{json}</script>")
}

// ---- Sign in and out ----------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    bye: Option<String>,
}

/// The sign-in page (`message`: why the last attempt failed).
pub fn login_page(lang: Lang, message: Option<&str>, next: &str, notice: Option<&str>) -> Response {
    let nonce = session::random_hex();
    let t = |k| lang.t(k);
    let mut main = String::new();
    if let Some(n) = notice {
        main.push_str(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            esc(n)
        ));
    }
    if let Some(m) = message {
        main.push_str(&format!(
            "<div class=\"alert\" role=\"alert\" id=\"login-error\"><strong>{}</strong>: {}</div>",
            t("bad_token"),
            esc(m)
        ));
    }
    main.push_str(&format!(
        "<form method=\"post\" action=\"/console/login\" class=\"card narrow\">\
         <input type=\"hidden\" name=\"nonce\" value=\"{nonce}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"token\">{}</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required \
          spellcheck=\"false\" aria-describedby=\"token-help\"{}>\
         <p id=\"token-help\" class=\"help\">{}</p>\
         <button type=\"submit\">{}</button></form>",
        esc(next),
        t("token"),
        if message.is_some() {
            " aria-invalid=\"true\" autofocus"
        } else {
            " autofocus"
        },
        t("token_help"),
        t("sign_in")
    ));
    let status = if message.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = html(lang, None, t("sign_in"), "", &main, status);
    add_cookie(&mut r, &set_cookie(LOGIN_COOKIE, &nonce, false, Some(3600)));
    r
}

pub async fn login_form(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let lang = Lang::of(&headers);
    let notice = q.bye.is_some().then(|| lang.t("signed_out"));
    login_page(lang, None, &console_path(q.next.as_deref()), notice)
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    nonce: String,
    #[serde(default)]
    next: Option<String>,
}

/// Checks the token as the API does (its rate limit on refused tokens included) and opens a
/// session.
pub async fn login(State(shared): Shd, mut parts: Parts, Form(form): Form<LoginForm>) -> Response {
    let lang = Lang::of(&parts.headers);
    let next = console_path(form.next.as_deref());
    let nonce_ok = session::cookie(&parts.headers, LOGIN_COOKIE)
        .is_some_and(|c| session::same(c, &form.nonce));
    if !nonce_ok {
        let mut r = login_page(lang, Some(lang.t("csrf")), &next, None);
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let token = form.token.trim().to_string();
    let header = match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(h) => h,
        Err(_) => {
            return login_page(
                lang,
                Some("the Authorization header is not 'Bearer <token>'"),
                &next,
                None,
            )
        }
    };
    parts.headers.insert(AUTHORIZATION, header);
    match Authed::from_request_parts(&mut parts, &shared).await {
        Ok(_) => {}
        Err(e) => {
            let mut r = login_page(lang, Some(&e.body.message), &next, None);
            *r.status_mut() = super::super::status_of(e.body.code);
            return r;
        }
    }
    let Some(sessions) = sessions(&parts) else {
        return login_page(lang, Some("no session store"), &next, None);
    };
    let (id, _csrf) = sessions.open(token, Instant::now());
    let https = is_https(&parts.headers);
    let mut r = redirect(&next);
    add_cookie(&mut r, &set_cookie(COOKIE_NAME, &id, https, None));
    add_cookie(&mut r, &set_cookie(LOGIN_COOKIE, "", https, Some(0)));
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(page: Page, parts: Parts, Form(form): Form<CsrfForm>) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    if let Some(s) = sessions(&parts) {
        s.close(&parts.headers);
    }
    let mut r = redirect("/console/login?bye=1");
    add_cookie(
        &mut r,
        &set_cookie(COOKIE_NAME, "", is_https(&parts.headers), Some(0)),
    );
    r
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// Sets the language cookie (a preference, not a change of data: a plain link).
pub async fn language(
    Path(code): Path<String>,
    headers: HeaderMap,
    Query(q): Query<BackQuery>,
) -> Response {
    let back = match q.back.as_deref() {
        Some("/console/login") => "/console/login".to_string(),
        other => console_path(other),
    };
    let mut r = redirect(&back);
    if code == "zh" || code == "en" {
        add_cookie(
            &mut r,
            &set_cookie(
                LANG_COOKIE,
                &code,
                is_https(&headers),
                Some(366 * 24 * 3600),
            ),
        );
    }
    r
}

// ---- Overview -----------------------------------------------------------------------------

pub async fn overview(State(shared): Shd, page: Page) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let status: Result<p::StatusResult, ApiError> =
        call(&shared, page.caller, Op::Status(Default::default())).await;
    let list: Result<p::BroadcastListResult, ApiError> = call(
        &shared,
        page.caller,
        Op::BroadcastList(p::BroadcastList {
            group: None,
            limit: None,
            after: None,
        }),
    )
    .await;
    let mut m = String::new();
    match &status {
        Err(e) => m.push_str(&api_error(lang, e)),
        Ok(st) => {
            // Problems first: what needs a person.
            let mut problems: Vec<String> = Vec::new();
            if let Some(sp) = &st.store_problem {
                problems.push(format!(
                    "<strong>{}</strong>: {}",
                    t("store_problem"),
                    esc(sp)
                ));
            }
            for md in &st.modems {
                if let Some(q) = &md.quarantine {
                    problems.push(format!(
                        "<strong>{}</strong>: {} — {} ({} {})",
                        t("sim_blocked"),
                        esc(&md.device),
                        esc(&q.reason),
                        "→",
                        esc(&when(&shared, &q.until))
                    ));
                } else if !md.is_up() {
                    problems.push(format!(
                        "<strong>{}</strong>: {} — {}",
                        t("modem_down"),
                        esc(&md.device),
                        esc(md.problem.as_deref().unwrap_or(&md.state))
                    ));
                }
            }
            for w in &st.waiting {
                problems.push(format!(
                    "<strong><a href=\"/console/broadcasts/{}\">{} #{}</a></strong> ({}): {}",
                    w.broadcast,
                    t("broadcast"),
                    w.broadcast,
                    esc(&w.group),
                    esc(&w.waiting.message)
                ));
            }
            // Webhooks failing: events given up, or a try that failed with events waiting.
            for h in &st.webhooks {
                let failing = h.dead > 0 || (h.pending > 0 && h.last_error.is_some());
                if failing {
                    problems.push(format!(
                        "<strong>{}</strong>: {} — {} {}, {} {}{}",
                        t("webhook_failing"),
                        esc(&h.endpoint),
                        h.pending,
                        t("webhook_pending"),
                        h.dead,
                        t("webhook_dead"),
                        h.last_error
                            .as_deref()
                            .map(|e| format!(" ({})", esc(e)))
                            .unwrap_or_default()
                    ));
                }
            }
            if st.unmatched_reports > 0 {
                problems.push(format!(
                    "<strong>{}</strong>: {}",
                    t("unmatched"),
                    st.unmatched_reports
                ));
            }
            if st.outcomes_held > 0 {
                problems.push(format!(
                    "<strong>{}</strong>: {}",
                    t("held"),
                    st.outcomes_held
                ));
            }
            m.push_str(&format!(
                "<section aria-labelledby=\"h-problems\"><h2 id=\"h-problems\">{}</h2>",
                t("problems")
            ));
            if problems.is_empty() {
                m.push_str(&format!("<p class=\"ok\">{}</p>", t("no_problems")));
            } else {
                m.push_str("<ul class=\"problems\">");
                for pr in problems {
                    m.push_str(&format!("<li>{pr}</li>"));
                }
                m.push_str("</ul>");
            }
            m.push_str("</section>");
            // The pool.
            m.push_str(&format!(
                "<section aria-labelledby=\"h-modems\"><h2 id=\"h-modems\">{} \
                 <small>{}/{}</small></h2>",
                t("modems"),
                st.modems_ready,
                st.modems_total
            ));
            if st.modems.is_empty() {
                m.push_str(&format!("<p>{}</p>", t("no_modems")));
            } else {
                let mut headings = vec![t("device"), t("state"), t("operator"), t("signal")];
                if page.admin() {
                    headings.push(t("imsi"));
                }
                headings.extend([t("hour"), t("day"), t("problem")]);
                m.push_str(&table_head(" class=\"modems\"", &headings));
                for md in &st.modems {
                    // Another host's modem (several daemons share the database): its host
                    // named, and what it says marked stale when that host is not up.
                    let stale = md.host_state.as_deref().filter(|s| *s != "up");
                    let up = if md.is_up() && stale.is_none() {
                        "up"
                    } else {
                        "down"
                    };
                    let device = match &md.host {
                        Some(h) => format!("{} · {}", esc(h), esc(&md.device)),
                        None => esc(&md.device),
                    };
                    let state = match (stale, md.heartbeat_age_secs) {
                        (Some(s), Some(age)) => {
                            format!("{} ({}, {age} s)", esc(&md.state), esc(s))
                        }
                        _ => esc(&md.state),
                    };
                    m.push_str(&format!(
                        "<tr><th scope=\"row\">{}</th><td><span class=\"st {up}\">{}</span></td>\
                         <td>{}</td><td>{}</td>",
                        device,
                        state,
                        esc(md.operator.as_deref().unwrap_or("-")),
                        signal(lang, md.signal_dbm)
                    ));
                    if page.admin() {
                        m.push_str(&format!(
                            "<td class=\"mono\">{}</td>",
                            esc(md.imsi.as_deref().unwrap_or("-"))
                        ));
                    }
                    let count = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
                    let why = match (&md.quarantine, &md.problem) {
                        (Some(q), _) => format!(
                            "{}: {} → {}",
                            t("quarantine"),
                            esc(&q.reason),
                            esc(&when(&shared, &q.until))
                        ),
                        (None, Some(pr)) => esc(pr),
                        (None, None) => String::new(),
                    };
                    m.push_str(&format!(
                        "<td>{} / {}</td><td>{} / {}</td><td>{why}</td></tr>",
                        count(md.sent_this_hour),
                        md.max_per_hour,
                        count(md.sent_today),
                        md.max_per_day
                    ));
                }
                m.push_str("</tbody></table></div>");
            }
            m.push_str("</section>");
            // The queue.
            m.push_str(&format!(
                "<section aria-labelledby=\"h-queue\"><h2 id=\"h-queue\">{}</h2><dl class=\"stats\">\
                 <div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>\
                 <div><dt>{}</dt><dd>{}</dd></div></dl></section>",
                t("queue"),
                t("sending_now"),
                st.broadcasts_sending,
                t("waiting_deliveries"),
                st.deliveries_waiting,
                t("waiting_broadcasts"),
                st.waiting.len()
            ));
        }
    }
    m.push_str(&format!(
        "<section aria-labelledby=\"h-today\"><h2 id=\"h-today\">{}</h2>",
        t("today")
    ));
    match &list {
        Err(e) => m.push_str(&api_error(lang, e)),
        Ok(l) => {
            let today: Vec<&p::BroadcastInfo> = l
                .broadcasts
                .iter()
                .filter(|b| is_today(&shared, &b.created_at))
                .collect();
            if today.is_empty() {
                m.push_str(&format!("<p>{}</p>", t("none_today")));
            } else {
                m.push_str(&broadcast_table(&shared, lang, today.into_iter()));
            }
        }
    }
    m.push_str("</section>");
    html(
        lang,
        Some(&page),
        t("nav_overview"),
        "overview",
        &m,
        StatusCode::OK,
    )
}

fn broadcast_table<'a>(
    shared: &Shared,
    lang: Lang,
    list: impl Iterator<Item = &'a p::BroadcastInfo>,
) -> String {
    let t = |k| lang.t(k);
    let mut m = table_head(
        "",
        &[
            "#",
            t("group"),
            t("created"),
            t("recipients"),
            t("sent"),
            t("delivered"),
            t("failed"),
            t("state"),
            t("text"),
        ],
    );
    for b in list {
        let state = if b.finished {
            t("finished")
        } else {
            t("in_progress")
        };
        let short: String = b.text.chars().take(40).collect();
        m.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"/console/broadcasts/{id}\">{id}</a></th><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td>\
             <td class=\"text\">{}</td></tr>",
            esc(&b.group),
            esc(&when(shared, &b.created_at)),
            b.recipients,
            b.sent,
            b.delivered,
            b.failed + b.undelivered + b.uncertain,
            esc(&short),
            id = b.id
        ));
    }
    m.push_str("</tbody></table></div>");
    m
}

// ---- Send ---------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct SendQuery {
    group: Option<String>,
}

/// The groups the caller may send to: a member's super-admin groups; every group for a
/// management token (which names the member it sends as).
async fn send_groups(shared: &Arc<Shared>, page: &Page) -> Result<Vec<String>, ApiError> {
    match &page.me {
        Some(me) => {
            let shown: p::MemberShow = call(
                shared,
                page.caller,
                Op::MemberShow(p::MemberShowArgs {
                    member: me.clone(),
                    limit: None,
                    after: None,
                }),
            )
            .await?;
            Ok(shown
                .groups
                .into_iter()
                .filter(|g| g.role == Role::SuperAdmin)
                .map(|g| g.group)
                .collect())
        }
        None => {
            let list: p::GroupListResult = call(
                shared,
                page.caller,
                Op::GroupList(p::GroupList {
                    limit: None,
                    after: None,
                }),
            )
            .await?;
            Ok(list.groups.into_iter().map(|g| g.handle).collect())
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    group: String,
    #[serde(default, rename = "as")]
    as_member: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    urgent: Option<String>,
    #[serde(default)]
    action: String,
}

pub async fn send_form(State(shared): Shd, page: Page, Query(q): Query<SendQuery>) -> Response {
    let form = SendForm {
        group: q.group.unwrap_or_default(),
        ..SendForm::default()
    };
    send_page(&shared, &page, &form, None, None).await
}

/// The send page: the form, and the preview (`preview`, or an empty one the script fills).
async fn send_page(
    shared: &Arc<Shared>,
    page: &Page,
    form: &SendForm,
    preview: Option<&p::SendPreview>,
    error: Option<&ApiError>,
) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let mut m = String::new();
    if let Some(e) = error {
        m.push_str(&api_error(lang, e));
    }
    let groups = match send_groups(shared, page).await {
        Ok(g) => g,
        Err(e) => {
            m.push_str(&api_error(lang, &e));
            return html(lang, Some(page), t("nav_send"), "send", &m, StatusCode::OK);
        }
    };
    if groups.is_empty() {
        m.push_str(&format!("<p class=\"notice\">{}</p>", t("no_send_groups")));
        return html(lang, Some(page), t("nav_send"), "send", &m, StatusCode::OK);
    }
    m.push_str("<div class=\"split\"><form method=\"post\" action=\"/console/send\" id=\"send-form\" class=\"card\">");
    m.push_str(&hidden_csrf(page));
    m.push_str(&format!(
        "<label for=\"group\">{}</label><select id=\"group\" name=\"group\" required>",
        t("group")
    ));
    for g in &groups {
        let sel = if *g == form.group { " selected" } else { "" };
        m.push_str(&format!("<option value=\"{0}\"{sel}>{0}</option>", esc(g)));
    }
    m.push_str("</select>");
    if page.me.is_none() {
        m.push_str(&format!(
            "<label for=\"as\">{}</label><input id=\"as\" name=\"as\" required value=\"{}\" \
             autocomplete=\"off\">",
            t("as"),
            esc(&form.as_member)
        ));
    }
    m.push_str(&format!(
        "<label for=\"text\">{}</label><textarea id=\"text\" name=\"text\" rows=\"6\" required \
         aria-describedby=\"preview\">{}</textarea>\
         <label class=\"check\"><input type=\"checkbox\" name=\"urgent\" value=\"1\"{}> {}</label>\
         <div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"preview\" \
         id=\"preview-button\">{}</button></div></form>",
        t("message"),
        esc(&form.text),
        if form.urgent.is_some() {
            " checked"
        } else {
            ""
        },
        t("urgent"),
        t("preview")
    ));
    m.push_str(&preview_panel(lang, preview, &form.text));
    m.push_str("</div>");
    if let Some(pv) = preview {
        if pv.refusal.is_none() {
            // The confirmation: the same fields, posted as a send.
            m.push_str(&format!(
                "<form method=\"post\" action=\"/console/send\" class=\"confirm\" id=\"confirm-form\">{}\
                 <input type=\"hidden\" name=\"group\" value=\"{}\">\
                 <input type=\"hidden\" name=\"as\" value=\"{}\">\
                 <input type=\"hidden\" name=\"text\" value=\"{}\">{}\
                 <button type=\"submit\" name=\"action\" value=\"send\" id=\"confirm-button\" \
                 class=\"primary\">{} ({} {})</button></form>",
                hidden_csrf(page),
                esc(&form.group),
                esc(&form.as_member),
                esc(&form.text),
                if form.urgent.is_some() {
                    "<input type=\"hidden\" name=\"urgent\" value=\"1\">"
                } else {
                    ""
                },
                t("confirm_send"),
                pv.recipients,
                t("recipients")
            ));
        }
    }
    m.push_str(&script_texts(
        lang,
        &["would_refuse", "would_accept", "api_error", "and_more"],
    ));
    html(lang, Some(page), t("nav_send"), "send", &m, StatusCode::OK)
}

/// The preview: every value in an element the script can fill (`data-pv`).
fn preview_panel(lang: Lang, pv: Option<&p::SendPreview>, submitted: &str) -> String {
    let t = |k| lang.t(k);
    let v = |f: &dyn Fn(&p::SendPreview) -> String| pv.map_or(String::from("–"), f);
    let mut s = format!(
        "<section id=\"preview\" class=\"card preview\" aria-labelledby=\"h-preview\" \
         aria-live=\"polite\"><h2 id=\"h-preview\">{}</h2>",
        t("live_preview")
    );
    let verdict = match pv {
        None => String::new(),
        Some(pv) => match &pv.refusal {
            Some(r) => format!(
                "<strong>{}</strong>: {}",
                t("would_refuse"),
                esc(&r.message)
            ),
            None => format!("<strong>{}</strong>", t("would_accept")),
        },
    };
    let verdict_class = match pv.map(|p| p.refusal.is_some()) {
        Some(true) => "alert",
        Some(false) => "ok",
        None => "",
    };
    s.push_str(&format!(
        "<p data-pv=\"verdict\" class=\"verdict {verdict_class}\">{verdict}</p>"
    ));
    s.push_str(&format!(
        "<p class=\"label\">{}</p><div class=\"phone\" data-pv=\"phone\">",
        t("phone_shows")
    ));
    if let Some(pv) = pv {
        s.push_str(&format!("<span class=\"hdr\">{}</span>", esc(&pv.header)));
        if pv.sensitive_policy == "mask" {
            s.push_str(&esc(&pv.body));
        } else {
            s.push_str(&highlight(submitted, &pv.sensitive));
        }
        s.push_str(&format!("<span class=\"ftr\">{}</span>", esc(&pv.footer)));
    }
    s.push_str("</div><dl class=\"stats\">");
    let encoding = |p: &p::SendPreview| {
        if p.encoding == "ucs2" {
            "UCS-2".to_string()
        } else {
            "GSM 7-bit".to_string()
        }
    };
    let rows: [(&str, &str, String); 5] = [
        ("encoding", "encoding", v(&encoding)),
        (
            "parts",
            "parts",
            v(&|p| format!("{} / {}", p.parts, p.max_parts)),
        ),
        ("chars_left", "remaining", v(&|p| p.remaining.to_string())),
        ("recipients", "recipients", v(&|p| p.recipients.to_string())),
        (
            "quota_left",
            "quota",
            v(&|p| {
                format!(
                    "{} {} · {} {}",
                    p.quota.day_limit.saturating_sub(p.quota.day_used),
                    lang.t("quota_day"),
                    p.quota.month_limit.saturating_sub(p.quota.month_used),
                    lang.t("quota_month")
                )
            }),
        ),
    ];
    for (label, key, value) in rows {
        s.push_str(&format!(
            "<div><dt>{}</dt><dd data-pv=\"{key}\">{}</dd></div>",
            t(label),
            esc(&value)
        ));
    }
    s.push_str("</dl>");
    s.push_str(&format!(
        "<p class=\"label\">{}</p><ul class=\"dropped\">",
        t("left_out")
    ));
    // Each reason opens on demand to the members it leaves out (the first few the API names;
    // the count says how many in all).
    for key in ["opted_out", "invalid", "sms_disabled", "duplicate"] {
        let of = |p: &p::SendPreview| -> (u32, Vec<p::MemberName>) {
            let (d, l) = (&p.dropped, &p.left_out);
            match key {
                "opted_out" => (d.opted_out, l.opted_out.clone()),
                "invalid" => (d.invalid, l.invalid.clone()),
                "sms_disabled" => (d.sms_disabled, l.sms_disabled.clone()),
                _ => (d.duplicate, l.duplicate.clone()),
            }
        };
        let (n, names) = pv.map_or((String::from("–"), Vec::new()), |p| {
            let (n, names) = of(p);
            (n.to_string(), names)
        });
        let more = pv
            .map_or(0, |p| of(p).0 as usize)
            .saturating_sub(names.len());
        s.push_str(&format!(
            "<li><details data-pv=\"left-{key}\"><summary><span data-pv=\"dropped-{key}\">{n}</span> \
             {}</summary><ul class=\"names\" data-pv=\"names-{key}\">",
            t(key)
        ));
        for m in &names {
            s.push_str(&format!(
                "<li data-member=\"{}\">{} <span class=\"mono\">{}</span></li>",
                esc(&m.handle),
                esc(&m.name),
                esc(&m.handle)
            ));
        }
        if more > 0 {
            s.push_str(&format!(
                "<li class=\"more\">… {more} {}</li>",
                t("and_more")
            ));
        }
        s.push_str("</ul></details></li>");
    }
    s.push_str("</ul>");
    let words = pv.map_or(String::new(), |p| {
        let mut w: Vec<&str> = p.sensitive.iter().map(|m| m.word.as_str()).collect();
        w.dedup();
        esc(&w.join(", "))
    });
    s.push_str(&format!(
        "<p class=\"label\">{}</p><p data-pv=\"sensitive\" class=\"sensitive\">{}</p></section>",
        t("sensitive"),
        if words.is_empty() {
            "–".to_string()
        } else {
            words
        }
    ));
    s
}

/// `text` escaped, with each sensitive match in `<mark>`.
fn highlight(text: &str, found: &[p::SensitiveMatch]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut at = 0usize;
    for f in found {
        let (start, end) = (f.start as usize, (f.end as usize).min(chars.len()));
        if start < at || start >= end {
            continue;
        }
        out.push_str(&esc(&chars[at..start].iter().collect::<String>()));
        out.push_str(&format!(
            "<mark>{}</mark>",
            esc(&chars[start..end].iter().collect::<String>())
        ));
        at = end;
    }
    out.push_str(&esc(&chars[at.min(chars.len())..]
        .iter()
        .collect::<String>()));
    out
}

pub async fn send(State(shared): Shd, page: Page, Form(form): Form<SendForm>) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    let named = Some(form.as_member.trim().to_string()).filter(|a| !a.is_empty());
    let as_member = match acting_member(&shared, page.caller, named).await {
        Ok(a) => a,
        Err(e) => return send_page(&shared, &page, &form, None, Some(&e)).await,
    };
    let request = p::Send {
        group: form.group.clone(),
        as_member,
        text: form.text.clone(),
        urgent: form.urgent.is_some(),
    };
    if form.action == "send" {
        match call::<p::SendResult>(&shared, page.caller, Op::Send(request.clone())).await {
            Ok(sent) => return redirect(&format!("/console/broadcasts/{}", sent.broadcast)),
            Err(e) => {
                let pv: Option<p::SendPreview> =
                    call(&shared, page.caller, Op::SendPreview(request))
                        .await
                        .ok();
                return send_page(&shared, &page, &form, pv.as_ref(), Some(&e)).await;
            }
        }
    }
    match call::<p::SendPreview>(&shared, page.caller, Op::SendPreview(request)).await {
        Ok(pv) => send_page(&shared, &page, &form, Some(&pv), None).await,
        Err(e) => send_page(&shared, &page, &form, None, Some(&e)).await,
    }
}

// ---- Broadcasts ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AfterId {
    after: Option<i64>,
}

pub async fn broadcasts(State(shared): Shd, page: Page, Query(q): Query<AfterId>) -> Response {
    let lang = page.lang;
    let list: Result<p::BroadcastListResult, ApiError> = call(
        &shared,
        page.caller,
        Op::BroadcastList(p::BroadcastList {
            group: None,
            limit: None,
            after: q.after,
        }),
    )
    .await;
    let m = match list {
        Err(e) => api_error(lang, &e),
        Ok(l) if l.broadcasts.is_empty() => format!("<p>{}</p>", lang.t("no_broadcasts")),
        Ok(l) => {
            broadcast_table(&shared, lang, l.broadcasts.iter())
                + &pager(
                    lang,
                    "/console/broadcasts",
                    l.next.map(|n| n.to_string()),
                    q.after.is_none(),
                )
        }
    };
    html(
        lang,
        Some(&page),
        lang.t("nav_broadcasts"),
        "broadcasts",
        &m,
        StatusCode::OK,
    )
}

pub async fn broadcast(
    State(shared): Shd,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<AfterId>,
) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let shown: p::BroadcastShow = match call(
        &shared,
        page.caller,
        Op::BroadcastShow(p::BroadcastShowArgs {
            broadcast: id,
            limit: None,
            after: q.after,
        }),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            let status = super::super::status_of(e.body.code);
            return html(
                lang,
                Some(&page),
                &format!("{} #{id}", t("broadcast")),
                "broadcasts",
                &api_error(lang, &e),
                status,
            );
        }
    };
    let b = &shown.broadcast;
    let mut m = String::new();
    let awaiting_reports = b.sent > b.delivered + b.undelivered;
    let live = !b.finished || awaiting_reports;
    m.push_str(&format!(
        "<div id=\"follow\" data-broadcast=\"{id}\" data-live=\"{live}\">\
         <p class=\"meta\">{} <strong>{}</strong> · {} <strong>{}</strong> · {} {} · {} {} · \
         <span data-count=\"state\">{}</span></p>",
        t("group"),
        esc(&b.group),
        t("sender"),
        esc(&b.sender),
        t("created"),
        esc(&when(&shared, &b.created_at)),
        t("parts"),
        b.parts,
        if b.finished {
            t("finished")
        } else {
            t("in_progress")
        }
    ));
    m.push_str(&format!("<div class=\"phone\">{}</div>", esc(&b.text)));
    m.push_str("<dl class=\"stats counters\" aria-live=\"polite\">");
    for (key, value) in [
        ("recipients", b.recipients),
        ("waiting", b.waiting),
        ("sent", b.sent),
        ("delivered", b.delivered),
        ("undelivered", b.undelivered),
        ("failed", b.failed),
        ("uncertain", b.uncertain),
        ("cancelled", b.cancelled),
    ] {
        m.push_str(&format!(
            "<div class=\"c-{key}\"><dt>{}</dt><dd data-count=\"{key}\">{value}</dd></div>",
            t(key)
        ));
    }
    m.push_str("</dl></div>");
    if let Some(w) = &b.waiting_reason {
        m.push_str(&format!("<p class=\"notice\">{}</p>", esc(&w.message)));
    }
    let d = &shown.dropped;
    if d.opted_out + d.invalid + d.sms_disabled + d.duplicate > 0 {
        m.push_str(&format!(
            "<p>{}: {} {} · {} {} · {} {} · {} {}</p>",
            t("left_out"),
            d.opted_out,
            t("opted_out"),
            d.invalid,
            t("invalid"),
            d.sms_disabled,
            t("sms_disabled"),
            d.duplicate,
            t("duplicate")
        ));
    }
    m.push_str(&format!(
        "<section aria-labelledby=\"h-del\"><h2 id=\"h-del\">{}</h2>{}",
        t("deliveries"),
        table_head(
            " id=\"deliveries\"",
            &[
                t("member"),
                t("number"),
                t("state"),
                t("modem"),
                t("attempts"),
                t("error"),
            ],
        )
    ));
    for dl in &shown.deliveries {
        m.push_str(&format!(
            "<tr data-number=\"{}\"><th scope=\"row\">{}</th><td class=\"mono\">{}</td>\
             <td data-state=\"{}\" class=\"state\">{}</td><td data-modem>{}</td><td>{}</td>\
             <td data-error>{}</td></tr>",
            esc(&dl.number),
            esc(dl.member.as_deref().unwrap_or("-")),
            esc(&dl.number),
            esc(&dl.state),
            state_label(lang, &dl.state),
            esc(dl.modem.as_deref().unwrap_or("")),
            dl.attempts,
            esc(dl.error.as_deref().unwrap_or(""))
        ));
    }
    m.push_str("</tbody></table></div>");
    m.push_str(&pager(
        lang,
        &format!("/console/broadcasts/{id}"),
        shown.next.map(|n| n.to_string()),
        q.after.is_none(),
    ));
    m.push_str("</section>");
    m.push_str(&format!(
        "<section aria-labelledby=\"h-rep\"><h2 id=\"h-rep\">{}</h2>",
        t("replies")
    ));
    if shown.replies.is_empty() {
        m.push_str(&format!("<p>{}</p>", t("no_replies")));
    } else {
        m.push_str("<ul class=\"messages\">");
        for r in &shown.replies {
            m.push_str(&format!(
                "<li><span class=\"from\">{}</span> <time>{}</time><p>{}</p></li>",
                esc(r.member.as_deref().unwrap_or(&r.number)),
                esc(&when(&shared, &r.received_at)),
                esc(&r.text)
            ));
        }
        m.push_str("</ul>");
        if shown.more_replies {
            m.push_str(&format!(
                "<p><a href=\"/console/inbox?broadcast={id}\">{}</a></p>",
                t("all_messages")
            ));
        }
    }
    m.push_str("</section>");
    let mut keys = vec!["finished", "in_progress", "waiting"];
    keys.extend([
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "uncertain",
        "cancelled",
    ]);
    m.push_str(&script_texts(lang, &keys));
    html(
        lang,
        Some(&page),
        &format!("{} #{id}", t("broadcast")),
        "broadcasts",
        &m,
        StatusCode::OK,
    )
}

// ---- Inbox --------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    after: Option<i64>,
    broadcast: Option<i64>,
}

/// Messages as the inbox lists them; `whole`: one message on its own page (no link to itself).
fn message_list(shared: &Shared, page: &Page, list: &[p::InboxItem], whole: bool) -> String {
    let lang = page.lang;
    let t = |k| lang.t(k);
    if list.is_empty() {
        return format!("<p>{}</p>", t("no_messages"));
    }
    let mut m = String::from("<ul class=\"messages\">");
    for msg in list {
        let kind = if msg.carrier_notice {
            t("carrier_notice")
        } else {
            match msg.handling.as_str() {
                "reply" => t("reply"),
                "opt_out" => t("opt_out"),
                "opt_in" => t("opt_in"),
                _ => t("other"),
            }
        };
        let read = if msg.read { "read" } else { "unread" };
        m.push_str(&format!(
            "<li class=\"{read}\" data-message=\"{}\" data-handling=\"{}\"><div class=\"head\">\
             <span class=\"from\">{}</span> <span class=\"badge {}\">{kind}</span> <time>{}</time>",
            msg.id,
            esc(&msg.handling),
            esc(msg.member.as_deref().unwrap_or(&msg.number)),
            esc(&msg.handling),
            esc(&when(shared, &msg.received_at))
        ));
        if let (Some(b), Some(g)) = (msg.broadcast, &msg.group) {
            m.push_str(&format!(
                " <a href=\"/console/broadcasts/{b}\">{} #{b}</a> ({})",
                t("broadcast"),
                esc(g)
            ));
        }
        let id = if whole { " id=\"message-text\"" } else { "" };
        m.push_str(&format!("</div><p class=\"body\"{id}>{}", esc(&msg.text)));
        if msg.truncated && !whole {
            // Lists cut a message at 500 characters: its own page shows it whole.
            m.push_str(&format!(
                "… <a class=\"more\" href=\"/console/inbox/{}\">{}</a>",
                msg.id,
                t("whole_message")
            ));
        }
        m.push_str("</p>");
        if !msg.read {
            m.push_str(&format!(
                "<form method=\"post\" action=\"/console/inbox/{}/read\" class=\"inline\">{}\
                 <button type=\"submit\" class=\"small\">{}</button></form>",
                msg.id,
                hidden_csrf(page),
                t("mark_read")
            ));
        }
        m.push_str("</li>");
    }
    m.push_str("</ul>");
    m
}

pub async fn inbox(State(shared): Shd, page: Page, Query(q): Query<InboxQuery>) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let list = |unread: bool, after: Option<i64>| {
        Op::InboxList(p::InboxList {
            group: None,
            from: None,
            unread,
            broadcast: q.broadcast,
            limit: None,
            after,
        })
    };
    let mut m = String::new();
    if q.after.is_none() {
        m.push_str(&format!(
            "<section aria-labelledby=\"h-unread\"><h2 id=\"h-unread\">{}</h2>",
            t("unread")
        ));
        match call::<p::InboxListResult>(&shared, page.caller, list(true, None)).await {
            Ok(l) => m.push_str(&message_list(&shared, &page, &l.messages, false)),
            Err(e) => m.push_str(&api_error(lang, &e)),
        }
        m.push_str("</section>");
    }
    m.push_str(&format!(
        "<section aria-labelledby=\"h-all\"><h2 id=\"h-all\">{}</h2>",
        t("all_messages")
    ));
    match call::<p::InboxListResult>(&shared, page.caller, list(false, q.after)).await {
        Ok(l) => {
            m.push_str(&message_list(&shared, &page, &l.messages, false));
            let base = match q.broadcast {
                Some(b) => format!("/console/inbox?broadcast={b}"),
                None => "/console/inbox".to_string(),
            };
            m.push_str(&pager(
                lang,
                &base,
                l.next.map(|n| n.to_string()),
                q.after.is_none(),
            ));
        }
        Err(e) => m.push_str(&api_error(lang, &e)),
    }
    m.push_str("</section>");
    html(
        lang,
        Some(&page),
        t("nav_inbox"),
        "inbox",
        &m,
        StatusCode::OK,
    )
}

/// One message, whole (the API's `inbox_show`, which cuts at 8 000 characters, not 500).
pub async fn inbox_message(State(shared): Shd, page: Page, Path(id): Path<i64>) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let title = format!("{} #{id}", t("message_title"));
    let shown: Result<p::InboxItem, ApiError> =
        call(&shared, page.caller, Op::InboxShow(p::InboxRef { id })).await;
    let (m, status) = match shown {
        Err(e) => (api_error(lang, &e), super::super::status_of(e.body.code)),
        Ok(msg) => {
            let m = message_list(&shared, &page, std::slice::from_ref(&msg), true);
            (m, StatusCode::OK)
        }
    };
    let m = format!(
        "{m}<p><a href=\"/console/inbox\">{}</a></p>",
        t("back_inbox")
    );
    html(lang, Some(&page), &title, "inbox", &m, status)
}

pub async fn mark_read(
    State(shared): Shd,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    match call::<p::InboxMarked>(
        &shared,
        page.caller,
        Op::InboxMarkRead(p::InboxIds { ids: vec![id] }),
    )
    .await
    {
        Ok(_) => redirect("/console/inbox"),
        Err(e) => html(
            page.lang,
            Some(&page),
            page.lang.t("nav_inbox"),
            "inbox",
            &api_error(page.lang, &e),
            super::super::status_of(e.body.code),
        ),
    }
}

// ---- Groups and import (administrators) ---------------------------------------------------

fn admins_only(page: &Page, title: &str, active: &str) -> Response {
    html(
        page.lang,
        Some(page),
        title,
        active,
        &format!(
            "<div class=\"alert\" role=\"alert\" id=\"admins-only\">{}</div>",
            page.lang.t("admins_only")
        ),
        StatusCode::FORBIDDEN,
    )
}

#[derive(Deserialize, Default)]
pub struct AfterHandle {
    after: Option<String>,
}

pub async fn groups(State(shared): Shd, page: Page, Query(q): Query<AfterHandle>) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    if !page.admin() {
        return admins_only(&page, t("nav_groups"), "groups");
    }
    let list: Result<p::GroupListResult, ApiError> = call(
        &shared,
        page.caller,
        Op::GroupList(p::GroupList {
            limit: None,
            after: q.after.clone(),
        }),
    )
    .await;
    let m = match list {
        Err(e) => api_error(lang, &e),
        Ok(l) => {
            let mut m = table_head("", &[t("handle"), t("name"), t("header"), t("quota")]);
            for g in &l.groups {
                m.push_str(&format!(
                    "<tr><th scope=\"row\"><a href=\"/console/groups/{}\">{}</a></th><td>{}</td>\
                     <td>{}</td><td>{} / {}</td></tr>",
                    url_encode(&g.handle),
                    esc(&g.handle),
                    esc(&g.name),
                    esc(&g.header),
                    g.daily_quota,
                    g.monthly_quota
                ));
            }
            m.push_str("</tbody></table></div>");
            m + &pager(lang, "/console/groups", l.next, q.after.is_none())
        }
    };
    let m = m + &group_create_form(&page);
    html(
        lang,
        Some(&page),
        t("nav_groups"),
        "groups",
        &m,
        StatusCode::OK,
    )
}

fn group_create_form(page: &Page) -> String {
    let t = |k| page.lang.t(k);
    format!(
        "<h2 id=\"h-new\">{}</h2><form method=\"post\" action=\"/console/groups\" class=\"card\" \
         id=\"group-create\" aria-labelledby=\"h-new\">{}\
         <label for=\"g-handle\">{}</label><input id=\"g-handle\" name=\"handle\" required \
         autocomplete=\"off\" spellcheck=\"false\">\
         <label for=\"g-name\">{}</label><input id=\"g-name\" name=\"name\" required>\
         <label for=\"g-daily\">{} ({})</label><input id=\"g-daily\" name=\"daily_quota\" \
         inputmode=\"numeric\" pattern=\"[0-9]*\">\
         <label for=\"g-monthly\">{} ({})</label><input id=\"g-monthly\" name=\"monthly_quota\" \
         inputmode=\"numeric\" pattern=\"[0-9]*\">\
         <div class=\"buttons\"><button type=\"submit\">{}</button></div></form>",
        t("new_group"),
        hidden_csrf(page),
        t("handle"),
        t("name"),
        t("quota_word"),
        t("quota_day"),
        t("quota_word"),
        t("quota_month"),
        t("create")
    )
}

#[derive(Deserialize, Default)]
pub struct GroupCreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    daily_quota: String,
    #[serde(default)]
    monthly_quota: String,
}

/// A number typed in a form: empty is "not given"; anything else must be a number.
fn number_field(value: &str, what: &str) -> Result<Option<u32>, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidValue,
            format!("{what} must be a whole number, not {v:?}"),
        )
    })
}

pub async fn group_create(
    State(shared): Shd,
    page: Page,
    Form(form): Form<GroupCreateForm>,
) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    let made = async {
        let op = Op::GroupCreate(p::GroupCreate {
            handle: form.handle.trim().to_string(),
            name: form.name.trim().to_string(),
            header: None,
            daily_quota: number_field(&form.daily_quota, "the daily quota")?,
            monthly_quota: number_field(&form.monthly_quota, "the monthly quota")?,
        });
        call::<p::GroupInfo>(&shared, page.caller, op).await
    }
    .await;
    match made {
        Ok(g) => redirect(&format!("/console/groups/{}", url_encode(&g.handle))),
        Err(e) => html(
            page.lang,
            Some(&page),
            page.lang.t("nav_groups"),
            "groups",
            &(api_error(page.lang, &e) + &group_create_form(&page)),
            super::super::status_of(e.body.code),
        ),
    }
}

#[derive(Deserialize, Default)]
pub struct MembershipForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    // `action=edit`: the member's own fields.
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    valid: Option<String>,
    #[serde(default)]
    sms_enabled: Option<String>,
}

/// A checkbox: checked when the form sends it at all.
fn checked(on: bool) -> &'static str {
    if on {
        " checked"
    } else {
        ""
    }
}

/// A refusal shown in the form it answers (`id` for the tests and `aria-describedby`).
fn inline_error(lang: Lang, id: &str, e: &ApiError) -> String {
    format!(
        "<div class=\"alert\" role=\"alert\" id=\"{id}\"><strong>{}</strong>: {}</div>",
        lang.t("refused_change"),
        esc(&e.body.message)
    )
}

/// The page that changes one member: their name, phone and switches, their role in the
/// group and their opt-out (kept off the group's list, so that a page of 117 members stays
/// light). `edit`: a refused change, shown with what was typed.
async fn membership_page(
    shared: &Arc<Shared>,
    page: &Page,
    group: &str,
    member: &str,
    edit: Option<(&MembershipForm, &ApiError)>,
) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let title = format!("{member} · {group}");
    if !page.admin() {
        return admins_only(page, &title, "groups");
    }
    let shown: Result<p::MemberShow, ApiError> = call(
        shared,
        page.caller,
        Op::MemberShow(p::MemberShowArgs {
            member: member.to_string(),
            limit: None,
            after: None,
        }),
    )
    .await;
    let (m, status) = match shown {
        Err(e) => (api_error(lang, &e), super::super::status_of(e.body.code)),
        Ok(ms) => match ms.groups.iter().find(|g| g.group == group) {
            None => (
                format!(
                    "<div class=\"alert\" role=\"alert\">{}</div>",
                    t("not_found")
                ),
                StatusCode::NOT_FOUND,
            ),
            Some(g) => {
                let mut m = format!(
                    "<dl class=\"stats\"><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt>\
                     <dd class=\"mono\">{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>\
                     <div><dt>{}</dt><dd>{}</dd></div></dl><p>{}</p>",
                    t("name"),
                    esc(&ms.member.name),
                    t("phone"),
                    esc(&ms.member.phone),
                    t("role"),
                    g.role.as_str(),
                    t("opted_out"),
                    if g.opted_out { t("yes") } else { t("no") },
                    member_actions(page, group, member, g.role, g.opted_out),
                );
                let mi = &ms.member;
                let (name, phone, valid, sms) = match edit {
                    Some((f, _)) => (
                        f.name.as_str(),
                        f.phone.as_str(),
                        f.valid.is_some(),
                        f.sms_enabled.is_some(),
                    ),
                    None => (
                        mi.name.as_str(),
                        mi.phone.as_str(),
                        mi.valid,
                        mi.sms_enabled,
                    ),
                };
                let error = edit.map_or(String::new(), |(_, e)| {
                    inline_error(lang, "member-error", e)
                });
                m.push_str(&format!(
                    "<h2 id=\"h-edit-member\">{}</h2><form method=\"post\" action=\"/console/groups/{}/members/{}\" \
                     class=\"card\" id=\"member-edit\" aria-labelledby=\"h-edit-member\">{}{error}\
                     <input type=\"hidden\" name=\"action\" value=\"edit\">\
                     <label for=\"me-name\">{}</label><input id=\"me-name\" name=\"name\" required value=\"{}\">\
                     <label for=\"me-phone\">{}</label><input id=\"me-phone\" name=\"phone\" required \
                     inputmode=\"tel\" value=\"{}\"{}>\
                     <label class=\"check\"><input type=\"checkbox\" id=\"me-valid\" name=\"valid\" value=\"1\"{}> {}</label>\
                     <label class=\"check\"><input type=\"checkbox\" id=\"me-sms\" name=\"sms_enabled\" value=\"1\"{}> {}</label>\
                     <div class=\"buttons\"><button type=\"submit\" id=\"member-save\">{}</button></div></form>",
                    t("edit_member"),
                    url_encode(group),
                    url_encode(member),
                    hidden_csrf(page),
                    t("name"),
                    esc(name),
                    t("phone"),
                    esc(phone),
                    if edit.is_some() {
                        " aria-describedby=\"member-error\""
                    } else {
                        ""
                    },
                    checked(valid),
                    t("valid"),
                    checked(sms),
                    t("sms_enabled"),
                    t("save"),
                ));
                m.push_str(&format!(
                    "<p><a href=\"/console/groups/{}\">{} {}</a></p>",
                    url_encode(group),
                    t("group"),
                    esc(group)
                ));
                let status = edit.map_or(StatusCode::OK, |(_, e)| {
                    super::super::status_of(e.body.code)
                });
                (m, status)
            }
        },
    };
    html(lang, Some(page), &title, "groups", &m, status)
}

pub async fn membership_form(
    State(shared): Shd,
    page: Page,
    Path((group, member)): Path<(String, String)>,
) -> Response {
    membership_page(&shared, &page, &group, &member, None).await
}

/// A member's fields that differ from what they are: the change to ask for (a field left
/// as it is stays out of it, so that the API leaves it alone).
fn member_change(member: &str, now: &p::MemberInfo, form: &MembershipForm) -> p::MemberSet {
    let differs = |typed: &str, is: &str| Some(typed.trim().to_string()).filter(|v| v != is);
    let flag = |typed: bool, is: bool| (typed != is).then_some(typed);
    p::MemberSet {
        member: member.to_string(),
        name: differs(&form.name, &now.name),
        phone: differs(&form.phone, &now.phone),
        valid: flag(form.valid.is_some(), now.valid),
        sms_enabled: flag(form.sms_enabled.is_some(), now.sms_enabled),
        uid: None,
    }
}

/// A member changed by an administrator: their own fields (`action=edit`), their role in the
/// group, or their opt-out.
pub async fn membership(
    State(shared): Shd,
    page: Page,
    Path((group, member)): Path<(String, String)>,
    Form(form): Form<MembershipForm>,
) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    if form.action == "edit" {
        let done = async {
            let now: p::MemberShow = call(
                &shared,
                page.caller,
                Op::MemberShow(p::MemberShowArgs {
                    member: member.clone(),
                    limit: Some(1),
                    after: None,
                }),
            )
            .await?;
            let change = member_change(&member, &now.member, &form);
            call::<p::MemberInfo>(&shared, page.caller, Op::MemberSet(change)).await
        }
        .await;
        return match done {
            Ok(_) => redirect(&format!(
                "/console/groups/{}/members/{}",
                url_encode(&group),
                url_encode(&member)
            )),
            Err(e) => membership_page(&shared, &page, &group, &member, Some((&form, &e))).await,
        };
    }
    let pair = p::Membership {
        member: member.clone(),
        group: group.clone(),
    };
    let op = match form.action.as_str() {
        "opt_out" => Ok(Op::MemberOptOut(pair)),
        "opt_in" => Ok(Op::MemberOptIn(pair)),
        _ => serde_json::from_value::<Role>(serde_json::Value::from(form.role.as_str()))
            .map(|role| {
                Op::MemberRole(p::MemberRole {
                    member,
                    group: group.clone(),
                    role,
                })
            })
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidValue,
                    format!("{:?} is not a role (member, admin, super_admin)", form.role),
                )
            }),
    };
    let done = match op {
        Ok(op) => call::<p::MembershipInfo>(&shared, page.caller, op).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => redirect(&format!("/console/groups/{}", url_encode(&group))),
        Err(e) => html(
            page.lang,
            Some(&page),
            &format!("{} {group}", page.lang.t("group")),
            "groups",
            &api_error(page.lang, &e),
            super::super::status_of(e.body.code),
        ),
    }
}

/// The group form's fields, as typed.
#[derive(Deserialize, Default)]
pub struct GroupEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    header: String,
    #[serde(default)]
    daily_quota: String,
    #[serde(default)]
    monthly_quota: String,
    #[serde(default)]
    pinned_modems: String,
    #[serde(default)]
    pin_fallback: Option<String>,
    #[serde(default)]
    allow_urgent: Option<String>,
}

/// The add-a-member form's fields, as typed.
#[derive(Deserialize, Default)]
pub struct MemberAddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    uid: String,
}

/// A refused change of the group page: which form, what was typed, and why.
enum Refused<'a> {
    Group(&'a GroupEditForm, &'a ApiError),
    Add(&'a MemberAddForm, &'a ApiError),
}

fn pinned_list(typed: &str) -> Vec<String> {
    typed
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The group's fields that differ from what they are: the change to ask for. An emptied
/// header or quota goes back to the default (`null`).
fn group_change(now: &p::GroupInfo, form: &GroupEditForm) -> Result<p::GroupSet, ApiError> {
    let name = Some(form.name.trim().to_string()).filter(|v| *v != now.name);
    let header = match form.header.trim() {
        h if h == now.header => None,
        "" => Some(None),
        h => Some(Some(h.to_string())),
    };
    let quota = |typed: &str, is: u32, what: &str| -> Result<Option<Option<u32>>, ApiError> {
        Ok(match number_field(typed, what)? {
            Some(n) if n == is => None,
            Some(n) => Some(Some(n)),
            None => Some(None),
        })
    };
    let pinned = pinned_list(&form.pinned_modems);
    Ok(p::GroupSet {
        group: now.handle.clone(),
        name,
        header,
        daily_quota: quota(&form.daily_quota, now.daily_quota, "the daily quota")?,
        monthly_quota: quota(&form.monthly_quota, now.monthly_quota, "the monthly quota")?,
        pinned_modems: (pinned != now.pinned_modems).then_some(pinned),
        pin_fallback: (form.pin_fallback.is_some() != now.pin_fallback)
            .then_some(form.pin_fallback.is_some()),
        allow_urgent: (form.allow_urgent.is_some() != now.allow_urgent)
            .then_some(form.allow_urgent.is_some()),
    })
}

/// A group's settings changed by an administrator.
pub async fn group_edit(
    State(shared): Shd,
    page: Page,
    Path(handle): Path<String>,
    Form(form): Form<GroupEditForm>,
) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    let done = async {
        let now: p::GroupShow = call(
            &shared,
            page.caller,
            Op::GroupShow(p::GroupShowArgs {
                group: handle.clone(),
                limit: Some(1),
                after: None,
            }),
        )
        .await?;
        let change = group_change(&now.group, &form)?;
        call::<p::GroupInfo>(&shared, page.caller, Op::GroupSet(change)).await
    }
    .await;
    match done {
        Ok(_) => redirect(&format!("/console/groups/{}", url_encode(&handle))),
        Err(e) => {
            group_page(
                &shared,
                &page,
                &handle,
                None,
                Some(Refused::Group(&form, &e)),
            )
            .await
        }
    }
}

/// A new member, added to the group whose page the form is on (as a plain member).
pub async fn member_add(
    State(shared): Shd,
    page: Page,
    Path(handle): Path<String>,
    Form(form): Form<MemberAddForm>,
) -> Response {
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    let done = async {
        let add = p::MemberAdd {
            handle: form.handle.trim().to_string(),
            name: form.name.trim().to_string(),
            phone: form.phone.trim().to_string(),
            uid: number_field(&form.uid, "the Unix user id")?,
        };
        let member = add.handle.clone();
        call::<p::MemberInfo>(&shared, page.caller, Op::MemberAdd(add)).await?;
        call::<p::MembershipInfo>(
            &shared,
            page.caller,
            Op::MemberJoin(p::MemberJoin {
                member,
                group: handle.clone(),
                role: None,
            }),
        )
        .await
    }
    .await;
    match done {
        Ok(_) => redirect(&format!("/console/groups/{}", url_encode(&handle))),
        Err(e) => group_page(&shared, &page, &handle, None, Some(Refused::Add(&form, &e))).await,
    }
}

pub async fn group(
    State(shared): Shd,
    page: Page,
    Path(handle): Path<String>,
    Query(q): Query<AfterHandle>,
) -> Response {
    group_page(&shared, &page, &handle, q.after, None).await
}

/// A group's page: its settings (a form), a page of its members, and the form that adds one.
async fn group_page(
    shared: &Arc<Shared>,
    page: &Page,
    handle: &str,
    after: Option<String>,
    refused: Option<Refused<'_>>,
) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    if !page.admin() {
        return admins_only(page, t("nav_groups"), "groups");
    }
    let first = after.is_none();
    let shown: Result<p::GroupShow, ApiError> = call(
        shared,
        page.caller,
        Op::GroupShow(p::GroupShowArgs {
            group: handle.to_string(),
            limit: None,
            after,
        }),
    )
    .await;
    let (m, status) = match shown {
        Err(e) => (api_error(lang, &e), super::super::status_of(e.body.code)),
        Ok(g) => {
            let qt = &g.quota;
            let mut m = format!(
                "<dl class=\"stats\"><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>\
                 <div><dt>{} ({})</dt><dd>{} / {}</dd></div><div><dt>{} ({})</dt><dd>{} / {}</dd></div></dl>\
                 <p><a href=\"/console/send?group={}\">{}</a></p>",
                t("name"),
                esc(&g.group.name),
                t("header"),
                esc(&g.group.header),
                t("quota_left"),
                t("quota_day"),
                qt.day_limit.saturating_sub(qt.day_used),
                qt.day_limit,
                t("quota_left"),
                t("quota_month"),
                qt.month_limit.saturating_sub(qt.month_used),
                qt.month_limit,
                url_encode(&g.group.handle),
                t("nav_send")
            );
            m.push_str(&format!(
                "<h2>{}</h2>{}",
                t("members"),
                table_head(
                    " id=\"members\"",
                    &[
                        t("handle"),
                        t("name"),
                        t("phone"),
                        t("role"),
                        t("opted_out"),
                        t("sms_disabled"),
                        t("change"),
                    ],
                )
            ));
            for mb in &g.members {
                m.push_str(&format!(
                    "<tr data-member=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td class=\"mono\">{}</td>\
                     <td data-role=\"{}\">{}</td><td data-opted-out=\"{}\">{}</td><td>{}</td>\
                     <td><a class=\"change\" href=\"/console/groups/{}/members/{}\">{}</a></td></tr>",
                    esc(&mb.handle),
                    esc(&mb.handle),
                    esc(&mb.name),
                    esc(&mb.phone),
                    mb.role.as_str(),
                    mb.role.as_str(),
                    mb.opted_out,
                    if mb.opted_out { t("yes") } else { t("no") },
                    if mb.sms_enabled { t("no") } else { t("yes") },
                    url_encode(&g.group.handle),
                    url_encode(&mb.handle),
                    t("change")
                ));
            }
            m.push_str("</tbody></table></div>");
            m.push_str(&pager(
                lang,
                &format!("/console/groups/{}", url_encode(handle)),
                g.next.clone(),
                first,
            ));
            let (group_refused, add_refused) = match &refused {
                Some(Refused::Group(f, e)) => (Some((*f, *e)), None),
                Some(Refused::Add(f, e)) => (None, Some((*f, *e))),
                None => (None, None),
            };
            // Side by side on a desktop, one after the other on a phone.
            m.push_str(&format!(
                "<div class=\"split\"><div>{}</div><div>{}</div></div>",
                group_edit_form(page, &g.group, group_refused),
                member_add_form(page, &g.group.handle, add_refused)
            ));
            let status = match &refused {
                Some(Refused::Group(_, e)) | Some(Refused::Add(_, e)) => {
                    super::super::status_of(e.body.code)
                }
                None => StatusCode::OK,
            };
            (m, status)
        }
    };
    html(
        lang,
        Some(page),
        &format!("{} {}", t("group"), handle),
        "groups",
        &m,
        status,
    )
}

/// The form that adds a member to the group (`refused`: what was typed, and why not).
fn member_add_form(
    page: &Page,
    group: &str,
    refused: Option<(&MemberAddForm, &ApiError)>,
) -> String {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let empty = MemberAddForm::default();
    let f = refused.map_or(&empty, |(f, _)| f);
    let error = refused.map_or(String::new(), |(_, e)| inline_error(lang, "add-error", e));
    let described = if refused.is_some() {
        " aria-describedby=\"add-error\""
    } else {
        ""
    };
    format!(
        "<h2 id=\"h-add\">{}</h2><form method=\"post\" action=\"/console/groups/{}/members\" \
         class=\"card\" id=\"member-add\" aria-labelledby=\"h-add\">{}{error}\
         <label for=\"am-handle\">{}</label><input id=\"am-handle\" name=\"handle\" required \
         autocomplete=\"off\" spellcheck=\"false\" value=\"{}\">\
         <label for=\"am-name\">{}</label><input id=\"am-name\" name=\"name\" required value=\"{}\">\
         <label for=\"am-phone\">{}</label><input id=\"am-phone\" name=\"phone\" required \
         inputmode=\"tel\" value=\"{}\"{described}>\
         <label for=\"am-uid\">{}</label><input id=\"am-uid\" name=\"uid\" inputmode=\"numeric\" \
         value=\"{}\">\
         <div class=\"buttons\"><button type=\"submit\" id=\"member-add-button\">{}</button></div></form>",
        t("add_member"),
        url_encode(group),
        hidden_csrf(page),
        t("handle"),
        esc(&f.handle),
        t("name"),
        esc(&f.name),
        t("phone"),
        esc(&f.phone),
        t("uid"),
        esc(&f.uid),
        t("add")
    )
}

/// The form that changes the group's settings, filled with what they are (or, refused, with
/// what was typed).
fn group_edit_form(
    page: &Page,
    g: &p::GroupInfo,
    refused: Option<(&GroupEditForm, &ApiError)>,
) -> String {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let now = GroupEditForm {
        name: g.name.clone(),
        header: g.header.clone(),
        daily_quota: g.daily_quota.to_string(),
        monthly_quota: g.monthly_quota.to_string(),
        pinned_modems: g.pinned_modems.join(", "),
        pin_fallback: g.pin_fallback.then(String::new),
        allow_urgent: g.allow_urgent.then(String::new),
        ..GroupEditForm::default()
    };
    let f = refused.map_or(&now, |(f, _)| f);
    let error = refused.map_or(String::new(), |(_, e)| inline_error(lang, "group-error", e));
    format!(
        "<h2 id=\"h-edit\">{}</h2><form method=\"post\" action=\"/console/groups/{}\" class=\"card\" \
         id=\"group-edit\" aria-labelledby=\"h-edit\">{}{error}\
         <label for=\"ge-name\">{}</label><input id=\"ge-name\" name=\"name\" required value=\"{}\">\
         <label for=\"ge-header\">{}</label><input id=\"ge-header\" name=\"header\" value=\"{}\" \
         aria-describedby=\"ge-header-help\"><p class=\"help\" id=\"ge-header-help\">{}</p>\
         <label for=\"ge-daily\">{} ({})</label><input id=\"ge-daily\" name=\"daily_quota\" \
         inputmode=\"numeric\" value=\"{}\" aria-describedby=\"ge-quota-help\">\
         <label for=\"ge-monthly\">{} ({})</label><input id=\"ge-monthly\" name=\"monthly_quota\" \
         inputmode=\"numeric\" value=\"{}\" aria-describedby=\"ge-quota-help\">\
         <p class=\"help\" id=\"ge-quota-help\">{}</p>\
         <label for=\"ge-pinned\">{}</label><input id=\"ge-pinned\" name=\"pinned_modems\" \
         spellcheck=\"false\" value=\"{}\" aria-describedby=\"ge-pinned-help\">\
         <p class=\"help\" id=\"ge-pinned-help\">{}</p>\
         <label class=\"check\"><input type=\"checkbox\" id=\"ge-fallback\" name=\"pin_fallback\" value=\"1\"{}> {}</label>\
         <label class=\"check\"><input type=\"checkbox\" id=\"ge-urgent\" name=\"allow_urgent\" value=\"1\"{}> {}</label>\
         <div class=\"buttons\"><button type=\"submit\" id=\"group-save\">{}</button></div></form>",
        t("edit_group"),
        url_encode(&g.handle),
        hidden_csrf(page),
        t("name"),
        esc(&f.name),
        t("header"),
        esc(&f.header),
        t("header_help"),
        t("quota_word"),
        t("quota_day"),
        esc(&f.daily_quota),
        t("quota_word"),
        t("quota_month"),
        esc(&f.monthly_quota),
        t("quota_help"),
        t("pinned"),
        esc(&f.pinned_modems),
        t("pinned_help"),
        checked(f.pin_fallback.is_some()),
        t("pin_fallback"),
        checked(f.allow_urgent.is_some()),
        t("allow_urgent"),
        t("save")
    )
}

/// A member row's forms: their role, and opting them out or back in.
fn member_actions(page: &Page, group: &str, member: &str, role: Role, opted_out: bool) -> String {
    let t = |k| page.lang.t(k);
    let action = format!(
        "/console/groups/{}/members/{}",
        url_encode(group),
        url_encode(member)
    );
    let id = format!("role-{}", esc(member));
    let mut s = format!(
        "<form method=\"post\" action=\"{action}\" class=\"inline role-form\">{}\
         <input type=\"hidden\" name=\"action\" value=\"role\">\
         <label class=\"sr\" for=\"{id}\">{} {}</label><select id=\"{id}\" name=\"role\">",
        hidden_csrf(page),
        t("role"),
        esc(member)
    );
    for r in [Role::Member, Role::Admin, Role::SuperAdmin] {
        let sel = if r == role { " selected" } else { "" };
        s.push_str(&format!(
            "<option value=\"{0}\"{sel}>{0}</option>",
            r.as_str()
        ));
    }
    s.push_str(&format!(
        "</select> <button type=\"submit\" class=\"small\">{}</button></form> \
         <form method=\"post\" action=\"{action}\" class=\"inline\">{}\
         <button type=\"submit\" class=\"small\" name=\"action\" value=\"{}\">{}</button></form>",
        t("save"),
        hidden_csrf(page),
        if opted_out { "opt_in" } else { "opt_out" },
        if opted_out {
            t("do_opt_in")
        } else {
            t("do_opt_out")
        }
    ));
    s
}

#[derive(Deserialize, Default)]
pub struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
    /// `confirm`: write what the preview showed; anything else: preview.
    #[serde(default)]
    action: String,
    /// The confirmation's: bad rows were shown and are to be left out.
    #[serde(default)]
    skip_bad: Option<String>,
    /// The confirmation's: the digest of the CSV previewed, and the counts shown.
    #[serde(default)]
    digest: String,
    #[serde(default)]
    expect: String,
}

fn import_page(page: &Page, csv: &str, body: &str, status: StatusCode) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    let mut m = String::from(body);
    m.push_str(&format!(
        "<form method=\"post\" action=\"/console/import\" class=\"card\" id=\"import-form\">{}\
         <p class=\"help\" id=\"import-help\">{}</p>\
         <label for=\"csv\">{}</label><textarea id=\"csv\" name=\"csv\" rows=\"10\" required \
         spellcheck=\"false\" aria-describedby=\"import-help\">{}</textarea>\
         <label for=\"csv-file\">{}</label><input type=\"file\" id=\"csv-file\" accept=\".csv,text/csv\">\
         <div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"preview\" \
         id=\"import-button\">{}</button></div></form>",
        hidden_csrf(page),
        t("import_help"),
        t("csv"),
        esc(csv),
        t("csv_file"),
        t("preview")
    ));
    html(lang, Some(page), t("import_title"), "import", &m, status)
}

pub async fn import_form(page: Page) -> Response {
    if !page.admin() {
        return admins_only(&page, page.lang.t("import_title"), "import");
    }
    import_page(&page, "", "", StatusCode::OK)
}

/// The CSV's digest: the confirmation carries the CSV back, and this says it is the one
/// previewed.
fn csv_digest(csv: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(csv.as_bytes()))
}

/// What an import did or would do, as the confirmation compares it.
fn import_counts(r: &p::ImportResult) -> String {
    format!(
        "{},{},{},{},{},{}",
        r.members_created,
        r.members_updated,
        r.members_unchanged,
        r.memberships_added,
        r.memberships_changed,
        r.skipped_total
    )
}

fn import_summary(lang: Lang, r: &p::ImportResult) -> String {
    let t = |k| lang.t(k);
    format!(
        "{} {} · {} {} · {} {} · {} {} · {} {}",
        r.members_created,
        t("created_n"),
        r.members_updated,
        t("updated_n"),
        r.members_unchanged,
        t("unchanged_n"),
        r.memberships_added + r.memberships_changed,
        t("memberships_n"),
        r.skipped_total,
        t("skipped_n")
    )
}

/// The import in two steps. First a dry run (the API's `dry_run`): what would be added and
/// changed, the bad rows with their lines, and nothing written, even when every row is
/// good. Then the confirmation, which carries the CSV back with its digest and the counts
/// shown: it is checked again (a dry run) and written only if it is the same CSV and would do
/// the same; otherwise the new preview is shown and nothing is written.
pub async fn import(State(shared): Shd, page: Page, Form(form): Form<ImportForm>) -> Response {
    let lang = page.lang;
    let t = |k| lang.t(k);
    if !csrf_ok(&page, &form.csrf) {
        return csrf_refused(&page);
    }
    // Browsers send a textarea's lines ended by CR LF: the importer reads them as one line
    // end (service::import), so bad rows are named by the lines the person sees.
    let csv = form.csv;
    let run = |dry_run: bool, skip_bad: bool| {
        call::<p::ImportResult>(
            &shared,
            page.caller,
            Op::MemberImport(p::MemberImport {
                csv: csv.clone(),
                skip_bad,
                dry_run,
            }),
        )
    };
    // The preview leaves the bad rows out (to list them beside what the good ones would do).
    let preview = run(true, true).await;
    let mut m = String::new();
    if form.action == "confirm" {
        let skip_bad = form.skip_bad.is_some();
        let same = session::same(&form.digest, &csv_digest(&csv))
            && preview
                .as_ref()
                .is_ok_and(|r| import_counts(r) == form.expect)
            && (skip_bad || preview.as_ref().is_ok_and(|r| r.skipped_total == 0));
        if same {
            match run(false, skip_bad).await {
                Ok(r) => {
                    let mut m = format!(
                        "<div class=\"ok\" role=\"status\" id=\"import-done\"><strong>{}</strong>: {}</div>",
                        t("imported"),
                        import_summary(lang, &r)
                    );
                    if !r.skipped.is_empty() {
                        m.push_str(&bad_rows(
                            lang,
                            r.skipped.iter().map(|s| (s.line, s.reason.as_str())),
                        ));
                    }
                    return import_page(&page, "", &m, StatusCode::OK);
                }
                Err(e) => {
                    m.push_str(&api_error(lang, &e));
                }
            }
        } else {
            m.push_str(&format!(
                "<div class=\"alert\" role=\"alert\" id=\"import-changed\">{}</div>",
                t("import_changed")
            ));
        }
    }
    match preview {
        Ok(r) => {
            m.push_str(&format!(
                "<section class=\"card\" id=\"import-preview\" aria-labelledby=\"h-import-preview\">\
                 <h2 id=\"h-import-preview\">{}</h2><p role=\"status\" data-counts=\"{}\">{}</p>",
                t("import_preview"),
                import_counts(&r),
                import_summary(lang, &r)
            ));
            m.push_str(&import_rows(lang, &r));
            if r.skipped_total > 0 {
                m.push_str(&format!(
                    "<div class=\"alert\" role=\"alert\" id=\"import-refused\"><strong>{} {}</strong></div>",
                    r.skipped_total,
                    t("would_skip")
                ));
                m.push_str(&bad_rows(
                    lang,
                    r.skipped.iter().map(|s| (s.line, s.reason.as_str())),
                ));
            }
            m.push_str(&format!(
                "<form method=\"post\" action=\"/console/import\" class=\"confirm\" id=\"import-confirm\">{}\
                 <input type=\"hidden\" name=\"action\" value=\"confirm\">\
                 <input type=\"hidden\" name=\"csv\" value=\"{}\">\
                 <input type=\"hidden\" name=\"digest\" value=\"{}\">\
                 <input type=\"hidden\" name=\"expect\" value=\"{}\">{}\
                 <button type=\"submit\" id=\"import-confirm-button\" class=\"primary\">{}</button></form></section>",
                hidden_csrf(&page),
                esc(&csv),
                csv_digest(&csv),
                import_counts(&r),
                if r.skipped_total > 0 {
                    "<input type=\"hidden\" name=\"skip_bad\" value=\"1\">"
                } else {
                    ""
                },
                if r.skipped_total > 0 {
                    t("import_good")
                } else {
                    t("confirm_import")
                }
            ));
            import_page(&page, &csv, &m, StatusCode::OK)
        }
        Err(e) if e.body.code == ErrorCode::PermissionDenied => {
            admins_only(&page, t("import_title"), "import")
        }
        Err(e) => {
            // The file as a whole is refused (its header, its size): nothing to confirm.
            m.push_str(&format!(
                "<div class=\"alert\" role=\"alert\" id=\"import-refused\"><strong>{}</strong></div>",
                t("import_refused")
            ));
            m.push_str(&api_error(lang, &e));
            import_page(&page, &csv, &m, super::super::status_of(e.body.code))
        }
    }
}

/// A preview's good rows, each with what it would do to the member and their place.
fn import_rows(lang: Lang, r: &p::ImportResult) -> String {
    let t = |k| lang.t(k);
    if r.rows.is_empty() {
        return String::new();
    }
    let word = |w: &str| match w {
        "created" => t("ch_created"),
        "updated" => t("ch_updated"),
        "added" => t("ch_added"),
        "changed" => t("ch_changed"),
        _ => t("ch_unchanged"),
    };
    let mut m = table_head(
        " id=\"import-rows\"",
        &[
            t("line"),
            t("member"),
            t("to_member"),
            t("group"),
            t("to_group"),
        ],
    );
    for row in &r.rows {
        m.push_str(&format!(
            "<tr data-line=\"{}\" data-member=\"{}\" data-change=\"{}\"><th scope=\"row\">{}</th>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.line,
            esc(&row.member),
            esc(&row.change),
            row.line,
            esc(&row.member),
            word(&row.change),
            esc(row.group.as_deref().unwrap_or("–")),
            row.membership.as_deref().map_or("–", word)
        ));
    }
    m.push_str("</tbody></table></div>");
    let good = r.members_created + r.members_updated + r.members_unchanged;
    let listed = r.rows.len() as u32;
    if good > listed {
        m.push_str(&format!(
            "<p class=\"help\">… {} {}</p>",
            good - listed,
            t("rows_more")
        ));
    }
    m
}

/// The start of a scrolling table, up to its body: `attrs` go on `<table` (` id="x"` or
/// nothing), one column heading each (our own words, not escaped).
fn table_head(attrs: &str, headings: &[&str]) -> String {
    let mut m = format!("<div class=\"scroll\"><table{attrs}><thead><tr>");
    for h in headings {
        m.push_str(&format!("<th scope=\"col\">{h}</th>"));
    }
    m.push_str("</tr></thead><tbody>");
    m
}

fn bad_rows<'a>(lang: Lang, rows: impl Iterator<Item = (u64, &'a str)>) -> String {
    let mut m = table_head(" id=\"bad-rows\"", &[lang.t("line"), lang.t("reason")]);
    for (line, reason) in rows {
        m.push_str(&format!(
            "<tr data-line=\"{line}\"><th scope=\"row\">{line}</th><td>{}</td></tr>",
            esc(reason)
        ));
    }
    m.push_str("</tbody></table></div>");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_bars_and_highlights() {
        assert_eq!(bars(Some(-60)), 4);
        assert_eq!(bars(Some(-90)), 2);
        assert_eq!(bars(Some(-120)), 0);
        assert_eq!(bars(None), 0);
        let found = vec![p::SensitiveMatch {
            word: "代开发票".into(),
            start: 2,
            end: 7,
        }];
        assert_eq!(
            highlight("你好代开 发票<b>", &found),
            "你好<mark>代开 发票</mark>&lt;b&gt;"
        );
    }
}
