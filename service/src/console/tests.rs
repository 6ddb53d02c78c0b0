//! The console over a real desk (the API's test harness): sign-in and sessions, the subtree
//! rules on pages and writes, CSRF refusals, the writes' results, escaping, the chart when
//! QuestDB is down, the grid tree, the language switch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alerting::Level;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::ChartSource;
use crate::api::tests::{Harness, SHUICHANG, XUEFU};
use weijian_ingest::config::console::ConsoleSettings;
use weijian_ingest::config::endpoint::QuestDbEndpoint;

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Set-Cookie` value of cookie `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the first hidden field `name` in the page.
    fn field(&self, name: &str) -> String {
        let key = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&key)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + key.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

struct Console {
    h: Harness,
    router: Router,
}

impl Console {
    async fn new() -> Console {
        Self::with(ConsoleSettings::default(), None).await
    }

    async fn with(settings: ConsoleSettings, chart: Option<ChartSource>) -> Console {
        let h = Harness::new().await;
        let router = super::router(h.state.clone(), settings, chart);
        Console { h, router }
    }

    async fn send(&self, req: Request<Body>) -> Page {
        let mut req = req;
        let remote: SocketAddr = "10.1.2.3:50000".parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(remote));
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookies: &str) -> Page {
        let req = Request::get(path)
            .header(header::COOKIE, cookies)
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    async fn post(&self, path: &str, cookies: &str, form: &str) -> Page {
        let req = Request::post(path)
            .header(header::COOKIE, cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(req).await
    }

    /// Signs in with `token`: the answer to the form's POST and the cookie header to send.
    async fn sign_in(&self, token: &str) -> (Page, String) {
        let form = self.get("/signin?next=%2Fgrid", "").await;
        assert_eq!(form.status, StatusCode::OK);
        let signin_cookie = form.set_cookie("wj_signin").unwrap();
        let pair = signin_cookie.split(';').next().unwrap().to_owned();
        let body = format!(
            "form={}&next=%2Fgrid&token={}",
            form.field("form"),
            super::page::enc(token)
        );
        let answer = self.post("/signin", &pair, &body).await;
        let session = answer
            .set_cookie("wj_session")
            .map(|c| c.split(';').next().unwrap().to_owned())
            .unwrap_or_default();
        (answer, session)
    }

    async fn session(&self, token: &str) -> String {
        let (answer, cookie) = self.sign_in(token).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        cookie
    }

    /// The CSRF token of the session (from any signed-in page).
    async fn csrf(&self, cookie: &str) -> String {
        self.get("/alerts", cookie).await.field("csrf")
    }

    fn alert_state(&self, id: &str) -> Option<bool> {
        self.h
            .desk
            .read(|st| st.engine.alert(id).map(|a| a.ack.is_some()))
    }
}

#[tokio::test]
async fn a_token_becomes_an_http_only_strict_session_cookie_and_sign_in_returns_to_the_page() {
    let c = Console::new().await;
    let (answer, cookie) = c.sign_in(SHUICHANG).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/grid");
    let set = answer.set_cookie("wj_session").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP: no Secure flag ({set})"
    );
    let page = c.get("/grid", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("sq-shuichang 协管员"), "{}", page.body);

    // Signed out: the cookie no longer opens pages.
    let csrf = c.csrf(&cookie).await;
    let out = c.post("/signout", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = c.get("/alerts", &cookie).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/signin?next=%2Falerts");
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_a_foreign_next_is_ignored() {
    let c = Console::new().await;
    let form = c.get("/signin", "").await;
    let pair = form
        .set_cookie("wj_signin")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let req = Request::post("/signin")
        .header(header::COOKIE, pair)
        .header("x-forwarded-proto", "https")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "form={}&next=%2F%2Fevil.example%2F&token={SHUICHANG}",
            form.field("form")
        )))
        .unwrap();
    let answer = c.send(req).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/alerts");
    assert!(answer
        .set_cookie("wj_session")
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn an_https_public_url_makes_every_cookie_secure_without_a_proxy_header() {
    let c = Console::with(
        ConsoleSettings {
            secure_cookies: true,
            ..ConsoleSettings::default()
        },
        None,
    )
    .await;
    let form = c.get("/signin", "").await;
    assert!(form.set_cookie("wj_signin").unwrap().contains("; Secure"));
    let (answer, _) = c.sign_in(SHUICHANG).await;
    let session = answer.set_cookie("wj_session").unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_repeated_failures_are_throttled() {
    let c = Console::with(
        ConsoleSettings {
            signin_max_failures: 3,
            ..ConsoleSettings::default()
        },
        None,
    )
    .await;
    for _ in 0..3 {
        let (answer, cookie) = c.sign_in("not-a-token").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(cookie.is_empty());
        assert!(answer.body.contains("令牌无效"));
    }
    // Even the right token is refused from this address until the window ends.
    let (answer, cookie) = c.sign_in(SHUICHANG).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie.is_empty());
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    // The failures are audited as refusals (401) like the API's.
    let rows = c.h.audit(1).await;
    assert!(rows.iter().any(|r| r.status == 401), "{rows:?}");
}

#[tokio::test]
async fn a_sign_in_post_not_from_the_form_is_refused() {
    let c = Console::new().await;
    let answer = c
        .post(
            "/signin",
            "",
            &format!("form=forged&next=%2F&token={SHUICHANG}"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.set_cookie("wj_session").is_none());
}

#[tokio::test]
async fn pages_need_a_session_and_remember_where_to_return() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    let path = super::page::alert_path(&id);
    let page = c.get(&path, "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        format!("/signin?next={}", super::page::enc(&path))
    );
    let forged = c.get(&path, "wj_session=0000").await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    // The refresh fragment answers 401 (the script says the session ended).
    assert_eq!(
        c.get("/fragments/alerts", "").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_list_shows_the_subtree_only_and_another_cell_cannot_open_the_alert() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    c.h.announce();
    let mine = c.session(SHUICHANG).await;
    let other = c.session(XUEFU).await;
    let path = super::page::alert_path(&id);

    let list = c.get("/alerts", &mine).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&path), "{}", list.body);
    assert!(list.body.contains("二级橙色"));
    assert!(list.body.contains("共 1 条预警"));

    let list = c.get("/alerts", &other).await;
    assert!(!list.body.contains(&path));
    assert!(list.body.contains("共 0 条预警"));
    let fragment = c.get("/fragments/alerts", &other).await;
    assert!(!fragment.body.contains(&path));

    let page = c.get(&path, &other).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        !page.body.contains("wm-east-1"),
        "nothing of the alert shows: {}",
        page.body
    );

    // Filters: another level or site shows none of it; the same site shows it.
    let by_level = c.get("/alerts?level=I&state=&site=", &mine).await;
    assert!(!by_level.body.contains(&path));
    let by_site = c
        .get(
            "/alerts?level=&site=wp-east&community=%E6%B0%B4%E5%8E%82%E7%A4%BE%E5%8C%BA",
            &mine,
        )
        .await;
    assert!(by_site.body.contains(&path), "{}", by_site.body);
    let bad = c.get("/alerts?since=yesterday", &mine).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("since"));
}

#[tokio::test]
async fn acknowledging_from_the_page_is_the_apis_journaled_write_and_shows_its_result() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    c.h.announce();
    let cookie = c.session(SHUICHANG).await;
    let path = super::page::alert_path(&id);
    let page = c.get(&path, &cookie).await;
    assert!(page.body.contains("id=\"ack-form\""));
    assert!(page.body.contains("尚未确认"));
    let csrf = page.field("csrf");

    let done = c
        .post(
            &format!("{path}/ack"),
            &cookie,
            &format!("csrf={csrf}&note=%E5%B7%B2%E6%B4%BE%E4%BA%BA"),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("{path}?done=acknowledged"));
    assert_eq!(c.alert_state(&id), Some(true));
    let after = c.get(done.location(), &cookie).await;
    assert!(after.body.contains("已确认。"), "{}", after.body);
    assert!(
        after.body.contains("已由 <b>sq-shuichang</b>"),
        "{}",
        after.body
    );
    assert!(after.body.contains("“已派人”"));
    // Audited like the API's write, with the console's path.
    let rows = c.h.audit(1).await;
    assert!(
        rows.iter()
            .any(|r| r.action == "acknowledge" && r.status == 200),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    c.h.announce();
    let cookie = c.session(SHUICHANG).await;
    let path = super::page::alert_path(&id);
    for form in ["note=x", "csrf=&note=x", "csrf=0123456789abcdef&note=x"] {
        let refused = c.post(&format!("{path}/ack"), &cookie, form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{form}");
        assert!(refused.body.contains("未做任何更改"), "{}", refused.body);
    }
    let refused = c
        .post(&format!("{path}/resolve"), &cookie, "reason=done")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = c
        .post(
            "/silences",
            &cookie,
            "site=wp-east&until=2026-11-22T12:00&reason=x",
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(c.alert_state(&id), Some(false), "still unacknowledged");
    assert!(c.h.desk.read(|st| st.engine.silences(c.h.now()).is_empty()));
    // Another session's token does not do either.
    let other = c.session(SHUICHANG).await;
    let other_csrf = c.csrf(&other).await;
    let refused = c
        .post(
            &format!("{path}/ack"),
            &cookie,
            &format!("csrf={other_csrf}"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(c.alert_state(&id), Some(false));
}

#[tokio::test]
async fn writes_outside_the_subtree_and_bad_fields_are_refused_with_the_apis_reasons() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    c.h.announce();
    let other = c.session(XUEFU).await;
    let csrf = c.csrf(&other).await;
    let path = super::page::alert_path(&id);
    let refused = c
        .post(&format!("{path}/ack"), &other, &format!("csrf={csrf}"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(c.alert_state(&id), Some(false));

    let mine = c.session(SHUICHANG).await;
    let csrf = c.csrf(&mine).await;
    let refused = c
        .post(
            &format!("{path}/resolve"),
            &mine,
            &format!("csrf={csrf}&reason=+"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("reason"), "{}", refused.body);

    let resolved = c
        .post(
            &format!("{path}/resolve"),
            &mine,
            &format!("csrf={csrf}&reason=%E8%AF%AF%E6%8A%A5"),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER, "{}", resolved.body);
    let again = c
        .post(
            &format!("{path}/resolve"),
            &mine,
            &format!("csrf={csrf}&reason=again"),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
}

#[tokio::test]
async fn a_silence_from_the_page_is_created_with_the_apis_limits() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::II, 300);
    c.h.announce();
    let cookie = c.session(SHUICHANG).await;
    let csrf = c.csrf(&cookie).await;
    let alert = super::page::enc(&id);
    // Beijing time as the form sends it (T0 is 2026-11-22 08:00 Beijing time).
    let ok = c
        .post("/silences", &cookie, &format!("csrf={csrf}&site=wp-east&device=wm-east-1&until=2026-11-22T12:00&reason=%E6%A3%80%E4%BF%AE&alert={alert}"))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.location().ends_with("?done=silenced"));
    let silences = c.h.desk.read(|st| st.engine.silences(c.h.now()).len());
    assert_eq!(silences, 1);
    let too_long = c
        .post(
            "/silences",
            &cookie,
            &format!("csrf={csrf}&site=wp-east&until=2027-01-30T12:00&reason=x&alert={alert}"),
        )
        .await;
    assert_eq!(
        too_long.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_long.body
    );
}

#[tokio::test]
async fn values_are_escaped_and_english_is_a_switch_away() {
    let c = Console::new().await;
    let id = c.h.fire("W2", "wp-east", "wm-east-1", Level::I, 300);
    c.h.desk.read(|_| ());
    let cookie = c.session(SHUICHANG).await;
    // The note is the supervisor's text: it comes back escaped.
    let csrf = c.csrf(&cookie).await;
    let path = super::page::alert_path(&id);
    c.post(
        &format!("{path}/ack"),
        &cookie,
        &format!("csrf={csrf}&note=%3Cscript%3Ex%3C%2Fscript%3E"),
    )
    .await;
    let page = c.get(&path, &cookie).await;
    assert!(!page.body.contains("<script>x</script>"));
    assert!(page.body.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(page.body.contains("一级红色"));
    let en = c.get(&format!("{path}?lang=en"), &cookie).await;
    assert!(en.body.contains("Level I (red)"), "{}", en.body);
    assert!(en.body.contains("Acknowledged by"));
    let switch = c
        .get(
            &format!("/lang?to=en&next={}", super::page::enc(&path)),
            &cookie,
        )
        .await;
    assert_eq!(switch.location(), path);
    assert!(switch
        .set_cookie("wj_lang")
        .unwrap()
        .starts_with("wj_lang=en"));
    let by_cookie = c.get(&path, &format!("{cookie}; wj_lang=en")).await;
    assert!(by_cookie.body.contains("Level I (red)"));
}

/// A W2 alert on wm-east-1 whose evidence names its metric, as the rule engine's do.
pub(super) fn fire_metric(h: &Harness, metric: &str) -> String {
    let now = h.now();
    let started_at = now.plus_secs(-300);
    let event = alerting::AlertEvent {
        alert_id: format!("W2/wp-east/wm-east-1/{}", started_at.as_micros()),
        rule: "W2".into(),
        level: Level::II,
        kind: alerting::EventKind::Firing,
        site: "wp-east".into(),
        device: "wm-east-1".into(),
        subject: None,
        grid: h.desk.registry().site("wp-east").unwrap().grid.clone(),
        started_at,
        ts: now,
        reason: "below the lower limit".into(),
        evidence: vec![
            alerting::Evidence::text("metric", metric),
            alerting::Evidence::number("value", 0.01),
            alerting::Evidence::number("limit", 0.05),
        ],
        summary_zh: "游离氯低于下限".into(),
        summary_en: "free chlorine below the lower limit".into(),
    };
    h.stage.on_events(std::slice::from_ref(&event), now);
    event.alert_id
}

#[tokio::test]
async fn the_alert_page_renders_without_questdb_and_says_so_in_time() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let chart = ChartSource {
        endpoint: QuestDbEndpoint::parse(&format!("http::addr=127.0.0.1:{port};")).unwrap(),
        table_prefix: String::new(),
        timeout: Duration::from_millis(500),
    };
    let c = Console::with(ConsoleSettings::default(), Some(chart)).await;
    let id = fire_metric(&c.h, "free_chlorine_mg_l");
    let cookie = c.session(SHUICHANG).await;
    let started = Instant::now();
    let page = c.get(&super::page::alert_path(&id), &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        page.body.contains("无法从 QuestDB 读取曲线"),
        "{}",
        page.body
    );
    assert!(page.body.contains("依据"));
    assert!(
        page.body.contains("游离氯（mg/L）：暂时无法"),
        "the chart names the metric as the catalogue does: {}",
        page.body
    );
}

#[tokio::test]
async fn evidence_names_the_metric_and_its_unit_in_the_pages_language() {
    let c = Console::new().await;
    let id = fire_metric(&c.h, "free_chlorine_mg_l");
    let cookie = c.session(SHUICHANG).await;
    let zh = c.get(&super::page::alert_path(&id), &cookie).await;
    assert_eq!(zh.status, StatusCode::OK);
    for shown in ["游离氯（mg/L）", "0.01 mg/L", "0.05 mg/L"] {
        assert!(zh.body.contains(shown), "{shown} missing: {}", zh.body);
    }
    assert!(
        !zh.body.contains("free_chlorine_mg_l"),
        "no code name on the Chinese page: {}",
        zh.body
    );
    let en = c
        .get(
            &format!("{}?lang=en", super::page::alert_path(&id)),
            &cookie,
        )
        .await;
    assert!(en.body.contains("free chlorine (mg/L)"), "{}", en.body);
}

#[tokio::test]
async fn the_grid_is_a_tree_of_the_subtree_with_each_sites_worst_level() {
    let c = Console::new().await;
    c.h.fire("W2", "wp-east", "wm-east-1", Level::III, 300);
    c.h.fire("W1", "wp-east", "wm-east-2", Level::II, 200);
    c.h.desk.set_devices(vec![alerting::DeviceActivity {
        device: "wm-east-2".into(),
        last_data: Some(alerting::model::Timestamp::from_secs(1_795_305_600)),
        last_alive: None,
        offline: true,
    }]);
    let street = c.session(crate::api::tests::DONGCHENG).await;
    let grid = c.get("/grid", &street).await;
    assert_eq!(grid.status, StatusCode::OK);
    for text in [
        "示范区",
        "东城街道",
        "水厂社区",
        "花园社区",
        "城东水厂 出厂水",
        "二级橙色",
        "2026-11-22 08:00:00",
        "离线",
    ] {
        assert!(grid.body.contains(text), "{text} missing: {}", grid.body);
    }
    assert!(
        !grid.body.contains("西城街道"),
        "another street is not shown"
    );
    let community = c.session(XUEFU).await;
    let grid = c.get("/grid", &community).await;
    assert!(
        grid.body.contains("学府社区") && grid.body.contains("医废暂存"),
        "{}",
        grid.body
    );
    assert!(!grid.body.contains("东城街道"));
}

#[tokio::test]
async fn assets_are_served_from_the_binary_and_pages_forbid_outside_sources() {
    let c = Console::new().await;
    let css = c.get("/assets/console.css", "").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.body.contains(".lv-red"));
    let js = c.get("/assets/console.js", "").await;
    assert!(js.body.contains("data-refresh"));
    let page = c.get("/signin", "").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no outside asset"
    );
    assert_eq!(c.get("/", "").await.location(), "/alerts");
}
