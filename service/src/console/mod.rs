//! The supervisors' web console at `/`: sign in with the API token, the alerts of one's grid
//! subtree (filters, self-refreshing list), an alert's page (history, evidence, who was told,
//! who acknowledged, a chart of the metric around it), acknowledge / resolve / silence through
//! the same journaled, audited writes as the API, and the grid as a tree with each site's
//! status. Server-rendered HTML (Chinese first, `?lang=en` or the `wj_lang` cookie for
//! English), every asset in the binary, pages that work without JavaScript.
//!
//! # Layout
//!
//! - this file: [`router`], the signed-in extractor ([`Signed`]), cookies, sign-in and out,
//!   the language switch, the assets;
//! - `session`: sessions in memory (cookie id, CSRF token, expiry) and the sign-in throttle;
//! - `page`: escaping, language, the page frame, Beijing time, level badges;
//! - `list`: the alert list and its refresh fragment;
//! - `alert`: an alert's page and the writes on it (acknowledge, resolve, silence);
//! - `chart`: the metric around an alert from QuestDB's `/exec`, drawn as inline SVG;
//! - `grid`: the grid tree (区 / 街道 / 社区 / sites / devices);
//! - `assets/`: the stylesheet and the small script (self-refresh), compiled in.
//!
//! Every form POST carries the session's CSRF token (a synchronizer token, compared in
//! constant time); a POST without it, or with another, is refused with 403 and changes
//! nothing. Sign-in itself is protected by a token bound to a short-lived cookie.

mod alert;
pub mod chart;
mod grid;
mod list;
pub mod page;
mod session;

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::FormRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::api::caller::{Caller, Origin};
use crate::api::ApiState;
use page::{esc, Lang, Who};
pub use session::Sessions;
use session::{same_secret, Session};
use weijian_ingest::config::console::ConsoleSettings;
use weijian_ingest::config::endpoint::QuestDbEndpoint;

/// The session cookie.
const SESSION_COOKIE: &str = "wj_session";
/// The sign-in form's cookie (its token is the form's hidden field).
const SIGNIN_COOKIE: &str = "wj_signin";
/// The language cookie (`en` or `zh`).
const LANG_COOKIE: &str = "wj_lang";

/// Where the console reads the readings it charts.
#[derive(Debug, Clone)]
pub struct ChartSource {
    pub endpoint: QuestDbEndpoint,
    pub table_prefix: String,
    /// How long the page waits for the readings (`http.console_chart_timeout_ms`).
    pub timeout: std::time::Duration,
}

/// What the console's handlers share.
#[derive(Debug, Clone)]
pub(crate) struct ConsoleState {
    pub api: ApiState,
    pub sessions: Sessions,
    pub chart: Option<ChartSource>,
}

/// The console's routes, over the API's state (the same desk, journal and refusal audit).
pub(crate) fn router(
    api: ApiState,
    settings: ConsoleSettings,
    chart: Option<ChartSource>,
) -> Router {
    let max_body = api.desk.limits().max_body_bytes;
    let state = ConsoleState {
        api,
        sessions: Sessions::new(settings),
        chart,
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/alerts") }))
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", post(signout))
        .route("/lang", get(switch_lang))
        .route("/alerts", get(list::page))
        .route("/fragments/alerts", get(list::fragment))
        .route("/alerts/{id}", get(alert::page))
        .route("/alerts/{id}/ack", post(alert::acknowledge))
        .route("/alerts/{id}/resolve", post(alert::resolve))
        .route("/silences", post(alert::silence))
        .route("/grid", get(grid::page))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(protect))
        .with_state(state)
}

/// Every console answer: scripts, styles and forms from this origin only, never framed, never
/// cached by a shared cache (pages show one supervisor's alerts).
async fn protect(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl ConsoleState {
    /// Whether cookies are `Secure`: `http.public_url` is `https://`, or this request came
    /// over HTTPS.
    fn secure(&self, headers: &HeaderMap) -> bool {
        self.sessions.settings().secure_cookies || https(headers)
    }
}

/// Whether the request came over HTTPS (a reverse proxy in front says so with
/// `X-Forwarded-Proto: https`).
fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure over HTTPS.
fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn remote_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

/// A path on this console to return to after sign-in: only a local path (`/...`, never
/// `//host` or a scheme), else the alert list.
fn local_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if ok {
        next.to_owned()
    } else {
        "/alerts".to_owned()
    }
}

/// A signed-in supervisor: the session, the API's caller (for the same reads, writes and
/// audits), the page language.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub caller: Caller,
    pub session: Session,
    pub session_id: String,
    pub lang: Lang,
}

impl Signed {
    pub fn who(&self) -> Who {
        Who {
            name: self.caller.supervisor.name.clone(),
            cell: self.caller.supervisor.cell.to_string(),
            csrf: self.session.csrf.clone(),
        }
    }

    /// Refuses a form POST whose CSRF token is missing or not this session's: audited as a
    /// refusal, then a 403 page. `Ok` when it matches.
    ///
    /// # Errors
    /// The 403 page.
    pub async fn check_csrf(&self, state: &ConsoleState, presented: &str) -> Result<(), Response> {
        if same_secret(presented, &self.session.csrf) {
            return Ok(());
        }
        let why = if presented.is_empty() {
            "the form carries no CSRF token"
        } else {
            "the form's CSRF token is not this session's"
        };
        state
            .api
            .refusals
            .refused(
                &self.caller.origin,
                Some(self.caller.id()),
                StatusCode::FORBIDDEN,
                &format!("console: {why}"),
            )
            .await;
        let lang = self.lang;
        Err(page::problem(
            lang,
            StatusCode::FORBIDDEN,
            Some(&self.who()),
            lang.t("请求被拒绝（安全令牌无效）", "Refused: no valid form token"),
            lang.t(
                "此表单缺少安全令牌或令牌已失效（例如已退出后重新登录）。未做任何更改。请返回页面重新提交。",
                "This form carried no valid security (CSRF) token, for example after signing out and in again. Nothing was changed. Go back, reload the page and submit again.",
            ),
        ))
    }
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Response> {
        let lang = Lang::of(parts);
        let found = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| state.sessions.get(id).map(|s| (id.to_owned(), s)));
        let signed = found.and_then(|(id, session)| {
            let supervisor = state.api.desk.read(|st| {
                st.engine
                    .config()
                    .supervisor(&session.supervisor)
                    .filter(|s| s.token_sha256.eq_ignore_ascii_case(&session.token_sha256))
                    .cloned()
            });
            if supervisor.is_none() {
                // Removed from the supervisors file, or the token was rotated.
                state.sessions.close(&id);
            }
            supervisor.map(|supervisor| (id, session, supervisor))
        });
        match signed {
            Some((session_id, session, supervisor)) => Ok(Signed {
                caller: Caller {
                    supervisor,
                    origin: Origin::of(parts),
                },
                session,
                session_id,
                lang,
            }),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/alerts", |pq| pq.as_str());
                let target = if parts.method == axum::http::Method::GET
                    && !here.starts_with("/fragments/")
                {
                    here
                } else {
                    "/alerts"
                };
                if here.starts_with("/fragments/") {
                    // The list's script: the session ended; it says so instead of refreshing.
                    return Err(StatusCode::UNAUTHORIZED.into_response());
                }
                Err(Redirect::to(&format!("/signin?next={}", page::enc(target))).into_response())
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    lang: String,
}

/// The sign-in form, with a fresh sign-in token in a cookie and in the form.
async fn signin_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lang = lang_of(&headers, &q.lang);
    signin_page(
        &state,
        lang,
        &q.next,
        StatusCode::OK,
        None,
        state.secure(&headers),
    )
}

fn lang_of(headers: &HeaderMap, query_lang: &str) -> Lang {
    match (query_lang, cookie(headers, LANG_COOKIE)) {
        ("en", _) | ("", Some("en")) => Lang::En,
        _ => Lang::Zh,
    }
}

fn signin_page(
    state: &ConsoleState,
    lang: Lang,
    next: &str,
    status: StatusCode,
    message: Option<&str>,
    secure: bool,
) -> Response {
    let form_token = state.sessions.random_token();
    let note = message.map_or(String::new(), |m| {
        format!("<p class=\"flash bad\" role=\"alert\">{}</p>", esc(m))
    });
    let body = format!(
        "<section class=\"card narrow\"><h1>{}</h1>{note}\
         <form method=\"post\" action=\"/signin\" class=\"stack\">\
         <input type=\"hidden\" name=\"form\" value=\"{}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>{}<input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" class=\"button primary\">{}</button></form>\
         <p class=\"hint\">{}</p></section>",
        lang.t("监督员登录", "Supervisor sign-in"),
        esc(&form_token),
        esc(&local_path(next)),
        lang.t("API 令牌", "API token"),
        lang.t("登录", "Sign in"),
        lang.t(
            "使用与预警接口相同的令牌。登录后会话保存在本服务的内存中，服务重启后需要重新登录。",
            "Use the same token as the alert API. Sessions live in this service's memory: a restart signs everyone out.",
        ),
    );
    let mut response = (
        status,
        page::frame(lang, lang.t("登录", "Sign in"), None, "/signin", &body),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        header::SET_COOKIE,
        set_cookie(SIGNIN_COOKIE, &form_token, 3600, secure),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Default, Deserialize)]
struct SigninForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    form: String,
    #[serde(default)]
    next: String,
}

/// Exchanges a supervisor's API token for a session cookie.
async fn signin(
    State(state): State<ConsoleState>,
    ConnectInfoOpt(remote): ConnectInfoOpt,
    headers: HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let lang = lang_of(&headers, "");
    let secure = state.secure(&headers);
    let Ok(Form(f)) = form else {
        return signin_page(
            &state,
            lang,
            "",
            StatusCode::BAD_REQUEST,
            Some(lang.t(
                "登录表单无效，请重试。",
                "The sign-in form was not valid; try again.",
            )),
            secure,
        );
    };
    let bound = cookie(&headers, SIGNIN_COOKIE).is_some_and(|c| same_secret(c, &f.form));
    if !bound {
        return signin_page(
            &state,
            lang,
            &f.next,
            StatusCode::FORBIDDEN,
            Some(lang.t(
                "登录表单已过期或不是本页面发出的，请重新输入令牌。",
                "The sign-in form expired or did not come from this page; enter the token again.",
            )),
            secure,
        );
    }
    if let Err(t) = state.sessions.check_throttle(remote) {
        let minutes = t.retry_after.as_secs().div_ceil(60);
        let message = match lang {
            Lang::Zh => format!("登录失败次数过多，请 {minutes} 分钟后再试。"),
            Lang::En => format!(
                "Too many failed sign-ins from this address; try again in {minutes} minutes."
            ),
        };
        let mut r = signin_page(
            &state,
            lang,
            &f.next,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&message),
            secure,
        );
        if let Ok(v) = HeaderValue::from_str(&t.retry_after.as_secs().to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let token = f.token.trim();
    let supervisor = (!token.is_empty())
        .then(|| state.api.desk.authenticate(token))
        .flatten();
    let Some(supervisor) = supervisor else {
        state.sessions.failed(remote);
        let origin = Origin {
            remote: remote.map(|ip| ip.to_string()),
            method: "POST".to_owned(),
            path: uri.path().to_owned(),
        };
        state
            .api
            .refusals
            .refused(
                &origin,
                None,
                StatusCode::UNAUTHORIZED,
                "console sign-in: the token is not a supervisor's API token",
            )
            .await;
        return signin_page(
            &state,
            lang,
            &f.next,
            StatusCode::UNAUTHORIZED,
            Some(lang.t("令牌无效。", "That token is not a supervisor's API token.")),
            secure,
        );
    };
    state.sessions.succeeded(remote);
    let Some(id) = state
        .sessions
        .open(&supervisor.id, &supervisor.token_sha256)
    else {
        return page::problem(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            lang.t("暂时无法登录", "Cannot sign in now"),
            lang.t(
                "无法生成会话，请稍后再试。",
                "No session could be made; try again later.",
            ),
        );
    };
    tracing::info!(supervisor = %supervisor.id, "A supervisor signed in to the console.");
    let max_age = state.sessions.settings().session.as_secs();
    let mut response = Redirect::to(&local_path(&f.next)).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, max_age, secure),
    );
    h.append(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, "", 0, secure));
    response
}

/// The form of a POST that only carries the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

async fn signout(
    State(state): State<ConsoleState>,
    signed: Signed,
    headers: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let presented = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(refused) = signed.check_csrf(&state, &presented).await {
        return refused;
    }
    state.sessions.close(&signed.session_id);
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, state.secure(&headers)),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    next: String,
}

/// Sets the language cookie and returns to the page.
async fn switch_lang(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    query: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let to = if q.to == "en" { "en" } else { "zh" };
    let mut response = Redirect::to(&local_path(&q.next)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(LANG_COOKIE, to, 365 * 86_400, state.secure(&headers)),
    );
    response
}

/// The remote address, when the server runs with connect info.
pub(crate) struct ConnectInfoOpt(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectInfoOpt(remote_ip(parts)))
    }
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
