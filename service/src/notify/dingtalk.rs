//! [`DingTalkNotifier`]: the DingTalk (钉钉) custom group robot.
//!
//! POST to the channel target (`https://oapi.dingtalk.com/robot/send?access_token=...`):
//!
//! ```json
//! {"msgtype": "actionCard", "actionCard": {"title": "【一级红色·新预警】东区水厂 预警通知",
//!   "text": "### ...", "singleTitle": "查看并确认", "singleURL": "https://…/alerts/W2%2F…"}}
//! {"msgtype": "markdown", "markdown": {"title": "…", "text": "### … @13800000000"},
//!   "at": {"atMobiles": ["13800000000"], "isAtAll": false}}
//! ```
//!
//! **Which message.** With links (`http.public_url` set) and nobody to @mention: an
//! actionCard whose single button "查看并确认" opens the (first, most severe) alert's page;
//! every alert's link is also in the text. With @mentions (addressees with a `mobile`): a
//! markdown message with the links in its text, `at.atMobiles` and `@138…` in the text,
//! because DingTalk honours `at` for text and markdown messages only, not for actionCards.
//! Without links: markdown.
//!
//! **Signing (加签).** When the channel names a secret (`secret_env`, the `SEC...` string
//! from the robot's security settings), the URL gets `&timestamp=<unix ms>&sign=<sign>` where
//! `sign = urlencode(base64(HmacSHA256(key = secret, message = "<timestamp>\n<secret>")))`,
//! UTF-8 throughout, as DingTalk documents; DingTalk rejects a timestamp more than an hour off,
//! so the signature is computed per attempt, never stored.
//!
//! **Answer.** HTTP 200 with `{"errcode": 0, "errmsg": "ok"}` on success. A non-zero
//! `errcode` is transient for rate limits and "system busy" ([`TRANSIENT_ERRCODES`]:
//! `-1`, `130101` send too fast, `90030` webhook over limit) and permanent otherwise
//! (`310000` keyword/signature/IP check failed, `300001` bad token, ...).
//!
//! If the robot uses the "custom keywords" security option, one of the keywords must appear
//! in the message: the title always ends with `预警通知` (before session 6: `告警通知`), so
//! `预警` is the keyword to configure (docs/alert-delivery.md, upgrade note).

use std::sync::Arc;

use alerting::catalogue::LINK_ACK;
use alerting::delivery::ChannelKind;
use base64::Engine as _;

use super::http::{HttpClient, HttpConfig};
use super::render::{self, Markdown};
use super::webhook::now_millis;
use super::{channel_secret, Delivery, Notifier, NotifyError, SecretSource};

/// Ends every DingTalk title: the robot's "custom keyword" is `预警`.
pub const KEYWORD: &str = "预警通知";

/// DingTalk `errcode`s worth retrying: `-1` system busy, `130101` more than 20 messages a
/// minute, `90030` webhook call limit reached.
pub const TRANSIENT_ERRCODES: &[i64] = &[-1, 130_101, 90_030];

/// The DingTalk group robot.
#[derive(Clone)]
pub struct DingTalkNotifier {
    http: HttpClient,
    secrets: Arc<dyn SecretSource>,
    clock: fn() -> i64,
}

impl std::fmt::Debug for DingTalkNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingTalkNotifier")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl DingTalkNotifier {
    pub fn new(config: &HttpConfig, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            http: HttpClient::new(config),
            secrets,
            clock: now_millis,
        }
    }

    /// The request body: an actionCard with a "查看并确认" button when the notice links to
    /// its alerts and nobody is @mentioned, else markdown (with `at` for mentions).
    pub fn body(delivery: &Delivery) -> serde_json::Value {
        let title = format!("{} {KEYWORD}", render::title(delivery));
        let text = render::markdown(delivery, Markdown::DingTalk);
        let mobiles: Vec<&str> = delivery
            .to
            .iter()
            .filter_map(|a| a.mobile.as_deref())
            .collect();
        match delivery.content.links.first() {
            Some(link) if mobiles.is_empty() => serde_json::json!({
                "msgtype": "actionCard",
                "actionCard": {
                    "title": title,
                    "text": text,
                    "singleTitle": LINK_ACK.zh,
                    "singleURL": link,
                }
            }),
            _ => serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "title": title, "text": text },
                "at": { "atMobiles": mobiles, "isAtAll": false },
            }),
        }
    }
}

/// `urlencode(base64(HmacSHA256(secret, "<timestamp_ms>\n<secret>")))`.
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp_ms}\n{secret}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    url_encode(&b64)
}

/// Percent-encodes everything but unreserved characters (what `URLEncoder.encode` /
/// `quote_plus` produce for base64 output: `+` -> `%2B`, `/` -> `%2F`, `=` -> `%3D`).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `timestamp` and `sign` appended.
pub fn signed_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}timestamp={timestamp_ms}&sign={}",
        sign(secret, timestamp_ms)
    )
}

impl Notifier for DingTalkNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Dingtalk
    }

    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let secret = channel_secret(self.secrets.as_ref(), &delivery.channel)?;
        let url = match &secret {
            Some(s) => signed_url(&delivery.channel.target, s, (self.clock)()),
            None => delivery.channel.target.clone(),
        };
        let body = Self::body(delivery).to_string();
        let masks: Vec<&str> = secret.as_deref().into_iter().collect();
        let answer = self
            .http
            .post_json("dingtalk", &url, &[], body.as_bytes(), &masks)?;
        check_errcode("dingtalk", &url, &answer.body, TRANSIENT_ERRCODES, &masks)
    }
}

/// Checks a robot's `{"errcode": N, "errmsg": "..."}` answer (DingTalk and WeCom).
pub(crate) fn check_errcode(
    channel: &'static str,
    url: &str,
    answer: &str,
    transient_codes: &[i64],
    masks: &[&str],
) -> Result<(), NotifyError> {
    let shown = super::error::mask_url(url);
    let mut all_masks = vec![url];
    all_masks.extend_from_slice(masks);
    let parsed: Option<serde_json::Value> = serde_json::from_str(answer).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("errcode"))
        .and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let message = parsed
                .as_ref()
                .and_then(|v| v.get("errmsg"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            Err(NotifyError::Api {
                channel,
                url: shown,
                code,
                message: super::error::mask_text(&super::http::clip(message, 300), &all_masks),
                transient: transient_codes.contains(&code),
            })
        }
        None => Err(NotifyError::BadResponse {
            channel,
            url: shown,
            body: super::error::mask_text(&super::http::clip(answer, 300), &all_masks),
        }),
    }
}

#[cfg(test)]
impl DingTalkNotifier {
    pub(crate) fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_documented_algorithm_on_a_published_vector() {
        // From the `dingding` crate's test of the same algorithm, and recomputed with the
        // Python snippet of DingTalk's docs (hmac.new(secret, f"{ts}\n{secret}", sha256),
        // base64, quote_plus).
        assert_eq!(
            sign("secret", 1_700_000_000_000),
            "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
        );
        // A SEC-style secret, recomputed with the same Python snippet.
        assert_eq!(
            sign(
                "SEC000000000000000000000000000000000000000000000000000000000000000",
                1_795_305_600_000
            ),
            "IXAezKSYkmmtGQFXoVTw%2BXlW5g%2FhhVlcknv8v1qXdDw%3D"
        );
    }

    #[test]
    fn the_signed_url_appends_timestamp_and_sign_to_the_token_query() {
        let u = signed_url(
            "https://oapi.dingtalk.com/robot/send?access_token=t0k",
            "secret",
            1_700_000_000_000,
        );
        assert_eq!(
            u,
            "https://oapi.dingtalk.com/robot/send?access_token=t0k&timestamp=1700000000000\
             &sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
        );
    }

    #[test]
    fn errcode_zero_is_success_rate_limits_are_transient_others_permanent() {
        let url = "https://oapi.dingtalk.com/robot/send?access_token=t0k";
        assert!(check_errcode(
            "dingtalk",
            url,
            r#"{"errcode":0,"errmsg":"ok"}"#,
            TRANSIENT_ERRCODES,
            &[]
        )
        .is_ok());
        let busy = check_errcode(
            "dingtalk",
            url,
            r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#,
            TRANSIENT_ERRCODES,
            &[],
        );
        assert!(matches!(busy, Err(ref e) if e.is_transient()), "{busy:?}");
        let bad = check_errcode(
            "dingtalk",
            url,
            r#"{"errcode":310000,"errmsg":"sign not match"}"#,
            TRANSIENT_ERRCODES,
            &[],
        );
        assert!(matches!(bad, Err(ref e) if !e.is_transient()), "{bad:?}");
        let html = check_errcode(
            "dingtalk",
            url,
            "<html>gateway</html>",
            TRANSIENT_ERRCODES,
            &[],
        );
        assert!(matches!(html, Err(NotifyError::BadResponse { .. })));
    }
}
