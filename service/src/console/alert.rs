//! An alert's page (summary, evidence, who was told, who acknowledged, history, a chart of the
//! metric around it) and the writes a supervisor makes from it: acknowledge with a note,
//! resolve with a reason, silence the site or the device until a time. Writes go through the
//! API's functions (`crate::api::alerts::act`, `crate::api::silences::create`): journaled,
//! audited, with the same subtree rules and limits; the page then shows the result.

use std::fmt::Write as _;

use alerting::model::Metric;
use alerting::EvidenceValue;
use axum::extract::rejection::QueryRejection;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::list::{beijing_input, state_text};
use super::page::{self, beijing_us, esc, level_of, Lang};
use super::{chart, ConsoleState, Signed};
use crate::api::alerts::{acknowledgement, act, detail_of, resolution, MAX_TEXT_CHARS};
use crate::api::silences::{create, NewSilence};
use crate::api::view::{AlertDetail, AlertState};
use crate::api::write::NotApplied;
use crate::api::ApiError;
use crate::supervision::Action;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The write just done (`acknowledged`, `resolved`, `silenced`), to say so.
    #[serde(default)]
    done: String,
}

/// `GET /alerts/{id}`.
pub async fn page(
    State(state): State<ConsoleState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let lang = signed.lang;
    let Ok(Path(id)) = id else {
        return not_found(&signed, "");
    };
    let detail = match detail_of(&state.api, signed.caller.id(), &id) {
        Some(Ok(d)) => d,
        Some(Err(site)) => {
            signed
                .caller
                .forbid(&state.api, &format!("alert {id} (site {site})"))
                .await;
            return page::problem(
                lang,
                StatusCode::FORBIDDEN,
                Some(&signed.who()),
                lang.t("无权查看", "Not yours to see"),
                lang.t(
                    "此预警不在您负责的网格范围内。",
                    "This alert is outside your grid cell.",
                ),
            );
        }
        None => return not_found(&signed, &id),
    };
    let chart = match &state.chart {
        Some(source) => {
            Some(chart::around(source, &state.api.desk.registry(), &detail.alert).await)
        }
        None => None,
    };
    let done = query.map(|Query(q)| q.done).unwrap_or_default();
    let body = render(&signed, &detail, chart.as_ref(), &done);
    let title = format!("{} {}", detail.alert.rule, lang.t("预警", "alert"));
    page::frame(
        lang,
        &title,
        Some(&signed.who()),
        &page::alert_path(&id),
        &body,
    )
    .into_response()
}

fn not_found(signed: &Signed, id: &str) -> Response {
    let lang = signed.lang;
    let message = match lang {
        Lang::Zh => format!("找不到预警 {id}（从未出现，或已解除很久）。"),
        Lang::En => format!("No alert {id} (never seen, or resolved long ago)."),
    };
    page::problem(
        lang,
        StatusCode::NOT_FOUND,
        Some(&signed.who()),
        lang.t("找不到预警", "No such alert"),
        &message,
    )
}

fn render(signed: &Signed, d: &AlertDetail, chart: Option<&chart::Chart>, done: &str) -> String {
    let lang = signed.lang;
    let a = &d.alert;
    let mut h = String::new();
    let flash = match done {
        "acknowledged" => Some(lang.t(
            "已确认。升级与重复通知已停止。",
            "Acknowledged: escalation and repeats have stopped.",
        )),
        "resolved" => Some(lang.t("已人工解除。", "Resolved by hand.")),
        "silenced" => Some(lang.t("静默已生效。", "The silence is in force.")),
        _ => None,
    };
    if let Some(text) = flash {
        let _ = write!(
            h,
            "<p class=\"flash good\" role=\"status\" id=\"done\">{}</p>",
            esc(text)
        );
    }
    let badge = level_of(a.level.level).map_or(String::new(), |l| page::level_badge(lang, l));
    let summary = match lang {
        Lang::Zh => &a.summary.zh,
        Lang::En => &a.summary.en,
    };
    let _ = write!(
        h,
        "<section class=\"card\"><p class=\"head\">{badge}<span class=\"st\" id=\"state\">{}</span></p>\
         <h1 class=\"sum\">{}</h1><dl class=\"facts\">",
        state_text(lang, a.state),
        esc(summary)
    );
    let grid = format!(
        "{} / {} / {}",
        a.grid.district, a.grid.street, a.grid.community
    );
    let mut facts: Vec<(&str, String)> = vec![
        (lang.t("规则", "Rule"), a.rule.clone()),
        (
            lang.t("场所", "Site"),
            format!("{} ({})", a.site_name.as_deref().unwrap_or(&a.site), a.site),
        ),
        (lang.t("设备", "Device"), a.device.clone()),
        (lang.t("网格", "Grid"), grid),
        (
            lang.t("开始（北京时间）", "Started (Beijing time)"),
            beijing_us(a.started_at_us),
        ),
        (lang.t("更新", "Updated"), beijing_us(a.updated_at_us)),
    ];
    if let Some(us) = a.resolved_at_us {
        facts.push((lang.t("解除", "Resolved"), beijing_us(us)));
    }
    if let Some(us) = a.ack_deadline_us.filter(|_| a.state == AlertState::Open) {
        facts.push((lang.t("确认期限", "Acknowledge by"), beijing_us(us)));
    }
    if let Some(by) = &a.silenced_by {
        facts.push((lang.t("静默", "Silenced by"), by.clone()));
    }
    for (k, v) in facts {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    h.push_str("</dl></section>");

    // Who acknowledged.
    let _ = write!(
        h,
        "<section class=\"card\" id=\"ack\"><h2>{}</h2>",
        lang.t("确认情况", "Acknowledgement")
    );
    match &a.acknowledged {
        Some(k) => {
            let _ = write!(
                h,
                "<p class=\"acked\">{} <b>{}</b> · {} · {}</p>",
                lang.t("已由", "Acknowledged by"),
                esc(&k.by),
                beijing_us(k.at_us),
                if k.note.is_empty() {
                    String::new()
                } else {
                    format!("“{}”", esc(&k.note))
                }
            );
        }
        None => {
            let _ = write!(h, "<p>{}</p>", lang.t("尚未确认。", "Not acknowledged."));
        }
    }
    h.push_str("</section>");

    // Evidence.
    let _ = write!(
        h,
        "<section class=\"card\"><h2>{}</h2><dl class=\"facts\">",
        lang.t("依据", "Evidence")
    );
    let metric = a.evidence.iter().find_map(|e| match (&*e.name, &e.value) {
        ("metric", EvidenceValue::Text(t)) => Metric::from_name(t),
        _ => None,
    });
    for e in &a.evidence {
        let value = evidence_value(lang, metric, &e.name, &e.value);
        let _ = write!(
            h,
            "<dt>{}</dt><dd>{}</dd>",
            esc(evidence_label(lang, &e.name)),
            esc(&value)
        );
    }
    h.push_str("</dl></section>");

    if let Some(c) = chart {
        h.push_str(&chart::section(lang, c));
    }

    // Who was told.
    let _ = write!(
        h,
        "<section class=\"card\"><h2>{}</h2>",
        lang.t("通知记录", "Who was told")
    );
    let notices: Vec<_> = d
        .history
        .iter()
        .filter(|e| e.change.starts_with("notice:"))
        .collect();
    if notices.is_empty() {
        let _ = write!(
            h,
            "<p>{}</p>",
            lang.t("尚未发出通知。", "No notice sent yet.")
        );
    } else {
        h.push_str("<ul class=\"plain\">");
        for e in notices {
            let _ = write!(
                h,
                "<li>{} · {} → {}</li>",
                beijing_us(e.ts_us),
                esc(change_label(lang, &e.change)),
                esc(&e.by.join(", "))
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");

    if a.state != AlertState::Resolved {
        actions(&mut h, signed, d);
    }

    // History.
    let _ = write!(
        h,
        "<section class=\"card\"><h2>{}</h2><div class=\"scroll\"><table class=\"history\"><thead><tr>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("经过", "History"),
        lang.t("时间", "Time"),
        lang.t("变化", "Change"),
        lang.t("级别", "Level"),
        lang.t("人员", "Who"),
        lang.t("说明", "Detail"),
    );
    for e in d.history.iter().rev() {
        let level = level_of(e.level).map_or(String::new(), |l| page::level_badge(lang, l));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{level}</td><td>{}</td><td>{}</td></tr>",
            beijing_us(e.ts_us),
            esc(change_label(lang, &e.change)),
            esc(&e.by.join(", ")),
            esc(&e.detail)
        );
    }
    h.push_str("</tbody></table></div></section>");
    h
}

/// The forms: acknowledge, resolve, silence (site or device).
fn actions(h: &mut String, signed: &Signed, d: &AlertDetail) {
    let lang = signed.lang;
    let a = &d.alert;
    let path = esc(&page::alert_path(&a.id));
    let csrf = esc(&signed.session.csrf);
    let _ = write!(
        h,
        "<section class=\"card actions\"><h2>{}</h2>",
        lang.t("处置", "Act")
    );
    if a.acknowledged.is_none() {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"{path}/ack\" class=\"stack\" id=\"ack-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>{}<textarea name=\"note\" maxlength=\"{MAX_TEXT_CHARS}\" rows=\"2\"></textarea></label>\
             <button type=\"submit\" class=\"button primary\">{}</button></form>",
            lang.t("确认说明（可选）", "Note (optional)"),
            lang.t("确认预警", "Acknowledge"),
        );
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"{path}/resolve\" class=\"stack\" id=\"resolve-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>{}<textarea name=\"reason\" maxlength=\"{MAX_TEXT_CHARS}\" rows=\"2\" required></textarea></label>\
         <button type=\"submit\" class=\"button\">{}</button></form>",
        lang.t("解除原因（必填）", "Reason (required)"),
        lang.t("人工解除", "Resolve"),
    );
    let device_option = if a.device == alerting::SITE_SCOPE_DEVICE {
        String::new()
    } else {
        format!(
            "<option value=\"{}\">{} {}</option>",
            esc(&a.device),
            lang.t("仅设备", "Only device"),
            esc(&a.device)
        )
    };
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/silences\" class=\"stack\" id=\"silence-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"site\" value=\"{site}\">\
         <input type=\"hidden\" name=\"alert\" value=\"{id}\">\
         <label>{scope}<select name=\"device\"><option value=\"\">{whole} {site_name}</option>{device_option}</select></label>\
         <label>{until}<input type=\"datetime-local\" name=\"until\" required></label>\
         <label>{reason}<textarea name=\"reason\" maxlength=\"{MAX_TEXT_CHARS}\" rows=\"2\" required></textarea></label>\
         <button type=\"submit\" class=\"button\">{submit}</button></form></section>",
        site = esc(&a.site),
        id = esc(&a.id),
        scope = lang.t("静默范围", "Silence"),
        whole = lang.t("整个场所", "The whole site"),
        site_name = esc(a.site_name.as_deref().unwrap_or(&a.site)),
        until = lang.t("静默至（北京时间）", "Until (Beijing time)"),
        reason = lang.t("静默原因（必填）", "Reason (required)"),
        submit = lang.t("静默", "Silence"),
    );
}

fn evidence_label(lang: Lang, name: &str) -> &str {
    use alerting::catalogue::{
        EVIDENCE_DETAIL, EVIDENCE_LIMIT, EVIDENCE_METRIC, EVIDENCE_VALUE, EVIDENCE_WORST,
    };
    let pick = |t: alerting::catalogue::Texts| lang.t(t.zh, t.en);
    match name {
        "metric" => pick(EVIDENCE_METRIC),
        "value" => pick(EVIDENCE_VALUE),
        "limit" => pick(EVIDENCE_LIMIT),
        "worst" => pick(EVIDENCE_WORST),
        "since" => lang.t("起始（北京时间）", "Since (Beijing time)"),
        "detail" => pick(EVIDENCE_DETAIL),
        other => other,
    }
}

/// One evidence value in the page's language: a metric by its catalogue name, a number with
/// the alert metric's unit, a time in Beijing time, a bilingual detail by its own language's
/// part (`alerting::catalogue::both`).
fn evidence_value(lang: Lang, metric: Option<Metric>, name: &str, value: &EvidenceValue) -> String {
    use alerting::catalogue::{en_part, number, quantity, zh_part};
    match value {
        EvidenceValue::Number(n) => metric.map_or_else(|| number(*n), |m| quantity(m, *n)),
        EvidenceValue::Text(t) if name == "metric" => {
            Metric::from_name(t).map_or_else(|| t.clone(), |m| chart::metric_label(lang, m))
        }
        EvidenceValue::Text(t) => match crate::api::time::parse(t) {
            Ok(ts) => page::beijing(ts),
            Err(_) => match lang {
                Lang::Zh if !zh_part(t).is_empty() => zh_part(t).to_owned(),
                _ => en_part(t).to_owned(),
            },
        },
    }
}

/// A history change in words.
fn change_label(lang: Lang, change: &str) -> &str {
    match change {
        "pending" => lang.t("待定", "pending"),
        "firing" => lang.t("触发", "firing"),
        "level_changed" => lang.t("级别变化", "level changed"),
        "resolved" => lang.t("自动解除", "resolved"),
        "escalated" => lang.t("已升级", "escalated"),
        "acknowledged" => lang.t("已确认", "acknowledged"),
        "acknowledgement_cleared" => lang.t("确认已撤销", "acknowledgement cleared"),
        "resolved_manually" => lang.t("人工解除", "resolved by hand"),
        "silenced" => lang.t("已静默", "silenced"),
        "silence_ended" => lang.t("静默结束", "silence ended"),
        "notice:new" => lang.t("预警通知", "notice: new"),
        "notice:level_changed" => lang.t("级别变化通知", "notice: level changed"),
        "notice:repeat" => lang.t("重复通知", "notice: repeat"),
        "notice:escalated" => lang.t("升级通知", "notice: escalated"),
        "notice:resolved" => lang.t("解除通知", "notice: resolved"),
        "notice:acknowledged" => lang.t("确认通知", "notice: acknowledged"),
        other => other,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
    /// The alert page to return to.
    #[serde(default)]
    alert: String,
}

/// `POST /alerts/{id}/ack`.
pub async fn acknowledge(
    State(state): State<ConsoleState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<AckForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    write_on_alert(
        &state,
        signed,
        id,
        &f.csrf,
        &f.note,
        acknowledgement,
        "acknowledged",
    )
    .await
}

/// `POST /alerts/{id}/resolve`.
pub async fn resolve(
    State(state): State<ConsoleState>,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<ResolveForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    write_on_alert(
        &state, signed, id, &f.csrf, &f.reason, resolution, "resolved",
    )
    .await
}

/// A write on one alert from its page (acknowledge with a note, resolve with a reason): the
/// CSRF token checked, the API's own checks of the text (`action`) and its journaled write,
/// then back to the page with `done`, or a page saying why nothing changed.
async fn write_on_alert(
    state: &ConsoleState,
    signed: Signed,
    id: Result<Path<String>, PathRejection>,
    csrf: &str,
    text: &str,
    action: fn(&str, &str) -> Result<Action, ApiError>,
    done: &str,
) -> Response {
    if let Err(refused) = signed.check_csrf(state, csrf).await {
        return refused;
    }
    let Ok(Path(id)) = id else {
        return not_found(&signed, "");
    };
    let outcome = match action(&id, text) {
        Ok(action) => act(&state.api, &signed.caller, &id, action)
            .await
            .map(|_| ()),
        Err(e) => Err(NotApplied::Refused(e)),
    };
    written(&signed, &id, outcome, done)
}

/// `POST /silences`: silence the site, or one device of it, until a time.
pub async fn silence(
    State(state): State<ConsoleState>,
    signed: Signed,
    form: Result<Form<SilenceForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = signed.check_csrf(&state, &f.csrf).await {
        return refused;
    }
    let new = NewSilence {
        id: None,
        site: f.site.clone(),
        device: Some(f.device.trim().to_owned()).filter(|d| !d.is_empty()),
        reason: f.reason.clone(),
        until: serde_json::Value::String(beijing_input(&f.until)),
    };
    let outcome = create(&state.api, &signed.caller, new).await.map(|_| ());
    if f.alert.is_empty() {
        return match outcome {
            Ok(()) => Redirect::to("/grid").into_response(),
            Err(e) => refused_page(&signed, e),
        };
    }
    written(&signed, &f.alert, outcome, "silenced")
}

/// After a write: back to the alert's page saying what was done, or a page saying why not.
fn written(signed: &Signed, id: &str, outcome: Result<(), NotApplied>, done: &str) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("{}?done={done}", page::alert_path(id))).into_response(),
        Err(e) => refused_page(signed, e),
    }
}

fn refused_page(signed: &Signed, e: NotApplied) -> Response {
    let lang = signed.lang;
    match e {
        NotApplied::Queued(request_id) => {
            let message = match lang {
                Lang::Zh => format!("请求已可靠记录（{request_id}），系统繁忙，将稍后生效。请稍后刷新页面查看。"),
                Lang::En => format!("The request is durable ({request_id}) and will be applied; the pipeline is busy. Reload the page later."),
            };
            page::problem(
                lang,
                StatusCode::ACCEPTED,
                Some(&signed.who()),
                lang.t("已记录，稍后生效", "Queued"),
                &message,
            )
        }
        NotApplied::Refused(ApiError {
            status, message, ..
        }) => {
            let title = match status {
                StatusCode::FORBIDDEN => lang.t("无权操作", "Not allowed"),
                StatusCode::CONFLICT => lang.t("状态已变化", "Already changed"),
                StatusCode::SERVICE_UNAVAILABLE => lang.t("暂时无法记录", "Cannot record it now"),
                _ => lang.t("操作未执行", "Not done"),
            };
            let message = match lang {
                Lang::Zh => format!("未做任何更改：{message}"),
                Lang::En => format!("Nothing was changed: {message}"),
            };
            page::problem(lang, status, Some(&signed.who()), title, &message)
        }
    }
}
