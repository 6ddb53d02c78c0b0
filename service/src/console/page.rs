//! The console's HTML: escaping ([`esc`], used for every value that is not a literal of this
//! crate), the language ([`Lang`], Chinese first), the page frame (head, navigation, the
//! language switch, sign-out), times at Beijing time and levels as 一级红色 .. 四级蓝色.

use std::fmt::Write as _;

use alerting::model::Timestamp;
use alerting::Level;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, FixedOffset};

/// The console's language: Chinese unless `?lang=en` or the `wj_lang` cookie says English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `?lang=` first, then the `wj_lang` cookie, else Chinese.
    pub fn of(parts: &Parts) -> Lang {
        let query = parts.uri.query().unwrap_or("");
        let from_query = query.split('&').find_map(|kv| kv.strip_prefix("lang="));
        let chosen = from_query.or_else(|| super::cookie(&parts.headers, "wj_lang"));
        match chosen {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// Percent-encodes a path segment or query value (alert ids contain `/`).
pub fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The console path of an alert's page (the link notices carry, under `http.public_url`).
pub fn alert_path(id: &str) -> String {
    format!("/alerts/{}", enc(id))
}

/// Beijing time, `2026-11-22 08:00:00`.
pub fn beijing(ts: Timestamp) -> String {
    match (
        DateTime::from_timestamp_micros(ts.as_micros()),
        FixedOffset::east_opt(8 * 3600),
    ) {
        (Some(t), Some(o)) => t.with_timezone(&o).format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => ts.as_micros().to_string(),
    }
}

/// [`beijing`] of epoch microseconds.
pub fn beijing_us(us: i64) -> String {
    beijing(Timestamp(us))
}

/// A level as a coloured badge: 一级红色 / Level I (red).
pub fn level_badge(lang: Lang, level: Level) -> String {
    let text = match lang {
        Lang::Zh => format!("{}{}", level.label_zh(), level.colour_zh()),
        Lang::En => format!("Level {} ({})", level.as_str(), level.colour()),
    };
    format!(
        "<span class=\"lv lv-{}\">{}</span>",
        level.colour(),
        esc(&text)
    )
}

/// The level of its number (1 = I .. 4 = IV).
pub fn level_of(number: u8) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.number() == number)
}

/// Who is signed in, for the frame.
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    pub cell: String,
    pub csrf: String,
}

/// A whole page: head, navigation (when signed in), `body`.
pub fn frame(
    lang: Lang,
    title: &str,
    who: Option<&Who>,
    current: &str,
    body: &str,
) -> Html<String> {
    let mut h = String::with_capacity(body.len() + 2048);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title><link rel=\"stylesheet\" href=\"/assets/console.css\">\
         <script src=\"/assets/console.js\" defer></script></head><body>",
        lang.t("zh-CN", "en"),
        esc(title),
        lang.t("卫监 预警台", "weijian console"),
    );
    h.push_str("<header class=\"top\"><a class=\"brand\" href=\"/alerts\">");
    h.push_str(lang.t("卫监 · 预警台", "weijian · console"));
    h.push_str("</a>");
    if let Some(who) = who {
        h.push_str("<nav>");
        for (path, zh, en) in [("/alerts", "预警", "Alerts"), ("/grid", "网格", "Grid")] {
            let cls = if path == current { " class=\"on\"" } else { "" };
            let _ = write!(h, "<a href=\"{path}\"{cls}>{}</a>", lang.t(zh, en));
        }
        h.push_str("</nav>");
        let _ = write!(
            h,
            "<span class=\"who\">{} <small>{}</small></span>\
             <form method=\"post\" action=\"/signout\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" class=\"link\">{}</button></form>",
            esc(&who.name),
            esc(&who.cell),
            esc(&who.csrf),
            lang.t("退出", "Sign out"),
        );
    }
    let (other, label) = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let _ = write!(
        h,
        "<a class=\"lang\" href=\"/lang?to={other}&amp;next={}\">{label}</a></header><main>",
        enc(current)
    );
    h.push_str(body);
    h.push_str("</main></body></html>");
    Html(h)
}

/// A page with a status: what went wrong and what to do, in the page's language.
pub fn problem(
    lang: Lang,
    status: StatusCode,
    who: Option<&Who>,
    title: &str,
    message: &str,
) -> Response {
    let body = format!(
        "<section class=\"card problem\"><h1>{}</h1><p>{}</p>\
         <p><a class=\"button\" href=\"/alerts\">{}</a></p></section>",
        esc(title),
        esc(message),
        lang.t("返回预警列表", "Back to the alerts"),
    );
    let mut response = (status, frame(lang, title, who, "", &body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped_and_ids_are_percent_encoded() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            alert_path("W2/wp-east-outlet/wm-1/1795305600000000"),
            "/alerts/W2%2Fwp-east-outlet%2Fwm-1%2F1795305600000000"
        );
        assert_eq!(enc("水厂 社区"), "%E6%B0%B4%E5%8E%82%20%E7%A4%BE%E5%8C%BA");
    }

    #[test]
    fn times_are_beijing_time_and_levels_carry_their_colour() {
        assert_eq!(
            beijing(Timestamp::from_secs(1_795_305_600)),
            "2026-11-22 08:00:00"
        );
        assert!(level_badge(Lang::Zh, Level::I).contains("一级红色"));
        assert!(level_badge(Lang::Zh, Level::IV).contains("四级蓝色"));
        assert!(level_badge(Lang::En, Level::II).contains("lv-orange"));
    }
}
