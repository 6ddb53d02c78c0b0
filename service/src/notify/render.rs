//! Rendering shared by the notifiers: Beijing time, the kind and level labels, the webhook /
//! MQTT notice JSON, and the robot markdown. Chinese always comes first.
//!
//! The notice's own `text_zh` / `text_en` (written by the delivery core) carry what, where,
//! how bad, since when (Beijing time), evidence and what to do; the renderers put a short
//! structured header in front of them (level, kind, site, grid, notice time, recipients).

use alerting::catalogue;
use alerting::delivery::{Language, NoticeKind};
use alerting::model::Timestamp;
use alerting::Level;
use chrono::{DateTime, FixedOffset};

use super::Delivery;

/// The schema tag of [`notice_json`].
pub const NOTICE_SCHEMA: &str = "weijian.notice.v1";

/// `YYYY-MM-DD HH:MM:SS` in Beijing time (UTC+8, no daylight saving).
pub fn beijing(ts: Timestamp) -> String {
    let offset = FixedOffset::east_opt(8 * 3600);
    match (DateTime::from_timestamp_micros(ts.as_micros()), offset) {
        (Some(t), Some(o)) => t.with_timezone(&o).format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => ts.to_string(),
    }
}

/// Why the notice is sent, in Chinese (from the text catalogue).
pub const fn kind_zh(k: NoticeKind) -> &'static str {
    k.texts().zh
}

/// Why the notice is sent, in English.
pub const fn kind_en(k: NoticeKind) -> &'static str {
    k.texts().en
}

/// `一级（红色，特别严重）`.
pub fn level_zh(l: Level) -> String {
    catalogue::level_long_zh(l)
}

/// `Level I (red, critical)`.
pub fn level_en(l: Level) -> String {
    catalogue::level_long_en(l)
}

/// A one-line title in the channel's first language: `【一级红色·逾期未确认·升级上报】东区水厂`,
/// or `[Level I red · new alert] East plant` for an English-only channel.
pub fn title(d: &Delivery) -> String {
    let c = &d.content;
    if d.channel.language() == Language::En {
        return format!(
            "[{} · {}] {}",
            catalogue::level_en(c.level),
            kind_en(c.kind),
            c.site_name
        );
    }
    format!(
        "【{}·{}】{}",
        catalogue::level_zh(c.level),
        kind_zh(c.kind),
        c.site_name
    )
}

/// The @mentions of a delivery's addressees with a mobile number: `@13800000000`.
pub fn mentions(d: &Delivery) -> Vec<String> {
    d.to.iter()
        .filter_map(|a| a.mobile.as_ref())
        .map(|m| format!("@{m}"))
        .collect()
}

fn names(d: &Delivery) -> String {
    d.to.iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// The JSON body of webhook deliveries and of notices published to a supervisor's MQTT
/// topic. Schema `weijian.notice.v1`:
///
/// ```json
/// {
///   "schema": "weijian.notice.v1",
///   "notice_id": "n7/escalated/wp-east/1795305600000000",   // also the Idempotency-Key
///   "kind": "escalated",          // new | level_changed | repeat | escalated | resolved | acknowledged
///   "tier": "street",             // community | street | district | city (addressed tier)
///   "level": 1,                   // 1..4, 1 most severe
///   "level_code": "I",            // I | II | III | IV
///   "colour": "red",              // red | orange | yellow | blue
///   "level_name": "critical",     // critical | severe | serious | general
///   "level_zh": "一级（红色，特别严重）",
///   "site": "wp-east", "site_name": "东区水厂",
///   "grid": "district/street/community",
///   "alerts": ["W2/wp-east/wm-1/1795305600000000"],
///   "to": [{"supervisor": "jd-1", "name": "张三"}],
///   "language": "zh+en",          // the channel's: zh | en | zh+en; the other text is null
///   "text_zh": "...", "text_en": "...",
///   "links": ["https://weijian.example.gov.cn/alerts/W2%2Fwp-east%2Fwm-1%2F1795305600000000"],
///                                 // each alert's console page (http.public_url), may be empty
///   "created_at": "2026-11-22T00:00:00.000Z",   // RFC 3339, UTC
///   "created_at_beijing": "2026-11-22 08:00:00"
/// }
/// ```
pub fn notice_json(d: &Delivery) -> serde_json::Value {
    let c = &d.content;
    serde_json::json!({
        "schema": NOTICE_SCHEMA,
        "notice_id": d.notice_id,
        "kind": c.kind.as_str(),
        "tier": c.tier.as_str(),
        "level": c.level.number(),
        "level_code": c.level.as_str(),
        "colour": c.level.colour(),
        "level_name": c.level.name_en(),
        "level_zh": level_zh(c.level),
        "site": c.site,
        "site_name": c.site_name,
        "grid": c.grid.to_string(),
        "alerts": c.alerts,
        "to": d.to,
        "language": d.channel.language().as_str(),
        "text_zh": d.channel.language().has_zh().then_some(&c.text_zh),
        "text_en": d.channel.language().has_en().then_some(&c.text_en),
        "links": c.links,
        "created_at": c.created_at.to_string(),
        "created_at_beijing": beijing(c.created_at),
    })
}

/// Markdown flavour of a group robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markdown {
    /// DingTalk: standard markdown subset, no colours; a single `\n` does not break a line,
    /// so lines are separated by blank lines.
    DingTalk,
    /// WeCom `markdown`: `<font color="info|comment|warning">`, `\n` breaks lines.
    WeCom,
}

/// The WeCom colour of a notice: green (`info`) for resolved/acknowledged, orange-red
/// (`warning`) for levels I-III, grey (`comment`) for level IV.
pub const fn wecom_colour(kind: NoticeKind, level: Level) -> &'static str {
    match (kind, level) {
        (NoticeKind::Resolved | NoticeKind::Acknowledged, _) => "info",
        (_, Level::IV) => "comment",
        _ => "warning",
    }
}

/// The robot message, in blocks separated by a blank line: the heading and structured
/// fields, then the Chinese text and/or the English text as the channel's language says (a
/// group gets Chinese only by default: no English block doubling it), the notice id last.
/// The notice texts' own first line (`【一级红色·新预警】site（grid）`) repeats the heading
/// and is left out; link lines become markdown links (`[查看并确认](url)`), and the
/// addressees' mobiles are @mentioned (DingTalk).
pub fn markdown(d: &Delivery, flavour: Markdown) -> String {
    let language = d.channel.language();
    let c = &d.content;
    // Within a block: DingTalk needs a markdown hard break (two spaces), WeCom a newline.
    let br = match flavour {
        Markdown::DingTalk => "  \n",
        Markdown::WeCom => "\n",
    };
    let heading = title(d);
    let heading = match flavour {
        Markdown::DingTalk => format!("### {heading}"),
        Markdown::WeCom => format!(
            "### <font color=\"{}\">{heading}</font>",
            wecom_colour(c.kind, c.level)
        ),
    };
    let mut head: Vec<String> = if language.has_zh() {
        vec![
            format!("**级别**：{}", level_zh(c.level)),
            format!("**站点**：{}（{}）", c.site_name, c.site),
            format!("**网格**：{}", c.grid),
            format!(
                "**通知时间**：北京时间 {}",
                catalogue::time_zh(c.created_at)
            ),
        ]
    } else {
        vec![
            format!("**Level**: {}", level_en(c.level)),
            format!("**Site**: {} ({})", c.site_name, c.site),
            format!("**Grid**: {}", c.grid),
            format!("**Notice time**: {}", catalogue::time_en(c.created_at)),
        ]
    };
    if c.alerts.len() > 1 {
        head.push(if language.has_zh() {
            format!("**{}数**：{} 条", catalogue::ALERT_ZH, c.alerts.len())
        } else {
            format!("**Alerts**: {}", c.alerts.len())
        });
    }
    if !d.to.is_empty() {
        let at = match flavour {
            Markdown::DingTalk => mentions(d),
            Markdown::WeCom => Vec::new(),
        };
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" {}", at.join(" "))
        };
        head.push(if language.has_zh() {
            format!("**致**：{}（{}级）{at}", names(d), c.tier.zh())
        } else {
            format!("**To**: {} ({} tier){at}", names(d), c.tier.as_str())
        });
    }
    let zh: Vec<String> = if language.has_zh() {
        body_lines(&c.text_zh, '【')
    } else {
        Vec::new()
    };
    let mut en: Vec<String> = Vec::new();
    if language == Language::ZhEn {
        en.push(format!(
            "**{} · {}** — {} ({})",
            level_en(c.level),
            kind_en(c.kind),
            c.site_name,
            c.grid
        ));
    }
    if language.has_en() {
        en.extend(body_lines(&c.text_en, '['));
    }
    let id = match language {
        Language::Zh => format!("通知编号：`{}`", d.notice_id),
        Language::En => format!("Notice: `{}`", d.notice_id),
        Language::ZhEn => format!("通知编号 Notice: `{}`", d.notice_id),
    };
    let head = head.join(br);
    let mut last = if en.is_empty() { zh } else { en };
    last.push(id);
    let zh_block = if language == Language::ZhEn {
        body_lines(&c.text_zh, '【').join(br)
    } else {
        String::new()
    };
    let blocks = [head, zh_block, last.join(br)];
    let mut out = heading;
    for b in blocks.iter().filter(|b| !b.is_empty()) {
        out.push_str("\n\n");
        out.push_str(b);
    }
    out
}

/// The lines of a notice text, without its heading line (starting with `heading_mark`) and
/// blank lines, each made safe by [`quote`].
fn body_lines(text: &str, heading_mark: char) -> Vec<String> {
    let mut lines = text.lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.trim_start().starts_with(heading_mark))
    {
        lines.next();
    }
    lines.filter(|l| !l.trim().is_empty()).map(quote).collect()
}

/// A body line as shown in the robot: indented evidence lines stay readable, markdown
/// control characters at the line start are neutralised (a `#` or `-` in a summary must not
/// become a heading or a list); a link line (`查看并确认：https://…`) becomes a markdown link.
fn quote(line: &str) -> String {
    let t = line.trim_start();
    if let Some((label, url)) = t
        .split_once('：')
        .or_else(|| t.split_once(": "))
        .filter(|(_, u)| u.starts_with("https://") || u.starts_with("http://"))
    {
        if !url.contains([' ', ')']) {
            return format!("[{label}]({url})");
        }
    }
    match t.chars().next() {
        Some('#' | '-' | '*' | '>' | '+') => format!("\\{t}"),
        _ => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_time_is_utc_plus_eight() {
        // 2026-11-22T00:00:00Z
        let ts = Timestamp::from_secs(1_795_305_600);
        assert_eq!(ts.to_string(), "2026-11-22T00:00:00.000Z");
        assert_eq!(beijing(ts), "2026-11-22 08:00:00");
    }

    #[test]
    fn level_labels_carry_number_colour_and_severity_in_both_languages() {
        assert_eq!(level_zh(Level::I), "一级（红色，特别严重）");
        assert_eq!(level_en(Level::IV), "Level IV (blue, general)");
    }
}
