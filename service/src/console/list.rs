//! The alert list: the alerts of the supervisor's grid subtree, filtered by level, state, site,
//! community and time (the API's filter, `crate::api::filter`), newest first; and the same list
//! as a fragment the page's script fetches to refresh itself.

use std::fmt::Write as _;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::page::{self, beijing_us, enc, esc, level_of, Lang};
use super::{ConsoleState, Signed};
use crate::api::alerts::{visible, AlertList};
use crate::api::filter::AlertFilter;
use crate::api::view::{Alert, AlertState};

/// Seconds between the list's refreshes (the script; without it, reload the page).
pub const REFRESH_SECS: u32 = 15;

/// The list's form (every field may be empty: the form submits them all).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub community: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub lang: String,
}

impl ListQuery {
    /// The API's filter of the non-empty fields (times typed without an offset are Beijing
    /// time, as the form shows them).
    fn filter(&self) -> Result<AlertFilter, String> {
        let mut pairs = Vec::new();
        for (name, value) in [
            ("state", &self.state),
            ("level", &self.level),
            ("site", &self.site),
            ("community", &self.community),
        ] {
            if !value.trim().is_empty() {
                pairs.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        for (name, value) in [("since", &self.since), ("until", &self.until)] {
            if !value.trim().is_empty() {
                pairs.push((name.to_owned(), beijing_input(value)));
            }
        }
        AlertFilter::parse(&pairs).map_err(|e| e.message)
    }

    /// The query string of the filters (for the refresh fragment).
    fn query_string(&self) -> String {
        [
            ("state", &self.state),
            ("level", &self.level),
            ("site", &self.site),
            ("community", &self.community),
            ("since", &self.since),
            ("until", &self.until),
            ("lang", &self.lang),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A time from the form: `2026-11-22T08:00` (a `datetime-local` field) is Beijing time.
pub fn beijing_input(value: &str) -> String {
    let v = value.trim();
    let has_offset = v.ends_with('Z') || v.get(19..).is_some_and(|t| t.contains(['+', '-']));
    if has_offset || !v.contains('T') {
        return v.to_owned();
    }
    match v.len() {
        16 => format!("{v}:00+08:00"),
        _ => format!("{v}+08:00"),
    }
}

/// `GET /alerts`.
pub async fn page(
    State(state): State<ConsoleState>,
    signed: Signed,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lang = signed.lang;
    let (list, problem) = match q.filter() {
        Ok(filter) => (Some(visible(&state.api, signed.caller.id(), &filter)), None),
        Err(message) => (None, Some(message)),
    };
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", lang.t("预警列表", "Alerts"));
    filter_form(&mut body, &state, &signed, &q);
    if let Some(message) = &problem {
        let _ = write!(
            body,
            "<p class=\"flash bad\" role=\"alert\">{}: {}</p>",
            lang.t("筛选条件有误", "A filter is not valid"),
            esc(message)
        );
    }
    let _ = write!(
        body,
        "<div id=\"alerts\" data-refresh=\"/fragments/alerts?{}\" data-every=\"{REFRESH_SECS}\" \
         data-ended=\"{}\" aria-live=\"polite\">",
        esc(&q.query_string()),
        esc(lang.t(
            "会话已结束，请重新登录以继续自动刷新。",
            "The session ended; sign in again to keep the list refreshing."
        )),
    );
    if let Some(list) = &list {
        rows(&mut body, lang, list);
    }
    body.push_str("</div>");
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        status,
        page::frame(
            lang,
            lang.t("预警列表", "Alerts"),
            Some(&signed.who()),
            "/alerts",
            &body,
        ),
    )
        .into_response()
}

/// `GET /fragments/alerts`: the list alone, for the page's script.
pub async fn fragment(
    State(state): State<ConsoleState>,
    signed: Signed,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match q.filter() {
        Ok(filter) => {
            let list = visible(&state.api, signed.caller.id(), &filter);
            let mut body = String::new();
            rows(&mut body, signed.lang, &list);
            Html(body).into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, esc(&message)).into_response(),
    }
}

fn filter_form(out: &mut String, state: &ConsoleState, signed: &Signed, q: &ListQuery) {
    let lang = signed.lang;
    let registry = state.api.desk.registry();
    let (sites, communities) = state.api.desk.read(|st| {
        let sites: Vec<(String, String, String)> = registry
            .sites()
            .filter(|s| st.engine.can_see(signed.caller.id(), &s.id))
            .map(|s| (s.id.to_string(), s.name.clone(), s.grid.community.clone()))
            .collect();
        let mut communities: Vec<String> = sites.iter().map(|(_, _, c)| c.clone()).collect();
        communities.sort();
        communities.dedup();
        (sites, communities)
    });
    out.push_str("<form method=\"get\" action=\"/alerts\" class=\"filters\">");
    select(
        out,
        lang.t("状态", "State"),
        "state",
        &q.state,
        &[
            ("", lang.t("未解除", "Open")),
            ("unacknowledged", lang.t("未确认", "Unacknowledged")),
            ("acknowledged", lang.t("已确认", "Acknowledged")),
            ("resolved", lang.t("已解除", "Resolved")),
            ("all", lang.t("全部", "All")),
        ],
    );
    let levels: Vec<(String, String)> = alerting::Level::ALL
        .into_iter()
        .map(|l| {
            let text = match lang {
                Lang::Zh => format!("{}{}", l.label_zh(), l.colour_zh()),
                Lang::En => format!("Level {} ({})", l.as_str(), l.colour()),
            };
            (l.as_str().to_owned(), text)
        })
        .collect();
    let mut level_options: Vec<(&str, &str)> = vec![("", lang.t("全部级别", "Any level"))];
    level_options.extend(levels.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    select(
        out,
        lang.t("级别", "Level"),
        "level",
        &q.level,
        &level_options,
    );
    let mut site_options: Vec<(&str, &str)> = vec![("", lang.t("全部场所", "Any site"))];
    site_options.extend(
        sites
            .iter()
            .map(|(id, name, _)| (id.as_str(), name.as_str())),
    );
    select(out, lang.t("场所", "Site"), "site", &q.site, &site_options);
    let mut community_options: Vec<(&str, &str)> = vec![("", lang.t("全部社区", "Any community"))];
    community_options.extend(communities.iter().map(|c| (c.as_str(), c.as_str())));
    select(
        out,
        lang.t("社区", "Community"),
        "community",
        &q.community,
        &community_options,
    );
    for (name, zh, en, value) in [
        (
            "since",
            "开始于（北京时间）起",
            "Started from (Beijing time)",
            &q.since,
        ),
        (
            "until",
            "开始于（北京时间）止",
            "Started before (Beijing time)",
            &q.until,
        ),
    ] {
        let _ = write!(
            out,
            "<label>{}<input type=\"datetime-local\" name=\"{name}\" value=\"{}\"></label>",
            lang.t(zh, en),
            esc(value)
        );
    }
    let _ = write!(
        out,
        "<button type=\"submit\" class=\"button\">{}</button></form>",
        lang.t("筛选", "Filter")
    );
}

fn select(out: &mut String, label: &str, name: &str, chosen: &str, options: &[(&str, &str)]) {
    let _ = write!(out, "<label>{}<select name=\"{name}\">", esc(label));
    for (value, text) in options {
        let sel = if *value == chosen { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(text)
        );
    }
    out.push_str("</select></label>");
}

/// The state's words.
pub fn state_text(lang: Lang, s: AlertState) -> &'static str {
    match s {
        AlertState::Pending => lang.t("待定", "Pending"),
        AlertState::Open => lang.t("未确认", "Unacknowledged"),
        AlertState::Acknowledged => lang.t("已确认", "Acknowledged"),
        AlertState::Resolved => lang.t("已解除", "Resolved"),
    }
}

fn state_class(s: AlertState) -> &'static str {
    match s {
        AlertState::Pending => "st-pending",
        AlertState::Open => "st-open",
        AlertState::Acknowledged => "st-ack",
        AlertState::Resolved => "st-resolved",
    }
}

/// The alerts as cards (one link each), with the count.
fn rows(out: &mut String, lang: Lang, list: &AlertList) {
    let _ = match lang {
        Lang::Zh => write!(out, "<p class=\"count\">共 {} 条预警</p>", list.total),
        Lang::En => write!(out, "<p class=\"count\">{} alerts</p>", list.total),
    };
    if list.total > list.alerts.len() {
        let _ = match lang {
            Lang::Zh => write!(
                out,
                "<p class=\"hint\">仅显示最新 {} 条，请缩小筛选范围。</p>",
                list.alerts.len()
            ),
            Lang::En => write!(
                out,
                "<p class=\"hint\">Showing the newest {}; narrow the filters.</p>",
                list.alerts.len()
            ),
        };
    }
    if list.alerts.is_empty() {
        let _ = write!(
            out,
            "<p class=\"empty\">{}</p>",
            lang.t("没有符合条件的预警。", "No alerts match.")
        );
        return;
    }
    out.push_str("<ul class=\"alerts\">");
    for a in &list.alerts {
        card(out, lang, a);
    }
    out.push_str("</ul>");
}

fn card(out: &mut String, lang: Lang, a: &Alert) {
    let badge = level_of(a.level.level).map_or(String::new(), |l| page::level_badge(lang, l));
    let summary = match lang {
        Lang::Zh => &a.summary.zh,
        Lang::En => &a.summary.en,
    };
    let ack = a.acknowledged.as_ref().map_or(String::new(), |k| {
        format!(
            "<span class=\"ackby\">{} {}</span>",
            lang.t("确认人", "by"),
            esc(&k.by)
        )
    });
    let _ = write!(
        out,
        "<li class=\"alert lvb-{colour}\"><a href=\"{href}\">\
         <span class=\"head\">{badge}<span class=\"st {scls}\">{stext}</span>{ack}</span>\
         <span class=\"sum\">{summary}</span>\
         <span class=\"meta\">{site} · {device} · {started_label} {started}</span></a></li>",
        colour = a.level.colour,
        href = esc(&page::alert_path(&a.id)),
        scls = state_class(a.state),
        stext = state_text(lang, a.state),
        summary = esc(summary),
        site = esc(a.site_name.as_deref().unwrap_or(&a.site)),
        device = esc(&a.device),
        started_label = lang.t("开始", "since"),
        started = beijing_us(a.started_at_us),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_without_an_offset_are_beijing_time() {
        assert_eq!(
            beijing_input("2026-11-22T08:00"),
            "2026-11-22T08:00:00+08:00"
        );
        assert_eq!(
            beijing_input("2026-11-22T08:00:30"),
            "2026-11-22T08:00:30+08:00"
        );
        assert_eq!(
            beijing_input("2026-11-22T00:00:00Z"),
            "2026-11-22T00:00:00Z"
        );
        assert_eq!(
            beijing_input("2026-11-22T08:00:00+08:00"),
            "2026-11-22T08:00:00+08:00"
        );
    }

    #[test]
    fn empty_form_fields_mean_no_filter_and_a_bad_level_is_named() {
        let q = ListQuery::default();
        let f = q.filter().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.site, None);
        let q = ListQuery {
            level: "V".into(),
            ..ListQuery::default()
        };
        assert!(q.filter().unwrap_err().contains("level"));
    }
}
