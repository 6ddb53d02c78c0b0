//! Notice texts as supervisors read them (issue 15): for each rule family's limit type (lower
//! limit, upper limit, band) the firing and the recovery notices, produced by the real rule
//! engine and delivery core and rendered for DingTalk, WeCom and e-mail, in Chinese and in
//! English: the direction from the rule's limit type, units, Beijing time in Chinese, the
//! link to the alert's page, 预警 and never 告警, no code identifiers in Chinese.

use alerting::delivery::{Language, Notice};
use alerting::model::{
    DataFlag, Device, DeviceKind, Disinfectant, Metric, Period, Reading, Site, SiteAttributes,
    Stat, WaterPoint, WaterSite,
};
use alerting::{Engine, Input, RulePack};

use super::super::email;
use super::*;

const PUBLIC_URL: &str = "https://weijian.example.gov.cn";

fn site() -> Site {
    Site {
        id: "wp-east".into(),
        name: "东区水厂出水口".into(),
        grid: grid(),
        attributes: SiteAttributes::Water(WaterSite {
            point: WaterPoint::Outlet,
            disinfectant: Disinfectant::FreeChlorine,
            small_supply: false,
        }),
    }
}

fn reading(min: i64, metric: Metric, value: f64) -> Input {
    Input::Reading(Reading {
        site: "wp-east".into(),
        device: "wm-1".into(),
        ts: T0.plus_secs(min * 60),
        metric,
        value,
        flag: DataFlag::N,
        period: Period::Instant,
        stat: Stat::Value,
        seq: None,
    })
}

/// A community supervisor with a DingTalk group, a WeCom group and e-mail in each language.
const SUPERVISORS: &str = r#"
[[supervisors]]
id = "sq-1"
name = "多福巷社区 协管员"
cell = { district = "东城区", street = "东华门街道", community = "多福巷社区" }
token_sha256 = "e899b120ae4398e81faa49823aa8bb543632ec042223c781efc67dfd7cf73f8f"
channels = [
  { kind = "dingtalk", target = "https://oapi.dingtalk.com/robot/send?access_token=x" },
  { kind = "wecom", target = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x" },
  { kind = "email", target = "zh@example.org", language = "zh" },
  { kind = "email", target = "en@example.org", language = "en" },
  { kind = "email", target = "both@example.org" },
]
"#;

/// The firing and the resolved notice of the alert `values` (one per minute) raise.
fn notices(metric: Metric, values: &[f64]) -> (Notice, Notice) {
    let pack = RulePack::default_pack().unwrap();
    let device = Device {
        id: "wm-1".into(),
        site: "wp-east".into(),
        kind: DeviceKind::WaterMonitor,
        expected_interval_secs: 60,
    };
    let mut rules = Engine::new(pack, vec![site()], vec![device]);
    let mut config =
        alerting::delivery::DeliveryConfig::from_toml(SUPERVISORS, "t.toml", &[site()])
            .unwrap()
            .config;
    config.public_url = Some(PUBLIC_URL.to_owned());
    let mut delivery = alerting::delivery::DeliveryEngine::new(config, &[site()]);
    let mut out = Vec::new();
    for (m, v) in values.iter().enumerate() {
        let now = T0.plus_secs(m as i64 * 60);
        for e in rules.process(&reading(m as i64, metric, *v)) {
            if e.rule.starts_with('W') {
                out.extend(delivery.on_alert_event(&e, now).notices);
            }
        }
        out.extend(delivery.tick(now).notices);
    }
    let of = |k: NoticeKind| {
        out.iter()
            .find(|n| n.kind == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k:?} notice among {:?}", out))
    };
    (of(NoticeKind::New), of(NoticeKind::Resolved))
}

/// The rendered messages of a notice: DingTalk markdown, WeCom markdown, e-mail in Chinese,
/// in English, in both.
fn rendered(n: &Notice) -> [String; 5] {
    let ds = Delivery::fan_out(n);
    let by = |kind: ChannelKind, lang: Language| {
        ds.iter()
            .find(|d| d.channel.kind == kind && d.channel.language() == lang)
            .unwrap_or_else(|| panic!("no {kind:?} {lang:?} delivery"))
    };
    let ding = DingTalkNotifier::body(by(ChannelKind::Dingtalk, Language::Zh));
    let ding = format!(
        "{}\n{}",
        ding["actionCard"]["title"].as_str().unwrap_or_default(),
        ding["actionCard"]["text"].as_str().unwrap_or_default()
    );
    let wecom = WeComNotifier::body(by(ChannelKind::Wecom, Language::Zh))["markdown"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    [
        ding,
        wecom,
        email::text(by(ChannelKind::Email, Language::Zh)),
        email::text(by(ChannelKind::Email, Language::En)),
        email::text(by(ChannelKind::Email, Language::ZhEn)),
    ]
}

fn has(text: &str, part: &str) {
    assert!(text.contains(part), "expected «{part}» in\n{text}");
}

/// Code identifiers (`_` in a word), `key=value` evidence, UTC `…Z` times, English prose
/// words, and 告警, in a Chinese message.
fn chinese_problems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // The notice id, alert ids and robot keys are references, not prose.
    let mut prose: String = text
        .lines()
        .filter(|l| !l.contains("编号") && !l.contains("https://"))
        .collect::<Vec<_>>()
        .join("\n");
    // WeCom's colour markup is not text.
    while let (Some(a), Some(b)) = (prose.find('<'), prose.find('>')) {
        if b < a {
            break;
        }
        prose.replace_range(a..=b, "");
    }
    for w in prose.split(|c: char| !(c.is_ascii_alphanumeric() || "_=-".contains(c))) {
        if w.contains('_') || w.contains('=') {
            out.push(format!("identifier `{w}`"));
        }
        if w.len() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()) {
            out.push(format!("English `{w}`"));
        }
    }
    if prose.contains("000Z") || prose.contains("告警") {
        out.push("UTC time or 告警".to_owned());
    }
    out
}

/// Checks the five renderings: Chinese ones carry `zh` phrases and no English, the English
/// e-mail the `en` phrases, the bilingual one both; all link to the alert's page.
fn check(n: &Notice, zh: &[&str], en: &[&str]) {
    let [ding, wecom, mail_zh, mail_en, mail_both] = rendered(n);
    let page = format!("{PUBLIC_URL}/alerts/{}", n.alerts[0].replace('/', "%2F"));
    for chinese in [&ding, &wecom, &mail_zh] {
        for p in zh {
            has(chinese, p);
        }
        has(chinese, &page);
        let problems = chinese_problems(chinese);
        assert!(problems.is_empty(), "{problems:?} in\n{chinese}");
        for p in en {
            assert!(
                !chinese.contains(p),
                "English «{p}» in a Chinese message:\n{chinese}"
            );
        }
    }
    // The DingTalk robot's custom keyword is in every message.
    has(&ding, "预警通知");
    has(&ding, &format!("[{}]({page})", LINK_ACK_OR_VIEW(n.kind)));
    for p in en {
        has(&mail_en, p);
        has(&mail_both, p);
    }
    for p in zh {
        assert!(!mail_en.contains(p), "Chinese «{p}» in the English e-mail");
        has(&mail_both, p);
    }
    has(&mail_en, &page);
}

#[allow(non_snake_case)]
fn LINK_ACK_OR_VIEW(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Resolved | NoticeKind::Acknowledged => alerting::catalogue::LINK_VIEW.zh,
        _ => alerting::catalogue::LINK_ACK.zh,
    }
}

#[test]
fn w2_lower_limit_notices_name_the_lower_limit_and_the_recovery_above_it() {
    let mut values = vec![0.25; 20];
    values[3] = 0.12;
    values.extend([0.5; 40]);
    let (new, resolved) = notices(Metric::FreeChlorineMgL, &values);
    check(
        &new,
        &[
            "【二级橙色·新预警】东区水厂出水口",
            "游离氯低于下限 0.3 mg/L（超标期间最低 0.12 mg/L，当前 0.25 mg/L）",
            "自北京时间 11月22日 08:00 起",
            // No street supervisor here: nowhere to escalate to.
            "前打开上方链接确认。",
        ],
        &[
            "free chlorine below the lower limit 0.3 mg/L (lowest during the breach 0.12 mg/L",
            "on the page linked above.",
        ],
    );
    check(
        &resolved,
        &["游离氯当前 0.5 mg/L，已回升至下限 0.3 mg/L 以上（超标期间最低 0.12 mg/L）"],
        &["free chlorine now 0.5 mg/L, back above the lower limit 0.3 mg/L"],
    );
}

#[test]
fn w1_upper_limit_notices_name_the_upper_limit_and_the_recovery_below_it() {
    let mut values = vec![1.6; 10];
    values.extend([0.3; 40]);
    let (new, resolved) = notices(Metric::TurbidityNtu, &values);
    check(
        &new,
        &["浑浊度超过上限 1 NTU（超标期间最高 1.6 NTU，当前 1.6 NTU）"],
        &["turbidity above the upper limit 1 NTU (highest during the breach 1.6 NTU"],
    );
    check(
        &resolved,
        &["浑浊度当前 0.3 NTU，已恢复至上限 1 NTU 以下"],
        &["turbidity now 0.3 NTU, back below the upper limit 1 NTU"],
    );
}

#[test]
fn w4_band_notices_name_the_breached_side_and_the_recovery_into_the_band() {
    // A quarter of an hour around and above 8.5, firing on 8.44.
    let mut values = vec![
        8.56, 8.62, 8.51, 8.47, 8.58, 8.66, 8.49, 8.55, 8.71, 8.52, 8.48, 8.6, 8.57, 8.5, 8.53,
        8.44,
    ];
    values.extend([7.4; 40]);
    let (new, resolved) = notices(Metric::Ph, &values);
    check(
        &new,
        &["pH 超过上限 8.5（超标期间最高 8.71，当前 8.44）"],
        &["pH above the upper limit 8.5 (highest during the breach 8.71, now 8.44)"],
    );
    let [ding, ..] = rendered(&new);
    assert!(!ding.contains("下限"), "{ding}");
    check(
        &resolved,
        &["pH 当前 7.4，已回到范围 6.5–8.5 内（超标期间最高 8.71）"],
        &["pH now 7.4, back within the range 6.5–8.5 (highest during the breach 8.71)"],
    );
}

#[test]
fn dingtalk_sends_an_action_card_to_the_alert_page_or_markdown_with_at_mentions() {
    let mut values = vec![1.6; 10];
    values.extend([0.3; 40]);
    let (mut new, _) = notices(Metric::TurbidityNtu, &values);
    let page = format!("{PUBLIC_URL}/alerts/{}", new.alerts[0].replace('/', "%2F"));
    let ding = |n: &Notice| {
        let d = Delivery::fan_out(n)
            .into_iter()
            .find(|d| d.channel.kind == ChannelKind::Dingtalk)
            .unwrap();
        DingTalkNotifier::body(&d)
    };
    let card = ding(&new);
    assert_eq!(card["msgtype"], "actionCard");
    assert_eq!(card["actionCard"]["singleTitle"], "查看并确认");
    assert_eq!(card["actionCard"]["singleURL"], page.as_str());

    new.recipients[0].mobile = Some("13800000000".to_owned());
    let md = ding(&new);
    assert_eq!(md["msgtype"], "markdown");
    assert_eq!(md["at"]["atMobiles"], serde_json::json!(["13800000000"]));
    assert_eq!(md["at"]["isAtAll"], false);
    let text = md["markdown"]["text"].as_str().unwrap();
    has(text, "@13800000000");
    has(text, &format!("[查看并确认]({page})"));
    // WeCom markdown cannot mention by mobile: no stray @number there.
    let d = Delivery::fan_out(&new)
        .into_iter()
        .find(|d| d.channel.kind == ChannelKind::Wecom)
        .unwrap();
    let content = WeComNotifier::body(&d)["markdown"]["content"].to_string();
    assert!(!content.contains("@138"), "{content}");
}

#[test]
fn webhook_json_carries_the_language_and_the_links() {
    let mut values = vec![1.6; 10];
    values.extend([0.3; 40]);
    let (new, _) = notices(Metric::TurbidityNtu, &values);
    let mut d = Delivery::fan_out(&new).remove(0);
    d.channel = channel(ChannelKind::Webhook, "https://example.org/hook", None);
    let j = render::notice_json(&d);
    assert_eq!(j["language"], "zh+en");
    assert!(j["text_en"]
        .as_str()
        .is_some_and(|t| t.contains("upper limit")));
    assert_eq!(j["links"][0].as_str().unwrap(), new.links[0]);
    d.channel.language = Some(Language::Zh);
    let j = render::notice_json(&d);
    assert_eq!(j["language"], "zh");
    assert!(j["text_en"].is_null());
}
