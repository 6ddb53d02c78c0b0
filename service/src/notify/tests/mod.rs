//! Notifier tests against in-process HTTP receivers (axum on 127.0.0.1:0): bodies, headers,
//! the DingTalk signature as the receiver checks it, errcode and status handling, timeouts,
//! refused connections, masking of secrets; and the fan-out and MQTT payloads. E-mail (against
//! an in-process SMTP receiver) is in `email.rs`.

mod email;
mod texts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerting::delivery::{
    Channel, ChannelKind, DeliveryEvent, DeliveryEventKind, Notice, NoticeKind, Recipient, Tier,
};
use alerting::model::{GridPath, Timestamp};
use alerting::{AlertEvent, EventKind, Evidence, Level};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::*;

const T0: Timestamp = Timestamp(1_795_305_600_000_000); // 2026-11-22T00:00:00Z
const TOKEN: &str = "t0k3n-abcdef";
const SECRET: &str = "SECtest0123456789abcdef";
const SECRET_ENV: &str = "WJ_TEST_DINGTALK_SECRET";

// ---------------------------------------------------------------- fixtures

fn grid() -> GridPath {
    GridPath {
        district: "东城区".into(),
        street: "东华门街道".into(),
        community: "多福巷社区".into(),
    }
}

fn channel(kind: ChannelKind, target: &str, secret_env: Option<&str>) -> Channel {
    Channel {
        kind,
        target: target.to_owned(),
        secret_env: secret_env.map(str::to_owned),
        language: None,
    }
}

fn notice(kind: NoticeKind, recipients: Vec<Recipient>) -> Notice {
    Notice {
        id: format!("n7/{}/wp-east/{}", kind.as_str(), T0.as_micros()),
        kind,
        tier: Tier::Street,
        recipients,
        alerts: vec![format!("W2/wp-east/wm-1/{}", T0.as_micros())],
        site: "wp-east".into(),
        site_name: "东区水厂出水口".into(),
        grid: grid(),
        level: Level::I,
        text_zh: "【一级红色·逾期未确认·升级上报】东区水厂出水口（东城区/东华门街道/多福巷社区）\n\
                  1. 出厂水游离氯低于下限 0.3 mg/L（超标期间最低 0.02 mg/L，当前 0.02 mg/L）；自北京时间 11月22日 07:40 起。\n\
                  处置建议：核查净水与消毒工艺及投加设备，现场采样复检。"
            .into(),
        text_en: "[Level I red · escalated: not acknowledged in time] East plant outlet\n\
                  1. Free chlorine below the lower limit 0.3 mg/L (now 0.02 mg/L); since 2026-11-22 07:40 Beijing time.\n   \
                  Evidence: value 0.02 mg/L, limit 0.3 mg/L\n\
                  What to do: Check treatment and disinfection (dosing) at the plant."
            .into(),
        created_at: T0,
        links: Vec::new(),
    }
}

fn recipient(id: &str, name: &str, channels: Vec<Channel>) -> Recipient {
    Recipient {
        supervisor: id.into(),
        name: name.into(),
        tier: Tier::Street,
        channels,
        mobile: None,
    }
}

/// One delivery of an escalation notice to `ch`.
fn delivery(ch: Channel) -> Delivery {
    let n = notice(
        NoticeKind::Escalated,
        vec![recipient("jd-1", "张三", vec![ch])],
    );
    Delivery::fan_out(&n).remove(0)
}

fn secrets() -> Arc<dyn SecretSource> {
    Arc::new(HashMap::from([(SECRET_ENV.to_owned(), SECRET.to_owned())]))
}

fn config(timeout: Duration) -> HttpConfig {
    HttpConfig {
        timeout,
        ..HttpConfig::default()
    }
}

// ---------------------------------------------------------------- receiver

#[derive(Debug, Clone)]
struct Captured {
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Captured {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    fn query(&self, name: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }
}

/// How the receiver answers.
#[derive(Clone)]
enum Reply {
    Fixed(u16, String),
    /// DingTalk-like: errcode 0 when the signature checks out with this secret, else 310000.
    CheckDingTalkSign(String),
    /// Answer 200 after this long.
    Slow(Duration),
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Captured>>>,
    reply: Reply,
}

async fn handle(State(rx): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let captured = Captured {
        uri: uri.to_string(),
        headers,
        body: body.to_vec(),
    };
    let (status, text) = match &rx.reply {
        Reply::Fixed(s, b) => (*s, b.clone()),
        Reply::CheckDingTalkSign(secret) => {
            if dingtalk_signature_ok(&captured, secret) {
                (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned())
            } else {
                (
                    200,
                    r#"{"errcode":310000,"errmsg":"sign not match"}"#.to_owned(),
                )
            }
        }
        Reply::Slow(d) => {
            tokio::time::sleep(*d).await;
            (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned())
        }
    };
    if let Ok(mut seen) = rx.seen.lock() {
        seen.push(captured);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        text,
    )
        .into_response()
}

/// What DingTalk does: HMAC-SHA256(secret, "<timestamp>\n<secret>"), base64, compared with
/// the URL-decoded `sign`; and the timestamp within an hour of now.
fn dingtalk_signature_ok(c: &Captured, secret: &str) -> bool {
    let (Some(ts), Some(sign)) = (c.query("timestamp"), c.query("sign")) else {
        return false;
    };
    let Ok(ts_ms) = ts.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp_millis() - ts_ms).abs() > 3_600_000 {
        return false;
    }
    let decoded = percent_decode(&sign);
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(decoded) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, format!("{ts}\n{secret}").as_bytes(), &tag).is_ok()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Starts a receiver; returns its base URL (`http://127.0.0.1:port`) and what it saw.
async fn receiver(reply: Reply) -> (String, Arc<Mutex<Vec<Captured>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().fallback(handle).with_state(Receiver {
        seen: seen.clone(),
        reply,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

/// Sends on a blocking thread, as the outbox will.
async fn send(n: Arc<dyn Notifier>, d: Delivery) -> Result<(), NotifyError> {
    tokio::task::spawn_blocking(move || n.send(&d))
        .await
        .unwrap()
}

fn only(seen: &Arc<Mutex<Vec<Captured>>>) -> Captured {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "exactly one request");
    seen[0].clone()
}

// ---------------------------------------------------------------- webhook

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_posts_the_documented_notice_json_with_the_notice_id_as_idempotency_key() {
    let (base, seen) = receiver(Reply::Fixed(204, String::new())).await;
    let d = delivery(channel(ChannelKind::Webhook, &format!("{base}/hook"), None));
    let n = Arc::new(WebhookNotifier::new(&HttpConfig::default(), secrets()));
    send(n, d.clone()).await.unwrap();

    let c = only(&seen);
    assert_eq!(c.uri, "/hook");
    assert_eq!(
        c.headers.get("idempotency-key").unwrap().to_str().unwrap(),
        d.notice_id
    );
    assert!(c
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(c.headers.get("x-weijian-signature").is_none());
    let j = c.json();
    assert_eq!(j["schema"], "weijian.notice.v1");
    assert_eq!(j["notice_id"], d.notice_id.as_str());
    assert_eq!(j["kind"], "escalated");
    assert_eq!(j["tier"], "street");
    assert_eq!(j["level"], 1);
    assert_eq!(j["level_code"], "I");
    assert_eq!(j["colour"], "red");
    assert_eq!(j["level_zh"], "一级（红色，特别严重）");
    assert_eq!(j["site"], "wp-east");
    assert_eq!(j["site_name"], "东区水厂出水口");
    assert_eq!(j["grid"], "东城区/东华门街道/多福巷社区");
    assert_eq!(
        j["alerts"][0],
        format!("W2/wp-east/wm-1/{}", T0.as_micros())
    );
    assert_eq!(j["to"][0]["supervisor"], "jd-1");
    assert_eq!(j["to"][0]["name"], "张三");
    assert_eq!(j["created_at"], "2026-11-22T00:00:00.000Z");
    assert_eq!(j["created_at_beijing"], "2026-11-22 08:00:00");
    assert!(j["text_zh"].as_str().unwrap().starts_with("【一级红色"));
    assert!(j["text_en"].as_str().unwrap().starts_with("[Level I red"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_with_a_secret_carries_an_hmac_of_timestamp_and_body() {
    let (base, seen) = receiver(Reply::Fixed(200, "ok".into())).await;
    let d = delivery(channel(
        ChannelKind::Webhook,
        &format!("{base}/hook"),
        Some(SECRET_ENV),
    ));
    let n = Arc::new(
        WebhookNotifier::new(&HttpConfig::default(), secrets()).with_clock(|| 1_795_305_600_123),
    );
    send(n, d).await.unwrap();
    let c = only(&seen);
    assert_eq!(
        c.headers
            .get("x-weijian-timestamp")
            .unwrap()
            .to_str()
            .unwrap(),
        "1795305600123"
    );
    let sig = c
        .headers
        .get("x-weijian-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let hex = sig.strip_prefix("sha256=").unwrap();
    let tag: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let mut msg = b"1795305600123.".to_vec();
    msg.extend_from_slice(&c.body);
    assert!(ring::hmac::verify(&key, &msg, &tag).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_and_429_are_transient_400_and_redirects_are_permanent() {
    let n: Arc<dyn Notifier> = Arc::new(WebhookNotifier::new(&HttpConfig::default(), secrets()));
    for (status, transient) in [
        (500, true),
        (503, true),
        (429, true),
        (400, false),
        (404, false),
        (302, false),
    ] {
        let (base, _seen) = receiver(Reply::Fixed(status, "nope".into())).await;
        let d = delivery(channel(ChannelKind::Webhook, &format!("{base}/h"), None));
        let err = send(n.clone(), d).await.unwrap_err();
        assert!(
            matches!(err, NotifyError::Http { status: s, .. } if s == status),
            "{err}"
        );
        assert_eq!(err.is_transient(), transient, "{status}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    let d = delivery(channel(
        ChannelKind::Dingtalk,
        &format!("http://127.0.0.1:{port}/robot/send?access_token={TOKEN}"),
        None,
    ));
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    let err = send(n, d).await.unwrap_err();
    assert!(matches!(err, NotifyError::Connection { .. }), "{err:?}");
    assert!(err.is_transient());
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("access_token=***"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_after_the_configured_timeout_and_that_is_transient() {
    let (base, _seen) = receiver(Reply::Slow(Duration::from_secs(3))).await;
    let d = delivery(channel(ChannelKind::Webhook, &format!("{base}/h"), None));
    let n: Arc<dyn Notifier> = Arc::new(WebhookNotifier::new(
        &config(Duration::from_millis(300)),
        secrets(),
    ));
    let started = std::time::Instant::now();
    let err = send(n, d).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, NotifyError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_attempt_a_tls_handshake_and_a_failed_one_is_transient() {
    // A plain-HTTP receiver behind an https:// URL: the client must try TLS (the feature is
    // compiled in) and fail the handshake, which may be a network fault, so transient.
    let (base, _seen) = receiver(Reply::Fixed(200, "{}".into())).await;
    let url = format!(
        "{}/robot/send?access_token={TOKEN}",
        base.replace("http://", "https://")
    );
    let d = delivery(channel(ChannelKind::Dingtalk, &url, None));
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    let err = send(n, d).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NotifyError::Connection { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        !text.contains("TLS required"),
        "TLS support missing: {text}"
    );
    assert!(
        text.contains("corrupt message"),
        "a rustls handshake error: {text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
}

// ---------------------------------------------------------------- DingTalk

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_posts_chinese_markdown_signed_so_the_receiver_can_verify_it() {
    let (base, seen) = receiver(Reply::CheckDingTalkSign(SECRET.into())).await;
    let d = delivery(channel(
        ChannelKind::Dingtalk,
        &format!("{base}/robot/send?access_token={TOKEN}"),
        Some(SECRET_ENV),
    ));
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    send(n, d.clone()).await.unwrap();

    let c = only(&seen);
    assert!(c
        .uri
        .starts_with(&format!("/robot/send?access_token={TOKEN}&timestamp=")));
    assert!(dingtalk_signature_ok(&c, SECRET));
    let j = c.json();
    assert_eq!(j["msgtype"], "markdown");
    let title = j["markdown"]["title"].as_str().unwrap();
    assert!(
        title.starts_with("【一级红色·逾期未确认·升级上报】东区水厂出水口"),
        "{title}"
    );
    let text = j["markdown"]["text"].as_str().unwrap();
    // A group gets Chinese only by default: no English block doubling it.
    assert!(text.contains("出厂水游离氯"), "{text}");
    assert!(
        !text.contains("Free chlorine") && !text.contains("Level I"),
        "{text}"
    );
    assert!(title.ends_with(" 预警通知"), "{title}");
    for needle in [
        "### 【一级红色",
        "**级别**：一级（红色，特别严重）",
        "**站点**：东区水厂出水口（wp-east）",
        "**网格**：东城区/东华门街道/多福巷社区",
        "**通知时间**：北京时间 11月22日 08:00",
        "**致**：张三（街道级）",
        "处置建议：",
        &d.notice_id,
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("\n\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_with_the_wrong_secret_is_refused_permanently() {
    let (base, _seen) = receiver(Reply::CheckDingTalkSign("SECsomethingelse".into())).await;
    let d = delivery(channel(
        ChannelKind::Dingtalk,
        &format!("{base}/robot/send?access_token={TOKEN}"),
        Some(SECRET_ENV),
    ));
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    let err = send(n, d).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Api { code: 310000, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_errcodes_zero_ok_rate_limit_transient_others_permanent() {
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    for (answer, expect) in [
        (r#"{"errcode":0,"errmsg":"ok"}"#, None),
        (r#"{"errcode":130101,"errmsg":"send too fast"}"#, Some(true)),
        (r#"{"errcode":-1,"errmsg":"system busy"}"#, Some(true)),
        (
            r#"{"errcode":300001,"errmsg":"token is not exist"}"#,
            Some(false),
        ),
    ] {
        let (base, _seen) = receiver(Reply::Fixed(200, answer.into())).await;
        let d = delivery(channel(
            ChannelKind::Dingtalk,
            &format!("{base}/robot/send?access_token={TOKEN}"),
            None,
        ));
        let got = send(n.clone(), d).await;
        match expect {
            None => assert!(got.is_ok(), "{answer}: {got:?}"),
            Some(t) => {
                let err = got.unwrap_err();
                assert!(matches!(err, NotifyError::Api { .. }), "{err:?}");
                assert_eq!(err.is_transient(), t, "{answer}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_show_the_token_the_signature_or_the_secret() {
    // The receiver echoes the request line in a 500, as some gateways do.
    let (base, _seen) = receiver(Reply::Fixed(
        500,
        format!("upstream failed for /robot/send?access_token={TOKEN}&sign=abc&x={SECRET}"),
    ))
    .await;
    let d = delivery(channel(
        ChannelKind::Dingtalk,
        &format!("{base}/robot/send?access_token={TOKEN}"),
        Some(SECRET_ENV),
    ));
    let n: Arc<dyn Notifier> = Arc::new(
        DingTalkNotifier::new(&HttpConfig::default(), secrets()).with_clock(|| 1_795_305_600_000),
    );
    let err = send(n, d.clone()).await.unwrap_err();
    assert!(err.is_transient());
    let sign = super::dingtalk::sign(SECRET, 1_795_305_600_000);
    let text = format!("{err} {err:?} {}", d.describe());
    for secret in [TOKEN, SECRET, sign.as_str()] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert!(text.contains("access_token=***"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_a_permanent_error_and_nothing_is_sent() {
    let (base, seen) = receiver(Reply::Fixed(200, r#"{"errcode":0}"#.into())).await;
    let d = delivery(channel(
        ChannelKind::Dingtalk,
        &format!("{base}/robot/send?access_token={TOKEN}"),
        Some("WJ_TEST_NOT_SET_ANYWHERE"),
    ));
    let n: Arc<dyn Notifier> = Arc::new(DingTalkNotifier::new(&HttpConfig::default(), secrets()));
    let err = send(n, d).await.unwrap_err();
    assert!(matches!(err, NotifyError::MissingSecret { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(seen.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------- WeCom

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_posts_coloured_markdown_content_chinese_first() {
    let (base, seen) = receiver(Reply::Fixed(200, r#"{"errcode":0,"errmsg":"ok"}"#.into())).await;
    let d = delivery(channel(
        ChannelKind::Wecom,
        &format!("{base}/cgi-bin/webhook/send?key={TOKEN}"),
        None,
    ));
    let n: Arc<dyn Notifier> = Arc::new(WeComNotifier::new(&HttpConfig::default()));
    send(n, d).await.unwrap();
    let c = only(&seen);
    assert_eq!(c.uri, format!("/cgi-bin/webhook/send?key={TOKEN}"));
    let j = c.json();
    assert_eq!(j["msgtype"], "markdown");
    let content = j["markdown"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("### <font color=\"warning\">【一级红色·逾期未确认·升级上报】"),
        "{content}"
    );
    assert!(content.contains("出厂水游离氯") && !content.contains("Free chlorine"));
    assert!(content.contains("**通知时间**：北京时间 11月22日 08:00\n"));
    assert!(content.len() <= super::wecom::MAX_CONTENT_BYTES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_content_over_4096_bytes_arrives_truncated_with_a_note() {
    let (base, seen) = receiver(Reply::Fixed(200, r#"{"errcode":0,"errmsg":"ok"}"#.into())).await;
    let mut d = delivery(channel(
        ChannelKind::Wecom,
        &format!("{base}/cgi-bin/webhook/send?key={TOKEN}"),
        None,
    ));
    d.content.text_zh = (1..=200)
        .map(|i| format!("{i}. 第{i}条预警：出厂水游离氯低于下限"))
        .collect::<Vec<_>>()
        .join("\n");
    let n: Arc<dyn Notifier> = Arc::new(WeComNotifier::new(&HttpConfig::default()));
    send(n, d.clone()).await.unwrap();
    let content = only(&seen).json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.len() <= 4096, "{}", content.len());
    assert!(content.len() > 3500, "uses the room: {}", content.len());
    assert!(content.contains("内容过长已截断"));
    assert!(content.contains(&d.notice_id));
    assert!(content.starts_with("### <font color=\"warning\">"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_rate_limit_is_transient_and_an_invalid_key_permanent() {
    let n: Arc<dyn Notifier> = Arc::new(WeComNotifier::new(&HttpConfig::default()));
    for (answer, transient) in [
        (
            r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
            true,
        ),
        (r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#, false),
    ] {
        let (base, _seen) = receiver(Reply::Fixed(200, answer.into())).await;
        let d = delivery(channel(
            ChannelKind::Wecom,
            &format!("{base}/cgi-bin/webhook/send?key={TOKEN}"),
            None,
        ));
        let err = send(n.clone(), d).await.unwrap_err();
        assert_eq!(err.is_transient(), transient, "{err}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }
}

#[test]
fn resolved_notices_are_green_in_wecom_and_level_four_grey() {
    use super::render::wecom_colour;
    assert_eq!(wecom_colour(NoticeKind::Resolved, Level::I), "info");
    assert_eq!(wecom_colour(NoticeKind::Acknowledged, Level::II), "info");
    assert_eq!(wecom_colour(NoticeKind::New, Level::IV), "comment");
    assert_eq!(wecom_colour(NoticeKind::Escalated, Level::III), "warning");
}

// ---------------------------------------------------------------- dispatch, fan-out

#[test]
fn fan_out_makes_one_delivery_per_distinct_channel_and_merges_shared_groups() {
    let group = channel(
        ChannelKind::Dingtalk,
        "https://oapi.dingtalk.com/robot/send?access_token=g",
        None,
    );
    let n = notice(
        NoticeKind::New,
        vec![
            recipient(
                "a",
                "甲",
                vec![
                    group.clone(),
                    channel(ChannelKind::Webhook, "https://a.example/h", None),
                ],
            ),
            recipient("b", "乙", vec![group.clone()]),
        ],
    );
    let ds = Delivery::fan_out(&n);
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0].channel, group);
    assert_eq!(
        ds[0].to.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["甲", "乙"]
    );
    assert_eq!(ds[1].channel.kind, ChannelKind::Webhook);
    assert!(ds.iter().all(|d| d.notice_id == n.id));
    assert_ne!(ds[0].key(), ds[1].key());
    assert!(ds[0].key().starts_with(&format!("{}|dingtalk|", n.id)));
    assert!(!ds[0].key().contains("access_token"));
    assert!(!ds[0].describe().contains("access_token=g"));
    // A delivery survives the outbox's serde round trip.
    let json = serde_json::to_string(&ds[0]).unwrap();
    assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), ds[0]);
}

#[test]
fn email_has_no_notifier_and_fails_permanently() {
    let notifiers = Notifiers::http(&HttpConfig::default());
    assert!(!notifiers.supports(ChannelKind::Email));
    assert!(notifiers.supports(ChannelKind::Dingtalk));
    let d = delivery(channel(ChannelKind::Email, "zhang@example.org", None));
    let err = notifiers.send(&d).unwrap_err();
    assert!(matches!(err, NotifyError::Unsupported { .. }));
    assert!(!err.is_transient());
}

#[test]
fn check_channel_catches_what_would_fail_permanently_at_send_time() {
    let s = HashMap::from([(SECRET_ENV.to_owned(), SECRET.to_owned())]);
    let ok = [
        channel(
            ChannelKind::Dingtalk,
            "https://oapi.dingtalk.com/robot/send?access_token=x",
            Some(SECRET_ENV),
        ),
        channel(
            ChannelKind::Wecom,
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            None,
        ),
        channel(ChannelKind::Webhook, "http://10.0.0.5:8080/hook", None),
        channel(ChannelKind::Mqtt, "weijian/v1/notices/jd-1", None),
        channel(ChannelKind::Email, "a@b.cn", None),
    ];
    for c in &ok {
        assert!(check_channel(c, &s).is_ok(), "{c:?}");
    }
    let bad = [
        channel(ChannelKind::Email, "a.b.cn", None),
        channel(ChannelKind::Webhook, "ftp://x/y", None),
        channel(
            ChannelKind::Dingtalk,
            "https://oapi.dingtalk.com/robot/send",
            None,
        ),
        channel(
            ChannelKind::Dingtalk,
            "https://oapi.dingtalk.com/robot/send?access_token=x",
            Some("WJ_TEST_NOT_SET_ANYWHERE"),
        ),
        channel(ChannelKind::Mqtt, "weijian/#", None),
    ];
    for c in &bad {
        let err = check_channel(c, &s).unwrap_err();
        assert!(!err.is_transient(), "{c:?}: {err}");
    }
}

// ---------------------------------------------------------------- MQTT

fn alert_event() -> AlertEvent {
    AlertEvent {
        alert_id: format!("W2/wp-east/wm-1/{}", T0.as_micros()),
        rule: "W2".into(),
        level: Level::I,
        kind: EventKind::Firing,
        site: "wp-east".into(),
        device: "wm-1".into(),
        subject: None,
        grid: grid(),
        started_at: T0,
        ts: T0,
        reason: "free chlorine below limit".into(),
        evidence: vec![
            Evidence::number("value", 0.02),
            Evidence::number("limit", 0.3),
        ],
        summary_zh: "出厂水余氯低于限值".into(),
        summary_en: "Free chlorine below the limit".into(),
    }
}

#[test]
fn a_supervisor_mqtt_channel_gets_the_notice_json_on_its_topic() {
    type Published = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let published: Published = Arc::default();
    let sink = published.clone();
    let n = MqttNotifier::new(Arc::new(move |topic: &str, payload: Vec<u8>| {
        sink.lock()
            .map_err(|_| weijian_ingest::source::mqtt::MqttError::Closed)?
            .push((topic.to_owned(), payload));
        Ok(())
    }));
    let d = delivery(channel(ChannelKind::Mqtt, "weijian/v1/notices/jd-1", None));
    n.send(&d).unwrap();
    let got = published.lock().unwrap();
    assert_eq!(got[0].0, "weijian/v1/notices/jd-1");
    let j: serde_json::Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(j["notice_id"], d.notice_id.as_str());

    let failing = MqttNotifier::new(Arc::new(|_: &str, _: Vec<u8>| {
        Err(weijian_ingest::source::mqtt::MqttError::Unavailable)
    }));
    assert!(failing.send(&d).unwrap_err().is_transient());
    let wild = delivery(channel(ChannelKind::Mqtt, "weijian/+/x", None));
    assert!(!n.send(&wild).unwrap_err().is_transient());
}

#[test]
fn delivery_events_become_protocol_section_5_alert_messages() {
    let alert = alert_event();
    let ts = T0.plus_secs(900);
    let ev = |kind| DeliveryEvent {
        alert_id: alert.alert_id.clone(),
        site: "wp-east".into(),
        kind,
        ts,
    };
    let (topic, payload) = mqtt::delivery_event_message(
        "weijian/v1",
        &ev(DeliveryEventKind::Escalated {
            from: Tier::Community,
            to: Tier::Street,
            supervisors: vec!["jd-1".into()],
        }),
        &alert,
    )
    .unwrap();
    assert_eq!(topic, "weijian/v1/alerts/wp-east");
    let j: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    for field in [
        "alert_id",
        "rule",
        "level",
        "state",
        "site",
        "device",
        "grid",
        "started_at",
        "ts",
        "summary",
        "evidence",
    ] {
        assert!(!j[field].is_null(), "protocol field {field} missing: {j}");
    }
    assert_eq!(j["state"], "escalated");
    assert_eq!(j["level"], 1);
    assert_eq!(j["colour"], "red");
    assert_eq!(j["ts"], ts.to_string());
    assert_eq!(j["started_at"], T0.to_string());
    assert_eq!(j["evidence"]["limit"], 0.3);
    assert_eq!(j["action"]["to"], "street");
    assert_eq!(
        j["action_text"]["zh"],
        "逾期未确认，已由社区级升级至街道级处理"
    );

    let (_, p) = mqtt::delivery_event_message(
        "weijian/v1",
        &ev(DeliveryEventKind::Acknowledged {
            by: "jd-1".into(),
            note: "已派人到场".into(),
        }),
        &alert,
    )
    .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(
        (j["state"].as_str(), j["action"]["note"].as_str()),
        (Some("acknowledged"), Some("已派人到场"))
    );

    let (_, p) = mqtt::delivery_event_message(
        "weijian/v1",
        &ev(DeliveryEventKind::ResolvedManually {
            by: "jd-1".into(),
            reason: "设备已更换".into(),
        }),
        &alert,
    )
    .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(
        (j["state"].as_str(), j["change"].as_str()),
        (Some("resolved"), Some("resolved_manually"))
    );

    assert!(mqtt::delivery_event_message(
        "weijian/v1",
        &ev(DeliveryEventKind::SilenceEnded {
            silence_id: "s1".into(),
            by: None
        }),
        &alert,
    )
    .is_none());
}
